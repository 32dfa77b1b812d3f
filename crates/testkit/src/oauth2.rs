//! A loopback OAuth 2.0 authorization server for the probe's `[imap.oauth2]` grants, and the token
//! introspection Dovecot's `oauth2` passdb asks (RFC 7662), in one axum server on 127.0.0.1:0 in its own
//! thread and runtime (so it answers while a test blocks).
//!
//! `POST /token` implements the three grants the probe uses, each checked as the providers do:
//!
//! * `refresh_token` (RFC 6749 §6): client_id and client_secret in the body (§2.3.1), the current refresh
//!   token; with [`Grants::rotate`] every answer carries a new refresh token and the old one stops working;
//! * `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1): the assertion's RS256 signature with the
//!   service account's public key, `iss` = its email, `sub` = the expected user, `aud` = this endpoint's
//!   URL, `exp` in the future (RFC 7523 §3);
//! * `client_credentials` (RFC 6749 §4.4): a client secret, or a `client_assertion` (RFC 7523 §2.2) signed
//!   by the certificate's key with its `x5t` header, `iss` = `sub` = the client id.
//!
//! Tokens it issues live [`Grants::expires_in`] seconds; `POST /introspect` calls a token active only
//! while it lives. [`TokenEndpoint::revoke`] makes every grant answer `invalid_grant` (RFC 6749 §5.2).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// What the server accepts. Unset grants are refused as `unauthorized_client`.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// The user every token belongs to (introspection's `username`).
    pub username: String,
    pub client_id: String,
    /// The client secret of `refresh_token` and `client_credentials`; `None`: a public client.
    pub client_secret: Option<String>,
    /// The valid refresh token.
    pub refresh_token: Option<String>,
    /// Each refresh answers a new refresh token; the old one is then refused.
    pub rotate: bool,
    /// The service account's `client_email` and public key (PEM) for the JWT bearer grant.
    pub service_account: Option<(String, String)>,
    /// The certificate's public key (PEM) and `x5t` (base64url SHA-1 thumbprint) for client assertions.
    pub certificate: Option<(String, String)>,
    /// `expires_in` of the tokens issued.
    pub expires_in: u64,
    /// The scope answered with each token; `None`: no `scope` field (as asked, RFC 6749 §5.1).
    pub scope: Option<String>,
}

/// What the server saw, for tests.
#[derive(Default)]
struct Seen {
    /// Token requests per grant_type that got a token.
    issued: HashMap<String, usize>,
    /// Token requests refused, per error.
    refused: HashMap<String, usize>,
    /// Every access and refresh token handed out.
    handed_out: Vec<String>,
    /// Introspections that found a token inactive (unknown or expired): a login Dovecot refused.
    inactive: usize,
    introspections: usize,
}

struct Server {
    grants: Grants,
    token_url: String,
    refresh_token: Mutex<Option<String>>,
    tokens: Mutex<HashMap<String, Instant>>,
    revoked: Mutex<bool>,
    seen: Mutex<Seen>,
}

/// A running token endpoint; stops when dropped.
pub struct TokenEndpoint {
    /// `http://127.0.0.1:<port>/token`, for `token_url` or a key's `token_uri`.
    pub token_url: String,
    /// `http://127.0.0.1:<port>/introspect`, for Dovecot's `introspection_url`.
    pub introspection_url: String,
    server: Arc<Server>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenEndpoint {
    pub fn start(grants: Grants) -> TokenEndpoint {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind token endpoint");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr: SocketAddr = listener.local_addr().expect("local addr");
        let token_url = format!("http://{addr}/token");
        let server = Arc::new(Server {
            refresh_token: Mutex::new(grants.refresh_token.clone()),
            grants,
            token_url: token_url.clone(),
            tokens: Mutex::new(HashMap::new()),
            revoked: Mutex::new(false),
            seen: Mutex::new(Seen::default()),
        });
        let state = Arc::clone(&server);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app =
                    Router::new().route("/token", post(token)).route("/introspect", post(introspect)).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("token endpoint");
            });
        });
        TokenEndpoint {
            token_url,
            introspection_url: format!("http://{addr}/introspect"),
            server,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// From now on every grant is refused with `invalid_grant`, and issued tokens stop being active (the
    /// user revoked the app's access).
    pub fn revoke(&self) {
        *self.server.revoked.lock().unwrap() = true;
        self.server.tokens.lock().unwrap().clear();
    }

    /// Every token issued so far stops being active (the provider revoked them); grants still work.
    pub fn expire_tokens(&self) {
        self.server.tokens.lock().unwrap().clear();
    }

    /// Tokens issued for `grant_type` (`refresh_token`, `client_credentials`, or the JWT bearer URN).
    pub fn issued(&self, grant_type: &str) -> usize {
        self.server.seen.lock().unwrap().issued.get(grant_type).copied().unwrap_or(0)
    }

    /// Requests refused with `error`.
    pub fn refused(&self, error: &str) -> usize {
        self.server.seen.lock().unwrap().refused.get(error).copied().unwrap_or(0)
    }

    /// Every access and refresh token the server handed out (to grep output for).
    pub fn handed_out(&self) -> Vec<String> {
        self.server.seen.lock().unwrap().handed_out.clone()
    }

    /// Introspections, and how many found the token inactive (Dovecot refused that login).
    pub fn introspections(&self) -> (usize, usize) {
        let seen = self.server.seen.lock().unwrap();
        (seen.introspections, seen.inactive)
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Answer = (StatusCode, Json<Value>);

fn error(server: &Server, status: StatusCode, code: &str, description: &str) -> Answer {
    *server.seen.lock().unwrap().refused.entry(code.to_string()).or_default() += 1;
    (status, Json(json!({"error": code, "error_description": description})))
}

fn issue(server: &Server, grant_type: &str, refresh: Option<String>) -> Answer {
    let access = format!("at-{}", uuid::Uuid::new_v4().simple());
    let lifetime = Duration::from_secs(server.grants.expires_in);
    server.tokens.lock().unwrap().insert(access.clone(), Instant::now() + lifetime);
    let mut seen = server.seen.lock().unwrap();
    *seen.issued.entry(grant_type.to_string()).or_default() += 1;
    seen.handed_out.push(access.clone());
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": server.grants.expires_in});
    if let Some(scope) = &server.grants.scope {
        body["scope"] = json!(scope);
    }
    if let Some(refresh) = refresh {
        seen.handed_out.push(refresh.clone());
        body["refresh_token"] = json!(refresh);
    }
    (StatusCode::OK, Json(body))
}

async fn token(State(server): State<Arc<Server>>, Form(form): Form<HashMap<String, String>>) -> Answer {
    let server = server.as_ref();
    let field = |name: &str| form.get(name).map(String::as_str);
    let grant_type = field("grant_type").unwrap_or_default().to_string();
    if *server.revoked.lock().unwrap() {
        return error(server, StatusCode::BAD_REQUEST, "invalid_grant", "Token has been expired or revoked.");
    }
    match grant_type.as_str() {
        "refresh_token" => {
            if let Err(answer) = client_secret_ok(server, &form) {
                return answer;
            }
            let mut current = server.refresh_token.lock().unwrap();
            if current.is_none() || field("refresh_token") != current.as_deref() {
                return error(server, StatusCode::BAD_REQUEST, "invalid_grant", "Bad refresh token.");
            }
            let next = server.grants.rotate.then(|| format!("rt-{}", uuid::Uuid::new_v4().simple()));
            if let Some(next) = &next {
                *current = Some(next.clone());
            }
            drop(current);
            issue(server, &grant_type, next)
        }
        "client_credentials" => {
            if form.contains_key("client_assertion") {
                let Some((public, x5t)) = &server.grants.certificate else {
                    return error(server, StatusCode::UNAUTHORIZED, "invalid_client", "no certificate registered");
                };
                if field("client_assertion_type") != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
                    return error(server, StatusCode::BAD_REQUEST, "invalid_request", "client_assertion_type");
                }
                let assertion = field("client_assertion").unwrap_or_default();
                let header = match jsonwebtoken::decode_header(assertion) {
                    Ok(header) => header,
                    Err(e) => return error(server, StatusCode::UNAUTHORIZED, "invalid_client", &e.to_string()),
                };
                if header.x5t.as_deref() != Some(x5t.as_str()) {
                    return error(server, StatusCode::UNAUTHORIZED, "invalid_client", "AADSTS700027: unknown x5t");
                }
                let id = &server.grants.client_id;
                if let Err(e) = verify(server, assertion, public, id, id) {
                    return error(server, StatusCode::UNAUTHORIZED, "invalid_client", &e);
                }
                if field("client_id").is_some_and(|c| c != id) {
                    return error(server, StatusCode::UNAUTHORIZED, "invalid_client", "client_id");
                }
            } else if let Err(answer) = client_secret_ok(server, &form) {
                return answer;
            }
            issue(server, &grant_type, None)
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let Some((email, public)) = &server.grants.service_account else {
                return error(server, StatusCode::BAD_REQUEST, "unauthorized_client", "no service account");
            };
            let assertion = field("assertion").unwrap_or_default();
            if let Err(e) = verify(server, assertion, public, email, &server.grants.username) {
                return error(server, StatusCode::BAD_REQUEST, "invalid_grant", &e);
            }
            issue(server, &grant_type, None)
        }
        _ => error(server, StatusCode::BAD_REQUEST, "unsupported_grant_type", "unknown grant_type"),
    }
}

fn client_secret_ok(server: &Server, form: &HashMap<String, String>) -> Result<(), Answer> {
    if form.get("client_id") != Some(&server.grants.client_id) {
        return Err(error(server, StatusCode::UNAUTHORIZED, "invalid_client", "The OAuth client was not found."));
    }
    if form.get("client_secret") != server.grants.client_secret.as_ref() {
        return Err(error(server, StatusCode::UNAUTHORIZED, "invalid_client", "AADSTS7000215: Invalid client secret."));
    }
    Ok(())
}

/// RFC 7523 §3: signature, `iss`, `sub`, `aud` (this endpoint) and `exp`.
fn verify(server: &Server, assertion: &str, public_pem: &str, iss: &str, sub: &str) -> Result<(), String> {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&server.token_url]);
    validation.set_issuer(&[iss]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.sub = Some(sub.to_string());
    jsonwebtoken::decode::<Value>(assertion, &key, &validation).map(|_| ()).map_err(|e| format!("assertion: {e}"))
}

/// RFC 7662 §2.2: active while the token lives.
async fn introspect(State(server): State<Arc<Server>>, Form(form): Form<HashMap<String, String>>) -> Answer {
    let Some(token) = form.get("token") else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request"})));
    };
    let active = server.tokens.lock().unwrap().get(token).is_some_and(|until| Instant::now() < *until);
    let mut seen = server.seen.lock().unwrap();
    seen.introspections += 1;
    if !active {
        seen.inactive += 1;
        return (StatusCode::OK, Json(json!({"active": false})));
    }
    (StatusCode::OK, Json(json!({"active": true, "username": server.grants.username, "scope": "mail"})))
}

/// An RSA key pair and a self-signed certificate made with `openssl` for one test: the private key never
/// outlives the test's temp dir.
pub struct TestKey {
    pub private_pem: String,
    pub public_pem: String,
    /// The certificate's SHA-1 thumbprint in hex, as the Entra portal shows it.
    pub thumbprint_hex: String,
    /// The same as `x5t` (base64url, RFC 7515 §4.1.7).
    pub x5t: String,
}

impl TestKey {
    pub fn generate(dir: &Path) -> TestKey {
        let key = dir.join("test-key.pem");
        let cert = dir.join("test-cert.pem");
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().unwrap_or_else(|e| panic!("run openssl: {e}"));
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).expect("openssl output")
        };
        let k = key.to_str().unwrap();
        run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k]);
        let public_pem = run(&["pkey", "-in", k, "-pubout"]);
        let c = cert.to_str().unwrap();
        run(&["req", "-x509", "-new", "-key", k, "-subj", "/CN=probe-test", "-days", "1", "-out", c]);
        let fingerprint = run(&["x509", "-in", c, "-noout", "-fingerprint", "-sha1"]);
        let thumbprint_hex: String =
            fingerprint.trim().rsplit('=').next().unwrap_or_default().chars().filter(|c| *c != ':').collect();
        let bytes: Vec<u8> = (0..thumbprint_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&thumbprint_hex[i..i + 2], 16).unwrap())
            .collect();
        use base64::Engine as _;
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        TestKey { private_pem: std::fs::read_to_string(&key).expect("read key"), public_pem, thumbprint_hex, x5t }
    }
}
