//! The running process as a [`ProcessInfo`]: pid, parent pid, host name, and its name as a user
//! knows it ([`name_of`]: "kernel" for a Jupyter kernel, the script and its arguments for a
//! Python program, not the interpreter's path); the recorder's caller may give a better name (a
//! Dask worker's, a multiprocessing process's). The whole command line stays available
//! ([`command_line`]: the Python layer keeps it in the trace's metadata "command").

use crate::model::ProcessInfo;

/// Longest name taken from the command line (characters).
const MAX_NAME: usize = 200;

/// The environment variable Jupyter servers set in a kernel: the notebook's path.
pub const SESSION_NAME_ENV: &str = "JPY_SESSION_NAME";

/// This process: pid, parent pid, host and name (times left at 0 for the builder).
pub fn current() -> ProcessInfo {
    ProcessInfo {
        pid: u64::from(std::process::id()),
        // SAFETY: getppid has no preconditions and cannot fail.
        parent_pid: u64::try_from(unsafe { libc::getppid() }).unwrap_or(0),
        name: current_name().unwrap_or_default(),
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

/// This process's arguments, read once per process (`/proc/self/cmdline`, about 10 µs: every
/// recording's start names its process): a forked child reads its own.
fn arguments() -> Option<Vec<String>> {
    static CACHE: std::sync::Mutex<Option<(u32, Option<Vec<String>>)>> = std::sync::Mutex::new(None);
    let pid = std::process::id();
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    match &*c {
        Some((p, args)) if *p == pid => args.clone(),
        _ => {
            let args = read_arguments();
            *c = Some((pid, args.clone()));
            args
        }
    }
}

fn read_arguments() -> Option<Vec<String>> {
    let raw = std::fs::read("/proc/self/cmdline").ok()?;
    Some(raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

/// This process's name ([`name_of`] its arguments and `JPY_SESSION_NAME`), cut to [`MAX_NAME`].
pub fn current_name() -> Option<String> {
    let session = std::env::var(SESSION_NAME_ENV).ok();
    Some(cut(name_of(&arguments()?, session.as_deref())))
}

/// This process's command line, arguments joined by spaces, cut to [`MAX_NAME`] characters.
pub fn command_line() -> Option<String> {
    Some(cut(arguments()?.join(" ")))
}

fn cut(s: String) -> String {
    if s.chars().count() > MAX_NAME {
        let mut c: String = s.chars().take(MAX_NAME - 1).collect();
        c.push('…');
        c
    } else {
        s
    }
}

/// The last part of a path.
fn base(path: &str) -> &str {
    path.rsplit('/').next().filter(|b| !b.is_empty()).unwrap_or(path)
}

/// Whether `program` names a Python interpreter (`python`, `python3.11`, `/venv/bin/python3`, `pypy3`).
fn is_interpreter(program: &str) -> bool {
    let b = base(program);
    let rest = b.strip_prefix("python").or_else(|| b.strip_prefix("pypy"));
    rest.is_some_and(|r| r.chars().all(|c| c.is_ascii_digit() || c == '.' || c == 'd' || c == 't' || c == 'm'))
}

/// An argument as a POSIX shell would need it written (Python's `shlex.quote`, which `fprofile
/// run` names its program with): as it is when it is made of `\w@%+=:,./-` only, else in single quotes.
fn quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\"'\"'"))
}

/// The name's first part and the arguments after it, quoted, on one line.
fn joined(first: String, rest: &[String]) -> String {
    std::iter::once(first).chain(rest.iter().map(|a| quote(a))).collect::<Vec<_>>().join(" ")
}

/// Interpreter options that take the next argument as their value.
const VALUE_OPTIONS: [&str; 3] = ["-W", "-X", "--check-hash-based-pycs"];

/// A process's name from its arguments (`args[0]` the program): a Jupyter kernel
/// (`python -m ipykernel_launcher -f …`) is "kernel", with the notebook's name when the kernel's
/// `session` (`JPY_SESSION_NAME`: the notebook's path) is known ("kernel · analysis.ipynb"); a
/// Python program is its script's file name and arguments (`child_job.py 3000`), `-m module
/// arguments` or `python -c code`, without the interpreter and its options; any other program is
/// its file name and arguments.
pub fn name_of(args: &[String], session: Option<&str>) -> String {
    let Some(program) = args.first() else { return String::new() };
    if !is_interpreter(program) {
        return joined(base(program).to_string(), &args[1..]);
    }
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-m" || a == "-c" {
            let rest = &args[(i + 1).min(args.len())..];
            if a == "-m" && rest.first().is_some_and(|m| m == "ipykernel_launcher" || m == "ipykernel") {
                return kernel_name(session);
            }
            return match rest.split_first() {
                Some((m, more)) if a == "-m" => joined(format!("-m {m}"), more),
                _ => joined(if a == "-m" { "-m".to_string() } else { "python -c".to_string() }, rest),
            };
        }
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        // an option: its value is the next argument (`-X dev`) or attached (`-Xdev`, `-Wdefault`)
        if VALUE_OPTIONS.contains(&a) {
            i += 1;
        }
        i += 1;
    }
    let Some(script) = args.get(i) else { return base(program).to_string() };
    let b = base(script);
    if b == "ipykernel_launcher.py" {
        return kernel_name(session);
    }
    joined(if script == "-" { "python -".to_string() } else { b.to_string() }, &args[i + 1..])
}

fn kernel_name(session: Option<&str>) -> String {
    match session.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("kernel · {}", base(s.trim_end_matches('/'))),
        None => "kernel".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::name_of;

    fn name(args: &str, session: Option<&str>) -> String {
        name_of(&args.split(' ').map(String::from).collect::<Vec<_>>(), session)
    }

    #[test]
    fn current_process() {
        let p = super::current();
        assert_eq!(p.pid, u64::from(std::process::id()));
        assert!(p.parent_pid > 0);
        assert!(!p.host.is_empty());
        assert!(!p.name.is_empty());
        assert!(super::command_line().is_some_and(|c| !c.is_empty()));
    }

    #[test]
    fn a_kernel_is_named_kernel_with_its_notebook() {
        let k = "/path/venv/bin/python3 -m ipykernel_launcher -f /root/.local/share/jupyter/runtime/kernel-0208.json";
        assert_eq!(name(k, None), "kernel");
        assert_eq!(name(k, Some("work/analysis.ipynb")), "kernel · analysis.ipynb");
        assert_eq!(name(k, Some("  ")), "kernel");
        assert_eq!(name("python -Xfrozen_modules=off -m ipykernel_launcher --f=/x.json", Some("/a/b.ipynb")), "kernel · b.ipynb");
        assert_eq!(name("python3.11 /venv/lib/python3.11/site-packages/ipykernel_launcher.py -f k.json", None), "kernel");
    }

    #[test]
    fn a_python_program_is_its_script_and_arguments() {
        assert_eq!(name("/path/bin/python3 child_job.py 3000", None), "child_job.py 3000");
        assert_eq!(
            name("/usr/bin/python3.11 -u -X dev -W ignore /tmp/x/driver_main.py 3000 --fast", None),
            "driver_main.py 3000 --fast"
        );
        assert_eq!(name("python -m http.server 8000", None), "-m http.server 8000");
        assert_eq!(name("python -c print(1)", None), "python -c 'print(1)'");
        // arguments quoted as `fprofile run` names its program (shlex.quote)
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            name_of(&args(&["python3", "app.py", "one two", "--x", "it's", ""]), None),
            "app.py 'one two' --x 'it'\"'\"'s' ''"
        );
        assert_eq!(name("/venv/bin/python3 /venv/bin/dask-worker tcp://1.2.3.4:1", None), "dask-worker tcp://1.2.3.4:1");
        assert_eq!(name("/venv/bin/python3", None), "python3");
        assert_eq!(name("pypy3 -- a.py", None), "a.py");
        // the session's name only names a kernel
        assert_eq!(name("python3 job.py", Some("n.ipynb")), "job.py");
    }

    #[test]
    fn another_program_is_its_file_name_and_arguments() {
        assert_eq!(name("/usr/local/bin/fprofile run x.py", None), "fprofile run x.py");
        assert_eq!(name("/usr/bin/pythonista-tool a", None), "pythonista-tool a");
    }
}
