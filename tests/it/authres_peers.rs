//! Peer suites: every Authentication-Results vector of the other parsers' test suites
//! (`tests/data/authres-peers/`, copied from shared/testdata with its README and licences) runs against our
//! parser, suite by suite, printing how many agree. Where we differ on purpose the case is listed in
//! `authres_divergences.toml` with the RFC section that justifies it; any unlisted disagreement fails, and
//! so does a listed case that no longer disagrees (the list must stay true).

use std::collections::BTreeMap;
use std::path::PathBuf;

use cognito_delivery_probe::authres::{self, AuthResults, ResInfo};
use serde_json::Value;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/authres-peers")
}

fn load(file: &str) -> Vec<Value> {
    let path = data_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1)))
        .collect()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DivergenceFile {
    divergence: Vec<Divergence>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Divergence {
    suite: String,
    id: String,
    why: String,
}

fn divergences(suite: &str) -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/authres_divergences.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file: DivergenceFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.divergence.into_iter().filter(|d| d.suite == suite).map(|d| (d.id, d.why)).collect()
}

/// Runs one suite: `check` returns `Ok(())` when we agree with the case, `Err(detail)` when not.
fn run_suite(suite: &str, cases: &[(String, Result<(), String>)]) {
    let listed = divergences(suite);
    let mut unlisted = Vec::new();
    let mut stale = Vec::new();
    let (mut agree, mut diverge) = (0, 0);
    for (id, outcome) in cases {
        match (outcome, listed.get(id)) {
            (Ok(()), None) => agree += 1,
            (Ok(()), Some(_)) => stale.push(id.clone()),
            (Err(_), Some(_)) => diverge += 1,
            (Err(detail), None) => unlisted.push(format!("{id}: {detail}")),
        }
    }
    for id in listed.keys() {
        if !cases.iter().any(|(c, _)| c == id) {
            stale.push(format!("{id} (no such case)"));
        }
    }
    println!(
        "suite {suite}: {} cases, {agree} agree, {diverge} listed divergences, {} unlisted disagreements",
        cases.len(),
        unlisted.len()
    );
    assert!(unlisted.is_empty(), "suite {suite}: unlisted disagreements:\n  {}", unlisted.join("\n  "));
    assert!(
        stale.is_empty(),
        "suite {suite}: listed as divergent but we agree (update authres_divergences.toml): {stale:?}"
    );
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn expect_eq(what: &str, ours: Option<String>, theirs: Option<String>) -> Result<(), String> {
    if ours == theirs { Ok(()) } else { Err(format!("{what}: ours {ours:?}, theirs {theirs:?}")) }
}

/// Our parse flattened into `(method, result)` pairs.
fn pairs(ar: &AuthResults) -> Vec<(String, String)> {
    ar.results.iter().map(|r| (r.method.to_string(), r.result.to_string())).collect()
}

// ---------------------------------------------------------------------------------------------- dkim_verifier

fn dkim_verifier_case(case: &Value) -> Result<(), String> {
    let input = case["input"].as_str().unwrap_or_default();
    let expect = &case["expect"];
    let parsed = authres::parse(input);
    let want_ok = expect["ok"].as_bool().unwrap_or(false);
    let ar = match (parsed, want_ok) {
        (Ok(ar), true) => ar,
        (Err(_), false) => return Ok(()),
        (Ok(ar), false) => return Err(format!("they reject, we parse {:?}", pairs(&ar))),
        (Err(e), true) => return Err(format!("they parse, we reject: {e}")),
    };
    let Some(asserted) = expect["asserted"].as_object() else {
        return Ok(());
    };
    for (key, want) in asserted {
        let want = str_of(want);
        let ours = match key.as_str() {
            "authserv_id" => Some(ar.authserv_id.as_deref().map(str::to_string).unwrap_or_default()),
            "authres_version" => Some(ar.version.unwrap_or(1).to_string()),
            "resinfo.length" => Some(ar.results.len().to_string()),
            k => {
                let Some((idx, field)) = k.strip_prefix("resinfo[").and_then(|r| r.split_once("].")) else {
                    return Err(format!("unknown assertion {k}"));
                };
                let idx: usize = idx.parse().map_err(|_| format!("bad index in {k}"))?;
                let r = ar.results.get(idx).ok_or_else(|| format!("no result {idx}"))?;
                match field {
                    "method" => Some(r.method.to_string()),
                    "method_version" => Some(r.method_version.unwrap_or(1).to_string()),
                    "result" => Some(r.result.to_string()),
                    "reason" => r.reason.as_deref().map(str::to_string),
                    f => match f.strip_prefix("properties.") {
                        Some(prop) => r.prop(prop).map(str::to_string),
                        None => return Err(format!("unknown field {f}")),
                    },
                }
            }
        };
        expect_eq(key, ours, want)?;
    }
    Ok(())
}

#[test]
fn dkim_verifier_suite() {
    let cases: Vec<_> = load("dkim-verifier-arhparser.jsonl")
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or("?").to_string(), dkim_verifier_case(c)))
        .collect();
    run_suite("dkim-verifier", &cases);
}

// ------------------------------------------------------------------------------------------------------- perl

/// Counts results matching `method=result [ptype.prop=value]`.
fn count_matching(results: &[&ResInfo], pattern: &str) -> usize {
    let mut words = pattern.split_whitespace();
    let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
        return 0;
    };
    let prop = words.next().and_then(|w| w.split_once('='));
    results
        .iter()
        .filter(|r| r.method == method && r.result == result)
        .filter(|r| prop.is_none_or(|(k, v)| r.prop(k) == Some(v)))
        .count()
}

fn perl_case(case: &Value, group: &[AuthResults]) -> Result<(), String> {
    let input = case["input"].as_str().unwrap_or_default();
    let asserted = case["asserted_by_test"].as_object().ok_or("no assertions")?;
    let library = &case["library_result"];
    let parsed = authres::parse(input);
    let want = asserted.get("parse").and_then(Value::as_str).unwrap_or("ok");
    let ar = match (parsed, want) {
        (Err(_), "error") => return Ok(()),
        (Ok(ar), "error") => return Err(format!("they reject, we parse {:?}", pairs(&ar))),
        (Err(e), "ok") => return Err(format!("they parse, we reject: {e}")),
        // Not asserted upstream: compare with what the library did.
        (parsed, _) => match (parsed, library["ok"].as_bool().unwrap_or(false)) {
            (Ok(ar), true) => ar,
            (Err(_), false) => return Ok(()),
            (Ok(ar), false) => {
                return Err(format!("the library rejects, we parse {:?}", pairs(&ar)));
            }
            (Err(e), true) => return Err(format!("the library parses, we reject: {e}")),
        },
    };
    let results: Vec<&ResInfo> = ar.results.iter().collect();
    for (key, want) in asserted {
        match key.as_str() {
            "parse"
            | "note"
            | "as_string"
            | "as_json"
            | "as_string_indent_entry"
            | "children"
            | "entries"
            | "entry[0].subentries"
            | "search dmarc=none -> as_string"
            | "subentry[0].as_string" => {}
            "authserv_id" => expect_eq(key, ar.authserv_id.as_deref().map(str::to_string), str_of(want))?,
            "version" => expect_eq(key, ar.version.map(|v| v.to_string()), str_of(want))?,
            "authserv_comment" | "subentry[0] (three=four) has comment" | "subentry[1] (five=six) children" => {}
            "subentry[0].value" => expect_eq(
                key,
                results.first().and_then(|r| r.props.first()).map(|p| p.value.to_string()),
                str_of(want),
            )?,
            "header.from values" => {
                let ours: Vec<String> =
                    results.iter().filter_map(|r| r.prop("header.from").map(str::to_string)).collect();
                let theirs: Vec<String> =
                    want.as_array().map(|a| a.iter().filter_map(str_of).collect()).unwrap_or_default();
                if ours != theirs {
                    return Err(format!("header.from values: ours {ours:?}, theirs {theirs:?}"));
                }
            }
            "search dmarc -> count" => {
                expect_eq(key, Some(results.iter().filter(|r| r.method == "dmarc").count().to_string()), str_of(want))?
            }
            "group assertions (all 4 headers together)" => {
                let all: Vec<&ResInfo> = group.iter().flat_map(|a| a.results.iter()).collect();
                for (pattern, n) in want.as_object().into_iter().flatten() {
                    expect_eq(pattern, Some(count_matching(&all, pattern).to_string()), str_of(n))?;
                }
            }
            pattern => {
                let pattern = pattern.trim_end_matches(" count");
                expect_eq(pattern, Some(count_matching(&results, pattern).to_string()), str_of(want))?;
            }
        }
    }
    // Beyond the assertions: the results must match the library's parse (method, result, properties).
    if let Some(theirs) = library["parsed"]["results"].as_array() {
        compare_results(&ar.results, theirs)?;
    }
    Ok(())
}

/// Compares our results with a neutral-shape result list (`method`, `result`, `reason`, `props`).
fn compare_results(ours: &[ResInfo], theirs: &[Value]) -> Result<(), String> {
    let o: Vec<String> = ours.iter().map(|r| r.method.to_string() + "=" + &r.result).collect();
    let t: Vec<String> = theirs
        .iter()
        .map(|r| {
            format!(
                "{}={}",
                r["method"].as_str().unwrap_or(""),
                r["result"].as_str().unwrap_or("").to_ascii_lowercase()
            )
        })
        .collect();
    if o != t {
        return Err(format!("results: ours {o:?}, theirs {t:?}"));
    }
    for (r, t) in ours.iter().zip(theirs) {
        expect_eq(&format!("{} reason", r.method), r.reason.as_deref().map(str::to_string), str_of(&t["reason"]))?;
        let ours: Vec<String> = r
            .props
            .iter()
            .map(|p| {
                format!("{}{}={}", p.ptype.as_ref().map(|t| format!("{t}.")).unwrap_or_default(), p.property, p.value)
            })
            .collect();
        let theirs: Vec<String> = t["props"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let ptype = p["ptype"].as_str().map(|t| format!("{}.", t.to_ascii_lowercase())).unwrap_or_default();
                format!(
                    "{ptype}{}={}",
                    p["property"].as_str().unwrap_or("").to_ascii_lowercase(),
                    str_of(&p["value"]).unwrap_or_default()
                )
            })
            .collect();
        if ours != theirs {
            return Err(format!("{} props: ours {ours:?}, theirs {theirs:?}", r.method));
        }
    }
    Ok(())
}

#[test]
fn perl_mail_authenticationresults_suite() {
    let all = load("perl-mail-authenticationresults.jsonl");
    // The iCloud cases (perl-mar-39..42) assert over the four headers together.
    let group: Vec<AuthResults> = all
        .iter()
        .filter(|c| c["asserted_by_test"].get("group assertions (all 4 headers together)").is_some())
        .filter_map(|c| authres::parse(c["input"].as_str()?).ok())
        .collect();
    let cases: Vec<_> =
        all.iter().map(|c| (c["id"].as_str().unwrap_or("?").to_string(), perl_case(c, &group))).collect();
    run_suite("perl", &cases);
}

// ----------------------------------------------------------------------------------------------------- python

fn python_case(case: &Value) -> Result<(), String> {
    let input = case["input"].as_str().unwrap_or_default();
    let library = &case["library_result"];
    let asserted = case["asserted_by_test"].as_object().ok_or("no assertions")?;
    let parsed = authres::parse(input);
    let want_ok = library["ok"].as_bool().unwrap_or(false) && !asserted.contains_key("error_message");
    let ar = match (parsed, want_ok) {
        (Ok(ar), true) => ar,
        (Err(_), false) => return Ok(()),
        (Ok(ar), false) => return Err(format!("they reject, we parse {:?}", pairs(&ar))),
        (Err(e), true) => return Err(format!("they parse, we reject: {e}")),
    };
    for (key, want) in asserted {
        let want = str_of(want).filter(|w| w != "None");
        let ours = match key.as_str() {
            "formatted_string" | "note" | "attribute_access_errors" | "error_message" => continue,
            "authserv_id" => ar.authserv_id.as_deref().map(str::to_string),
            "method_result_sequence" => {
                let ours: Vec<String> =
                    ar.results.iter().flat_map(|r| [r.method.to_string(), r.result.to_string()]).collect();
                let theirs: Vec<String> =
                    case["asserted_by_test"][key].as_array().into_iter().flatten().filter_map(str_of).collect();
                if ours != theirs {
                    return Err(format!("sequence: ours {ours:?}, theirs {theirs:?}"));
                }
                continue;
            }
            k => {
                let Some((idx, field)) = k.strip_prefix("results[").and_then(|r| r.split_once(']')) else {
                    return Err(format!("unknown assertion {k}"));
                };
                let idx: usize = idx.parse().map_err(|_| format!("bad index in {k}"))?;
                let r = ar.results.get(idx).ok_or_else(|| format!("no result {idx}"))?;
                match field.trim_start_matches('.') {
                    "" => continue, // the canonical re-serialisation
                    "method" => Some(r.method.to_string()),
                    "result" => Some(r.result.to_string()),
                    "reason" => r.reason.as_deref().map(str::to_string),
                    f if f.starts_with("properties[") => {
                        let (pidx, pfield) = f["properties[".len()..].split_once("].").ok_or("bad property path")?;
                        let p = r.props.get(pidx.parse::<usize>().map_err(|_| "bad property index")?);
                        p.and_then(|p| match pfield {
                            "type" => p.ptype.as_deref().map(str::to_string),
                            "name" => Some(p.property.to_string()),
                            "value" => Some(p.value.to_string()),
                            _ => None,
                        })
                    }
                    // Python's attribute names: smtp_mailfrom, header_i, policy_iprev, …
                    f => {
                        let (ptype, prop) = f.split_once('_').ok_or("bad attribute")?;
                        r.prop(&format!("{ptype}.{prop}")).map(str::to_string)
                    }
                }
            }
        };
        expect_eq(key, ours, want)?;
    }
    if let Some(theirs) = library["parsed"]["results"].as_array() {
        compare_results(&ar.results, theirs)?;
    }
    Ok(())
}

#[test]
fn python_authres_suite() {
    let cases: Vec<_> = load("python-authres.jsonl")
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or("?").to_string(), python_case(c)))
        .collect();
    run_suite("python", &cases);
}

// --------------------------------------------------------------------------------------------------------- go

fn go_case(case: &Value) -> Result<(), String> {
    let expect = &case["expect"];
    let parsed = authres::parse(case["input"].as_str().unwrap_or_default());
    let ar = match (parsed, expect["ok"].as_bool().unwrap_or(false)) {
        (Ok(ar), true) => ar,
        (Err(_), false) => return Ok(()),
        (Ok(ar), false) => return Err(format!("they reject, we parse {:?}", pairs(&ar))),
        (Err(e), true) => return Err(format!("they parse, we reject: {e}")),
    };
    expect_eq("authserv_id", ar.authserv_id.as_deref().map(str::to_string), str_of(&expect["authserv_id"]))?;
    compare_results(&ar.results, expect["results"].as_array().map(Vec::as_slice).unwrap_or_default())
}

#[test]
fn go_msgauth_suite() {
    let cases: Vec<_> = load("go-msgauth-authres.jsonl")
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or("?").to_string(), go_case(c)))
        .collect();
    run_suite("go-msgauth", &cases);
}

// ----------------------------------------------------------------------------------------------------- rspamd

/// Checks rspamd's `fields` map (`method` → result, `ptype.prop` → value) against one result.
fn rspamd_fields(r: &ResInfo, fields: &Value) -> Result<(), String> {
    for (key, want) in fields.as_object().into_iter().flatten() {
        let ours = if key.contains('.') {
            r.prop(key).map(str::to_string)
        } else if *key == r.method {
            Some(r.result.to_string())
        } else {
            None
        };
        expect_eq(key, ours, str_of(want))?;
    }
    Ok(())
}

fn rspamd_case(case: &Value) -> Result<(), String> {
    let input = case["input"].as_str().unwrap_or_default();
    let expect = &case["expect"];
    let want_ok = expect["ok"].as_bool().unwrap_or(false);
    if case["input_kind"] == "resinfo" {
        return match (authres::parse_resinfo(input), want_ok) {
            (Ok(r), true) => rspamd_fields(&r, &expect["fields"]),
            (Err(_), false) => Ok(()),
            (Ok(r), false) => Err(format!("they reject, we parse {}={}", r.method, r.result)),
            (Err(e), true) => Err(format!("they parse, we reject: {e}")),
        };
    }
    let ar = match (authres::parse_arc(input), want_ok) {
        (Ok(ar), true) => ar,
        (Err(_), false) => return Ok(()),
        (Ok(ar), false) => return Err(format!("they reject, we parse {:?}", pairs(&ar))),
        (Err(e), true) => return Err(format!("they parse, we reject: {e}")),
    };
    expect_eq("i", ar.instance.map(|i| i.to_string()), str_of(&expect["i"]))?;
    if let Some(n) = expect["ar_count"].as_u64() {
        expect_eq("ar_count", Some(ar.results.len().to_string()), Some(n.to_string()))?;
    }
    for (r, fields) in ar.results.iter().zip(expect["ar"].as_array().into_iter().flatten()) {
        rspamd_fields(r, fields)?;
    }
    Ok(())
}

#[test]
fn rspamd_suite() {
    let cases: Vec<_> = load("rspamd-lua-auth-results.jsonl")
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or("?").to_string(), rspamd_case(c)))
        .collect();
    run_suite("rspamd", &cases);
}

// -------------------------------------------------------------------------------------------- msg-auth-status

/// The crate's result code names (`Pass`, `SoftFail`, `NoneSpf`, `PermError`) in RFC spelling.
fn mas_code(v: &Value) -> Option<String> {
    let code = v.as_str()?.to_ascii_lowercase();
    Some(code.strip_prefix("none").map(|_| "none".to_string()).unwrap_or(code))
}

/// (our method, the crate's list key, [(crate field, our property)]).
type MasCheck = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

fn mas_header(ar: &AuthResults, want: &Value) -> Result<(), String> {
    expect_eq("host", ar.authserv_id.as_deref().map(str::to_string), str_of(&want["host"]["host"]))?;
    expect_eq("version", ar.version.map(|v| v.to_string()), str_of(&want["host"]["version"]))?;
    expect_eq("none_done", Some(ar.none.to_string()), str_of(&want["none_done"]))?;
    let of = |m: &str| ar.results.iter().filter(|r| r.method == m).collect::<Vec<_>>();
    let checks: [MasCheck; 4] = [
        ("spf", "spf_result", &[("smtp_mailfrom", "smtp.mailfrom"), ("smtp_helo", "smtp.helo")]),
        (
            "dkim",
            "dkim_result",
            &[
                ("header_d", "header.d"),
                ("header_i", "header.i"),
                ("header_b", "header.b"),
                ("header_s", "header.s"),
                ("header_a", "header.a"),
            ],
        ),
        ("iprev", "iprev_result", &[("policy_iprev", "policy.iprev")]),
        ("auth", "smtp_auth_result", &[("smtp_auth", "smtp.auth"), ("smtp_mailfrom", "smtp.mailfrom")]),
    ];
    for (method, key, props) in checks {
        let ours = of(method);
        let theirs = want[key].as_array().cloned().unwrap_or_default();
        expect_eq(&format!("{method} count"), Some(ours.len().to_string()), Some(theirs.len().to_string()))?;
        for (r, t) in ours.iter().zip(&theirs) {
            expect_eq(&format!("{method} code"), Some(r.result.to_string()), mas_code(&t["code"]))?;
            for (their_key, our_key) in props {
                let theirs = str_of(&t[*their_key])
                    .map(|v| if *their_key == "header_a" { v.to_ascii_lowercase().replace('_', "-") } else { v });
                expect_eq(our_key, r.prop(our_key).map(str::to_string), theirs)?;
            }
        }
    }
    let known = ["spf", "dkim", "iprev", "auth"];
    let unknown = ar.results.iter().filter(|r| !known.contains(&r.method.as_ref())).count();
    expect_eq(
        "unknown_result count",
        Some(unknown.to_string()),
        want["unknown_result"].as_array().map(|a| a.len().to_string()),
    )
}

#[test]
fn msg_auth_status_suite() {
    let mut cases = Vec::new();
    for msg in load("msg-auth-status.jsonl") {
        let id = msg["id"].as_str().unwrap_or("?").to_string();
        let values = msg["authentication_results"].as_array().cloned().unwrap_or_default();
        let wants = msg["expect_crate_parse"].as_array().cloned().unwrap_or_default();
        if values.is_empty() {
            // A message without Authentication-Results: the crate returns nothing, and so do we.
            let outcome = if wants.is_empty() { Ok(()) } else { Err("expected results from no field".to_string()) };
            cases.push((id, outcome));
            continue;
        }
        for (n, (value, want)) in values.iter().zip(&wants).enumerate() {
            let outcome = match authres::parse(value.as_str().unwrap_or_default()) {
                Ok(ar) => mas_header(&ar, want),
                Err(e) => Err(format!("they parse, we reject: {e}")),
            };
            cases.push((format!("{id}#{}", n + 1), outcome));
        }
    }
    run_suite("msg-auth-status", &cases);
}

// --------------------------------------------------------------------------------------------------- stalwart

fn stalwart_case(case: &Value) -> Result<(), String> {
    let inputs = &case["inputs"];
    let Some(input) = case["as_parse_input"].as_str() else {
        // Generator-only cases assert how Stalwart quotes what it writes. Case 17 is checkable as a
        // parse: the quoted header.i must come back unescaped.
        if case["id"] == "stalwart-17" {
            let i = inputs["i"].as_str().unwrap_or_default();
            let quoted = format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\""));
            let value = format!("mydomain.org; dkim=pass header.d=example.org header.s=sel header.i={quoted}");
            let ar = authres::parse(&value).map_err(|e| format!("we reject our own quoting: {e}"))?;
            return expect_eq(
                "header.i",
                ar.results.first().and_then(|r| r.prop("header.i")).map(str::to_string),
                Some(i.to_string()),
            );
        }
        return Err("generator-only case: no header value to parse".to_string());
    };
    let ar = authres::parse(input).map_err(|e| format!("we reject: {e}"))?;
    expect_eq("authserv_id", ar.authserv_id.as_deref().map(str::to_string), Some("mydomain.org".to_string()))?;
    let r = ar.results.first().ok_or("no result")?;
    let resinfo = case["expected_resinfo"].as_str().unwrap_or_default();
    expect_eq("method", Some(r.method.to_string()), resinfo.split('=').next().map(str::to_string))?;
    let result = resinfo.split_once('=').map(|(_, rest)| rest.split([' ', '(']).next().unwrap_or(rest).to_string());
    expect_eq("result", Some(r.result.to_string()), result)?;
    let props = [
        ("d", "header.d"),
        ("s", "header.s"),
        ("mail_from", "smtp.mailfrom"),
        ("header_from", "header.from"),
        ("domain", "header.from"),
        ("policy", "policy.dmarc"),
    ];
    for (input_key, prop) in props {
        if let Some(v) = inputs[input_key].as_str() {
            let want = if input_key == "mail_from" && v.is_empty() { "<>".to_string() } else { v.to_string() };
            expect_eq(prop, r.prop(prop).map(str::to_string), Some(want))?;
        }
    }
    if let Some(ip) = inputs["remote_ip"].as_str() {
        let ours = r.prop("smtp.remote-ip").or_else(|| r.prop("policy.iprev")).map(str::to_string);
        expect_eq("remote ip", ours, Some(ip.to_string()))?;
    }
    Ok(())
}

#[test]
fn stalwart_suite() {
    let cases: Vec<_> = load("stalwart-mail-auth-generated.jsonl")
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or("?").to_string(), stalwart_case(c)))
        .collect();
    run_suite("stalwart", &cases);
}
