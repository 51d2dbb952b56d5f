//! A private directory in a shared place (`/tmp`), used without following links.
//!
//! [`PrivateDir::open`] opens the directory once, without following a symlink at its last
//! component (`O_NOFOLLOW | O_DIRECTORY`), and accepts it only when it is owned by this process's
//! effective uid and has mode 0700: nobody else can have put or replaced anything in it. Every
//! later access is relative to that descriptor (`openat`, `fstatat`), so renaming, removing or
//! recreating the path afterwards changes nothing for us. Files are created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600, and read with `O_NOFOLLOW`, a size bound and
//! checks of their owner and mode. Linux (and other Unix) only.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Why a directory or a file in it is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} is owned by uid {owner}, not by this process's uid {me}", path.display())]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error("{} has mode {mode:o}, not {want:o}", path.display())]
    Mode { path: PathBuf, mode: u32, want: u32 },
    #[error("{} is not a regular file", path.display())]
    NotRegular { path: PathBuf },
    #[error("{} is larger than {max} bytes", path.display())]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{name:?} is not a plain file name")]
    BadName { name: String },
}

/// An open private directory (see the module's documentation).
#[derive(Debug)]
pub struct PrivateDir {
    fd: OwnedFd,
    path: PathBuf,
}

fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))
}

fn fstat(fd: libc::c_int) -> io::Result<libc::stat> {
    // SAFETY: a zeroed out-structure that fstat fills; `fd` is open.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    }
}

fn euid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

impl PrivateDir {
    /// Opens `path`, a directory owned by this process's effective uid with mode 0700 (a symlink
    /// is refused, not followed).
    pub fn open(path: &Path) -> Result<PrivateDir, PrivateDirError> {
        let err = |source| PrivateDirError::Io { path: path.to_path_buf(), source };
        let c = cstr(path.as_os_str().as_bytes()).map_err(err)?;
        // SAFETY: a valid NUL-terminated path; the descriptor returned is owned below.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(err(io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = fstat(fd.as_raw_fd()).map_err(err)?;
        let me = euid();
        if st.st_uid != me {
            return Err(PrivateDirError::Owner { path: path.to_path_buf(), owner: st.st_uid, me });
        }
        let mode = st.st_mode & 0o7777;
        if mode != 0o700 {
            return Err(PrivateDirError::Mode { path: path.to_path_buf(), mode, want: 0o700 });
        }
        Ok(PrivateDir { fd, path: path.to_path_buf() })
    }

    /// The path it was opened at (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn name(&self, name: &str) -> Result<CString, PrivateDirError> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(PrivateDirError::BadName { name: name.to_string() });
        }
        cstr(name.as_bytes()).map_err(|source| self.io(name, source))
    }

    fn io(&self, name: &str, source: io::Error) -> PrivateDirError {
        PrivateDirError::Io { path: self.path.join(name), source }
    }

    fn openat(&self, name: &str, flags: libc::c_int, mode: libc::c_uint) -> Result<File, PrivateDirError> {
        let c = self.name(name)?;
        // SAFETY: an open directory descriptor and a valid NUL-terminated plain name; the
        // descriptor returned is owned below.
        let fd = unsafe { libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags | libc::O_NOFOLLOW | libc::O_CLOEXEC, mode) };
        if fd < 0 {
            return Err(self.io(name, io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Creates the new file `name` (never an existing one, never through a link), mode 0600,
    /// open for writing.
    pub fn create_new(&self, name: &str) -> Result<File, PrivateDirError> {
        self.openat(name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600)
    }

    /// Opens the existing regular file `name` (not a link) for reading and writing (a lock file).
    pub fn open_existing(&self, name: &str) -> Result<File, PrivateDirError> {
        let f = self.openat(name, libc::O_RDWR | libc::O_NONBLOCK, 0)?;
        self.check_regular(name, &f, false)?;
        Ok(f)
    }

    fn check_regular(&self, name: &str, f: &File, private: bool) -> Result<libc::stat, PrivateDirError> {
        let st = fstat(f.as_raw_fd()).map_err(|e| self.io(name, e))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(PrivateDirError::NotRegular { path: self.path.join(name) });
        }
        let me = euid();
        if st.st_uid != me {
            return Err(PrivateDirError::Owner { path: self.path.join(name), owner: st.st_uid, me });
        }
        if private && st.st_mode & 0o077 != 0 {
            return Err(PrivateDirError::Mode { path: self.path.join(name), mode: st.st_mode & 0o7777, want: 0o600 });
        }
        Ok(st)
    }

    /// Reads the regular file `name` (not a link, not a FIFO), owned by this uid, of at most
    /// `max` bytes; `private`: its mode must give nothing to the group or others.
    pub fn read(&self, name: &str, max: u64, private: bool) -> Result<Vec<u8>, PrivateDirError> {
        let f = self.openat(name, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
        let st = self.check_regular(name, &f, private)?;
        let too_large = || PrivateDirError::TooLarge { path: self.path.join(name), max };
        if st.st_size as u64 > max {
            return Err(too_large());
        }
        let mut out = Vec::with_capacity(st.st_size as usize);
        (&f).take(max + 1).read_to_end(&mut out).map_err(|e| self.io(name, e))?;
        if out.len() as u64 > max {
            return Err(too_large());
        }
        Ok(out)
    }

    /// Removes the file `name` (a link is removed itself, never its target).
    pub fn remove(&self, name: &str) -> Result<(), PrivateDirError> {
        let c = self.name(name)?;
        // SAFETY: an open directory descriptor and a valid NUL-terminated plain name.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) } != 0 {
            return Err(self.io(name, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Whether `name` exists in the directory (a link counts as itself, it is not followed).
    pub fn exists(&self, name: &str) -> bool {
        let Ok(c) = self.name(name) else { return false };
        // SAFETY: an open directory descriptor, a valid name, a zeroed out-structure.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::fstatat(self.fd.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn private_tmp() -> (PathBuf, PathBuf) {
        let base =
            std::env::temp_dir().join(format!("fprofile-privdir-test-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        let d = base.join("d");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        (base, d)
    }

    #[test]
    fn a_private_directory_creates_files_0600_once_and_never_through_a_link() {
        let (base, d) = private_tmp();
        let dir = PrivateDir::open(&d).unwrap();
        let mut f = dir.create_new("a").unwrap();
        f.write_all(b"hello").unwrap();
        assert_eq!(std::fs::metadata(d.join("a")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(dir.create_new("a"), Err(PrivateDirError::Io { .. })), "never an existing file");
        std::fs::write(base.join("victim"), b"keep").unwrap();
        symlink(base.join("victim"), d.join("link")).unwrap();
        assert!(dir.create_new("link").is_err());
        assert!(dir.read("link", 100, false).is_err(), "a link is not followed to read");
        assert!(dir.open_existing("link").is_err());
        assert_eq!(std::fs::read(base.join("victim")).unwrap(), b"keep");
        assert!(dir.exists("link") && dir.exists("a") && !dir.exists("b"));
        assert_eq!(dir.read("a", 5, true).unwrap(), b"hello");
        assert!(matches!(dir.read("a", 4, true), Err(PrivateDirError::TooLarge { .. })));
        assert!(matches!(dir.create_new("../x"), Err(PrivateDirError::BadName { .. })));
        std::fs::set_permissions(d.join("a"), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(dir.read("a", 5, true), Err(PrivateDirError::Mode { .. })), "a private file readable by others");
        assert!(dir.read("a", 5, false).is_ok());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_link_or_an_open_directory_is_refused() {
        let (base, d) = private_tmp();
        symlink(&d, base.join("l")).unwrap();
        assert!(matches!(PrivateDir::open(&base.join("l")), Err(PrivateDirError::Io { .. })));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(PrivateDir::open(&d), Err(PrivateDirError::Mode { mode: 0o755, .. })));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
