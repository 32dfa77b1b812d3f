//! Printing doctor reports like the one-shot probe's output: human text (one line per finding, with its
//! evidence and fix), one JSON document, or one Nagios/Monitoring Plugins line with perfdata. These only
//! format; the outcome is decided in [`super::overall`].

use std::fmt::Write as _;

use super::{DoctorReport, Status, overall};

/// Multi-line human report of every probe file checked.
pub fn text(reports: &[DoctorReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let count = |s: Status| report.findings.iter().filter(|f| f.status == s).count();
        let _ = writeln!(
            out,
            "{} ({}) {} — {} fail, {} warn, {} unknown, {} ok, {} skipped",
            report.probe,
            report.pool_id,
            report.outcome,
            count(Status::Fail),
            count(Status::Warn),
            count(Status::Unknown),
            count(Status::Ok),
            count(Status::Skip)
        );
        for f in &report.findings {
            let _ = writeln!(out, "  {:<7} {:<22} {}", f.status.label(), f.check, f.summary);
            for e in &f.evidence {
                let _ = writeln!(out, "          · {e}");
            }
            if !f.fix.is_empty() {
                let _ = writeln!(out, "          fix:");
                for line in f.fix.lines() {
                    let _ = writeln!(out, "            {line}");
                }
            }
            if f.status != Status::Ok && f.status != Status::Skip && !f.source.is_empty() {
                let _ = writeln!(out, "          source: {}", f.source);
            }
        }
    }
    if reports.len() > 1 {
        let _ = writeln!(out, "overall: {}", overall(reports));
    }
    out
}

/// One JSON document: `{"outcome": …, "reports": [{probe, pool_id, outcome, findings: […]}]}`.
pub fn json(reports: &[DoctorReport]) -> String {
    let doc = serde_json::json!({ "outcome": overall(reports), "reports": reports });
    // Plain data only: serialising cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// `COGNITO-DOCTOR <STATE> - <worst findings> | ok=… warn=… fail=… unknown=…` (Monitoring Plugins).
pub fn nagios(reports: &[DoctorReport]) -> String {
    let all = || reports.iter().flat_map(|r| r.findings.iter().map(move |f| (r, f)));
    let count = |s: Status| all().filter(|(_, f)| f.status == s).count();
    let mut worst: Vec<_> =
        all().filter(|(_, f)| matches!(f.status, Status::Fail | Status::Unknown | Status::Warn)).collect();
    // FAIL first, then UNKNOWN, then WARN — the order `overall` ranks them.
    worst.sort_by_key(|(_, f)| match f.status {
        Status::Fail => 0,
        Status::Unknown => 1,
        _ => 2,
    });
    let summary = match worst.first() {
        None => format!("{} probe file(s), every check OK", reports.len()),
        Some((r, f)) => {
            let more = if worst.len() > 1 { format!(" (+{} more)", worst.len() - 1) } else { String::new() };
            format!("{}: {} {}{more}", r.probe, f.check, f.summary)
        }
    };
    // The summary must stay on one line and must not contain the perfdata separator.
    let summary = summary.replace(['\n', '\r'], " ").replace('|', "/");
    format!(
        "COGNITO-DOCTOR {} - {summary} | ok={};;;0 warn={};;;0 fail={};;;0 unknown={};;;0",
        overall(reports),
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Unknown)
    )
}

#[cfg(test)]
mod tests {
    use super::super::Finding;
    use super::*;

    fn report(statuses: &[(&'static str, Status)]) -> DoctorReport {
        let findings = statuses
            .iter()
            .map(|(c, s)| Finding::new(c, *s, format!("{c} summary | with pipe\nand newline"), "src").fix("do this"))
            .collect();
        DoctorReport::new("phenom-prod", "us-east-1_knEL7cqS3", findings)
    }

    #[test]
    fn nagios_line_names_the_worst_finding_on_one_line() {
        let r = report(&[("pool.from", Status::Warn), ("ses.policy", Status::Fail), ("user.state", Status::Ok)]);
        let line = nagios(&[r]);
        assert!(line.starts_with("COGNITO-DOCTOR CRITICAL - phenom-prod: ses.policy "), "{line}");
        assert!(line.contains("(+1 more)"), "{line}");
        assert_eq!(line.matches('|').count(), 1, "{line}");
        assert!(!line.contains('\n'));
        assert!(line.ends_with("ok=1;;;0 warn=1;;;0 fail=1;;;0 unknown=0;;;0"), "{line}");
    }

    #[test]
    fn text_prints_each_finding_with_its_fix() {
        let out = text(&[report(&[("ses.policy", Status::Fail)])]);
        assert!(out.starts_with("phenom-prod (us-east-1_knEL7cqS3) CRITICAL — 1 fail"), "{out}");
        assert!(out.contains("  FAIL    ses.policy"), "{out}");
        assert!(out.contains("fix:\n            do this"), "{out}");
    }

    #[test]
    fn json_carries_the_overall_outcome_and_check_ids() {
        let v: serde_json::Value = serde_json::from_str(&json(&[report(&[("imap.idle", Status::Warn)])])).unwrap();
        assert_eq!(v["outcome"], "warning");
        assert_eq!(v["reports"][0]["findings"][0]["check"], "imap.idle");
        assert_eq!(v["reports"][0]["findings"][0]["status"], "warn");
    }
}
