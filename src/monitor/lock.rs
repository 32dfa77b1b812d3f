//! One process per state file. Two monitors on one state each step the same counters and page the same
//! incident, so the state file's lock (`<state>.lock`, an exclusive `flock(2)` held for the process's life)
//! refuses the second one with the first one's identity, written into the lock file. The kernel drops the
//! lock when its holder exits, SIGKILL included, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::store::StoreError;

/// The lock on one state file, released on drop (and by the kernel when the process dies).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// `<state>.lock` beside the state file.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

impl StateLock {
    /// Takes the lock of `state`, or says who holds it.
    pub fn acquire(state: &Path) -> Result<StateLock, StoreError> {
        let path = lock_path(state);
        let io = |source| StoreError::Io { path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "a process that has not said who it is" } else { holder };
                return Err(StoreError::Locked { path: state.to_path_buf(), holder: holder.to_string() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = format!(
            "pid {} on {}, `{}` since {}",
            std::process::id(),
            hostname(),
            command_line(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        Ok(StateLock { _file: file })
    }
}

/// Creates `path` with mode 0600 when it is missing, and takes group and other permissions away from an
/// existing one: the state holds reports and incident history, for the monitor's user only.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let file = OpenOptions::new().append(true).create(true).mode(0o600).open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        tracing::info!(path = %path.display(), "state file was readable by others: now {:o}", mode & 0o700);
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "?".into())
}

/// The subcommand, e.g. `probe monitor` or `probe --pool …` (arguments beyond the first are left out: they
/// could carry paths nobody needs in an error).
fn command_line() -> String {
    let args: Vec<String> = std::env::args().take(2).collect();
    let program = args.first().map(|p| Path::new(p).file_name().map(|n| n.to_string_lossy().into_owned()));
    match (program.flatten(), args.get(1)) {
        (Some(p), Some(sub)) if !sub.starts_with('-') => format!("{p} {sub}"),
        (Some(p), _) => p,
        (None, _) => "probe".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        let first = StateLock::acquire(&state).unwrap();
        let err = StateLock::acquire(&state).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(err.contains("in use by another probe process"), "{err}");
        drop(first);
        StateLock::acquire(&state).expect("free again once the holder is gone");
        let mode = std::fs::metadata(lock_path(&state)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn state_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let (new, old) = (dir.path().join("new.sqlite"), dir.path().join("old.sqlite"));
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        for path in [&new, &old] {
            create_private(path).unwrap();
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
        }
    }
}
