//! Commands that need the HTTP server, which is built separately and wired in after merging.
//! Until then they say so and exit 2.

use crate::error::CliError;

/// Reports that `what` is not available yet (exit 2).
pub fn unavailable(what: &str) -> Result<u8, CliError> {
    Err(CliError::usage(
        format!("`{what}` is not yet available in this build (it arrives with the HTTP server)"),
        what.to_string(),
    ))
}
