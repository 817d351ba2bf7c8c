//! The one check the clock table makes on a path. Paths arrive already normalised by the VFS; the
//! table treats them as opaque keys and only refuses keys that would be unbounded or meaningless.

use super::err::ClockError;

/// Longest path accepted as a clock key, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Refuses empty and over-long paths.
pub(crate) fn validate_path(path: &str) -> Result<(), ClockError> {
    if path.is_empty() {
        return Err(ClockError::EmptyPath);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(ClockError::PathTooLong {
            len: path.len(),
            limit: MAX_PATH_LEN,
        });
    }
    Ok(())
}
