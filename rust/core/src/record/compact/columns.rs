//! Each part's events into its threads' columns (spilled as segments when full), the codes
//! interned across parts.

use super::*;

impl Compactor {
    /// Compresses `data` as a raw deflate segment ended by a sync flush into `self.zbuf`.
    pub(super) fn deflate(&mut self, data: &[u8]) {
        deflate_segment(&mut self.z, data, &mut self.zbuf);
    }

    /// Compresses a thread's column buffer into a segment of the spill file (on the pool's
    /// threads when there are some: the segment is written when it comes back).
    pub(super) fn spill_column(&mut self, part: usize, thread: usize, col: usize) -> Result<()> {
        let data = std::mem::take(&mut self.parts[part].threads[thread].cols[col]);
        if data.is_empty() {
            return Ok(());
        }
        self.buffered -= data.len();
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(pool) = self.pool.as_mut() {
            if let Some(jobs) = pool.jobs.as_ref() {
                pool.pending.insert(seq, (part, thread, col));
                if jobs.send((seq, data)).is_ok() {
                    // (at most a few jobs wait: the sender blocks when the queue is full)
                    while let Ok(r) =
                        self.pool.as_ref().map_or(Err(std::sync::mpsc::TryRecvError::Disconnected), |p| p.results.try_recv())
                    {
                        self.land(r)?;
                    }
                    return Ok(());
                }
                return Err(std::io::Error::other("the compression threads ended").into());
            }
        }
        self.deflate(&data);
        let (compressed, raw, adler) = (std::mem::take(&mut self.zbuf), data.len() as u64, adler32(1, &data));
        self.put_segment(part, thread, col, seq, &compressed, raw, adler)?;
        self.zbuf = compressed;
        Ok(())
    }

    /// A segment back from the pool: written to the spill file, given to its column.
    pub(super) fn land(&mut self, (seq, compressed, raw, adler): (u64, Vec<u8>, u64, u32)) -> Result<()> {
        let Some((part, thread, col)) = self.pool.as_mut().and_then(|p| p.pending.remove(&seq)) else {
            return Ok(());
        };
        self.put_segment(part, thread, col, seq, &compressed, raw, adler)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn put_segment(
        &mut self,
        part: usize,
        thread: usize,
        col: usize,
        seq: u64,
        compressed: &[u8],
        raw: u64,
        adler: u32,
    ) -> Result<()> {
        if let Some(f) = self.spill.as_mut() {
            f.write_all(compressed)?;
        }
        let seg = Segment { seq, offset: self.spill_len, len: compressed.len() as u64, raw, adler };
        self.spill_len += seg.len;
        if let Some(th) = self.parts.get_mut(part).and_then(|p| p.threads.get_mut(thread)) {
            th.segs[col].push(seg);
        }
        Ok(())
    }

    /// Waits for every segment sent to the pool.
    pub(super) fn drain(&mut self) -> Result<()> {
        while self.pool.as_ref().is_some_and(|p| !p.pending.is_empty()) {
            let r = match self.pool.as_ref().map(|p| p.results.recv()) {
                Some(Ok(r)) => r,
                _ => return Err(std::io::Error::other("the compression threads ended").into()),
            };
            self.land(r)?;
        }
        Ok(())
    }

    pub(super) fn spill_full(&mut self, part: usize, thread: usize) -> Result<()> {
        for col in 0..4 {
            if self.parts[part].threads[thread].cols[col].len() >= self.segment {
                self.spill_column(part, thread, col)?;
            }
        }
        if self.buffered > self.budget {
            for p in 0..self.parts.len() {
                for t in 0..self.parts[p].threads.len() {
                    for col in 0..4 {
                        self.spill_column(p, t, col)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Interns the codes the part's file declared since the last call; `remap` maps its ids.
    pub(super) fn intern(&mut self, codes: &[Code], remap: &mut Vec<u32>) {
        for c in &codes[remap.len()..] {
            let id = match self.code_index.get(c) {
                Some(&id) => id,
                None => {
                    let id = self.codes.len() as u32;
                    self.codes.push(c.clone());
                    self.code_index.insert(c.clone(), id);
                    id
                }
            };
            remap.push(id);
        }
    }

    /// Adds a batch of a thread's events to its columns.
    pub(super) fn events(
        &mut self,
        part: usize,
        local: usize,
        os_id: u64,
        events: &[Event],
        remap: &[u32],
        index: &mut Vec<usize>,
    ) -> Result<()> {
        if index.len() <= local {
            index.resize(local + 1, usize::MAX);
        }
        if index[local] == usize::MAX {
            let Some(first) = events.first() else { return Ok(()) };
            let p = &mut self.parts[part];
            index[local] = p.threads.len();
            p.threads.push(Thread {
                local,
                os_id,
                first_abs: first.t_ns,
                prev_abs: first.t_ns,
                calls: 0,
                stack: Vec::new(),
                started_before: Vec::new(),
                pending_pops: 0,
                cols: Default::default(),
                segs: Default::default(),
                acc: EventAcc::new(first.t_ns),
                unfinished: Vec::new(),
                last_abs: first.t_ns,
                levels: Levels::default(),
            });
        }
        let ti = index[local];
        let cols = self.columns;
        let th = &mut self.parts[part].threads[ti];
        let mut ix = self.index.as_mut();
        let before = th.buffered();
        let mut problem = None;
        for e in events {
            if e.t_ns < th.prev_abs {
                problem = Some("a thread's events are out of time order".to_string());
                break;
            }
            let Some(&code) = remap.get(e.code as usize) else {
                problem = Some(format!("an event of code {} before its declaration", e.code));
                break;
            };
            let g = e.t_ns - th.prev_abs;
            th.prev_abs = e.t_ns;
            match e.kind {
                EventKind::Call => {
                    let pops = std::mem::take(&mut th.pending_pops);
                    if cols {
                        th.gap(g);
                        put_u(&mut th.cols[CODE], u64::from(code));
                        put_u(&mut th.cols[POPS], pops);
                    }
                    th.stack.push((code, th.calls, e.t_ns));
                    th.calls += 1;
                    th.acc.enter(code as usize, e.t_ns);
                }
                EventKind::Return => {
                    let pos = match th.stack.last() {
                        Some(&(top, _, _)) if top == code => Some(th.stack.len() - 1),
                        _ => th.stack.iter().rposition(|&(c, _, _)| c == code),
                    };
                    let closed = th.stack.len() - pos.unwrap_or(0);
                    for _ in 0..closed {
                        th.end_call(ix.as_deref_mut(), e.t_ns);
                        th.acc.exit(e.t_ns);
                    }
                    let exits = if pos.is_none() {
                        th.started_before.push(code);
                        if let Some(ix) = ix.as_deref_mut() {
                            let end = e.t_ns.wrapping_sub(th.first_abs) as i64;
                            ix.begun_before(&mut th.levels, th.started_before.len(), end, code);
                        }
                        th.acc.started_before_return(code as usize, e.t_ns);
                        closed + 1
                    } else {
                        closed
                    };
                    th.pending_pops += exits as u64;
                    if cols {
                        th.gap(g);
                        for _ in 1..exits {
                            th.gap(0);
                        }
                    }
                }
            }
        }
        self.buffered += th.buffered() - before;
        if let Some(why) = problem {
            return Err(CompactError::NeedsBuild(why));
        }
        self.spill_full(part, ti)
    }

    pub(super) fn begin_part(&mut self) -> usize {
        let at = self.codes.len();
        self.parts.push(Part {
            process: ProcessInfo::default(),
            start_ns: 0,
            stop_ns: 0,
            metadata: Vec::new(),
            threads: Vec::new(),
            names: Vec::new(),
            new_codes: at..at,
        });
        self.parts.len() - 1
    }

    /// Ends a part once its file is read: stop time, unfinished calls, names.
    pub(super) fn end_part(&mut self, part: usize, rec: crate::model::Recording, threads: &[ThreadRecord]) {
        let at = self.codes.len();
        let mut ix = self.index.as_mut();
        let p = &mut self.parts[part];
        p.new_codes.end = at;
        p.process = rec.process;
        p.start_ns = rec.start_ns;
        p.stop_ns = rec.stop_ns;
        p.metadata = rec.metadata;
        p.names = threads.iter().map(|t| t.names.clone()).collect();
        let max_abs = p.threads.iter().map(|t| t.prev_abs).max().unwrap_or(0);
        let stop_abs = if p.stop_ns != 0 && p.stop_ns >= max_abs { p.stop_ns } else { max_abs };
        for th in p.threads.iter_mut() {
            th.last_abs = th.prev_abs;
            if th.stack.is_empty() {
                continue;
            }
            let g = stop_abs - th.prev_abs;
            let mut k = 0;
            while let Some(&(_, index, _)) = th.stack.last() {
                th.gap(if k == 0 { g } else { 0 });
                th.unfinished.push(index);
                th.acc.exit(stop_abs);
                th.end_call(ix.as_deref_mut(), stop_abs);
                k += 1;
            }
            th.last_abs = th.last_abs.max(stop_abs);
        }
    }

    /// Drops the last part (its file could not be read): its codes are forgotten; what it spilled
    /// stays unused in the spill file.
    pub(super) fn abandon_part(&mut self) {
        // (its segments under way land first, so that none lands in a later part of its number)
        let _ = self.drain();
        if let Some(p) = self.parts.pop() {
            let from = p.new_codes.start.min(self.codes.len());
            for c in self.codes.drain(from..) {
                self.code_index.remove(&c);
            }
            self.buffered -= p.threads.iter().map(Thread::buffered).sum::<usize>();
        }
    }

    pub(super) fn read_stream(&mut self, path: &Path, part: usize) -> Result<PartInfo> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        let name = path.display().to_string();
        let serr = |error| CompactError::Stream { path: name.clone(), error };
        let mut sc = stream::Scanner::new(BufReader::with_capacity(1 << 20, f), len).map_err(serr)?;
        let mut remap = Vec::new();
        let mut index = Vec::new();
        while sc.next_chunk().map_err(serr)? {
            self.intern(sc.codes(), &mut remap);
            for (t, evs) in sc.take_events() {
                let os_id = sc.threads()[t].os_id;
                self.events(part, t, os_id, &evs, &remap, &mut index)?;
            }
        }
        let threads: Vec<ThreadRecord> = sc.threads().to_vec();
        let read = sc.finish();
        if read.trace.is_some() {
            return Err(CompactError::NeedsBuild("the file holds a whole trace chunk".into()));
        }
        let info = PartInfo {
            pid: read.recording.process.pid,
            parent_pid: read.recording.process.parent_pid,
            calls: self.parts[part].threads.iter().map(|t| t.calls + t.started_before.len() as u64).sum(),
            end: None,
        };
        self.end_part(part, read.recording, &threads);
        Ok(info)
    }

    pub(super) fn read_spool(&mut self, path: &Path, part: usize) -> Result<PartInfo> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        let name = path.display().to_string();
        let serr = |error| CompactError::Spool { path: name.clone(), error };
        let mut sc = spool::Scanner::new(BufReader::with_capacity(1 << 20, f), len)?.map_err(serr)?;
        let mut remap = Vec::new();
        let mut index = Vec::new();
        while sc.next_record()?.map_err(serr)? {
            self.intern(sc.codes(), &mut remap);
            for (t, evs) in sc.take_events() {
                let os_id = sc.threads()[t].os_id;
                self.events(part, t, os_id, &evs, &remap, &mut index)?;
            }
        }
        let threads: Vec<ThreadRecord> = sc.threads().to_vec();
        let read = sc.finish().map_err(serr)?;
        let end = read.end.map(|e| match e.how {
            spool::EndHow::Exited => "exited",
            spool::EndHow::FlushedRunning => "flushed",
        });
        let info = PartInfo {
            pid: read.recording.process.pid,
            parent_pid: read.recording.process.parent_pid,
            calls: self.parts[part].threads.iter().map(|t| t.calls + t.started_before.len() as u64).sum(),
            end,
        };
        self.end_part(part, read.recording, &threads);
        Ok(info)
    }
}
