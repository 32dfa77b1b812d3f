//! Benchmark: Authentication-Results headers parsed and evaluated per second over the shared corpus
//! (every header value of the peer suites in `tests/data/authres-peers/`), side by side in one run with
//! Python `authres` on the same inputs, printing the ratio (DESIGN.md §10 target: ≥ 100×).
//!
//! Run: `cargo bench --bench authres`. Needs `python3` with `authres` (`pip install authres==1.2.0`);
//! without it the benchmark prints the install hint and exits 1. Both sides get identical strings:
//! unfolded (Python's parser wants one line) and prefixed with the field name (Python requires it).
//! Python only parses; our row "parse + evaluate" also selects the trusted receiver and computes DKIM/SPF
//! alignment with the Public Suffix List, so the ratio understates our speed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cognito_delivery_probe::authres::{self, Expectations, HeaderField, TrustPolicy};

/// Counts heap allocations so the table can show allocations per header (they dominate the cost of
/// building an evaluation).
struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per header of one pass of `f` over `items`.
fn allocs_per_item<T>(items: &[T], mut f: impl FnMut(&T)) -> f64 {
    let before = ALLOCS.load(Ordering::Relaxed);
    for item in items {
        f(item);
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / items.len().max(1) as f64
}

/// Minimum time per measured row and round.
const BUDGET: Duration = Duration::from_secs(1);
/// Rounds in which the implementations take turns.
const ROUNDS: usize = 3;

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

/// The From domain the header's message had: `header.from` of a dmarc result, else a DKIM domain.
fn from_domain_of(header: &str) -> String {
    let Ok(ar) = authres::parse(header) else {
        return "example.com".to_string();
    };
    let pick = |method: &str, keys: &[&str]| {
        ar.results
            .iter()
            .filter(|r| r.method == method)
            .find_map(|r| keys.iter().find_map(|k| r.prop(k)).and_then(authres::align::domain_of))
    };
    pick("dmarc", &["header.from"])
        .or_else(|| pick("dkim", &["header.d", "header.i"]))
        .unwrap_or_else(|| "example.com".to_string())
}

/// Runs `f` over `items` until the budget is spent; returns items per second.
fn measure<T>(items: &[T], mut f: impl FnMut(&T)) -> f64 {
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < BUDGET {
        for item in items {
            f(item);
        }
        done += items.len() as u64;
    }
    done as f64 / start.elapsed().as_secs_f64()
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
    // Each header is judged against the From domain its own message had (the DMARC clause's
    // `header.from`, else the first DKIM domain), as in a real message; computed outside the timing.
    let from_domains: Vec<String> = corpus.iter().map(|h| from_domain_of(h)).collect();
    let inputs: Vec<(&String, &String)> = corpus.iter().zip(&from_domains).collect();
    let policy = TrustPolicy::default();
    let expect = Expectations::default();
    let ours_ok = corpus.iter().filter(|h| authres::parse(h).is_ok()).count();
    let parse = |h: &String| {
        let _ = black_box(authres::parse(black_box(h)));
    };
    let evaluate = |(h, from): &(&String, &String)| {
        let fields = [HeaderField::new("Authentication-Results", strip_name(h))];
        black_box(authres::evaluate_fields(black_box(&fields), Ok(from.to_string()), &policy, &expect));
    };

    let dir = std::env::temp_dir().join(format!("authres-bench-{}", std::process::id()));
    let corpus_file = dir.join("corpus.json");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&corpus_file, serde_json::to_vec(&corpus).unwrap_or_default()));
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", corpus_file.display());
        std::process::exit(1);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/authres_python.py");

    // The machine is shared: the implementations take turns for several rounds and each keeps its
    // best round, so a burst of load on one side does not decide the ratio.
    let (mut parse_rate, mut eval_rate, mut py_rate) = (0f64, 0f64, 0f64);
    let mut py_label = String::new();
    for _ in 0..ROUNDS {
        parse_rate = parse_rate.max(measure(&corpus, parse));
        eval_rate = eval_rate.max(measure(&inputs, evaluate));
        match python_rate(&script, &corpus_file) {
            Ok((rate, label)) => {
                py_rate = py_rate.max(rate);
                py_label = label;
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                println!("python authres: unavailable ({})", e.trim());
                println!("hint: pip install authres==1.2.0");
                std::process::exit(1);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let parse_allocs = allocs_per_item(&corpus, parse);
    let eval_allocs = allocs_per_item(&inputs, evaluate);

    println!(
        "Authentication-Results benchmark: {} header values from tests/data/authres-peers, best of {ROUNDS} rounds",
        corpus.len()
    );
    println!("{:<58} {:>14} {:>12} {:>14}", "implementation", "headers/s", "µs/header", "allocs/header");
    let row = |name: &str, rate: f64, allocs: Option<f64>| {
        let allocs = allocs.map_or("-".to_string(), |a| format!("{a:.1}"));
        println!("{name:<58} {rate:>14.0} {:>12.3} {allocs:>14}", 1e6 / rate)
    };
    let parse_label = format!("ours: parse (ok {ours_ok}, error {})", corpus.len() - ours_ok);
    row(&parse_label, parse_rate, Some(parse_allocs));
    row("ours: parse + trust + alignment + findings", eval_rate, Some(eval_allocs));
    row(&py_label, py_rate, None);
    println!("ratio ours parse / python parse:            {:>8.0}×", parse_rate / py_rate);
    println!("ratio ours parse+evaluate / python parse:   {:>8.0}×  (goal ≥ 100×)", eval_rate / py_rate);
}
