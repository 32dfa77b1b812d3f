//! The command line as a user meets it: `probe validate`, and the one-shot probe's configuration errors
//! (UNKNOWN, exit 3, with file:line), run on the real binary.

use std::process::Command;

fn probe(args: &[&str]) -> (Option<i32>, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_probe")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_probe_files_validate() {
    // The shipped files name secrets of the hosts they run on, not of this one.
    let (code, out, err) = probe(&["validate", "probes", "--skip-secrets"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for name in ["production", "staging", "dev-local"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("ok  {name} "))), "{name} missing:\n{out}");
    }
}

#[test]
fn a_bad_probe_file_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "pool_id = \"us-east-1_abc\"\nusername = \"u\"\n[imap]\nhost = \"h\"\nusername = \"u\"\npasword = { env = \
            \"X\" }\n",
    )
    .unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let (code, out, _) = probe(&["validate", dir_arg]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("broken.toml:6:1: unknown field `pasword`"), "{out}");

    // The one-shot probe refuses to run on it: UNKNOWN, in the requested format.
    let (code, out, _) = probe(&["--pool", "us-east-1_abc", "--probes", dir_arg, "--format", "nagios"]);
    assert_eq!(code, Some(3));
    assert!(out.starts_with("COGNITO-DELIVERY UNKNOWN - config: ") && out.contains("broken.toml:6:1"), "{out}");
}

#[test]
fn nothing_to_run_and_unknown_pool_are_unknown() {
    let (code, _, err) = probe(&[]);
    assert_eq!(code, Some(3));
    assert!(err.contains("give --pool <POOL_ID>"), "{err}");
    let (code, out, _) = probe(&["--pool", "us-east-1_nosuchpool", "--format", "json"]);
    assert_eq!(code, Some(3));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["outcome"].as_str(), v["diagnosis"]["code"].as_str()), (Some("unknown"), Some("config_invalid")));
    assert!(v["diagnosis"]["summary"].as_str().unwrap().contains("us-east-1_nosuchpool"), "{v}");
}

#[test]
fn command_line_mistakes_are_unknown_not_critical() {
    // (arguments, what stderr must name)
    let cases: [(&[&str], &str); 3] = [
        (&["--pool", "us-east-1_abc", "--frmat", "json"], "--frmat"),
        (&["--pool", "us-east-1_abc", "--alerts", "alerts.toml"], "--state"),
        (&["monitor", "--listen", "not-an-address"], "--listen"),
    ];
    for (args, named) in cases {
        let (code, _, err) = probe(args);
        assert_eq!(code, Some(3), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
    let (code, out, _) = probe(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("--alerts"), "{out}");
}

#[test]
fn validate_shows_paging_with_the_shipped_alert_defaults() {
    let (code, out, err) = probe(&["validate", "probes", "--skip-secrets"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.lines().all(|l| l.ends_with("pages nobody")), "no channels in the probe files themselves:\n{out}");
    let (code, out, err) = probe(&["validate", "probes", "--alerts", "deploy/alerts.toml", "--skip-secrets"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for line in out.lines() {
        assert!(line.ends_with("pages pagerduty after 2 failures"), "{line}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("alerts.toml");
    std::fs::write(&bad, "[alert]\nreminder_interval = \"1m\"\n").unwrap();
    let (code, out, _) = probe(&["validate", "probes", "--alerts", bad.to_str().unwrap(), "--skip-secrets"]);
    assert_eq!(code, Some(3));
    assert!(out.starts_with("BAD ") && out.contains("alerts.toml:2: alert.reminder_interval:"), "{out}");
}

fn probe_file(pool: &str, name: Option<&str>) -> String {
    let name = name.map(|n| format!("name = \"{n}\"\n")).unwrap_or_default();
    format!(
        "{name}pool_id = \"{pool}\"\nusername = \"u\"\n[aws]\nendpoint_url = \"http://127.0.0.1:9\"\n[maildir]\npath \
            = \"/nonexistent\"\n"
    )
}

/// A run sends real mail and spends real quota: `--pool` matching several files refuses and lists them.
#[test]
fn several_files_for_one_pool_are_refused_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-prod.toml"), probe_file("us-east-1_aaa", None)).unwrap();
    std::fs::write(dir.path().join("b-prod.toml"), probe_file("us-east-1_aaa", Some("second"))).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let (code, _, err) = probe(&["--pool", "us-east-1_aaa", "--probes", dir_arg]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("2 probe files") && err.contains("a-prod.toml") && err.contains("b-prod.toml"), "{err}");
    assert!(err.contains("refusing to guess"), "{err}");
}

/// `--probe` takes the file name, as `--help` says, even when the file sets `name`; a run that then fails
/// to reach AWS is UNKNOWN in its resolve phase — the file was found.
#[test]
fn probe_by_file_name_finds_a_file_that_sets_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("billing.toml"), probe_file("us-east-1_bbb", Some("billing-prod"))).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    for selector in ["billing", "billing-prod"] {
        let (code, out, err) = probe(&["--probe", selector, "--probes", dir_arg, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{selector}: {e}\n{out}{err}"));
        assert_eq!(code, Some(3), "{selector}: {out}");
        assert_eq!(
            (v["probe"].as_str(), v["phase"].as_str()),
            (Some("billing-prod"), Some("resolve")),
            "{selector}: {v}"
        );
    }
}

/// A configuration error in `--format json` is a schema-1 report like any run's; in nagios form it carries
/// the same perfdata labels as every other run.
#[test]
fn config_errors_keep_the_output_formats() {
    let (code, out, _) = probe(&["--pool", "us-east-1_nosuchpool", "--format", "json"]);
    assert_eq!(code, Some(3));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], 1, "{v}");
    assert_eq!((v["outcome"].as_str(), v["phase"].as_str()), (Some("unknown"), Some("config")), "{v}");
    let timings = v["timings"].as_object().unwrap();
    assert_eq!(timings.len(), 7, "every phase present, null: {v}");
    assert!(timings.values().all(|t| t.is_null()), "{v}");
    let (code, out, _) = probe(&["--pool", "us-east-1_nosuchpool", "--format", "nagios"]);
    assert_eq!(code, Some(3));
    let perf = out.trim_end().split_once(" | ").map(|(_, p)| p.to_string()).unwrap_or_default();
    let labels: Vec<&str> = perf.split(' ').map(|p| p.split('=').next().unwrap_or_default()).collect();
    assert_eq!(
        labels,
        ["delivery", "resolve", "trigger", "ses", "inbox", "authenticate", "cleanup", "late_mails"],
        "{out}"
    );
    assert!(!out.contains("Some(") && !out.contains("None"), "no Rust Debug text: {out}");
}

/// `validate` says ok only when the file's secrets can be read here; it never shows a value.
#[test]
fn validate_checks_that_secrets_can_be_read_without_showing_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = "pool_id = \"us-east-1_abc\"\nusername = \"u\"\n[imap]\nhost = \"h\"\nusername = \"u\"\n\
                password = { env = \"PROBE_TEST_VALIDATE_PASSWORD\" }\n";
    std::fs::write(dir.path().join("p.toml"), text).unwrap();
    let run = |env: Option<&str>, extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_probe"));
        cmd.arg("validate").arg(dir.path()).args(extra).env_remove("PROBE_TEST_VALIDATE_PASSWORD");
        if let Some(v) = env {
            cmd.env("PROBE_TEST_VALIDATE_PASSWORD", v);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = run(None, &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.starts_with("BAD ") && out.contains("p.toml:6: imap.password:"), "{out}");
    assert!(out.contains("PROBE_TEST_VALIDATE_PASSWORD is not set"), "{out}");
    let (code, out) = run(Some("canary-validate-secret"), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ok  p ") && !out.contains("canary-validate-secret"), "{out}");
    let (code, out) = run(None, &["--skip-secrets"]);
    assert_eq!(code, Some(0), "{out}");
}

/// A reader that goes away (`probe validate | head`) ends the output quietly, never with a panic.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    for args in [&["validate", "probes", "--skip-secrets"][..], &["demo", "--list"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_probe"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

/// `--log-level debug` tells what the probe did — the run, each phase, each AWS call — without the SDK's
/// own debug chatter (`--log-level debug,aws_smithy_runtime=debug` asks for that).
#[test]
fn log_level_debug_shows_the_probes_own_steps() {
    let (code, out, err) = probe(&["demo", "--scenario", "healthy-resend", "--log-level", "debug"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for step in [
        "run{probe=healthy-resend",
        "phase{phase=\"resolve\"}",
        "phase{phase=\"trigger\"}",
        "AWS AdminGetUser ok",
        "AWS AdminCreateUser ok",
        "AWS GetMetricData ok",
        "run finished",
    ] {
        assert!(err.contains(step), "the log lacks {step:?}:\n{err}");
    }
    assert!(!err.contains("aws_smithy_runtime"), "SDK internals only on request:\n{err}");
}

/// A probe file on a Maildir (no secrets of its own) with `extra` appended.
fn paging_file(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("p.toml");
    let text = format!("pool_id = \"us-east-1_abc\"\nusername = \"u\"\n[maildir]\npath = \"/nonexistent\"\n{extra}");
    std::fs::write(&path, text).unwrap();
    path
}

fn validate(path: &std::path::Path, extra: &[&str], env: &[(&str, &std::path::Path)]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("validate")
        .arg(path)
        .args(extra)
        .env_remove("CREDENTIALS_DIRECTORY")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), all)
}

/// An exec channel whose program could not start would page nobody: `validate` refuses it, naming the
/// file, the line of its `command` and why, and finds a bare name along PATH as the channel would.
#[test]
fn validate_refuses_an_exec_program_that_cannot_run_here() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("page-oncall");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shown = |p: &std::path::Path| p.display().to_string();
    // (case, program, exit code, words of the message)
    let cases = [
        ("missing", "/nonexistent/page-oncall".to_string(), 3, "program \"/nonexistent/page-oncall\" does not exist"),
        ("not executable", shown(&plain), 3, "is not executable by this user (hint: chmod +x"),
        ("a directory", shown(dir.path()), 3, "is not a regular file"),
        ("bare name not on PATH", "page-oncall-surely-absent".into(), 3, "is not found in PATH="),
        ("absolute and executable", "/bin/sh".into(), 0, "ok  p "),
        ("bare name on PATH", "sh".into(), 0, "ok  p "),
    ];
    for (case, program, code, words) in cases {
        let channel = format!(
            "[alert]\nfailure_threshold = 2\n\n[[alert.channels]]\ntype = \"exec\"\n\
             command = [{}, \"--team\", \"id\"]\n",
            toml::Value::String(program.clone())
        );
        let path = paging_file(dir.path(), &channel);
        let (got, out) = validate(&path, &[], &[]);
        assert_eq!(got, Some(code), "{case}: {out}");
        assert!(out.contains(words), "{case}: {out}");
        if code == 3 {
            let at = format!("{}:10: alert.channels: channel 1 (exec) cannot run here: program", path.display());
            assert!(out.starts_with(&format!("BAD {at}")), "{case}: {out}");
            // Another host's programs are not this one's: --skip-secrets skips what only that host can tell.
            let (got, out) = validate(&path, &["--skip-secrets"], &[]);
            assert_eq!(got, Some(0), "{case} --skip-secrets: {out}");
        }
    }

    // A channel of the alert defaults file is reported against that file.
    let alerts = dir.path().join("alerts.toml");
    std::fs::write(&alerts, "[alert]\n[[alert.channels]]\ntype = \"exec\"\ncommand = [\"/nonexistent/pager\"]\n")
        .unwrap();
    let path = paging_file(dir.path(), "");
    let (got, out) = validate(&path, &["--alerts", alerts.to_str().unwrap()], &[]);
    assert_eq!(got, Some(3), "{out}");
    assert!(out.starts_with(&format!("BAD {}:4: alert.channels: channel 1 (exec)", alerts.display())), "{out}");

    // A secret command's program likewise.
    let secret = format!("[[alert.channels]]\ntype = \"pagerduty\"\nrouting_key = {{ command = [{}] }}\n", {
        toml::Value::String(shown(&plain))
    });
    let (got, out) = validate(&paging_file(dir.path(), &format!("[alert]\n{secret}")), &[], &[]);
    assert_eq!(got, Some(3), "{out}");
    assert!(
        out.contains("secret cannot be read here: secret command: program") && out.contains("not executable"),
        "{out}"
    );
}

/// `{ credential = "NAME" }` reads `$CREDENTIALS_DIRECTORY/NAME`, as systemd's LoadCredential= provides it;
/// validate says what is missing — the directory (not started by systemd), the file — and refuses a name
/// that would leave the directory.
#[test]
fn validate_checks_systemd_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let file = |name: &str| {
        let text = format!(
            "pool_id = \"us-east-1_abc\"\nusername = \"u\"\n[imap]\nhost = \"h\"\nusername = \"u\"\n\
             password = {{ credential = {} }}\n",
            toml::Value::String(name.into())
        );
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let path = file("imap-password");
    let (code, out) = validate(&path, &[], &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("p.toml:6: imap.password:") && out.contains("not started by systemd with LoadCredential="),
        "{out}"
    );
    let (code, out) = validate(&path, &[], &[("CREDENTIALS_DIRECTORY", &credentials)]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains(&format!("cannot read {}", credentials.join("imap-password").display())), "{out}");
    std::fs::write(credentials.join("imap-password"), "canary-credential-pw\n").unwrap();
    let (code, out) = validate(&path, &[], &[("CREDENTIALS_DIRECTORY", &credentials)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("canary-credential-pw"), "{out}");
    for name in ["../imap-password", "sub/imap-password", "..", ""] {
        let (code, out) = validate(&file(name), &["--skip-secrets"], &[("CREDENTIALS_DIRECTORY", &credentials)]);
        assert_eq!(code, Some(3), "{name:?}: {out}");
        assert!(out.contains("p.toml:6:") && out.contains("is not a credential name"), "{name:?}: {out}");
    }
}

/// A webhook URL often is its token (Slack's `…/services/T…/B…/<token>`), and `password = 123456` is the
/// password itself: the errors say what is wrong and where, and show neither — in validate and in a run.
#[test]
fn errors_show_neither_a_webhook_token_nor_an_inline_value() {
    let dir = tempfile::tempdir().unwrap();
    let hook = |url: &str| format!("[alert]\n[[alert.channels]]\ntype = \"webhook\"\nurl = \"{url}\"\n");
    let pagerduty = "[alert]\n[[alert.channels]]\ntype = \"pagerduty\"\nrouting_key = { env = \"PD\" }\n\
                     url = \"ftp://events.example.com/v2/enqueue?token=9184736250\"\n";
    let imap = |password: &str| format!("[imap]\nhost = \"h\"\nusername = \"u\"\npassword = {password}\n");
    // (case, probe file without its mailbox or with its own, what the error must say, what it must not)
    let cases: [(&str, String, &str, &str); 7] = [
        (
            "a typo'd scheme",
            hook("htps://hooks.slack.com/services/T0/B0/slack-token-canary"),
            "\"htps://hooks.slack.com/…\" is not an absolute http:// or https:// URL",
            "slack-token-canary",
        ),
        (
            "no scheme",
            hook("hooks.slack.com/services/T0/B0/slack-token-canary"),
            "url \"…\" is not",
            "slack-token-canary",
        ),
        (
            "user and password",
            hook("ftp://probe:slack-token-canary@hooks.example.com/x"),
            "…@hooks",
            "slack-token-canary",
        ),
        ("pagerduty url with a token", pagerduty.into(), "\"ftp://events.example.com/…\"", "9184736250"),
        ("a number", imap("123456"), "inline secret values are not accepted", "123456"),
        ("a float", imap("8675.309"), "inline secret values are not accepted", "8675"),
        ("a list", imap("[\"hunter2-canary\"]"), "inline secret values are not accepted", "hunter2-canary"),
    ];
    for (case, section, words, secret) in cases {
        let mailbox = if section.contains("[imap]") { "" } else { "[maildir]\npath = \"/nonexistent\"\n" };
        let path = dir.path().join("p.toml");
        std::fs::write(&path, format!("pool_id = \"us-east-1_abc\"\nusername = \"u\"\n{mailbox}{section}")).unwrap();
        let (code, out) = validate(&path, &["--skip-secrets"], &[]);
        assert_eq!(code, Some(3), "{case}: {out}");
        assert!(out.contains(&format!("{}:", path.display())) && out.contains(words), "{case}: {out}");
        assert!(!out.contains(secret), "{case}: validate echoes {secret:?}: {out}");
        let (code, out, err) = probe(&["--config", path.to_str().unwrap(), "--format", "nagios"]);
        assert_eq!(code, Some(3), "{case}: {out}{err}");
        assert!(out.contains(words), "{case}: {out}");
        assert!(!out.contains(secret) && !err.contains(secret), "{case}: the run echoes {secret:?}: {out}{err}");
    }
}
