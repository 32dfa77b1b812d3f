//! The SDK clients' own HTTP stack (`aws::http_client`: rustls 0.23 with ring, the SDK's default client
//! switched off in Cargo.toml) really speaks TLS and verifies certificates: against a loopback HTTPS server
//! whose certificate comes from the untrusted test CA, an SESv2 call fails in the handshake with the
//! verifier's reason, and nothing is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_types::error::display::DisplayErrorContext;

#[tokio::test]
async fn sdk_calls_use_rustls_with_ring_and_refuse_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = testkit::tls::TestCa::create(dir.path());
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handshakes, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (seen, served) = (handshakes.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            // The client trusts the system's roots, not the test CA: the handshake must fail.
            if acceptor.accept(tcp).await.is_ok() {
                served.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let sdk = cognito_delivery_probe::aws::config_loader()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("https://127.0.0.1:{port}"))
        .test_credentials()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let err = aws_sdk_sesv2::Client::new(&sdk).get_account().send().await.unwrap_err();
    let text = DisplayErrorContext(&err).to_string();
    assert!(text.contains("UnknownIssuer") || text.contains("invalid peer certificate"), "{text}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "one TLS connection attempted: {text}");
    assert_eq!(requests.load(Ordering::SeqCst), 0, "no handshake completed: {text}");
}
