//! The integration-test binary: real servers, in-process where they are ours (the twin) and as real
//! processes where they are not (Dovecot, moto). One binary so the crate links once; the harnesses and the
//! rig live in the `testkit` crate (`crates/testkit`), shared with the benches.

mod alert_channels;
mod authres_check_headers;
mod authres_peers;
mod authres_receivers;
mod aws_tls;
mod cli;
mod conformance;
mod demo;
mod doctor;
mod dovecot;
mod emf;
mod imap_auth;
mod imap_hostile;
mod imap_inbox;
mod imap_junk;
mod imap_oauth2;
mod imap_pool;
mod lambda;
mod lint_terraform;
mod monitor;
mod monitor_e2e;
mod monitor_kill;
mod moto_conformance;
mod moto_sender_evidence;
mod paging;
mod policy_conformance;
mod probe_e2e;
mod secrets;
mod sender_evidence;
mod terraform;
mod twin_cognito;
mod twin_errors;
mod twin_faults;
mod twin_harness;
mod twin_mail;
mod twin_sandbox;
mod twin_sender_evidence;
mod twin_ses_cloudwatch;

/// The probe binary under test, for the harnesses that start it as a process (`testkit::monitor`).
const PROBE: &str = env!("CARGO_BIN_EXE_probe");
