//! `probe check-headers FILE.eml`: evaluate a saved message's Authentication-Results.

use crate::cli::CheckHeadersArgs;

pub async fn run(_args: CheckHeadersArgs) -> u8 {
    3
}
