//! OAuth2 access tokens for the XOAUTH2 login, got by the probe itself (`[imap.oauth2]`): a user's refresh
//! token (RFC 6749 §6), a Google service account's signed JWT (RFC 7523 §2.1), or Microsoft 365 app-only
//! client credentials (RFC 6749 §4.4, with a secret or a certificate's `client_assertion`, RFC 7523 §2.2).
//!
//! Access tokens live about an hour, so [`TokenCache`] keeps each one in memory until shortly before it
//! expires (`expires_in` minus [`margin`]) and shares it between every login with the same settings: the
//! monitor's pooled sessions and each run of a one-shot. One refresh per settings is in flight at a time
//! (the others wait for its answer). A refresh token the endpoint rotates replaces the configured one in
//! memory. Tokens, secrets and keys are [`Secret`]s: never in logs, `Debug`, errors or history.
//!
//! The token endpoint is HTTPS with certificate verification (the web roots, as the alert channels use);
//! plain http only to a loopback address (checked in the probe file). A refusal (RFC 6749 §5.2 `error`) is
//! an [`OAuth2Error::Refused`] with what to do about it for the provider ([`hint`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::alert::http::{error_chain, redacted};
use crate::config::oauth2::{Grant, OAuth2Settings, Provider, check_token_url, thumbprint_bytes};
use crate::secret::{Secret, SecretError};

/// One exchange with the token endpoint, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of a token endpoint's answer the probe reads: token answers are a few KB.
const ANSWER_LIMIT: usize = 64 * 1024;

/// How long a signed assertion is valid: Google accepts at most an hour (RFC 7523 §3 leaves it to the
/// server); Microsoft's client assertions are commonly 10 minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// The grant type of the JWT bearer grant (RFC 7523 §2.1).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The client assertion type of a JWT client authentication (RFC 7523 §2.2).
const JWT_CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long before its expiry a token is replaced: a quarter of its lifetime, at most five minutes (an
/// hour-long token is refreshed at 55 minutes; a login started just before expiry still gets a valid one).
pub fn margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(300))
}

/// An access token and what the endpoint said about it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub value: Secret,
    /// `expires_in` (RFC 6749 §5.1), when the endpoint gave it.
    pub lifetime: Option<Duration>,
    pub obtained_at: Instant,
    /// The scopes granted (`scope`, RFC 6749 §5.1); `None` when the answer had none, which means as asked.
    pub granted: Option<Vec<String>>,
}

impl AccessToken {
    /// Whether the cache may still hand it out at `now`: before expiry minus [`margin`]. A token without
    /// `expires_in` serves one login only.
    fn fresh(&self, now: Instant) -> bool {
        self.lifetime.is_some_and(|l| now < self.obtained_at + l - margin(l))
    }

    /// Time left until expiry at `now`.
    pub fn expires_in(&self, now: Instant) -> Option<Duration> {
        self.lifetime.map(|l| (self.obtained_at + l).saturating_duration_since(now))
    }
}

/// Why no access token could be had. Never carries a token, secret or key.
#[derive(Debug, thiserror::Error)]
pub enum OAuth2Error {
    /// The endpoint answered with an RFC 6749 §5.2 error.
    #[error("the token endpoint {endpoint} refused the {grant} grant: {error}{}; hint: {hint}",
        description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused { endpoint: String, grant: &'static str, error: String, description: Option<String>, hint: String },
    #[error("cannot reach the token endpoint {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// An answer that is neither a token nor an RFC 6749 §5.2 error.
    #[error("the token endpoint {endpoint} gave no usable answer: {detail}")]
    BadAnswer { endpoint: String, detail: String },
    /// Something the probe file's secrets hold is unusable (a key that does not parse).
    #[error("{field}: {detail}")]
    Setup { field: &'static str, detail: String },
    #[error("secret for imap.oauth2: {0}")]
    Secret(#[from] SecretError),
}

/// The token answers the probe keeps, per settings and login.
#[derive(Default)]
struct Slot {
    token: Option<AccessToken>,
    /// The refresh token the endpoint last rotated to, replacing the configured one (RFC 6749 §6).
    refresh_token: Option<Secret>,
}

/// The settings and the IMAP username (a service account's default subject) a token is for.
type SlotKey = (OAuth2Settings, String);

/// Access tokens shared by every login with the same `[imap.oauth2]` settings and username.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<SlotKey, Arc<tokio::sync::Mutex<Slot>>>>,
    http: OnceLock<Http>,
    /// Token requests made, for tests and the doctor.
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    fn slot(&self, settings: &OAuth2Settings, username: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry((settings.clone(), username.to_string())).or_default().clone()
    }

    /// An access token for `username`: the cached one while fresh, else a new one from the endpoint (one
    /// request at a time per settings; concurrent callers get its answer).
    pub async fn token(&self, settings: &OAuth2Settings, username: &str) -> Result<AccessToken, OAuth2Error> {
        let slot = self.slot(settings, username);
        let mut slot = slot.lock().await;
        if let Some(token) = &slot.token
            && token.fresh(Instant::now())
        {
            return Ok(token.clone());
        }
        slot.token = None;
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = self.fetch(settings, username, slot.refresh_token.clone()).await?;
        if let Some(rotated) = answer.refresh_token {
            tracing::debug!("the token endpoint rotated the refresh token: the new one is used from now on");
            slot.refresh_token = Some(rotated);
        }
        slot.token = Some(answer.token.clone());
        Ok(answer.token)
    }

    /// Drops the cached access token (the server refused it at login): the next login asks for a new one.
    pub async fn forget(&self, settings: &OAuth2Settings, username: &str) {
        self.slot(settings, username).lock().await.token = None;
    }

    /// How many token requests this cache made.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn http(&self) -> &Http {
        self.http.get_or_init(Http::new)
    }

    async fn fetch(
        &self,
        settings: &OAuth2Settings,
        username: &str,
        rotated: Option<Secret>,
    ) -> Result<Answer, OAuth2Error> {
        let started = std::time::Instant::now();
        let grant = settings.grant.name();
        let result = match settings.grant {
            Grant::RefreshToken => self.refresh(settings, rotated).await,
            Grant::ServiceAccount => self.service_account(settings, username).await,
            Grant::ClientCredentials => self.client_credentials(settings).await,
        };
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(a) => tracing::debug!(grant, ms, expires_in = ?a.token.lifetime, "OAuth2 access token obtained"),
            Err(e) => tracing::debug!(grant, ms, "OAuth2 token request failed: {e}"),
        }
        result
    }

    /// RFC 6749 §6: `grant_type=refresh_token`, the client authenticated in the body (§2.3.1).
    async fn refresh(&self, settings: &OAuth2Settings, rotated: Option<Secret>) -> Result<Answer, OAuth2Error> {
        let url = settings.token_url().unwrap_or_default();
        let refresh_token = match rotated {
            Some(token) => token,
            None => read(settings.refresh_token.as_ref(), "imap.oauth2.refresh_token").await?,
        };
        let secret = match &settings.client_secret {
            Some(source) => Some(source.read().await?),
            None => None,
        };
        let mut sent = vec![refresh_token.clone()];
        sent.extend(secret.clone());
        let client = base_client(settings, &url, secret.as_ref())?;
        let refresh = RefreshToken::new(refresh_token.expose().to_string());
        let request = client.exchange_refresh_token(&refresh).add_scopes(scopes(settings));
        let response = request.request_async(self.http()).await;
        answer(settings, &url, response, &sent)
    }

    /// RFC 6749 §4.4, the client authenticated by its secret, or by a certificate-signed client assertion
    /// (RFC 7523 §2.2; Microsoft identity platform "certificate credentials": `x5t` header, aud = the token
    /// endpoint, iss = sub = the client id).
    async fn client_credentials(&self, settings: &OAuth2Settings) -> Result<Answer, OAuth2Error> {
        let url = settings.token_url().unwrap_or_default();
        let client_id = settings.client_id.clone().unwrap_or_default();
        let secret = match &settings.client_secret {
            Some(source) => Some(source.read().await?),
            None => None,
        };
        let client = base_client(settings, &url, secret.as_ref())?;
        let mut request = client.exchange_client_credentials().add_scopes(scopes(settings));
        let mut sent: Vec<Secret> = secret.iter().cloned().collect();
        let assertion;
        if secret.is_none() {
            let key = read(settings.certificate_key.as_ref(), "imap.oauth2.certificate_key").await?;
            let thumbprint = settings.certificate_thumbprint.as_deref().and_then(thumbprint_bytes).unwrap_or_default();
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.x5t = Some(URL_SAFE_NO_PAD.encode(thumbprint));
            let now = unix_now();
            let claims = Claims {
                iss: client_id.clone(),
                sub: Some(client_id.clone()),
                aud: url.clone(),
                iat: now,
                nbf: Some(now),
                exp: now + ASSERTION_LIFETIME.as_secs(),
                jti: Some(jti()),
                scope: None,
            };
            assertion = sign(&header, &claims, &key, "imap.oauth2.certificate_key")?;
            sent.push(assertion.clone());
            request = request
                .add_extra_param("client_assertion_type", JWT_CLIENT_ASSERTION)
                .add_extra_param("client_assertion", assertion.expose());
        }
        let response = request.request_async(self.http()).await;
        answer(settings, &url, response, &sent)
    }

    /// RFC 7523 §2.1 as Google's service accounts use it ("Using OAuth 2.0 for Server to Server
    /// Applications"): iss = the service account, sub = the Workspace user (domain-wide delegation),
    /// aud = the key's `token_uri`, scope, signed RS256 with the key's `private_key`.
    async fn service_account(&self, settings: &OAuth2Settings, username: &str) -> Result<Answer, OAuth2Error> {
        let key_text = read(settings.key.as_ref(), "imap.oauth2.key").await?;
        let key = ServiceKey::parse(&key_text)?;
        let url = match (&settings.token_url, &key.token_uri) {
            (Some(url), _) => url.clone(),
            (None, Some(uri)) => {
                check_token_url(uri).map_err(|m| setup("imap.oauth2.key", format!("token_uri {m}")))?;
                uri.clone()
            }
            (None, None) => crate::config::oauth2::GOOGLE_TOKEN_URL.to_string(),
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = key.private_key_id.clone();
        let now = unix_now();
        let claims = Claims {
            iss: key.client_email.clone(),
            sub: Some(settings.subject.clone().unwrap_or_else(|| username.to_string())),
            aud: url.clone(),
            iat: now,
            nbf: None,
            exp: now + ASSERTION_LIFETIME.as_secs(),
            jti: None,
            scope: Some(settings.scopes().join(" ")),
        };
        let assertion = sign(&header, &claims, &key.private_key, "imap.oauth2.key")?;
        let body = oauth2::url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", assertion.expose())
            .finish();
        let request = hyper::http::Request::builder()
            .method(hyper::http::Method::POST)
            .uri(&url)
            .header(hyper::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(hyper::http::header::ACCEPT, "application/json")
            .body(body.into_bytes())
            .map_err(|e| setup("imap.oauth2.token_url", e.to_string()))?;
        let endpoint = redacted(&url);
        let response = oauth2::AsyncHttpClient::call(self.http(), request)
            .await
            .map_err(|e| OAuth2Error::Unreachable { endpoint: endpoint.clone(), detail: e.to_string() })?;
        let parsed = if response.status() == hyper::http::StatusCode::OK {
            serde_json::from_slice::<BasicTokenResponse>(response.body())
                .map_err(|e| bad_answer(&endpoint, format!("not a token answer ({:?})", e.classify())))
        } else {
            match serde_json::from_slice::<BasicErrorResponse>(response.body()) {
                Ok(error) => Err(refused(settings, &endpoint, &error, std::slice::from_ref(&assertion))),
                Err(_) => Err(bad_answer(&endpoint, format!("HTTP {}", response.status().as_u16()))),
            }
        };
        parsed.map(|token| to_answer(&token))
    }
}

/// What one token request gave.
struct Answer {
    token: AccessToken,
    refresh_token: Option<Secret>,
}

type Response = Result<BasicTokenResponse, RequestTokenError<HttpError, BasicErrorResponse>>;

fn answer(settings: &OAuth2Settings, url: &str, response: Response, sent: &[Secret]) -> Result<Answer, OAuth2Error> {
    let endpoint = redacted(url);
    match response {
        Ok(token) => Ok(to_answer(&token)),
        Err(RequestTokenError::ServerResponse(error)) => Err(refused(settings, &endpoint, &error, sent)),
        Err(RequestTokenError::Request(e)) => Err(OAuth2Error::Unreachable { endpoint, detail: e.to_string() }),
        // The body of an unparsable answer may be a token answer: only what kind of error it was is shown.
        Err(RequestTokenError::Parse(e, _body)) => {
            Err(bad_answer(&endpoint, format!("not a token answer ({:?} at {})", e.inner().classify(), e.path())))
        }
        Err(RequestTokenError::Other(detail)) => Err(bad_answer(&endpoint, detail)),
    }
}

fn to_answer(token: &BasicTokenResponse) -> Answer {
    Answer {
        token: AccessToken {
            value: Secret::new(token.access_token().secret().clone()),
            lifetime: token.expires_in(),
            obtained_at: Instant::now(),
            granted: token.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()),
        },
        refresh_token: token.refresh_token().map(|r| Secret::new(r.secret().clone())),
    }
}

fn refused(settings: &OAuth2Settings, endpoint: &str, error: &BasicErrorResponse, sent: &[Secret]) -> OAuth2Error {
    let code = error.error().as_ref().to_string();
    // The description is the server's own text; whatever the probe sent is taken out of it all the same.
    let description = error.error_description().map(|d| {
        let mut text: String = d.chars().take(400).collect();
        for secret in sent.iter().filter(|s| !s.expose().is_empty()) {
            text = text.replace(secret.expose(), "<redacted>");
        }
        text
    });
    let hint = hint(settings.provider(), settings.grant, &code, description.as_deref());
    OAuth2Error::Refused {
        endpoint: endpoint.to_string(),
        grant: settings.grant.name(),
        error: code,
        description,
        hint,
    }
}

/// What to do about a refusal, for the provider: Google's `invalid_grant` of a refresh token is most often
/// the 7-day expiry of a consent screen in Testing status; Microsoft names the cause as an `AADSTS` code in
/// `error_description` (learn.microsoft.com "Microsoft Entra authentication and authorization error codes").
pub fn hint(provider: Option<Provider>, grant: Grant, error: &str, description: Option<&str>) -> String {
    let aadsts = description.and_then(aadsts_code);
    let text = match (provider, grant, aadsts.as_deref(), error) {
        (Some(Provider::Microsoft), _, Some("700082" | "70008" | "700084"), _) => {
            "the refresh token expired (unused too long, or a sign-in policy ended it): sign in once more to get a \
             new refresh token and store it where imap.oauth2.refresh_token reads it"
        }
        (Some(Provider::Microsoft), _, Some("65001"), _) => {
            "the app has no consent for the IMAP permission: in Entra admin center → App registrations → the app → \
             API permissions, add Office 365 Exchange Online IMAP.AccessAsUser.All (delegated) or IMAP.AccessAsApp \
             (application) and Grant admin consent"
        }
        (Some(Provider::Microsoft), _, Some("7000215"), _) => {
            "the client secret is wrong: imap.oauth2.client_secret must hold the secret's Value (shown once when it \
             is created), not its Secret ID"
        }
        (Some(Provider::Microsoft), _, Some("7000222"), _) => {
            "the client secret expired: create a new one under the app's Certificates & secrets and store it where \
             imap.oauth2.client_secret reads it"
        }
        (Some(Provider::Microsoft), _, Some("700016"), _) => {
            "no app with this client_id in the tenant: check imap.oauth2.client_id and imap.oauth2.tenant"
        }
        (Some(Provider::Microsoft), _, Some("90002" | "900023"), _) => {
            "the tenant does not exist: set imap.oauth2.tenant to the tenant id or its onmicrosoft.com domain"
        }
        (Some(Provider::Microsoft), _, Some("7000218"), _) => {
            "the app is not a public client: set imap.oauth2.client_secret, or turn on Allow public client flows \
             under the app's Authentication"
        }
        (Some(Provider::Microsoft), _, Some("700027" | "700024"), _) => {
            "the client assertion was refused: upload the certificate to the app's Certificates & secrets and set \
             imap.oauth2.certificate_thumbprint to its thumbprint; check this host's clock"
        }
        (Some(Provider::Microsoft), _, Some("50076" | "50079" | "50158" | "53003"), _) => {
            "a Conditional Access or MFA policy blocks the sign-in: exclude the probe's account or app from it, or \
             use app-only access (grant = \"client_credentials\")"
        }
        (Some(Provider::Microsoft), _, Some("70011" | "500011"), _) => {
            "the scope is not known to the tenant: use https://outlook.office365.com/IMAP.AccessAsUser.All \
             offline_access (delegated) or https://outlook.office365.com/.default (app-only)"
        }
        (Some(Provider::Google), Grant::RefreshToken, _, "invalid_grant") => {
            "Google refused the refresh token: a consent screen in Testing status drops refresh tokens after 7 \
             days — set the OAuth consent screen's publishing status to In production and get a new refresh \
             token; it is also revoked when the user removes the app's access or changes the Google password"
        }
        (Some(Provider::Google), Grant::ServiceAccount, _, "unauthorized_client" | "invalid_grant") => {
            "domain-wide delegation does not cover this: in the Admin console → Security → API controls → \
             Domain-wide delegation, add the service account's client ID with the scope https://mail.google.com/; \
             the subject (imap.oauth2.subject, default imap.username) must be a user of the Workspace domain, and \
             the key must not be deleted; check this host's clock"
        }
        (Some(Provider::Google), _, _, "invalid_client") => {
            "Google does not know this client: check imap.oauth2.client_id and imap.oauth2.client_secret (the OAuth \
             client may have been deleted or its secret reset)"
        }
        (_, _, _, "invalid_grant") => {
            "the refresh token or assertion is expired or revoked: get a new one and store it where imap.oauth2 \
             reads it"
        }
        (_, _, _, "invalid_client") => {
            "the client is not known or its secret is wrong: check imap.oauth2.client_id \
                                        and imap.oauth2.client_secret"
        }
        (_, _, _, "unauthorized_client") => {
            "the client may not use this grant: check the app's settings at the provider"
        }
        (_, _, _, "invalid_scope") => {
            "the provider does not grant this scope to the client: check imap.oauth2.scope \
                                       and the app's API permissions"
        }
        _ => "check the [imap.oauth2] settings against the provider's app registration",
    };
    text.to_string()
}

/// The `AADSTS<digits>` code in a Microsoft error description.
fn aadsts_code(description: &str) -> Option<String> {
    let at = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[at..].chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// The scopes `settings` asks for that `granted` lacks (`None` granted is as asked, RFC 6749 §5.1).
/// `offline_access` is a request for a refresh token, never listed; Microsoft may name the Exchange Online
/// resource `outlook.office.com` where it was asked as `outlook.office365.com`.
pub fn missing_scopes(settings: &OAuth2Settings, granted: Option<&[String]>) -> Vec<String> {
    let Some(granted) = granted else { return Vec::new() };
    let norm = |s: &str| s.to_ascii_lowercase().replace("://outlook.office.com/", "://outlook.office365.com/");
    let granted: Vec<String> = granted.iter().map(|s| norm(s)).collect();
    settings
        .scopes()
        .into_iter()
        .filter(|s| s != "offline_access" && !s.ends_with("/.default"))
        .filter(|s| !granted.contains(&norm(s)))
        .collect()
}

fn scopes(settings: &OAuth2Settings) -> Vec<Scope> {
    settings.scopes().into_iter().map(Scope::new).collect()
}

type TokenClient = BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The client of the refresh and client-credentials grants, authenticated in the request body (RFC 6749
/// §2.3.1; both Google and Microsoft accept it).
fn base_client(settings: &OAuth2Settings, url: &str, secret: Option<&Secret>) -> Result<TokenClient, OAuth2Error> {
    let token_url = TokenUrl::new(url.to_string()).map_err(|e| setup("imap.oauth2.token_url", e.to_string()))?;
    let mut client = BasicClient::new(ClientId::new(settings.client_id.clone().unwrap_or_default()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url);
    if let Some(secret) = secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
    }
    Ok(client)
}

async fn read(source: Option<&crate::secret::SecretSource>, field: &'static str) -> Result<Secret, OAuth2Error> {
    match source {
        Some(source) => Ok(source.read().await?),
        None => Err(setup(field, "is not set".into())),
    }
}

fn setup(field: &'static str, detail: String) -> OAuth2Error {
    OAuth2Error::Setup { field, detail }
}

fn bad_answer(endpoint: &str, detail: String) -> OAuth2Error {
    OAuth2Error::BadAnswer { endpoint: endpoint.to_string(), detail }
}

/// The claims of the probe's JWTs (RFC 7519 §4.1; `scope` as Google's service accounts take it).
#[derive(Serialize)]
struct Claims {
    iss: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    aud: String,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// Signs `claims` RS256 with a PEM key; a key that does not parse is named by its field, never shown.
fn sign(
    header: &jsonwebtoken::Header,
    claims: &Claims,
    pem: &Secret,
    field: &'static str,
) -> Result<Secret, OAuth2Error> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose().as_bytes())
        .map_err(|e| setup(field, format!("the private key is not an RSA key in PEM ({:?})", e.kind())))?;
    jsonwebtoken::encode(header, claims, &key)
        .map(Secret::new)
        .map_err(|e| setup(field, format!("cannot sign with the private key ({:?})", e.kind())))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A unique JWT id (RFC 7519 §4.1.7): Microsoft refuses a replayed assertion.
fn jti() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A service account's JSON key as Google issues it; only the fields the probe uses.
#[derive(Deserialize)]
struct ServiceKey {
    client_email: String,
    #[serde(deserialize_with = "secret_string")]
    private_key: Secret,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

fn secret_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

impl ServiceKey {
    /// Parses the key; the error says where the JSON is wrong, never what it holds.
    fn parse(text: &Secret) -> Result<ServiceKey, OAuth2Error> {
        serde_json::from_str(text.expose()).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "a field is missing or of the wrong type",
                _ => "not JSON",
            };
            setup(
                "imap.oauth2.key",
                format!(
                    "not a service account JSON key (client_email, private_key): {what} at line {} column {}",
                    e.line(),
                    e.column()
                ),
            )
        })
    }
}

/// Why an HTTP exchange with the token endpoint failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The token endpoint's HTTP client: hyper over rustls (ring, the web roots: the trust of the IMAP client
/// and the alert channels), each exchange bounded in time and size.
struct Http {
    client: Option<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
}

impl Http {
    fn new() -> Http {
        Http { client: crate::alert::http::web_client().ok() }
    }

    async fn exchange(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let client = self.client.as_ref().ok_or_else(|| HttpError("no TLS configuration".into()))?;
        let (parts, body) = request.into_parts();
        let request = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let response = client.request(request).await.map_err(|e| HttpError(error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, ANSWER_LIMIT)
                .collect()
                .await
                .map_err(|e| HttpError(format!("answer unreadable or over {ANSWER_LIMIT} bytes: {e}")))?
                .to_bytes();
            Ok(hyper::http::Response::from_parts(parts, body.to_vec()))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(HttpError(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()))))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.exchange(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_scale_with_the_lifetime() {
        let cases = [(3600, 300), (600, 150), (8, 2), (0, 0)];
        for (lifetime, expected) in cases {
            assert_eq!(margin(Duration::from_secs(lifetime)), Duration::from_secs(expected), "{lifetime}s");
        }
    }

    /// Each refusal and the words its hint must contain.
    #[test]
    fn hints_name_the_provider_fix() {
        let g = Some(Provider::Google);
        let m = Some(Provider::Microsoft);
        let cases = [
            ("google testing expiry", g, Grant::RefreshToken, "invalid_grant", None, "In production"),
            ("google dwd", g, Grant::ServiceAccount, "unauthorized_client", None, "Domain-wide delegation"),
            ("google client", g, Grant::RefreshToken, "invalid_client", None, "client_secret"),
            (
                "ms expired",
                m,
                Grant::RefreshToken,
                "invalid_grant",
                Some("AADSTS700082: The refresh token has expired due to inactivity."),
                "sign in once more",
            ),
            ("ms consent", m, Grant::RefreshToken, "invalid_grant", Some("AADSTS65001: no consent"), "admin consent"),
            (
                "ms secret",
                m,
                Grant::ClientCredentials,
                "invalid_client",
                Some("AADSTS7000215: Invalid client secret provided."),
                "Value",
            ),
            ("generic", None, Grant::RefreshToken, "invalid_grant", None, "expired or revoked"),
        ];
        for (case, provider, grant, error, description, words) in cases {
            let text = hint(provider, grant, error, description);
            assert!(text.contains(words), "{case}: {text}");
        }
    }

    #[test]
    fn aadsts_codes_are_read_from_descriptions() {
        assert_eq!(aadsts_code("AADSTS700082: The refresh token has expired").as_deref(), Some("700082"));
        assert_eq!(aadsts_code("Trace ID: x AADSTS65001 y").as_deref(), Some("65001"));
        assert_eq!(aadsts_code("Token has been expired or revoked."), None);
    }

    #[test]
    fn missing_scopes_ignore_offline_access_and_microsofts_host_alias() {
        let settings: OAuth2Settings = toml::from_str(
            "grant = \"refresh_token\"\nprovider = \"microsoft\"\nclient_id = \"c\"\nrefresh_token = { env = \"R\" }",
        )
        .unwrap();
        let granted = ["https://outlook.office.com/IMAP.AccessAsUser.All".to_string()];
        assert!(missing_scopes(&settings, Some(&granted)).is_empty());
        assert!(missing_scopes(&settings, None).is_empty(), "no scope in the answer is as asked");
        let other = ["https://outlook.office.com/SMTP.Send".to_string()];
        assert_eq!(missing_scopes(&settings, Some(&other)), ["https://outlook.office365.com/IMAP.AccessAsUser.All"]);
    }

    #[test]
    fn a_bad_key_file_is_named_without_its_content() {
        let canary = "-----BEGIN PRIVATE KEY-----canary-key-text";
        for text in [format!("\"{canary}\""), format!("{{\"private_key\": \"{canary}\"}}"), canary.to_string()] {
            let err = ServiceKey::parse(&Secret::new(text.clone())).err().expect("not a key");
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("imap.oauth2.key"), "{shown}");
            assert!(!shown.contains("canary"), "the key's text leaked: {shown}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_fresh_until_its_margin() {
        let token = AccessToken {
            value: Secret::new("tok-canary-9"),
            lifetime: Some(Duration::from_secs(3600)),
            obtained_at: Instant::now(),
            granted: None,
        };
        tokio::time::advance(Duration::from_secs(3299)).await;
        assert!(token.fresh(Instant::now()), "at 55 min minus a second");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!token.fresh(Instant::now()), "at 55 min it is replaced");
        let once = AccessToken { lifetime: None, ..token };
        assert!(!once.fresh(once.obtained_at), "without expires_in a token serves one login");
        assert!(!format!("{once:?}").contains("tok-canary"), "Debug shows no value: {once:?}");
    }
}
