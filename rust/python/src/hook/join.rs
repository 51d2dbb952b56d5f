//! A child process's side of its parent's session directory (`processes=True`, docs/processes.md
//! "Threat model").
//!
//! A child joins a session only when it is really its parent's live one: the directory is opened
//! once without following links and must be owned by this process's uid with mode 0700
//! ([`fprofile::privdir::PrivateDir`]); the token the environment variable carries must match the
//! session's `token` file (mode 0600, owned by us); the parent must hold its `flock` on `lock`;
//! and the parent must not have written its `stop` marker yet. `session.json` is read without
//! following links and at most [`MAX_CONFIG`] bytes. Everything after that is relative to the
//! open directory (the spool, `<pid>.done`), so a directory removed and recreated under the same
//! name is never written to.
//!
//! The writer thread asks [`ChildSession::alive`] each round: once the parent's lock is free (the
//! parent died, or was killed without stopping), the child stops recording, keeping what it wrote.

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use fprofile::privdir::{PrivateDir, PrivateDirError};

/// The session's configuration, written by the parent.
pub(crate) const CONFIG: &str = "session.json";
/// The token file: its content must equal the token the environment variable carries.
pub(crate) const TOKEN: &str = "token";
/// The lock file the parent holds an exclusive `flock` on for the whole recording.
pub(crate) const LOCK: &str = "lock";
/// The parent's stop marker.
pub(crate) const STOP: &str = "stop";
/// Largest `session.json` read (the filter's lists): 16 MiB.
pub(crate) const MAX_CONFIG: u64 = 16 << 20;
/// Largest token file read.
const MAX_TOKEN: u64 = 256;

/// Why a child does not join a session (said on stderr only when `FPROFILE_JUPYTER_DEBUG=1`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    #[error("the session directory is not usable: {0}")]
    Dir(#[from] PrivateDirError),
    #[error("the session's token does not match the one in the environment: not this process's session")]
    Token,
    #[error("the session's parent is gone (its lock is free): a killed recording")]
    Dead,
    #[error("the session has stopped")]
    Stopped,
    #[error("the session's lock cannot be tested: {0}")]
    Lock(io::Error),
}

/// A session directory this child process records into.
#[derive(Debug)]
pub(crate) struct ChildSession {
    dir: PrivateDir,
    lock: File,
}

impl ChildSession {
    /// Joins the session in `path` with `token` (see the module's documentation); returns it and
    /// the text of its `session.json`.
    pub(crate) fn join(path: &Path, token: &str) -> Result<(ChildSession, String), JoinError> {
        let dir = PrivateDir::open(path)?;
        let want = dir.read(TOKEN, MAX_TOKEN, true)?;
        if token.is_empty() || !same(want.trim_ascii(), token.as_bytes()) {
            return Err(JoinError::Token);
        }
        let lock = dir.open_existing(LOCK)?;
        let s = ChildSession { dir, lock };
        if !s.alive_or(JoinError::Lock)? {
            return Err(JoinError::Dead);
        }
        if s.stopped() {
            return Err(JoinError::Stopped);
        }
        let config = s.dir.read(CONFIG, MAX_CONFIG, true)?;
        let config = String::from_utf8(config).map_err(|_| {
            JoinError::Dir(PrivateDirError::Io {
                path: path.join(CONFIG),
                source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"),
            })
        })?;
        Ok((s, config))
    }

    /// The directory's path (for messages).
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates the new file `name` in the session (0600, never through a link, never an existing file).
    pub(crate) fn create(&self, name: &str) -> Result<File, PrivateDirError> {
        self.dir.create_new(name)
    }

    /// Removes the file `name` of the session (a link itself, never its target).
    pub(crate) fn remove(&self, name: &str) {
        let _ = self.dir.remove(name);
    }

    /// The parent's stop marker is there (one `fstatat`).
    pub(crate) fn stopped(&self) -> bool {
        self.dir.exists(STOP)
    }

    /// The parent still holds its lock (one non-blocking `flock` attempt). An error other than
    /// "it is held" counts as alive (recording goes on; the stop marker still ends it).
    pub(crate) fn alive(&self) -> bool {
        self.alive_or(|_| ()).unwrap_or(true)
    }

    fn alive_or<E>(&self, err: impl FnOnce(io::Error) -> E) -> Result<bool, E> {
        loop {
            // SAFETY: an open descriptor; a shared lock never conflicts with another child's probe.
            let r = unsafe { libc::flock(self.lock.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
            if r == 0 {
                // the parent's exclusive lock is gone: release ours at once
                // SAFETY: as above.
                unsafe { libc::flock(self.lock.as_raw_fd(), libc::LOCK_UN) };
                return Ok(false);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => return Ok(true),
                Some(libc::EINTR) => continue,
                _ => return Err(err(e)),
            }
        }
    }
}

/// `a == b` in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
