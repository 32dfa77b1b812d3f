//! Rendering a [`Report`]: human text (with live phase lines on a terminal), one JSON document, or one
//! Nagios/Monitoring Plugins status line with perfdata. The report is the single source; these only
//! format it.

use std::fmt::Write as _;

use crate::probe::PhaseLine;
use crate::report::Report;
use crate::verdict::Phase;

/// The live view's line for one finished phase (printed to stderr on a terminal).
pub fn phase_line(line: &PhaseLine) -> String {
    let mark = match line.status {
        "ok" => "ok  ",
        "warn" => "warn",
        "skip" => "skip",
        _ => "FAIL",
    };
    format!("  {mark} {:<12} {:>7.2}s  {}", line.phase.name(), line.seconds, line.detail)
}

/// Multi-line human report.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let d = &report.diagnosis;
    let _ = writeln!(out, "{} {} — phase {} ({})", report.probe, report.outcome, report.phase, d.code);
    let _ = writeln!(out, "  {}", d.summary);
    if !d.evidence.is_empty() {
        let _ = writeln!(out, "  evidence:");
        for e in &d.evidence {
            let _ = writeln!(out, "    - {e}");
        }
    }
    if !d.fix.is_empty() {
        let _ = writeln!(out, "  fix:");
        for line in d.fix.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    let _ = writeln!(out, "  source: {}", d.source);
    for note in &report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if let Some(mail) = &report.mail {
        let l = &mail.latency;
        let s = |v: Option<f64>| v.map(|v| format!("{v:.2}s")).unwrap_or_else(|| "?".into());
        let _ = writeln!(
            out,
            "  latency: trigger→SES {} · SES→receiver {} · receiver→visible {} · visible→detected {} (total {}){}",
            s(l.trigger_to_ses_seconds),
            s(l.ses_to_receiver_seconds),
            s(l.receiver_to_visible_seconds),
            s(l.visible_to_detected_seconds),
            s(l.total_seconds),
            if l.clock_skew { " — clock skew between hosts" } else { "" }
        );
    }
    if report.late_mails > 0 {
        let _ = writeln!(out, "  late mails of earlier runs found and swept: {}", report.late_mails);
    }
    let timings: Vec<String> =
        report.timings.iter().filter_map(|(p, t)| t.map(|t| format!("{} {t:.2}s", p.name()))).collect();
    let _ = writeln!(out, "  timings: {}", timings.join(" · "));
    out
}

/// One JSON document (schema in README).
pub fn json(report: &Report) -> String {
    // Report holds only plain data; serialising it cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// `COGNITO-DELIVERY <STATE> - <probe>: <summary> | perfdata` (Monitoring Plugins guidelines).
pub fn nagios(report: &Report) -> String {
    let mut perf = Vec::new();
    if let Some(total) = report.mail.as_ref().and_then(|m| m.latency.total_seconds) {
        perf.push(format!("delivery={total:.3}s;;;0"));
    }
    for phase in Phase::ALL {
        if let Some(Some(t)) = report.timings.get(&phase) {
            perf.push(format!("{}={t:.3}s;;;0", phase.name()));
        }
    }
    perf.push(format!("late_mails={};;;0", report.late_mails));
    // The summary must stay on one line and must not contain the perfdata separator.
    let summary = report.diagnosis.summary.replace(['\n', '\r'], " ").replace('|', "/");
    format!(
        "COGNITO-DELIVERY {} - {}: [{}] {} | {}",
        report.outcome,
        report.probe,
        report.phase,
        summary,
        perf.join(" ")
    )
}
