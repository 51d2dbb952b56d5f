//! The running process as a [`ProcessInfo`]: pid, parent pid, host name, and its command line as
//! its name (the recorder's caller may give a better name: a Dask worker's, a multiprocessing
//! process's).

use crate::model::ProcessInfo;

/// Longest name taken from the command line (characters).
const MAX_NAME: usize = 200;

/// This process: pid, parent pid, host and command line (times left at 0 for the builder).
pub fn current() -> ProcessInfo {
    ProcessInfo {
        pid: u64::from(std::process::id()),
        // SAFETY: getppid has no preconditions and cannot fail.
        parent_pid: u64::try_from(unsafe { libc::getppid() }).unwrap_or(0),
        name: command_line().unwrap_or_default(),
        host: host_name().unwrap_or_default(),
        ..ProcessInfo::default()
    }
}

/// The host name (`gethostname`), or `None` when it cannot be read.
pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// This process's command line, arguments joined by spaces, cut to [`MAX_NAME`] characters.
fn command_line() -> Option<String> {
    let raw = std::fs::read("/proc/self/cmdline").ok()?;
    let args: Vec<String> =
        raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let joined = args.join(" ");
    Some(if joined.chars().count() > MAX_NAME {
        let mut s: String = joined.chars().take(MAX_NAME - 1).collect();
        s.push('…');
        s
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn current_process() {
        let p = super::current();
        assert_eq!(p.pid, u64::from(std::process::id()));
        assert!(p.parent_pid > 0);
        assert!(!p.host.is_empty());
        assert!(!p.name.is_empty());
    }
}
