//! Expectations (from the probe file) and the findings they produce: one pass/warn/fail line per method
//! with an explanation an on-call human can act on.

use serde::{Deserialize, Serialize};

use super::align::{AlignmentMode, is_aligned, organizational_domain};
use super::report::{DkimReport, DmarcReport, SpfReport};
use crate::verdict::Outcome;

/// What a method's result must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// The receiver must report `pass`.
    Pass,
    /// Reported, never judged.
    Any,
}

/// What the probe expects of the receiver's verdict (DESIGN.md §5: e.g. dkim=pass aligned, dmarc=pass,
/// spf=pass with alignment optional). Probe files give it in `[expect]` ([`crate::config::ExpectSettings`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectations {
    /// Required DKIM result (default `pass`).
    pub dkim: Requirement,
    /// Required SPF result (default `pass`).
    pub spf: Requirement,
    /// Required DMARC result (default `pass`).
    pub dmarc: Requirement,
    /// A passing DKIM signature must align with From (default `true`).
    pub dkim_aligned: bool,
    /// A passing SPF must align with From (default `false`: SES's default MAIL FROM never aligns, research
    /// §0). When required, unaligned SPF is a warning (DESIGN.md §6); when not, it passes with the reason.
    pub spf_aligned: bool,
    /// Alignment mode (default `relaxed`, RFC 7489 §6.3 `adkim`/`aspf` default).
    pub alignment: AlignmentMode,
    /// The DKIM `d=` that must pass (e.g. the SES identity's domain), if any.
    pub dkim_domain: Option<String>,
    /// The MAIL FROM domain the sender configured (SES custom MAIL FROM); a different real one is a
    /// warning (SES falls back to amazonses.com silently, research §0).
    pub mail_from_domain: Option<String>,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            dkim: Requirement::Pass,
            spf: Requirement::Pass,
            dmarc: Requirement::Pass,
            dkim_aligned: true,
            spf_aligned: false,
            alignment: AlignmentMode::Relaxed,
            dkim_domain: None,
            mail_from_domain: None,
        }
    }
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingOutcome {
    Pass,
    Warn,
    Fail,
}

impl FindingOutcome {
    /// The outcome a finding alone would give.
    pub fn outcome(self) -> Outcome {
        match self {
            FindingOutcome::Pass => Outcome::Ok,
            FindingOutcome::Warn => Outcome::Warning,
            FindingOutcome::Fail => Outcome::Critical,
        }
    }

    /// Upper-case label for text output.
    pub fn label(self) -> &'static str {
        match self {
            FindingOutcome::Pass => "PASS",
            FindingOutcome::Warn => "WARN",
            FindingOutcome::Fail => "FAIL",
        }
    }
}

/// What a finding is about: an authentication method, or one of the checks around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Dkim,
    Spf,
    Dmarc,
    /// The real MAIL FROM domain against the configured custom MAIL FROM.
    MailFrom,
    /// The From header (one From domain to align with).
    From,
    /// Which Authentication-Results fields were trusted.
    Trust,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Dkim => "dkim",
            Method::Spf => "spf",
            Method::Dmarc => "dmarc",
            Method::MailFrom => "mail-from",
            Method::From => "from",
            Method::Trust => "trust",
        }
    }
}

/// Lets callers compare a method with its name (`finding.method == "dkim"`).
impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One judged check with its one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub method: Method,
    pub outcome: FindingOutcome,
    pub explanation: String,
}

fn finding(method: Method, outcome: FindingOutcome, explanation: String) -> Finding {
    Finding { method, outcome, explanation }
}

/// The worst finding decides: any fail is CRITICAL, any warn WARNING, else OK (DESIGN.md §6).
pub fn outcome_of(findings: &[Finding]) -> Outcome {
    Outcome::worst(findings.iter().map(|f| f.outcome.outcome()))
}

/// Inputs of the judgement, all computed from the trusted block.
pub(crate) struct Observed<'a> {
    pub from: Option<&'a str>,
    pub dkim: &'a [DkimReport],
    pub spf: Option<&'a SpfReport>,
    pub dmarc: Option<&'a DmarcReport>,
    pub mail_from_domain: Option<&'a str>,
}

fn describe_dkim(d: &DkimReport) -> String {
    let domain = d.domain.as_deref().unwrap_or("(not named)");
    match &d.selector {
        Some(sel) => format!("d={domain} s={sel} {}", d.result),
        None => format!("d={domain} {}", d.result),
    }
}

/// Judges the observed results against the expectations.
pub(crate) fn judge(o: &Observed<'_>, e: &Expectations) -> Vec<Finding> {
    let mut out = vec![dkim_finding(o, e), spf_finding(o, e)];
    if let Some(f) = mail_from_finding(o, e) {
        out.push(f);
    }
    out.push(dmarc_finding(o, e));
    if let Some(f) = dmarc_cross_check(o, e) {
        out.push(f);
    }
    out
}

fn dkim_finding(o: &Observed<'_>, e: &Expectations) -> Finding {
    use FindingOutcome::*;
    let mode = e.alignment.name();
    let from = o.from.unwrap_or("(unknown From domain)");
    let passes: Vec<&DkimReport> = o.dkim.iter().filter(|d| d.result == "pass").collect();
    let all = || o.dkim.iter().map(describe_dkim).collect::<Vec<_>>().join(", ");
    if passes.is_empty() {
        let what = if o.dkim.is_empty() {
            "the receiver reported no DKIM result (is the message signed?)".to_string()
        } else {
            format!("no DKIM signature passed: {}", all())
        };
        return match e.dkim {
            Requirement::Pass => finding(Method::Dkim, Fail, what),
            Requirement::Any => finding(Method::Dkim, Pass, format!("{what} (not required)")),
        };
    }
    if let Some(want) = e.dkim_domain.as_deref().map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        && !passes.iter().any(|d| d.domain.as_deref() == Some(want.as_str()))
    {
        return finding(
            Method::Dkim,
            Fail,
            format!("no passing signature with the expected d={want}; reported: {}", all()),
        );
    }
    if let Some(good) = passes.iter().find(|d| d.aligned) {
        return finding(
            Method::Dkim,
            Pass,
            format!("{} passed and aligns with {from} ({mode})", describe_dkim(good).trim_end_matches(" pass")),
        );
    }
    let dmarc_pass = o.dmarc.is_some_and(|d| d.result == "pass");
    if passes.iter().any(|d| d.domain.is_none()) && dmarc_pass {
        return finding(
            Method::Dkim,
            Pass,
            "DKIM passed; the receiver did not name the signing domain, alignment taken from its dmarc=pass"
                .to_string(),
        );
    }
    let passed: Vec<String> = passes.iter().map(|d| d.domain.clone().unwrap_or_else(|| "(not named)".into())).collect();
    let mut why = format!("DKIM passed only for {}, which does not align with {from} ({mode})", passed.join(", "));
    if passes.iter().any(|d| d.domain.as_deref().is_some_and(|x| organizational_domain(x) == "amazonses.com")) {
        why.push_str(
            "; amazonses.com is SES's own signature and never aligns: enable Easy DKIM (or BYODKIM) for the \
            sending domain",
        );
    } else if e.alignment == AlignmentMode::Strict
        && o.from.is_some_and(|f| {
            passes.iter().any(|d| d.domain.as_deref().is_some_and(|x| is_aligned(x, f, AlignmentMode::Relaxed)))
        })
    {
        why.push_str("; it would align in relaxed mode (adkim=s needs the exact From domain)");
    }
    if e.dkim_aligned {
        finding(Method::Dkim, Fail, why)
    } else {
        finding(Method::Dkim, Pass, format!("{why} (alignment not required)"))
    }
}

fn spf_finding(o: &Observed<'_>, e: &Expectations) -> Finding {
    use FindingOutcome::*;
    let mode = e.alignment.name();
    let from = o.from.unwrap_or("(unknown From domain)");
    let Some(spf) = o.spf else {
        return match e.spf {
            Requirement::Pass => finding(Method::Spf, Fail, "the receiver reported no SPF result".to_string()),
            Requirement::Any => finding(Method::Spf, Pass, "no SPF result (not required)".to_string()),
        };
    };
    let domain = spf.domain.as_deref().unwrap_or("(no domain named)");
    if spf.result != "pass" {
        let what = format!("spf={} for {} {domain}", spf.result, spf.identity);
        return match e.spf {
            Requirement::Pass => finding(
                Method::Spf,
                Fail,
                format!("{what}: the sending IP is not authorised by that domain's SPF record"),
            ),
            Requirement::Any => finding(Method::Spf, Pass, format!("{what} (not required)")),
        };
    }
    if spf.aligned {
        return finding(Method::Spf, Pass, format!("passed for {domain} and aligns with {from} ({mode})"));
    }
    let why =
        format!("passed for {domain} but does not align: {}", spf.not_aligned_reason.as_deref().unwrap_or("unknown"));
    // DESIGN.md §5/§6: SPF alignment is optional by default — with SES's default MAIL FROM it never aligns
    // and DMARC passes through the aligned DKIM signature — so unaligned SPF passes (with the reason) unless
    // the probe file asks for alignment; then it is a degradation (WARNING), not a delivery failure.
    if e.spf_aligned {
        finding(Method::Spf, Warn, why)
    } else {
        finding(Method::Spf, Pass, format!("{why} (alignment not required; DMARC can pass through DKIM)"))
    }
}

fn mail_from_finding(o: &Observed<'_>, e: &Expectations) -> Option<Finding> {
    let want = e.mail_from_domain.as_deref()?.trim_end_matches('.').to_ascii_lowercase();
    let got = o.mail_from_domain;
    let f = match got {
        Some(g) if g == want => {
            finding(Method::MailFrom, FindingOutcome::Pass, format!("MAIL FROM domain is {g} as configured"))
        }
        Some(g) if organizational_domain(g) == "amazonses.com" => finding(
            Method::MailFrom,
            FindingOutcome::Warn,
            format!(
                "SES sent with its default MAIL FROM {g} instead of {want}: the custom MAIL FROM domain's MX check \
                 probably failed and BehaviorOnMXFailure=UseDefaultValue fell back silently"
            ),
        ),
        Some(g) => {
            finding(Method::MailFrom, FindingOutcome::Warn, format!("MAIL FROM domain was {g}, expected {want}"))
        }
        None => {
            finding(Method::MailFrom, FindingOutcome::Warn, format!("the MAIL FROM domain is unknown, expected {want}"))
        }
    };
    Some(f)
}

fn dmarc_finding(o: &Observed<'_>, e: &Expectations) -> Finding {
    use FindingOutcome::*;
    let Some(d) = o.dmarc else {
        let what = "the receiver wrote no dmarc result (does the From domain publish a DMARC record?)".to_string();
        return match e.dmarc {
            Requirement::Pass => finding(Method::Dmarc, Fail, what),
            Requirement::Any => finding(Method::Dmarc, Pass, format!("{what} (not required)")),
        };
    };
    let mut what = match (&d.policy, &d.disposition) {
        (Some(p), Some(dis)) => format!("dmarc={} (p={p}, disposition={dis})", d.result),
        (Some(p), None) => format!("dmarc={} (p={p})", d.result),
        (None, Some(dis)) => format!("dmarc={} (disposition={dis})", d.result),
        (None, None) => format!("dmarc={}", d.result),
    };
    if d.result == "pass" {
        return finding(Method::Dmarc, Pass, what);
    }
    if d.result == "bestguesspass" {
        what.push_str(": the From domain publishes no DMARC record (Microsoft guessed)");
    } else if !o.dkim.iter().any(|k| k.result == "pass" && k.aligned)
        && !o.spf.is_some_and(|s| s.result == "pass" && s.aligned)
    {
        what.push_str(": no passing DKIM signature or SPF identity aligns with the From domain");
    }
    match e.dmarc {
        Requirement::Pass => finding(Method::Dmarc, Fail, what),
        Requirement::Any => finding(Method::Dmarc, Pass, format!("{what} (not required)")),
    }
}

/// Compares the receiver's DMARC verdict with the alignment we computed (relaxed mode only, the one
/// receivers apply by default): a disagreement is reported, never silently resolved (research §14).
fn dmarc_cross_check(o: &Observed<'_>, e: &Expectations) -> Option<Finding> {
    if e.alignment != AlignmentMode::Relaxed {
        return None;
    }
    let d = o.dmarc?;
    let ours = o.dkim.iter().any(|k| k.result == "pass" && k.aligned)
        || o.spf.is_some_and(|s| s.result == "pass" && s.aligned);
    let unnamed_dkim_pass = o.dkim.iter().any(|k| k.result == "pass" && k.domain.is_none());
    match (d.result.as_str(), ours) {
        ("pass", false) if !unnamed_dkim_pass => Some(finding(
            Method::Dmarc,
            FindingOutcome::Warn,
            "the receiver says dmarc=pass but no passing identifier we can see aligns with the From domain".to_string(),
        )),
        ("fail", true) => Some(finding(
            Method::Dmarc,
            FindingOutcome::Warn,
            "the receiver says dmarc=fail although an aligned identifier passed (does the domain publish \
                adkim=s/aspf=s?)"
                .to_string(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_finding_decides() {
        let f = |o| finding(Method::Dkim, o, String::new());
        use FindingOutcome::*;
        let cases = [
            ("all pass", vec![f(Pass), f(Pass)], Outcome::Ok),
            ("one warn", vec![f(Pass), f(Warn)], Outcome::Warning),
            ("fail beats warn", vec![f(Warn), f(Fail), f(Pass)], Outcome::Critical),
            ("nothing judged", vec![], Outcome::Ok),
        ];
        for (name, findings, want) in cases {
            assert_eq!(outcome_of(&findings), want, "{name}");
        }
    }

    #[test]
    fn defaults_follow_the_design() {
        let e = Expectations::default();
        assert_eq!(e, Expectations::from(&crate::config::ExpectSettings::default()), "the probe file's defaults agree");
        assert!(e.dkim_aligned && !e.spf_aligned);
        assert_eq!((e.dkim, e.spf, e.dmarc), (Requirement::Pass, Requirement::Pass, Requirement::Pass));
    }
}
