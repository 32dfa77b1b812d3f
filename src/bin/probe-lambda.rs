//! `probe-lambda`: the probe as an AWS Lambda function (feature `lambda`; README "Lambda"). The Lambda
//! runtime client hands each invocation's payload to [`cognito_delivery_probe::lambda::handle`], which runs
//! the probes it names; this file only wires the runtime and logging. Built with
//! `cargo lambda build --release --features lambda --bin probe-lambda --output-format zip` for the
//! `provided.al2023` runtime (handler `bootstrap`).

use cognito_delivery_probe::lambda::{Settings, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Logs on stderr (`RUST_LOG`, default warn); stdout carries only the EMF lines.
    cognito_delivery_probe::logging::init(None);
    let settings = Settings::from_env();
    tracing::info!(probe_dir = %settings.probe_dir.display(), tick_table = ?settings.tick_table, "probe-lambda ready");
    let emit = |line: &str| cognito_delivery_probe::output::println(line);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| async {
        Ok::<_, Error>(handle(event.payload, &settings, &emit).await)
    }))
    .await
}
