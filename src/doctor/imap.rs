//! Checks of the probe's mailbox (DESIGN.md §4): connect, TLS certificate, login, the configured folders,
//! the Junk folder found, and IDLE. It logs in and lists folders only — it selects nothing and touches no
//! mail. A server that does not answer is the doctor's own trouble (UNKNOWN); a certificate that does not
//! verify, a rejected login or a missing folder is a finding (FAIL): the probe would fail the same way.

use super::{Finding, Status};
use crate::config::{ImapSettings, Mailbox, OAuth2Settings, ProbeFile};
use crate::inbox::InboxError;
use crate::inbox::imap::ImapInbox;
use crate::inbox::oauth2::{OAuth2Error, TokenCache, missing_scopes};

const SOURCE: &str = "DESIGN.md §4 (the inbox)";

/// Checks the probe's mailbox: IMAP (after the OAuth2 grant, with `[imap.oauth2]`), or a local Maildir.
pub async fn run(probe: &ProbeFile) -> Vec<Finding> {
    match &probe.mailbox {
        Mailbox::Imap(settings) => {
            let tokens = TokenCache::default();
            let mut findings = Vec::new();
            if let Some(oauth2) = &settings.oauth2 {
                let finding = oauth2_check(oauth2, &settings.username, &tokens).await;
                let usable = finding.status == Status::Ok;
                findings.push(finding);
                if !usable {
                    return findings;
                }
            }
            match ImapInbox::connect_with(settings, None, &tokens).await {
                Ok(inbox) => {
                    findings.extend(connected(settings, inbox.folders(), inbox.uses_idle()));
                    inbox.logout().await;
                }
                Err(err) => findings.extend(failed(settings, &err)),
            }
            findings
        }
        Mailbox::Maildir(m) => {
            let ok = m.path.join("new").is_dir() && m.path.join("cur").is_dir();
            let status = if ok { Status::Ok } else { Status::Fail };
            let summary = if ok {
                format!("Maildir {} is readable", m.path.display())
            } else {
                format!("Maildir {} has no new/ and cur/ directories", m.path.display())
            };
            vec![Finding::new("inbox.maildir", status, summary, SOURCE)]
        }
    }
}

const OAUTH2_SOURCE: &str = "RFC 6749 §5.1, §5.2; research/ses-events-oauth-emf.md §4 (OAuth2 for IMAP)";

/// `imap.oauth2`: the grant yields an access token with the scopes IMAP needs. The token then serves the
/// login check (`tokens` holds it), so the endpoint is asked once.
pub async fn oauth2_check(oauth2: &OAuth2Settings, username: &str, tokens: &TokenCache) -> Finding {
    let grant = oauth2.grant.name();
    match tokens.token(oauth2, username).await {
        Ok(token) => {
            let missing = missing_scopes(oauth2, token.granted.as_deref());
            let granted = match &token.granted {
                Some(scopes) => scopes.join(" "),
                None => format!("{} (as asked)", oauth2.scopes().join(" ")),
            };
            if !missing.is_empty() {
                return Finding::new(
                    "imap.oauth2",
                    Status::Fail,
                    format!("the {grant} grant gave a token without the scope IMAP needs: {}", missing.join(" ")),
                    OAUTH2_SOURCE,
                )
                .evidence(format!("granted scope: {granted}"))
                .fix(
                    "Give the app the missing permission (Google: the OAuth client's consent for \
                     https://mail.google.com/, or the scope in domain-wide delegation; Microsoft: \
                     IMAP.AccessAsUser.All or IMAP.AccessAsApp with admin consent), then get a new refresh token \
                     for delegated access.",
                );
            }
            let expiry = match token.expires_in(tokio::time::Instant::now()) {
                Some(left) => format!("expires in {} minutes", left.as_secs() / 60),
                None => "no expiry given: a new token is asked for every login".to_string(),
            };
            Finding::new(
                "imap.oauth2",
                Status::Ok,
                format!("the {grant} grant gave an access token ({expiry})"),
                OAUTH2_SOURCE,
            )
            .evidence(format!("granted scope: {granted}"))
        }
        Err(OAuth2Error::Refused { endpoint, error, description, hint, .. }) => {
            let summary = format!("the token endpoint {endpoint} refused the {grant} grant: {error}");
            let finding = Finding::new("imap.oauth2", Status::Fail, summary, OAUTH2_SOURCE).fix(hint);
            match description {
                Some(description) => finding.evidence(format!("error_description: {description}")),
                None => finding,
            }
        }
        Err(e @ (OAuth2Error::Setup { .. } | OAuth2Error::Secret(_))) => {
            Finding::new("imap.oauth2", Status::Fail, e.to_string(), OAUTH2_SOURCE)
                .fix("Fix the [imap.oauth2] secret named (`probe validate` checks that each can be read).")
        }
        Err(e @ (OAuth2Error::Unreachable { .. } | OAuth2Error::BadAnswer { .. })) => {
            Finding::new("imap.oauth2", Status::Unknown, format!("could not check the grant: {e}"), OAUTH2_SOURCE)
                .fix("Check that this host reaches the token endpoint (HTTPS) and imap.oauth2.token_url.")
        }
    }
}

fn endpoint(settings: &ImapSettings) -> String {
    format!("{}:{}", settings.host, settings.port)
}

/// The findings of a successful login: connection, TLS, login, folders, Junk, IDLE.
pub fn connected(settings: &ImapSettings, folders: &[(String, bool)], idle: bool) -> Vec<Finding> {
    let at = endpoint(settings);
    let mut out = vec![Finding::new("imap.connect", Status::Ok, format!("IMAP server {at} answers"), SOURCE)];
    out.push(if settings.tls {
        Finding::new("imap.tls", Status::Ok, format!("TLS certificate of {} verifies", settings.host), SOURCE)
    } else {
        Finding::new(
            "imap.tls",
            Status::Warn,
            format!("TLS is off for {at}: the password crosses the network in clear"),
            SOURCE,
        )
        .fix("Set imap.tls = true (the default) and use the server's TLS port (993).")
    });
    out.push(Finding::new("imap.login", Status::Ok, format!("login as {} accepted", settings.username), SOURCE));
    let watched: Vec<&str> = folders.iter().map(|(f, _)| f.as_str()).collect();
    out.push(Finding::new(
        "imap.folders",
        Status::Ok,
        format!("watched folders exist: {}", watched.join(", ")),
        SOURCE,
    ));
    out.push(match folders.iter().find(|(_, junk)| *junk) {
        Some((junk, _)) => Finding::new("imap.junk", Status::Ok, format!("Junk folder found: {junk}"), SOURCE),
        None => Finding::new(
            "imap.junk",
            Status::Warn,
            "no Junk folder found (no SPECIAL-USE \\Junk, no well-known name): mail filed as spam will look lost",
            "DESIGN.md §4; RFC 6154 §2 (\\Junk)",
        )
        .fix("Set imap.junk_folder in the probe file to the server's spam folder."),
    });
    out.push(if idle {
        Finding::new(
            "imap.idle",
            Status::Ok,
            "server offers IDLE: mail is seen as soon as it arrives",
            "RFC 2177; DESIGN.md §4",
        )
    } else {
        Finding::new(
            "imap.idle",
            Status::Warn,
            format!(
                "no IDLE (server lacks it or imap.idle = false): the probe polls with NOOP every {}",
                humantime::format_duration(settings.poll_interval)
            ),
            "RFC 2177; DESIGN.md §4",
        )
    });
    out
}

/// The findings of a failed connection: the steps that worked, then the one that failed.
pub fn failed(settings: &ImapSettings, err: &InboxError) -> Vec<Finding> {
    let at = endpoint(settings);
    let reached = || Finding::new("imap.connect", Status::Ok, format!("IMAP server {at} answers"), SOURCE);
    let tls_ok =
        || Finding::new("imap.tls", Status::Ok, format!("TLS certificate of {} verifies", settings.host), SOURCE);
    match err {
        InboxError::Connect { .. } | InboxError::Timeout(_) | InboxError::Protocol { .. } => vec![
            Finding::new("imap.connect", Status::Unknown, format!("could not check the mailbox: {err}"), SOURCE)
                .fix("Check imap.host/imap.port and that this host can reach the server."),
        ],
        InboxError::Tls { .. } => vec![
            reached(),
            Finding::new("imap.tls", Status::Fail, err.to_string(), SOURCE)
                .fix("Use the server's real name in imap.host; for a private CA set imap.ca_file to its PEM."),
        ],
        InboxError::Login { .. } | InboxError::Secret(_) => vec![
            reached(),
            tls_ok(),
            Finding::new("imap.login", Status::Fail, err.to_string(), SOURCE).fix(
                "Check imap.username and the password/token source (Gmail and Microsoft 365 need auth = \
                    \"xoauth2\").",
            ),
        ],
        InboxError::NoFolder { .. } => vec![
            reached(),
            tls_ok(),
            Finding::new("imap.login", Status::Ok, format!("login as {} accepted", settings.username), SOURCE),
            Finding::new("imap.folders", Status::Fail, err.to_string(), SOURCE).fix(
                "List the server's folders (e.g. `openssl s_client` + `a LIST \"\" *`) and fix imap.folders / \
                    imap.junk_folder.",
            ),
        ],
        other => {
            vec![Finding::new("imap.connect", Status::Unknown, format!("could not check the mailbox: {other}"), SOURCE)]
        }
    }
}
