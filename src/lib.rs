//! cognito-delivery-probe: prove that a Cognito user pool's email really arrives.
//!
//! A map of the crate, in the order a probe run touches it (ARCHITECTURE.md has the whole map, the
//! invariants and where each kind of change goes):
//!
//! * [`cli`] — the command line and [`cmd`], one file per command, dispatched through one enum. Exit codes
//!   are decided in one place, [`verdict::Outcome::exit_code`]; [`output`] renders reports.
//! * [`config`] — probe files: sections, validation with `file:line` errors, which file a command means.
//! * [`probe`] — one run: a file per phase run through one clock, the verdict decisions as pure functions.
//! * [`aws`] — the only AWS calls, and one home per AWS rule (trigger, identity policy, ARNs).
//! * [`inbox`] — IMAP and Maildir behind one interface; [`authres`] — Authentication-Results parsing, trust
//!   selection, alignment and expectations (pure code).
//! * [`diagnosis`] — the catalogue; [`verdict`] — outcomes, phases, marks; [`report`] — the run's report.
//! * [`fix`] — the Terraform fixes; [`address`] — the From address rules.
//! * [`doctor`] — `probe doctor`, the read-only preflight; [`lint`] — `probe lint-terraform`.
//! * [`lambda`] — the probe as an AWS Lambda function (`probe-lambda`, feature `lambda`).
//! * [`monitor`] — scheduler, alert state machine, SQLite state; [`alert`] — the channels; [`metrics`] —
//!   Prometheus metrics and HTTP endpoints.
//! * [`demo`] — `probe demo` over the AWS twin; [`logging`], [`secret`], [`duration`], [`size`]; [`child`] —
//!   the environment of the programs the probe starts (exec channels, secret commands); [`regular_file`] —
//!   bounded reads of local files that are regular files, never links, FIFOs or devices.
//!
//! The AWS twin is its own crate, `twin` (`crates/twin`): Cognito, SESv2 and CloudWatch as the probe sees
//! them, served over HTTP on loopback for the real SDK clients, delivering real DKIM-signed mail into a
//! Maildir. It shares no code with this crate (a conformance test compares its identity-policy rule with
//! [`aws::policy`]); [`demo`] and `probe sandbox` run it.

pub mod address;
pub mod alert;
pub mod authres;
pub mod aws;
pub mod child;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod demo;
pub mod diagnosis;
pub mod doctor;
pub mod duration;
pub mod emf;
pub mod fix;
pub mod inbox;
pub mod lambda;
pub mod lint;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod output;
pub mod probe;
pub mod regular_file;
pub mod report;
pub mod secret;
pub mod size;
pub mod verdict;
