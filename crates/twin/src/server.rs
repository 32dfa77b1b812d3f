//! The twin's one HTTP server: routes each request to Cognito, SESv2, CloudWatch or the control endpoint
//! and speaks each service's wire protocol, with AWS-shaped errors everywhere.
//!
//! Routing (research/aws.md §4.1 describes how moto does the same on one port):
//! * `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>` — Cognito, AWS JSON 1.1.
//! * `X-Amz-Target: GraniteServiceVersion20100801.<Op>` — CloudWatch, AWS JSON 1.0 (the AWS CLI).
//! * `POST /service/GraniteServiceVersion20100801/operation/<Op>` — CloudWatch, Smithy RPC v2 CBOR (the
//!   Rust SDK, research/aws.md §4.5).
//! * `GET /v2/email/…` — SESv2, REST JSON (research/aws.md §3.1, §3.2).
//! * `/_twin/…` — the control endpoint (faults, account, reset, clock, state); see README "The AWS twin".
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
use crate::{Twin, cognito, ses};

/// Largest request body the twin reads; the probe's requests are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

const COGNITO_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CLOUDWATCH_PREFIX: &str = "GraniteServiceVersion20100801.";
const CLOUDWATCH_CBOR_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";

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
    let signed = parts.headers.contains_key(axum::http::header::AUTHORIZATION);
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
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
            match sesv2(&twin, &parts.method, &path) {
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

/// SESv2 REST routes (research/aws.md §3.1, §3.2).
fn sesv2(twin: &Twin, method: &Method, path: &str) -> Result<Value, AwsError> {
    let unknown = || AwsError::new(404, "UnknownOperationException", format!("Unknown operation: {method} {path}"));
    if method != Method::GET {
        return Err(unknown());
    }
    let state = twin.0.lock();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v2", "email", "account"] => {
            let now = twin.0.clock.now();
            let sent = state.ses_sent.iter().filter(|t| **t > now - chrono::Duration::days(1)).count();
            Ok(ses::get_account(&state.scenario, sent))
        }
        ["v2", "email", "identities", id] => {
            ses::get_email_identity(&state.scenario, &percent_decode(id), twin.0.clock.now())
        }
        ["v2", "email", "identities", id, "policies"] => {
            ses::get_email_identity_policies(&state.scenario, &percent_decode(id))
        }
        _ => Err(unknown()),
    }
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
/// `POST /_twin/account`, `POST /_twin/reset`, `POST /_twin/clock` `{"advance_seconds": N}`.
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
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no control route {method} /_twin{path}; expected GET /_twin/state, GET|POST \
                /_twin/faults, POST /_twin/account, POST /_twin/reset, POST /_twin/clock")}),
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
