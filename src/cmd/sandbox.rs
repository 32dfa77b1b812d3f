//! `probe sandbox`: serve the AWS twin (Cognito, SESv2, CloudWatch) on loopback, delivering mail into a
//! Maildir, until SIGINT or SIGTERM. When ready it prints exactly one JSON line on stdout describing what
//! it serves (README "The AWS twin"); everything else goes to stderr.

use std::io::Write as _;

use crate::cli::SandboxArgs;
use crate::verdict::Outcome;
use twin::Twin;
use twin::scenario::Scenario;

pub async fn run(args: SandboxArgs) -> u8 {
    match serve(args).await {
        Ok(()) => Outcome::Ok.exit_code(),
        Err(err) => {
            eprintln!("probe sandbox: {err:#}");
            Outcome::Unknown.exit_code()
        }
    }
}

async fn serve(args: SandboxArgs) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default_scenario()?,
    };
    let twin = Twin::new(scenario, &args.maildir)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {}: {e} (hint: pick another port, or 0 for a free one)", args.listen)
    })?;
    let addr = listener.local_addr()?;
    let ready = twin.summary(&format!("http://{addr}"));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{ready}")?;
        out.flush()?;
    }
    twin::run(listener, twin, shutdown_signal()).await;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
