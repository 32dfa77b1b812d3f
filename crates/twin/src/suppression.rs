//! The account-level suppression list (research/ses-events-oauth-emf.md §2) and its SESv2 REST
//! operations: GetSuppressedDestination (`GET /v2/email/suppression/addresses/{EmailAddress}`),
//! PutSuppressedDestination (`PUT /v2/email/suppression/addresses`), DeleteSuppressedDestination
//! (`DELETE …/{EmailAddress}`) and ListSuppressedDestinations (`GET /v2/email/suppression/addresses`).
//!
//! What a listed address means for sending lives in [`crate::sending`]: "SES accepts the message, but
//! doesn't send it" (§2). The list grows by itself too: the twin's account has suppression on for BOUNCE
//! and COMPLAINT (GetAccount `SuppressedReasons`, the default of accounts created after 25 Nov 2019, §2),
//! so a hard bounce or a complaint adds the address.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::scenario::{Scenario, SuppressionReason};
use crate::server::AwsError;

/// One listed address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub email: String,
    pub reason: SuppressionReason,
    pub last_update_time: DateTime<Utc>,
    pub message_id: Option<String>,
    pub feedback_id: Option<String>,
}

/// The list, keyed by the lowercased address (email addresses compare case-insensitively here, as SES
/// matches them).
#[derive(Debug, Clone, Default)]
pub struct SuppressionList {
    entries: BTreeMap<String, Entry>,
}

impl SuppressionList {
    pub fn from_scenario(scenario: &Scenario) -> SuppressionList {
        let mut list = SuppressionList::default();
        for d in &scenario.suppressed_destinations {
            list.put(Entry {
                email: d.email.clone(),
                reason: d.reason,
                last_update_time: d.last_update_time,
                message_id: d.message_id.clone(),
                feedback_id: d.feedback_id.clone(),
            });
        }
        list
    }

    pub fn get(&self, email: &str) -> Option<&Entry> {
        self.entries.get(&email.to_ascii_lowercase())
    }

    pub fn put(&mut self, entry: Entry) {
        self.entries.insert(entry.email.to_ascii_lowercase(), entry);
    }

    /// Removes an address; whether it was listed.
    pub fn remove(&mut self, email: &str) -> bool {
        self.entries.remove(&email.to_ascii_lowercase()).is_some()
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.entries.values().cloned().collect()
    }
}

fn not_found(email: &str) -> AwsError {
    // research §2: "a 404 NotFoundException means not suppressed". The message is the twin's (inference).
    AwsError::new(404, "NotFoundException", format!("Email address {email} does not exist on your suppression list."))
}

fn bad_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "BadRequestException", message)
}

/// GetSuppressedDestination: `{"SuppressedDestination": {EmailAddress, Reason, LastUpdateTime, Attributes
/// {MessageId, FeedbackId}}}` (research §2), LastUpdateTime in epoch seconds (REST JSON's default).
pub fn get(list: &SuppressionList, email: &str) -> Result<Value, AwsError> {
    let e = list.get(email).ok_or_else(|| not_found(email))?;
    let mut out = json!({
        "EmailAddress": e.email,
        "Reason": e.reason.as_str(),
        "LastUpdateTime": e.last_update_time.timestamp(),
    });
    if e.message_id.is_some() || e.feedback_id.is_some() {
        let mut attributes = json!({});
        if let Some(id) = &e.message_id {
            attributes["MessageId"] = json!(id);
        }
        if let Some(id) = &e.feedback_id {
            attributes["FeedbackId"] = json!(id);
        }
        out["Attributes"] = attributes;
    }
    Ok(json!({"SuppressedDestination": out}))
}

/// PutSuppressedDestination: body `{EmailAddress, Reason}`; a manual entry carries no message or feedback
/// id.
pub fn put(list: &mut SuppressionList, body: &Value, now: DateTime<Utc>) -> Result<Value, AwsError> {
    let email =
        body.get("EmailAddress").and_then(Value::as_str).ok_or_else(|| bad_request("EmailAddress is required."))?;
    if !email.contains('@') {
        return Err(bad_request(format!("Email address {email} is not valid.")));
    }
    let reason = body.get("Reason").and_then(Value::as_str).unwrap_or_default();
    let reason = SuppressionReason::parse(reason)
        .ok_or_else(|| bad_request(format!("Reason {reason:?} is not valid; expected BOUNCE or COMPLAINT.")))?;
    list.put(Entry { email: email.to_string(), reason, last_update_time: now, message_id: None, feedback_id: None });
    Ok(json!({}))
}

/// DeleteSuppressedDestination: NotFoundException when the address is not listed.
pub fn delete(list: &mut SuppressionList, email: &str) -> Result<Value, AwsError> {
    if list.remove(email) { Ok(json!({})) } else { Err(not_found(email)) }
}

/// ListSuppressedDestinations with the query parameters `Reason` (repeatable), `StartDate`, `EndDate`
/// (ISO 8601, the SDK's query-string timestamp format), `PageSize` (1–1,000) and `NextToken`.
pub fn list(list: &SuppressionList, query: &[(String, String)]) -> Result<Value, AwsError> {
    let reasons: Vec<SuppressionReason> = query
        .iter()
        .filter(|(k, _)| k == "Reason")
        .map(|(_, v)| SuppressionReason::parse(v).ok_or_else(|| bad_request(format!("Reason {v:?} is not valid."))))
        .collect::<Result<_, _>>()?;
    let date = |key: &str| -> Result<Option<DateTime<Utc>>, AwsError> {
        match query.iter().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, v)) => parse_date(v).map(Some).ok_or_else(|| bad_request(format!("{key} {v:?} is not a date."))),
        }
    };
    let (start, end) = (date("StartDate")?, date("EndDate")?);
    let page_size = match query.iter().find(|(k, _)| k == "PageSize") {
        None => 1000,
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad_request(format!("PageSize {v:?} is not valid; expected 1 to 1000.")))?,
    };
    let offset = match query.iter().find(|(k, _)| k == "NextToken") {
        None => 0,
        Some((_, v)) => v.strip_prefix("twin-").and_then(|n| n.parse().ok()).ok_or_else(|| {
            AwsError::new(400, "InvalidNextTokenException", format!("The NextToken {v:?} is not valid."))
        })?,
    };
    let matching: Vec<Entry> = list
        .entries()
        .into_iter()
        .filter(|e| reasons.is_empty() || reasons.contains(&e.reason))
        .filter(|e| start.is_none_or(|s| e.last_update_time >= s) && end.is_none_or(|t| e.last_update_time <= t))
        .collect();
    let page_end = (offset + page_size).min(matching.len());
    let summaries: Vec<Value> = matching
        .get(offset..page_end)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            json!({"EmailAddress": e.email, "Reason": e.reason.as_str(),
                "LastUpdateTime": e.last_update_time.timestamp()})
        })
        .collect();
    let mut out = json!({"SuppressedDestinationSummaries": summaries});
    if page_end < matching.len() {
        out["NextToken"] = json!(format!("twin-{page_end}"));
    }
    Ok(out)
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| s.parse::<f64>().ok().and_then(|secs| Utc.timestamp_opt(secs as i64, 0).single()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn put_get_list_delete() {
        let mut l = SuppressionList::default();
        assert_eq!(get(&l, "a@b.test").unwrap_err().status, 404);
        put(&mut l, &json!({"EmailAddress": "A@b.test", "Reason": "BOUNCE"}), t("2026-11-20T08:00:00Z")).unwrap();
        put(&mut l, &json!({"EmailAddress": "c@b.test", "Reason": "COMPLAINT"}), t("2026-11-21T08:00:00Z")).unwrap();
        let got = get(&l, "a@B.test").unwrap();
        assert_eq!(got["SuppressedDestination"]["Reason"], "BOUNCE");
        assert_eq!(got["SuppressedDestination"]["LastUpdateTime"], t("2026-11-20T08:00:00Z").timestamp());
        assert!(got["SuppressedDestination"].get("Attributes").is_none());
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let bounces = list(&l, &q(&[("Reason", "BOUNCE")])).unwrap();
        assert_eq!(bounces["SuppressedDestinationSummaries"].as_array().unwrap().len(), 1);
        let later = list(&l, &q(&[("StartDate", "2026-11-21T00:00:00Z")])).unwrap();
        assert_eq!(later["SuppressedDestinationSummaries"][0]["EmailAddress"], "c@b.test");
        let paged = list(&l, &q(&[("PageSize", "1")])).unwrap();
        assert_eq!(paged["NextToken"], "twin-1");
        assert_eq!(
            put(&mut l, &json!({"EmailAddress": "x@y", "Reason": "SPAM"}), t("2026-11-21T08:00:00Z")).unwrap_err().code,
            "BadRequestException"
        );
        delete(&mut l, "a@b.test").unwrap();
        assert_eq!(delete(&mut l, "a@b.test").unwrap_err().code, "NotFoundException");
    }
}
