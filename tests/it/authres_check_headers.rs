//! `probe check-headers` end to end: the real binary on the checked-in sample messages in
//! `tests/data/check-headers/`, asserting exit codes (0 hold, 1 degraded, 2 fail, 3 no trusted header) and
//! what a user reads in text, JSON and nagios output.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/check-headers").join(name)
}

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_probe")).arg("check-headers").args(args).output().expect("the probe binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn expectations_hold_exit_0_with_json_fields() {
    let file = sample("gmail-ses-custom-mail-from.eml");
    let out = probe(&[file.to_str().unwrap(), "--trusted-authserv-id", "mx.google.com", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(v["from_domain"], "example.com");
    assert_eq!(v["authserv_id"], "mx.google.com");
    assert_eq!(v["dkim"][0]["domain"], "example.com");
    assert_eq!(v["dkim"][0]["aligned"], true);
    assert_eq!(v["dkim"][1]["aligned"], false);
    assert_eq!(v["spf"]["domain"], "ses-us-east-1.example.com");
    assert_eq!(v["mail_from_domain"], "ses-us-east-1.example.com");
    assert_eq!(v["dmarc"]["policy"], "reject");
    assert_eq!(v["ignored_headers"]["count"], 1);
    assert_eq!(v["verdict"], "ok");
}

#[test]
fn default_mail_from_passes_unless_spf_alignment_is_required() {
    let file = sample("gmail-ses-default-mail-from.eml");
    let out = probe(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("OK: From example.com — receiver mx.google.com"), "{text}");
    let spf_line = text.lines().find(|l| l.starts_with("PASS spf:")).unwrap_or_else(|| panic!("{text}"));
    assert!(spf_line.contains("does not align") && spf_line.contains("alignment not required"), "{spf_line}");

    let out = probe(&[file.to_str().unwrap(), "--require-spf-alignment"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("WARNING: From example.com — receiver mx.google.com"), "{text}");
    let spf_line = text.lines().find(|l| l.starts_with("WARN spf:")).unwrap_or_else(|| panic!("{text}"));
    assert!(spf_line.contains("amazonses.com") && spf_line.contains("custom MAIL FROM"), "{spf_line}");
    assert!(text.lines().any(|l| l.starts_with("PASS dkim:") && l.contains("aligns with example.com")), "{text}");
}

#[test]
fn dmarc_failure_exit_2_in_nagios_format() {
    let file = sample("outlook-ses-dmarc-fail.eml");
    let out = probe(&[file.to_str().unwrap(), "--format", "nagios"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let line = stdout(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("AUTHRES CRITICAL - "), "{line}");
    assert!(line.contains("dmarc: dmarc=fail"), "{line}");
    assert!(line.contains("| dkim_aligned_pass=0 spf_aligned_pass=0 ignored_headers=0"), "{line}");
}

#[test]
fn no_trusted_header_exit_3() {
    let file = sample("forged-upstream-only.eml");
    let out = probe(&[file.to_str().unwrap(), "--trusted-authserv-id", "mx.google.com"]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAIL trust: no trusted Authentication-Results field (wanted: mx.google.com)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unreadable_file_exit_3_with_a_message() {
    let out = probe(&["/nonexistent/message.eml"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read /nonexistent/message.eml"), "{err}");
}

#[test]
fn strict_alignment_from_the_command_line() {
    let file = sample("gmail-ses-custom-mail-from.eml");
    let out = probe(&[file.to_str().unwrap(), "--alignment", "strict", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(v["alignment"], "strict");
    assert_eq!(v["spf"]["aligned"], false);
    assert_eq!(out.status.code(), Some(0), "SPF alignment is not required by default");
    let out = probe(&[file.to_str().unwrap(), "--alignment", "strict", "--require-spf-alignment"]);
    assert_eq!(out.status.code(), Some(1), "custom MAIL FROM aligns relaxed, not strict");
}

#[test]
fn documented_example_matches_the_binary() {
    let doc_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let doc = std::fs::read_to_string(&doc_path).expect("README.md");
    let command = "$ probe check-headers tests/data/check-headers/gmail-ses-default-mail-from.eml \
        --trusted-authserv-id mx.google.com\n";
    let after = doc.split(command).nth(1).expect("the documented command");
    let documented = after.split("$ echo $?\n").next().unwrap_or_default();
    let file = sample("gmail-ses-default-mail-from.eml");
    let out = probe(&[file.to_str().unwrap(), "--trusted-authserv-id", "mx.google.com"]);
    assert_eq!(stdout(&out), documented, "the README's check-headers example is out of date");
    let code = after.split("$ echo $?\n").nth(1).and_then(|r| r.lines().next()).unwrap_or_default();
    assert_eq!(out.status.code().map(|c| c.to_string()).as_deref(), Some(code));
}

#[derive(serde::Deserialize)]
struct Corpus {
    case: Vec<CorpusCase>,
}

#[derive(serde::Deserialize)]
struct CorpusCase {
    file: String,
    about: String,
    runs: Vec<CorpusRun>,
}

#[derive(serde::Deserialize)]
struct CorpusRun {
    args: Vec<String>,
    exit: i32,
}

/// The adversarial corpus and the real-world layouts of `tests/data/check-headers/cases.toml`: every
/// message with every listed set of arguments gives its exit code; every message in the directory is
/// listed, and no forgery is ever judged OK.
#[test]
fn every_message_of_the_corpus_gives_its_exit_code() {
    let dir = sample("");
    let corpus: Corpus = toml::from_str(&std::fs::read_to_string(dir.join("cases.toml")).unwrap()).unwrap();
    let mut listed: Vec<&str> = corpus.case.iter().map(|c| c.file.as_str()).collect();
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    present.sort();
    assert_eq!(present, listed, "every .eml in tests/data/check-headers/ has a case, and every case a file");
    let mut failures = Vec::new();
    for case in &corpus.case {
        for run in &case.runs {
            let path = dir.join(&case.file);
            let mut args = vec![path.to_str().unwrap()];
            args.extend(run.args.iter().map(String::as_str));
            let out = probe(&args);
            if out.status.code() != Some(run.exit) {
                failures.push(format!(
                    "{} {:?} ({}): exit {:?}, expected {}\n{}",
                    case.file,
                    run.args,
                    case.about,
                    out.status.code(),
                    run.exit,
                    stdout(&out)
                ));
            }
            if case.file.starts_with("forged") || case.about.contains("forged") {
                assert_ne!(run.exit, 0, "{}: a forgery is never expected to pass", case.file);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
