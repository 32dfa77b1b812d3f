//! The webhook channel: the alert as a JSON POST, optionally signed with HMAC-SHA256 of the exact body bytes
//! (RFC 2104) in `X-Probe-Signature: sha256=<hex>`, so the receiver can tell the probe's alerts from forgeries.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac as _};
use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use sha2::Sha256;

use super::Alert;
use super::channel::{AttemptError, ChannelError};
use super::http::{self, HttpClient};
use crate::secret::Secret;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-probe-signature";
/// The alert's idempotency key ([`Alert::idempotency_key`]), the same on every repeat of one alert.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Headers the probe sets itself; a configured header may not replace them.
const RESERVED: [&str; 6] =
    [SIGNATURE_HEADER, IDEMPOTENCY_HEADER, "content-type", "content-length", "host", "transfer-encoding"];

/// The POST body: the alert as one JSON document (the same document exec channels get on stdin).
pub fn body(alert: &Alert) -> Vec<u8> {
    super::exec::payload(alert)
}

/// `sha256=<lower-case hex of HMAC-SHA256(secret, body)>` (RFC 2104 with SHA-256, FIPS 180-4).
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length (RFC 2104 §2), so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Parses configured headers; values are marked sensitive so they never show in `Debug` (they are often
/// `Authorization` tokens).
pub(crate) fn parse_headers(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, ChannelError> {
    headers
        .iter()
        .map(|(name, value)| {
            let bad = |detail: String| ChannelError::BadHeader { name: name.clone(), detail };
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad("not a valid header name (RFC 9110 §5.1 token)".into()))?;
            if RESERVED.contains(&header.as_str()) {
                return Err(bad("is set by the probe and cannot be configured".into()));
            }
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| bad("value holds a control character such as a newline (RFC 9110 §5.5)".into()))?;
            value.set_sensitive(true);
            Ok((header, value))
        })
        .collect()
}

/// A configured webhook.
pub(crate) struct Webhook {
    url: Uri,
    secret: Option<Secret>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    client: HttpClient,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("target", &http::target(&self.url))
            .field("signed", &self.secret.is_some())
            .field("headers", &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Webhook {
    pub(crate) fn new(
        url: &str,
        secret: Option<Secret>,
        headers: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<Webhook, ChannelError> {
        Ok(Webhook {
            url: http::parse_url("webhook", url)?,
            secret,
            headers: parse_headers(headers)?,
            timeout,
            client: HttpClient::new("webhook")?,
        })
    }

    pub(crate) fn target(&self) -> String {
        http::target(&self.url)
    }

    pub(crate) async fn attempt(&self, alert: &Alert) -> Result<(), AttemptError> {
        let body = body(alert);
        let mut headers = self.headers.clone();
        // draft-ietf-httpapi-idempotency-key-header: the same key on every repeat of one alert.
        if let Ok(value) = HeaderValue::from_str(&alert.idempotency_key) {
            headers.push((HeaderName::from_static(IDEMPOTENCY_HEADER), value));
        }
        if let Some(secret) = &self.secret {
            let signature = signature(secret.expose(), &body);
            // The hex signature is ASCII, always a valid header value.
            if let Ok(mut value) = HeaderValue::from_str(&signature) {
                value.set_sensitive(true);
                headers.push((HeaderName::from_static(SIGNATURE_HEADER), value));
            }
        }
        self.client.post_json(&self.url, &headers, body, self.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc4231_vectors() {
        // RFC 4231 §4.2 (test case 1 key is binary; test case 2 uses key "Jefe").
        let cases = [(
            "Jefe",
            b"what do ya want for nothing?".as_slice(),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        )];
        for (key, data, expected) in cases {
            assert_eq!(signature(key, data), expected);
        }
    }

    #[test]
    fn debug_shows_neither_secret_nor_header_values() {
        let headers = BTreeMap::from([("Authorization".to_string(), "Bearer tok-canary".to_string())]);
        let hook = Webhook::new(
            "https://example.com/p/path-canary",
            Some(Secret::new("sec-canary")),
            &headers,
            Duration::from_secs(1),
        )
        .unwrap();
        let debug = format!("{hook:?}");
        for canary in ["tok-canary", "sec-canary", "path-canary"] {
            assert!(!debug.contains(canary), "{debug}");
        }
        assert!(debug.contains("authorization"), "{debug}");
    }
}
