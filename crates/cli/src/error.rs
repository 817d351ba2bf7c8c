//! The one error type of the command line: what went wrong, where, and which exit code it maps
//! to. Printed as a single line `error: <what> (<where>)` on stderr, never as a panic.

use std::fmt;
use std::path::Path;

/// Exit code: a check failed (tampered bundle, invalid saga, demo fact not as expected).
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: bad usage, unreadable or malformed input, I/O failure, unavailable command.
pub const EXIT_USAGE: u8 = 2;

/// A failure of a command, with its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Exit code to return ([`EXIT_CHECK_FAILED`] or [`EXIT_USAGE`]).
    pub code: u8,
    /// What went wrong, one line.
    pub what: String,
    /// Where: a file (with line/column when known), a command, a URL.
    pub place: String,
}

impl CliError {
    /// A usage or I/O error (exit 2).
    pub fn usage(what: impl Into<String>, place: impl Into<String>) -> Self {
        CliError {
            code: EXIT_USAGE,
            what: one_line(what.into()),
            place: one_line(place.into()),
        }
    }

    /// A failed check (exit 1).
    pub fn check(what: impl Into<String>, place: impl Into<String>) -> Self {
        CliError {
            code: EXIT_CHECK_FAILED,
            what: one_line(what.into()),
            place: one_line(place.into()),
        }
    }

    /// A file that could not be read.
    pub fn read(path: &Path, e: &std::io::Error) -> Self {
        CliError::usage(
            format!("cannot read `{}`: {}", path.display(), io_reason(e)),
            path.display().to_string(),
        )
    }

    /// A file that could not be written.
    pub fn write(path: &Path, e: &std::io::Error) -> Self {
        CliError::usage(
            format!("cannot write `{}`: {}", path.display(), io_reason(e)),
            path.display().to_string(),
        )
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.what, self.place)
    }
}

impl std::error::Error for CliError {}

/// An I/O error's reason without the "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// Collapses newlines so every error stays on one line.
fn one_line(s: String) -> String {
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_on_one_line() {
        let e = CliError::usage("bad\nthing", "file.json:3:4");
        assert_eq!(e.to_string(), "bad thing (file.json:3:4)");
        assert_eq!(e.code, EXIT_USAGE);
    }

    #[test]
    fn missing_file_reason_is_plain() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        let c = CliError::read(Path::new("x.json"), &e);
        assert_eq!(c.to_string(), "cannot read `x.json`: no such file (x.json)");
    }
}
