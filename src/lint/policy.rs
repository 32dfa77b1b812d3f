//! Does an SES identity policy let Cognito send on an identity? The checker rule of research/aws.md §3.3,
//! applied to a policy document read from Terraform: some `Allow` statement names a Cognito service
//! principal, covers `ses:SendEmail` or `ses:SendRawEmail`, and covers the identity; no `Deny` statement
//! cancels it. The `aws:SourceArn`/`aws:SourceAccount` conditions are not judged here: pool ARNs and the
//! account are only known after apply (`probe doctor` checks them against the live pool).

use serde_json::Value;

/// The Cognito service principals AWS documents for sending authorization (research/aws.md §3.3: the
/// Cognito developer guide's `email.cognito-idp.amazonaws.com`, the SES guide's `cognito-idp.amazonaws.com`,
/// and the reported Regional form `cognito-idp.<region>.amazonaws.com`).
fn is_cognito_principal(service: &str) -> bool {
    let s = service.trim().to_ascii_lowercase();
    s == "email.cognito-idp.amazonaws.com"
        || s == "cognito-idp.amazonaws.com"
        || (s.starts_with("cognito-idp.") && s.ends_with(".amazonaws.com"))
}

// The live rule's readers (`probe doctor`): string-or-list values, the SendEmail/SendRawEmail action test,
// IAM wildcards.
use crate::policy::{action_covers_send, glob, strings};

fn names_cognito(statement: &Value) -> bool {
    match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => map.iter().any(|(kind, ids)| {
            let ids = strings(Some(ids));
            (kind == "Service" && ids.iter().any(|id| is_cognito_principal(id))) || ids.iter().any(|id| id == "*")
        }),
        _ => false,
    }
}

/// research/aws.md §3.3: "Action covers ses:SendEmail or ses:SendRawEmail, with the case-insensitive prefix
/// SES:/ses:, and ses:* or * also count" (IAM action names are case-insensitive).
fn covers_send(statement: &Value) -> bool {
    strings(statement.get("Action")).iter().any(|a| action_covers_send(a))
}

/// Resource equals or matches the identity (names were resolved by the reader), or is `*`.
fn covers_identity(statement: &Value, identity: &str) -> bool {
    strings(statement.get("Resource")).iter().any(|r| {
        let name = super::tree::identity_name(r);
        r == "*" || name == identity || glob(name, identity)
    })
}

/// Whether `doc` lets the Cognito service principal send on `identity`.
pub fn allows_cognito_send(doc: &Value, identity: &str) -> bool {
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let effect = |s: &Value| s.get("Effect").and_then(Value::as_str).unwrap_or_default().to_string();
    let relevant = |s: &Value| names_cognito(s) && covers_send(s) && covers_identity(s, identity);
    let allowed = statements.iter().any(|s| relevant(s) && effect(s) == "Allow");
    let denied = statements.iter().any(|s| relevant(s) && effect(s) == "Deny");
    allowed && !denied
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(principal: Value, action: Value, resource: Value, effect: &str) -> Value {
        json!({ "Statement": [{ "Effect": effect, "Principal": principal, "Action": action, "Resource": resource }] })
    }

    #[test]
    fn policy_cases() {
        let id = "noreply@thephenom.app";
        let svc = |s: &str| json!({ "Service": s });
        let send = json!(["ses:SendEmail", "ses:SendRawEmail"]);
        let cases: Vec<(&str, Value, bool)> = vec![
            (
                "developer guide form",
                statement(svc("email.cognito-idp.amazonaws.com"), send.clone(), json!(id), "Allow"),
                true,
            ),
            (
                "ses guide principal",
                statement(svc("cognito-idp.amazonaws.com"), json!("SES:SendRawEmail"), json!(id), "Allow"),
                true,
            ),
            (
                "regional principal",
                statement(svc("cognito-idp.eu-west-1.amazonaws.com"), send.clone(), json!(id), "Allow"),
                true,
            ),
            (
                "principal array",
                statement(
                    json!({"Service": ["x.amazonaws.com", "cognito-idp.amazonaws.com"]}),
                    send.clone(),
                    json!(id),
                    "Allow",
                ),
                true,
            ),
            ("ses:* action", statement(svc("cognito-idp.amazonaws.com"), json!("ses:*"), json!(id), "Allow"), true),
            ("wildcard resource", statement(svc("cognito-idp.amazonaws.com"), send.clone(), json!("*"), "Allow"), true),
            ("other principal", statement(svc("lambda.amazonaws.com"), send.clone(), json!(id), "Allow"), false),
            (
                "read-only action",
                statement(svc("cognito-idp.amazonaws.com"), json!("ses:GetEmailIdentity"), json!(id), "Allow"),
                false,
            ),
            (
                "other identity",
                statement(svc("cognito-idp.amazonaws.com"), send.clone(), json!("other@example.com"), "Allow"),
                false,
            ),
            ("deny only", statement(svc("cognito-idp.amazonaws.com"), send.clone(), json!(id), "Deny"), false),
            (
                "allow cancelled by deny",
                json!({ "Statement": [
                    { "Effect": "Allow", "Principal": svc("cognito-idp.amazonaws.com"), "Action": send.clone(), "Resource": id },
                    { "Effect": "Deny", "Principal": svc("cognito-idp.amazonaws.com"), "Action": "ses:Send*", "Resource": "*" },
                ]}),
                false,
            ),
            ("no statements", json!({}), false),
        ];
        for (name, doc, want) in cases {
            assert_eq!(allows_cognito_send(&doc, id), want, "{name}");
        }
    }
}
