//! Benchmark: Authentication-Results headers parsed and evaluated per second over the shared corpus
//! (every header value of the peer suites in `tests/data/authres-peers/`), side by side in one run with
//! Python `authres` on the same inputs, printing the ratio (DESIGN.md §10 target: ≥ 100×).
//!
//! Run: `cargo bench --bench authres`. Needs `python3` with `authres` (`pip install authres==1.2.0`);
//! without it the benchmark prints the install hint and exits 1. Both sides get identical strings:
//! unfolded (Python's parser wants one line) and prefixed with the field name (Python requires it).
//! Python only parses; our row "parse + evaluate" also selects the trusted receiver and computes DKIM/SPF
//! alignment with the Public Suffix List, so the ratio understates our speed.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cognito_delivery_probe::authres::{self, Expectations, HeaderField, TrustPolicy};

/// Minimum time per measured row.
const BUDGET: Duration = Duration::from_secs(2);

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/authres-peers")
}

/// Removes CR/LF folding (RFC 5322 §2.2.3) and any remaining CR/LF, as the peer README did for Python.
fn unfold(s: &str) -> String {
    s.replace("\r\n", "").replace(['\r', '\n'], " ")
}

fn strip_name(s: &str) -> &str {
    let t = s.trim_start();
    match t.split_once(':') {
        Some((name, rest)) if name.eq_ignore_ascii_case("authentication-results") => rest.trim_start(),
        _ => t,
    }
}

/// Strips the ARC `i=N;` prefix so both parsers read the same Authentication-Results payload.
fn strip_arc_instance(s: &str) -> &str {
    let t = s.trim_start();
    match t.split_once(';') {
        Some((tag, rest)) if tag.trim_start().starts_with("i=") => rest.trim_start(),
        _ => t,
    }
}

/// Every header value in the peer suites, as `Authentication-Results: <unfolded value>`.
fn load_corpus() -> Vec<String> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", corpus_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let mut values: Vec<String> = Vec::new();
            if v["input_kind"] == "resinfo" {
                continue; // a bare clause, not a header value
            }
            if let Some(s) = v["input"].as_str().or_else(|| v["as_parse_input"].as_str()) {
                values.push(s.to_string());
            }
            for s in v["authentication_results"].as_array().into_iter().flatten().filter_map(|x| x.as_str()) {
                values.push(s.to_string());
            }
            for s in values {
                let payload = strip_arc_instance(strip_name(&s)).to_string();
                if !payload.trim().is_empty() {
                    out.push(format!("Authentication-Results: {}", unfold(&payload)));
                }
            }
        }
    }
    out
}

/// Runs `f` over the corpus until the budget is spent; returns headers per second.
fn measure(corpus: &[String], mut f: impl FnMut(&str)) -> (f64, u64) {
    let start = Instant::now();
    let mut headers = 0u64;
    while start.elapsed() < BUDGET {
        for h in corpus {
            f(h);
        }
        headers += corpus.len() as u64;
    }
    (headers as f64 / start.elapsed().as_secs_f64(), headers)
}

fn python_rate(script: &Path, corpus_file: &Path) -> Result<(f64, String), String> {
    let out = Command::new("python3")
        .arg(script)
        .arg(corpus_file)
        .arg(BUDGET.as_secs_f64().to_string())
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("bad output from {}: {e}", script.display()))?;
    let rate = v["headers_per_sec"].as_f64().ok_or("no headers_per_sec in python output")?;
    let label =
        format!("python authres {} parse (ok {}, error {})", v["version"].as_str().unwrap_or("?"), v["ok"], v["error"]);
    Ok((rate, label))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let corpus = load_corpus();
    let from_domain = "example.com";
    let policy = TrustPolicy::default();
    let expect = Expectations::default();
    let ours_ok = corpus.iter().filter(|h| authres::parse(h).is_ok()).count();

    let (parse_rate, _) = measure(&corpus, |h| {
        let _ = black_box(authres::parse(black_box(h)));
    });
    let (eval_rate, _) = measure(&corpus, |h| {
        let fields = [HeaderField::new("Authentication-Results", strip_name(h))];
        black_box(authres::evaluate_fields(black_box(&fields), Ok(from_domain.to_string()), &policy, &expect));
    });

    let dir = std::env::temp_dir().join(format!("authres-bench-{}", std::process::id()));
    let corpus_file = dir.join("corpus.json");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&corpus_file, serde_json::to_vec(&corpus).unwrap_or_default()));
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", corpus_file.display());
        std::process::exit(1);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/authres_python.py");
    let python = python_rate(&script, &corpus_file);
    let _ = std::fs::remove_dir_all(&dir);

    println!("Authentication-Results benchmark: {} header values from tests/data/authres-peers", corpus.len());
    println!("{:<58} {:>14} {:>12}", "implementation", "headers/s", "µs/header");
    let row = |name: &str, rate: f64| println!("{name:<58} {rate:>14.0} {:>12.3}", 1e6 / rate);
    row(&format!("ours: parse (ok {ours_ok}, error {})", corpus.len() - ours_ok), parse_rate);
    row("ours: parse + trust + alignment + findings", eval_rate);
    match python {
        Ok((py_rate, label)) => {
            row(&label, py_rate);
            println!("ratio ours parse / python parse:            {:>8.0}×", parse_rate / py_rate);
            println!("ratio ours parse+evaluate / python parse:   {:>8.0}×  (goal ≥ 100×)", eval_rate / py_rate);
        }
        Err(e) => {
            println!("python authres: unavailable ({})", e.trim());
            println!("hint: pip install authres==1.2.0");
            std::process::exit(1);
        }
    }
}
