//! The AWS twin: Cognito, SESv2 and CloudWatch as the probe sees them (DESIGN.md §8).

pub mod mail;
