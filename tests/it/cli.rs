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
    let (code, out, err) = probe(&["validate", "probes"]);
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
        "pool_id = \"us-east-1_abc\"\nusername = \"u\"\n[imap]\nhost = \"h\"\nusername = \"u\"\npasword = { env = \"X\" }\n",
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
    let (code, out, err) = probe(&["validate", "probes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.lines().all(|l| l.ends_with("pages nobody")), "no channels in the probe files themselves:\n{out}");
    let (code, out, err) = probe(&["validate", "probes", "--alerts", "deploy/alerts.toml"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for line in out.lines() {
        assert!(line.ends_with("pages pagerduty after 2 failures"), "{line}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("alerts.toml");
    std::fs::write(&bad, "[alert]\nreminder_interval = \"1m\"\n").unwrap();
    let (code, out, _) = probe(&["validate", "probes", "--alerts", bad.to_str().unwrap()]);
    assert_eq!(code, Some(3));
    assert!(out.starts_with("BAD ") && out.contains("alerts.toml:2: alert.reminder_interval:"), "{out}");
}
