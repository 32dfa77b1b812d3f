//! A real Dovecot serves the twin's Maildir: verified TLS only, the test user's password only, Junk marked
//! `\Junk`, and an IMAP client in IDLE woken by the twin's delivery, which it then fetches byte for byte,
//! unseen, with INTERNALDATE equal to the delivery time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use twin::mail::{AuthFaults, DkimKeys, Folder, Outgoing, ReceiverStyle, Sending, compose, deliver};

use testkit::dovecot::Dovecot;
use testkit::tls::client_config_default_roots;

fn message(delivered_at: DateTime<Utc>) -> Vec<u8> {
    let msg = Outgoing {
        from: "Phenom <noreply@thephenom.app>".into(),
        reply_to: None,
        to: "probe+prod@mail.test".into(),
        subject: "Your verification code".into(),
        body: "Your confirmation code is 482913\n".into(),
        sent_at: delivered_at - chrono::Duration::seconds(2),
        delivered_at,
        region: "us-east-1".into(),
        sending: Sending::Developer { dkim_domain: Some("thephenom.app".into()), mail_from_domain: None },
        receiver: ReceiverStyle::Gmail,
        auth: AuthFaults::default(),
    };
    compose(&msg, &DkimKeys::test_keys()).expect("compose")
}

#[tokio::test]
async fn tls_is_verified_against_the_test_ca_only() {
    let dovecot = Dovecot::start();
    let err = dovecot.tls(client_config_default_roots()).await.expect_err("web PKI roots must not trust the test CA");
    assert!(err.to_string().contains("certificate"), "unexpected TLS error: {err}");
    // The same connection with the test CA succeeds and greets.
    let mut session = dovecot.session().await;
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let dovecot = Dovecot::start();
    let client = dovecot.imap().await;
    let result = client.login(&dovecot.username, "not-the-password").await;
    assert!(result.is_err(), "login with a wrong password succeeded\n{}", dovecot.log());
}

#[tokio::test]
async fn list_shows_junk_with_the_special_use_flag() {
    let dovecot = Dovecot::start();
    let mut session = dovecot.session().await;
    let names: Vec<_> =
        session.list(Some(""), Some("*")).await.expect("LIST").try_collect().await.expect("LIST responses");
    let junk = names.iter().find(|n| n.name() == "Junk").unwrap_or_else(|| panic!("no Junk in {names:?}"));
    assert!(
        junk.attributes().iter().any(|a| matches!(a, async_imap::types::NameAttribute::Junk)),
        "Junk lacks \\Junk: {:?}",
        junk.attributes()
    );
    assert!(names.iter().any(|n| n.name() == "INBOX"), "no INBOX in {names:?}");
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn idle_wakes_on_delivery_and_fetch_returns_the_same_bytes_unseen() {
    let dovecot = Dovecot::start();
    let mut session = dovecot.session().await;
    let mailbox = session.select("INBOX").await.expect("SELECT INBOX");
    assert_eq!(mailbox.exists, 0);

    let mut idle = session.idle();
    idle.init().await.expect("IDLE");
    let delivered_at = DateTime::parse_from_rfc3339("2026-07-14T12:00:05Z").unwrap().to_utc();
    let bytes = message(delivered_at);
    let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(20));
    let maildir = dovecot.maildir.clone();
    let written = bytes.clone();
    let writer = tokio::spawn(async move {
        // Deliver only once the client is idling.
        tokio::time::sleep(Duration::from_millis(200)).await;
        deliver(&maildir, Folder::Inbox, &written, delivered_at).expect("deliver")
    });
    let woke = wait.await.expect("IDLE wait");
    assert!(
        matches!(woke, async_imap::extensions::idle::IdleResponse::NewData(_)),
        "IDLE was not woken by the delivery: {woke:?}\n{}",
        dovecot.log()
    );
    writer.await.expect("writer task");
    let mut session = idle.done().await.expect("DONE");

    let fetched: Vec<_> = session
        .uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        .await
        .expect("FETCH")
        .try_collect()
        .await
        .expect("FETCH responses");
    assert_eq!(fetched.len(), 1, "one message expected");
    let fetch = &fetched[0];
    assert_eq!(fetch.body(), Some(bytes.as_slice()), "FETCH BODY.PEEK[] differs from what was delivered");
    assert!(
        !fetch.flags().any(|f| matches!(f, async_imap::types::Flag::Seen)),
        "BODY.PEEK must leave the message unseen: {:?}",
        fetch.flags().collect::<Vec<_>>()
    );
    assert_eq!(fetch.internal_date().map(|d| d.to_utc()), Some(delivered_at), "INTERNALDATE");
    session.logout().await.expect("logout");
}

#[tokio::test]
async fn junk_delivery_shows_up_in_the_junk_mailbox() {
    let dovecot = Dovecot::start();
    let at = DateTime::parse_from_rfc3339("2026-07-14T12:00:05Z").unwrap().to_utc();
    deliver(&dovecot.maildir, Folder::Junk, &message(at), at).expect("deliver to Junk");
    let mut session = dovecot.session().await;
    let junk = session.select("Junk").await.expect("SELECT Junk");
    assert_eq!(junk.exists, 1, "Junk holds the delivery\n{}", dovecot.log());
    let inbox = session.select("INBOX").await.expect("SELECT INBOX");
    assert_eq!(inbox.exists, 0, "INBOX stays empty");
    session.logout().await.expect("logout");
}
