//! Files that are not regular files: FIFOs (named pipes), devices, sockets, `/dev/stdin`.
//!
//! Opening a FIFO waits for the other end by default (a reader for one with no writer, and the
//! other way round), and reading an endless device never ends: here neither can hang a command.
//! - [`open_read`] opens without waiting; [`read_stream`] then reads what arrives, waiting at
//!   most [`stream_timeout`] for each piece and refusing more than a given number of bytes.
//! - [`Output::create`] opens a file to write: a FIFO with no reader is refused at once ("no
//!   process is reading it"), and each write to a FIFO waits at most [`stream_timeout`] for its
//!   reader to make room.
//!
//! Regular files are opened and used as usual.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a stream may stay silent (nothing to read, no room to write) before it is given up:
/// 10 s, or `FPROFILE_STREAM_TIMEOUT_S` seconds when set (tests use a short one).
pub fn stream_timeout() -> Duration {
    std::env::var("FPROFILE_STREAM_TIMEOUT_S")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// Largest stream [`crate::load()`] reads into memory (1 GiB): a bigger trace is read from a file.
pub const MAX_STREAM_BYTES: u64 = 1 << 30;

/// What `path` is, following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Dir,
    /// A FIFO, a character or block device, a socket: read and written as a stream.
    Stream,
}

/// The kind of the file at `path` (its target, for a symlink).
pub fn kind(path: &Path) -> io::Result<Kind> {
    let m = std::fs::metadata(path)?;
    Ok(if m.is_file() {
        Kind::Regular
    } else if m.is_dir() {
        Kind::Dir
    } else {
        Kind::Stream
    })
}

fn is_fifo(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.file_type().is_fifo()).unwrap_or(false)
}

/// Waits until `f` can be read (`POLLIN`) or written (`POLLOUT`), at most `timeout`. Returns
/// whether it can.
fn wait(f: &File, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd { fd: f.as_raw_fd(), events, revents: 0 };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return Ok(true);
        }
        if left.is_zero() {
            return Ok(false);
        }
    }
}

/// Opens `path` to read without waiting for a FIFO's writer (non-blocking for a stream).
pub fn open_read(path: &Path) -> io::Result<File> {
    match kind(path)? {
        Kind::Stream => OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path),
        _ => File::open(path),
    }
}

/// Reads a stream opened by [`open_read`] to its end: each piece must arrive within
/// [`stream_timeout`] and the whole may hold at most `max` bytes, else a clear error (`TimedOut`,
/// or `InvalidData` for too much).
pub fn read_stream(f: &mut File, max: u64) -> io::Result<Vec<u8>> {
    let timeout = stream_timeout();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut waited_for_writer = false;
    let silent = |out: &Vec<u8>| {
        let what = if out.is_empty() {
            "nothing was written to it (a named pipe needs a writer, such as `cat trace.txt > PIPE`)".to_string()
        } else {
            format!("its writer stopped after {} bytes", out.len())
        };
        io::Error::new(io::ErrorKind::TimedOut, format!("waited {:.0} s for data: {what}", timeout.as_secs_f64()))
    };
    loop {
        match f.read(&mut buf) {
            // A FIFO no writer has opened yet reads as ended: wait (bounded) for one to come.
            Ok(0) if out.is_empty() && !waited_for_writer => {
                waited_for_writer = true;
                if !wait(f, libc::POLLIN, timeout)? {
                    return Err(silent(&out));
                }
            }
            Ok(0) => return Ok(out),
            Ok(n) => {
                if out.len() as u64 + n as u64 > max {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "not a regular file, and it gave more than {} MiB without ending: a trace is read \
                             from a stream only up to that size (save it to a file first)",
                            max >> 20
                        ),
                    ));
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait(f, libc::POLLIN, timeout)? {
                    return Err(silent(&out));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A file opened to write: a regular file, or a stream whose writes wait a bounded time.
#[derive(Debug)]
pub struct Output {
    file: File,
    stream: bool,
    timeout: Duration,
}

impl Output {
    /// Creates (or truncates) `path` to write. A FIFO is opened without waiting: with no process
    /// reading it, this fails at once with a message that says so.
    pub fn create(path: &Path) -> io::Result<Output> {
        let timeout = stream_timeout();
        if is_fifo(path) {
            let file = OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| {
                if e.raw_os_error() == Some(libc::ENXIO) {
                    io::Error::new(
                        io::ErrorKind::NotConnected,
                        "a named pipe (FIFO) that no process is reading (start its reader first)",
                    )
                } else {
                    e
                }
            })?;
            return Ok(Output { file, stream: true, timeout });
        }
        let stream = matches!(kind(path), Ok(Kind::Stream));
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        Ok(Output { file, stream, timeout })
    }

    /// The file (to sync or close).
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.file.write(buf) {
                Err(e) if self.stream && e.kind() == io::ErrorKind::WouldBlock => {
                    if !wait(&self.file, libc::POLLOUT, self.timeout)? {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("the reader of this stream took nothing for {:.0} s", self.timeout.as_secs_f64()),
                        ));
                    }
                }
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A new file in `dir` for this process alone, unlinked at once (0600, created without
/// following a link): scratch space that disappears with its descriptor. `what` names it while
/// it briefly has a name (`.fprofile-<what>-<pid>-<n>`).
pub fn unlinked_temp(dir: &Path, what: &str) -> io::Result<File> {
    for n in 0..1000u32 {
        let p = dir.join(format!(".fprofile-{what}-{}-{n}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&p)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&p);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("no temporary file could be made in {}", dir.display())))
}

/// Writes `path` with `f`, so that a failed write never leaves a truncated file under `path`:
/// a regular file (or a new one) is written to a sibling temporary file renamed into place; a
/// symlink is followed (the link stays, its target gets the new content). A device, a FIFO or a
/// terminal (`/dev/stdout`, `/dev/null`, a named pipe) is written in place through [`Output`]:
/// renaming over it would replace the device node with a plain file (and hide a write error such
/// as ENOSPC). Errors are those of the user's path, never of the temporary one.
pub fn write_atomic(path: &Path, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    if matches!(kind(path), Ok(Kind::Stream)) {
        // (a FIFO with no reader is refused at once; a stalled reader times out)
        let mut w = io::BufWriter::with_capacity(1 << 20, Output::create(path)?);
        f(&mut w)?;
        return w.into_inner().map_err(|e| e.into_error()).map(drop);
    }
    let resolved = std::fs::canonicalize(path).ok().filter(|_| path.is_symlink());
    let target = resolved.as_deref().unwrap_or(path);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = io::BufWriter::with_capacity(1 << 20, file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all().ok();
        drop(file);
        std::fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fprofile-fsio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        let c = std::ffi::CString::new(p.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        p
    }

    #[test]
    fn a_fifo_with_no_writer_times_out() {
        std::env::set_var("FPROFILE_STREAM_TIMEOUT_S", "0.3");
        let p = fifo("nw");
        let t = Instant::now();
        let mut f = open_read(&p).unwrap();
        let e = read_stream(&mut f, 1 << 20).expect_err("times out");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("nothing was written"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_fifo_with_no_reader_is_refused_at_once() {
        let p = fifo("w");
        let t = Instant::now();
        let e = Output::create(&p).expect_err("refused");
        assert!(e.to_string().contains("no process is reading"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_fifo_is_read_to_its_end_and_an_endless_device_is_bounded() {
        let p = fifo("r");
        let p2 = p.clone();
        let writer = std::thread::spawn(move || {
            let mut w = Output::create_when_read(&p2);
            w.write_all(b"hello").unwrap();
        });
        let mut f = open_read(&p).unwrap();
        let got = read_stream(&mut f, 1 << 20).unwrap();
        writer.join().unwrap();
        assert_eq!(got, b"hello");
        let mut z = open_read(Path::new("/dev/zero")).unwrap();
        let e = read_stream(&mut z, 1 << 20).expect_err("bounded");
        assert!(e.to_string().contains("more than 1 MiB"), "{e}");
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("fprofile-fsio-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let d = dir("atomic");
        let p = d.join("t.txt");
        write_atomic(&p, |w| w.write_all(b"old")).unwrap();
        let e = write_atomic(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "the temporary file is removed");
    }

    #[test]
    fn a_symlink_stays_and_its_target_is_replaced() {
        let d = dir("link");
        let target = d.join("real.txt");
        let link = d.join("link.txt");
        std::fs::write(&target, b"old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, |w| w.write_all(b"new")).unwrap();
        assert!(link.is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_device_is_written_in_place() {
        write_atomic(Path::new("/dev/null"), |w| w.write_all(b"x")).unwrap();
        assert!(Path::new("/dev/null").exists() && kind(Path::new("/dev/null")).unwrap() == Kind::Stream);
        let e = write_atomic(Path::new("/nonexistent-dir/x.fpt"), |w| w.write_all(b"x")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    impl Output {
        /// Test helper: opens a FIFO for writing once its reader is there.
        fn create_when_read(p: &Path) -> Output {
            for _ in 0..500 {
                if let Ok(o) = Output::create(p) {
                    return o;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("no reader");
        }
    }
}
