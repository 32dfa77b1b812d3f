//! Reading local files the probe does not control — a Maildir's messages, a Terraform tree under review —
//! so that nothing in them can hang a run or exhaust its memory: only regular files are opened (never
//! through a symbolic link: `O_NOFOLLOW`; a FIFO opens without blocking, `O_NONBLOCK`, and is then refused
//! by its type), and a read never takes more than a stated number of bytes, whatever the file claims.

use std::fs::{File, FileType, Metadata};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// What a directory entry is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Odd {
    Symlink,
    Directory,
    Fifo,
    Socket,
    Device,
    Other,
}

impl std::fmt::Display for Odd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Odd::Symlink => "a symbolic link",
            Odd::Directory => "a directory",
            Odd::Fifo => "a FIFO",
            Odd::Socket => "a socket",
            Odd::Device => "a device",
            Odd::Other => "not a regular file",
        })
    }
}

/// `None` for a regular file, else what the entry is (the type of the entry itself: a link is a link).
pub fn odd(kind: FileType) -> Option<Odd> {
    if kind.is_file() {
        None
    } else if kind.is_symlink() {
        Some(Odd::Symlink)
    } else if kind.is_dir() {
        Some(Odd::Directory)
    } else if kind.is_fifo() {
        Some(Odd::Fifo)
    } else if kind.is_socket() {
        Some(Odd::Socket)
    } else if kind.is_block_device() || kind.is_char_device() {
        Some(Odd::Device)
    } else {
        Some(Odd::Other)
    }
}

/// Why [`open`] gave no file.
#[derive(Debug)]
pub enum OpenError {
    /// The path is not a regular file (checked on the opened file, so a swap after a listing is caught).
    Odd(Odd),
    Io(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Odd(odd) => write!(f, "{odd}, not a regular file"),
            OpenError::Io(e) => e.fmt(f),
        }
    }
}

/// Opens `path` for reading when it is a regular file, without following a symbolic link in its last
/// component and without blocking on a FIFO; returns the file and its metadata (its size, its mtime).
pub fn open(path: &Path) -> Result<(File, Metadata), OpenError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // open(2): O_NOFOLLOW on a symbolic link fails with ELOOP.
            Some(libc::ELOOP) => OpenError::Odd(Odd::Symlink),
            _ => OpenError::Io(e),
        })?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    match odd(meta.file_type()) {
        None => Ok((file, meta)),
        Some(kind) => Err(OpenError::Odd(kind)),
    }
}

/// Reads at most `limit` bytes from `file`: the whole file when it is smaller, else its first `limit`
/// bytes. Memory is reserved for what the file's size says, never more than `limit`.
pub fn read_at_most(file: &mut File, size_hint: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(size_hint.min(limit) as usize);
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open_and_reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mail");
        std::fs::write(&file, b"0123456789").unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("link")).unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        // (entry, what open gives)
        let cases = [
            ("mail", "ok"),
            ("zero", "a symbolic link, not a regular file"),
            ("link", "a symbolic link, not a regular file"),
            ("fifo", "a FIFO, not a regular file"),
            ("", "a directory, not a regular file"),
        ];
        for (name, want) in cases {
            let got = match open(&dir.path().join(name)) {
                Ok(_) => "ok".to_string(),
                Err(e) => e.to_string(),
            };
            assert_eq!(got, want, "{name:?}");
        }
        let (mut f, meta) = open(&file).unwrap();
        assert_eq!(read_at_most(&mut f, meta.len(), 4).unwrap(), b"0123");
        let (mut f, meta) = open(&file).unwrap();
        assert_eq!(read_at_most(&mut f, meta.len(), 100).unwrap(), b"0123456789");
    }
}
