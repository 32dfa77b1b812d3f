//! `probe demo` as a user runs it: every scenario gets its expected verdict, through the binary itself.

use std::process::Command;

#[test]
fn demo_gets_every_expected_verdict_and_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_probe")).args(["demo", "--format", "json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), cognito_delivery_probe::demo::CASES.len());
    for r in results {
        assert_eq!(r["matched"], true, "{r:#}");
        assert_eq!(r["report"]["diagnosis"]["code"], r["expected_code"], "{}", r["scenario"]);
    }
}

#[test]
fn demo_runs_one_named_scenario_and_refuses_an_unknown_one() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_probe")).args(["demo", "--scenario", "two-piece-gotcha"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("two_piece_gotcha") && stdout.contains("1 of 1 scenarios"), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_probe")).args(["demo", "--scenario", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("healthy-resend"), "lists the known scenarios");
}
