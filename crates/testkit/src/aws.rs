//! The AWS SDK configuration the tests hand to the probe's clients: an endpoint on loopback (the twin,
//! moto, or a closed port), us-east-1, test credentials, and the same HTTP stack as the probe (rustls 0.23
//! with ring, `aws-smithy-http-client`). The SDK crates are built without a default HTTP client, so a
//! configuration without one could not make a single call.
//!
//! The probe has its own `aws::http_client`; this crate cannot call it (it must not depend on the probe),
//! so it builds the same client from the same crate. `cargo tree -i rustls@0.21…` / `-i aws-lc-rs` finding
//! nothing is what proves no other stack is linked.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The Region of the twin's default scenario and of moto's accounts.
pub const REGION: &str = "us-east-1";

/// Access key handed to child processes (`probe monitor`, the one-shot binary); the twin and moto accept
/// any credentials.
pub const ACCESS_KEY_ID: &str = "AKIDTWIN";
/// The secret key that goes with [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "twin-secret";

/// `endpoint`, [`REGION`], test credentials, the SDK's default retries.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    loader(endpoint).load().await
}

/// Like [`sdk_config`], with SDK retries off: a failure shows on the first attempt.
pub async fn sdk_config_without_retries(endpoint: &str) -> SdkConfig {
    loader(endpoint).retry_config(RetryConfig::disabled()).load().await
}

fn loader(endpoint: &str) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https(),
        )
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .test_credentials()
}
