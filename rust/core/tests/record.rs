//! The recording sinks (`fprofile::record`) driven by a round of this test's own, as the binding's
//! writer loop drives them: every sink's output reads back as what was recorded.

use std::io::Write;
use std::sync::{Arc, Mutex};

use fprofile::formats::{spool, stream};
use fprofile::record::{
    self, spool::SpoolSink, streamed, text::TextSink, Clock, End, Keep, RecordOptions, Ring, Round, Sink, Status, ThreadCursor,
};
use fprofile::{Code, Event, EventKind, ProcessInfo};

/// Threads with their events (in chunks), names and cursors; what was taken, and whether freed.
#[derive(Default)]
struct FakeRound {
    threads: Vec<FakeThread>,
    codes: Vec<Code>,
}

#[derive(Default)]
struct FakeThread {
    os_id: u64,
    names: Vec<(u64, String)>,
    chunks: Vec<Vec<Event>>,
    taken: usize,
    freed: usize,
    cursor: ThreadCursor,
}

impl Round for FakeRound {
    fn threads(&self) -> usize {
        self.threads.len()
    }
    fn thread(&mut self, i: usize) -> (u64, u64, &mut ThreadCursor) {
        let t = &mut self.threads[i];
        (t.os_id, t.os_id + 1000, &mut t.cursor)
    }
    fn names(&self, i: usize, from: usize, each: &mut dyn FnMut(u64, &str)) -> usize {
        for (t, n) in self.threads[i].names.iter().skip(from) {
            each(*t, n);
        }
        self.threads[i].names.len()
    }
    fn take_events(&mut self, i: usize, free: bool, each: &mut dyn FnMut(&[Event])) {
        let t = &mut self.threads[i];
        while t.taken < t.chunks.len() {
            each(&t.chunks[t.taken]);
            if free {
                t.chunks[t.taken] = Vec::new();
                t.freed += 1;
            }
            t.taken += 1;
        }
    }
    fn codes(&self, from: usize, each: &mut dyn FnMut(&[Code])) -> usize {
        if from < self.codes.len() {
            each(&self.codes[from..]);
        }
        self.codes.len()
    }
}

/// Raw times are µs after 1 ms (the conversion must be applied; PYME text keeps µs).
struct FakeClock;
const OFFSET: u64 = 1_000_000;
impl Clock for FakeClock {
    fn convert(&mut self, raw: u64) -> u64 {
        raw * 1000 + OFFSET
    }
    fn now_ns(&self) -> u64 {
        OFFSET + 250_000
    }
}

fn ev(t: u64, code: u32, kind: EventKind) -> Event {
    Event { t_ns: t, code, kind }
}

fn code(name: &str) -> Code {
    Code { file: "/w/app.py".into(), name: name.into(), first_line: 3 }
}

/// Two threads: thread 0 calls f (f calls g), thread 1 calls g; a second round adds a call on thread 0.
fn round_one() -> FakeRound {
    FakeRound {
        codes: vec![code("f"), code("g")],
        threads: vec![
            FakeThread {
                os_id: 7,
                names: vec![(OFFSET, "MainThread".into())],
                chunks: vec![
                    vec![ev(100, 0, EventKind::Call), ev(110, 1, EventKind::Call)],
                    vec![ev(120, 1, EventKind::Return), ev(130, 0, EventKind::Return)],
                ],
                ..FakeThread::default()
            },
            FakeThread {
                os_id: 8,
                names: vec![(OFFSET, "worker".into())],
                chunks: vec![vec![ev(105, 1, EventKind::Call), ev(140, 1, EventKind::Return)]],
                ..FakeThread::default()
            },
        ],
    }
}

fn second_round(r: &mut FakeRound) {
    r.threads[0].chunks.push(vec![ev(200, 1, EventKind::Call), ev(210, 1, EventKind::Return)]);
    r.threads[0].names.push((OFFSET + 150_000, "renamed".into()));
}

/// A `Write` whose bytes the test reads afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);
impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Broken;
impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk on fire"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stop_end() -> End {
    End::Stop { stop_ns: OFFSET + 300_000, metadata: vec![("k".into(), "v".into())], exit_status: Some(3) }
}

#[test]
fn text_sink_writes_every_call_in_time_order_and_keeps_the_events() {
    let out = Shared::default();
    let mut sink = TextSink::new(out.clone());
    let mut r = round_one();
    assert_eq!(sink.round(&mut r, &mut FakeClock, None), Status::Writing);
    second_round(&mut r);
    assert_eq!(sink.round(&mut r, &mut FakeClock, Some(stop_end())), Status::Writing);
    assert!(r.threads.iter().all(|t| t.freed == 0), "the text sink leaves the events in memory");
    let bytes = out.0.lock().unwrap().clone();
    let trace = fprofile::formats::pyme_text::read(&bytes).unwrap();
    assert_eq!(trace.calls.len(), 4);
    let text = String::from_utf8(bytes).unwrap();
    // (seconds, to the ns)
    let times: Vec<u64> =
        text.lines().map(|l| (l.split_whitespace().next().unwrap().parse::<f64>().unwrap() * 1e9).round() as u64).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "sorted by time within a round");
    assert_eq!(times[0], 100_000 + OFFSET, "converted by the round's clock");
    assert!(text.contains("renamed") && text.contains("worker"), "{text}");
    assert_eq!(sink.report().error, None);
}

#[test]
fn streamed_sink_frees_what_it_wrote_and_reads_back_whole() {
    let out = Shared::default();
    let start = |dest| streamed::StreamStart {
        dest,
        process: ProcessInfo { pid: 42, ..ProcessInfo::default() },
        start_ns: OFFSET,
        metadata: vec![("subs".into(), "[]".into())],
        min_free_bytes: 0,
    };
    let mut sink = streamed::StreamedSink::new(start(streamed::Dest::Writer(Box::new(out.clone()))));
    let mut r = round_one();
    assert_eq!(sink.round(&mut r, &mut FakeClock, None), Status::Writing);
    assert_eq!(r.threads[0].freed, 2, "full chunks are freed once encoded");
    second_round(&mut r);
    assert_eq!(sink.round(&mut r, &mut FakeClock, Some(stop_end())), Status::Ended);
    assert!(!sink.writing());
    let rep = sink.report();
    assert_eq!((rep.events_written, rep.threads_written, rep.codes_written), (8, 2, 2));
    let read = stream::read(&out.0.lock().unwrap()).unwrap();
    assert!(read.ended);
    let rec = &read.recording;
    assert_eq!(rec.process.pid, 42);
    assert_eq!(rec.stop_ns, OFFSET + 300_000);
    assert!(rec.metadata.contains(&("k".into(), "v".into())));
    assert!(rec.metadata.contains(&("events".into(), "8".into())));
    let t0: Vec<u64> = rec.threads[0].chunks.iter().flatten().map(|e| e.t_ns).collect();
    assert_eq!(t0, [100, 110, 120, 130, 200, 210].map(|t| t * 1000 + OFFSET));
    assert_eq!(rec.threads[0].names.last().unwrap().1, "renamed");
}

#[test]
fn streamed_sink_into_the_ring_keeps_the_last_window() {
    let ring = Arc::new(Mutex::new(Ring::new(Keep::Events(2))));
    let start = streamed::StreamStart {
        dest: streamed::Dest::Ring(ring.clone()),
        process: ProcessInfo::default(),
        start_ns: OFFSET,
        metadata: Vec::new(),
        min_free_bytes: 0,
    };
    let mut sink = streamed::StreamedSink::new(start);
    let mut r = round_one();
    sink.round(&mut r, &mut FakeClock, None);
    second_round(&mut r);
    sink.round(&mut r, &mut FakeClock, None);
    let t = ring.lock().unwrap().snapshot().unwrap();
    // the last two events: the second round's call of g on thread 0
    assert_eq!(t.calls.len(), 1);
    assert_eq!(t.calls.end_ns[0] - t.calls.start_ns[0], 10_000);
}

#[test]
fn a_failed_write_stops_a_streamed_recording_and_gives_up_a_text_file() {
    let start = streamed::StreamStart {
        dest: streamed::Dest::Writer(Box::new(Broken)),
        process: ProcessInfo::default(),
        start_ns: 0,
        metadata: Vec::new(),
        min_free_bytes: 0,
    };
    let mut s = streamed::StreamedSink::new(start);
    assert_eq!(s.round(&mut round_one(), &mut FakeClock, None), Status::Stop);
    assert!(s.report().error.unwrap().contains("disk on fire"));
    let mut t = TextSink::new(Broken);
    assert_eq!(t.round(&mut round_one(), &mut FakeClock, None), Status::Failed);
    assert!(!t.writing());
    assert!(t.report().error.unwrap().contains("disk on fire"));
}

#[test]
fn spool_sink_writes_records_then_the_end() {
    let out = Shared::default();
    let process = ProcessInfo { pid: 9, parent_pid: 1, ..ProcessInfo::default() };
    let mut sink = SpoolSink::new(out.clone(), &process, OFFSET, &[("m".into(), "1".into())]);
    let mut r = round_one();
    assert_eq!(sink.round(&mut r, &mut FakeClock, None), Status::Writing);
    assert_eq!(r.threads[1].freed, 1);
    sink.process_name("worker-1".into());
    second_round(&mut r);
    assert_eq!(sink.round(&mut r, &mut FakeClock, Some(stop_end())), Status::Ended);
    assert_eq!(sink.round(&mut r, &mut FakeClock, None), Status::Ended, "nothing after the end");
    let read = spool::read(&out.0.lock().unwrap()).unwrap();
    let end = read.end.unwrap();
    assert_eq!((end.how, end.exit_status), (spool::EndHow::Exited, Some(3)));
    assert_eq!(read.recording.process.name, "worker-1");
    let n: usize = read.recording.threads.iter().map(|t| t.chunks.iter().map(Vec::len).sum::<usize>()).sum();
    assert_eq!(n, 8);
    assert_eq!(read.recording.threads[0].chunks[0][0].t_ns, 100_000 + OFFSET);

    let out = Shared::default();
    let mut sink = SpoolSink::new(out.clone(), &process, OFFSET, &[]);
    assert_eq!(sink.round(&mut round_one(), &mut FakeClock, Some(End::FlushedRunning)), Status::Ended);
    let read = spool::read(&out.0.lock().unwrap()).unwrap();
    assert_eq!(read.end.unwrap().how, spool::EndHow::FlushedRunning);
}

#[test]
fn record_options_checks_and_json() {
    let ok = RecordOptions { subs: vec!["app".into()], ..RecordOptions::default() };
    assert_eq!(ok.validate(), Ok(()));
    let zero = RecordOptions { max_events: 0, ..ok.clone() };
    assert_eq!(zero.validate(), Err(record::OptionsError::MaxEventsZero));
    let both = RecordOptions { keep_last: Some(Keep::Events(5)), outfile: Some("x.fpt".into()), ..ok.clone() };
    assert_eq!(both.validate(), Err(record::OptionsError::KeepLastWithFile));
    assert_eq!(RecordOptions::keep_from("ns", 0), Err(record::OptionsError::KeepLastBad));
    assert_eq!(RecordOptions::keep_from("events", -1), Err(record::OptionsError::KeepLastBad));
    assert_eq!(RecordOptions::keep_from("minutes", 3), Err(record::OptionsError::KeepLastBad));
    assert_eq!(RecordOptions::keep_from("ns", 5), Ok(Keep::Duration(5)));
    let v = serde_json::json!({"subs": ["a"], "exclude": ["b"], "include": ["+c"], "builtins": true,
        "max_events": 10, "outfile": null, "keep_last": ["events", 4], "processes": true, "dask": false});
    let o = RecordOptions::from_json(&v).unwrap();
    assert_eq!(o.subs, ["a"]);
    assert_eq!(o.include, ["+c"]);
    assert!(o.builtins && o.processes && !o.dask);
    assert_eq!(o.keep_last, Some(Keep::Events(4)));
    for bad in [
        serde_json::json!({"max_events": 10}),
        serde_json::json!({"subs": "a", "max_events": 10}),
        serde_json::json!({"subs": [], "max_events": -1}),
        serde_json::json!({"subs": [], "max_events": 0}),
        serde_json::json!({"subs": [], "max_events": 1, "builtins": "yes"}),
        serde_json::json!({"subs": [], "max_events": 1, "keep_last": ["ns", 1], "outfile": "a.fpt"}),
    ] {
        assert!(RecordOptions::from_json(&bad).is_err(), "{bad}");
    }
}
