//! SESv2 as the probe reads it (GetEmailIdentity, GetEmailIdentityPolicies, GetAccount —
//! research/aws.md §3), and SES's decision whether a message Cognito hands over really goes out.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::policy::{self, CognitoSender, PolicyDecision};
use crate::scenario::{
    DestinationKind, Identity, MxFailure, Pool, Scenario, SesIdentityArn, VerificationStatus, identity_name_from_arn,
};
use crate::server::AwsError;

/// Why SES did not send a message Cognito handed over. Cognito still answered success: these drops are
/// silent at the Cognito API (seeds/ runbook: "Cognito returns success at the API but SES silently
/// denies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No identity policy lets the Cognito principal send (the two-piece gotcha).
    NoIdentityPolicy,
    /// An identity policy explicitly denies the Cognito principal.
    PolicyDenies,
    /// research/aws.md §3.1: "You can only send email from verified email addresses or domains".
    IdentityNotVerified,
    /// research/aws.md §3.2 `SendingEnabled=false`.
    SendingDisabled,
    /// research/aws.md §3.2: in the sandbox "you can only send email to verified identities".
    SandboxRecipientNotVerified,
    /// research/aws.md §3.1: `REJECT_MESSAGE` while the custom MAIL FROM domain is not verified.
    MailFromNotVerified,
}

/// How SES sends a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Domain of the customer's DKIM signature, when the identity's DKIM is verified.
    pub dkim_domain: Option<String>,
    /// The custom MAIL FROM domain in effect (`None`: SES's default amazonses.com).
    pub mail_from_domain: Option<String>,
    /// Region of the sending identity.
    pub region: String,
    /// Configuration set applied: the pool's, else the identity's default (research/aws.md §2.1).
    pub configuration_set: Option<String>,
}

/// The identity a pool's SourceArn names.
pub fn pool_identity<'s>(scenario: &'s Scenario, pool: &Pool) -> Option<&'s Identity> {
    let arn = pool.email.source_arn.as_deref()?;
    scenario.identity(identity_name_from_arn(arn)?)
}

/// The Region inside an SES identity ARN (`arn:aws:ses:<region>:…`).
fn arn_region(arn: &str) -> Option<&str> {
    SesIdentityArn::parse(arn).map(|a| a.region)
}

/// Whether the identity's policies let Cognito send for `pool`, honouring the missing-policy fault.
fn policy_decision(scenario: &Scenario, identity: &Identity, pool: &Pool) -> PolicyDecision {
    if scenario.faults.identity_policy_missing {
        return PolicyDecision::NotAllowed;
    }
    let identity_arn = scenario.identity_arn(identity);
    let pool_arn = scenario.pool_arn(pool);
    let sender = CognitoSender {
        identity_arn: &identity_arn,
        pool_arn: &pool_arn,
        account_id: scenario.account.id.as_str(),
        pool_region: pool.region(),
    };
    policy::evaluate(identity.policies.iter().map(|(k, v)| (k.as_str(), v.as_str())), &sender).decision
}

/// SES's decision for a message sent on behalf of `pool` through its SourceArn identity to
/// `recipient`. `require_policy`: whether a missing Cognito policy stops the send (DEVELOPER mode per
/// the scenario's delivery rule; always for COGNITO_DEFAULT with a custom FROM, research/aws.md §3.3).
pub fn route(scenario: &Scenario, pool: &Pool, recipient: &str, require_policy: bool) -> Result<Route, Refusal> {
    let identity = pool_identity(scenario, pool).ok_or(Refusal::IdentityNotVerified)?;
    if identity.verification_status != VerificationStatus::Success {
        return Err(Refusal::IdentityNotVerified);
    }
    match policy_decision(scenario, identity, pool) {
        PolicyDecision::Denied { .. } => return Err(Refusal::PolicyDenies),
        PolicyDecision::NotAllowed if require_policy => return Err(Refusal::NoIdentityPolicy),
        _ => {}
    }
    let account = &scenario.account;
    if !account.sending_enabled {
        return Err(Refusal::SendingDisabled);
    }
    if !account.production_access_enabled && !recipient_verified(scenario, recipient) {
        return Err(Refusal::SandboxRecipientNotVerified);
    }
    let mail_from_domain = match &identity.mail_from_domain {
        Some(domain) if identity.mail_from_status == VerificationStatus::Success => Some(domain.clone()),
        // research/aws.md §3.1 BehaviorOnMxFailure; DESIGN.md §5 "SES silently falls back".
        Some(_) if identity.behavior_on_mx_failure == MxFailure::RejectMessage => {
            return Err(Refusal::MailFromNotVerified);
        }
        _ => None,
    };
    let dkim_domain = identity.dkim_domain.clone().filter(|_| identity.dkim_status == VerificationStatus::Success);
    let region = pool.email.source_arn.as_deref().and_then(arn_region).unwrap_or(account.region.as_str()).to_string();
    let configuration_set = pool.email.configuration_set.clone().or_else(|| identity.configuration_set.clone());
    Ok(Route { dkim_domain, mail_from_domain, region, configuration_set })
}

/// The error SES answers Cognito's send with, for a refusal, as Cognito quotes it: "Cognito received the
/// following error from Amazon SES when attempting to send email: …" (research/ses-events-oauth-emf.md
/// §6; research/aws.md §1.5). `delegate`: COGNITO_DEFAULT with a custom FROM, where Cognito sends as its
/// service principal rather than through the service-linked role.
///
/// * No policy / a denying policy: SES's AccessDenied wording, "User `<principal>' is not authorized to
///   perform `ses:SendEmail' on resource `<identity ARN>'" (observed in public reports of SES
///   AccessDenied; the principal Cognito appears as is an inference).
/// * An unverified identity or sandbox recipient: "Email address is not verified. The following
///   identities failed the check in region <REGION>: <address>" (observed, research/aws.md §1.5, §6).
/// * Paused sending and a MAIL FROM domain that is not verified: SES's exception messages (inference).
pub fn refusal_message(scenario: &Scenario, pool: &Pool, recipient: &str, refusal: Refusal, delegate: bool) -> String {
    let account = scenario.account.id.as_str();
    let identity = pool_identity(scenario, pool);
    let identity_arn = identity.map(|i| scenario.identity_arn(i)).unwrap_or_default();
    let region = pool.email.source_arn.as_deref().and_then(arn_region).unwrap_or(scenario.account.region.as_str());
    let text = match refusal {
        Refusal::NoIdentityPolicy | Refusal::PolicyDenies => {
            let principal = if delegate {
                "email.cognito-idp.amazonaws.com".to_string()
            } else {
                format!(
                    "arn:aws:sts::{account}:assumed-role/{}/CognitoIdpEmailService",
                    crate::sending::COGNITO_CALLER_IDENTITY
                )
            };
            format!("User `{principal}' is not authorized to perform `ses:SendEmail' on resource `{identity_arn}'")
        }
        Refusal::IdentityNotVerified => format!(
            "Email address is not verified. The following identities failed the check in region {}: {}",
            region.to_ascii_uppercase(),
            identity.map(|i| i.identity.as_str()).unwrap_or_default()
        ),
        Refusal::SandboxRecipientNotVerified => format!(
            "Email address is not verified. The following identities failed the check in region {}: {recipient}",
            region.to_ascii_uppercase()
        ),
        Refusal::SendingDisabled => "Sending paused for this account.".to_string(),
        Refusal::MailFromNotVerified => format!(
            "The MAIL FROM domain of {} is not verified and its BehaviorOnMxFailure is REJECT_MESSAGE.",
            identity.map(|i| i.identity.as_str()).unwrap_or_default()
        ),
    };
    format!("Cognito received the following error from Amazon SES when attempting to send email: {text}")
}

/// GetConfigurationSetEventDestinations (`GET /v2/email/configuration-sets/{name}/event-destinations`,
/// SESv2 API reference; research/ses-events-oauth-emf.md §1 "Destinations and event types"): each
/// destination's Name, Enabled, MatchingEventTypes and its one destination object —
/// EventBridgeDestination {EventBusArn} ("Only the default bus is supported"), SnsDestination {TopicArn},
/// or CloudWatchDestination {DimensionConfigurations} with the `ses:configuration-set` dimension whose
/// default value is the set's name (research §3). An unknown set is 404 NotFoundException (the message is
/// the twin's wording).
pub fn get_event_destinations(scenario: &Scenario, name: &str) -> Result<Value, AwsError> {
    let set = scenario.configuration_set(name).ok_or_else(|| {
        AwsError::new(404, "NotFoundException", format!("Configuration set <{name}> does not exist."))
    })?;
    let (account, region) = (scenario.account.id.as_str(), scenario.account.region.as_str());
    let destinations: Vec<Value> = set
        .event_destinations
        .iter()
        .map(|d| {
            let types: Vec<Value> = d.matching_event_types.iter().map(|t| json!(t)).collect();
            let mut out = json!({"Name": d.name, "Enabled": d.enabled, "MatchingEventTypes": types});
            match d.kind {
                DestinationKind::Eventbridge => {
                    out["EventBridgeDestination"] =
                        json!({"EventBusArn": format!("arn:aws:events:{region}:{account}:event-bus/default")});
                }
                DestinationKind::Sns => {
                    let topic = d.topic.as_deref().unwrap_or(&d.name);
                    out["SnsDestination"] = json!({"TopicArn": format!("arn:aws:sns:{region}:{account}:{topic}")});
                }
                DestinationKind::Cloudwatch => {
                    out["CloudWatchDestination"] = json!({"DimensionConfigurations": [{
                        "DimensionName": crate::cloudwatch::CONFIGURATION_SET_DIMENSION,
                        "DimensionValueSource": "MESSAGE_TAG",
                        "DefaultDimensionValue": set.name,
                    }]});
                }
            }
            out
        })
        .collect();
    Ok(json!({"EventDestinations": destinations}))
}

/// research/aws.md §3.2 sandbox rule: the recipient address, or its domain, is a verified identity.
fn recipient_verified(scenario: &Scenario, recipient: &str) -> bool {
    let domain = recipient.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    scenario
        .identities
        .iter()
        .filter(|i| i.verification_status == VerificationStatus::Success)
        .any(|i| i.identity.eq_ignore_ascii_case(recipient) || i.identity.eq_ignore_ascii_case(domain))
}

fn not_found(identity: &str) -> AwsError {
    // research/aws.md §3.1 errors: NotFoundException (HTTP 404).
    AwsError::new(404, "NotFoundException", format!("Email identity {identity} does not exist."))
}

/// GET /v2/email/identities/{EmailIdentity} (research/aws.md §3.1).
pub fn get_email_identity(scenario: &Scenario, name: &str, now: DateTime<Utc>) -> Result<Value, AwsError> {
    let identity = scenario.identity(name).ok_or_else(|| not_found(name))?;
    let is_domain = !identity.identity.contains('@');
    let policies = visible_policies(scenario, identity);
    let mut out = json!({
        "IdentityType": if is_domain { "DOMAIN" } else { "EMAIL_ADDRESS" },
        "FeedbackForwardingStatus": true,
        "VerifiedForSendingStatus": identity.verification_status == VerificationStatus::Success,
        "VerificationStatus": identity.verification_status.as_str(),
        "Policies": policies,
        "Tags": [],
    });
    if let Some(domain) = &identity.dkim_domain {
        let tokens: Vec<String> = (1..=3).map(|i| format!("{}{}", dkim_token_stem(domain), i)).collect();
        out["DkimAttributes"] = json!({
            "SigningEnabled": identity.dkim_status == VerificationStatus::Success,
            "Status": identity.dkim_status.as_str(),
            "Tokens": tokens,
            "SigningAttributesOrigin": "AWS_SES",
            "NextSigningKeyLength": "RSA_2048_BIT",
            "CurrentSigningKeyLength": "RSA_2048_BIT",
            "LastKeyGenerationTimestamp": (now - Duration::days(90)).timestamp(),
        });
    } else {
        out["DkimAttributes"] = json!({"SigningEnabled": false, "Status": "NOT_STARTED", "Tokens": []});
    }
    // Without a custom MAIL FROM domain the attributes are omitted (the SDK fills required members).
    if let Some(domain) = &identity.mail_from_domain {
        out["MailFromAttributes"] = json!({
            "MailFromDomain": domain,
            "MailFromDomainStatus": identity.mail_from_status.as_str(),
            "BehaviorOnMxFailure": match identity.behavior_on_mx_failure {
                MxFailure::UseDefaultValue => "USE_DEFAULT_VALUE",
                MxFailure::RejectMessage => "REJECT_MESSAGE",
            },
        });
    }
    if let Some(cs) = &identity.configuration_set {
        out["ConfigurationSetName"] = json!(cs);
    }
    Ok(out)
}

/// GET /v2/email/identities/{EmailIdentity}/policies (research/aws.md §3.2): "If you have not verified
/// the identity, this API will return an error".
pub fn get_email_identity_policies(scenario: &Scenario, name: &str) -> Result<Value, AwsError> {
    let identity = scenario.identity(name).ok_or_else(|| not_found(name))?;
    if identity.verification_status != VerificationStatus::Success {
        return Err(AwsError::new(
            400,
            "BadRequestException",
            format!("Identity {} is not verified.", identity.identity),
        ));
    }
    Ok(json!({"Policies": visible_policies(scenario, identity)}))
}

/// The identity's policies as SES reports them; the missing-policy fault removes them.
fn visible_policies(scenario: &Scenario, identity: &Identity) -> Value {
    if scenario.faults.identity_policy_missing {
        return json!({});
    }
    Value::Object(identity.policies.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// GET /v2/email/account (research/aws.md §3.2).
pub fn get_account(scenario: &Scenario, sent_last_24h: usize) -> Value {
    let a = &scenario.account;
    json!({
        "ProductionAccessEnabled": a.production_access_enabled,
        "SendingEnabled": a.sending_enabled,
        "EnforcementStatus": "HEALTHY",
        "DedicatedIpAutoWarmupEnabled": false,
        "SendQuota": {
            "Max24HourSend": a.max_24_hour_send,
            "MaxSendRate": a.max_send_rate,
            "SentLast24Hours": sent_last_24h as f64,
        },
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    })
}

/// A stable, DKIM-token-like stem derived from the domain (tokens are CNAME labels in real SES).
fn dkim_token_stem(domain: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(domain.as_bytes());
    digest.iter().take(15).map(|b| format!("{:02x}", b)).collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::default_scenario().unwrap()
    }

    #[test]
    fn route_refusals_case_table() {
        type Tweak = fn(&mut Scenario);
        let cases: &[(&str, Tweak, bool, Result<(), Refusal>)] = &[
            ("healthy", |_| {}, true, Ok(())),
            ("policy missing fault", |s| s.faults.identity_policy_missing = true, true, Err(Refusal::NoIdentityPolicy)),
            ("policy missing but not required", |s| s.faults.identity_policy_missing = true, false, Ok(())),
            (
                "identity pending",
                |s| s.identities[0].verification_status = VerificationStatus::Pending,
                true,
                Err(Refusal::IdentityNotVerified),
            ),
            ("sending disabled", |s| s.account.sending_enabled = false, true, Err(Refusal::SendingDisabled)),
            (
                "sandbox, unverified recipient",
                |s| s.account.production_access_enabled = false,
                true,
                Err(Refusal::SandboxRecipientNotVerified),
            ),
            (
                "MAIL FROM failed, reject",
                |s| {
                    s.identities[0].mail_from_domain = Some("mail.thephenom.app".into());
                    s.identities[0].mail_from_status = VerificationStatus::Failed;
                    s.identities[0].behavior_on_mx_failure = MxFailure::RejectMessage;
                },
                true,
                Err(Refusal::MailFromNotVerified),
            ),
        ];
        for (name, tweak, require, want) in cases {
            let mut s = scenario();
            tweak(&mut s);
            let got = route(&s, &s.pools[0], "probe+prod-fcp@mail.test", *require).map(|_| ());
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn mail_from_falls_back_silently_and_dkim_needs_success() {
        let mut s = scenario();
        s.identities[0].mail_from_domain = Some("mail.thephenom.app".into());
        s.identities[0].mail_from_status = VerificationStatus::Failed;
        let r = route(&s, &s.pools[0], "a@b.test", true).unwrap();
        assert_eq!(r.mail_from_domain, None);
        assert_eq!(r.dkim_domain.as_deref(), Some("thephenom.app"));
        s.identities[0].dkim_status = VerificationStatus::Failed;
        assert_eq!(route(&s, &s.pools[0], "a@b.test", true).unwrap().dkim_domain, None);
    }

    #[test]
    fn get_email_identity_shapes() {
        let s = scenario();
        let now = Utc::now();
        let v = get_email_identity(&s, "noreply@thephenom.app", now).unwrap();
        assert_eq!(v["IdentityType"], "EMAIL_ADDRESS");
        assert_eq!(v["VerifiedForSendingStatus"], true);
        assert_eq!(v["DkimAttributes"]["Status"], "SUCCESS");
        assert!(v["Policies"]["AllowCognitoUserPoolsToSend"].as_str().unwrap().contains("cognito-idp.amazonaws.com"));
        assert_eq!(get_email_identity(&s, "nobody.example", now).unwrap_err().status, 404);
    }
}
