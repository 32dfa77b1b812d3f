//! A recording HTTP server on 127.0.0.1:0 standing in for webhook receivers and PagerDuty's Events API: it
//! keeps every request (path, headers, body) and answers scripted status codes — e.g. 503 to the first
//! attempts to play a receiver that is down, then the default — optionally with `Retry-After`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status code the server answered.
    pub status: u16,
}

impl Received {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

#[derive(Default)]
struct RecorderState {
    received: Mutex<Vec<Received>>,
    /// Status codes to answer, in order; when empty, `default` is answered.
    script: Mutex<VecDeque<u16>>,
    default: u16,
    /// `Retry-After` sent with every 429 and 503, when set.
    retry_after: Option<&'static str>,
}

/// An axum server on 127.0.0.1:0 that records every request and answers scripted status codes. Stopped on
/// drop.
pub struct Recorder {
    pub addr: std::net::SocketAddr,
    state: Arc<RecorderState>,
    shutdown: tokio_util::sync::CancellationToken,
}

async fn record(
    State(state): State<Arc<RecorderState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap) {
    let code = state.script.lock().unwrap().pop_front().unwrap_or(state.default);
    state.received.lock().unwrap().push(Received { path: uri.path().to_string(), headers, body, status: code });
    let mut answer = HeaderMap::new();
    if let (Some(wait), 429 | 503) = (state.retry_after, code) {
        answer.insert("retry-after", wait.parse().unwrap());
    }
    (StatusCode::from_u16(code).unwrap(), answer)
}

impl Recorder {
    /// Answers `script` in order, then `default` to every further request.
    pub async fn start(default: u16, script: &[u16]) -> Recorder {
        Self::start_with_retry_after(default, script, None).await
    }

    /// Like [`Recorder::start`], sending `Retry-After: <retry_after>` with every 429 and 503.
    pub async fn start_with_retry_after(default: u16, script: &[u16], retry_after: Option<&'static str>) -> Recorder {
        let state = Arc::new(RecorderState {
            received: Mutex::default(),
            script: Mutex::new(script.iter().copied().collect()),
            default,
            retry_after,
        });
        let app = axum::Router::new().fallback(record).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let stop = shutdown.clone().cancelled_owned();
        tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stop).await.unwrap() });
        Recorder { addr, state, shutdown }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, emptying the record.
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.state.received.lock().unwrap())
    }

    /// Every request so far, keeping the record.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests answered with a 2xx, in order: what the receiver accepted.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// Waits until `accepted()` holds at least `n` requests; panics after `limit`.
    pub async fn wait_accepted(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "{} accepted request(s) after {limit:?}, expected {n}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
