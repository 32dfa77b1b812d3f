//! Secrets: where they come from (environment variable, file, a command's output, a systemd credential, or
//! AWS Secrets Manager) and a value type that never shows itself. Probe files name a secret's *source*, never its value
//! (STYLE.md "Secrets").

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::child::{self, PassEnv, ProgramError};
use crate::duration;

/// How long a secret command may take to print its secret before it and everything it started are killed.
/// The same wherever a secret is read (a run's login and trigger, a channel being set up): a token helper
/// answers in well under a second, and a hung one must not hold a run past its timeout.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The variable systemd sets to the directory of a service's credentials (`LoadCredential=`,
/// systemd.exec(5) "Credentials").
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

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

/// Where a secret is read from, as written in a probe file: exactly one of `env`, `file`, `command`,
/// `credential`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// Name of an environment variable.
    Env(String),
    /// Path of a file whose content (trailing newline trimmed) is the secret.
    File(PathBuf),
    /// A command whose stdout is the secret (e.g. an OAuth2 token helper): `argv`, run without a shell, in
    /// the minimal environment of [`crate::child`] plus the variables `pass_env` names, for at most
    /// [`COMMAND_TIMEOUT`].
    Command { argv: Vec<String>, pass_env: PassEnv },
    /// Name of a systemd credential: the file `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=<name>:…`).
    Credential(String),
    /// An AWS Secrets Manager secret (its name or ARN), read with `GetSecretValue`: its `SecretString`, or
    /// the string under `json_key` when the secret is a JSON object (as the console's key/value secrets are).
    SecretsManager { id: String, json_key: Option<String> },
}

const EXPECTED: &str = "a table with exactly one of env = \"NAME\", file = \"PATH\", command = [\"prog\", \"arg\"] \
                        (optionally with pass_env = [\"NAME\"]), credential = \"NAME\", secrets_manager = \"NAME or \
                        ARN\" (optionally with json_key = \"KEY\")";

/// A value where a secret source belongs that is not a table is almost certainly the secret itself:
/// refused without echoing it (serde's own message would quote a number or a bool).
fn inline<E: de::Error>() -> E {
    E::custom(format!("inline secret values are not accepted, expected {EXPECTED}"))
}

/// Checks a credential name: a file name inside the credentials directory, never a path out of it.
fn credential_name(name: String) -> Result<String, String> {
    if name.is_empty() || name.contains(['/', '\0']) || name.contains("..") || name == "." {
        return Err(format!(
            "credential {name:?} is not a credential name, expected a file name without / or .. \
             (the name given to LoadCredential=NAME:PATH)"
        ));
    }
    Ok(name)
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = SecretSource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, _v: &str) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_bool<E: de::Error>(self, _v: bool) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_i64<E: de::Error>(self, _v: i64) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_i128<E: de::Error>(self, _v: i128) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_u64<E: de::Error>(self, _v: u64) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_u128<E: de::Error>(self, _v: u128) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_f64<E: de::Error>(self, _v: f64) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Self::Value, E> {
                Err(inline())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
                Err(inline())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found: Option<SecretSource> = None;
                let mut pass_env: Option<PassEnv> = None;
                let mut json_key: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let source = match key.as_str() {
                        "env" => SecretSource::Env(map.next_value()?),
                        "file" => SecretSource::File(map.next_value()?),
                        "command" => SecretSource::Command { argv: map.next_value()?, pass_env: PassEnv::default() },
                        "credential" => {
                            SecretSource::Credential(credential_name(map.next_value()?).map_err(de::Error::custom)?)
                        }
                        "secrets_manager" => {
                            let id: String = map.next_value()?;
                            if id.trim().is_empty() {
                                return Err(de::Error::custom(
                                    "secrets_manager is empty, expected a secret name or ARN",
                                ));
                            }
                            SecretSource::SecretsManager { id, json_key: None }
                        }
                        "pass_env" => {
                            pass_env = Some(map.next_value()?);
                            continue;
                        }
                        "json_key" => {
                            json_key = Some(map.next_value()?);
                            continue;
                        }
                        // TOML dates and times arrive as a table with one private key: an inline value too.
                        other if other.starts_with("$__toml_private") => return Err(inline()),
                        other => return Err(de::Error::custom(format!("unknown key {other:?}, expected {EXPECTED}"))),
                    };
                    if found.replace(source).is_some() {
                        return Err(de::Error::custom(format!("more than one source, expected {EXPECTED}")));
                    }
                }
                let source = match (found, pass_env) {
                    (None, _) => return Err(de::Error::custom(format!("no source, expected {EXPECTED}"))),
                    (Some(SecretSource::Command { argv, .. }), Some(pass_env)) => {
                        SecretSource::Command { argv, pass_env }
                    }
                    (Some(_), Some(_)) => {
                        return Err(de::Error::custom(
                            "pass_env is only for command = [...]: the other sources start no program",
                        ));
                    }
                    (Some(source), None) => source,
                };
                match (source, json_key) {
                    (SecretSource::SecretsManager { id, .. }, Some(key)) => {
                        Ok(SecretSource::SecretsManager { id, json_key: Some(key) })
                    }
                    (_, Some(_)) => Err(de::Error::custom(
                        "json_key is only for secrets_manager = \"…\": it names a key of the secret's JSON",
                    )),
                    (source, None) => Ok(source),
                }
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
    #[error("secret command: {0}")]
    CommandProgram(ProgramError),
    #[error(
        "secret command {program:?} did not print its secret within {} and was killed (hint: run it by hand \
         to see where it waits)",
        duration::show(*after)
    )]
    CommandTimeout { program: String, after: Duration },
    #[error(
        "credential {name:?}: {CREDENTIALS_DIRECTORY} is not set: not started by systemd with LoadCredential= \
         (hint: add LoadCredential={name}:/path/to/secret to the unit, or use {{ file = \"…\" }} elsewhere)"
    )]
    NoCredentialsDirectory { name: String },
    #[error("credential {name:?}: cannot read {path}: {source} (hint: is LoadCredential={name}:… in the unit?)")]
    Credential { name: String, path: PathBuf, source: std::io::Error },
    #[error("credential {name:?}: {path} is empty")]
    CredentialEmpty { name: String, path: PathBuf },
    #[error(
        "Secrets Manager secret {id:?}: {failure} (hint: the probe's role needs secretsmanager:GetSecretValue \
         on it, and kms:Decrypt when it is encrypted with a customer managed key)"
    )]
    SecretsManager { id: String, failure: crate::aws::AwsFailure },
    #[error("Secrets Manager secret {id:?} has no SecretString (a binary secret): store the secret as text")]
    SecretsManagerBinary { id: String },
    #[error("Secrets Manager secret {id:?} is empty")]
    SecretsManagerEmpty { id: String },
    #[error("Secrets Manager secret {id:?}: json_key {key:?}: {problem}")]
    SecretsManagerJson { id: String, key: String, problem: &'static str },
}

impl SecretSource {
    /// A command source without passed variables.
    pub fn command(argv: Vec<String>) -> SecretSource {
        SecretSource::Command { argv, pass_env: PassEnv::default() }
    }

    /// Checks that the secret can be read here — the variable is set, the file or credential is a
    /// readable non-empty file, the command's program exists and is executable — without reading or
    /// running anything that shows the value. A command is not run: it may have effects or take time.
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
            SecretSource::Command { argv, .. } => {
                let program = argv.first().ok_or(SecretError::CommandEmpty)?;
                child::find_program(program).map(|_| ()).map_err(SecretError::CommandProgram)
            }
            SecretSource::Credential(name) => {
                let path = credential_path(std::env::var_os(CREDENTIALS_DIRECTORY).as_deref(), name)?;
                let credential = |source| SecretError::Credential { name: name.clone(), path: path.clone(), source };
                let meta = std::fs::metadata(&path).map_err(credential)?;
                std::fs::File::open(&path).map_err(credential)?;
                if meta.len() == 0 {
                    return Err(SecretError::CredentialEmpty { name: name.clone(), path });
                }
                Ok(())
            }
            // Telling would mean reading the value; `probe validate` does not call AWS.
            SecretSource::SecretsManager { .. } => Ok(()),
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
                let value = trimmed(&text);
                if value.is_empty() {
                    return Err(SecretError::FileEmpty { path: path.clone() });
                }
                Ok(Secret(value))
            }
            SecretSource::Command { argv, pass_env } => run_command(argv, pass_env, COMMAND_TIMEOUT).await,
            SecretSource::Credential(name) => {
                read_credential(std::env::var_os(CREDENTIALS_DIRECTORY).as_deref(), name).await
            }
            SecretSource::SecretsManager { id, json_key } => {
                read_secrets_manager(&secrets_manager_client(id).await, id, json_key.as_deref()).await
            }
        }
    }
}

/// The Secrets Manager client for secret `id`: the standard credential chain and Region (on Lambda, the
/// function's role and Region), the Region of the ARN when `id` is one (a secret shared from another
/// Region), and the endpoint of `AWS_ENDPOINT_URL_SECRETS_MANAGER` or `AWS_ENDPOINT_URL` when set (SDK
/// "Service-specific endpoints"). The probe file's `[aws]` section is the pool's, not the secret's.
async fn secrets_manager_client(id: &str) -> aws_sdk_secretsmanager::Client {
    let mut loader = crate::aws::config_loader();
    // arn:aws:secretsmanager:<region>:<account>:secret:<name> (Secrets Manager User Guide, "Resource ARNs").
    if let Some(region) = id.strip_prefix("arn:").and_then(|rest| rest.split(':').nth(2)).filter(|r| !r.is_empty()) {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    aws_sdk_secretsmanager::Client::new(&loader.load().await)
}

/// `GetSecretValue` of `id`: its `SecretString`, or the string under `json_key` of the JSON object it holds.
/// Errors name the secret and the key, never what the secret holds.
async fn read_secrets_manager(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    json_key: Option<&str>,
) -> Result<Secret, SecretError> {
    let answer = crate::aws::call("GetSecretValue", client.get_secret_value().secret_id(id).send())
        .await
        .map_err(|failure| SecretError::SecretsManager { id: id.to_string(), failure })?;
    let text = answer.secret_string().ok_or_else(|| SecretError::SecretsManagerBinary { id: id.to_string() })?;
    let value = match json_key {
        None => text.to_string(),
        Some(key) => {
            let problem =
                |problem| SecretError::SecretsManagerJson { id: id.to_string(), key: key.to_string(), problem };
            // serde_json's own message may quote the text; only the kind of problem is reported.
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).map_err(|_| problem("the secret is not a JSON object"))?;
            match object.get(key) {
                Some(serde_json::Value::String(v)) => v.clone(),
                Some(_) => return Err(problem("the value under this key is not a string")),
                None => return Err(problem("the secret's JSON object has no such key")),
            }
        }
    };
    if value.is_empty() {
        return Err(SecretError::SecretsManagerEmpty { id: id.to_string() });
    }
    Ok(Secret(value))
}

/// The secret without the line ending a file or a command's output ends with.
fn trimmed(text: &str) -> String {
    text.trim_end_matches(['\r', '\n']).to_string()
}

/// Runs a secret command: no shell, no stdin, stderr discarded (it may echo what it read), the minimal
/// environment, its own process group. Past `limit` the whole group is killed — a helper's background
/// job holding stdout open included — and the error names the program and the limit.
async fn run_command(argv: &[String], pass_env: &PassEnv, limit: Duration) -> Result<Secret, SecretError> {
    let (program, args) = argv.split_first().ok_or(SecretError::CommandEmpty)?;
    let mut command = tokio::process::Command::new(program);
    child::minimal_env(&mut command, pass_env)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    let running = command.spawn().map_err(|source| SecretError::CommandSpawn { program: program.clone(), source })?;
    let group = running.id();
    let output = match tokio::time::timeout(limit, running.wait_with_output()).await {
        Ok(output) => output.map_err(|source| SecretError::CommandSpawn { program: program.clone(), source })?,
        Err(_) => {
            // The leader was killed when its future was dropped; now the rest of its group.
            if let Some(group) = group {
                child::kill_group(group);
            }
            return Err(SecretError::CommandTimeout { program: program.clone(), after: limit });
        }
    };
    if !output.status.success() {
        return Err(SecretError::CommandFailed { program: program.clone(), status: output.status });
    }
    String::from_utf8(output.stdout)
        .ok()
        .map(|s| trimmed(&s))
        .filter(|s| !s.is_empty())
        .map(Secret)
        .ok_or_else(|| SecretError::CommandOutput { program: program.clone() })
}

/// `<dir>/<name>`, or why there is no credentials directory. The name was checked when the file was read.
fn credential_path(dir: Option<&std::ffi::OsStr>, name: &str) -> Result<PathBuf, SecretError> {
    match dir.filter(|d| !d.is_empty()) {
        Some(dir) => Ok(Path::new(dir).join(name)),
        None => Err(SecretError::NoCredentialsDirectory { name: name.to_string() }),
    }
}

/// Reads the credential `name` from `dir` (the value of `$CREDENTIALS_DIRECTORY`).
async fn read_credential(dir: Option<&std::ffi::OsStr>, name: &str) -> Result<Secret, SecretError> {
    let path = credential_path(dir, name)?;
    let text = tokio::fs::read_to_string(&path).await.map_err(|source| SecretError::Credential {
        name: name.to_string(),
        path: path.clone(),
        source,
    })?;
    let value = trimmed(&text);
    if value.is_empty() {
        return Err(SecretError::CredentialEmpty { name: name.to_string(), path });
    }
    Ok(Secret(value))
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

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[allow(dead_code)] // read only through Debug in failures
        password: SecretSource,
    }

    fn parse(value: &str) -> Result<SecretSource, String> {
        toml::from_str::<Holder>(&format!("password = {value}")).map(|h| h.password).map_err(|e| e.message().into())
    }

    #[test]
    fn sources_parse_from_their_tables() {
        let pass = |names: &[&str]| PassEnv::new(names.iter().map(|n| n.to_string()).collect()).unwrap();
        let cases = [
            (r#"{ env = "IMAP_PASSWORD" }"#, SecretSource::Env("IMAP_PASSWORD".into())),
            (r#"{ file = "/etc/probe/pw" }"#, SecretSource::File("/etc/probe/pw".into())),
            (r#"{ command = ["helper", "-q"] }"#, SecretSource::command(vec!["helper".into(), "-q".into()])),
            (
                r#"{ command = ["helper"], pass_env = ["VAULT_ADDR", "VAULT_NAMESPACE"] }"#,
                SecretSource::Command {
                    argv: vec!["helper".into()],
                    pass_env: pass(&["VAULT_ADDR", "VAULT_NAMESPACE"]),
                },
            ),
            (r#"{ credential = "imap-password" }"#, SecretSource::Credential("imap-password".into())),
            (
                r#"{ secrets_manager = "probe/imap" }"#,
                SecretSource::SecretsManager { id: "probe/imap".into(), json_key: None },
            ),
            (
                r#"{ json_key = "password", secrets_manager = "arn:aws:secretsmanager:eu-west-1:1:secret:x" }"#,
                SecretSource::SecretsManager {
                    id: "arn:aws:secretsmanager:eu-west-1:1:secret:x".into(),
                    json_key: Some("password".into()),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    /// What a probe-file author writes instead of a source, and what the error must say — never the value.
    #[test]
    fn values_that_are_not_a_source_are_refused_without_echoing_them() {
        let cases = [
            ("inline string", r#""hunter2-canary""#, "inline secret values are not accepted"),
            ("integer", "123456", "inline secret values are not accepted"),
            ("negative integer", "-424242", "inline secret values are not accepted"),
            ("float", "8675.309", "inline secret values are not accepted"),
            ("bool", "true", "inline secret values are not accepted"),
            ("array", r#"["hunter2-canary"]"#, "inline secret values are not accepted"),
            ("date", "1979-05-27T07:32:00Z", "inline secret values are not accepted"),
            ("two sources", r#"{ env = "A", file = "/b" }"#, "more than one source"),
            ("no source", "{}", "no source"),
            ("unknown key", r#"{ value = "hunter2-canary" }"#, "unknown key \"value\""),
            ("pass_env without command", r#"{ env = "A", pass_env = ["B"] }"#, "pass_env is only for command"),
            ("bad pass_env name", r#"{ command = ["h"], pass_env = ["A=B"] }"#, "not an environment variable name"),
            ("credential path", r#"{ credential = "../../etc/shadow" }"#, "without / or .."),
            ("credential subdir", r#"{ credential = "sub/pw" }"#, "without / or .."),
            ("credential dotdot", r#"{ credential = ".." }"#, "without / or .."),
            ("credential empty", r#"{ credential = "" }"#, "not a credential name"),
            ("json_key without secrets_manager", r#"{ env = "A", json_key = "k" }"#, "json_key is only for"),
            ("empty secret id", r#"{ secrets_manager = " " }"#, "secrets_manager is empty"),
            ("two sources with aws", r#"{ secrets_manager = "a", env = "B" }"#, "more than one source"),
        ];
        for (case, text, expected) in cases {
            let err = parse(text).expect_err(case);
            assert!(err.contains(expected), "{case}: {err}");
            for value in ["hunter2", "123456", "424242", "8675", "309", "1979", "07:32"] {
                assert!(!err.contains(value), "{case}: the error echoes {value:?}: {err}");
            }
        }
    }

    #[tokio::test]
    async fn sources_read_env_file_command_and_credential() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-file\n").unwrap();
        // SAFETY: the variable name is unique to this test; no other thread reads it.
        unsafe { std::env::set_var("PROBE_TEST_SECRET_SOURCES", "from-env") };
        let cases = [
            (SecretSource::Env("PROBE_TEST_SECRET_SOURCES".into()), "from-env"),
            (SecretSource::File(path), "from-file"),
            (SecretSource::command(vec!["printf".into(), "from-command\\n".into()]), "from-command"),
        ];
        for (source, expected) in cases {
            assert_eq!(source.read().await.unwrap().expose(), expected, "{source:?}");
        }
        std::fs::write(dir.path().join("imap-password"), "from-credential\n").unwrap();
        let credential = read_credential(Some(dir.path().as_os_str()), "imap-password").await.unwrap();
        assert_eq!(credential.expose(), "from-credential");
    }

    #[tokio::test]
    async fn credentials_need_the_directory_systemd_gives() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        let cases = [
            ("no directory", None, "imap-password", "not started by systemd with LoadCredential="),
            ("empty directory variable", Some(""), "imap-password", "CREDENTIALS_DIRECTORY is not set"),
            ("not loaded", Some("dir"), "imap-password", "LoadCredential=imap-password:"),
            ("empty credential", Some("dir"), "empty", "is empty"),
        ];
        for (case, env, name, expected) in cases {
            let value = env.map(|e| if e == "dir" { dir.path().as_os_str().to_owned() } else { e.into() });
            let err = read_credential(value.as_deref(), name).await.unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains(name), "{case}: {err}");
        }
    }

    #[test]
    fn check_finds_what_cannot_be_read_without_reading_it() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "#!/bin/sh\necho x\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cases = [
            (SecretSource::Env("PROBE_TEST_SECRET_SURELY_UNSET".into()), false),
            (SecretSource::Env("PATH".into()), true),
            (SecretSource::File(dir.path().join("missing")), false),
            (SecretSource::File(empty), false),
            (SecretSource::command(vec!["printf".into(), "x".into()]), true),
            (SecretSource::command(vec!["/nonexistent/token-helper".into()]), false),
            (SecretSource::command(vec!["surely-not-a-program-here".into()]), false),
            (SecretSource::command(vec![plain.display().to_string()]), false),
        ];
        for (source, ok) in cases {
            assert_eq!(source.check().is_ok(), ok, "{source:?}: {:?}", source.check());
        }
    }

    #[tokio::test]
    async fn errors_name_the_source_but_not_a_value() {
        let missing = SecretSource::Env("PROBE_TEST_SECRET_SURELY_UNSET".into()).read().await.unwrap_err();
        assert!(missing.to_string().contains("PROBE_TEST_SECRET_SURELY_UNSET"), "{missing}");
        let failed = SecretSource::command(vec!["false".into()]).read().await.unwrap_err();
        assert!(failed.to_string().contains("\"false\""), "{failed}");
    }

    /// A helper that hangs — here with a background job that keeps stdout open — is killed with everything
    /// it started, and the error says which program and after how long, not what it printed.
    #[tokio::test]
    async fn a_hung_command_is_killed_with_its_group_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let argv: Vec<String> = [
            "/bin/sh",
            "-c",
            r#"printf partial-canary; sleep 600 & echo $! > "$0"; wait"#,
            &pid_file.display().to_string(),
        ]
        .map(String::from)
        .into();
        let err = run_command(&argv, &PassEnv::default(), Duration::from_millis(300)).await.unwrap_err().to_string();
        assert!(err.contains("\"/bin/sh\" did not print its secret within 300ms and was killed"), "{err}");
        assert!(!err.contains("partial-canary"), "{err}");
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
        for _ in 0..100 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return,
                Ok(stat) if stat.split_whitespace().nth(2) == Some("Z") => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("the helper's sleep (pid {pid}) outlived its timeout");
    }
}
