//! The twin's one HTTP server: routes each request to Cognito, SESv2, CloudWatch, SQS, CloudWatch Logs or
//! the control endpoint and speaks each service's wire protocol, with AWS-shaped errors everywhere.
//!
//! Routing (research/aws.md §4.1 describes how moto does the same on one port):
//! * `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>` — Cognito, AWS JSON 1.1.
//! * `X-Amz-Target: GraniteServiceVersion20100801.<Op>` — CloudWatch, AWS JSON 1.0 (the AWS CLI).
//! * `POST /service/GraniteServiceVersion20100801/operation/<Op>` — CloudWatch, Smithy RPC v2 CBOR (the
//!   Rust SDK, research/aws.md §4.5).
//! * `X-Amz-Target: AmazonSQS.<Op>` — SQS, AWS JSON 1.0 with awsQuery-compatible error codes in
//!   `x-amzn-query-error` (the SQS model's `awsQueryCompatible` trait; aws-sdk-sqs reads the header).
//! * `X-Amz-Target: Logs_20140328.<Op>` — CloudWatch Logs, AWS JSON 1.1.
//! * `/v2/email/…` — SESv2, REST JSON (research/aws.md §3.1, §3.2; research/ses-events-oauth-emf.md §2).
//! * `/_twin/…` — the control endpoint (faults, account, reset, clock, state, suppression list, background
//!   traffic, queue and log contents); see README "The AWS twin".
//!
//! Signatures are not verified (test credentials); a request without any `Authorization` is refused
//! except for Cognito's unauthenticated operations. Bodies are bounded to [`MAX_BODY_BYTES`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::cloudwatch::{self, Wire};
use crate::scenario::SuppressionReason;
use crate::{Twin, cognito, logs, sending, ses, sqs, suppression};

/// Largest request body the twin reads; the probe's requests are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

const COGNITO_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CLOUDWATCH_PREFIX: &str = "GraniteServiceVersion20100801.";
const CLOUDWATCH_CBOR_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";
const SQS_PREFIX: &str = "AmazonSQS.";
const LOGS_PREFIX: &str = "Logs_20140328.";

/// An error as an AWS service reports it: HTTP status, error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} (HTTP {status}): {message}")]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// awsQuery-compatible code (CloudWatch), sent in `x-amzn-query-error`.
    pub query_code: Option<String>,
}

impl AwsError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> AwsError {
        AwsError { status, code: code.to_string(), message: message.into(), query_code: None }
    }

    pub fn with_query_code(mut self, code: &str) -> AwsError {
        self.query_code = Some(code.to_string());
        self
    }
}

/// The wire protocols the twin speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json11,
    Json10,
    Cbor,
    RestJson,
}

/// The router serving every service on one port.
pub fn router(twin: Twin) -> Router {
    Router::new().fallback(handle).with_state(twin)
}

/// Counts one served call of `operation` (see [`Twin::calls`]).
fn count(twin: &Twin, operation: &str) {
    *twin.0.lock().calls.entry(operation.to_string()).or_default() += 1;
}

async fn handle(State(twin): State<Twin>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let protocol = protocol_of(&parts.headers, parts.uri.path());
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let err = AwsError::new(
                413,
                "RequestEntityTooLargeException",
                format!("Request body exceeds {MAX_BODY_BYTES} bytes."),
            );
            return error_response(protocol.unwrap_or(Protocol::RestJson), &err);
        }
    };
    let path = parts.uri.path().to_string();
    if let Some(rest) = path.strip_prefix("/_twin") {
        return control(&twin, &parts.method, rest, &body);
    }
    // Whatever became due on the twin's clock (delayed mail, background traffic) happens before the call
    // is served, so every read sees the world as of now.
    sending::run_due(&twin.0);
    let signed = parts.headers.contains_key(axum::http::header::AUTHORIZATION);
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if let Some(op) = target.strip_prefix(SQS_PREFIX) {
        if !signed {
            return error_response(Protocol::Json10, &missing_auth(400));
        }
        count(&twin, op);
        if let Some(err) = denied(&twin, Iam::Sqs, op) {
            return error_response(Protocol::Json10, &err);
        }
        let input = match parse_json(&body) {
            Ok(v) => v,
            Err(err) => return error_response(Protocol::Json10, &err),
        };
        let host = parts.headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
        return match sqs::call(&twin.0, op, &input, &format!("http://{host}")).await {
            Ok(out) => json_response(Protocol::Json10, &out),
            Err(err) => error_response(Protocol::Json10, &err),
        };
    }
    if let Some(op) = target.strip_prefix(LOGS_PREFIX) {
        if !signed {
            return error_response(Protocol::Json11, &missing_auth(400));
        }
        count(&twin, op);
        if let Some(err) = denied(&twin, Iam::Logs, op) {
            return error_response(Protocol::Json11, &err);
        }
        let input = match parse_json(&body) {
            Ok(v) => v,
            Err(err) => return error_response(Protocol::Json11, &err),
        };
        let now = twin.0.clock.now();
        let mut state = twin.0.lock();
        let (account, region) =
            (state.scenario.account.id.as_str().to_string(), state.scenario.account.region.as_str().to_string());
        let result = logs::call(&mut state.logs, op, &input, &account, &region, now);
        drop(state);
        return match result {
            Ok(out) => json_response(Protocol::Json11, &out),
            Err(err) => error_response(Protocol::Json11, &err),
        };
    }
    match protocol {
        Some(Protocol::Json11) => {
            let op = target.strip_prefix(COGNITO_PREFIX).unwrap_or_default();
            if !signed && !cognito::UNSIGNED_OPERATIONS.contains(&op) {
                return error_response(Protocol::Json11, &missing_auth(400));
            }
            if !crate::faults::COGNITO_OPERATIONS.contains(&op) {
                return error_response(Protocol::Json11, &cognito::unknown_operation(op));
            }
            count(&twin, op);
            if let Some(err) = denied(&twin, Iam::Cognito, op) {
                return error_response(Protocol::Json11, &err);
            }
            let input = match parse_json(&body) {
                Ok(v) => v,
                Err(err) => return error_response(Protocol::Json11, &err),
            };
            match cognito::call(&twin.0, op, &input) {
                Ok(out) => json_response(Protocol::Json11, &out),
                Err(err) => error_response(Protocol::Json11, &err),
            }
        }
        Some(p @ (Protocol::Json10 | Protocol::Cbor)) => {
            let op = if p == Protocol::Json10 {
                target.strip_prefix(CLOUDWATCH_PREFIX).unwrap_or_default().to_string()
            } else {
                path.strip_prefix(CLOUDWATCH_CBOR_PATH).unwrap_or_default().to_string()
            };
            if !signed {
                return error_response(p, &missing_auth(400));
            }
            let input = if p == Protocol::Json10 {
                parse_json(&body)
            } else {
                cloudwatch::cbor_to_json(&body).map_err(|e| {
                    AwsError::new(400, "SerializationException", format!("cannot decode the CBOR body: {e}"))
                })
            };
            let input = match input {
                Ok(v) => v,
                Err(err) => return error_response(p, &err),
            };
            if let Some(err) = denied(&twin, Iam::CloudWatch, &op) {
                count(&twin, &op);
                return error_response(p, &err);
            }
            let now = twin.0.clock.now();
            let mut state = twin.0.lock();
            *state.calls.entry(op.clone()).or_default() += 1;
            let lag = chrono::Duration::seconds(state.scenario.faults.metric_lag_seconds.min(i64::MAX as u64) as i64);
            let result = match op.as_str() {
                "GetMetricData" => cloudwatch::get_metric_data(&state.metrics, &input, now, lag),
                "GetMetricStatistics" => cloudwatch::get_metric_statistics(&state.metrics, &input, now, lag),
                other => {
                    let status = if p == Protocol::Cbor { 404 } else { 400 };
                    Err(AwsError::new(
                        status,
                        "UnknownOperationException",
                        format!("Unknown operation: {CLOUDWATCH_PREFIX}{other}"),
                    ))
                }
            };
            drop(state);
            match result {
                Ok(wire) => wire_response(p, &wire),
                Err(err) => error_response(p, &err),
            }
        }
        Some(Protocol::RestJson) => {
            if !signed {
                return error_response(Protocol::RestJson, &missing_auth(403));
            }
            let query = parts.uri.query().unwrap_or_default();
            match sesv2(&twin, &parts.method, &path, query, &body) {
                Ok(out) => json_response(Protocol::RestJson, &out),
                Err(err) => error_response(Protocol::RestJson, &err),
            }
        }
        None => {
            let message = if target.is_empty() {
                format!("Unknown operation: {} {path}", parts.method)
            } else {
                format!("Unknown operation: {target}")
            };
            let status = if target.is_empty() { 404 } else { 400 };
            error_response(
                if target.is_empty() { Protocol::RestJson } else { Protocol::Json11 },
                &AwsError::new(status, "UnknownOperationException", message),
            )
        }
    }
}

fn protocol_of(headers: &HeaderMap, path: &str) -> Option<Protocol> {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if target.starts_with(COGNITO_PREFIX) {
        Some(Protocol::Json11)
    } else if target.starts_with(CLOUDWATCH_PREFIX) {
        Some(Protocol::Json10)
    } else if path.starts_with(CLOUDWATCH_CBOR_PATH) {
        Some(Protocol::Cbor)
    } else if path.starts_with("/v2/") && target.is_empty() {
        Some(Protocol::RestJson)
    } else {
        None
    }
}

fn missing_auth(status: u16) -> AwsError {
    AwsError::new(status, "MissingAuthenticationTokenException", "Missing Authentication Token")
}

/// A JSON body; an empty body is an empty input structure.
fn parse_json(body: &Bytes) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| AwsError::new(400, "SerializationException", format!("The request body is not valid JSON: {e}")))
}

/// SESv2 REST routes (research/aws.md §3.1, §3.2; the suppression list, research/ses-events-oauth-emf.md §2).
fn sesv2(twin: &Twin, method: &Method, path: &str, query: &str, body: &Bytes) -> Result<Value, AwsError> {
    let unknown = || AwsError::new(404, "UnknownOperationException", format!("Unknown operation: {method} {path}"));
    let now = twin.0.clock.now();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let operation = match (method.as_str(), segments.as_slice()) {
        ("GET", ["v2", "email", "account"]) => "GetAccount",
        ("GET", ["v2", "email", "identities", _]) => "GetEmailIdentity",
        ("GET", ["v2", "email", "identities", _, "policies"]) => "GetEmailIdentityPolicies",
        ("GET", ["v2", "email", "suppression", "addresses"]) => "ListSuppressedDestinations",
        ("PUT", ["v2", "email", "suppression", "addresses"]) => "PutSuppressedDestination",
        ("GET", ["v2", "email", "suppression", "addresses", _]) => "GetSuppressedDestination",
        ("DELETE", ["v2", "email", "suppression", "addresses", _]) => "DeleteSuppressedDestination",
        ("GET", ["v2", "email", "configuration-sets", _, "event-destinations"]) => {
            "GetConfigurationSetEventDestinations"
        }
        _ => return Err(unknown()),
    };
    count(twin, operation);
    if let Some(err) = denied(twin, Iam::Ses, operation) {
        return Err(err);
    }
    let last = || percent_decode(segments.last().copied().unwrap_or_default());
    let mut state = twin.0.lock();
    match operation {
        "GetAccount" => {
            let sent = state.ses_sent.iter().filter(|t| **t > now - chrono::Duration::days(1)).count();
            Ok(ses::get_account(&state.scenario, sent))
        }
        "GetEmailIdentity" => ses::get_email_identity(&state.scenario, &percent_decode(segments[3]), now),
        "GetEmailIdentityPolicies" => ses::get_email_identity_policies(&state.scenario, &percent_decode(segments[3])),
        "ListSuppressedDestinations" => suppression::list(&state.suppression, &query_pairs(query)),
        "PutSuppressedDestination" => {
            let input = parse_json(body)?;
            suppression::put(&mut state.suppression, &input, now)
        }
        "GetSuppressedDestination" => suppression::get(&state.suppression, &last()),
        "DeleteSuppressedDestination" => suppression::delete(&mut state.suppression, &last()),
        "GetConfigurationSetEventDestinations" => {
            ses::get_event_destinations(&state.scenario, &percent_decode(segments[3]))
        }
        _ => Err(unknown()),
    }
}

/// The IAM service prefix of a twin service, for the `access_denied` fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Iam {
    Sqs,
    Logs,
    Cognito,
    Ses,
    CloudWatch,
}

/// The error a caller whose IAM policy lacks the action gets, when the `access_denied` fault names the
/// operation. The message is IAM's wording, "User: <principal> is not authorized to perform: <action> on
/// resource: <arn> because no identity-based policy allows the <action> action" (observed in AWS error
/// messages; the twin's caller is `user/probe` and the resource is the service's account-wide ARN, an
/// approximation). Each service's shape:
/// * SQS (JSON 1.0, awsQueryCompatible): HTTP 403, `__type` `com.amazon.coral.service#AccessDeniedException`,
///   `x-amzn-query-error: AccessDenied;Sender` — the code the SDK reports is `AccessDenied`, as with the
///   query protocol (inference from the awsQueryCompatible trait; the status is the query protocol's).
/// * CloudWatch (awsQueryCompatible too): HTTP 403, `AccessDenied`.
/// * CloudWatch Logs and Cognito (JSON 1.1): HTTP 400 `AccessDeniedException`.
/// * SESv2 (REST JSON): HTTP 403 `AccessDeniedException`.
fn denied(twin: &Twin, service: Iam, operation: &str) -> Option<AwsError> {
    let state = twin.0.lock();
    if !state.scenario.faults.denies(operation) {
        return None;
    }
    let (account, region) = (state.scenario.account.id.as_str(), state.scenario.account.region.as_str());
    let prefix = match service {
        Iam::Sqs => "sqs",
        Iam::Logs => "logs",
        Iam::Cognito => "cognito-idp",
        Iam::Ses => "ses",
        Iam::CloudWatch => "cloudwatch",
    };
    let action = format!("{prefix}:{operation}");
    let message = format!(
        "User: arn:aws:iam::{account}:user/probe is not authorized to perform: {action} on resource: \
         arn:aws:{prefix}:{region}:{account}:* because no identity-based policy allows the {action} action"
    );
    Some(match service {
        Iam::Sqs => AwsError::new(403, "com.amazon.coral.service#AccessDeniedException", message)
            .with_query_code("AccessDenied"),
        Iam::CloudWatch => AwsError::new(403, "AccessDenied", message).with_query_code("AccessDenied"),
        Iam::Ses => AwsError::new(403, "AccessDeniedException", message),
        Iam::Logs | Iam::Cognito => AwsError::new(400, "AccessDeniedException", message),
    })
}

/// `k=v&k=v` pairs of a query string, percent-decoded (RFC 3986; the SDKs encode spaces as `%20`).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes of a URL path segment (SESv2 sends `noreply%40thephenom.app`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("twin"))
}

fn content_type(p: Protocol) -> &'static str {
    match p {
        Protocol::Json11 => "application/x-amz-json-1.1",
        Protocol::Json10 => "application/x-amz-json-1.0",
        Protocol::Cbor => "application/cbor",
        Protocol::RestJson => "application/json",
    }
}

fn json_response(p: Protocol, body: &Value) -> Response {
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type(p)));
    h.insert("x-amzn-requestid", request_id());
    resp
}

fn wire_response(p: Protocol, wire: &Wire) -> Response {
    if p != Protocol::Cbor {
        return json_response(p, &wire.to_json());
    }
    let mut resp = (StatusCode::OK, wire.to_cbor()).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/cbor"));
    h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    h.insert("x-amzn-requestid", request_id());
    resp
}

/// An error in the protocol's shape: `x-amzn-ErrorType` and `__type`/`message` (JSON protocols), a
/// `message` body (REST JSON), a CBOR `__type`/`message` map (RPC v2 CBOR), plus `x-amzn-query-error`
/// for CloudWatch's awsQuery-compatible codes.
fn error_response(p: Protocol, err: &AwsError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body: Vec<u8> = match p {
        Protocol::Json11 | Protocol::Json10 => {
            json!({"__type": err.code, "message": err.message}).to_string().into_bytes()
        }
        Protocol::RestJson => json!({"message": err.message}).to_string().into_bytes(),
        Protocol::Cbor => Wire::map(vec![
            ("__type", Wire::text(format!("com.amazonaws.cloudwatch#{}", err.code))),
            ("message", Wire::text(err.message.clone())),
        ])
        .to_cbor(),
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type(p)));
    if p == Protocol::Cbor {
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        h.insert("x-amzn-errortype", v);
    }
    if let Some(q) = &err.query_code
        && let Ok(v) = HeaderValue::from_str(&format!("{q};Sender"))
    {
        h.insert("x-amzn-query-error", v);
    }
    h.insert("x-amzn-requestid", request_id());
    resp
}

/// The control endpoint (README "The AWS twin"): `GET /_twin/state`, `GET|POST /_twin/faults`,
/// `POST /_twin/account`, `POST /_twin/reset`, `POST /_twin/clock` `{"advance_seconds": N}`,
/// `POST /_twin/suppress` `{"email", "reason"}`, `POST /_twin/unsuppress` `{"email"}`,
/// `POST /_twin/background` `{"rate_per_minute": N}`, `GET|POST /_twin/queues/<name>` (the bodies; a raw
/// body to enqueue), `GET /_twin/logs/<group>` (the group's events).
fn control(twin: &Twin, method: &Method, path: &str, body: &Bytes) -> Response {
    let reply = |status: StatusCode, v: Value| {
        let mut resp = (status, v.to_string()).into_response();
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        resp
    };
    let bad = |msg: String| reply(StatusCode::BAD_REQUEST, json!({"error": msg}));
    let input = || -> Result<Value, String> {
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))
    };
    let email = |v: &Value| -> Result<String, String> {
        v.get("email")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "expected {\"email\": \"…\"}".to_string())
    };
    if let Some(name) = path.strip_prefix("/queues/") {
        let name = percent_decode(name);
        return match *method {
            Method::GET => reply(StatusCode::OK, json!({"messages": twin.queue_messages(&name)})),
            Method::POST => match std::str::from_utf8(body) {
                Ok(text) => match twin.send_to_queue(&name, text) {
                    Ok(()) => reply(StatusCode::OK, json!({})),
                    Err(e) => reply(StatusCode::NOT_FOUND, json!({"error": e.to_string()})),
                },
                Err(_) => bad("the message body is not UTF-8".into()),
            },
            _ => bad(format!("expected GET or POST /_twin/queues/{name}")),
        };
    }
    if let Some(group) = path.strip_prefix("/logs/")
        && *method == Method::GET
    {
        return reply(StatusCode::OK, json!({"events": twin.log_events(&percent_decode(group))}));
    }
    match (method.clone(), path) {
        (Method::GET, "/state") => reply(StatusCode::OK, twin.state_json()),
        (Method::GET, "/faults") => reply(StatusCode::OK, json!(twin.faults())),
        (Method::POST, "/faults") => match input().and_then(|v| twin.patch_faults(&v).map_err(|e| e.to_string())) {
            Ok(f) => reply(StatusCode::OK, json!(f)),
            Err(e) => bad(e),
        },
        (Method::POST, "/account") => match input().and_then(|v| twin.patch_account(&v).map_err(|e| e.to_string())) {
            Ok(a) => reply(StatusCode::OK, json!(a)),
            Err(e) => bad(e),
        },
        (Method::POST, "/reset") => {
            twin.reset();
            reply(StatusCode::OK, json!({}))
        }
        (Method::POST, "/clock") => {
            let secs = match input() {
                Ok(v) => v.get("advance_seconds").and_then(Value::as_i64),
                Err(e) => return bad(e),
            };
            let Some(secs) = secs.filter(|s| *s >= 0) else {
                return bad("expected {\"advance_seconds\": <non-negative integer>}".into());
            };
            match twin.advance(chrono::Duration::seconds(secs)) {
                Ok(()) => reply(StatusCode::OK, json!({"now": twin.now()})),
                Err(e) => reply(StatusCode::CONFLICT, json!({"error": e.to_string()})),
            }
        }
        (Method::POST, "/suppress") => {
            let parsed = input().and_then(|v| {
                let reason = v.get("reason").and_then(Value::as_str).unwrap_or("BOUNCE");
                let reason = SuppressionReason::parse(reason)
                    .ok_or_else(|| format!("reason {reason:?} is not BOUNCE or COMPLAINT"))?;
                Ok((email(&v)?, reason))
            });
            match parsed {
                Ok((address, reason)) => {
                    twin.suppress(&address, reason);
                    reply(StatusCode::OK, json!({}))
                }
                Err(e) => bad(e),
            }
        }
        (Method::POST, "/unsuppress") => match input().and_then(|v| email(&v)) {
            Ok(address) => reply(StatusCode::OK, json!({"removed": twin.unsuppress(&address)})),
            Err(e) => bad(e),
        },
        (Method::POST, "/background") => {
            let rate = input().and_then(|v| {
                v.get("rate_per_minute")
                    .and_then(Value::as_u64)
                    .and_then(|r| u32::try_from(r).ok())
                    .ok_or_else(|| "expected {\"rate_per_minute\": <non-negative integer>}".to_string())
            });
            match rate.and_then(|r| twin.set_background(r).map_err(|e| e.to_string())) {
                Ok(()) => reply(StatusCode::OK, json!({})),
                Err(e) => bad(e),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no control route {method} /_twin{path}; expected GET /_twin/state, GET|POST \
                /_twin/faults, POST /_twin/account, POST /_twin/reset, POST /_twin/clock, POST /_twin/suppress, \
                POST /_twin/unsuppress, POST /_twin/background, GET|POST /_twin/queues/<name>, \
                GET /_twin/logs/<group>")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_cases() {
        let cases = [
            ("noreply%40thephenom.app", "noreply@thephenom.app"),
            ("plain", "plain"),
            ("bad%4", "bad%4"),
            ("%zz", "%zz"),
            ("%é", "%é"),
        ];
        for (input, want) in cases {
            assert_eq!(percent_decode(input), want);
        }
    }
}
