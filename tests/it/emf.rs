//! `--format emf`: the real `probe` binary against the AWS twin prints, for an OK, a WARNING, a CRITICAL and
//! an UNKNOWN run, exactly one CloudWatch Embedded Metric Format document, valid per the specification
//! (tests/data/emf-schema.json plus the rules a schema cannot state), whose metrics an alarm can use.

use std::process::Command;

use serde_json::{Value, json};

const PROD: &str = "us-east-1_knEL7cqS3";

/// Checks one EMF log line against the specification and returns it parsed. Panics naming the rule broken.
///
/// Beyond the JSON schema (CloudWatch User Guide, "Specification: Embedded metric format"):
/// - the log event is exactly one JSON object, nothing before or after it, at most 256 KB;
/// - every dimension key of every dimension set is a root member holding a string of 1 to 1024 characters;
/// - every metric name is a root member holding a number or an array of at most 100 numbers;
/// - the timestamp lies within the window CloudWatch accepts (14 days back, 2 hours ahead).
pub fn assert_valid_emf(line: &str) -> Value {
    assert!(!line.contains('\n'), "an EMF document is one log event on one line: {line}");
    assert!(line.len() <= 256 * 1024, "an EMF document is at most 256 KB, this one is {} bytes", line.len());
    assert!(line.starts_with('{') && line.ends_with('}'), "nothing may surround the JSON object: {line}");
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let schema: Value = serde_json::from_str(include_str!("../data/emf-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the EMF schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "EMF schema violations: {errors:#?}\n{line}");

    let now = chrono::Utc::now().timestamp_millis();
    let ts = doc["_aws"]["Timestamp"].as_i64().unwrap();
    assert!(ts > now - 14 * 86_400_000 && ts < now + 2 * 3_600_000, "timestamp {ts} outside CloudWatch's window");
    for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
        for set in directive["Dimensions"].as_array().unwrap() {
            for key in set.as_array().unwrap() {
                let key = key.as_str().unwrap();
                let value = doc.get(key).unwrap_or_else(|| panic!("dimension {key} is not a root member: {line}"));
                let value = value.as_str().unwrap_or_else(|| panic!("dimension {key} is not a string: {value}"));
                assert!((1..=1024).contains(&value.chars().count()), "dimension {key} value {value:?} length");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            match doc.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) => {
                    assert!(values.len() <= 100 && values.iter().all(Value::is_number), "metric {name}: {values:?}")
                }
                other => panic!("metric {name} has no numeric root value ({other:?}): {line}"),
            }
        }
    }
    doc
}

/// The validator refuses what CloudWatch would refuse, so a passing document means something.
#[test]
fn the_validator_refuses_invalid_documents() {
    let template = concat!(
        r#"{"_aws":{"Timestamp":TS,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Probe"]],"#,
        r#""Metrics":[{"Name":"Failure","Unit":"Count"}]}]},"Probe":"p","Failure":1}"#
    );
    let at = |ts: i64| template.replace("TS", &ts.to_string());
    let good = at(chrono::Utc::now().timestamp_millis());
    assert_valid_emf(&good);
    let broken = [
        ("no timestamp", good.replace(r#""Timestamp":"#, r#""Time":"#)),
        ("timestamp in seconds", at(chrono::Utc::now().timestamp())),
        ("dimension not at the root", good.replace(r#""Probe":"p","#, "")),
        ("empty dimension value", good.replace(r#""Probe":"p""#, r#""Probe":"""#)),
        ("metric value a string", good.replace(r#""Failure":1}"#, r#""Failure":"1"}"#)),
        ("unknown unit", good.replace(r#""Unit":"Count""#, r#""Unit":"Runs""#)),
        ("text around the object", format!("INFO {good}")),
    ];
    for (case, line) in broken {
        let result = std::panic::catch_unwind(|| assert_valid_emf(&line));
        assert!(result.is_err(), "{case}: accepted {line}");
    }
}

/// Runs the `probe` binary on a probe file for the twin and returns (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(args)
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .env_remove("ECS_CONTAINER_METADATA_URI_V4")
        .env("AWS_ACCESS_KEY_ID", "AKIDTWIN")
        .env("AWS_SECRET_ACCESS_KEY", "twin-secret")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn probe_file(rig: &testkit::Rig, name: &str, username: &str) -> std::path::PathBuf {
    let text = format!(
        "name = \"{name}\"\npool_id = \"{PROD}\"\nusername = \"{username}\"\ntimeout = \"2s\"\n\n{}\n{}\n\
         [cloudwatch]\npoll_interval = \"200ms\"\nsettle = \"1s\"\n\n[cognito_logs]\nenabled = false\n",
        rig.aws_section(),
        rig.maildir_section(),
    );
    let path = rig.dir().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Every outcome prints one valid document, with exactly one of Success/Failure/Unknown at 1, the outcome
/// code, the diagnosis, the phase times that ran and the delivery latency when the mail came.
#[tokio::test(flavor = "multi_thread")]
async fn every_outcome_prints_one_valid_emf_document() {
    let rig = testkit::Rig::builder().build().await;
    // (case, test user, twin faults, exit code, the metric at 1, diagnosis)
    let cases = [
        ("ok", "probe-prod-fcp", json!({}), 0, "Success", "delivered"),
        ("warning", "probe-prod-fcp", json!({"junk": true}), 1, "Success", "delivered_junk"),
        ("critical", "probe-prod-fcp", json!({"identity_policy_missing": true}), 2, "Failure", "two_piece_gotcha"),
        ("unknown", "probe-prod-disabled", json!({}), 3, "Unknown", "user_state"),
    ];
    for (case, user, faults, code, one, diagnosis) in cases {
        rig.control().reset();
        rig.control().patch_faults(&faults).unwrap();
        let file = probe_file(&rig, &format!("emf-{case}"), user);
        let (exit, out, err) = run(&["--config", file.to_str().unwrap(), "--format", "emf"], &[]);
        assert_eq!(exit, Some(code), "{case}: {out}{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{case}: one document per run on stdout:\n{out}");
        let doc = assert_valid_emf(lines[0]);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], json!("CognitoDeliveryProbe"), "{case}");
        assert_eq!(directive["Dimensions"], json!([["Probe", "Pool"]]), "{case}");
        assert_eq!((doc["Probe"].as_str(), doc["Pool"].as_str()), (Some(format!("emf-{case}").as_str()), Some(PROD)));
        for metric in ["Success", "Failure", "Unknown"] {
            assert_eq!(doc[metric], json!(u8::from(metric == one)), "{case}: {metric} in {doc}");
        }
        assert_eq!((doc["OutcomeCode"].clone(), doc["Diagnosis"].clone()), (json!(code), json!(diagnosis)), "{case}");
        assert!(doc["ResolveSeconds"].is_number(), "{case}: the resolve phase ran: {doc}");
        let found = matches!(case, "ok" | "warning");
        assert_eq!(doc["DeliveryLatency"].is_number(), found, "{case}: latency only for found mail: {doc}");
        assert_eq!(doc["InboxSeconds"].is_number(), case != "unknown", "{case}: no inbox wait without a trigger");
    }
    rig.shutdown().await;
}

/// A WARNING is a `Failure` datapoint when the probe file says `warning_is_failure`, as it pages the monitor.
#[tokio::test(flavor = "multi_thread")]
async fn warning_is_failure_moves_a_warning_to_failure() {
    let rig = testkit::Rig::builder().build().await;
    rig.control().patch_faults(&json!({"junk": true})).unwrap();
    let file = probe_file(&rig, "emf-strict", "probe-prod-fcp");
    let text = std::fs::read_to_string(&file).unwrap() + "\n[alert]\nwarning_is_failure = true\n";
    std::fs::write(&file, text).unwrap();
    let (exit, out, err) = run(&["--config", file.to_str().unwrap(), "--format", "emf"], &[]);
    assert_eq!(exit, Some(1), "{out}{err}");
    let doc = assert_valid_emf(out.trim_end());
    assert_eq!((doc["Success"].clone(), doc["Failure"].clone()), (json!(0), json!(1)), "{doc}");
    rig.shutdown().await;
}

/// A probe file that cannot be read is still a datapoint — `Unknown` under its own name and pool id —
/// and, on Lambda (AWS_LAMBDA_FUNCTION_NAME set), EMF is the default format.
#[test]
fn a_broken_probe_file_is_an_unknown_datapoint_of_its_own_probe() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("production.toml"), "pool_id = \"us-east-1_abc\"\nusername = 7\n").unwrap();
    let args = ["--probes", dir.path().to_str().unwrap(), "--probe", "production"];
    let (exit, out, err) = run(&args, &[("AWS_LAMBDA_FUNCTION_NAME", "cognito-probe")]);
    assert_eq!(exit, Some(3), "{out}{err}");
    let doc = assert_valid_emf(out.trim_end());
    // Filed under the broken file's own name and pool id: the datapoint its blind alarm counts.
    assert_eq!((doc["Probe"].as_str(), doc["Pool"].as_str()), (Some("production"), Some("us-east-1_abc")), "{doc}");
    assert_eq!((doc["Unknown"].clone(), doc["Diagnosis"].clone()), (json!(1), json!("config_invalid")), "{doc}");
    assert!(doc["Summary"].as_str().unwrap().contains("production.toml:2"), "the file and line: {doc}");
    // A file whose TOML does not even parse, or no file at all: the name asked for, no pool.
    std::fs::write(dir.path().join("production.toml"), "pool_id = \n").unwrap();
    let (exit, out, err) = run(&args, &[("AWS_LAMBDA_FUNCTION_NAME", "cognito-probe")]);
    assert_eq!(exit, Some(3), "{out}{err}");
    let doc = assert_valid_emf(out.trim_end());
    assert_eq!((doc["Probe"].as_str(), doc["Pool"].as_str()), (Some("production"), Some("unknown")), "{doc}");
    // Off AWS the default stays human text.
    let (_, out, err) = run(&args, &[]);
    assert!(out.is_empty() && err.contains("production.toml:1"), "{out}{err}");
}
