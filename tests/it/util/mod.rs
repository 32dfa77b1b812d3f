//! Harnesses shared by the integration tests.
//!
//! * [`tls`] — a test certificate authority (rcgen) and TLS client configs that trust only it.
//! * [`dovecot`] — a private Dovecot (Debian `dovecot-imapd`) serving a Maildir over implicit TLS on
//!   127.0.0.1, and an IMAP client connected to it.
//! * [`terraform`] — terraform with the AWS provider from a local registry mirror, offline.
//! * [`moto`] — a private `moto_server` (PyPI) on 127.0.0.1 for the AWS conformance tests.
//! * [`introspection`] — an OAuth 2.0 token-introspection endpoint for Dovecot's `oauth2` passdb.
//! * [`monitor`] — the real `probe monitor` process, its address and its `/metrics` series.
//! * [`recorder`] — an HTTP server on 127.0.0.1:0 that records requests and answers scripted status codes
//!   (a stand-in for webhook receivers and PagerDuty).

#![allow(dead_code)] // each test module uses a different part of the harness

pub mod dovecot;
pub mod introspection;
pub mod monitor;
pub mod moto;
pub mod recorder;
pub mod terraform;
pub mod tls;
