//! Cognito user pools as the probe uses them (AWS JSON 1.1, `AWSCognitoIdentityProviderService.*`):
//! AdminGetUser, AdminCreateUser (RESEND, and plain creation), ForgotPassword, AdminResetUserPassword,
//! ResendConfirmationCode, DescribeUserPool, DescribeUserPoolClient, GetLogDeliveryConfiguration — with
//! the status rules, exception
//! names and messages, SecretHash, PreventUserExistenceErrors and per-user limits of
//! research/aws.md §1. Rendering of the pool's templates happens here; [`crate::sending`] decides
//! what SES does with the result.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Shared;
use crate::State;
use crate::scenario::{Client, Pool, PreventUserExistenceErrors, RecoveryMechanism, User, UserStatus, is_pool_id};
use crate::sending::{self, Email, SendOutcome};
use crate::server::AwsError;

/// Operations that Cognito serves without IAM credentials (research/aws.md §1.2: "you can't use IAM
/// credentials to authorize requests"; the Rust SDK sends them unsigned).
pub const UNSIGNED_OPERATIONS: [&str; 2] = ["ForgotPassword", "ResendConfirmationCode"];

/// Runs one Cognito operation on the twin's state.
pub(crate) fn call(shared: &Shared, operation: &str, input: &Value) -> Result<Value, AwsError> {
    let mut state = shared.lock();
    // Faults first: a throttled or failing Cognito answers before looking at the request.
    if state.scenario.faults.throttles(operation) {
        // research/aws.md §1.6: exceeding a category's request rate gives TooManyRequestsException.
        return Err(AwsError::new(400, "TooManyRequestsException", "Rate exceeded"));
    }
    if let Some((name, message)) = state.scenario.faults.take_exception(operation) {
        let status = if name == "InternalErrorException" { 500 } else { 400 };
        let message = message.unwrap_or_else(|| format!("{name} (injected by the twin's faults)"));
        return Err(AwsError::new(status, &name, message));
    }
    if !input.is_object() {
        return Err(AwsError::new(
            400,
            "SerializationException",
            format!("Start of structure or map found where not expected: {input}"),
        ));
    }
    let op = Op { shared, input };
    match operation {
        "AdminGetUser" => op.admin_get_user(&state),
        "AdminCreateUser" => op.admin_create_user(&mut state),
        "ForgotPassword" => op.forgot_password(&mut state),
        "AdminResetUserPassword" => op.admin_reset_user_password(&mut state),
        "ResendConfirmationCode" => op.resend_confirmation_code(&mut state),
        "DescribeUserPool" => op.describe_user_pool(&state),
        "DescribeUserPoolClient" => op.describe_user_pool_client(&state),
        "GetLogDeliveryConfiguration" => op.get_log_delivery_configuration(&state),
        other => Err(unknown_operation(other)),
    }
}

/// The error AWS JSON services return for an operation they do not have.
pub fn unknown_operation(operation: &str) -> AwsError {
    AwsError::new(
        400,
        "UnknownOperationException",
        format!("Unknown operation: AWSCognitoIdentityProviderService.{operation}"),
    )
}

struct Op<'a> {
    shared: &'a Shared,
    input: &'a Value,
}

fn lower_camel(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// Cognito's validation failure shape: InvalidParameterException "1 validation error detected: Value
/// … at 'userPoolId' failed to satisfy constraint: …" [observed: boto/boto3#3581,
/// anomalyco/guide#127 quote it verbatim].
fn validation(field: &str, value: Option<&str>, constraint: &str) -> AwsError {
    let value = value.map_or("null".to_string(), |v| format!("'{v}'"));
    AwsError::new(
        400,
        "InvalidParameterException",
        format!(
            "1 validation error detected: Value {value} at '{}' failed to satisfy constraint: {constraint}",
            lower_camel(field)
        ),
    )
}

fn not_authorized(message: &str) -> AwsError {
    AwsError::new(400, "NotAuthorizedException", message)
}

/// research/aws.md §1.1: FORCE_CHANGE_PASSWORD (and other non-resettable states) → NotAuthorizedException.
const CANNOT_RESET: &str = "User password cannot be reset in the current state.";
/// research/aws.md §1.1, "disabled" row.
const USER_DISABLED: &str = "User is disabled.";
/// research/aws.md §1.1: no verified contact attribute.
const NO_VERIFIED_CONTACT: &str =
    "Cannot reset password for the user as there is no registered/verified email or phone_number";
/// research/aws.md §1.1/§1.6: the per-user attempt limit.
const ATTEMPT_LIMIT: &str = "Attempt limit exceeded, please try after some time.";

impl Op<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    fn string(&self, field: &str) -> Result<Option<&str>, AwsError> {
        match self.input.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(AwsError::new(400, "SerializationException", format!("{field}: expected a string, got {other}")))
            }
        }
    }

    fn required(&self, field: &str) -> Result<&str, AwsError> {
        match self.string(field)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(s) => Err(validation(field, Some(s), "Member must have length greater than or equal to 1")),
            None => Err(validation(field, None, "Member must not be null")),
        }
    }

    fn pool_index(&self, state: &State) -> Result<usize, AwsError> {
        let id = self.required("UserPoolId")?;
        if !is_pool_id(id) {
            return Err(validation(
                "UserPoolId",
                Some(id),
                r"Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+",
            ));
        }
        state
            .scenario
            .pools
            .iter()
            .position(|p| p.id.as_str() == id)
            .ok_or_else(|| AwsError::new(400, "ResourceNotFoundException", format!("User pool {id} does not exist.")))
    }

    /// The app client named by `ClientId`, across all pools.
    fn client(&self, state: &State) -> Result<(usize, Client), AwsError> {
        let id = self.required("ClientId")?;
        for (i, pool) in state.scenario.pools.iter().enumerate() {
            if let Some(c) = pool.clients.iter().find(|c| c.id == id) {
                return Ok((i, c.clone()));
            }
        }
        Err(AwsError::new(400, "ResourceNotFoundException", format!("User pool client {id} does not exist.")))
    }

    /// research/aws.md §1.2: SecretHash = Base64(HMAC_SHA256(client secret, Username + ClientId)), required
    /// when the client has a secret; failures are NotAuthorizedException with the §1.1 messages.
    fn check_secret_hash(&self, client: &Client, username: &str) -> Result<(), AwsError> {
        let Some(secret) = &client.secret else {
            return Ok(());
        };
        let Some(given) = self.string("SecretHash")? else {
            return Err(not_authorized(&format!(
                "Client {} is configured for secret but secret was not received",
                client.id
            )));
        };
        if given != secret_hash(secret, username, &client.id) {
            return Err(not_authorized(&format!("Unable to verify secret hash for client {}", client.id)));
        }
        Ok(())
    }

    fn admin_get_user(&self, state: &State) -> Result<Value, AwsError> {
        let p = self.pool_index(state)?;
        let username = self.required("Username")?;
        let pool = &state.scenario.pools[p];
        let u = find_user(pool, username).ok_or_else(user_not_found)?;
        let user = &pool.users[u];
        let modified = modified(state, pool, user, self.shared.started);
        Ok(json!({
            "Username": user.username,
            "UserAttributes": attributes(pool, user),
            "UserCreateDate": epoch(self.shared.started),
            "UserLastModifiedDate": epoch(modified),
            "Enabled": user.enabled,
            "UserStatus": user.status.as_str(),
        }))
    }

    fn admin_create_user(&self, state: &mut State) -> Result<Value, AwsError> {
        let p = self.pool_index(state)?;
        let username = self.required("Username")?.to_string();
        let action = self.string("MessageAction")?;
        if let Some(a) = action
            && a != "RESEND"
            && a != "SUPPRESS"
        {
            return Err(validation("MessageAction", Some(a), "Member must satisfy enum value set: [RESEND, SUPPRESS]"));
        }
        // research/aws.md §1.4: "DesiredDeliveryMediums defaults to SMS".
        let mediums: Vec<String> = match self.input.get("DesiredDeliveryMediums") {
            None | Some(Value::Null) => vec!["SMS".into()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(other) => {
                return Err(AwsError::new(
                    400,
                    "SerializationException",
                    format!("DesiredDeliveryMediums: expected a list, got {other}"),
                ));
            }
        };
        if let Some(bad) = mediums.iter().find(|m| *m != "EMAIL" && *m != "SMS") {
            return Err(validation(
                "DesiredDeliveryMediums",
                Some(bad),
                "Member must satisfy enum value set: [SMS, EMAIL]",
            ));
        }
        let now = self.now();
        let u = match action {
            Some("RESEND") => {
                // research/aws.md §1.4: the user must exist (UserNotFoundException) and be in
                // FORCE_CHANGE_PASSWORD (UnsupportedUserStateException with the §1.1 message).
                let pool = &state.scenario.pools[p];
                let u = find_user(pool, &username).ok_or_else(user_not_found)?;
                let user = &pool.users[u];
                if user.status != UserStatus::ForceChangePassword {
                    return Err(AwsError::new(
                        400,
                        "UnsupportedUserStateException",
                        format!("Resend not possible. {} status is not FORCE_CHANGE_PASSWORD.", user.username),
                    ));
                }
                u
            }
            _ => {
                let pool = &mut state.scenario.pools[p];
                if find_user(pool, &username).is_some() {
                    return Err(AwsError::new(400, "UsernameExistsException", "User account already exists"));
                }
                pool.users.push(user_from_attributes(&username, self.input.get("UserAttributes")));
                pool.users.len() - 1
            }
        };
        // research/aws.md §1.4: RESEND resets the temporary password, with the given or a generated one.
        let password = match self.string("TemporaryPassword")? {
            Some(pw) => pw.to_string(),
            None => temporary_password(),
        };
        let pool = state.scenario.pools[p].clone();
        let user = pool.users[u].clone();
        if action != Some("SUPPRESS") {
            if mediums.iter().any(|m| m == "EMAIL")
                && let Some(to) = &user.email
            {
                // research/aws.md §1.4: without {####} in the invitation template "Amazon Cognito doesn't
                // deliver the invitation message".
                let body = render(&pool.templates.invite_message, &user.username, &password);
                self.send(state, "AdminCreateUser", p, &user, to, &pool.templates.invite_subject, body)?;
            }
            if mediums.iter().any(|m| m == "SMS") {
                sending::record(
                    state,
                    now,
                    "AdminCreateUser",
                    pool.id.as_str(),
                    &user.username,
                    user.phone_number.clone(),
                    SendOutcome::Sms,
                );
            }
        }
        state.user_modified.insert((pool.id.as_str().to_string(), user.username.clone()), now);
        let modified = modified(state, &pool, &user, self.shared.started);
        Ok(json!({"User": {
            "Username": user.username,
            "Attributes": attributes(&pool, &user),
            "UserCreateDate": epoch(self.shared.started),
            "UserLastModifiedDate": epoch(modified),
            "Enabled": user.enabled,
            "UserStatus": user.status.as_str(),
        }}))
    }

    fn forgot_password(&self, state: &mut State) -> Result<Value, AwsError> {
        let (p, client) = self.client(state)?;
        let username = self.required("Username")?;
        self.check_secret_hash(&client, username)?;
        let pool = state.scenario.pools[p].clone();
        let Some(u) = find_user(&pool, username) else {
            return unknown_user(&client, username);
        };
        let user = pool.users[u].clone();
        if !user.enabled {
            return Err(not_authorized(USER_DISABLED));
        }
        // research/aws.md §1.1: "If the user status is FORCE_CHANGE_PASSWORD, then users can't use the
        // ForgotPassword API". Federated and retired statuses have no pool password to reset either.
        if !matches!(user.status, UserStatus::Confirmed | UserStatus::ResetRequired | UserStatus::Unconfirmed) {
            return Err(not_authorized(CANNOT_RESET));
        }
        let medium = recovery_medium(&pool, &user, true)?;
        self.limit(state, &pool, &user, "forgot", state.scenario.delivery.attempt_limit_per_hour)?;
        self.deliver_code(state, "ForgotPassword", p, &user, medium)
    }

    fn admin_reset_user_password(&self, state: &mut State) -> Result<Value, AwsError> {
        let p = self.pool_index(state)?;
        let username = self.required("Username")?;
        let pool = state.scenario.pools[p].clone();
        let u = find_user(&pool, username).ok_or_else(user_not_found)?;
        let user = pool.users[u].clone();
        if !user.enabled {
            return Err(not_authorized(USER_DISABLED));
        }
        // research/aws.md §1.1: only CONFIRMED users can be reset (FORCE_CHANGE_PASSWORD → the §1.1
        // NotAuthorizedException). RESET_REQUIRED is undocumented on AWS; the twin sends a new code.
        if !matches!(user.status, UserStatus::Confirmed | UserStatus::ResetRequired) {
            return Err(not_authorized(CANNOT_RESET));
        }
        let medium = recovery_medium(&pool, &user, false)?;
        // research/aws.md §1.6 counts forgot-password attempts; DESIGN.md §2 applies the same budget
        // to AdminResetUserPassword ("5–20 attempts per user per hour").
        self.limit(state, &pool, &user, "forgot", state.scenario.delivery.attempt_limit_per_hour)?;
        self.deliver_code(state, "AdminResetUserPassword", p, &user, medium)?;
        // research/aws.md §1.3: "Sets the requested user's account into a RESET_REQUIRED status".
        let now = self.now();
        state.scenario.pools[p].users[u].status = UserStatus::ResetRequired;
        state.user_modified.insert((pool.id.as_str().to_string(), user.username.clone()), now);
        Ok(json!({}))
    }

    fn resend_confirmation_code(&self, state: &mut State) -> Result<Value, AwsError> {
        let (p, client) = self.client(state)?;
        let username = self.required("Username")?;
        self.check_secret_hash(&client, username)?;
        let pool = state.scenario.pools[p].clone();
        let Some(u) = find_user(&pool, username) else {
            return unknown_user(&client, username);
        };
        let user = pool.users[u].clone();
        if !user.enabled {
            return Err(not_authorized(USER_DISABLED));
        }
        // Only UNCONFIRMED users have a sign-up to confirm (research/aws.md §1.1, UNCONFIRMED row);
        // Cognito answers the others with InvalidParameterException "User is already confirmed."
        if user.status != UserStatus::Unconfirmed {
            return Err(AwsError::new(400, "InvalidParameterException", "User is already confirmed."));
        }
        // The confirmation code goes to the unverified address: that is what it verifies.
        let medium = if user.email.is_some() {
            Medium::Email
        } else if user.phone_number.is_some() {
            Medium::Sms
        } else {
            return Err(AwsError::new(400, "InvalidParameterException", NO_VERIFIED_CONTACT));
        };
        // research/aws.md §1.1/§1.6: ResendConfirmationCode, 5 per user per hour.
        self.limit(state, &pool, &user, "confirm", state.scenario.delivery.resend_confirmation_limit_per_hour)?;
        self.deliver_code(state, "ResendConfirmationCode", p, &user, medium)
    }

    fn describe_user_pool(&self, state: &State) -> Result<Value, AwsError> {
        let p = self.pool_index(state)?;
        let pool = &state.scenario.pools[p];
        let arn = state.scenario.pool_arn(pool);
        let e = &pool.email;
        let mut email = json!({"EmailSendingAccount": e.sending_account.as_str()});
        for (key, value) in [
            ("SourceArn", &e.source_arn),
            ("From", &e.from),
            ("ReplyToEmailAddress", &e.reply_to),
            ("ConfigurationSet", &e.configuration_set),
        ] {
            if let Some(v) = value {
                email[key] = json!(v);
            }
        }
        let t = &pool.templates;
        let mut out = json!({
            "Id": pool.id.as_str(),
            "Name": pool.name,
            "Arn": arn,
            "CreationDate": epoch(self.shared.started),
            "LastModifiedDate": epoch(self.shared.started),
            "EmailConfiguration": email,
            "AutoVerifiedAttributes": ["email"],
            "UsernameAttributes": pool.username_attributes,
            "EstimatedNumberOfUsers": pool.users.len(),
            "AdminCreateUserConfig": {
                "AllowAdminCreateUserOnly": true,
                "InviteMessageTemplate": {"EmailSubject": t.invite_subject, "EmailMessage": t.invite_message},
            },
            "VerificationMessageTemplate": {
                "EmailSubject": t.verification_subject,
                "EmailMessage": t.verification_message,
                "DefaultEmailOption": "CONFIRM_WITH_CODE",
            },
            "EmailVerificationSubject": t.verification_subject,
            "EmailVerificationMessage": t.verification_message,
            "Policies": {"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
                "RequireNumbers": true, "RequireSymbols": true, "TemporaryPasswordValidityDays": 7}},
            "UserPoolTier": "ESSENTIALS",
        });
        if let Some(mechanisms) = &pool.account_recovery {
            out["AccountRecoverySetting"] = json!({"RecoveryMechanisms": mechanisms.iter().enumerate()
                .map(|(i, m)| json!({"Priority": i + 1, "Name": m.as_str()})).collect::<Vec<_>>()});
        }
        Ok(json!({"UserPool": out}))
    }

    fn describe_user_pool_client(&self, state: &State) -> Result<Value, AwsError> {
        let p = self.pool_index(state)?;
        let client_id = self.required("ClientId")?;
        let pool = &state.scenario.pools[p];
        let client = pool.clients.iter().find(|c| c.id == client_id).ok_or_else(|| {
            AwsError::new(400, "ResourceNotFoundException", format!("User pool client {client_id} does not exist."))
        })?;
        let mut out = json!({
            "UserPoolId": pool.id.as_str(),
            "ClientName": client.name,
            "ClientId": client.id,
            "CreationDate": epoch(self.shared.started),
            "LastModifiedDate": epoch(self.shared.started),
            "PreventUserExistenceErrors": client.prevent_user_existence_errors.as_str(),
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        });
        // research/aws.md §1.2: the probe reads the secret here to compute SecretHash.
        if let Some(secret) = &client.secret {
            out["ClientSecret"] = json!(secret);
        }
        Ok(json!({"UserPoolClient": out}))
    }

    /// GetLogDeliveryConfiguration (research/ses-events-oauth-emf.md §6; the Cognito API reference's
    /// response syntax `{LogDeliveryConfiguration: {UserPoolId, LogConfigurations: [...]}}`): the pool's
    /// `userNotification` ERROR export to CloudWatch Logs. A pool without one answers an empty
    /// LogConfigurations: the reference says nothing of that case, LogConfigurations has "Minimum number of
    /// 0 items" and UserPoolId is required, so an empty list is the documented shape that fits (inference,
    /// unverified against AWS; moto does not implement the call, research/aws.md).
    fn get_log_delivery_configuration(&self, state: &State) -> Result<Value, AwsError> {
        let p = self.pool_index(state)?;
        let pool = &state.scenario.pools[p];
        let configurations: Vec<Value> = pool
            .log_delivery
            .iter()
            .map(|d| {
                json!({"EventSource": "userNotification", "LogLevel": "ERROR",
                    "CloudWatchLogsConfiguration": {"LogGroupArn": d.log_group_arn}})
            })
            .collect();
        Ok(json!({"LogDeliveryConfiguration": {"UserPoolId": pool.id.as_str(), "LogConfigurations": configurations}}))
    }

    /// research/aws.md §1.6: per-user attempts in a rolling hour; over the limit → LimitExceededException.
    fn limit(
        &self,
        state: &mut State,
        pool: &Pool,
        user: &User,
        kind: &'static str,
        limit: u32,
    ) -> Result<(), AwsError> {
        let now = self.now();
        let attempts = state.attempts.entry((pool.id.as_str().to_string(), user.username.clone(), kind)).or_default();
        attempts.retain(|t| *t > now - Duration::hours(1));
        if attempts.len() >= limit as usize {
            return Err(AwsError::new(400, "LimitExceededException", ATTEMPT_LIMIT));
        }
        attempts.push(now);
        Ok(())
    }

    /// Sends a verification/reset code by the chosen medium and answers with CodeDeliveryDetails.
    fn deliver_code(
        &self,
        state: &mut State,
        operation: &'static str,
        p: usize,
        user: &User,
        medium: Medium,
    ) -> Result<Value, AwsError> {
        let pool = state.scenario.pools[p].clone();
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        match medium {
            Medium::Email => {
                let to = user.email.clone().unwrap_or_default();
                let body = render(&pool.templates.verification_message, &user.username, &code);
                self.send(state, operation, p, user, &to, &pool.templates.verification_subject, body)?;
                Ok(json!({"CodeDeliveryDetails": {"Destination": mask_email(&to), "DeliveryMedium": "EMAIL",
                        "AttributeName": "email"}}))
            }
            Medium::Sms => {
                let phone = user.phone_number.clone().unwrap_or_default();
                sending::record(
                    state,
                    self.now(),
                    operation,
                    pool.id.as_str(),
                    &user.username,
                    Some(phone.clone()),
                    SendOutcome::Sms,
                );
                Ok(json!({"CodeDeliveryDetails": {"Destination": mask_phone(&phone), "DeliveryMedium": "SMS",
                        "AttributeName": "phone_number"}}))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        state: &mut State,
        operation: &'static str,
        p: usize,
        user: &User,
        to: &str,
        subject: &str,
        body: Option<String>,
    ) -> Result<(), AwsError> {
        let Some(body) = body else {
            let pool_id = state.scenario.pools[p].id.as_str().to_string();
            sending::record(
                state,
                self.now(),
                operation,
                &pool_id,
                &user.username,
                Some(to.to_string()),
                SendOutcome::TemplateWithoutCode,
            );
            return Ok(());
        };
        let email = Email {
            operation,
            pool_index: p,
            username: user.username.clone(),
            to: to.to_string(),
            subject: subject.to_string(),
            body,
        };
        sending::send(self.shared, state, email)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Medium {
    Email,
    Sms,
}

/// research/aws.md §1.2: AccountRecoverySetting decides by priority; without it the legacy rule is
/// verified phone first, then verified email. `admin_only` refuses self-service recovery
/// (NotAuthorizedException "Contact administrator to reset password.", as moto models it, §4.2);
/// `self_service` is false for AdminResetUserPassword, which admin_only does not stop.
fn recovery_medium(pool: &Pool, user: &User, self_service: bool) -> Result<Medium, AwsError> {
    let email_ok = user.email.is_some() && user.email_verified;
    let phone_ok = user.phone_number.is_some() && user.phone_number_verified;
    let order: Vec<RecoveryMechanism> = pool
        .account_recovery
        .clone()
        .unwrap_or_else(|| vec![RecoveryMechanism::VerifiedPhoneNumber, RecoveryMechanism::VerifiedEmail]);
    for mechanism in &order {
        match mechanism {
            RecoveryMechanism::AdminOnly if self_service => {
                return Err(not_authorized("Contact administrator to reset password."));
            }
            RecoveryMechanism::AdminOnly => {}
            RecoveryMechanism::VerifiedEmail if email_ok => return Ok(Medium::Email),
            RecoveryMechanism::VerifiedPhoneNumber if phone_ok => return Ok(Medium::Sms),
            _ => {}
        }
    }
    // research/aws.md §1.1: "If neither a verified phone number nor a verified email exists, Amazon
    // Cognito responds with an InvalidParameterException".
    Err(AwsError::new(400, "InvalidParameterException", NO_VERIFIED_CONTACT))
}

/// research/aws.md §1.1: an unknown user under LEGACY → UserNotFoundException "Username/client id
/// combination not found."; under ENABLED → a simulated CodeDeliveryDetails with HTTP 200, nothing sent.
fn unknown_user(client: &Client, username: &str) -> Result<Value, AwsError> {
    match client.prevent_user_existence_errors {
        PreventUserExistenceErrors::Legacy => {
            Err(AwsError::new(400, "UserNotFoundException", "Username/client id combination not found."))
        }
        PreventUserExistenceErrors::Enabled => {
            let pretend = if username.contains('@') { username.to_string() } else { format!("{username}@example.com") };
            Ok(json!({"CodeDeliveryDetails": {"Destination": mask_email(&pretend), "DeliveryMedium": "EMAIL",
                    "AttributeName": "email"}}))
        }
    }
}

/// A message-delivery error record as Cognito exports it to CloudWatch Logs (research/ses-events-oauth-emf.md
/// §6, `userNotification` at `ERROR`; the record shape is the Cognito developer guide's example of an exported
/// message-delivery log, "Exporting user pool logs"): `eventTimestamp` (milliseconds, as a string),
/// `eventSource` `USER_NOTIFICATION`, `logLevel` `ERROR`, `message` "Message failed to deliver.",
/// `logSourceId` {`userPoolId`, `userPoolArn`} and `error` — the text SES answered Cognito with. AWS
/// says "This log schema is subject to change."
pub fn notification_error(pool_id: &str, pool_arn: &str, at: DateTime<Utc>, error: &str) -> Value {
    json!({
        "eventTimestamp": at.timestamp_millis().to_string(),
        "eventSource": "USER_NOTIFICATION",
        "logLevel": "ERROR",
        "message": "Message failed to deliver.",
        "logSourceId": {"userPoolId": pool_id, "userPoolArn": pool_arn},
        "error": error,
    })
}

/// research/aws.md §1.1 (AdminGetUser): "User does not exist."
fn user_not_found() -> AwsError {
    AwsError::new(400, "UserNotFoundException", "User does not exist.")
}

/// A user by username, or by email when the pool lets the email stand in for the username.
fn find_user(pool: &Pool, username: &str) -> Option<usize> {
    pool.users.iter().position(|u| u.username == username).or_else(|| {
        pool.username_attributes
            .iter()
            .any(|a| a == "email")
            .then(|| {
                pool.users.iter().position(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(username)))
            })
            .flatten()
    })
}

fn user_from_attributes(username: &str, attributes: Option<&Value>) -> User {
    let get = |name: &str| {
        attributes
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|a| a.get("Name").and_then(Value::as_str) == Some(name)))
            .and_then(|a| a.get("Value").and_then(Value::as_str))
            .map(str::to_string)
    };
    User {
        username: username.to_string(),
        email: get("email"),
        email_verified: get("email_verified").as_deref() == Some("true"),
        phone_number: get("phone_number"),
        phone_number_verified: get("phone_number_verified").as_deref() == Some("true"),
        status: UserStatus::ForceChangePassword,
        enabled: true,
    }
}

fn modified(state: &State, pool: &Pool, user: &User, started: DateTime<Utc>) -> DateTime<Utc> {
    state.user_modified.get(&(pool.id.as_str().to_string(), user.username.clone())).copied().unwrap_or(started)
}

/// The user's attributes as AttributeType pairs, `sub` first.
fn attributes(pool: &Pool, user: &User) -> Vec<Value> {
    let mut out = vec![json!({"Name": "sub", "Value": sub(pool, user)})];
    if let Some(email) = &user.email {
        out.push(json!({"Name": "email", "Value": email}));
        out.push(json!({"Name": "email_verified", "Value": user.email_verified.to_string()}));
    }
    if let Some(phone) = &user.phone_number {
        out.push(json!({"Name": "phone_number", "Value": phone}));
        out.push(json!({"Name": "phone_number_verified", "Value": user.phone_number_verified.to_string()}));
    }
    out
}

/// A stable UUID-shaped `sub` derived from pool and username.
fn sub(pool: &Pool, user: &User) -> String {
    use sha2::Digest as _;
    let d = Sha256::digest(format!("{}/{}", pool.id.as_str(), user.username).as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// research/aws.md §1.2: SecretHash = Base64(HMAC_SHA256(key = client secret, message = Username + ClientId)).
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    // HMAC accepts keys of any length, so new_from_slice cannot fail; the fallback is unreachable.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Fills a Cognito template; `None` when it lacks `{####}` (then Cognito does not deliver,
/// research/aws.md §1.4).
fn render(template: &str, username: &str, code: &str) -> Option<String> {
    template.contains("{####}").then(|| template.replace("{username}", username).replace("{####}", code))
}

/// A temporary password that satisfies Cognito's default password policy (8+ characters with upper,
/// lower, digit and symbol).
fn temporary_password() -> String {
    let mut rng = rand::thread_rng();
    let sets: [&[u8]; 4] =
        [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"^$*.[]{}()?!@#%&"];
    let mut pw: Vec<u8> = sets.iter().map(|s| s[rng.gen_range(0..s.len())]).collect();
    for _ in 0..8 {
        let s = sets[rng.gen_range(0..3)];
        pw.push(s[rng.gen_range(0..s.len())]);
    }
    for i in (1..pw.len()).rev() {
        pw.swap(i, rng.gen_range(0..=i));
    }
    String::from_utf8_lossy(&pw).into_owned()
}

/// research/aws.md §1.2: the destination is masked like `p***@m***`.
fn mask_email(address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    format!("{}***@{}***", first(local), first(domain))
}

fn mask_phone(phone: &str) -> String {
    let n = phone.chars().count();
    let tail: String = phone.chars().skip(n.saturating_sub(4)).collect();
    format!("+*******{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_matches_the_documented_formula() {
        // Independent value: python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b'secret',
        // b'userclient', hashlib.sha256).digest()).decode())"
        assert_eq!(secret_hash("secret", "user", "client"), "wvW87lzZoI+qQCVGmWVBJLlucdJ65huAVP1z+0MgA6E=");
    }

    #[test]
    fn masking_cases() {
        let cases = [("probe+prod-fcp@mail.test", "p***@m***"), ("a@b", "a***@b***")];
        for (input, want) in cases {
            assert_eq!(mask_email(input), want);
        }
        assert_eq!(mask_phone("+15555550100"), "+*******0100");
    }

    #[test]
    fn templates_render_or_refuse() {
        let cases = [
            (
                "Your username is {username} and temporary password is {####}. ",
                Some("Your username is u1 and temporary password is 123456. "),
            ),
            ("Your verification code is {####}. ", Some("Your verification code is 123456. ")),
            ("Welcome {username}", None),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, "u1", "123456").as_deref(), want, "{template}");
        }
    }

    #[test]
    fn temporary_passwords_meet_the_default_policy() {
        for _ in 0..50 {
            let pw = temporary_password();
            assert!(pw.len() >= 8);
            assert!(pw.chars().any(|c| c.is_ascii_uppercase()) && pw.chars().any(|c| c.is_ascii_lowercase()));
            assert!(pw.chars().any(|c| c.is_ascii_digit()) && pw.chars().any(|c| !c.is_ascii_alphanumeric()));
        }
    }
}
