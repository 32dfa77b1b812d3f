//! `probe sandbox`: serve the AWS twin on loopback.

use crate::cli::SandboxArgs;

pub async fn run(_args: SandboxArgs) -> u8 {
    3
}
