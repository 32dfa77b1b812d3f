//! Malformed and unknown requests get AWS-shaped errors — right status, `x-amzn-ErrorType`, `__type` and
//! `message` (CBOR for CBOR) — never a panic or a hang; plus bad scenario files.

use serde_json::Value;

use crate::twin_harness::*;

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn malformed_requests_case_table() {
    let env = start().await;
    let url = env.url();
    let signed =
        "AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/x/aws4_request, SignedHeaders=host, Signature=00";
    let cognito = |op: &str| format!("AWSCognitoIdentityProviderService.{op}");
    // (name, method, path, headers, body, status, error type, message fragment)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Vec<(&'static str, String)>,
        Vec<u8>,
        u16,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "unknown Cognito operation is named",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("SignUpFast")), ("Authorization", signed.into())],
            b"{}".to_vec(),
            400,
            "UnknownOperationException",
            "AWSCognitoIdentityProviderService.SignUpFast",
        ),
        (
            "body is not JSON",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("AdminGetUser")), ("Authorization", signed.into())],
            b"{not json".to_vec(),
            400,
            "SerializationException",
            "not valid JSON",
        ),
        (
            "missing UserPoolId",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("AdminGetUser")), ("Authorization", signed.into())],
            br#"{"Username":"u"}"#.to_vec(),
            400,
            "InvalidParameterException",
            "1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint: Member must not be \
                null",
        ),
        (
            "malformed UserPoolId",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("DescribeUserPool")), ("Authorization", signed.into())],
            br#"{"UserPoolId":"YOUR_USER_POOL_ID!"}"#.to_vec(),
            400,
            "InvalidParameterException",
            "Member must satisfy regular expression pattern",
        ),
        (
            "wrong field type",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("AdminGetUser")), ("Authorization", signed.into())],
            br#"{"UserPoolId":7,"Username":"u"}"#.to_vec(),
            400,
            "SerializationException",
            "UserPoolId",
        ),
        (
            "unknown pool",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("AdminGetUser")), ("Authorization", signed.into())],
            br#"{"UserPoolId":"us-east-1_Nope","Username":"u"}"#.to_vec(),
            400,
            "ResourceNotFoundException",
            "User pool us-east-1_Nope does not exist.",
        ),
        (
            "unknown client",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("ForgotPassword"))],
            br#"{"ClientId":"nope","Username":"u"}"#.to_vec(),
            400,
            "ResourceNotFoundException",
            "User pool client nope does not exist.",
        ),
        (
            "unsigned admin call",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("AdminGetUser"))],
            br#"{"UserPoolId":"us-east-1_knEL7cqS3","Username":"u"}"#.to_vec(),
            400,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
        (
            "unknown SESv2 route",
            "GET",
            "/v2/email/templates",
            vec![("Authorization", signed.into())],
            vec![],
            404,
            "UnknownOperationException",
            "GET /v2/email/templates",
        ),
        (
            "unknown CloudWatch JSON operation",
            "POST",
            "/",
            vec![
                ("X-Amz-Target", "GraniteServiceVersion20100801.PutMetricAlarm".into()),
                ("Authorization", signed.into()),
            ],
            b"{}".to_vec(),
            400,
            "UnknownOperationException",
            "PutMetricAlarm",
        ),
        ("unknown path", "GET", "/nothing/here", vec![], vec![], 404, "UnknownOperationException", "GET /nothing/here"),
        (
            "oversized body",
            "POST",
            "/",
            vec![("X-Amz-Target", cognito("AdminGetUser")), ("Authorization", signed.into())],
            vec![b' '; 2 << 20],
            413,
            "RequestEntityTooLargeException",
            "exceeds",
        ),
    ];
    for (name, method, path, headers, body, status, error_type, fragment) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (got, body, head) =
            tokio::time::timeout(std::time::Duration::from_secs(5), http(&url, method, path, &headers, &body))
                .await
                .unwrap_or_else(|_| panic!("{name}: the twin hung"));
        assert_eq!(got, status, "{name}: {}", String::from_utf8_lossy(&body));
        assert_eq!(header(&head, "x-amzn-ErrorType"), Some(error_type), "{name}");
        let json: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: body not JSON: {e}"));
        if let Some(t) = json.get("__type") {
            assert_eq!(t, error_type, "{name}");
        }
        let message = json["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{name}: {message:?} lacks {fragment:?}");
    }
}

#[tokio::test]
async fn cbor_errors_are_cbor() {
    let env = start().await;
    let signed = "AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/monitoring/aws4_request, SignedHeaders=host, \
        Signature=00";
    let cases: [(&str, &str, &[u8], u16, &str); 2] = [
        (
            "garbage body",
            "/service/GraniteServiceVersion20100801/operation/GetMetricData",
            b"\xff\x00garbage",
            400,
            "SerializationException",
        ),
        (
            "unknown operation",
            "/service/GraniteServiceVersion20100801/operation/DeleteAlarms",
            b"\xa0",
            404,
            "UnknownOperationException",
        ),
    ];
    for (name, path, body, status, code) in cases {
        let headers =
            [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("Authorization", signed)];
        let (got, body, head) = http(&env.url(), "POST", path, &headers, body).await;
        assert_eq!(got, status, "{name}");
        assert_eq!(header(&head, "content-type"), Some("application/cbor"), "{name}");
        let decoded = twin::cloudwatch::cbor_to_json(&body).unwrap();
        assert_eq!(decoded["__type"], format!("com.amazonaws.cloudwatch#{code}"), "{name}");
        assert!(decoded["message"].is_string(), "{name}");
    }
}

#[test]
fn bad_scenario_files_name_file_line_and_field() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/twin/scenarios/bad");
    let cases = [
        ("unknown-field.toml", "unknown-field.toml:25:1: field `pools.users.verified`: unknown field `verified`"),
        ("bad-status.toml", "bad-status.toml:23:10: field `pools.users.status`: unknown variant `ACTIVE`"),
        (
            "missing-identity.toml",
            "missing-identity.toml: field `pools[0].email.source_arn`: names identity \"noreply@other.example\"",
        ),
    ];
    for (file, want) in cases {
        let err = twin::scenario::Scenario::load(&dir.join(file)).unwrap_err().to_string();
        assert!(err.contains(want), "{file}: {err}");
        assert!(err.contains(&dir.join(file).display().to_string()), "{file}: the error names the file: {err}");
    }
}
