//! SQS standard queues as the probe reads SES event records from them (AWS JSON 1.0,
//! `X-Amz-Target: AmazonSQS.<Operation>`): GetQueueUrl, ListQueues, ReceiveMessage (long polling,
//! visibility timeout, system attributes), DeleteMessage(Batch), ChangeMessageVisibility(Batch),
//! GetQueueAttributes, SendMessage(Batch) and PurgeQueue.
//!
//! Rules, from the SQS API reference (the botocore `sqs` model, research/aws.md's source of AWS's own
//! text) and the SDK's error table:
//! * QueueUrl is `<endpoint>/<account id>/<queue name>`; an unknown queue is `QueueDoesNotExist`, which the
//!   SDKs read from the awsQueryCompatible header `x-amzn-query-error:
//!   AWS.SimpleQueueService.NonExistentQueue;Sender` (aws-sdk-sqs `aws_query_compatible_errors.rs`).
//! * A received message stays invisible until its visibility timeout passes (the queue's, or the
//!   request's VisibilityTimeout, 0–43,200 s); each receive hands out a new receipt handle, and only the
//!   latest one deletes it ("otherwise, the request succeeds, but the message will not be deleted").
//! * MaxNumberOfMessages 1–10; WaitTimeSeconds 0–20: a long poll returns as soon as a message is
//!   visible, else empty when the wait ends. Message retention is 4 days (the default 345,600 s).
//! * Time is the twin's clock: a manual clock moves visibility timeouts; a long poll on it ends when the
//!   clock passes the wait, or after the wait in real time, whichever comes first.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use md5::Digest as _;
use serde_json::{Value, json};

use crate::Shared;
use crate::scenario::Scenario;
use crate::server::AwsError;

/// SQS's default and only retention the twin models: 4 days (MessageRetentionPeriod 345,600 s).
pub const RETENTION_SECONDS: i64 = 345_600;
/// The largest message SQS takes: 262,144 bytes (MaximumMessageSize).
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// Every queue of the account, by name.
#[derive(Debug, Clone, Default)]
pub struct Queues {
    queues: BTreeMap<String, Queue>,
    /// Receipt-handle serial: unique per receive across queues.
    serial: u64,
}

#[derive(Debug, Clone)]
struct Queue {
    created: DateTime<Utc>,
    visibility_timeout: u32,
    messages: Vec<Message>,
    last_purge: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    md5: String,
    sent: DateTime<Utc>,
    visible_at: DateTime<Utc>,
    receive_count: u32,
    first_receive: Option<DateTime<Utc>>,
    handle: Option<String>,
}

impl Queues {
    /// The scenario's queues, empty, created at `now`.
    pub fn from_scenario(scenario: &Scenario, now: DateTime<Utc>) -> Queues {
        let queues = scenario
            .queues
            .iter()
            .map(|q| {
                let queue = Queue {
                    created: now,
                    visibility_timeout: q.visibility_timeout_seconds,
                    messages: Vec::new(),
                    last_purge: None,
                };
                (q.name.clone(), queue)
            })
            .collect();
        Queues { queues, serial: 0 }
    }

    pub fn exists(&self, name: &str) -> bool {
        self.queues.contains_key(name)
    }

    /// Queue names with how many messages each holds (visible or in flight).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.queues.iter().map(|(n, q)| (n.clone(), q.messages.len())).collect()
    }

    /// Appends a message (SendMessage, or SES publishing through EventBridge or SNS). Returns its id and
    /// the MD5 of its body, or `None` when the queue does not exist.
    pub fn enqueue(&mut self, name: &str, body: String, now: DateTime<Utc>) -> Option<(String, String)> {
        self.enqueue_delayed(name, body, now, 0)
    }

    fn enqueue_delayed(
        &mut self,
        name: &str,
        body: String,
        now: DateTime<Utc>,
        delay: i64,
    ) -> Option<(String, String)> {
        let queue = self.queues.get_mut(name)?;
        let id = uuid::Uuid::new_v4().to_string();
        let md5 = md5_hex(&body);
        queue.messages.push(Message {
            id: id.clone(),
            body,
            md5: md5.clone(),
            sent: now,
            visible_at: now + Duration::seconds(delay),
            receive_count: 0,
            first_receive: None,
            handle: None,
        });
        Some((id, md5))
    }

    /// The bodies of every message of a queue, in order, without receiving them.
    pub fn bodies(&self, name: &str) -> Vec<String> {
        self.queues.get(name).map(|q| q.messages.iter().map(|m| m.body.clone()).collect()).unwrap_or_default()
    }

    /// When the next in-flight message becomes visible again.
    fn next_visible(&self, name: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.queues.get(name)?.messages.iter().map(|m| m.visible_at).filter(|t| *t > now).min()
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        for q in self.queues.values_mut() {
            q.messages.retain(|m| m.sent + Duration::seconds(RETENTION_SECONDS) > now);
        }
    }
}

/// The MD5 of a body as SQS reports it (`MD5OfBody`, `MD5OfMessageBody`): lowercase hex.
pub fn md5_hex(body: &str) -> String {
    md5::Md5::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// An SQS error: the JSON body's `__type` is the modeled shape, the code the SDKs match is the
/// awsQueryCompatible one in `x-amzn-query-error` (Sender fault).
fn sqs_error(shape: &str, query_code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, &format!("com.amazonaws.sqs#{shape}"), message).with_query_code(query_code)
}

fn no_queue() -> AwsError {
    sqs_error("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

fn invalid_value(message: impl Into<String>) -> AwsError {
    sqs_error("InvalidParameterValueException", "InvalidParameterValue", message)
}

fn missing(field: &str) -> AwsError {
    sqs_error(
        "MissingRequiredParameterException",
        "MissingParameter",
        format!("The request must contain the parameter {field}."),
    )
}

fn invalid_handle(handle: &str) -> AwsError {
    sqs_error(
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid",
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}

/// The queue name a QueueUrl names, when its account is this one (`…/<account id>/<name>`).
fn queue_name<'a>(input: &'a Value, account: &str) -> Result<&'a str, AwsError> {
    let url = input.get("QueueUrl").and_then(Value::as_str).ok_or_else(|| missing("QueueUrl"))?;
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let mut parts = path.trim_end_matches('/').rsplitn(2, '/');
    let name = parts.next().unwrap_or_default();
    let owner = parts.next().map(|p| p.rsplit('/').next().unwrap_or(p));
    match owner {
        Some(owner) if owner == account && !name.is_empty() => Ok(name),
        _ => Err(no_queue()),
    }
}

fn int(input: &Value, field: &str) -> Result<Option<i64>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            v.as_i64().map(Some).ok_or_else(|| invalid_value(format!("Value {v} for parameter {field} is invalid.")))
        }
    }
}

fn names(input: &Value, field: &str) -> Vec<String> {
    input
        .get(field)
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The queue's URL as the account's endpoint shows it.
fn queue_url(endpoint: &str, account: &str, name: &str) -> String {
    format!("{endpoint}/{account}/{name}")
}

/// Runs one SQS operation. `endpoint` is `http://<Host>` of the request, for QueueUrls.
pub(crate) async fn call(shared: &Shared, operation: &str, input: &Value, endpoint: &str) -> Result<Value, AwsError> {
    if operation == "ReceiveMessage" {
        return receive_message(shared, input).await;
    }
    let now = shared.clock.now();
    let mut state = shared.lock();
    let account = state.scenario.account.id.as_str().to_string();
    let region = state.scenario.account.region.as_str().to_string();
    state.queues.expire(now);
    let queues = &mut state.queues;
    let ctx = Ctx { account: &account, endpoint, now };
    let out = match operation {
        "GetQueueUrl" => get_queue_url(queues, input, &ctx)?,
        "ListQueues" => list_queues(queues, input, &ctx),
        "GetQueueAttributes" => {
            let name = queue_name(input, &account)?;
            let queue = queues.queues.get(name).ok_or_else(no_queue)?;
            json!({"Attributes": attributes(queue, &names(input, "AttributeNames"), &region, &account, name, now)?})
        }
        "SendMessage" => {
            let name = existing(queues, input, &account)?;
            let (body, delay) = message_input(input)?;
            let (id, md5) = queues.enqueue_delayed(&name, body, now, delay).ok_or_else(no_queue)?;
            json!({"MessageId": id, "MD5OfMessageBody": md5})
        }
        "SendMessageBatch" => {
            let name = existing(queues, input, &account)?;
            batch(input, "SendMessageBatchRequestEntry", |e| {
                let (body, delay) = message_input(e)?;
                let (message_id, md5) = queues.enqueue_delayed(&name, body, now, delay).ok_or_else(no_queue)?;
                Ok(json!({"MessageId": message_id, "MD5OfMessageBody": md5}))
            })?
        }
        "DeleteMessage" => {
            let name = queue_name(input, &account)?.to_string();
            let handle = input.get("ReceiptHandle").and_then(Value::as_str).ok_or_else(|| missing("ReceiptHandle"))?;
            delete(queues, &name, handle)?;
            json!({})
        }
        "DeleteMessageBatch" => {
            let name = existing(queues, input, &account)?;
            batch(input, "DeleteMessageBatchRequestEntry", |e| {
                let handle = e.get("ReceiptHandle").and_then(Value::as_str).unwrap_or_default();
                delete(queues, &name, handle).map(|()| json!({}))
            })?
        }
        "ChangeMessageVisibility" => {
            let name = queue_name(input, &account)?.to_string();
            let handle = input.get("ReceiptHandle").and_then(Value::as_str).ok_or_else(|| missing("ReceiptHandle"))?;
            let timeout = int(input, "VisibilityTimeout")?.ok_or_else(|| missing("VisibilityTimeout"))?;
            change_visibility(queues, &name, handle, timeout, now)?;
            json!({})
        }
        "ChangeMessageVisibilityBatch" => {
            let name = existing(queues, input, &account)?;
            batch(input, "ChangeMessageVisibilityBatchRequestEntry", |e| {
                let handle = e.get("ReceiptHandle").and_then(Value::as_str).unwrap_or_default();
                let timeout = int(e, "VisibilityTimeout")?.ok_or_else(|| missing("VisibilityTimeout"))?;
                change_visibility(queues, &name, handle, timeout, now).map(|()| json!({}))
            })?
        }
        "PurgeQueue" => purge(queues, input, &ctx)?,
        other => {
            return Err(AwsError::new(
                400,
                "UnknownOperationException",
                format!("Unknown operation: AmazonSQS.{other}"),
            ));
        }
    };
    drop(state);
    // Sends and visibility changes may make a message visible: wake the long polls to look again.
    if matches!(
        operation,
        "SendMessage" | "SendMessageBatch" | "ChangeMessageVisibility" | "ChangeMessageVisibilityBatch"
    ) {
        shared.queue_wake.notify_waiters();
    }
    Ok(out)
}

/// What every operation needs to know besides its input.
struct Ctx<'a> {
    account: &'a str,
    endpoint: &'a str,
    now: DateTime<Utc>,
}

/// The QueueUrl's queue name, when the queue exists.
fn existing(queues: &Queues, input: &Value, account: &str) -> Result<String, AwsError> {
    let name = queue_name(input, account)?;
    if queues.exists(name) { Ok(name.to_string()) } else { Err(no_queue()) }
}

fn get_queue_url(queues: &Queues, input: &Value, ctx: &Ctx) -> Result<Value, AwsError> {
    let name = input.get("QueueName").and_then(Value::as_str).ok_or_else(|| missing("QueueName"))?;
    let owner = input.get("QueueOwnerAWSAccountId").and_then(Value::as_str);
    if owner.is_some_and(|o| o != ctx.account) || !queues.exists(name) {
        return Err(no_queue());
    }
    Ok(json!({"QueueUrl": queue_url(ctx.endpoint, ctx.account, name)}))
}

fn list_queues(queues: &Queues, input: &Value, ctx: &Ctx) -> Value {
    let prefix = input.get("QueueNamePrefix").and_then(Value::as_str).unwrap_or_default();
    let urls: Vec<String> = queues
        .queues
        .keys()
        .filter(|n| n.starts_with(prefix))
        .map(|n| queue_url(ctx.endpoint, ctx.account, n))
        .collect();
    if urls.is_empty() { json!({}) } else { json!({"QueueUrls": urls}) }
}

fn purge(queues: &mut Queues, input: &Value, ctx: &Ctx) -> Result<Value, AwsError> {
    let name = queue_name(input, ctx.account)?;
    let queue = queues.queues.get_mut(name).ok_or_else(no_queue)?;
    // SQS PurgeQueue: "Only one PurgeQueue operation on <queue> is allowed every 60 seconds."
    if queue.last_purge.is_some_and(|t| ctx.now - t < Duration::seconds(60)) {
        return Err(sqs_error(
            "PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress",
            format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds."),
        ));
    }
    queue.messages.clear();
    queue.last_purge = Some(ctx.now);
    Ok(json!({}))
}

/// Runs `each` on every entry of a batch: `{Successful: [{Id, …what each returns}], Failed: [{Id,
/// SenderFault, Code, Message}]}` — an entry's error fails that entry only, as SQS batches do.
fn batch(
    input: &Value,
    entry: &str,
    mut each: impl FnMut(&Value) -> Result<Value, AwsError>,
) -> Result<Value, AwsError> {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for e in batch_entries(input, entry)? {
        let id = e["Id"].as_str().unwrap_or_default().to_string();
        match each(e) {
            Ok(mut out) => {
                out["Id"] = json!(id);
                ok.push(out);
            }
            Err(err) => failed.push(failure(&id, &err)),
        }
    }
    Ok(json!({"Successful": ok, "Failed": failed}))
}

/// A batch's Entries: 1–10, distinct Ids of `[A-Za-z0-9_-]{1,80}` (the batch errors of the SQS model).
fn batch_entries<'a>(input: &'a Value, entry: &str) -> Result<&'a Vec<Value>, AwsError> {
    let entries = match input.get("Entries").and_then(Value::as_array) {
        Some(e) if !e.is_empty() => e,
        _ => {
            return Err(sqs_error(
                "EmptyBatchRequest",
                "AWS.SimpleQueueService.EmptyBatchRequest",
                format!("There should be at least one {entry} in the request."),
            ));
        }
    };
    if entries.len() > 10 {
        return Err(sqs_error(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are 10. You have sent {}.", entries.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        let well_formed =
            !id.is_empty() && id.len() <= 80 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            return Err(sqs_error(
                "InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most \
                    80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(sqs_error(
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(entries)
}

/// A batch entry's failure: `{Id, SenderFault, Code, Message}` with the query-compatible code.
fn failure(id: &str, err: &AwsError) -> Value {
    let code = err.query_code.clone().unwrap_or_else(|| err.code.clone());
    json!({"Id": id, "SenderFault": true, "Code": code, "Message": err.message})
}

/// A SendMessage body and DelaySeconds: the body 1–262,144 bytes of the characters SQS allows (#x9 | #xA |
/// #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF), the delay 0–900 s.
fn message_input(input: &Value) -> Result<(String, i64), AwsError> {
    let body = input.get("MessageBody").and_then(Value::as_str).ok_or_else(|| missing("MessageBody"))?;
    if body.is_empty() {
        return Err(invalid_value("The request must contain the parameter MessageBody."));
    }
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(invalid_value(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
        )));
    }
    let allowed =
        |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if !body.chars().all(allowed) {
        return Err(sqs_error(
            "InvalidMessageContents",
            "InvalidMessageContents",
            "Invalid binary character in the message body. Allowed characters are #x9 | #xA | #xD | #x20 to #xD7FF | \
                #xE000 to #xFFFD | #x10000 to #x10FFFF",
        ));
    }
    let delay = int(input, "DelaySeconds")?.unwrap_or(0);
    if !(0..=900).contains(&delay) {
        return Err(invalid_value(format!(
            "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
        )));
    }
    Ok((body.to_string(), delay))
}

/// A receipt handle names the queue, the message and the receive (opaque to clients, as SQS's are).
fn handle_for(queue: &str, message: &str, serial: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("twin\n{queue}\n{message}\n{serial}"))
}

/// The (queue, message id) a handle names, if it is one the twin made.
fn parse_handle(handle: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(handle).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.split('\n');
    (parts.next()? == "twin").then_some(())?;
    let queue = parts.next()?.to_string();
    let message = parts.next()?.to_string();
    parts.next()?.parse::<u64>().ok()?;
    Some((queue, message))
}

fn delete(queues: &mut Queues, name: &str, handle: &str) -> Result<(), AwsError> {
    let queue = queues.queues.get_mut(name).ok_or_else(no_queue)?;
    let Some((handle_queue, _)) = parse_handle(handle) else {
        return Err(invalid_handle(handle));
    };
    if handle_queue != name {
        return Err(invalid_handle(handle));
    }
    // Only the latest handle deletes; an older one (or a message already gone) succeeds without effect.
    queue.messages.retain(|m| m.handle.as_deref() != Some(handle));
    Ok(())
}

fn change_visibility(
    queues: &mut Queues,
    name: &str,
    handle: &str,
    timeout: i64,
    now: DateTime<Utc>,
) -> Result<(), AwsError> {
    if !(0..=43_200).contains(&timeout) {
        return Err(invalid_value(format!(
            "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if \
                provided."
        )));
    }
    let queue = queues.queues.get_mut(name).ok_or_else(no_queue)?;
    match parse_handle(handle) {
        Some((q, _)) if q == name => {}
        _ => return Err(invalid_handle(handle)),
    }
    let Some(message) = queue.messages.iter_mut().find(|m| m.handle.as_deref() == Some(handle)) else {
        return Err(sqs_error("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The receipt handle has expired."));
    };
    if message.visible_at <= now {
        return Err(sqs_error(
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            "The message referred to is not in flight.",
        ));
    }
    message.visible_at = now + Duration::seconds(timeout);
    Ok(())
}

/// The attributes GetQueueAttributes names (`All` for every one); an unknown name is
/// `InvalidAttributeName`.
fn attributes(
    queue: &Queue,
    wanted: &[String],
    region: &str,
    account: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Value, AwsError> {
    let visible = queue.messages.iter().filter(|m| m.visible_at <= now).count();
    let delayed = queue.messages.iter().filter(|m| m.visible_at > now && m.receive_count == 0).count();
    let in_flight = queue.messages.iter().filter(|m| m.visible_at > now && m.receive_count > 0).count();
    let all: Vec<(&str, String)> = vec![
        ("ApproximateNumberOfMessages", visible.to_string()),
        ("ApproximateNumberOfMessagesNotVisible", in_flight.to_string()),
        ("ApproximateNumberOfMessagesDelayed", delayed.to_string()),
        ("CreatedTimestamp", queue.created.timestamp().to_string()),
        ("LastModifiedTimestamp", queue.created.timestamp().to_string()),
        ("VisibilityTimeout", queue.visibility_timeout.to_string()),
        ("MaximumMessageSize", MAX_MESSAGE_BYTES.to_string()),
        ("MessageRetentionPeriod", RETENTION_SECONDS.to_string()),
        ("DelaySeconds", "0".to_string()),
        ("ReceiveMessageWaitTimeSeconds", "0".to_string()),
        ("QueueArn", format!("arn:aws:sqs:{region}:{account}:{name}")),
        ("SqsManagedSseEnabled", "true".to_string()),
    ];
    let mut out = serde_json::Map::new();
    for w in wanted {
        if w == "All" {
            for (k, v) in &all {
                out.insert(k.to_string(), json!(v));
            }
            continue;
        }
        match all.iter().find(|(k, _)| k == w) {
            Some((k, v)) => {
                out.insert(k.to_string(), json!(v));
            }
            None => {
                return Err(sqs_error(
                    "InvalidAttributeName",
                    "InvalidAttributeName",
                    format!("Unknown Attribute {w}."),
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

/// ReceiveMessage: up to MaxNumberOfMessages visible messages, each made invisible for the visibility
/// timeout with a new receipt handle; with WaitTimeSeconds, waits for one to become visible.
async fn receive_message(shared: &Shared, input: &Value) -> Result<Value, AwsError> {
    let (name, max, visibility, wait, wanted) = {
        let state = shared.lock();
        let account = state.scenario.account.id.as_str().to_string();
        let name = queue_name(input, &account)?.to_string();
        let queue = state.queues.queues.get(&name).ok_or_else(no_queue)?;
        let max = int(input, "MaxNumberOfMessages")?.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(invalid_value(format!(
                "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if \
                    provided."
            )));
        }
        let visibility = int(input, "VisibilityTimeout")?.unwrap_or(i64::from(queue.visibility_timeout));
        if !(0..=43_200).contains(&visibility) {
            return Err(invalid_value(format!(
                "Value {visibility} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, \
                    if provided."
            )));
        }
        let wait = int(input, "WaitTimeSeconds")?.unwrap_or(0);
        if !(0..=20).contains(&wait) {
            return Err(invalid_value(format!(
                "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )));
        }
        let mut wanted = names(input, "MessageSystemAttributeNames");
        // AttributeNames is the deprecated spelling of MessageSystemAttributeNames; both are honoured.
        wanted.extend(names(input, "AttributeNames"));
        (name, max as usize, visibility, wait, wanted)
    };
    let start = shared.clock.now();
    let deadline = start + Duration::seconds(wait);
    let real_deadline = tokio::time::Instant::now() + StdDuration::from_secs(wait as u64);
    loop {
        let notified = shared.queue_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next_visible = {
            let now = shared.clock.now();
            let mut state = shared.lock();
            state.queues.expire(now);
            let got = take_visible(&mut state.queues, &name, max, visibility, &wanted, now)?;
            if !got.is_empty() || now >= deadline || tokio::time::Instant::now() >= real_deadline {
                return Ok(if got.is_empty() { json!({}) } else { json!({"Messages": got}) });
            }
            state.queues.next_visible(&name, now).map(|t| (t - now).to_std().unwrap_or_default())
        };
        let mut sleep_until = real_deadline;
        if !shared.clock.is_manual()
            && let Some(d) = next_visible
        {
            sleep_until = sleep_until.min(tokio::time::Instant::now() + d);
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
}

fn take_visible(
    queues: &mut Queues,
    name: &str,
    max: usize,
    visibility: i64,
    wanted: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Value>, AwsError> {
    let mut serial = queues.serial;
    let queue = queues.queues.get_mut(name).ok_or_else(no_queue)?;
    let all = wanted.iter().any(|w| w == "All");
    let want = |attr: &str| all || wanted.iter().any(|w| w == attr);
    let mut out = Vec::new();
    for m in queue.messages.iter_mut().filter(|m| m.visible_at <= now).take(max) {
        serial += 1;
        let handle = handle_for(name, &m.id, serial);
        m.handle = Some(handle.clone());
        m.receive_count += 1;
        m.first_receive.get_or_insert(now);
        m.visible_at = now + Duration::seconds(visibility);
        let mut message = json!({"MessageId": m.id, "ReceiptHandle": handle, "MD5OfBody": m.md5, "Body": m.body});
        let mut attrs = serde_json::Map::new();
        if want("ApproximateReceiveCount") {
            attrs.insert("ApproximateReceiveCount".into(), json!(m.receive_count.to_string()));
        }
        if want("SentTimestamp") {
            attrs.insert("SentTimestamp".into(), json!(m.sent.timestamp_millis().to_string()));
        }
        if want("ApproximateFirstReceiveTimestamp") {
            let first = m.first_receive.unwrap_or(now);
            attrs.insert("ApproximateFirstReceiveTimestamp".into(), json!(first.timestamp_millis().to_string()));
        }
        if want("SenderId") {
            // SES publishes as the service; a test's SendMessage as the caller. The twin has one sender id.
            attrs.insert("SenderId".into(), json!("AIDATWINSENDER000000"));
        }
        if !attrs.is_empty() {
            message["Attributes"] = Value::Object(attrs);
        }
        out.push(message);
    }
    queues.serial = serial;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_body_matches_rfc_1321_vectors() {
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    }

    #[test]
    fn queue_urls_name_account_and_queue() {
        let cases = [
            ("http://127.0.0.1:4566/657033058608/q", Ok("q")),
            ("https://sqs.us-east-1.amazonaws.com/657033058608/q", Ok("q")),
            ("http://127.0.0.1:4566/123456789012/q", Err(())),
            ("http://127.0.0.1:4566/q", Err(())),
            ("q", Err(())),
        ];
        for (url, want) in cases {
            let input = json!({"QueueUrl": url});
            assert_eq!(queue_name(&input, "657033058608").map_err(|_| ()), want, "{url}");
        }
    }

    const URL: &str = "http://127.0.0.1/657033058608/cognito-probe-ses-events";

    fn busy() -> (crate::Twin, tempfile::TempDir) {
        let mut s = Scenario::busy_scenario().unwrap();
        s.background.rate_per_minute = 0;
        let dir = tempfile::tempdir().unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-11-26T12:00:25Z").unwrap().to_utc();
        (crate::Twin::with_clock(s, dir.path(), crate::clock::Clock::manual(t0)).unwrap(), dir)
    }

    async fn sqs(twin: &crate::Twin, op: &str, input: Value) -> Result<Value, AwsError> {
        call(&twin.0, op, &input, "http://127.0.0.1").await
    }

    #[tokio::test]
    async fn visibility_timeout_hides_then_shows_with_a_higher_receive_count() {
        let (twin, _dir) = busy();
        twin.send_to_queue("cognito-probe-ses-events", "{\"a\":1}").unwrap();
        let receive = json!({"QueueUrl": URL, "MaxNumberOfMessages": 10, "VisibilityTimeout": 30,
            "MessageSystemAttributeNames": ["SentTimestamp", "ApproximateReceiveCount"]});
        let first = sqs(&twin, "ReceiveMessage", receive.clone()).await.unwrap();
        let m = &first["Messages"][0];
        assert_eq!(m["Body"], "{\"a\":1}");
        assert_eq!(m["MD5OfBody"], md5_hex("{\"a\":1}"));
        assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(m["Attributes"]["SentTimestamp"], "1795694425000");
        assert_eq!(sqs(&twin, "ReceiveMessage", receive.clone()).await.unwrap(), json!({}), "in flight");
        let attrs = json!({"QueueUrl": URL, "AttributeNames": ["All"]});
        let got = sqs(&twin, "GetQueueAttributes", attrs).await.unwrap();
        assert_eq!(got["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "1");
        twin.advance(chrono::Duration::seconds(30)).unwrap();
        let again = sqs(&twin, "ReceiveMessage", receive).await.unwrap();
        assert_eq!(again["Messages"][0]["Attributes"]["ApproximateReceiveCount"], "2");
        // The first handle is stale: deleting with it succeeds and deletes nothing.
        let stale = m["ReceiptHandle"].clone();
        let fresh = again["Messages"][0]["ReceiptHandle"].clone();
        let batch = json!({"QueueUrl": URL, "Entries": [
            {"Id": "stale", "ReceiptHandle": stale}, {"Id": "bad", "ReceiptHandle": "not-a-handle"}]});
        let out = sqs(&twin, "DeleteMessageBatch", batch).await.unwrap();
        assert_eq!(out["Successful"], json!([{"Id": "stale"}]));
        assert_eq!(out["Failed"][0]["Id"], "bad");
        assert_eq!(out["Failed"][0]["Code"], "ReceiptHandleIsInvalid");
        assert_eq!(out["Failed"][0]["SenderFault"], true);
        assert_eq!(twin.queue_messages("cognito-probe-ses-events").len(), 1);
        sqs(&twin, "DeleteMessage", json!({"QueueUrl": URL, "ReceiptHandle": fresh})).await.unwrap();
        assert!(twin.queue_messages("cognito-probe-ses-events").is_empty());
    }

    #[tokio::test]
    async fn a_long_poll_wakes_when_a_record_is_published() {
        let (twin, _dir) = busy();
        let waiter = twin.clone();
        let started = std::time::Instant::now();
        let poll = tokio::spawn(async move {
            sqs(&waiter, "ReceiveMessage", json!({"QueueUrl": URL, "WaitTimeSeconds": 10})).await
        });
        tokio::time::sleep(StdDuration::from_millis(200)).await;
        twin.send_to_queue("cognito-probe-ses-events", "late").unwrap();
        let got = poll.await.unwrap().unwrap();
        assert_eq!(got["Messages"][0]["Body"], "late");
        assert!(started.elapsed() < StdDuration::from_secs(5), "woken, not timed out: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_long_poll_on_an_empty_queue_waits_the_real_seconds() {
        let (twin, _dir) = busy();
        let started = std::time::Instant::now();
        let got = sqs(&twin, "ReceiveMessage", json!({"QueueUrl": URL, "WaitTimeSeconds": 1})).await.unwrap();
        assert_eq!(got, json!({}));
        assert!(started.elapsed() >= StdDuration::from_millis(950), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn unknown_queues_and_bad_parameters() {
        let (twin, _dir) = busy();
        let nope = "http://127.0.0.1/657033058608/nope";
        for (op, input) in [
            ("ReceiveMessage", json!({"QueueUrl": nope})),
            ("GetQueueAttributes", json!({"QueueUrl": nope, "AttributeNames": ["All"]})),
            ("DeleteMessageBatch", json!({"QueueUrl": nope, "Entries": [{"Id": "a", "ReceiptHandle": "x"}]})),
            ("GetQueueUrl", json!({"QueueName": "nope"})),
        ] {
            let err = sqs(&twin, op, input).await.unwrap_err();
            assert_eq!(err.query_code.as_deref(), Some("AWS.SimpleQueueService.NonExistentQueue"), "{op}");
            assert_eq!(err.code, "com.amazonaws.sqs#QueueDoesNotExist", "{op}");
        }
        let err = sqs(&twin, "ReceiveMessage", json!({"QueueUrl": URL, "MaxNumberOfMessages": 11})).await.unwrap_err();
        assert_eq!(err.query_code.as_deref(), Some("InvalidParameterValue"));
        let url = sqs(&twin, "GetQueueUrl", json!({"QueueName": "cognito-probe-ses-events"})).await.unwrap();
        assert_eq!(url["QueueUrl"], URL);
    }

    #[test]
    fn handles_round_trip_and_foreign_ones_fail() {
        let h = handle_for("q", "m-1", 7);
        assert_eq!(parse_handle(&h), Some(("q".into(), "m-1".into())));
        assert_eq!(parse_handle("garbage"), None);
    }
}
