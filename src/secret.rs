//! Secrets: where they come from (environment variable, file, or a command's output) and a value type that
//! never shows itself. Probe files name a secret's *source*, never its value (STYLE.md "Secrets").

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A secret value. `Debug` and `Display` print `<redacted>`; the only way to the value is [`Secret::expose`],
/// so every use is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Call only where it goes on the wire (login, HMAC key), never into text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret is read from, as written in a probe file: exactly one of `env`, `file`, `command`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// Name of an environment variable.
    Env(String),
    /// Path of a file whose content (trailing newline trimmed) is the secret.
    File(PathBuf),
    /// argv of a command whose stdout is the secret (e.g. an OAuth2 token helper). Run without a shell.
    Command(Vec<String>),
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        const EXPECTED: &str =
            "a table with exactly one of env = \"NAME\", file = \"PATH\", command = [\"prog\", \"arg\"]";
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = SecretSource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            // A plain string here is almost certainly the secret itself: refuse it without echoing it.
            fn visit_str<E: de::Error>(self, _v: &str) -> Result<Self::Value, E> {
                Err(E::custom(format!("inline secret values are not accepted, expected {EXPECTED}")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found: Option<SecretSource> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let source = match key.as_str() {
                        "env" => SecretSource::Env(map.next_value()?),
                        "file" => SecretSource::File(map.next_value()?),
                        "command" => SecretSource::Command(map.next_value()?),
                        other => return Err(de::Error::custom(format!("unknown key {other:?}, expected {EXPECTED}"))),
                    };
                    if found.replace(source).is_some() {
                        return Err(de::Error::custom(format!("more than one source, expected {EXPECTED}")));
                    }
                }
                found.ok_or_else(|| de::Error::custom(format!("no source, expected {EXPECTED}")))
            }
        }
        d.deserialize_any(SourceVisitor)
    }
}

/// Why a secret could not be read. Never carries the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {name} is not set or not valid UTF-8 (hint: export {name}=… before running)")]
    EnvMissing { name: String },
    #[error("cannot read secret file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("secret file {path} is empty")]
    FileEmpty { path: PathBuf },
    #[error("secret command {program:?} could not run: {source}")]
    CommandSpawn { program: String, source: std::io::Error },
    #[error("secret command {program:?} exited with {status}")]
    CommandFailed { program: String, status: std::process::ExitStatus },
    #[error("secret command is empty: give the program and its arguments as a list")]
    CommandEmpty,
    #[error("secret command {program:?} printed nothing (or not UTF-8)")]
    CommandOutput { program: String },
    #[error("secret command {program:?} is not an executable program here (hint: give its absolute path)")]
    CommandMissing { program: String },
}

impl SecretSource {
    /// Checks that the secret can be read here — the variable is set, the file is a readable non-empty
    /// file, the command's program exists and is executable — without reading or running anything that
    /// shows the value. A command is not run: it may have effects or take time.
    pub fn check(&self) -> Result<(), SecretError> {
        match self {
            SecretSource::Env(name) => match std::env::var_os(name) {
                Some(v) if !v.is_empty() => Ok(()),
                _ => Err(SecretError::EnvMissing { name: name.clone() }),
            },
            SecretSource::File(path) => {
                let meta =
                    std::fs::metadata(path).map_err(|source| SecretError::File { path: path.clone(), source })?;
                std::fs::File::open(path).map_err(|source| SecretError::File { path: path.clone(), source })?;
                if meta.len() == 0 {
                    return Err(SecretError::FileEmpty { path: path.clone() });
                }
                Ok(())
            }
            SecretSource::Command(argv) => {
                let program = argv.first().ok_or(SecretError::CommandEmpty)?;
                if executable(program) { Ok(()) } else { Err(SecretError::CommandMissing { program: program.clone() }) }
            }
        }
    }

    /// Reads the secret now. Files are read relative to the current directory unless absolute.
    pub async fn read(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(name) => std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret)
                .ok_or_else(|| SecretError::EnvMissing { name: name.clone() }),
            SecretSource::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|source| SecretError::File { path: path.clone(), source })?;
                let value = text.trim_end_matches(['\r', '\n']).to_string();
                if value.is_empty() {
                    return Err(SecretError::FileEmpty { path: path.clone() });
                }
                Ok(Secret(value))
            }
            SecretSource::Command(argv) => {
                let (program, args) = argv.split_first().ok_or(SecretError::CommandEmpty)?;
                let output = tokio::process::Command::new(program)
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .await
                    .map_err(|source| SecretError::CommandSpawn { program: program.clone(), source })?;
                if !output.status.success() {
                    return Err(SecretError::CommandFailed { program: program.clone(), status: output.status });
                }
                let value = String::from_utf8(output.stdout)
                    .ok()
                    .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| SecretError::CommandOutput { program: program.clone() })?;
                Ok(Secret(value))
            }
        }
    }
}

/// Whether `program` names an executable file: a path as given, a bare name along `PATH` (as the
/// command would be found when run).
pub fn executable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let is_exec =
        |p: &std::path::Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        return is_exec(std::path::Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| is_exec(&dir.join(program))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2-canary");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-canary");
    }

    #[tokio::test]
    async fn sources_read_env_file_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-file\n").unwrap();
        // SAFETY: the variable name is unique to this test; no other thread reads it.
        unsafe { std::env::set_var("PROBE_TEST_SECRET_SOURCES", "from-env") };
        let cases = [
            (SecretSource::Env("PROBE_TEST_SECRET_SOURCES".into()), "from-env"),
            (SecretSource::File(path), "from-file"),
            (SecretSource::Command(vec!["printf".into(), "from-command\\n".into()]), "from-command"),
        ];
        for (source, expected) in cases {
            assert_eq!(source.read().await.unwrap().expose(), expected, "{source:?}");
        }
    }

    #[test]
    fn check_finds_what_cannot_be_read_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let cases = [
            (SecretSource::Env("PROBE_TEST_SECRET_SURELY_UNSET".into()), false),
            (SecretSource::Env("PATH".into()), true),
            (SecretSource::File(dir.path().join("missing")), false),
            (SecretSource::File(empty), false),
            (SecretSource::Command(vec!["printf".into(), "x".into()]), true),
            (SecretSource::Command(vec!["/nonexistent/token-helper".into()]), false),
            (SecretSource::Command(vec!["surely-not-a-program-here".into()]), false),
        ];
        for (source, ok) in cases {
            assert_eq!(source.check().is_ok(), ok, "{source:?}: {:?}", source.check());
        }
    }

    #[tokio::test]
    async fn errors_name_the_source_but_not_a_value() {
        let missing = SecretSource::Env("PROBE_TEST_SECRET_SURELY_UNSET".into()).read().await.unwrap_err();
        assert!(missing.to_string().contains("PROBE_TEST_SECRET_SURELY_UNSET"), "{missing}");
        let failed = SecretSource::Command(vec!["false".into()]).read().await.unwrap_err();
        assert!(failed.to_string().contains("\"false\""), "{failed}");
    }
}
