//! The only AWS calls the probe makes, on the real SDK clients: Cognito reads and triggers, the SESv2 reads
//! (identity, account, suppression list, event destinations), CloudWatch `GetMetricData`, Cognito's
//! notification error logs (CloudWatch Logs `FilterLogEvents`), the SES event queue (SQS) and the tick
//! claims (DynamoDB, [`ticks`]). The probe only *reads* configuration; the writes it makes are asking Cognito
//! to send a message, deleting its own records from its event queue and claiming its own ticks.
//!
//! Errors are classified once here ([`AwsFailure`]) so every caller maps them to verdicts the same way.
//! The AWS rules the probe applies live beside the calls, one home each: [`trigger`] (which call makes the
//! mail, and how often), [`policy`] (does an identity policy let Cognito send), [`arn`] (the ARNs read).

pub mod arn;
pub mod cloudwatch;
pub mod cognito;
pub mod cognito_logs;
pub mod events;
pub mod policy;
pub mod ses;
pub mod sqs;
pub mod ticks;
pub mod trigger;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_cognitoidentityprovider::config::SharedHttpClient;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use serde::Deserialize;

use crate::metrics::CloudWatchMetrics;

/// The `[aws]` section of a probe file: how the SDK clients are built. Credentials come from the standard
/// chain (env, profile, SSO, web identity, instance role).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Named profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// Role to assume on top of the chain's credentials.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// A non-AWS endpoint (the twin, an emulator) for every service.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

/// The HTTP client of every AWS call the probe makes: rustls 0.23 with ring, the TLS stack of the IMAP
/// client and the alert channels, so the binary links one TLS library and one crypto provider. The SDK
/// crates are built without their default client (`default-features = false` in Cargo.toml), so a
/// configuration loaded without this one has no HTTP client at all and fails on its first call.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// `aws_config::defaults` with the probe's [`http_client`]. The loader hands that client to the credential
/// providers it builds too (SSO, web identity, STS), and `AssumeRoleProvider::configure` takes it from the
/// loaded configuration, so no AWS request goes out on another stack.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// The SDK clients of one probe. `cognito_trigger` has retries disabled: a retried timeout can send a second
/// mail, and a retried `LimitExceededException` burns the hourly budget (aws.md §1.8).
#[derive(Clone, Debug)]
pub struct Clients {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub cognito_trigger: aws_sdk_cognitoidentityprovider::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sesv2: aws_sdk_sesv2::Client,
    /// The SES event queue (`[ses_events]`).
    pub sqs: aws_sdk_sqs::Client,
    /// Cognito's notification error logs (`[cognito_logs]`).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Batched `Send` metric reads of this account and Region, shared by every probe using these clients.
    send_reader: Arc<cloudwatch::SendReader>,
    /// Clients for other Regions (an SES identity in another Region than the pool, aws.md §1.5), built once
    /// so their connections and batching reader are shared too.
    regional: Arc<Mutex<HashMap<String, Clients>>>,
    /// Where the readers of these clients (all Regions) count their reads and calls.
    cloudwatch_metrics: CloudWatchMetrics,
    base: SdkConfig,
}

impl Clients {
    /// Builds clients from the standard credential chain (env, profile, SSO, web identity, instance role),
    /// with the probe's profile, role and endpoint on top.
    pub async fn new(settings: &AwsSettings, region: &str) -> Clients {
        let mut loader = config_loader().region(Region::new(region.to_string()));
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let mut base = loader.load().await;
        if let Some(role) = &settings.role_arn {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role.clone())
                .session_name("cognito-delivery-probe")
                .configure(&base)
                .build()
                .await;
            base = base
                .into_builder()
                .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
                .build();
        }
        Self::from_sdk_config(base)
    }

    /// Clients over an already loaded configuration (tests use this with test credentials).
    pub fn from_sdk_config(base: SdkConfig) -> Clients {
        let trigger_conf =
            aws_sdk_cognitoidentityprovider::config::Builder::from(&base).retry_config(RetryConfig::disabled()).build();
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&base);
        let cognito_trigger = aws_sdk_cognitoidentityprovider::Client::from_conf(trigger_conf);
        Self::assemble(base, cognito, cognito_trigger, CloudWatchMetrics::default())
    }

    /// SES and CloudWatch clients over `base`, with the given Cognito clients.
    fn assemble(
        base: SdkConfig,
        cognito: aws_sdk_cognitoidentityprovider::Client,
        cognito_trigger: aws_sdk_cognitoidentityprovider::Client,
        cloudwatch_metrics: CloudWatchMetrics,
    ) -> Clients {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&base);
        Clients {
            cognito,
            cognito_trigger,
            send_reader: Arc::new(cloudwatch::SendReader::new(cloudwatch.clone(), cloudwatch_metrics.clone())),
            cloudwatch,
            sesv2: aws_sdk_sesv2::Client::new(&base),
            sqs: aws_sdk_sqs::Client::new(&base),
            logs: aws_sdk_cloudwatchlogs::Client::new(&base),
            regional: Arc::default(),
            cloudwatch_metrics,
            base,
        }
    }

    /// These clients with their CloudWatch reader (and those of other Regions) counting into `metrics`.
    pub fn with_cloudwatch_metrics(mut self, metrics: CloudWatchMetrics) -> Clients {
        self.send_reader = Arc::new(cloudwatch::SendReader::new(self.cloudwatch.clone(), metrics.clone()));
        self.cloudwatch_metrics = metrics;
        self.regional = Arc::default();
        self
    }

    /// SES and CloudWatch clients for the Region of the pool's SourceArn, which may differ from the pool's
    /// (aws.md §1.5: "Build the SESv2 and CloudWatch clients for the Region in SourceArn").
    pub fn in_ses_region(&self, region: &str) -> Clients {
        if self.base.region().map(|r| r.as_ref()) == Some(region) {
            return self.clone();
        }
        let mut regional = self.regional.lock().unwrap_or_else(PoisonError::into_inner);
        regional
            .entry(region.to_string())
            .or_insert_with(|| {
                let base = self.base.clone().into_builder().region(Region::new(region.to_string())).build();
                // Cognito stays in the pool's Region.
                let (cognito, trigger) = (self.cognito.clone(), self.cognito_trigger.clone());
                Self::assemble(base, cognito, trigger, self.cloudwatch_metrics.clone())
            })
            .clone()
    }

    /// Reads asked for and `GetMetricData` calls made by these clients' readers, every Region included.
    pub fn cloudwatch_stats(&self) -> (u64, u64) {
        (self.cloudwatch_metrics.reads.get(), self.cloudwatch_metrics.calls.get())
    }
}

/// Awaits one AWS call and says at debug level what it did: the operation, how long it took and how it
/// ended (the error code) — never its request or response, which may carry an address or a code.
pub(crate) async fn call<T, E, R>(
    operation: &'static str,
    request: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, AwsFailure>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let started = std::time::Instant::now();
    let result = request.await.map_err(|e| AwsFailure::from_sdk(operation, e));
    let ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => tracing::debug!(operation, ms, "AWS {operation} ok"),
        Err(e) => tracing::debug!(operation, ms, code = e.code().unwrap_or("no answer"), "AWS {operation} failed"),
    }
    result
}

/// What went wrong with an AWS call, in the categories the verdict needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsFailure {
    /// A per-user attempt counter (`LimitExceededException`) or a request-rate quota
    /// (`TooManyRequestsException`) — aws.md §1.1 and §1.6. Never a delivery failure.
    #[error("{operation}: throttled by AWS ({code}: {message})")]
    Throttled { operation: &'static str, code: String, message: String },
    /// The service answered with an error.
    #[error("{operation}: {code}: {message}")]
    Service { operation: &'static str, code: String, message: String },
    /// No answer: network, endpoint, credentials or timeout.
    #[error("{operation}: could not reach AWS: {detail}")]
    Unreachable { operation: &'static str, detail: String },
}

impl AwsFailure {
    /// The AWS error code (`NotAuthorizedException`, …) when the service answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsFailure::Throttled { code, .. } | AwsFailure::Service { code, .. } => Some(code),
            AwsFailure::Unreachable { .. } => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            AwsFailure::Throttled { message, .. } | AwsFailure::Service { message, .. } => message,
            AwsFailure::Unreachable { detail, .. } => detail,
        }
    }

    /// Classifies an SDK error of any operation.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsFailure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("UnknownError").to_string();
                let message = service.err().message().unwrap_or_default().to_string();
                // aws.md §1.1: LimitExceeded = per-user attempt counter, TooManyRequests = category RPS.
                if matches!(
                    code.as_str(),
                    "LimitExceededException" | "TooManyRequestsException" | "ThrottlingException" | "Throttling"
                ) {
                    AwsFailure::Throttled { operation, code, message }
                } else {
                    AwsFailure::Service { operation, code, message }
                }
            }
            _ => AwsFailure::Unreachable {
                operation,
                detail: aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            },
        }
    }
}
