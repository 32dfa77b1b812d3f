//! Reading settings files: TOML into serde structs, and errors that say `file:line: field: message` so an
//! editor can jump to the spot. Shared by probe files and the alert defaults file.

use std::path::{Path, PathBuf};

/// A problem with a settings file or with finding one. Displays as `file:line: field: message`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}:{line}: {field}: {message}")]
    Invalid { path: PathBuf, line: usize, field: String, message: String },
    #[error("no probe file in {dir} has pool_id {pool_id:?} (hint: `probe validate {dir}` lists them)")]
    NoSuchPool { dir: PathBuf, pool_id: String },
    #[error("nothing to run: give --pool <POOL_ID>, --probe <NAME> or --config <FILE> (see probe --help)")]
    NothingToRun,
    /// `wanted`: what was asked for, as `name "x"` or `pool_id "p" and name "x"`.
    #[error(
        "no probe file in {dir} matches {wanted} (by file name or `name`; hint: `probe validate {dir}` lists them)"
    )]
    NoSuchProbe { dir: PathBuf, wanted: String },
    #[error(
        "{count} probe files in {dir} match {wanted}: {files}; refusing to guess which one to run (hint: \
         pick one with --config FILE or --probe NAME)",
        count = files.len(), files = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous { dir: PathBuf, wanted: String, files: Vec<PathBuf> },
    #[error("cannot list probe directory {dir}: {source}")]
    Dir { dir: PathBuf, source: std::io::Error },
}

impl ConfigError {
    /// The file the error is about, when it is about one file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::Read { path, .. } | ConfigError::Syntax { path, .. } | ConfigError::Invalid { path, .. } => {
                Some(path)
            }
            _ => None,
        }
    }
}

/// Deserialises a settings file's text; a syntax or type error names `path`, line and column.
pub fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError::Syntax { path: path.to_path_buf(), line, column, message: e.message().to_string() }
    })
}

/// Reads a settings file.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })
}

/// An [`ConfigError::Invalid`] for a dotted key of `text`, pointing at its line.
pub fn invalid(text: &str, path: &Path, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: key_line(text, field),
        field: field.to_string(),
        message: message.into(),
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Line of a dotted key (`imap.password`) in a TOML text, or of its table, or 1 when absent. A numeric
/// part is a 0-based position in an array (`alert.channels.1.command`: the second `[[alert.channels]]`).
pub fn key_line(text: &str, dotted: &str) -> usize {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else { return 1 };
    let mut item: &toml_edit::Item = doc.as_item();
    let mut line = 1;
    for part in dotted.split('.') {
        let index = part.parse::<usize>().ok();
        let Some(next) = (match index {
            Some(i) => item.get(i),
            None => item.get(part),
        }) else {
            break;
        };
        if let Some(span) = next.span() {
            line = line_col(text, span.start).0;
        } else if index.is_none()
            && let Some((key, _)) = item.as_table_like().and_then(|t| t.get_key_value(part))
            && let Some(span) = key.span()
        {
            line = line_col(text, span.start).0;
        }
        item = next;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_point_at_the_key_or_its_table() {
        let text = "a = 1\n[imap]\nhost = \"h\"\n\n[alert]\nfailure_threshold = 0\n\
                    [[alert.channels]]\ntype = \"exec\"\ncommand = [\"a\"]\n\
                    [[alert.channels]]\ntype = \"exec\"\ncommand = [\"b\"]\n";
        let cases = [
            ("a", 1),
            ("imap", 2),
            ("imap.host", 3),
            ("alert.failure_threshold", 6),
            ("missing", 1),
            ("alert.channels.0.command", 9),
            ("alert.channels.1.command", 12),
            ("alert.channels.7.command", 7),
        ];
        for (key, line) in cases {
            assert_eq!(key_line(text, key), line, "{key}");
        }
    }
}
