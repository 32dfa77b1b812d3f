//! SESv2 reads for `probe doctor`: the sending identity (verification, DKIM, custom MAIL FROM, identity
//! policies) and the account (sandbox, sending enabled, quota). Each call is reduced to a plain struct so the
//! checks that judge them are pure code and testable without a network (research/aws.md §3).
//!
//! Enumerated values keep AWS's spelling as strings (`SUCCESS`, `DOMAIN`, `REJECT_MESSAGE`, …): a value the
//! SDK does not know yet still reaches the report instead of being lost in an `Unknown` variant.

use std::collections::BTreeMap;

use aws_sdk_sesv2::operation::get_account::GetAccountOutput;
use aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityOutput;
use aws_sdk_sesv2::types::{DkimAttributes, MailFromAttributes};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AwsFailure, Clients};

/// An SES identity as GetEmailIdentity reports it (research/aws.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailIdentity {
    /// The identity asked for: an address or a domain, taken from the pool's SourceArn.
    pub name: String,
    /// `EMAIL_ADDRESS`, `DOMAIN` or `MANAGED_DOMAIN`.
    pub identity_type: Option<String>,
    /// research/aws.md §3.1: "You can only send email from verified email addresses or domains".
    pub verified_for_sending: bool,
    /// `PENDING`, `SUCCESS`, `FAILED`, `TEMPORARY_FAILURE` or `NOT_STARTED`; absent on some emulators.
    pub verification_status: Option<String>,
    /// Easy DKIM or BYODKIM state; `None` when SES reported no DKIM attributes at all.
    pub dkim: Option<Dkim>,
    /// Custom MAIL FROM; `None` means SES's default `amazonses.com` MAIL FROM domain.
    pub mail_from: Option<MailFrom>,
    /// Sending-authorization policies, name → policy JSON text, as stored.
    pub policies: BTreeMap<String, String>,
    /// The identity's default configuration set, applied when the sender names none.
    pub configuration_set: Option<String>,
}

/// DKIM state of an identity (research/aws.md §3.1 `DkimAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dkim {
    pub signing_enabled: bool,
    /// `PENDING`, `SUCCESS`, `FAILED`, `TEMPORARY_FAILURE` or `NOT_STARTED`.
    pub status: Option<String>,
    /// The CNAME labels `<token>._domainkey.<domain>` that must be published in DNS.
    pub tokens: Vec<String>,
}

/// A custom MAIL FROM domain (research/aws.md §3.1 `MailFromAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailFrom {
    pub domain: String,
    /// `PENDING`, `SUCCESS`, `FAILED` or `TEMPORARY_FAILURE`.
    pub status: String,
    /// `USE_DEFAULT_VALUE` (silent fall-back to amazonses.com while the MX check fails) or `REJECT_MESSAGE`
    /// (sends fail with `MailFromDomainNotVerified`).
    pub behavior_on_mx_failure: String,
}

impl MailFrom {
    /// research/aws.md §3.1 and DESIGN.md §5: with `USE_DEFAULT_VALUE` and a status other than `SUCCESS`, SES
    /// sends with the amazonses.com MAIL FROM without saying so, and SPF stops aligning.
    pub fn falls_back_silently(&self) -> bool {
        self.status != "SUCCESS" && self.behavior_on_mx_failure == "USE_DEFAULT_VALUE"
    }
}

impl EmailIdentity {
    /// Verified for sending *and* verification `SUCCESS` — what real SES reports for a usable identity.
    /// Some emulators report only one of the two (research/aws.md §4.3, §4.6), so callers that run there read
    /// the fields themselves.
    pub fn is_verified(&self) -> bool {
        self.verified_for_sending && self.verification_status.as_deref() == Some("SUCCESS")
    }

    /// DKIM signing on and verified (research/aws.md §3.1 `DkimAttributes.Status`).
    pub fn dkim_ok(&self) -> bool {
        self.dkim.as_ref().is_some_and(|d| d.signing_enabled && d.status.as_deref() == Some("SUCCESS"))
    }

    /// Reduces a GetEmailIdentity answer for `name`. Pure, so it is tested on SDK-built outputs.
    pub fn from_output(name: &str, out: &GetEmailIdentityOutput) -> EmailIdentity {
        EmailIdentity {
            name: name.to_string(),
            identity_type: out.identity_type().map(|t| t.as_str().to_string()),
            verified_for_sending: out.verified_for_sending_status(),
            verification_status: out.verification_status().map(|s| s.as_str().to_string()),
            dkim: out.dkim_attributes().map(dkim_of),
            mail_from: out.mail_from_attributes().map(mail_from_of),
            policies: policies_of(out.policies()),
            configuration_set: out.configuration_set_name().map(str::to_string),
        }
    }
}

fn dkim_of(d: &DkimAttributes) -> Dkim {
    Dkim {
        signing_enabled: d.signing_enabled(),
        status: d.status().map(|s| s.as_str().to_string()),
        tokens: d.tokens().to_vec(),
    }
}

fn mail_from_of(m: &MailFromAttributes) -> MailFrom {
    MailFrom {
        domain: m.mail_from_domain().to_string(),
        status: m.mail_from_domain_status().as_str().to_string(),
        behavior_on_mx_failure: m.behavior_on_mx_failure().as_str().to_string(),
    }
}

fn policies_of(map: Option<&std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

/// The SES account of the identity's Region as GetAccount reports it (research/aws.md §3.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    /// `false`: the sandbox, where "you can only send email to verified identities".
    pub production_access_enabled: bool,
    pub sending_enabled: bool,
    /// `HEALTHY`, `PROBATION` or `SHUTDOWN`.
    pub enforcement_status: Option<String>,
    /// `None` when SES returned no quota.
    pub quota: Option<SendQuota>,
}

/// research/aws.md §3.2 `SendQuota`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SendQuota {
    /// Mails per rolling 24 hours; −1 means unlimited.
    pub max_24_hour_send: f64,
    /// Mails per second.
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
}

impl SendQuota {
    /// research/aws.md §3.2: "Max24HourSend (−1 means unlimited)".
    pub fn is_unlimited(&self) -> bool {
        self.max_24_hour_send < 0.0
    }

    /// Mails still allowed in the rolling day; `None` when unlimited.
    pub fn remaining_24h(&self) -> Option<f64> {
        (!self.is_unlimited()).then(|| (self.max_24_hour_send - self.sent_last_24_hours).max(0.0))
    }
}

impl Account {
    /// Reduces a GetAccount answer. Pure, so it is tested on SDK-built outputs.
    pub fn from_output(out: &GetAccountOutput) -> Account {
        Account {
            production_access_enabled: out.production_access_enabled(),
            sending_enabled: out.sending_enabled(),
            enforcement_status: out.enforcement_status().map(str::to_string),
            quota: out.send_quota().map(|q| SendQuota {
                max_24_hour_send: q.max24_hour_send(),
                max_send_rate: q.max_send_rate(),
                sent_last_24_hours: q.sent_last24_hours(),
            }),
        }
    }
}

impl Clients {
    /// GetEmailIdentity (research/aws.md §3.1). Call it on [`Clients::in_ses_region`] for the SourceArn's
    /// Region; `name` is the identity part of the SourceArn.
    pub async fn get_email_identity(&self, name: &str) -> Result<EmailIdentity, AwsFailure> {
        let out = super::call("GetEmailIdentity", self.sesv2.get_email_identity().email_identity(name).send()).await?;
        Ok(EmailIdentity::from_output(name, &out))
    }

    /// GetEmailIdentityPolicies (research/aws.md §3.2): name → policy JSON. SES answers with an error for an
    /// identity that is not verified.
    pub async fn get_email_identity_policies(&self, name: &str) -> Result<BTreeMap<String, String>, AwsFailure> {
        let out = super::call(
            "GetEmailIdentityPolicies",
            self.sesv2.get_email_identity_policies().email_identity(name).send(),
        )
        .await?;
        Ok(policies_of(out.policies()))
    }

    /// GetAccount (research/aws.md §3.2): sandbox, sending enabled, enforcement and quota.
    pub async fn get_account(&self) -> Result<Account, AwsFailure> {
        let out = super::call("GetAccount", self.sesv2.get_account().send()).await?;
        Ok(Account::from_output(&out))
    }

    /// GetSuppressedDestination (research/ses-events-oauth-emf.md §2): the address's entry on the account's
    /// suppression list, `None` when it is not on it (SES answers 404 `NotFoundException`).
    /// `region` is the Region these clients read SES in: the removal command names it.
    pub async fn suppressed(&self, address: &str, region: &str) -> Result<Option<Suppressed>, AwsFailure> {
        let result = super::call(
            "GetSuppressedDestination",
            self.sesv2.get_suppressed_destination().email_address(address).send(),
        )
        .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.code() == Some("NotFoundException") => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(out.suppressed_destination().map(|d| Suppressed {
            address: d.email_address().to_string(),
            reason: d.reason().as_str().to_string(),
            since: DateTime::from_timestamp(d.last_update_time().secs(), 0),
            message_id: d.attributes().and_then(|a| a.message_id()).map(str::to_string),
            removal: removal(d.email_address(), region),
            during_run: false,
        }))
    }

    /// The event destinations of a configuration set (GetConfigurationSetEventDestinations): whether SES
    /// publishes fine-grained CloudWatch metrics for it, and where its records go.
    pub async fn event_destinations(&self, set: &str) -> Result<Vec<EventDestination>, AwsFailure> {
        let out = super::call(
            "GetConfigurationSetEventDestinations",
            self.sesv2.get_configuration_set_event_destinations().configuration_set_name(set).send(),
        )
        .await?;
        Ok(out
            .event_destinations()
            .iter()
            .map(|d| EventDestination {
                name: d.name().to_string(),
                enabled: d.enabled(),
                cloudwatch: d.cloud_watch_destination().is_some(),
                eventbridge: d.event_bridge_destination().is_some(),
                sns: d.sns_destination().is_some(),
                types: d.matching_event_types().iter().map(|t| t.as_str().to_string()).collect(),
            })
            .collect())
    }
}

/// An address on the account's suppression list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    pub address: String,
    /// `BOUNCE` or `COMPLAINT`.
    pub reason: String,
    pub since: Option<DateTime<Utc>>,
    /// The message whose bounce or complaint put it there.
    pub message_id: Option<String>,
    /// The exact command that takes the address off the list.
    pub removal: String,
    /// Not on the list when the run checked before the trigger: this run's own mail put it there.
    #[serde(default)]
    pub during_run: bool,
}

/// The command that takes `address` off the account suppression list of `region`. The address is quoted
/// for a POSIX shell (a `'` in it closes, escapes and reopens the quote).
pub fn removal(address: &str, region: &str) -> String {
    let quoted = address.replace('\'', r"'\''");
    format!("aws sesv2 delete-suppressed-destination --email-address '{quoted}' --region {region}")
}

/// One event destination of a configuration set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventDestination {
    pub name: String,
    pub enabled: bool,
    pub cloudwatch: bool,
    pub eventbridge: bool,
    pub sns: bool,
    pub types: Vec<String>,
}

#[cfg(test)]
mod tests {
    use aws_sdk_sesv2::types::{
        BehaviorOnMxFailure, DkimStatus, IdentityType, MailFromDomainStatus, SendQuota as SdkQuota, VerificationStatus,
    };

    use super::*;

    fn mail_from(status: MailFromDomainStatus, behaviour: BehaviorOnMxFailure) -> MailFromAttributes {
        MailFromAttributes::builder()
            .mail_from_domain("mail.thephenom.app")
            .mail_from_domain_status(status)
            .behavior_on_mx_failure(behaviour)
            .build()
            .unwrap()
    }

    #[test]
    fn email_identity_reduction_cases() {
        struct Case {
            name: &'static str,
            out: GetEmailIdentityOutput,
            want_verified: bool,
            want_dkim_ok: bool,
            want_mail_from: Option<(&'static str, bool)>,
        }
        let healthy = || {
            GetEmailIdentityOutput::builder()
                .identity_type(IdentityType::EmailAddress)
                .verified_for_sending_status(true)
                .verification_status(VerificationStatus::Success)
                .dkim_attributes(
                    DkimAttributes::builder()
                        .signing_enabled(true)
                        .status(DkimStatus::Success)
                        .tokens("abc1")
                        .tokens("abc2")
                        .build(),
                )
                .policies("AllowCognito", "{\"Version\":\"2012-10-17\"}")
        };
        let cases = [
            Case {
                name: "healthy",
                out: healthy().build(),
                want_verified: true,
                want_dkim_ok: true,
                want_mail_from: None,
            },
            Case {
                // research/aws.md §4.3: moto reports VerifiedForSendingStatus=false with SUCCESS.
                name: "verified status without sending",
                out: healthy().verified_for_sending_status(false).build(),
                want_verified: false,
                want_dkim_ok: true,
                want_mail_from: None,
            },
            Case {
                name: "dkim pending",
                out: healthy()
                    .dkim_attributes(
                        DkimAttributes::builder().signing_enabled(true).status(DkimStatus::Pending).build(),
                    )
                    .build(),
                want_verified: true,
                want_dkim_ok: false,
                want_mail_from: None,
            },
            Case {
                name: "no dkim attributes",
                out: GetEmailIdentityOutput::builder().verification_status(VerificationStatus::Success).build(),
                want_verified: false,
                want_dkim_ok: false,
                want_mail_from: None,
            },
            Case {
                name: "mail from failed, default value",
                out: healthy()
                    .mail_from_attributes(mail_from(MailFromDomainStatus::Failed, BehaviorOnMxFailure::UseDefaultValue))
                    .build(),
                want_verified: true,
                want_dkim_ok: true,
                want_mail_from: Some(("FAILED", true)),
            },
            Case {
                name: "mail from failed, reject",
                out: healthy()
                    .mail_from_attributes(mail_from(MailFromDomainStatus::Failed, BehaviorOnMxFailure::RejectMessage))
                    .build(),
                want_verified: true,
                want_dkim_ok: true,
                want_mail_from: Some(("FAILED", false)),
            },
            Case {
                name: "mail from verified",
                out: healthy()
                    .mail_from_attributes(mail_from(
                        MailFromDomainStatus::Success,
                        BehaviorOnMxFailure::UseDefaultValue,
                    ))
                    .build(),
                want_verified: true,
                want_dkim_ok: true,
                want_mail_from: Some(("SUCCESS", false)),
            },
        ];
        for case in cases {
            let id = EmailIdentity::from_output("noreply@thephenom.app", &case.out);
            assert_eq!(id.name, "noreply@thephenom.app", "{}", case.name);
            assert_eq!(id.is_verified(), case.want_verified, "{}: verified", case.name);
            assert_eq!(id.dkim_ok(), case.want_dkim_ok, "{}: dkim", case.name);
            let got = id.mail_from.as_ref().map(|m| (m.status.as_str(), m.falls_back_silently()));
            assert_eq!(got, case.want_mail_from, "{}: mail from", case.name);
        }
    }

    #[test]
    fn email_identity_keeps_aws_spellings_and_policies() {
        let out = GetEmailIdentityOutput::builder()
            .identity_type(IdentityType::Domain)
            .verification_status(VerificationStatus::from("SOMETHING_NEW"))
            .policies("b", "{}")
            .policies("a", "{\"x\":1}")
            .configuration_set_name("cognito")
            .build();
        let id = EmailIdentity::from_output("thephenom.app", &out);
        assert_eq!(id.identity_type.as_deref(), Some("DOMAIN"));
        assert_eq!(id.verification_status.as_deref(), Some("SOMETHING_NEW"));
        assert_eq!(id.policies.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(id.policies["a"], "{\"x\":1}");
        assert_eq!(id.configuration_set.as_deref(), Some("cognito"));
    }

    #[test]
    fn account_quota_cases() {
        let quota = |max: f64, sent: f64| {
            SdkQuota::builder().max24_hour_send(max).max_send_rate(14.0).sent_last24_hours(sent).build()
        };
        let cases: [(&str, GetAccountOutput, Option<bool>, Option<f64>); 4] = [
            (
                "production, quota left",
                GetAccountOutput::builder()
                    .production_access_enabled(true)
                    .sending_enabled(true)
                    .enforcement_status("HEALTHY")
                    .send_quota(quota(50000.0, 120.0))
                    .build(),
                Some(false),
                Some(49880.0),
            ),
            (
                "unlimited",
                GetAccountOutput::builder().production_access_enabled(true).send_quota(quota(-1.0, 5.0)).build(),
                Some(true),
                None,
            ),
            (
                "sandbox, quota used up",
                GetAccountOutput::builder().send_quota(quota(200.0, 230.0)).build(),
                Some(false),
                Some(0.0),
            ),
            ("no quota", GetAccountOutput::builder().build(), None, None),
        ];
        for (name, out, want_unlimited, want_remaining) in cases {
            let account = Account::from_output(&out);
            assert_eq!(account.quota.map(|q| q.is_unlimited()), want_unlimited, "{name}");
            assert_eq!(account.quota.and_then(|q| q.remaining_24h()), want_remaining, "{name}");
        }
        let healthy = Account::from_output(
            &GetAccountOutput::builder()
                .production_access_enabled(true)
                .sending_enabled(true)
                .enforcement_status("HEALTHY")
                .build(),
        );
        assert!(healthy.production_access_enabled && healthy.sending_enabled);
        assert_eq!(healthy.enforcement_status.as_deref(), Some("HEALTHY"));
    }
}
