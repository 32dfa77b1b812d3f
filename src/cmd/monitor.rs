//! `probe monitor`: the synthetic monitor. Thin: opens the state database, binds the HTTP listener,
//! wires SIGHUP to reload and SIGTERM/SIGINT to shutdown, and runs [`crate::monitor::run`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::MonitorArgs;
use crate::metrics::Exposition;
use crate::monitor::notify::Channels;
use crate::monitor::store::Store;
use crate::monitor::{Context, SdkRunner};

pub async fn run(args: MonitorArgs) -> u8 {
    let store = match Store::open(&args.state) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("probe monitor: {e}");
            return 3;
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("probe monitor: cannot listen on {}: {e} (hint: pick another --listen port)", args.listen);
            return 3;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        // Printed on stdout so supervisors and tests learn a port chosen with :0.
        crate::output::println(&format!("listening on {}", crate::metrics::describe(addr)));
    }
    let exposition = Arc::new(Exposition::default());
    let runner = Arc::new(SdkRunner::with_metrics(&exposition.metrics));
    let ctx = Arc::new(
        Context::new(store, Arc::new(Channels), exposition)
            .with_retention(args.retention)
            .with_alert_defaults(args.alerts.clone()),
    );
    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    spawn_signals(shutdown.clone(), reload_tx);
    match crate::monitor::run(&args.probes, ctx, runner, listener, reload_rx, shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("probe monitor: {e}");
            3
        }
    }
}

/// SIGTERM/SIGINT cancel `shutdown`; SIGHUP asks for a reload.
fn spawn_signals(shutdown: CancellationToken, reload: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
            (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
        else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => { let _ = reload.try_send(()); }
            }
        }
        shutdown.cancel();
    });
}
