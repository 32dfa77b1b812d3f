//! The IMAP backend: TLS with certificate verification (custom CA allowed), LOGIN or XOAUTH2, a baseline
//! from `STATUS (UIDNEXT UIDVALIDITY)`, waiting with IDLE (RFC 2177) and a NOOP-poll fallback, and clean-up
//! of exactly the matched UID (UIDPLUS `UID EXPUNGE`, RFC 4315; `UID MOVE`, RFC 6851).
//!
//! What is read is bounded at every step, whatever the server does: new UIDs above the baseline are listed
//! in batches of [`ENVELOPE_BATCH`] (`UID FETCH a:b (UID RFC822.SIZE INTERNALDATE ENVELOPE)`, never an
//! open-ended `n:*`), at most [`NEW_PER_LOOK`] per folder per look (the rest on the next look, at once); a
//! message whose envelope matches is judged on its header alone (`BODY.PEEK[HEADER]<0.256 KiB>`); only the
//! chosen message is fetched whole (`BODY.PEEK[]`, so it stays unseen), and only when its `RFC822.SIZE` is
//! within `max_message_size` — a larger candidate is a note, never loaded. Every answer is read within a
//! byte budget per command ([`super::budget`]): a server that sends more is dropped, the run UNKNOWN.

use std::sync::Arc;
use std::time::Duration;

use async_imap::types::{Fetch, NameAttribute};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

use super::budget::{self, Budget, Budgeted};
use super::candidate::{self, Candidate, Choice};
use super::oauth2::TokenCache;
use super::{Baseline, FolderMark, Found, HEADER_BYTES, InboxError, LateWindow, Matcher, Sweep, Waited};
use crate::config::{Cleanup, ImapAuth, ImapSettings};
use crate::secret::Secret;

/// Any byte stream async-imap can run on (TLS, or plain for loopback tests).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug> ImapStream for T {}

type Session = async_imap::Session<Box<dyn ImapStream>>;

/// One command's time budget; a server that stops answering is the probe's trouble, not a delivery failure.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// UIDs whose envelopes one `UID FETCH` lists.
pub const ENVELOPE_BATCH: u32 = 25;

/// New UIDs one look at a folder lists; more wait for the next look, which follows at once.
pub const NEW_PER_LOOK: u32 = 500;

/// The probe's own stale mail one sweep handles per folder, oldest first; the rest is swept by the next run.
pub const SWEEP_PER_FOLDER: usize = 500;

/// Junk folder names used by big providers when the server does not mark one SPECIAL-USE `\Junk`
/// (RFC 6154). Gmail: `[Gmail]/Spam`; Outlook: `Junk Email`; Yahoo: `Bulk` / `Bulk Mail`.
const JUNK_NAMES: [&str; 6] = ["Junk", "Junk Email", "Spam", "[Gmail]/Spam", "Bulk Mail", "Bulk"];

/// A logged-in IMAP session with what the probe learned about the server.
pub struct ImapInbox {
    session: Option<Session>,
    settings: ImapSettings,
    /// Folders watched: the configured ones, then the Junk folder when one was found.
    folders: Vec<(String, bool)>,
    /// The server offers IDLE (whether the run uses it also depends on `settings.idle`).
    server_idle: bool,
    uidplus: bool,
    moves: bool,
    /// UIDNEXT of each folder at its last check, so IDLE is not entered over mail that arrived since.
    /// Per-run state: cleared before a pooled session serves another run.
    checked_uid_next: Vec<(String, Option<u32>)>,
    /// Set when any command failed or timed out: the connection's state is unknown, so it is never reused.
    failed: bool,
    /// What the server may still send in answer to the current command.
    budget: Budget,
    /// The folder last EXAMINEd or SELECTed, so the chosen message is fetched without selecting again.
    examined: Option<String>,
}

/// What one envelope listing says about a message.
#[derive(Debug)]
struct Listed {
    uid: u32,
    size: Option<u32>,
    visible_at: Option<DateTime<Utc>>,
    /// From the pool's sender to the test user by its ENVELOPE.
    matches: bool,
}

/// A candidate judged on its header; its body is fetched only if it is the one chosen.
#[derive(Debug)]
struct Pending {
    folder: String,
    junk: bool,
    uid_validity: Option<u32>,
    uid: u32,
    visible_at: Option<DateTime<Utc>>,
    detected_at: DateTime<Utc>,
    ses_message_id: Option<String>,
}

/// SASL XOAUTH2 (Google and Microsoft): `user=<u>^Aauth=Bearer <token>^A^A`. On failure the server sends a
/// JSON error as a second challenge (developers.google.com/gmail/imap/xoauth2-protocol), which must be
/// answered with an empty response; it is kept in `refusal` for the error.
struct XOAuth2<'a> {
    user: &'a str,
    token: &'a Secret,
    sent: bool,
    refusal: &'a std::sync::Mutex<Option<Vec<u8>>>,
}

impl async_imap::Authenticator for XOAuth2<'_> {
    type Response = String;
    fn process(&mut self, challenge: &[u8]) -> String {
        if std::mem::replace(&mut self.sent, true) {
            if let Ok(mut refusal) = self.refusal.lock() {
                *refusal = Some(challenge.iter().copied().take(1024).collect());
            }
            String::new()
        } else {
            format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token.expose())
        }
    }
}

/// The XOAUTH2 error challenge, `{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`, as
/// one line for the login error; `None` when it is not that JSON.
fn xoauth2_refusal(challenge: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Refusal {
        #[serde(default)]
        status: Option<serde_json::Value>,
        #[serde(default)]
        schemes: Option<String>,
        #[serde(default)]
        scope: Option<String>,
    }
    let r: Refusal = serde_json::from_slice(challenge).ok()?;
    let status = match r.status? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let mut text = format!("the server refused the token: status {status}");
    if let Some(schemes) = r.schemes {
        text.push_str(&format!(", schemes {schemes}"));
    }
    if let Some(scope) = r.scope {
        text.push_str(&format!(", scope needed {scope}"));
    }
    Some(text)
}

async fn timed<T, E: std::fmt::Display>(
    command: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, InboxError> {
    let started = std::time::Instant::now();
    let result = match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(InboxError::Protocol { command: command.to_string(), detail: e.to_string() }),
        Err(_) => Err(InboxError::Timeout(COMMAND_TIMEOUT)),
    };
    // The command's name only: its arguments (a LOGIN password) and the server's answer (a message body
    // with its temporary password) never reach the log.
    let ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => tracing::debug!(command, ms, "IMAP {command} ok"),
        Err(e) => tracing::debug!(command, ms, "IMAP {command} failed: {e}"),
    }
    result
}

/// Quotes a string for an IMAP command (RFC 3501 §4.3 quoted string).
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The TLS client configuration for `settings`: the web roots plus `ca_file`. Building it reads and parses
/// the CA file and the whole root store, so [`super::pool::ImapPool`] builds it once per `ca_file`.
pub fn tls_config(settings: &ImapSettings) -> Result<rustls::ClientConfig, InboxError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let tls_err = |detail: String| InboxError::Tls { host: settings.host.clone(), detail };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| tls_err(format!("cannot read ca_file {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| tls_err(format!("ca_file {}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| tls_err(format!("ca_file {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_err(format!("ca_file {} holds no PEM certificate", path.display())));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// TCP (and TLS unless `tls = false`) to the server, bounded by [`COMMAND_TIMEOUT`] per step.
async fn open_stream(
    settings: &ImapSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn ImapStream>, InboxError> {
    let connect_err = |detail: String| InboxError::Connect { host: settings.host.clone(), port: settings.port, detail };
    let tcp =
        tokio::time::timeout(COMMAND_TIMEOUT, tokio::net::TcpStream::connect((settings.host.as_str(), settings.port)))
            .await
            .map_err(|_| connect_err("timed out".into()))?
            .map_err(|e| connect_err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    tracing::debug!(host = %settings.host, port = settings.port, tls = settings.tls, "IMAP connected");
    if !settings.tls {
        return Ok(Box::new(tcp));
    }
    let config = match tls {
        Some(config) => config,
        None => Arc::new(tls_config(settings)?),
    };
    let tls_err = |detail: String| InboxError::Tls { host: settings.host.clone(), detail };
    let name = rustls::pki_types::ServerName::try_from(settings.host.clone()).map_err(|e| tls_err(e.to_string()))?;
    let stream = tokio::time::timeout(COMMAND_TIMEOUT, tokio_rustls::TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| InboxError::Timeout(COMMAND_TIMEOUT))?
        .map_err(|e| tls_err(e.to_string()))?;
    tracing::debug!(host = %settings.host, "IMAP TLS established, certificate verified");
    Ok(Box::new(stream))
}

/// Reads the greeting and logs in (LOGIN or XOAUTH2). The secret is read here (an `[imap.oauth2]` token
/// from `tokens`) and goes only on the wire.
async fn login(
    mut client: async_imap::Client<Box<dyn ImapStream>>,
    settings: &ImapSettings,
    budget: &Budget,
    tokens: &TokenCache,
) -> Result<Session, InboxError> {
    let connect_err = |detail: String| InboxError::Connect { host: settings.host.clone(), port: settings.port, detail };
    match tokio::time::timeout(COMMAND_TIMEOUT, client.read_response()).await {
        Ok(Some(Ok(_greeting))) => {}
        Ok(Some(Err(e))) => return Err(connect_err(format!("no greeting: {e}"))),
        Ok(None) => return Err(connect_err("connection closed before the greeting".into())),
        Err(_) => return Err(InboxError::Timeout(COMMAND_TIMEOUT)),
    }
    let login_err = |detail: String| InboxError::Login { username: settings.username.clone(), detail };
    budget.allow("LOGIN", budget::ANSWER);
    let secret = match (settings.auth, &settings.oauth2, settings.credential()) {
        (ImapAuth::Xoauth2, Some(oauth2), _) => tokens.token(oauth2, &settings.username).await?.value,
        (_, _, Some(source)) => source.read().await?,
        (_, _, None) => return Err(login_err("no password or token configured".into())),
    };
    let mut session = match settings.auth {
        ImapAuth::Login => tokio::time::timeout(COMMAND_TIMEOUT, client.login(&settings.username, secret.expose()))
            .await
            .map_err(|_| InboxError::Timeout(COMMAND_TIMEOUT))?
            .map_err(|(e, _)| login_err(e.to_string()))?,
        ImapAuth::Xoauth2 => {
            let refusal = std::sync::Mutex::new(None);
            let auth = XOAuth2 { user: &settings.username, token: &secret, sent: false, refusal: &refusal };
            let answer = tokio::time::timeout(COMMAND_TIMEOUT, client.authenticate("XOAUTH2", auth))
                .await
                .map_err(|_| InboxError::Timeout(COMMAND_TIMEOUT))?;
            match answer {
                Ok(session) => session,
                Err((e, _)) => {
                    if let Some(oauth2) = &settings.oauth2 {
                        // The server refused a token the cache holds: the next login asks for a new one.
                        tokens.forget(oauth2, &settings.username).await;
                    }
                    let challenge = refusal.lock().ok().and_then(|r| r.clone());
                    let detail = match challenge.as_deref().and_then(xoauth2_refusal) {
                        Some(refusal) => format!("{e}; {refusal}"),
                        None => e.to_string(),
                    };
                    return Err(login_err(detail));
                }
            }
        }
    };
    if settings.auth == ImapAuth::Xoauth2 {
        // Exchange Online can accept AUTHENTICATE for a token of another user than imap.username and refuse
        // every command after it (neomutt contrib/oauth2/mutt_oauth2.py runs LIST for this reason): the
        // login counts only once a real command succeeds.
        budget.allow("LIST", budget::ANSWER);
        let listed = async {
            // `LIST "" ""`: the pattern goes unquoted, and `None` is the empty quoted string.
            let names = session.list(Some(""), None).await?;
            names.try_collect::<Vec<_>>().await
        };
        if let Err(e) = timed("LIST", listed).await {
            return Err(login_err(format!(
                "AUTHENTICATE was accepted but the next command was refused ({e}): the token may be for another \
                 user than imap.username (Exchange Online answers so)"
            )));
        }
    }
    tracing::debug!(username = %settings.username, auth = ?settings.auth, "IMAP logged in");
    Ok(session)
}

impl ImapInbox {
    /// Connects, logs in, reads capabilities and finds the Junk folder.
    pub async fn connect(settings: &ImapSettings) -> Result<ImapInbox, InboxError> {
        Self::connect_with(settings, None, &TokenCache::default()).await
    }

    /// [`ImapInbox::connect`] with a TLS configuration built beforehand (built here when `None`; ignored when
    /// `tls = false`) and the OAuth2 tokens shared with other logins.
    pub async fn connect_with(
        settings: &ImapSettings,
        tls: Option<Arc<rustls::ClientConfig>>,
        tokens: &TokenCache,
    ) -> Result<ImapInbox, InboxError> {
        let budget = Budget::default();
        let stream: Box<dyn ImapStream> = Box::new(Budgeted::new(open_stream(settings, tls).await?, budget.clone()));
        let too_large = |e: InboxError| match budget.exceeded() {
            Some((command, limit)) => InboxError::TooLarge { command: command.into(), limit },
            None => e,
        };
        let session = login(async_imap::Client::new(stream), settings, &budget, tokens).await.map_err(too_large)?;
        let mut inbox = ImapInbox {
            session: Some(session),
            settings: settings.clone(),
            folders: Vec::new(),
            server_idle: false,
            uidplus: false,
            moves: false,
            checked_uid_next: Vec::new(),
            failed: false,
            budget,
            examined: None,
        };
        let r = inbox.learn_server().await;
        inbox.note(r)?;
        Ok(inbox)
    }

    /// CAPABILITY and the folders.
    async fn learn_server(&mut self) -> Result<(), InboxError> {
        self.begin("CAPABILITY", budget::ANSWER);
        let caps = timed("CAPABILITY", self.session()?.capabilities()).await?;
        self.server_idle = caps.has_str("IDLE");
        self.uidplus = caps.has_str("UIDPLUS");
        self.moves = caps.has_str("MOVE");
        self.folders = self.discover_folders().await?;
        Ok(())
    }

    /// Sets the byte budget for the answer to the next command, and empties the queue of untagged responses
    /// the client kept from earlier ones (the probe reads none of them; left alone they would pile up).
    fn begin(&mut self, command: &'static str, limit: u64) {
        self.budget.allow(command, limit);
        if let Some(session) = self.session.as_mut() {
            while session.unsolicited_responses.try_recv().is_ok() {}
        }
    }

    /// Whether this session may serve another run: logged in, not in IDLE, and no command of it failed or
    /// timed out (after a timeout mid-command the server's answer may still be on its way).
    pub fn reusable(&self) -> bool {
        self.session.is_some() && !self.failed
    }

    /// Readies a logged-in session for another run of a probe with the same login: takes that probe's
    /// settings, forgets the previous run's state, and discovers the folders again when the probe watches
    /// other ones. The server's capabilities are kept: they belong to the login, not the run.
    pub async fn prepare_reuse(&mut self, settings: &ImapSettings) -> Result<(), InboxError> {
        let refolder = settings.folders != self.settings.folders || settings.junk_folder != self.settings.junk_folder;
        self.settings = settings.clone();
        self.checked_uid_next.clear();
        self.examined = None;
        if refolder {
            let folders = self.discover_folders().await;
            self.folders = self.note(folders)?;
        }
        Ok(())
    }

    /// NOOP (RFC 3501 §6.1.2): proves an idle pooled connection is still alive before a run relies on it.
    pub async fn noop(&mut self) -> Result<(), InboxError> {
        self.begin("NOOP", budget::ANSWER);
        let r = match self.session() {
            Ok(session) => timed("NOOP", session.noop()).await,
            Err(e) => Err(e),
        };
        self.note(r)
    }

    /// Remembers that a command failed, so the session is not reused; an answer over its budget is said so.
    fn note<T>(&mut self, result: Result<T, InboxError>) -> Result<T, InboxError> {
        if result.is_err() {
            self.failed = true;
        }
        match (result, self.budget.exceeded()) {
            (Err(_), Some((command, limit))) => Err(InboxError::TooLarge { command: command.into(), limit }),
            (result, _) => result,
        }
    }

    fn session(&mut self) -> Result<&mut Session, InboxError> {
        self.session
            .as_mut()
            .ok_or_else(|| InboxError::Protocol { command: "session".into(), detail: "connection lost".into() })
    }

    /// The configured folders plus the Junk folder: `junk_folder` if set, else SPECIAL-USE `\Junk`
    /// (RFC 6154 §2), else the first well-known Junk name that exists.
    async fn discover_folders(&mut self) -> Result<Vec<(String, bool)>, InboxError> {
        let names: Vec<(String, bool)> = {
            self.begin("LIST", budget::LIST_ANSWER);
            let session = self.session()?;
            let stream = timed("LIST", session.list(Some(""), Some("*"))).await?;
            let list: Vec<_> = timed("LIST", stream.try_collect::<Vec<_>>()).await?;
            list.iter()
                .map(|n| (n.name().to_string(), n.attributes().iter().any(|a| matches!(a, NameAttribute::Junk))))
                .collect()
        };
        let exists = |name: &str| {
            names
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name) || (name == "INBOX" && n.eq_ignore_ascii_case("inbox")))
        };
        let mut folders = Vec::new();
        for folder in &self.settings.folders {
            if !exists(folder) {
                return Err(InboxError::NoFolder { folder: folder.clone() });
            }
            folders.push((folder.clone(), false));
        }
        let junk = match &self.settings.junk_folder {
            Some(name) if exists(name) => Some(name.clone()),
            Some(name) => return Err(InboxError::NoFolder { folder: name.clone() }),
            None => names
                .iter()
                .find(|(_, junk)| *junk)
                .map(|(n, _)| n.clone())
                .or_else(|| JUNK_NAMES.iter().find(|j| exists(j)).map(|j| j.to_string())),
        };
        if let Some(junk) = junk
            && !folders.iter().any(|(f, _)| f == &junk)
        {
            folders.push((junk, true));
        }
        Ok(folders)
    }

    /// The folders watched and whether each is the Junk folder.
    pub fn folders(&self) -> &[(String, bool)] {
        &self.folders
    }

    /// Whether the run will wait with IDLE (RFC 2177): the server offers it and `idle` is not turned off.
    /// Without it the probe polls with NOOP every `poll_interval`.
    pub fn uses_idle(&self) -> bool {
        self.settings.idle && self.server_idle
    }

    /// Reads UIDNEXT and UIDVALIDITY of every watched folder (before the trigger).
    pub async fn baseline(&mut self) -> Result<Baseline, InboxError> {
        let r = self.baseline_inner().await;
        self.note(r)
    }

    async fn baseline_inner(&mut self) -> Result<Baseline, InboxError> {
        let taken_at = Utc::now();
        let mut marks = Vec::new();
        for (folder, junk) in self.folders.clone() {
            self.begin("STATUS", budget::ANSWER);
            let status = timed("STATUS", self.session()?.status(&folder, "(UIDNEXT UIDVALIDITY)")).await?;
            // UIDVALIDITY and UIDNEXT are non-zero numbers (RFC 3501 §2.3.1.1, §9 nz-number). Dovecot answers 0
            // while a brand-new folder's index is being created by another session: not known yet.
            let known = |n: Option<u32>| n.filter(|n| *n != 0);
            marks.push(FolderMark {
                folder,
                junk,
                uid_validity: known(status.uid_validity),
                uid_next: known(status.uid_next),
            });
        }
        Ok(Baseline { taken_at, folders: marks })
    }

    /// EXAMINE (read-only) of a folder, checking that its UIDVALIDITY is still the baseline's.
    async fn examine(
        &mut self,
        folder: &str,
        uid_validity: Option<u32>,
    ) -> Result<async_imap::types::Mailbox, InboxError> {
        self.begin("EXAMINE", budget::ANSWER);
        self.examined = None;
        let mailbox = timed("EXAMINE", self.session()?.examine(folder)).await?;
        if let (Some(before), Some(after)) = (uid_validity, mailbox.uid_validity)
            && before != after
        {
            return Err(InboxError::UidValidity { folder: folder.to_string(), before, after });
        }
        self.examined = Some(folder.to_string());
        Ok(mailbox)
    }

    /// `(UID RFC822.SIZE INTERNALDATE ENVELOPE)` of the UIDs in `set`, each answer reduced to what the probe
    /// needs as it arrives, within [`budget::ENVELOPES_ANSWER`]. Only UIDs `wanted` are kept: a server may
    /// answer for others.
    async fn list(
        &mut self,
        set: &str,
        wanted: impl Fn(u32) -> bool,
        matcher: &Matcher,
    ) -> Result<Vec<Listed>, InboxError> {
        self.begin("UID FETCH", budget::ENVELOPES_ANSWER);
        let session = self.session()?;
        let mut stream = timed("UID FETCH", session.uid_fetch(set, "(UID RFC822.SIZE INTERNALDATE ENVELOPE)")).await?;
        let mut listed: Vec<Listed> = timed("UID FETCH", async {
            let mut listed = Vec::new();
            while let Some(fetch) = stream.try_next().await? {
                let Some(uid) = fetch.uid.filter(|u| wanted(*u)) else { continue };
                let visible_at = fetch.internal_date().map(|d| d.with_timezone(&Utc));
                listed.push(Listed { uid, size: fetch.size, visible_at, matches: envelope_matches(&fetch, matcher) });
            }
            Ok::<_, async_imap::error::Error>(listed)
        })
        .await?;
        listed.sort_by_key(|l| l.uid);
        listed.dedup_by_key(|l| l.uid);
        Ok(listed)
    }

    /// One section of one message (`BODY.PEEK[HEADER]<0.N>` or `BODY.PEEK[]`), read within `limit` plus the
    /// response's framing. The bytes are copied out of the response, which is dropped at once: the message
    /// is held once. `None` when the message is gone (expunged by another client).
    async fn section(
        &mut self,
        uid: u32,
        query: &str,
        limit: u64,
        header: bool,
    ) -> Result<Option<Vec<u8>>, InboxError> {
        self.begin("UID FETCH", limit + budget::FRAMING);
        let session = self.session()?;
        let mut stream = timed("UID FETCH", session.uid_fetch(uid.to_string(), query)).await?;
        timed("UID FETCH", async {
            let mut bytes = None;
            while let Some(fetch) = stream.try_next().await? {
                if fetch.uid == Some(uid) && bytes.is_none() {
                    bytes = if header { fetch.header() } else { fetch.body() }.map(<[u8]>::to_vec);
                }
            }
            Ok::<_, async_imap::error::Error>(bytes)
        })
        .await
    }

    /// The highest UID at or above `from`, for a server that gives no UIDNEXT (RFC 3501 §6.4.8: `n:*` also
    /// names the last message, whatever its UID).
    async fn last_uid(&mut self, from: u32) -> Result<Option<u32>, InboxError> {
        self.begin("UID SEARCH", budget::SEARCH_ANSWER);
        let uids = timed("UID SEARCH", self.session()?.uid_search(format!("UID {from}:*"))).await?;
        Ok(uids.into_iter().filter(|u| *u >= from).max())
    }

    /// One look at a folder: the new UIDs from `next` on, listed in batches, at most [`NEW_PER_LOOK`] of
    /// them; `next` moves past what was listed, so no UID is looked at twice in one wait. Each message whose
    /// envelope matches is judged on its header ([`candidate::judge`]) and offered to `choice` with its size.
    /// Returns whether new UIDs are left for the next look.
    async fn check_folder(
        &mut self,
        mark: &FolderMark,
        matcher: &Matcher,
        next: &mut u32,
        choice: &mut Choice<Pending>,
    ) -> Result<bool, InboxError> {
        let mailbox = self.examine(&mark.folder, mark.uid_validity).await?;
        self.checked_uid_next.retain(|(f, _)| f != &mark.folder);
        self.checked_uid_next.push((mark.folder.clone(), mailbox.uid_next));
        if mailbox.exists == 0 {
            return Ok(false);
        }
        let last = match mailbox.uid_next {
            Some(n) if n <= *next => return Ok(false),
            Some(n) => n - 1,
            None => match self.last_uid(*next).await? {
                Some(last) => last,
                None => return Ok(false),
            },
        };
        let (batches, more) = look(*next, last);
        for (from, to) in batches {
            let listed = self.list(&format!("{from}:{to}"), |u| (from..=to).contains(&u), matcher).await?;
            *next = to.saturating_add(1);
            for listed in listed.into_iter().filter(|l| l.matches) {
                self.judge(mark, listed, matcher, choice).await?;
                if choice.settled() {
                    return Ok(false);
                }
            }
        }
        Ok(more)
    }

    /// Reads a matching message's header and offers it to `choice`.
    async fn judge(
        &mut self,
        mark: &FolderMark,
        listed: Listed,
        matcher: &Matcher,
        choice: &mut Choice<Pending>,
    ) -> Result<(), InboxError> {
        let query = format!("(UID BODY.PEEK[HEADER]<0.{HEADER_BYTES}>)");
        let Some(header) = self.section(listed.uid, &query, HEADER_BYTES, true).await? else { return Ok(()) };
        let verdict = candidate::judge(&header, matcher);
        let ses_message_id = match &verdict {
            Candidate::Ours { ses_message_id } => ses_message_id.clone(),
            _ => None,
        };
        let pending = Pending {
            folder: mark.folder.clone(),
            junk: mark.junk,
            uid_validity: mark.uid_validity,
            uid: listed.uid,
            visible_at: listed.visible_at,
            detected_at: Utc::now(),
            ses_message_id,
        };
        let label = format!("{} UID {}", mark.folder, listed.uid);
        let size = listed.size.map(u64::from);
        choice.offer_sized(&label, verdict, size, self.settings.max_message_size, pending);
        Ok(())
    }

    /// The wait's result: the chosen message fetched whole (`BODY.PEEK[]`, within `max_message_size`).
    async fn finish(&mut self, choice: Choice<Pending>) -> Result<Waited, InboxError> {
        let (chosen, foreign, unread) = choice.finish();
        let Some(p) = chosen else { return Ok(Waited { found: None, foreign, unread }) };
        if self.examined.as_deref() != Some(p.folder.as_str()) {
            self.examine(&p.folder, p.uid_validity).await?;
        }
        let limit = self.settings.max_message_size;
        let raw =
            self.section(p.uid, "(UID BODY.PEEK[])", limit, false).await?.ok_or_else(|| InboxError::Protocol {
                command: "UID FETCH".into(),
                detail: format!("{} UID {} was removed before the probe read it", p.folder, p.uid),
            })?;
        let found = Found {
            folder: p.folder,
            junk: p.junk,
            id: p.uid.to_string(),
            visible_at: p.visible_at,
            detected_at: p.detected_at,
            ses_message_id: p.ses_message_id,
            raw,
        };
        Ok(Waited { found: Some(found), foreign, unread })
    }

    /// Waits for the probe's mail in every watched folder. The first folder is watched with IDLE when the
    /// server offers it (woken at once by EXISTS); every folder is re-checked on each wake and at least every
    /// `poll_interval` (NOOP polling where IDLE is unavailable; Gmail reports new mail on NOOP), and at once
    /// while a look left new UIDs unlisted. A candidate without SES's Message-ID form decides only when
    /// nothing better arrived by the deadline.
    pub async fn wait(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        deadline: tokio::time::Instant,
    ) -> Result<Waited, InboxError> {
        let r = self.wait_inner(baseline, matcher, deadline).await;
        self.note(r)
    }

    async fn wait_inner(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        deadline: tokio::time::Instant,
    ) -> Result<Waited, InboxError> {
        let primary = baseline.folders.first().cloned();
        let mut next: Vec<u32> = baseline.folders.iter().map(|m| m.uid_next.unwrap_or(1)).collect();
        let mut choice = Choice::default();
        loop {
            let mut more = false;
            for (mark, next) in baseline.folders.iter().zip(next.iter_mut()) {
                more |= self.check_folder(mark, matcher, next, &mut choice).await?;
                if choice.settled() {
                    return self.finish(choice).await;
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return self.finish(choice).await;
            }
            if more {
                continue;
            }
            let pause = self.settings.poll_interval.min(deadline - now);
            match (&primary, self.uses_idle()) {
                (Some(mark), true) => self.idle_once(&mark.folder, pause).await?,
                _ => {
                    self.begin("NOOP", budget::ANSWER);
                    timed("NOOP", self.session()?.noop()).await?;
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// One IDLE on `folder` for at most `pause`, ended early by any server event. Skipped when the folder's
    /// UIDNEXT moved since its last check: mail that arrived in between was already reported in this
    /// EXAMINE's response (RFC 3501 §6.3.2) and a server announces a size change once (RFC 3501 §5.2), so
    /// IDLE would not wake for it and the probe would find it only after `pause`.
    async fn idle_once(&mut self, folder: &str, pause: Duration) -> Result<(), InboxError> {
        let mailbox = self.examine(folder, None).await?;
        let checked = self.checked_uid_next.iter().find(|(f, _)| f == folder).map(|(_, n)| *n);
        if checked.is_some_and(|n| n != mailbox.uid_next) {
            return Ok(());
        }
        let session = self
            .session
            .take()
            .ok_or_else(|| InboxError::Protocol { command: "IDLE".into(), detail: "connection lost".into() })?;
        self.budget.allow("IDLE", budget::ANSWER);
        let mut handle = session.idle();
        timed("IDLE", handle.init()).await?;
        let (wait, _stop) = handle.wait_with_timeout(pause);
        let woke = tokio::time::timeout(pause + COMMAND_TIMEOUT, wait).await;
        let session = timed("DONE", handle.done()).await?;
        self.session = Some(session);
        match woke {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(InboxError::Protocol { command: "IDLE".into(), detail: e.to_string() }),
            Err(_) => Err(InboxError::Timeout(pause + COMMAND_TIMEOUT)),
        }
    }

    async fn remove(&mut self, folder: &str, uids: &[u32], how: &Cleanup) -> Result<(), InboxError> {
        if uids.is_empty() || matches!(how, Cleanup::Keep) {
            return Ok(());
        }
        let set = uid_set(uids);
        self.begin("SELECT", budget::ANSWER);
        self.examined = None;
        timed("SELECT", self.session()?.select(folder)).await?;
        self.examined = Some(folder.to_string());
        if let Cleanup::MoveTo(target) = how {
            if self.moves {
                self.begin("UID MOVE", budget::ANSWER);
                return timed("UID MOVE", self.session()?.uid_mv(&set, target)).await;
            }
            self.begin("UID COPY", budget::ANSWER);
            timed("UID COPY", self.session()?.uid_copy(&set, target)).await?;
        }
        {
            self.begin("UID STORE", budget::ANSWER);
            let session = self.session()?;
            let stream = timed("UID STORE", session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)")).await?;
            timed("UID STORE", stream.try_collect::<Vec<_>>()).await?;
        }
        if self.uidplus {
            // UID EXPUNGE removes only these UIDs (RFC 4315 §2.1); plain EXPUNGE would also remove mail that
            // someone else flagged \Deleted, which the probe must never touch.
            self.begin("UID EXPUNGE", budget::ANSWER);
            let session = self.session()?;
            let stream = timed("UID EXPUNGE", session.uid_expunge(&set)).await?;
            timed("UID EXPUNGE", stream.try_collect::<Vec<_>>()).await?;
        } else {
            tracing::warn!(folder, "server lacks UIDPLUS: probe mail flagged \\Deleted but not expunged");
        }
        Ok(())
    }

    /// Removes (or moves) exactly the matched UID.
    pub async fn cleanup(&mut self, found: &Found, how: &Cleanup) -> Result<(), InboxError> {
        let uid: u32 = found.id.parse().map_err(|_| InboxError::Protocol {
            command: "cleanup".into(),
            detail: format!("bad UID {:?}", found.id),
        })?;
        let r = self.remove(&found.folder, &[uid], how).await;
        self.note(r)
    }

    /// `UID SEARCH FROM … TO … UID 1:<baseline-1>` per folder (server-side, so the mailbox is not read), then
    /// the envelopes and INTERNALDATE of at most [`SWEEP_PER_FOLDER`] of the UIDs found, oldest first, in
    /// batches, to keep only the probe's mail that arrived within `window`.
    pub async fn sweep(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        window: &LateWindow,
        how: &Cleanup,
    ) -> Result<Sweep, InboxError> {
        let r = self.sweep_inner(baseline, matcher, window, how).await;
        self.note(r)
    }

    async fn sweep_inner(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        window: &LateWindow,
        how: &Cleanup,
    ) -> Result<Sweep, InboxError> {
        let mut late = 0;
        // SEARCH SINCE compares INTERNALDATE's date (RFC 3501 §6.4.4): with a lower bound the search stays
        // within the days since, however much kept mail the folder holds.
        let since = window.after.map(|a| format!(" SINCE {}", a.format("%-d-%b-%Y"))).unwrap_or_default();
        for mark in &baseline.folders {
            let Some(below) = mark.uid_next.filter(|n| *n > 1) else { continue };
            self.examine(&mark.folder, mark.uid_validity).await?;
            let query = format!("FROM {} TO {} UID 1:{}{since}", quote(&matcher.from), quote(&matcher.to), below - 1);
            self.begin("UID SEARCH", budget::SEARCH_ANSWER);
            let found = timed("UID SEARCH", self.session()?.uid_search(&query)).await?;
            let mut uids: Vec<u32> = found.into_iter().filter(|u| *u < below).collect();
            uids.sort_unstable();
            if uids.len() > SWEEP_PER_FOLDER {
                let left = uids.len() - SWEEP_PER_FOLDER;
                let folder = mark.folder.as_str();
                tracing::info!(folder, left, "more stale probe mail than one sweep takes: the rest next run");
                uids.truncate(SWEEP_PER_FOLDER);
            }
            let mut stale = Vec::new();
            for batch in uids.chunks(ENVELOPE_BATCH as usize) {
                let listed = self.list(&uid_set(batch), |u| batch.contains(&u), matcher).await?;
                // SEARCH FROM/TO is a substring match (RFC 3501 §6.4.4): confirm with the envelope.
                stale.extend(
                    listed
                        .iter()
                        .filter(|l| l.matches && l.visible_at.is_some_and(|d| window.contains(d)))
                        .map(|l| l.uid),
                );
            }
            late += stale.len() as u32;
            self.remove(&mark.folder, &stale, how).await?;
        }
        Ok(Sweep { late })
    }

    /// LOGOUT (bounded to 5 s; the connection is dropped either way).
    pub async fn logout(mut self) {
        self.budget.allow("LOGOUT", budget::ANSWER);
        if let Some(mut session) = self.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
        }
    }
}

/// The batches of one look at a folder whose next unlisted UID is `next` and whose highest UID is `last`:
/// `(from, to)` ranges of at most [`ENVELOPE_BATCH`] UIDs covering at most [`NEW_PER_LOOK`], and whether
/// UIDs are left for the next look.
fn look(next: u32, last: u32) -> (Vec<(u32, u32)>, bool) {
    if next > last {
        return (Vec::new(), false);
    }
    let end = last.min(next.saturating_add(NEW_PER_LOOK - 1));
    let mut batches = Vec::new();
    let mut from = next;
    loop {
        let to = end.min(from.saturating_add(ENVELOPE_BATCH - 1));
        batches.push((from, to));
        if to >= end {
            break;
        }
        from = to + 1;
    }
    (batches, end < last)
}

/// `3,7,9`: a UID set (RFC 3501 §9 `sequence-set`).
fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn envelope_matches(fetch: &Fetch, matcher: &Matcher) -> bool {
    let Some(env) = fetch.envelope() else { return false };
    let addresses = |list: &Option<Vec<imap_proto::types::Address<'_>>>| -> Vec<String> {
        list.iter()
            .flatten()
            .filter_map(|a| {
                let mailbox = String::from_utf8_lossy(a.mailbox.as_deref()?);
                let host = String::from_utf8_lossy(a.host.as_deref()?);
                Some(format!("{mailbox}@{host}"))
            })
            .collect()
    };
    let from = addresses(&env.from);
    let to = addresses(&env.to);
    matcher.matches(from.iter().map(String::as_str), to.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_backslash_and_quote() {
        let cases = [("a@b.c", "\"a@b.c\""), ("x\"y", "\"x\\\"y\""), ("x\\y", "\"x\\\\y\"")];
        for (input, expected) in cases {
            assert_eq!(quote(input), expected);
        }
    }

    /// Each look lists bounded batches and says whether UIDs are left.
    #[test]
    fn looks_are_bounded_batches() {
        let cases = [
            ("nothing new", 10, 9, vec![], false),
            ("one new", 10, 10, vec![(10, 10)], false),
            ("one batch", 1, 25, vec![(1, 25)], false),
            ("a batch and a bit", 1, 30, vec![(1, 25), (26, 30)], false),
        ];
        for (case, next, last, batches, more) in cases {
            assert_eq!(look(next, last), (batches, more), "{case}");
        }
        let (batches, more) = look(1, 100_000);
        assert_eq!(batches.len() as u32, NEW_PER_LOOK / ENVELOPE_BATCH, "a look lists at most NEW_PER_LOOK");
        assert_eq!(batches.last(), Some(&(NEW_PER_LOOK - ENVELOPE_BATCH + 1, NEW_PER_LOOK)));
        assert!(more, "the rest is left for the next look");
        assert_eq!(look(u32::MAX - 2, u32::MAX - 1), (vec![(u32::MAX - 2, u32::MAX - 1)], false), "no overflow");
    }

    #[test]
    fn xoauth2_sends_the_token_once_then_an_empty_answer() {
        use async_imap::Authenticator;
        let token = Secret::new("ya29.token");
        let refusal = std::sync::Mutex::new(None);
        let mut auth = XOAuth2 { user: "probe@example.net", token: &token, sent: false, refusal: &refusal };
        assert_eq!(auth.process(b""), "user=probe@example.net\x01auth=Bearer ya29.token\x01\x01");
        assert_eq!(auth.process(b"{\"status\":\"401\"}"), "");
        assert_eq!(refusal.lock().unwrap().as_deref(), Some(&b"{\"status\":\"401\"}"[..]), "the refusal is kept");
    }

    #[test]
    fn xoauth2_refusals_read_as_one_line() {
        let google = br#"{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}"#;
        assert_eq!(
            xoauth2_refusal(google).as_deref(),
            Some("the server refused the token: status 401, schemes Bearer, scope needed https://mail.google.com/")
        );
        assert_eq!(xoauth2_refusal(br#"{"status":400}"#).as_deref(), Some("the server refused the token: status 400"));
        assert_eq!(xoauth2_refusal(b"not json"), None);
    }
}
