//! A tiny OAuth 2.0 token-introspection endpoint (RFC 7662) for Dovecot's `oauth2` passdb: served by axum on
//! 127.0.0.1:0 in its own thread and runtime (so it answers while a test blocks), it accepts exactly one
//! token for one user and counts the introspection requests it received.
//!
//! Answers per RFC 7662 §2.2: `{"active": true, "username": …}` for the valid token, `{"active": false}` for
//! any other; a request without a `token` form field gets 400 (§2.1 makes it required).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// A running introspection endpoint; stops when dropped.
pub struct Introspection {
    /// `http://127.0.0.1:<port>/introspect`, for `introspection_url`.
    pub url: String,
    requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Accepts {
    token: String,
    username: String,
    requests: Arc<AtomicUsize>,
}

impl Introspection {
    /// Serves an endpoint that accepts `token` as `username`'s and nothing else.
    pub fn start(token: &str, username: &str) -> Introspection {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind introspection endpoint");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr: SocketAddr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Accepts {
            token: token.to_string(),
            username: username.to_string(),
            requests: Arc::clone(&requests),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().route("/introspect", post(introspect)).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("introspection endpoint");
            });
        });
        Introspection { url: format!("http://{addr}/introspect"), requests, stop: Some(stop), thread: Some(thread) }
    }

    /// How many introspection requests arrived (Dovecot really asked, rather than failing on its own).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn introspect(
    State(accepts): State<Arc<Accepts>>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    accepts.requests.fetch_add(1, Ordering::SeqCst);
    match form.get("token") {
        None => (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request"}))),
        Some(token) if *token == accepts.token => {
            (StatusCode::OK, Json(json!({"active": true, "username": accepts.username, "scope": "mail"})))
        }
        Some(_) => (StatusCode::OK, Json(json!({"active": false}))),
    }
}

impl Drop for Introspection {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
