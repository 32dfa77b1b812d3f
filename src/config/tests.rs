//! Probe-file parsing: defaults, layered alert settings, and errors that name file, line and field.

use std::path::Path;
use std::time::Duration;

use super::*;

const MINIMAL: &str = r#"
pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod"

[imap]
host = "imap.example.net"
username = "probe@example.net"
password = { env = "PROBE_IMAP_PASSWORD" }
"#;

/// An `[imap.oauth2]` section (with `auth = "xoauth2"` before it), for the `[imap]` table of [`MINIMAL`].
const OAUTH2: &str = "auth = \"xoauth2\"\n[imap.oauth2]\ngrant = \"refresh_token\"\nprovider = \"google\"\n\
                      client_id = \"c\"\nclient_secret = { env = \"S\" }\nrefresh_token = { env = \"R\" }\n";

#[test]
fn production_is_the_key_else_a_prod_word_in_the_name() {
    // (file name, production key line, expected)
    let cases = [
        ("team-prod.toml", "", true),
        ("production.toml", "", true),
        ("prod_us.toml", "", true),
        ("team-preprod.toml", "", false),
        ("team-staging.toml", "", false),
        ("team-staging.toml", "production = true", true),
        ("team-prod.toml", "production = false", false),
    ];
    for (file, key, expected) in cases {
        let text = format!("{key}\n{MINIMAL}");
        let p = ProbeFile::parse(&text, Path::new(file)).unwrap();
        assert_eq!(p.is_production(), expected, "{file} {key:?}");
    }
}

#[test]
fn alert_defaults_fill_only_the_keys_a_file_does_not_set() {
    use crate::alert::ChannelConfig;
    let defaults_text = "[alert]\nfailure_threshold = 5\nsuccess_threshold = 4\nreminder_interval = \"1h\"\n\
                         [[alert.channels]]\ntype = \"exec\"\ncommand = [\"/usr/local/bin/page\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.toml");
    std::fs::write(&path, defaults_text).unwrap();
    let defaults = alert::load_defaults(&path).unwrap();
    let exec = |c: &ChannelConfig| match c {
        ChannelConfig::Exec { command, .. } => command[0].clone(),
        other => panic!("{other:?}"),
    };
    // (case, the file's [alert] section, failure, success, channel programs); the reminder always inherited
    let cases: [(&str, &str, u32, u32, &[&str]); 4] = [
        ("no [alert]: everything from the defaults", "", 5, 4, &["/usr/local/bin/page"]),
        ("own threshold wins, the rest inherited", "[alert]\nfailure_threshold = 1\n", 1, 4, &["/usr/local/bin/page"]),
        (
            "own channels replace the defaults' channels",
            "[alert]\n[[alert.channels]]\ntype = \"exec\"\ncommand = [\"/bin/own\"]\n",
            5,
            4,
            &["/bin/own"],
        ),
        ("channels = [] pages nobody", "[alert]\nchannels = []\nsuccess_threshold = 1\n", 5, 1, &[]),
    ];
    for (case, section, failure, success, channels) in cases {
        let mut p = ProbeFile::parse(&format!("{MINIMAL}\n{section}"), Path::new("p.toml")).unwrap();
        p.apply_alert_defaults(&defaults);
        assert_eq!(p.alert.failure_threshold, failure, "{case}");
        assert_eq!(p.alert.success_threshold, success, "{case}");
        assert_eq!(p.alert.reminder_interval, Some(Duration::from_secs(3600)), "{case}");
        assert_eq!(p.alert.channels.iter().map(exec).collect::<Vec<_>>(), channels, "{case}");
    }
}

#[test]
fn a_bad_alert_defaults_file_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[alert]\nsuccess_threshold = 2\nfailure_threshold = 0\n", "alerts.toml:3: alert.failure_threshold: is 0"),
        ("[alert]\nfailure_treshold = 2\n", "alerts.toml:2:1: unknown field `failure_treshold`"),
        ("pool_id = \"us-east-1_x\"\n", "alerts.toml:1:1: unknown field `pool_id`"),
        ("[alert]\n[[alert.channels]]\ntype = \"webhook\"\nurl = \"ftp://x\"\n", "alerts.toml:2: alert.channels:"),
    ];
    for (text, expected) in cases {
        let path = dir.path().join("alerts.toml");
        std::fs::write(&path, text).unwrap();
        let err = alert::load_defaults(&path).unwrap_err().to_string();
        let shown = err.replace(&format!("{}", dir.path().display()), "").trim_start_matches('/').to_string();
        assert!(shown.starts_with(expected), "{text:?}: got {shown:?}, expected {expected:?}…");
    }
}

#[test]
fn minimal_file_gets_documented_defaults() {
    let p = ProbeFile::parse(MINIMAL, Path::new("probes/production.toml")).unwrap();
    assert_eq!(p.name, "production");
    assert_eq!(p.region(), "us-east-1");
    assert_eq!(p.trigger, TriggerChoice::Auto);
    assert_eq!(p.timeout, Duration::from_secs(300));
    let Mailbox::Imap(imap) = p.mailbox else { panic!("an [imap] file") };
    assert_eq!((imap.port, imap.tls, imap.idle), (993, true, true));
    assert_eq!(imap.folders, vec!["INBOX"]);
    assert_eq!(imap.cleanup, Cleanup::Delete);
    assert_eq!(imap.max_connections, 8);
    assert_eq!(imap.max_message_size, 10 * 1024 * 1024, "10 MiB: probe mail is a few KB");
    assert!(p.expect.dkim_aligned && !p.expect.spf_aligned);
}

/// Each bad input and the `file:line: field` and words its error must carry.
#[test]
fn bad_files_fail_with_file_line_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown key",
            &format!("{MINIMAL}\n[expect]\ndkimm = \"pass\"\n"),
            "probes/p.toml:11:1: unknown field `dkimm`",
        ),
        (
            "bad pool id",
            &MINIMAL.replace("us-east-1_knEL7cqS3", "knEL7cqS3"),
            "probes/p.toml:2: pool_id: \"knEL7cqS3\" is not a user pool id",
        ),
        (
            "bad duration",
            &format!("timeout = \"5 parsecs\"\n{MINIMAL}"),
            "probes/p.toml:1:11: invalid duration \"5 parsecs\"",
        ),
        (
            "password missing",
            &MINIMAL.replace("password = { env = \"PROBE_IMAP_PASSWORD\" }", ""),
            "probes/p.toml:5: imap.password: auth = \"login\" needs password",
        ),
        (
            "token and [imap.oauth2] both",
            &MINIMAL.replace(
                "password = { env = \"PROBE_IMAP_PASSWORD\" }",
                &format!("token = {{ env = \"T\" }}\n{OAUTH2}"),
            ),
            "probes/p.toml:8: imap.token: is set together with [imap.oauth2]",
        ),
        (
            "[imap.oauth2] without its refresh token",
            &MINIMAL.replace(
                "password = { env = \"PROBE_IMAP_PASSWORD\" }",
                &OAUTH2.replace("refresh_token = { env = \"R\" }\n", ""),
            ),
            "probes/p.toml:9: imap.oauth2.refresh_token: grant = \"refresh_token\" needs refresh_token",
        ),
        (
            "[imap.oauth2] with LOGIN",
            &MINIMAL.replace(
                "password = { env = \"PROBE_IMAP_PASSWORD\" }",
                &OAUTH2.replace("auth = \"xoauth2\"\n", "password = { env = \"P\" }\n"),
            ),
            "probes/p.toml:9: imap.oauth2: needs auth = \"xoauth2\"",
        ),
        ("inline secret", &MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", "\"hunter2\""), "probes/p.toml:8:12:"),
        (
            "inline number",
            &MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", "123456"),
            "probes/p.toml:8:12: inline secret values are not accepted",
        ),
        (
            "bad pass_env name",
            &MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", "{ command = [\"h\"], pass_env = [\"VAULT ADDR\"] }"),
            "probes/p.toml:8:42: pass_env: \"VAULT ADDR\" is not an environment variable name",
        ),
        (
            "credential outside its directory",
            &MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", "{ credential = \"../shadow\" }"),
            "probes/p.toml:8:12: credential \"../shadow\" is not a credential name",
        ),
        (
            "exec channel pass_env",
            &format!("{MINIMAL}[[alert.channels]]\ntype = \"exec\"\ncommand = [\"p\"]\npass_env = [\"1X\"]\n"),
            "probes/p.toml:9:1: pass_env: \"1X\" is not an environment variable name",
        ),
        (
            "bad result",
            &format!("{MINIMAL}\n[expect]\ndmarc = \"passed\"\n"),
            "probes/p.toml:11:9: unknown variant `passed`, expected `pass` or `any`",
        ),
        (
            "forgot without client",
            &format!("trigger = \"forgot-password\"\n{MINIMAL}"),
            "probes/p.toml:1: trigger: \"forgot-password\" needs client_id",
        ),
        ("bad cleanup", &format!("{MINIMAL}cleanup = \"shred\"\n"), "invalid cleanup \"shred\""),
        (
            "interval too short, in the file's own spelling",
            &format!("interval = \"5s\"\n{MINIMAL}"),
            "probes/p.toml:1: interval: 5s is too short, expected at least 10s",
        ),
        (
            "two mailboxes",
            &format!("{MINIMAL}\n[maildir]\npath = \"/tmp/m\"\n"),
            "probes/p.toml:10: maildir: both [imap] and [maildir] are set",
        ),
        (
            "no connections",
            &format!("{MINIMAL}max_connections = 0\n"),
            "probes/p.toml:9: imap.max_connections: is 0, expected at least 1",
        ),
        (
            "message size without a known unit",
            &format!("{MINIMAL}max_message_size = \"10 megs\"\n"),
            "probes/p.toml:9:20: invalid size \"10 megs\" (unknown unit \"megs\")",
        ),
        (
            "message size too small for probe mail",
            &format!("{MINIMAL}max_message_size = 1000\n"),
            "probes/p.toml:9: imap.max_message_size: 1000 bytes is out of range, expected 16 KiB to 1 GiB",
        ),
        (
            "message size of a Maildir too large",
            "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"u\"\n[maildir]\npath = \"/m\"\n\
             max_message_size = \"2 GiB\"\n",
            "probes/p.toml:5: maildir.max_message_size: 2 GiB is out of range",
        ),
        (
            "message size of the wrong type",
            &format!("{MINIMAL}max_message_size = true\n"),
            "probes/p.toml:9:20: invalid type: boolean `true`, expected a number of bytes or a size",
        ),
    ];
    for (name, text, expected) in cases {
        let err = ProbeFile::parse(text, Path::new("probes/p.toml")).unwrap_err().to_string();
        assert!(err.contains(expected), "{name}: got {err:?}, expected it to contain {expected:?}");
    }
}

#[test]
fn inline_secret_error_does_not_echo_the_value() {
    for (value, secret) in [("\"hunter2\"", "hunter2"), ("123456", "123456"), ("-98765", "98765"), ("3.14159", "14159")]
    {
        let text = MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", value);
        let err = ProbeFile::parse(&text, Path::new("p.toml")).unwrap_err().to_string();
        assert!(err.contains("inline secret values are not accepted") && !err.contains(secret), "{value}: {err}");
    }
}

#[test]
fn message_sizes_are_read_as_written() {
    for (written, bytes) in [("65536", 65_536), ("\"64 KiB\"", 65_536), ("\"2 MB\"", 2_000_000)] {
        let text = format!("{MINIMAL}max_message_size = {written}\n");
        let p = ProbeFile::parse(&text, Path::new("p.toml")).unwrap();
        assert_eq!(p.mailbox.max_message_size(), bytes, "{written}");
    }
}
