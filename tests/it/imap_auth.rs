//! The probe's own IMAP client (`ImapInbox::connect`) logging in to a real Dovecot over verified TLS: XOAUTH2
//! through Dovecot's `oauth2` passdb and a local token-introspection endpoint, with the token printed by a
//! command; LOGIN with the passwd-file password; and certificate verification against a private CA.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use cognito_delivery_probe::config::{ImapAuth, ImapSettings};
use cognito_delivery_probe::inbox::InboxError;
use cognito_delivery_probe::inbox::imap::ImapInbox;
use cognito_delivery_probe::secret::SecretSource;

use testkit::dovecot::{Dovecot, Options};
use testkit::introspection::Introspection;

const VALID_TOKEN: &str = "ya29.valid-probe-token-5f0c";

/// Connects and reports the error, or logs out.
async fn connect(settings: &ImapSettings) -> Result<(), InboxError> {
    let inbox = ImapInbox::connect(settings).await?;
    inbox.logout().await;
    Ok(())
}

/// A token helper like `gcloud auth print-access-token`: a script printing the token on stdout.
fn token_command(dir: &Path, token: &str) -> SecretSource {
    let script: PathBuf = dir.join("print-token");
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{token}'\n")).expect("write token script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod token script");
    SecretSource::command(vec![script.display().to_string()])
}

fn xoauth2_settings(dovecot: &Dovecot, dir: &Path, token: &str) -> ImapSettings {
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.auth = ImapAuth::Xoauth2;
    settings.password = None;
    settings.token = Some(token_command(dir, token));
    settings
}

fn oauth2_dovecot(introspection: &Introspection) -> Dovecot {
    Dovecot::start_with(&Options { oauth2_introspection_url: Some(introspection.url.clone()), ..Options::default() })
}

#[tokio::test]
async fn xoauth2_with_a_token_from_a_command_logs_in_and_baselines() {
    let introspection = Introspection::start(VALID_TOKEN, "probe");
    let dovecot = oauth2_dovecot(&introspection);
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = xoauth2_settings(&dovecot, dir.path(), VALID_TOKEN);

    let mut inbox = match ImapInbox::connect(&settings).await {
        Ok(inbox) => inbox,
        Err(e) => panic!("XOAUTH2 login failed: {e}\n{}", dovecot.log()),
    };
    let baseline = inbox.baseline().await.expect("baseline");
    inbox.logout().await;

    let folders: Vec<(&str, bool)> = baseline.folders.iter().map(|m| (m.folder.as_str(), m.junk)).collect();
    assert_eq!(folders, [("INBOX", false), ("Junk", true)], "watched folders");
    for mark in &baseline.folders {
        assert_eq!(mark.uid_next, Some(1), "{} is empty, so UIDNEXT is 1", mark.folder);
        assert!(mark.uid_validity.is_some(), "{} has a UIDVALIDITY", mark.folder);
    }
    assert!(introspection.requests() >= 1, "Dovecot never asked the introspection endpoint\n{}", dovecot.log());
}

#[tokio::test]
async fn xoauth2_with_a_wrong_token_fails_as_login_without_showing_the_token() {
    let introspection = Introspection::start(VALID_TOKEN, "probe");
    let dovecot = oauth2_dovecot(&introspection);
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = "ya29.revoked-token-77d1";
    let settings = xoauth2_settings(&dovecot, dir.path(), wrong);

    let err = connect(&settings).await.expect_err("a token the endpoint rejects must not log in");
    assert!(matches!(err, InboxError::Login { .. }), "expected InboxError::Login, got {err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(wrong), "the token leaked into the error: {text}");
        assert!(!text.contains("revoked-token"), "part of the token leaked into the error: {text}");
    }
    assert!(introspection.requests() >= 1, "Dovecot rejected without asking the endpoint\n{}", dovecot.log());
}

#[tokio::test]
async fn xoauth2_with_another_users_token_fails_as_login() {
    // The endpoint says the token belongs to "someone-else"; Dovecot must compare it with the login name.
    let introspection = Introspection::start(VALID_TOKEN, "someone-else");
    let dovecot = oauth2_dovecot(&introspection);
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = xoauth2_settings(&dovecot, dir.path(), VALID_TOKEN);

    let err = connect(&settings).await.expect_err("a token of another user must not log in as probe");
    assert!(matches!(err, InboxError::Login { .. }), "expected InboxError::Login, got {err:?}");
    assert!(!err.to_string().contains(VALID_TOKEN), "the token leaked into the error: {err}");
}

#[tokio::test]
async fn login_with_the_right_password_connects_and_a_wrong_one_fails_as_login() {
    let dovecot = Dovecot::start();
    let settings: ImapSettings = dovecot.probe_settings();
    if let Err(e) = connect(&settings).await {
        panic!("LOGIN with the right password failed: {e}\n{}", dovecot.log());
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = "pw-not-the-password-3e9a";
    let wrong_file = dir.path().join("wrong-password");
    std::fs::write(&wrong_file, wrong).expect("write wrong password");
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.password = Some(SecretSource::File(wrong_file));
    let err = connect(&settings).await.expect_err("a wrong password must not log in");
    assert!(matches!(err, InboxError::Login { .. }), "expected InboxError::Login, got {err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(wrong), "the password leaked into the error: {text}");
        assert!(!text.contains(&dovecot.password), "the real password appears in the error: {text}");
    }
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_fails_as_tls_and_works_with_ca_file() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.ca_file = None;
    let err = connect(&settings).await.expect_err("the test CA is not a public root");
    assert!(matches!(err, InboxError::Tls { .. }), "expected InboxError::Tls, got {err:?}");
    assert!(err.to_string().contains("ca_file"), "the TLS error should hint at imap.ca_file: {err}");

    settings.ca_file = Some(dovecot.ca_pem_path.clone());
    if let Err(e) = connect(&settings).await {
        panic!("with ca_file the same server must be trusted: {e}\n{}", dovecot.log());
    }
}
