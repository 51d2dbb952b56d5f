//! The compacted file: the trace's skeleton (tables, no calls), then the body copied piece by piece.

use super::*;

impl Compactor {
    /// The trace of the parts `keep` without its calls (see [`Compactor::write`]); `keep` as
    /// checked, and the number of calls.
    pub(super) fn skeleton(&mut self, keep: &[usize]) -> Result<(Vec<usize>, Trace, u64)> {
        self.drain()?;
        self.pool = None;
        let keep: Vec<usize> = keep.iter().copied().filter(|&k| k < self.parts.len()).collect();
        let Some(&first) = keep.first() else {
            return Err(CompactError::NeedsBuild("nothing to write: no part was kept".into()));
        };
        for (k, p) in self.parts.iter().enumerate() {
            if !keep.contains(&k) && !p.new_codes.is_empty() {
                return Err(CompactError::NeedsBuild("a process left out declared codes".into()));
            }
        }
        let total: u64 =
            keep.iter().flat_map(|&k| self.parts[k].threads.iter()).map(|t| t.calls + t.started_before.len() as u64).sum();
        if total >= u64::from(u32::MAX) - 1 {
            return Err(CompactError::TooManyCalls(total));
        }
        let merged = keep.len() > 1;

        // Each part's threads by first time (ties: recording order), its process's span (absolute).
        struct Placed {
            start_abs: i128,
            end_abs: i128,
            origin_abs: i128,
        }
        let mut placed: Vec<Placed> = Vec::with_capacity(keep.len());
        for &k in &keep {
            let p = &mut self.parts[k];
            p.threads.sort_by_key(|t| t.first_abs);
            let min_abs = p.threads.iter().map(|t| t.first_abs).min().unwrap_or(0);
            let origin = if p.threads.is_empty() || p.start_ns != 0 { p.start_ns } else { min_abs };
            let max_abs = p.threads.iter().map(|t| t.prev_abs).max().unwrap_or(0);
            let stop_abs = if p.stop_ns != 0 && p.stop_ns >= max_abs { p.stop_ns } else { max_abs };
            let (start_abs, end_abs) = if p.threads.is_empty() {
                (i128::from(p.start_ns), i128::from(p.start_ns.max(p.stop_ns)))
            } else {
                let last = p.threads.iter().map(|t| t.last_abs).max().unwrap_or(0);
                (i128::from(origin.min(min_abs)), i128::from(stop_abs.max(last)))
            };
            placed.push(Placed { start_abs, end_abs, origin_abs: i128::from(origin) });
        }
        let origin: i128 =
            if merged { placed.iter().map(|p| p.start_abs).min().unwrap_or(0).max(0) } else { placed[0].origin_abs };
        let rel = |abs: i128| -> i64 { (abs - origin).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64 };

        // The trace's tables (no calls).
        let mut processes = Vec::with_capacity(keep.len());
        let mut threads: Vec<ThreadInfo> = Vec::new();
        let mut call_base = 0u32;
        for (pi, &k) in keep.iter().enumerate() {
            let p = &self.parts[k];
            let mut pr = p.process.clone();
            pr.start_ns = rel(placed[pi].start_abs);
            pr.end_ns = rel(placed[pi].end_abs);
            processes.push(pr);
            for th in &p.threads {
                let first_ns = rel(i128::from(th.first_abs));
                let names = p.names.get(th.local).cloned().unwrap_or_default();
                let calls = (th.calls + th.started_before.len() as u64) as u32;
                threads.push(ThreadInfo {
                    os_id: th.os_id,
                    names: crate::calltree::rebase_names(names, th.first_abs, first_ns, th.os_id, &|t| rel(i128::from(t))),
                    first_ns,
                    last_ns: rel(i128::from(th.last_abs)),
                    lane: 0,
                    process: pi as u32,
                    call_range: (call_base, call_base + calls),
                });
                call_base += calls;
            }
        }
        assign_lanes_any_order(&mut threads);
        let mut metadata = std::mem::take(&mut self.parts[first].metadata);
        if merged {
            metadata.retain(|(k, _)| k != "processes" && k != UNALIGNED_WARNING);
            metadata.push(("processes".into(), processes.len().to_string()));
        }
        let skeleton = Trace {
            origin_ns: origin as u64,
            codes: std::mem::take(&mut self.codes),
            threads,
            calls: Default::default(),
            metadata,
            processes,
            bands: Vec::new(),
        };
        Ok((keep, skeleton, total))
    }

    /// Writes the parts `keep` (indices in the order they were added; the first is the trace's
    /// metadata) as one `.fpt` at `out` (atomically: a sibling file renamed over it), and beside it
    /// its window index (`crate::winindex`, built as the events were read:
    /// `crate::winindex::onepass`) when it has at least [`crate::winindex::write_min_calls`]
    /// calls. Returns what it holds.
    pub fn write(mut self, out_path: &Path, keep: &[usize]) -> Result<Outline> {
        if !self.columns {
            return Err(CompactError::NeedsBuild("a compactor for summaries writes no file".into()));
        }
        let (keep, skeleton, total) = self.skeleton(keep)?;
        // The body's pieces, in order: bytes to compress now, or a column's segments.
        enum Piece {
            Bytes(Vec<u8>),
            Spilled(Vec<Segment>),
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut summaries = Vec::with_capacity(skeleton.threads.len());
        let mut placed_threads: Vec<(usize, usize)> = Vec::with_capacity(skeleton.threads.len());
        for &k in &keep {
            placed_threads.extend((0..self.parts[k].threads.len()).map(|t| (k, t)));
        }
        let mut next = placed_threads.into_iter();
        let mut out = Vec::new();
        let parts = &mut self.parts;
        fpt::encode_body_with(&skeleton, &mut out, |out, _info| {
            let Some((k, t)) = next.next() else { return };
            let th = &mut parts[k].threads[t];
            let kb = th.started_before.len();
            put_u(out, th.calls + kb as u64);
            // calls begun before the recording: outermost first, at the thread's first time
            for &c in th.started_before.iter().rev() {
                put_u(out, u64::from(c));
            }
            for segs in th.segs.iter_mut() {
                segs.sort_unstable_by_key(|s| s.seq);
            }
            let [s_code, s_pops, s_g1, s_g2] = std::mem::take(&mut th.segs);
            let [c_code, c_pops, c_g1, c_g2] = std::mem::take(&mut th.cols);
            let mut flush = |out: &mut Vec<u8>, segs: Vec<Segment>, tail: Vec<u8>| {
                pieces.push(Piece::Bytes(std::mem::take(out)));
                pieces.push(Piece::Spilled(segs));
                *out = tail;
            };
            flush(out, s_code, c_code);
            out.resize(out.len() + kb, 0); // their pops
            flush(out, s_pops, c_pops);
            put_u(out, 0); // no call starts before the previous event: an empty back list
            out.resize(out.len() + kb, 0); // their gaps
            flush(out, s_g1, c_g1);
            flush(out, s_g2, c_g2);
            // flagged calls: those begun before (0..k), then the unfinished ones
            let mut flagged: Vec<(u64, u8)> = (0..kb as u64).map(|i| (i, CallFlags::STARTED_BEFORE)).collect();
            let mut unf: Vec<u64> = th.unfinished.iter().map(|&i| i + kb as u64).collect();
            unf.sort_unstable();
            flagged.extend(unf.into_iter().map(|i| (i, CallFlags::UNFINISHED)));
            put_u(out, flagged.len() as u64);
            let mut prev: Option<u64> = None;
            for (i, fl) in flagged {
                put_u(out, i - prev.map_or(0, |p| p + 1));
                prev = Some(i);
                put_u(out, u64::from(fl));
            }
            summaries.push(std::mem::replace(&mut th.acc, EventAcc::new(0)));
        });
        pieces.push(Piece::Bytes(out));

        let body_len: u64 = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len() as u64,
                Piece::Spilled(s) => s.iter().map(|s| s.raw).sum(),
            })
            .sum();
        let Some(mut spill) = self.spill.take() else {
            return Err(CompactError::NeedsBuild("a compactor for summaries writes no file".into()));
        };
        spill.flush()?;
        let mut copy = Vec::new();
        crate::fsio::write_atomic(out_path, |w| {
            w.write_all(&fpt::MAGIC)?;
            w.write_all(&fpt::VERSION.to_le_bytes())?;
            w.write_all(&fpt::FLAG_ZLIB.to_le_bytes())?;
            w.write_all(&body_len.to_le_bytes())?;
            w.write_all(&[0x78, 0x9c])?;
            let mut adler = 1u32;
            for p in &pieces {
                match p {
                    Piece::Bytes(b) => {
                        if b.is_empty() {
                            continue;
                        }
                        self.deflate(b);
                        w.write_all(&self.zbuf)?;
                        adler = adler32_combine(adler, adler32(1, b), b.len() as u64);
                    }
                    Piece::Spilled(segs) => {
                        for s in segs {
                            copy.resize(s.len as usize, 0);
                            spill.seek(SeekFrom::Start(s.offset))?;
                            spill.read_exact(&mut copy)?;
                            w.write_all(&copy)?;
                            adler = adler32_combine(adler, s.adler, s.raw);
                        }
                    }
                }
            }
            // an empty final block (fixed Huffman codes), then the Adler-32 of the whole body
            w.write_all(&[0x03, 0x00])?;
            w.write_all(&adler.to_be_bytes())?;
            Ok(())
        })?;
        let outline = Outline { summary: crate::summary::from_threads(&skeleton, summaries), trace: skeleton, calls: total };
        if let Some(ix) = self.index.take().filter(|_| total >= self.index_min) {
            // the window index beside it, built from the events as they were read, so that
            // opening the file is immediate; a folder that cannot hold it costs nothing here
            // (the reader builds it where it can)
            let mut threads = Vec::with_capacity(outline.trace.threads.len());
            let mut flags = Vec::new();
            let kept = keep.iter().flat_map(|&k| (0..self.parts[k].threads.len()).map(move |t| (k, t))).collect::<Vec<_>>();
            for ((k, t), info) in kept.into_iter().zip(&outline.trace.threads) {
                let th = &mut self.parts[k].threads[t];
                let (base, k) = (info.call_range.0, th.started_before.len() as u32);
                flags.extend((base..base + k).map(|i| (i, CallFlags::STARTED_BEFORE)));
                let mut unf: Vec<u32> = th.unfinished.iter().map(|&i| base + k + i as u32).collect();
                unf.sort_unstable();
                flags.extend(unf.into_iter().map(|i| (i, CallFlags::UNFINISHED)));
                threads.push((std::mem::take(&mut th.levels), k as usize));
            }
            let places = crate::filetrace::index_places(out_path);
            if ix.finish(out_path, &places, threads, &outline, flags).is_err() {
                let _ = crate::filetrace::write_index(out_path);
            }
        }
        Ok(outline)
    }
}
