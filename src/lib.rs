//! cognito-delivery-probe: prove that a Cognito user pool's email really arrives.
//!
//! A map of the crate, in the order a probe run touches it:
//!
//! * [`cli`] — the command line (`probe --pool`, `sandbox`, `check-headers`, …) and [`cmd`], one file per
//!   command, dispatched through one enum. Exit codes are decided in one place, [`verdict::Outcome`].
//! * [`authres`] — Authentication-Results parsing (RFC 8601, lenient where receivers deviate), trust
//!   selection of the receiver's own headers, DKIM/SPF/DMARC alignment and expectations. Pure code.
//! * The AWS twin is its own crate, `twin` (`crates/twin`): Cognito, SESv2 and CloudWatch as the probe sees
//!   them, served over HTTP on loopback for the real SDK clients, delivering real DKIM-signed mail into a
//!   Maildir. It shares no code with this crate; [`demo`] and `probe sandbox` ([`cmd`]) run it.
//! * [`doctor`] — `probe doctor`, the read-only preflight: pool, SES identity and policy, account, test
//!   user, mailbox and DNS, each finding with its evidence and Terraform fix. [`policy`] — the identity-policy
//!   rule (research/aws.md §3.3) it applies; the twin has its own, and a conformance test compares them.
//! * [`verdict`] — outcomes, phases and their names, shared by every output.
//! * [`lint`] — `probe lint-terraform`: a static check of Terraform for the runbook's email failures.
//! * [`logging`] — tracing setup for the binary.
//! * [`monitor`] — `probe monitor`: scheduler, alert state machine, SQLite state; [`metrics`] — its
//!   Prometheus metrics and HTTP endpoints.

pub mod alert;
pub mod authres;
pub mod aws;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod demo;
pub mod diagnosis;
pub mod doctor;
pub mod inbox;
pub mod lint;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod output;
pub mod policy;
pub mod probe;
pub mod report;
pub mod secret;
pub mod verdict;
