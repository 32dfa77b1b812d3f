//! Cognito: read the test user and the pool's email configuration, and make Cognito send a message.
//! Trigger calls go through the client with retries disabled (aws.md §1.8).

use aws_sdk_cognitoidentityprovider::types::{DeliveryMediumType, MessageActionType};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;

use super::trigger::Trigger;
use super::{AwsFailure, Clients, arn};
use crate::secret::Secret;

/// The test user as AdminGetUser reports it (aws.md §1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub username: String,
    pub status: UserStatus,
    pub enabled: bool,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// `UserStatus` of AdminGetUser (research/aws.md §1.1). `Other` keeps a status this version does not know
/// (AWS adds them), spelled as AWS spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserStatus {
    ForceChangePassword,
    Confirmed,
    ResetRequired,
    Unconfirmed,
    ExternalProvider,
    Archived,
    Compromised,
    /// AWS's own `UNKNOWN`, and an absent status.
    Unknown,
    Other(String),
}

impl UserStatus {
    /// From AWS's spelling (`FORCE_CHANGE_PASSWORD`, …).
    pub fn from_aws(s: &str) -> UserStatus {
        match s {
            "FORCE_CHANGE_PASSWORD" => UserStatus::ForceChangePassword,
            "CONFIRMED" => UserStatus::Confirmed,
            "RESET_REQUIRED" => UserStatus::ResetRequired,
            "UNCONFIRMED" => UserStatus::Unconfirmed,
            "EXTERNAL_PROVIDER" => UserStatus::ExternalProvider,
            "ARCHIVED" => UserStatus::Archived,
            "COMPROMISED" => UserStatus::Compromised,
            "UNKNOWN" | "" => UserStatus::Unknown,
            other => UserStatus::Other(other.to_string()),
        }
    }

    /// As AWS spells it.
    pub fn as_aws(&self) -> &str {
        match self {
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ResetRequired => "RESET_REQUIRED",
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::ExternalProvider => "EXTERNAL_PROVIDER",
            UserStatus::Archived => "ARCHIVED",
            UserStatus::Compromised => "COMPROMISED",
            UserStatus::Unknown => "UNKNOWN",
            UserStatus::Other(s) => s,
        }
    }
}

impl std::fmt::Display for UserStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_aws())
    }
}

/// Lets callers compare a status with AWS's spelling (`user.status == "CONFIRMED"`).
impl PartialEq<&str> for UserStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_aws() == *other
    }
}

impl Serialize for UserStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_aws())
    }
}

/// `EmailSendingAccount` of the pool's `EmailConfiguration` (research/aws.md §1.5). An absent
/// configuration is the default, COGNITO_DEFAULT (§4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendingAccount {
    /// Cognito's own mailer: 50 mails a day, generic sender, invisible in the account's SES metrics.
    CognitoDefault,
    /// The pool sends through the customer's SES identity (`SourceArn`).
    Developer,
    Other(String),
}

impl SendingAccount {
    pub fn from_aws(s: &str) -> SendingAccount {
        match s {
            "COGNITO_DEFAULT" => SendingAccount::CognitoDefault,
            "DEVELOPER" => SendingAccount::Developer,
            other => SendingAccount::Other(other.to_string()),
        }
    }

    pub fn as_aws(&self) -> &str {
        match self {
            SendingAccount::CognitoDefault => "COGNITO_DEFAULT",
            SendingAccount::Developer => "DEVELOPER",
            SendingAccount::Other(s) => s,
        }
    }
}

impl std::fmt::Display for SendingAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_aws())
    }
}

impl PartialEq<&str> for SendingAccount {
    fn eq(&self, other: &&str) -> bool {
        self.as_aws() == *other
    }
}

impl Serialize for SendingAccount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_aws())
    }
}

/// The pool's email configuration (DescribeUserPool `EmailConfiguration`, aws.md §1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pool {
    pub id: String,
    pub arn: Option<String>,
    pub sending_account: SendingAccount,
    pub source_arn: Option<String>,
    /// The From header as stored (`Example <noreply@example.com>` or a bare address).
    pub from: Option<String>,
    pub reply_to: Option<String>,
    pub configuration_set: Option<String>,
}

impl Pool {
    pub fn is_developer(&self) -> bool {
        self.sending_account == SendingAccount::Developer
    }

    /// The SES identity of SourceArn, when it is one.
    pub fn ses_identity_arn(&self) -> Option<arn::SesIdentity<'_>> {
        self.source_arn.as_deref().and_then(arn::ses_identity)
    }

    /// Region of the SES identity: the SourceArn's region field.
    pub fn ses_region(&self) -> Option<&str> {
        self.ses_identity_arn().map(|a| a.region)
    }

    /// The SES identity name from SourceArn (aws.md §3.1: "Take the identity name from SourceArn").
    pub fn ses_identity(&self) -> Option<&str> {
        self.ses_identity_arn().map(|a| a.name)
    }

    /// The account that owns the pool: the account field of the pool ARN, else of the SourceArn.
    pub fn account(&self) -> Option<&str> {
        [self.arn.as_deref(), self.source_arn.as_deref()].into_iter().flatten().find_map(arn::account)
    }

    /// Address the mail comes from: the address inside `From`, or Cognito's default sender
    /// `no-reply@verificationemail.com` (aws.md §1.5) when COGNITO_DEFAULT has no custom From.
    pub fn sender_address(&self) -> String {
        match &self.from {
            Some(from) => crate::address::address_of(from),
            None => "no-reply@verificationemail.com".to_string(),
        }
    }
}

/// An app client as DescribeUserPoolClient reports it: the probe needs its secret for `SecretHash`
/// (research/aws.md §1.2) and `doctor` needs to know whether ForgotPassword hides unknown users (§1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppClient {
    pub id: String,
    pub name: Option<String>,
    /// The client secret; `Debug` is redacted and JSON only says whether there is one.
    #[serde(rename = "has_secret", serialize_with = "serialize_is_some")]
    pub secret: Option<Secret>,
    /// `LEGACY` or `ENABLED`; AWS's default `LEGACY` when the field is absent (research/aws.md §1.1).
    pub prevent_user_existence_errors: String,
}

impl AppClient {
    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// research/aws.md §1.1: with `ENABLED`, ForgotPassword for an unknown user answers with a simulated
    /// delivery, so a typo in the probe's username "succeeds"; AdminGetUser must run first.
    pub fn hides_unknown_users(&self) -> bool {
        self.prevent_user_existence_errors == "ENABLED"
    }
}

fn serialize_is_some<S: serde::Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(value.is_some())
}

/// Where Cognito says it sent the message (masked destination; never parsed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub medium: Option<String>,
    pub destination: Option<String>,
}

impl Delivery {
    /// From the `CodeDeliveryDetails` that ForgotPassword and ResendConfirmationCode return.
    fn from_details(d: Option<&aws_sdk_cognitoidentityprovider::types::CodeDeliveryDetailsType>) -> Delivery {
        Delivery {
            medium: d.and_then(|d| d.delivery_medium()).map(|m| m.as_str().to_string()),
            destination: d.and_then(|d| d.destination()).map(str::to_string),
        }
    }
}

/// `SecretHash = Base64(HMAC_SHA256(key = client secret, message = Username + ClientId))` (aws.md §1.2).
pub fn secret_hash(client_secret: &Secret, username: &str, client_id: &str) -> String {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(client_secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn attribute<'a>(attrs: &'a [aws_sdk_cognitoidentityprovider::types::AttributeType], name: &str) -> Option<&'a str> {
    attrs.iter().find(|a| a.name() == name).and_then(|a| a.value())
}

impl Clients {
    /// AdminGetUser.
    pub async fn admin_get_user(&self, pool_id: &str, username: &str) -> Result<User, AwsFailure> {
        let out =
            super::call("AdminGetUser", self.cognito.admin_get_user().user_pool_id(pool_id).username(username).send())
                .await?;
        let attrs = out.user_attributes();
        Ok(User {
            username: out.username().to_string(),
            status: UserStatus::from_aws(out.user_status().map(|s| s.as_str()).unwrap_or("UNKNOWN")),
            enabled: out.enabled(),
            email: attribute(attrs, "email").map(str::to_string),
            email_verified: attribute(attrs, "email_verified") == Some("true"),
        })
    }

    /// DescribeUserPool, reduced to what the probe needs.
    pub async fn describe_user_pool(&self, pool_id: &str) -> Result<Pool, AwsFailure> {
        let out =
            super::call("DescribeUserPool", self.cognito.describe_user_pool().user_pool_id(pool_id).send()).await?;
        let pool = out.user_pool();
        let email = pool.and_then(|p| p.email_configuration());
        Ok(Pool {
            id: pool.and_then(|p| p.id()).unwrap_or(pool_id).to_string(),
            arn: pool.and_then(|p| p.arn()).map(str::to_string),
            // An absent EmailConfiguration means the default, COGNITO_DEFAULT (aws.md §4.2, §1.5).
            sending_account: SendingAccount::from_aws(
                email.and_then(|e| e.email_sending_account()).map(|a| a.as_str()).unwrap_or("COGNITO_DEFAULT"),
            ),
            source_arn: email.and_then(|e| e.source_arn()).map(str::to_string),
            from: email.and_then(|e| e.from()).map(str::to_string),
            reply_to: email.and_then(|e| e.reply_to_email_address()).map(str::to_string),
            configuration_set: email.and_then(|e| e.configuration_set()).map(str::to_string),
        })
    }

    /// DescribeUserPoolClient, reduced to what the probe needs (IAM `cognito-idp:DescribeUserPoolClient`,
    /// research/aws.md §1.2).
    pub async fn describe_user_pool_client(&self, pool_id: &str, client_id: &str) -> Result<AppClient, AwsFailure> {
        let out = super::call(
            "DescribeUserPoolClient",
            self.cognito.describe_user_pool_client().user_pool_id(pool_id).client_id(client_id).send(),
        )
        .await?;
        let client = out.user_pool_client();
        Ok(AppClient {
            id: client.and_then(|c| c.client_id()).unwrap_or(client_id).to_string(),
            name: client.and_then(|c| c.client_name()).map(str::to_string),
            secret: client.and_then(|c| c.client_secret()).filter(|s| !s.is_empty()).map(Secret::new),
            prevent_user_existence_errors: client
                .and_then(|c| c.prevent_user_existence_errors())
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "LEGACY".into()),
        })
    }

    /// Makes Cognito send one message. No retries: see [`Clients::cognito_trigger`].
    pub async fn trigger(
        &self,
        trigger: Trigger,
        pool_id: &str,
        username: &str,
        client_id: Option<&str>,
        client_secret: Option<&Secret>,
    ) -> Result<Delivery, AwsFailure> {
        let c = &self.cognito_trigger;
        let hash = match (client_id, client_secret) {
            (Some(id), Some(secret)) => Some(secret_hash(secret, username, id)),
            _ => None,
        };
        let op = trigger.operation();
        match trigger {
            Trigger::Resend => {
                // DesiredDeliveryMediums defaults to SMS: always ask for EMAIL (aws.md §1.4).
                super::call(
                    op,
                    c.admin_create_user()
                        .user_pool_id(pool_id)
                        .username(username)
                        .message_action(MessageActionType::Resend)
                        .desired_delivery_mediums(DeliveryMediumType::Email)
                        .send(),
                )
                .await?;
                Ok(Delivery { medium: Some("EMAIL".into()), destination: None })
            }
            Trigger::AdminResetUserPassword => {
                super::call(op, c.admin_reset_user_password().user_pool_id(pool_id).username(username).send()).await?;
                Ok(Delivery { medium: Some("EMAIL".into()), destination: None })
            }
            Trigger::ForgotPassword => {
                let out = super::call(
                    op,
                    c.forgot_password()
                        .client_id(client_id.unwrap_or_default())
                        .username(username)
                        .set_secret_hash(hash)
                        .send(),
                )
                .await?;
                Ok(Delivery::from_details(out.code_delivery_details()))
            }
            Trigger::ResendConfirmationCode => {
                let out = super::call(
                    op,
                    c.resend_confirmation_code()
                        .client_id(client_id.unwrap_or_default())
                        .username(username)
                        .set_secret_hash(hash)
                        .send(),
                )
                .await?;
                Ok(Delivery::from_details(out.code_delivery_details()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_matches_the_documented_formula() {
        // Reference value computed with: printf 'useridclientid' | openssl dgst -sha256 -hmac 'secret' -binary | base64
        let hash = secret_hash(&Secret::new("secret"), "userid", "clientid");
        assert_eq!(hash, "X+MTlBcB7whLQbxNv5nuawy0+B7AmW7qxSlsRHdQgZo=");
    }

    #[test]
    fn pool_derives_identity_region_and_sender() {
        let pool = Pool {
            id: "us-east-1_knEL7cqS3".into(),
            arn: None,
            sending_account: SendingAccount::Developer,
            source_arn: Some("arn:aws:ses:eu-west-1:657033058608:identity/noreply@example.com".into()),
            from: Some("Example <NoReply@example.com>".into()),
            reply_to: None,
            configuration_set: None,
        };
        assert_eq!(pool.ses_region(), Some("eu-west-1"));
        assert_eq!(pool.ses_identity(), Some("noreply@example.com"));
        assert_eq!(pool.sender_address(), "noreply@example.com");
        assert_eq!(pool.account(), Some("657033058608"));
        let default = Pool { from: None, sending_account: SendingAccount::CognitoDefault, source_arn: None, ..pool };
        assert_eq!(default.sender_address(), "no-reply@verificationemail.com");
        assert_eq!(default.ses_region(), None);
    }

    #[test]
    fn app_client_redacts_its_secret() {
        let client = AppClient {
            id: "oc9is0j8ht9lgmxg9edn581u33".into(),
            name: Some("backend".into()),
            secret: Some(Secret::new("canary-client-secret")),
            prevent_user_existence_errors: "LEGACY".into(),
        };
        assert!(!format!("{client:?}").contains("canary-client-secret"));
        let json = serde_json::to_string(&client).unwrap();
        assert!(!json.contains("canary-client-secret"), "{json}");
        assert!(json.contains("\"has_secret\":true"), "{json}");
        assert!(client.has_secret() && !client.hides_unknown_users());
    }
}
