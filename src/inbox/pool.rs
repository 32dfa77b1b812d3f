//! IMAP connections shared by the runs of `probe monitor` (issue 6), where sharing is sound: one run at a
//! time per connection, never two.
//!
//! Many probe files often watch one mailbox (plus-addressed test users of several pools). Without sharing,
//! every run pays TCP + TLS + login + CAPABILITY + LIST, and overlapping runs can exceed the server's
//! connections per user (Dovecot `mail_max_userip_connections` 10, Gmail 15) — the refused logins would be
//! UNKNOWN "mailbox unavailable", the monitor causing its own outage. So, per login (host, port, tls,
//! ca_file, username, auth kind and the secret's *source*, never its value):
//!
//! * at most `imap.max_connections` connections are open (in use plus idle); a run waits for one *before*
//!   its baseline, so no mail is triggered that the run cannot watch. The wait is bounded by the probe's
//!   timeout, then the run is UNKNOWN [`InboxError::Busy`];
//! * a session whose run finished cleanly (no error, no timeout mid-command, not in IDLE) is kept idle for
//!   the next run, for at most [`MAX_IDLE_AGE`] (servers may drop idle clients after 30 min, RFC 3501 §5.4;
//!   NATs and Gmail much sooner), then logged out. Checked out after more than [`CHECK_AFTER`] idle, it must
//!   answer NOOP first (RFC 3501 §6.1.2), else it is dropped and a fresh connection made. A reused session
//!   whose first command (the baseline) fails is replaced once by a fresh connection too;
//! * a session that saw any error is never reused; capabilities and folders are remembered with the
//!   session, per-run state is reset ([`ImapInbox::prepare_reuse`]);
//! * the rustls `ClientConfig` (root store plus `ca_file`) is built once per `ca_file`.
//!
//! The one-shot `probe --pool` uses [`ImapPool::one_shot`]: connect, run, LOGOUT, as before.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_rustls::rustls;

use super::imap::{ImapInbox, tls_config};
use super::oauth2::TokenCache;
use super::{Baseline, InboxError};
use crate::config::{ImapAuth, ImapSettings, OAuth2Settings};
use crate::metrics::ImapMetrics;
use crate::secret::SecretSource;

/// Idle sessions older than this are logged out. RFC 3501 §5.4 lets a server drop a client idle for 30
/// minutes; NAT gateways and Gmail drop idle connections much sooner.
pub const MAX_IDLE_AGE: Duration = Duration::from_secs(60);

/// An idle session older than this must answer NOOP before a run relies on it.
pub const CHECK_AFTER: Duration = Duration::from_secs(5);

/// The pool's clocks: [`MAX_IDLE_AGE`] and [`CHECK_AFTER`] unless a test needs others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolTimings {
    /// Idle sessions older than this are logged out.
    pub max_idle_age: Duration,
    /// Idle sessions older than this are checked with NOOP before reuse.
    pub check_after: Duration,
}

impl Default for PoolTimings {
    fn default() -> Self {
        PoolTimings { max_idle_age: MAX_IDLE_AGE, check_after: CHECK_AFTER }
    }
}

/// What identifies a login: two probes with equal keys may use each other's sessions. The secret is keyed
/// by where it comes from, never by its value (the pool never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LoginKey {
    host: String,
    port: u16,
    tls: bool,
    ca_file: Option<PathBuf>,
    username: String,
    auth: ImapAuth,
    secret: Option<SecretSource>,
    oauth2: Option<OAuth2Settings>,
}

impl LoginKey {
    fn of(s: &ImapSettings) -> LoginKey {
        let secret = match s.auth {
            ImapAuth::Login => s.password.clone(),
            ImapAuth::Xoauth2 => s.token.clone(),
        };
        LoginKey {
            host: s.host.to_ascii_lowercase(),
            port: s.port,
            tls: s.tls,
            ca_file: s.ca_file.clone(),
            username: s.username.clone(),
            auth: s.auth,
            secret,
            oauth2: s.oauth2.clone(),
        }
    }
}

/// What a checkout gets from [`Slots::take`].
#[derive(Debug, PartialEq, Eq)]
enum Take<T> {
    /// An idle session, and how long it idled.
    Idle(T, Duration),
    /// A slot for a new connection (already counted as open).
    Open,
    /// Every connection is in use; the cap at the time.
    Full(usize),
}

/// Connection accounting of one login, apart from the I/O so its rules are unit-tested. `open` counts
/// every connection that exists — in use, idle, or still being logged out — so the server never sees
/// more than `cap`.
#[derive(Debug)]
struct Slots<T> {
    cap: usize,
    open: usize,
    /// Idle sessions and since when, the most recently used last.
    idle: Vec<(T, Instant)>,
}

impl<T> Slots<T> {
    fn new(cap: usize) -> Self {
        Slots { cap: cap.max(1), open: 0, idle: Vec::new() }
    }

    /// Applies a probe's `max_connections`: probes sharing a login share one cap, the smallest they name
    /// (the server's per-user limit is the same for all of them).
    fn limit(&mut self, cap: usize) {
        self.cap = self.cap.min(cap.max(1));
    }

    /// Removes idle sessions older than `max_age`; they still count as open until the caller has logged
    /// them out and called [`Slots::release`].
    fn expire(&mut self, now: Instant, max_age: Duration) -> Vec<T> {
        let (old, fresh): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.idle).into_iter().partition(|(_, since)| now.duration_since(*since) >= max_age);
        self.idle = fresh;
        old.into_iter().map(|(t, _)| t).collect()
    }

    /// The most recently used idle session, else a slot for a new connection, else `Full`.
    fn take(&mut self, now: Instant) -> Take<T> {
        if let Some((t, since)) = self.idle.pop() {
            return Take::Idle(t, now.duration_since(since));
        }
        if self.open < self.cap {
            self.open += 1;
            return Take::Open;
        }
        Take::Full(self.cap)
    }

    /// A run finished cleanly with `t`: kept idle, or handed back for LOGOUT when the cap shrank below
    /// the open connections (then [`Slots::release`] follows the LOGOUT).
    fn give_back(&mut self, t: T, now: Instant) -> Option<T> {
        if self.open <= self.cap && self.idle.len() < self.cap {
            self.idle.push((t, now));
            None
        } else {
            Some(t)
        }
    }

    /// A connection is gone.
    fn release(&mut self) {
        self.open = self.open.saturating_sub(1);
    }
}

/// One login's connections.
struct Mailbox {
    /// `host:port`, the metrics label.
    label: String,
    /// `user@host`, for messages.
    login: String,
    slots: Mutex<Slots<ImapInbox>>,
    /// Woken whenever a connection is released or goes idle.
    freed: tokio::sync::Notify,
    metrics: ImapMetrics,
    timings: PoolTimings,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Slots<ImapInbox>> {
        // Nothing panics while holding this lock (plain arithmetic and Vec moves); recover regardless.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(&self) {
        self.lock().release();
        self.freed.notify_waiters();
    }

    /// LOGOUT of sessions already taken out of the idle list, each slot released once it is closed.
    async fn close_all(&self, sessions: Vec<ImapInbox>, reason: &'static str) {
        for session in sessions {
            self.metrics.discarded(&self.label, reason);
            session.logout().await;
            self.release();
        }
    }

    /// Logs out idle sessions past their age.
    async fn reap(&self) {
        let expired = self.lock().expire(Instant::now(), self.timings.max_idle_age);
        if !expired.is_empty() {
            tracing::debug!(mailbox = %self.label, count = expired.len(), "idle IMAP sessions expired: LOGOUT");
        }
        self.close_all(expired, "expired").await;
    }
}

/// Shared IMAP connections, keyed by login. `probe monitor` owns one for the process
/// ([`crate::monitor::SdkRunner`]); see the module doc for the rules.
pub struct ImapPool {
    /// False for [`ImapPool::one_shot`]: every session is logged out when its run ends.
    reuse: bool,
    timings: PoolTimings,
    metrics: ImapMetrics,
    mailboxes: Mutex<HashMap<LoginKey, Arc<Mailbox>>>,
    tls: Mutex<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>,
    /// `[imap.oauth2]` access tokens, shared by every session of the pool.
    tokens: Arc<TokenCache>,
}

impl std::fmt::Debug for ImapPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapPool").field("reuse", &self.reuse).field("timings", &self.timings).finish_non_exhaustive()
    }
}

impl Default for ImapPool {
    fn default() -> Self {
        ImapPool::with_metrics(ImapMetrics::default())
    }
}

impl ImapPool {
    /// A sharing pool counting into `metrics` (from [`crate::metrics::Metrics::imap`]).
    pub fn with_metrics(metrics: ImapMetrics) -> ImapPool {
        ImapPool {
            reuse: true,
            timings: PoolTimings::default(),
            metrics,
            mailboxes: Mutex::new(HashMap::new()),
            tls: Mutex::new(HashMap::new()),
            tokens: Arc::default(),
        }
    }

    /// A pool that shares nothing: each checkout connects and each close logs out (the one-shot probe).
    pub fn one_shot() -> ImapPool {
        ImapPool { reuse: false, ..ImapPool::default() }
    }

    /// Other idle clocks (tests exercise the NOOP check and expiry without waiting a minute).
    pub fn with_timings(self, timings: PoolTimings) -> ImapPool {
        ImapPool { timings, ..self }
    }

    /// Logs out every idle session (the monitor is shutting down): servers see a clean LOGOUT rather than a
    /// dropped connection. Sessions in use are left to their runs.
    pub async fn close_idle(&self) {
        let mailboxes: Vec<Arc<Mailbox>> =
            self.mailboxes.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for mailbox in mailboxes {
            let idle = mailbox.lock().expire(Instant::now(), Duration::ZERO);
            mailbox.close_all(idle, "shutdown").await;
        }
    }

    /// The TLS configuration for `settings`, built on first use per `ca_file` and shared after.
    fn tls_for(&self, settings: &ImapSettings) -> Result<Option<Arc<rustls::ClientConfig>>, InboxError> {
        if !settings.tls {
            return Ok(None);
        }
        let mut cache = self.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(config) = cache.get(&settings.ca_file) {
            return Ok(Some(config.clone()));
        }
        let config = Arc::new(tls_config(settings)?);
        cache.insert(settings.ca_file.clone(), config.clone());
        Ok(Some(config))
    }

    fn mailbox(&self, settings: &ImapSettings) -> Arc<Mailbox> {
        let mut map = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(LoginKey::of(settings))
            .or_insert_with(|| {
                Arc::new(Mailbox {
                    label: format!("{}:{}", settings.host, settings.port),
                    login: format!("{}@{}", settings.username, settings.host),
                    slots: Mutex::new(Slots::new(settings.max_connections)),
                    freed: tokio::sync::Notify::new(),
                    metrics: self.metrics.clone(),
                    timings: self.timings,
                })
            })
            .clone()
    }

    /// A logged-in session for `settings`: an idle one of the same login when there is one (NOOP-checked
    /// when it idled long), else a new connection once fewer than `max_connections` are open. Waits for a
    /// free connection until `deadline`, then fails with [`InboxError::Busy`].
    pub async fn checkout(&self, settings: &ImapSettings, deadline: Instant) -> Result<PooledInbox, InboxError> {
        let tls = self.tls_for(settings)?;
        if !self.reuse {
            let inbox = ImapInbox::connect_with(settings, tls, &self.tokens).await?;
            return Ok(PooledInbox { inbox: Some(inbox), settings: settings.clone(), home: None, reused: false });
        }
        let mailbox = self.mailbox(settings);
        let started = Instant::now();
        let mut waited = false;
        let take = loop {
            let freed = mailbox.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a release between the look and the wait is not missed.
            freed.as_mut().enable();
            let (take, expired) = {
                let mut slots = mailbox.lock();
                slots.limit(settings.max_connections);
                let expired = slots.expire(Instant::now(), self.timings.max_idle_age);
                (slots.take(Instant::now()), expired)
            };
            if !expired.is_empty() {
                let mailbox = mailbox.clone();
                tokio::spawn(async move { mailbox.close_all(expired, "expired").await });
            }
            match take {
                Take::Full(max) => {
                    waited = true;
                    if tokio::time::timeout_at(deadline, freed).await.is_err() {
                        let waited = started.elapsed();
                        mailbox.metrics.waited(&mailbox.label, waited.as_secs_f64());
                        return Err(InboxError::Busy { login: mailbox.login.clone(), max, waited });
                    }
                }
                other => break other,
            }
        };
        if waited {
            mailbox.metrics.waited(&mailbox.label, started.elapsed().as_secs_f64());
        }
        // From here this run holds a slot; dropping `pooled` on any early return gives it back.
        let mut pooled = PooledInbox {
            inbox: None,
            settings: settings.clone(),
            home: Some(Home { mailbox: mailbox.clone(), tls, tokens: self.tokens.clone() }),
            reused: false,
        };
        if let Take::Idle(mut inbox, idle_for) = take {
            let alive = idle_for <= self.timings.check_after || inbox.noop().await.is_ok();
            if alive && inbox.prepare_reuse(settings).await.is_ok() {
                mailbox.metrics.reused(&mailbox.label);
                pooled.inbox = Some(inbox);
                pooled.reused = true;
                return Ok(pooled);
            }
            tracing::info!(mailbox = %mailbox.label, "idle IMAP session failed its check (NOOP, LIST): connecting \
                afresh");
            mailbox.metrics.discarded(&mailbox.label, "dead");
        }
        pooled.connect().await?;
        Ok(pooled)
    }
}

/// Where a checked-out session returns to.
struct Home {
    mailbox: Arc<Mailbox>,
    tls: Option<Arc<rustls::ClientConfig>>,
    tokens: Arc<TokenCache>,
}

/// A session checked out of an [`ImapPool`] for one run. [`PooledInbox::close`] hands it back (idle when
/// sound, else closed); dropping it without `close` (a run abandoned at shutdown) closes the connection
/// and frees its slot.
pub struct PooledInbox {
    inbox: Option<ImapInbox>,
    settings: ImapSettings,
    /// `None` for a one-shot pool; while `Some`, this run holds one of the login's connection slots.
    home: Option<Home>,
    reused: bool,
}

impl PooledInbox {
    /// The session.
    pub fn inbox(&mut self) -> Result<&mut ImapInbox, InboxError> {
        self.inbox
            .as_mut()
            .ok_or_else(|| InboxError::Protocol { command: "session".into(), detail: "connection lost".into() })
    }

    /// Connects afresh on the slot this run holds.
    async fn connect(&mut self) -> Result<(), InboxError> {
        let Some(home) = &self.home else {
            return Err(InboxError::Protocol { command: "connect".into(), detail: "no pool".into() });
        };
        let inbox = ImapInbox::connect_with(&self.settings, home.tls.clone(), &home.tokens).await?;
        home.mailbox.metrics.opened(&home.mailbox.label);
        self.inbox = Some(inbox);
        self.reused = false;
        Ok(())
    }

    /// [`ImapInbox::baseline`]; when a reused session fails it (the server dropped the connection while
    /// it idled), the session is replaced by a fresh connection and the baseline taken again, once.
    pub async fn baseline(&mut self) -> Result<Baseline, InboxError> {
        let first = self.inbox()?.baseline().await;
        match first {
            Err(e) if self.reused => {
                if let Some(home) = &self.home {
                    tracing::info!(mailbox = %home.mailbox.label, "reused IMAP session failed its baseline ({e}): \
                        connecting afresh");
                    home.mailbox.metrics.discarded(&home.mailbox.label, "dead");
                }
                self.inbox = None;
                self.connect().await?;
                self.inbox()?.baseline().await
            }
            other => other,
        }
    }

    /// Ends the run: a sound session goes idle in its pool (or is logged out by a one-shot pool); a
    /// session that saw an error is closed at once, without waiting on a server in an unknown state.
    pub async fn close(mut self) {
        let inbox = self.inbox.take();
        let Some(home) = self.home.take() else {
            if let Some(inbox) = inbox {
                inbox.logout().await;
            }
            return;
        };
        let mailbox = home.mailbox;
        match inbox {
            Some(inbox) if inbox.reusable() => {
                let surplus = mailbox.lock().give_back(inbox, Instant::now());
                match surplus {
                    None => {
                        mailbox.freed.notify_waiters();
                        let reaper = Arc::downgrade(&mailbox);
                        let after = mailbox.timings.max_idle_age;
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            if let Some(mailbox) = reaper.upgrade() {
                                mailbox.reap().await;
                            }
                        });
                    }
                    Some(inbox) => {
                        inbox.logout().await;
                        mailbox.release();
                    }
                }
            }
            Some(inbox) => {
                drop(inbox);
                mailbox.release();
            }
            None => mailbox.release(),
        }
    }
}

impl Drop for PooledInbox {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            self.inbox = None;
            home.mailbox.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each step on one login's slots with cap 2, and what it must give.
    #[test]
    fn slots_cap_open_connections_and_reuse_the_newest_idle() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut slots: Slots<&str> = Slots::new(2);
        type Step<'a> = Box<dyn Fn(&mut Slots<&'static str>) -> String + 'a>;
        let cases: Vec<(&str, Step<'_>, &str)> = vec![
            ("first run opens", Box::new(|s| format!("{:?}", s.take(at(0)))), "Open"),
            ("second run opens", Box::new(|s| format!("{:?}", s.take(at(0)))), "Open"),
            ("third run waits", Box::new(|s| format!("{:?}", s.take(at(0)))), "Full(2)"),
            ("first session back", Box::new(|s| format!("{:?}", s.give_back("a", at(1)))), "None"),
            ("second session back", Box::new(|s| format!("{:?}", s.give_back("b", at(2)))), "None"),
            ("third run reuses the newest", Box::new(|s| format!("{:?}", s.take(at(4)))), "Idle(\"b\", 2s)"),
            ("nothing expires before the age", Box::new(|s| format!("{:?}", s.expire(at(60), MAX_IDLE_AGE))), "[]"),
            ("the older one expires", Box::new(|s| format!("{:?}", s.expire(at(61), MAX_IDLE_AGE))), "[\"a\"]"),
            ("expired still counts until released", Box::new(|s| format!("{:?}", s.take(at(61)))), "Full(2)"),
            ("released after LOGOUT", Box::new(|s| format!("{:?}", s.release())), "()"),
            ("then a new connection may open", Box::new(|s| format!("{:?}", s.take(at(62)))), "Open"),
        ];
        for (name, step, expected) in cases {
            assert_eq!(step(&mut slots), expected, "{name}");
        }
        assert_eq!(slots.open, 2);
    }

    #[test]
    fn smallest_cap_wins_and_surplus_sessions_are_closed() {
        let now = Instant::now();
        let mut slots: Slots<u32> = Slots::new(3);
        for _ in 0..3 {
            assert_eq!(slots.take(now), Take::Open);
        }
        slots.limit(8);
        assert_eq!(slots.cap, 3, "a larger cap of another probe does not raise it");
        slots.limit(1);
        assert_eq!(slots.take(now), Take::Full(1));
        // Three open against a cap of one: the first two back are closed, the last one kept.
        assert_eq!(slots.give_back(1, now), Some(1));
        slots.release();
        assert_eq!(slots.give_back(2, now), Some(2));
        slots.release();
        assert_eq!(slots.give_back(3, now), None);
        assert_eq!((slots.open, slots.idle.len()), (1, 1));
        slots.limit(0);
        assert_eq!(slots.cap, 1, "never below one connection");
    }

    fn settings() -> ImapSettings {
        let text = r#"
pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod"
[imap]
host = "imap.example.net"
username = "probe@example.net"
password = { env = "PROBE_IMAP_PASSWORD" }
"#;
        match crate::config::ProbeFile::parse(text, std::path::Path::new("p.toml")).unwrap().mailbox {
            crate::config::Mailbox::Imap(imap) => imap,
            other => panic!("an [imap] file: {other:?}"),
        }
    }

    /// Which changes of a probe's [imap] make it a different login, and which share sessions.
    #[test]
    fn login_key_is_the_login_not_the_run() {
        let base = settings();
        type Change = fn(&mut ImapSettings);
        let cases: [(&str, Change, bool); 9] = [
            ("identical", |_| {}, true),
            ("other folders", |s| s.folders = vec!["INBOX".into(), "Archive".into()], true),
            ("other cleanup and poll interval", |s| s.poll_interval = Duration::from_secs(1), true),
            ("host case", |s| s.host = "IMAP.example.net".into(), true),
            ("other port", |s| s.port = 143, false),
            ("other user", |s| s.username = "other@example.net".into(), false),
            ("other password source", |s| s.password = Some(SecretSource::Env("OTHER".into())), false),
            ("other CA file", |s| s.ca_file = Some("/etc/ca.pem".into()), false),
            ("xoauth2", |s| s.auth = ImapAuth::Xoauth2, false),
        ];
        for (name, change, same) in cases {
            let mut other = base.clone();
            change(&mut other);
            assert_eq!(LoginKey::of(&base) == LoginKey::of(&other), same, "{name}");
        }
    }

    #[test]
    fn busy_error_names_the_login_and_the_cap() {
        let e = InboxError::Busy { login: "probe@imap.example.net".into(), max: 2, waited: Duration::from_secs(300) };
        let text = e.to_string();
        for words in ["all 2 IMAP connections of probe@imap.example.net were busy for 5m", "imap.max_connections"] {
            assert!(text.contains(words), "{text}");
        }
    }
}
