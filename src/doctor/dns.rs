//! The DNS posture of the From domain, when DNS is reachable: the SPF record authorises SES
//! (`include:amazonses.com`, runbook: "publishes SPF (include:amazonses.com)") and DMARC is published with
//! its policy (RFC 7489 §6.3 tags p, pct, adkim, aspf). Many probe hosts have no resolver: the first
//! lookup is bounded by a short timeout, and when it does not answer the check is skipped with a note —
//! never failed. Uses mail-auth's resolver (hickory), already a dependency. The DKIM CNAMEs are not looked
//! up here: SES verifies them itself and reports the result as the identity's DKIM status (`ses.dkim`).

use std::time::Duration;

use mail_auth::MessageAuthenticator;

use super::{Finding, Status};

const SOURCE: &str = "runbook (SPF include:amazonses.com, DMARC p=quarantine); RFC 7208 §4; RFC 7489 §6.3";

/// Time allowed for the first lookup before DNS counts as unreachable.
const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// A TXT record that exists wherever DNS works: SES's own SPF record.
const CANARY: &str = "amazonses.com.";

/// Checks the From domain's SPF and DMARC, or skips with the reason.
pub async fn run(domain: Option<&str>, skip: bool) -> Finding {
    let skipped = |why: String| Finding::new("dns.posture", Status::Skip, format!("skipped: {why}"), SOURCE);
    let Some(domain) = domain else {
        return skipped("no custom From domain (Cognito's default sender)".into());
    };
    if skip {
        return skipped("DNS checks turned off".into());
    }
    let resolver = match MessageAuthenticator::new_system_conf() {
        Ok(r) => r,
        Err(e) => return skipped(format!("DNS unreachable (no resolver configuration: {e})")),
    };
    // A resolver that answers "not found" for everything (sandboxed hosts) must not turn into "your domain
    // has no SPF": DNS counts as reachable only when a record that surely exists resolves.
    match tokio::time::timeout(REACH_TIMEOUT, resolver.txt_raw_lookup(CANARY)).await {
        Err(_) => return skipped(format!("DNS unreachable (no answer within {}s)", REACH_TIMEOUT.as_secs())),
        Ok(Ok(bytes)) if String::from_utf8_lossy(&bytes).contains("v=spf1") => {}
        Ok(Ok(_)) => return skipped(format!("DNS unreachable ({CANARY} has no SPF record here)")),
        Ok(Err(e)) => return skipped(format!("DNS unreachable (cannot resolve {CANARY}: {e})")),
    }
    let lookup = |name: String| async {
        match tokio::time::timeout(REACH_TIMEOUT, resolver.txt_raw_lookup(name)).await {
            Ok(Ok(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => None,
        }
    };
    let (spf, dmarc) = tokio::join!(lookup(format!("{domain}.")), lookup(format!("_dmarc.{domain}.")));
    judge(domain, spf.as_deref(), dmarc.as_deref())
}

/// Pure judgement of the TXT records found (`None`: no record).
pub fn judge(domain: &str, spf_txt: Option<&str>, dmarc_txt: Option<&str>) -> Finding {
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    match spf_txt.and_then(|t| t.find("v=spf1").map(|i| &t[i..])) {
        Some(spf) => {
            evidence.push(format!("SPF {domain}: {spf}"));
            if !spf.contains("include:amazonses.com") {
                problems.push("SPF does not include amazonses.com".to_string());
            }
        }
        None => problems.push(format!("no SPF record on {domain}")),
    }
    match dmarc_txt.filter(|t| t.contains("v=DMARC1")) {
        Some(dmarc) => {
            evidence.push(format!("DMARC _dmarc.{domain}: {dmarc}"));
            let tag = |name: &str| {
                dmarc
                    .split(';')
                    .map(str::trim)
                    .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.trim_start().strip_prefix('=')))
            };
            // RFC 7489 §6.3: p=none only monitors; pct below 100 applies the policy to a sample.
            if tag("p").map(str::trim) == Some("none") {
                problems.push("DMARC p=none: spoofed mail is not rejected or quarantined".into());
            }
            if let Some(pct) = tag("pct").and_then(|v| v.trim().parse::<u32>().ok()).filter(|p| *p < 100) {
                evidence.push(format!("DMARC policy applies to {pct}% of failing mail"));
            }
            // RFC 7489 §6.3 adkim/aspf (default r). Strict SPF alignment can never hold with SES's default
            // MAIL FROM (amazonses.com), and strict DKIM needs d= to equal the From domain exactly, so DMARC
            // then rests on a single identifier.
            if tag("aspf").map(str::trim) == Some("s") {
                evidence.push("DMARC aspf=s: SPF aligns only with a MAIL FROM equal to the From domain".into());
            }
            if tag("adkim").map(str::trim) == Some("s") {
                evidence.push(format!("DMARC adkim=s: the DKIM signature must be d={domain} exactly"));
            }
        }
        None => problems.push(format!("no DMARC record at _dmarc.{domain}")),
    }
    let mut f = if problems.is_empty() {
        Finding::new("dns.posture", Status::Ok, format!("{domain} publishes SPF for SES and DMARC"), SOURCE)
    } else {
        Finding::new("dns.posture", Status::Warn, problems.join("; "), SOURCE).fix(format!(
            "Publish (Terraform aws_route53_record): TXT {domain} \"v=spf1 include:amazonses.com ~all\"; TXT \
                _dmarc.{domain} \"v=DMARC1; p=quarantine; adkim=r; aspf=r\"."
        ))
    };
    f.evidence = evidence;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_posture_cases() {
        let spf = "v=spf1 include:amazonses.com ~all";
        let dmarc = "v=DMARC1; p=quarantine; pct=10";
        let cases = [
            ("runbook's posture", Some(spf), Some(dmarc), Status::Ok),
            ("SPF without SES", Some("v=spf1 include:_spf.google.com ~all"), Some(dmarc), Status::Warn),
            ("no SPF", None, Some(dmarc), Status::Warn),
            ("no DMARC", Some(spf), None, Status::Warn),
            ("monitoring-only DMARC", Some(spf), Some("v=DMARC1; p=none"), Status::Warn),
        ];
        for (name, s, d, expected) in cases {
            assert_eq!(judge("thephenom.app", s, d).status, expected, "{name}");
        }
        let strict = judge("thephenom.app", Some(spf), Some("v=DMARC1; p=reject; adkim=s; aspf=s"));
        assert_eq!(strict.status, Status::Ok);
        assert!(strict.evidence.iter().any(|e| e.contains("adkim=s") && e.contains("d=thephenom.app")), "{strict:?}");
        assert!(strict.evidence.iter().any(|e| e.contains("aspf=s")), "{strict:?}");
    }

    #[tokio::test]
    async fn turned_off_is_a_skip_with_a_note() {
        let f = run(Some("thephenom.app"), true).await;
        assert_eq!(f.status, Status::Skip);
        assert!(f.summary.starts_with("skipped:"), "{}", f.summary);
    }
}
