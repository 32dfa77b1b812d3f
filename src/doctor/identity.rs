//! Checks of the SES identity the pool's SourceArn names (GetEmailIdentity, research/aws.md §3.1): it
//! exists, is verified and verified for sending, DKIM is SUCCESS, and the custom MAIL FROM domain is
//! verified — or what SES does when it is not (`USE_DEFAULT_VALUE`: the silent fallback to amazonses.com).

use super::{Finding, Status, is_own_trouble};
use crate::authres::Requirement;
use crate::aws::AwsFailure;
use crate::aws::ses::EmailIdentity;
use crate::config::ExpectSettings;

const SOURCE: &str = "research/aws.md §3.1 (GetEmailIdentity)";

/// Judges the identity `name` as read (or not) from SES.
pub fn check(name: &str, read: &Result<EmailIdentity, AwsFailure>, expect: &ExpectSettings) -> Vec<Finding> {
    let identity = match read {
        Ok(identity) => identity,
        Err(err) if is_own_trouble(err) => return vec![Finding::aws_unknown("ses.identity", err)],
        Err(err) => {
            let status = if err.code() == Some("NotFoundException") { "does not exist" } else { "cannot be read" };
            return vec![
                Finding::new(
                    "ses.identity",
                    Status::Fail,
                    format!(
                        "SES identity {name} {status} in the SourceArn's \
                    Region: {err}"
                    ),
                    SOURCE,
                )
                .fix(format!(
                    "Create and verify the identity (Terraform: resource \"aws_ses_email_identity\" {{ email = \
                            \"{name}\" }} or aws_sesv2_email_identity), or fix the pool's source_arn."
                )),
            ];
        }
    };
    vec![verified(identity), dkim(identity, expect), mail_from(identity, expect)]
}

fn verified(identity: &EmailIdentity) -> Finding {
    let status_text = identity.verification_status.as_deref().unwrap_or("(none)");
    let evidence = format!(
        "VerificationStatus = {status_text}, VerifiedForSendingStatus = {}, IdentityType = {}",
        identity.verified_for_sending,
        identity.identity_type.as_deref().unwrap_or("?")
    );
    if identity.is_verified() {
        return Finding::new(
            "ses.identity",
            Status::Ok,
            format!("SES identity {} is verified for sending", identity.name),
            SOURCE,
        )
        .evidence(evidence);
    }
    // §3.1: "You can only send email from verified email addresses or domains".
    Finding::new(
        "ses.identity",
        Status::Fail,
        format!(
            "SES identity {} is not verified for sending (status {status_text}): SES refuses every send",
            identity.name
        ),
        SOURCE,
    )
    .evidence(evidence)
    .fix(
        "Complete the verification: click the link SES mailed to the address, or publish the domain's DKIM CNAMEs \
        (Terraform: aws_route53_record for each token, aws_ses_domain_identity_verification).",
    )
}

fn dkim(identity: &EmailIdentity, expect: &ExpectSettings) -> Finding {
    const DKIM_SOURCE: &str =
        "research/aws.md §3.1 DkimAttributes; runbook: \"noreply@thephenom.app is DKIM-signed\"; DESIGN.md §5";
    let evidence = match &identity.dkim {
        Some(d) => format!(
            "DKIM SigningEnabled = {}, Status = {}, tokens = {}",
            d.signing_enabled,
            d.status.as_deref().unwrap_or("(none)"),
            d.tokens.len()
        ),
        None => "no DKIM attributes".to_string(),
    };
    if identity.dkim_ok() {
        return Finding::new("ses.dkim", Status::Ok, "DKIM signing on, status SUCCESS", DKIM_SOURCE).evidence(evidence);
    }
    // With SES's default MAIL FROM, DMARC can only pass through an aligned DKIM signature (DESIGN.md §5), so
    // a probe that expects DKIM to pass fails here; one that accepts any result is only warned.
    let status = if expect.dkim == Requirement::Pass { Status::Fail } else { Status::Warn };
    Finding::new(
        "ses.dkim",
        status,
        "DKIM is not signing with status SUCCESS: mail goes out unsigned for your domain, DMARC fails and Junk follows",
        DKIM_SOURCE,
    )
    .evidence(evidence)
    .fix(
        r#"Enable Easy DKIM and publish its three CNAMEs (Terraform):
  resource "aws_ses_domain_dkim" "main" { domain = "thephenom.app" }
  resource "aws_route53_record" "dkim" {
    count   = 3
    zone_id = var.zone_id
    name    = "${aws_ses_domain_dkim.main.dkim_tokens[count.index]}._domainkey"
    type    = "CNAME"
    ttl     = 600
    records = ["${aws_ses_domain_dkim.main.dkim_tokens[count.index]}.dkim.amazonses.com"]
  }"#,
    )
}

fn mail_from(identity: &EmailIdentity, expect: &ExpectSettings) -> Finding {
    const MF_SOURCE: &str = "research/aws.md §3.1 MailFromAttributes (BehaviorOnMxFailure); DESIGN.md §5";
    let Some(m) = &identity.mail_from else {
        let mut f = Finding::new(
            "ses.mail_from",
            Status::Ok,
            "default MAIL FROM (amazonses.com): SPF passes but does not align; DMARC relies on DKIM",
            MF_SOURCE,
        )
        .evidence("no custom MAIL FROM domain");
        if let Some(wanted) = &expect.mail_from_domain {
            f.status = Status::Warn;
            f.summary =
                format!("the probe expects MAIL FROM {wanted}, but the identity has no custom MAIL FROM domain");
            f.fix = format!(
                "Configure it (Terraform): resource \"aws_ses_domain_mail_from\" \"main\" {{ domain = \"{}\" \
                    mail_from_domain = \"{wanted}\" behavior_on_mx_failure = \"UseDefaultValue\" }}",
                domain_of(&identity.name)
            );
        }
        return f;
    };
    let evidence = format!(
        "MailFromDomain = {}, MailFromDomainStatus = {}, BehaviorOnMxFailure = {}",
        m.domain, m.status, m.behavior_on_mx_failure
    );
    let mx_fix = format!(
        "Publish the MAIL FROM records (Terraform): aws_route53_record \"{d}\" MX \"10 \
            feedback-smtp.<region>.amazonses.com\" and TXT \"v=spf1 include:amazonses.com ~all\".",
        d = m.domain
    );
    let mut finding = if m.status == "SUCCESS" {
        Finding::new(
            "ses.mail_from",
            Status::Ok,
            format!("custom MAIL FROM {} verified: SPF aligns", m.domain),
            MF_SOURCE,
        )
    } else if m.falls_back_silently() {
        Finding::new(
            "ses.mail_from",
            Status::Warn,
            format!(
                "custom MAIL FROM {} is {}: SES silently falls back to amazonses.com (USE_DEFAULT_VALUE), SPF stops \
                    aligning",
                m.domain, m.status
            ),
            MF_SOURCE,
        )
        .fix(mx_fix)
    } else {
        Finding::new(
            "ses.mail_from",
            Status::Fail,
            format!(
                "custom MAIL FROM {} is {} and BehaviorOnMxFailure = {}: SES rejects every send \
                    (MailFromDomainNotVerified)",
                m.domain, m.status, m.behavior_on_mx_failure
            ),
            MF_SOURCE,
        )
        .fix(mx_fix)
    };
    finding = finding.evidence(evidence);
    if let Some(wanted) = expect.mail_from_domain.as_deref().filter(|w| !w.eq_ignore_ascii_case(&m.domain)) {
        finding = finding.evidence(format!("the probe file expects MAIL FROM {wanted}"));
        if finding.status == Status::Ok {
            finding.status = Status::Warn;
            finding.summary =
                format!("identity's MAIL FROM {} differs from the probe's expect.mail_from_domain {wanted}", m.domain);
            finding.fix =
                "Update expect.mail_from_domain in the probe file or the identity's MAIL FROM (Terraform).".into();
        }
    }
    finding
}

fn domain_of(identity: &str) -> &str {
    identity.rsplit_once('@').map(|(_, d)| d).unwrap_or(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ses::{Dkim, MailFrom};

    fn identity() -> EmailIdentity {
        EmailIdentity {
            name: "noreply@thephenom.app".into(),
            identity_type: Some("EMAIL_ADDRESS".into()),
            verified_for_sending: true,
            verification_status: Some("SUCCESS".into()),
            dkim: Some(Dkim { signing_enabled: true, status: Some("SUCCESS".into()), tokens: vec![] }),
            mail_from: None,
            policies: Default::default(),
            configuration_set: None,
        }
    }

    fn status_of(findings: &[Finding], check: &str) -> Option<Status> {
        findings.iter().find(|f| f.check == check).map(|f| f.status)
    }

    #[test]
    fn identity_checks_judge_each_state() {
        use Status::*;
        let mail_from = |status: &str, behavior: &str| {
            Some(MailFrom {
                domain: "mail.thephenom.app".into(),
                status: status.into(),
                behavior_on_mx_failure: behavior.into(),
            })
        };
        #[allow(clippy::type_complexity)] // a case table reads best as tuples
        let cases: Vec<(&str, Box<dyn Fn(&mut EmailIdentity)>, &str, Status)> = vec![
            ("healthy", Box::new(|_| {}), "ses.identity", Ok),
            (
                "pending verification",
                Box::new(|i| i.verification_status = Some("PENDING".into())),
                "ses.identity",
                Fail,
            ),
            ("not verified for sending", Box::new(|i| i.verified_for_sending = false), "ses.identity", Fail),
            ("dkim success", Box::new(|_| {}), "ses.dkim", Ok),
            ("dkim failed", Box::new(|i| i.dkim.as_mut().unwrap().status = Some("FAILED".into())), "ses.dkim", Fail),
            ("dkim not signing", Box::new(|i| i.dkim.as_mut().unwrap().signing_enabled = false), "ses.dkim", Fail),
            ("no dkim", Box::new(|i| i.dkim = None), "ses.dkim", Fail),
            ("default mail from", Box::new(|_| {}), "ses.mail_from", Ok),
            (
                "custom mail from verified",
                Box::new(move |i| i.mail_from = mail_from("SUCCESS", "USE_DEFAULT_VALUE")),
                "ses.mail_from",
                Ok,
            ),
            (
                "silent fallback",
                Box::new(move |i| i.mail_from = mail_from("FAILED", "USE_DEFAULT_VALUE")),
                "ses.mail_from",
                Warn,
            ),
            (
                "reject while unverified",
                Box::new(move |i| i.mail_from = mail_from("PENDING", "REJECT_MESSAGE")),
                "ses.mail_from",
                Fail,
            ),
        ];
        for (name, mutate, check_id, expected) in cases {
            let mut i = identity();
            mutate(&mut i);
            let findings = check(&i.name.clone(), &Result::Ok(i), &ExpectSettings::default());
            assert_eq!(status_of(&findings, check_id), Some(expected), "{name}: {findings:#?}");
        }
    }

    #[test]
    fn missing_identity_fails_and_unreachable_ses_is_unknown() {
        let not_found = AwsFailure::Service {
            operation: "GetEmailIdentity",
            code: "NotFoundException".into(),
            message: "no".into(),
        };
        let findings = check("noreply@thephenom.app", &Err(not_found), &ExpectSettings::default());
        assert_eq!(status_of(&findings, "ses.identity"), Some(Status::Fail));
        assert!(findings[0].summary.contains("does not exist"), "{}", findings[0].summary);
        let down = AwsFailure::Unreachable { operation: "GetEmailIdentity", detail: "connection refused".into() };
        let findings = check("noreply@thephenom.app", &Err(down), &ExpectSettings::default());
        assert_eq!(status_of(&findings, "ses.identity"), Some(Status::Unknown));
    }

    #[test]
    fn dkim_is_only_warned_when_the_probe_accepts_any_result() {
        let mut i = identity();
        i.dkim = None;
        let expect = ExpectSettings { dkim: Requirement::Any, ..ExpectSettings::default() };
        let findings = check("noreply@thephenom.app", &Ok(i), &expect);
        assert_eq!(status_of(&findings, "ses.dkim"), Some(Status::Warn));
    }
}
