//! Rendering a [`Report`]: human text (with live phase lines on a terminal), one JSON document, or one
//! Nagios/Monitoring Plugins status line with perfdata. The report is the single source; these only
//! format it. [`print()`] is how every command writes to standard output.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::duration::{number, seconds};
use crate::probe::PhaseLine;
use crate::report::Report;
use crate::verdict::Phase;

/// Writes `text` to standard output. A reader that went away (`probe validate | head`) ends the output
/// quietly; `print!` would panic on the broken pipe.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// [`print()`] with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// The live view's line for one finished phase (printed to stderr on a terminal).
pub fn phase_line(line: &PhaseLine) -> String {
    format!("  {} {:<12} {:>7}s  {}", line.mark.label(), line.phase.name(), seconds(line.seconds, 2), line.detail)
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
        let s = |v: Option<f64>| v.map(|v| format!("{}s", seconds(v, 2))).unwrap_or_else(|| "?".into());
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
    if !report.ses.events.is_empty() {
        let _ = writeln!(out, "  sender: {}", sender_timeline(report));
    }
    if report.late_mails > 0 {
        let _ = writeln!(out, "  late mails of earlier runs found and swept: {}", report.late_mails);
    }
    let timings: Vec<String> =
        report.timings.iter().filter_map(|(p, t)| t.map(|t| format!("{} {}s", p.name(), seconds(t, 2)))).collect();
    let _ = writeln!(out, "  timings: {}", timings.join(" · "));
    out
}

/// The probe's message hop by hop, from its SES event records and the inbox: `SES accepted 10:00:00 →
/// receiver 250 at 10:00:01 (a8-64.smtp-out.amazonses.com) → visible 10:00:01 → detected 10:00:02`.
pub fn sender_timeline(report: &Report) -> String {
    use crate::aws::events::EventKind;
    let hms = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.format("%H:%M:%S%.3f").to_string());
    let mut hops = Vec::new();
    for event in &report.ses.events {
        // A Send record's own time is its envelope's (whole seconds for EventBridge); `mail.timestamp` is
        // the same moment to the millisecond.
        let when = if matches!(event.kind, EventKind::Send) { event.sent_at.or(event.at) } else { event.at };
        let at = hms(when.or(event.sent_at)).unwrap_or_else(|| "?".into());
        hops.push(match &event.kind {
            EventKind::Send => format!("SES accepted {at}"),
            EventKind::Delivery { smtp_response, reporting_mta, .. } => {
                let code = smtp_response.as_deref().and_then(|r| r.split_whitespace().next()).unwrap_or("?");
                let via = reporting_mta.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
                format!("receiver {code} at {at}{via}")
            }
            other => format!("{} at {at}", other.name()),
        });
    }
    if let Some(mail) = &report.mail {
        if let Some(v) = hms(mail.latency.visible_at) {
            hops.push(format!("visible {v}"));
        }
        if let Some(d) = hms(mail.latency.detected_at) {
            hops.push(format!("detected {d}"));
        }
    }
    hops.join(" → ")
}

/// One JSON document (schema in README).
pub fn json(report: &Report) -> String {
    // Report holds only plain data; serialising it cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The phases whose durations the nagios line reports, always in this order.
const PERF_PHASES: [Phase; 6] =
    [Phase::Resolve, Phase::Trigger, Phase::Ses, Phase::Inbox, Phase::Authenticate, Phase::Cleanup];

/// `COGNITO-DELIVERY <STATE> - <probe>: [phase] <summary> | perfdata` (Monitoring Plugins guidelines). The
/// perfdata labels are the same on every run, whatever the outcome — graphing tools key series by label —
/// and a value that was not measured is `U` ("could not be determined").
pub fn nagios(report: &Report) -> String {
    let value = |v: Option<f64>| v.map(|v| format!("{}s", number(v, 3))).unwrap_or_else(|| "U".into());
    let mut perf = vec![format!("delivery={};;;0", value(report.mail.as_ref().and_then(|m| m.latency.total_seconds)))];
    for phase in PERF_PHASES {
        perf.push(format!("{}={};;;0", phase.name(), value(report.timings.get(&phase).copied().flatten())));
    }
    perf.push(format!("late_mails={};;;0", report.late_mails));
    // The summary must stay on one line and must not contain the perfdata separator.
    let summary = report.diagnosis.summary.replace(['\n', '\r'], " ").replace('|', "/");
    let probe = if report.probe.is_empty() { "config" } else { report.probe.as_str() };
    format!("COGNITO-DELIVERY {} - {probe}: [{}] {summary} | {}", report.outcome, report.phase, perf.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(line: &str) -> Vec<String> {
        let perf = line.split_once(" | ").map(|(_, p)| p).unwrap_or_default();
        perf.split(' ').map(|p| p.split('=').next().unwrap_or_default().to_string()).collect()
    }

    #[test]
    fn nagios_perfdata_labels_do_not_change_with_the_outcome() {
        let unknown = Report::unusable_config("", "probes/x.toml:3: pool_id: bad");
        let mut timed = Report::new("p", "us-east-1_a", "u");
        timed.timings.insert(Phase::Resolve, Some(0.2));
        let (a, b) = (nagios(&unknown), nagios(&timed));
        assert_eq!(labels(&a), labels(&b));
        assert_eq!(
            labels(&a),
            ["delivery", "resolve", "trigger", "ses", "inbox", "authenticate", "cleanup", "late_mails"]
        );
        assert!(a.contains("delivery=U;;;0") && b.contains("resolve=0.200s;;;0"), "{a}\n{b}");
        assert!(a.starts_with("COGNITO-DELIVERY UNKNOWN - config: [config] "), "{a}");
    }

    #[test]
    fn negative_zero_never_shows() {
        let line =
            PhaseLine { phase: Phase::Ses, mark: crate::verdict::Mark::Ok, seconds: -0.0, detail: String::new() };
        assert!(!phase_line(&line).contains("-0"), "{}", phase_line(&line));
    }
}
