//! Test support for the delivery probe, shared by its integration tests (`tests/it/`) and benches
//! (`benches/`). It does not depend on the probe: it hands out SDK configurations, probe-file text and
//! running servers, and the tests build the probe's own types from them.
//!
//! * [`rig`] — the one way to stand up the world: the twin in-process, optionally Dovecot serving its
//!   Maildir, the SDK configuration, and the probe-file sections that reach them ([`Rig`]).
//! * [`aws`] — SDK configurations for any loopback endpoint (twin, moto, a closed port), on the probe's
//!   own HTTP stack (rustls 0.23 with ring).
//! * [`tls`] — a test certificate authority (rcgen) and TLS configs that trust only it.
//! * [`dovecot`] — a private Dovecot (Debian `dovecot-imapd`) serving a Maildir over implicit TLS on
//!   127.0.0.1, a random port and a passwd-file user, and an IMAP client connected to it.
//! * [`moto`] — a private `moto_server` (PyPI) on 127.0.0.1 for the AWS conformance tests.
//! * [`terraform`] — terraform with the AWS provider from a local registry mirror, offline.
//! * [`introspection`] — an OAuth 2.0 token-introspection endpoint for Dovecot's `oauth2` passdb.
//! * [`oauth2`] — a loopback OAuth 2.0 token endpoint (refresh token, JWT bearer, client credentials) with
//!   the introspection Dovecot asks about the tokens it issued; RSA test keys made with openssl.
//! * [`recorder`] — an HTTP server on 127.0.0.1:0 that records requests and answers scripted status codes
//!   (a stand-in for webhook receivers and PagerDuty).
//! * [`monitor`] — the real `probe monitor` process, its address and its `/metrics` series.
//! * [`mail`], [`stats`] — the probe's test message and the table helpers the benches share.
//!
//! A server that is not installed (Dovecot, moto, terraform) fails the test with an install hint; nothing
//! here skips.

pub mod aws;
pub mod dovecot;
pub mod introspection;
pub mod mail;
pub mod monitor;
pub mod moto;
pub mod oauth2;
pub mod recorder;
pub mod rig;
pub mod stats;
pub mod terraform;
pub mod tls;

pub use rig::{Rig, RigBuilder, toml_path};
