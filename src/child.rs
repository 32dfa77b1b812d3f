//! Programs the probe starts — exec alert channels and `{ command = [...] }` secret sources — and what they
//! inherit from it. The probe's own environment holds its AWS credentials and often the very secrets its
//! probe files name (`{ env = "…" }`), so a child starts from an empty environment and gets only:
//!
//! * `PATH` — the probe's, or [`DEFAULT_PATH`] when the probe has none; a bare program name is looked up
//!   along it ([`find_program`] applies the same lookup, for `probe validate`);
//! * `HOME`, `LANG`, `TZ` — each only when the probe has it set ([`INHERITED`]);
//! * the variables its probe-file entry names in `pass_env = ["NAME", …]`, each only when set;
//! * what the caller adds on top (the exec channel's `PROBE_*` variables, which always win).
//!
//! It also leads its own process group, so that on timeout [`kill_group`] ends everything it started.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The search path a child gets when the probe itself has no `PATH`.
pub const DEFAULT_PATH: &str = "/usr/bin:/bin";

/// Variables of the probe's own environment every child gets (when set), besides `PATH`: the home
/// directory a helper may keep its configuration in, the locale and the time zone. Nothing secret.
pub const INHERITED: [&str; 3] = ["HOME", "LANG", "TZ"];

/// Names of environment variables a probe file passes through to one program, `pass_env = ["NAME"]`.
/// Each is checked when the file is read: a POSIX name (letters, digits, `_`, not starting with a digit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PassEnv(Vec<String>);

impl PassEnv {
    /// The names, checked. The error quotes the bad name (a name, never a value) and says what is expected.
    pub fn new(names: Vec<String>) -> Result<PassEnv, String> {
        for name in &names {
            let mut chars = name.chars();
            let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "pass_env: {name:?} is not an environment variable name, expected letters, digits and _ \
                     (not starting with a digit), e.g. pass_env = [\"VAULT_ADDR\"]"
                ));
            }
        }
        Ok(PassEnv(names))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for PassEnv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PassEnv::new(Vec::<String>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The `PATH` a child gets and a bare program name is looked up along.
pub fn search_path() -> OsString {
    std::env::var_os("PATH").filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_PATH.into())
}

/// Every variable a child gets from the probe's environment, in the order set: `PATH`, [`INHERITED`], then
/// the names of `pass` that are set.
pub fn environment(pass: &PassEnv) -> Vec<(OsString, OsString)> {
    let mut env = vec![(OsString::from("PATH"), search_path())];
    for name in INHERITED.iter().copied().chain(pass.names().iter().map(String::as_str)) {
        if name == "PATH" {
            continue;
        }
        if let Some(value) = std::env::var_os(name) {
            env.push((name.into(), value));
        }
    }
    env
}

/// Clears what `command` would inherit and gives it [`environment`] instead. Variables the caller sets
/// afterwards are added on top.
pub fn minimal_env<'c>(command: &'c mut tokio::process::Command, pass: &PassEnv) -> &'c mut tokio::process::Command {
    command.env_clear().envs(environment(pass))
}

/// Why a program cannot be started here. Names the program and where it was looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    #[error("program {program:?} does not exist")]
    Missing { program: String },
    #[error("program {program:?} is not a regular file")]
    NotAFile { program: String },
    #[error("program {program:?} is not executable by this user (hint: chmod +x {program})")]
    NotExecutable { program: String },
    #[error("program {program:?} is not found in PATH={path} (hint: give its absolute path)")]
    NotOnPath { program: String, path: String },
}

/// Finds `program` as the child would be started: a name with a `/` is taken as given (relative to the
/// current directory unless absolute) and must be a regular file this user may execute; a bare name is
/// looked up along [`search_path`], the first executable regular file winning (as execvp(3) does).
pub fn find_program(program: &str) -> Result<PathBuf, ProgramError> {
    if program.contains('/') {
        let path = Path::new(program);
        return match std::fs::metadata(path) {
            Err(_) => Err(ProgramError::Missing { program: program.to_string() }),
            Ok(meta) if !meta.is_file() => Err(ProgramError::NotAFile { program: program.to_string() }),
            Ok(_) if !may_execute(path) => Err(ProgramError::NotExecutable { program: program.to_string() }),
            Ok(_) => Ok(path.to_path_buf()),
        };
    }
    let path = search_path();
    let mut refused = None;
    for dir in std::env::split_paths(&path) {
        // An empty PATH entry is the current directory (POSIX XBD 8.3).
        let candidate = if dir.as_os_str().is_empty() { Path::new(".").join(program) } else { dir.join(program) };
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && may_execute(&candidate) => return Ok(candidate),
            Ok(meta) if meta.is_file() => {
                refused.get_or_insert_with(|| candidate.display().to_string());
            }
            _ => {}
        }
    }
    Err(match refused {
        Some(found) => ProgramError::NotExecutable { program: found },
        None => ProgramError::NotOnPath { program: program.to_string(), path: path.to_string_lossy().into_owned() },
    })
}

/// Whether this process's user may execute `path` (access(2) with `X_OK`).
fn may_execute(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: `c_path` is a NUL-terminated string that lives across the call; access(2) only reads it.
    unsafe { libc::access(c_path.as_ptr(), libc::X_OK) == 0 }
}

/// SIGKILL to every process in the group a timed-out child leads (spawned with `process_group(0)`, so its
/// group id is its pid; POSIX kill(2): a negative pid addresses a process group).
pub fn kill_group(group: u32) {
    let Ok(group) = libc::pid_t::try_from(group) else { return };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; ESRCH (group already gone) is fine.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_env_takes_posix_names_only() {
        let cases = [
            ("plain", "VAULT_ADDR", true),
            ("leading underscore", "_X1", true),
            ("lower case", "slack_channel", true),
            ("empty", "", false),
            ("leading digit", "1X", false),
            ("assignment", "A=B", false),
            ("space", "A B", false),
            ("dash", "A-B", false),
            ("nul", "A\0", false),
        ];
        for (case, name, ok) in cases {
            let result = PassEnv::new(vec![name.to_string()]);
            assert_eq!(result.is_ok(), ok, "{case}: {result:?}");
            if let Err(e) = result {
                assert!(e.contains("pass_env") && e.contains("not an environment variable name"), "{case}: {e}");
            }
        }
    }

    #[test]
    fn the_environment_starts_with_path_and_has_nothing_unnamed() {
        // The test process has PATH and surely no variable of this name.
        let pass = PassEnv::new(vec!["PROBE_TEST_CHILD_SURELY_UNSET".into(), "PATH".into()]).unwrap();
        let env = environment(&pass);
        assert_eq!(env[0].0, "PATH");
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1, "{env:?}");
        let allowed = ["PATH", "HOME", "LANG", "TZ"];
        assert!(env.iter().all(|(k, _)| allowed.iter().any(|a| k == a)), "{env:?}");
    }

    #[test]
    fn programs_are_found_as_the_child_would_be_started() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let shown = |p: &Path| p.display().to_string();
        let cases: [(&str, String, Result<(), &str>); 6] = [
            ("absolute executable", "/bin/sh".into(), Ok(())),
            ("bare name on PATH", "sh".into(), Ok(())),
            ("missing", "/nonexistent/pager".into(), Err("does not exist")),
            ("directory", shown(dir.path()), Err("is not a regular file")),
            ("not executable", shown(&plain), Err("is not executable")),
            ("bare name nowhere", "surely-not-a-program-here".into(), Err("is not found in PATH=")),
        ];
        for (case, program, expected) in cases {
            match (find_program(&program), expected) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(words)) => {
                    let text = e.to_string();
                    assert!(text.contains(words) && text.contains(&program), "{case}: {text}");
                }
                (got, _) => panic!("{case}: {got:?}"),
            }
        }
    }
}
