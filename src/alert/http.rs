//! The HTTP client the webhook and PagerDuty channels share: hyper over rustls (ring, webpki roots — the
//! same trust the IMAP client uses), one JSON POST per attempt, each bounded by the channel's timeout.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio_rustls::rustls;

use super::channel::{AttemptError, ChannelError};

/// How much of an error response body is kept for the error message.
const BODY_EXCERPT: usize = 200;

/// Parses a channel URL: absolute, `http` or `https`, with a host. The error shows the URL only as
/// [`redacted`] does: a bad URL is as likely to carry a token as a good one.
pub(crate) fn parse_url(channel: &'static str, url: &str) -> Result<Uri, ChannelError> {
    let bad = |detail: &str| ChannelError::BadUrl { channel, url: redacted(url), detail: detail.to_string() };
    let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(&format!("scheme {other:?}"))),
        None => return Err(bad("no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(uri)
}

/// A URL as an error may show it, parsed or not: `scheme://host[:port]`, a user-info part replaced by `…@`,
/// anything after the authority by `/…`. A webhook's path or query is often its token (Slack's
/// `https://hooks.slack.com/services/T…/B…/<token>`, PagerDuty's integration URLs). Text without `://` has
/// no recognisable host, so none of it is shown.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "…".to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (userinfo, host) = match rest[..end].rsplit_once('@') {
        Some((_, host)) => ("…@", host),
        None => ("", &rest[..end]),
    };
    let tail = if end < rest.len() { "/…" } else { "" };
    format!("{scheme}://{userinfo}{host}{tail}")
}

/// `scheme://host:port` of a URL: what logs and errors show, since the path of a webhook is often a token.
pub(crate) fn target(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{host}:{port}")
}

/// A pooled HTTP(S) client for one channel.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

/// The probe's HTTP(S) client for endpoints outside AWS (alert channels, OAuth2 token endpoints): hyper over
/// rustls with ring and the web roots — the trust the IMAP client uses — HTTP/1.1, plain http allowed
/// (callers check which URLs may use it).
pub(crate) fn web_client() -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector =
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

impl HttpClient {
    pub(crate) fn new(channel: &'static str) -> Result<HttpClient, ChannelError> {
        let client = web_client().map_err(|e| ChannelError::Tls { channel, detail: e.to_string() })?;
        Ok(HttpClient { client })
    }

    /// POSTs `body` as JSON; `Ok` on any 2xx. The whole exchange, body included, is bounded by `timeout`.
    pub(crate) async fn post_json(
        &self,
        url: &Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), AttemptError> {
        let target = target(url);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("cognito-delivery-probe/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| AttemptError::Connect { target: target.clone(), detail: e.to_string() })?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                let detail = error_chain(&e);
                // Before the connection was up nothing was sent; after it, the receiver may have the request.
                if e.is_connect() {
                    AttemptError::Connect { target: target.clone(), detail }
                } else {
                    AttemptError::Interrupted { target: target.clone(), detail }
                }
            })?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            // RFC 9110 §10.2.3: delay-seconds or an HTTP-date; only the (far more common) seconds are used.
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.chars().take(BODY_EXCERPT).collect();
            Err(AttemptError::Status { target: target.clone(), status: status.as_u16(), body: excerpt, retry_after })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(AttemptError::Timeout { target: target.clone(), after: timeout }))
    }
}

/// hyper's top-level error says only "client error (Connect)"; the cause ("Connection refused") is below.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each bad URL, and what its error shows of it: never a path, a query or a user-info part.
    #[test]
    fn bad_url_errors_show_only_scheme_and_host() {
        let cases = [
            ("a typo'd scheme", "htps://hooks.slack.com/services/T0/B0/tok-canary", "\"htps://hooks.slack.com/…\""),
            ("ftp", "ftp://example.com/x?token=tok-canary", "\"ftp://example.com/…\""),
            ("no scheme", "hooks.slack.com/services/T0/B0/tok-canary", "\"…\""),
            ("a bare token", "tok-canary", "\"…\""),
            ("credentials in the authority", "ftp://user:tok-canary@example.com:21/x", "\"ftp://…@example.com:21/…\""),
            ("a space in the path", "https://example.com/tok canary", "\"https://example.com/…\""),
            ("no host", "https:///services/tok-canary", "\"https:///…\""),
        ];
        for (case, url, shown) in cases {
            let err = parse_url("webhook", url).expect_err(case).to_string();
            assert!(err.contains(shown), "{case}: {err}");
            assert!(!err.contains("tok-canary") && !err.contains("tok canary"), "{case}: {err}");
        }
    }

    #[test]
    fn targets_hide_the_path_and_query() {
        let cases = [
            ("https://hooks.example.com/services/T0/B0/secret-token", "https://hooks.example.com:443"),
            ("http://127.0.0.1:8080/hook?key=abc", "http://127.0.0.1:8080"),
            ("http://example.com", "http://example.com:80"),
        ];
        for (url, expected) in cases {
            let uri = parse_url("webhook", url).unwrap();
            assert_eq!(target(&uri), expected, "{url}");
        }
    }
}
