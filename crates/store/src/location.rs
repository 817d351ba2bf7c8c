//! Where the state lives and how much history is kept.
//!
//! One string chooses the backend, so the server's `--data` flag can take any of them: `memory`,
//! a `postgres://` (or `postgresql://`) URL, or a data directory holding `ahv.db`.

use std::path::{Path, PathBuf};

use crate::err::{Result, StoreError};

/// File name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "ahv.db";

/// Where the store keeps its data.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// Process memory only (tests, benchmarks, demos): nothing survives the process.
    Memory,
    /// A data directory; the database is `<dir>/ahv.db`, created on first start.
    Dir(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// Parses `memory`, a `postgres://`/`postgresql://` URL, or a directory path.
    pub fn parse(s: &str) -> Result<Location> {
        let t = s.trim();
        if t.is_empty() {
            return Err(StoreError::Location(s.to_string()));
        }
        if t == "memory" || t == ":memory:" {
            return Ok(Location::Memory);
        }
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            return Ok(Location::Postgres(t.to_string()));
        }
        if t.contains("://") {
            return Err(StoreError::Location(redact(t)));
        }
        Ok(Location::Dir(PathBuf::from(t)))
    }

    /// A data directory.
    pub fn dir(path: impl AsRef<Path>) -> Location {
        Location::Dir(path.as_ref().to_path_buf())
    }

    /// The data directory, if this is one (the server keeps its signing key there too).
    pub fn data_dir(&self) -> Option<&Path> {
        match self {
            Location::Dir(d) => Some(d),
            _ => None,
        }
    }

    /// A printable description with any password redacted.
    pub fn describe(&self) -> String {
        match self {
            Location::Memory => "memory".to_string(),
            Location::Dir(d) => d.join(SQLITE_FILE).display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

/// Replaces the password of a URL (`user:secret@host`) by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

/// How much history the store keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Events kept (newest first); older ones are deleted in the same transaction that adds new
    /// ones. Default 100 000.
    pub event_retention: u64,
    /// Snapshots kept (at least 1; default 2, so a damaged newest snapshot can fall back to the
    /// one before it).
    pub snapshots_kept: usize,
    /// Delete commands already covered by the oldest kept snapshot (default true).
    pub compact: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            event_retention: 100_000,
            snapshots_kept: 2,
            compact: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_redacts_passwords() {
        assert_eq!(Location::parse("memory").unwrap(), Location::Memory);
        assert_eq!(
            Location::parse("/var/lib/ahv").unwrap(),
            Location::dir("/var/lib/ahv")
        );
        let pg = Location::parse("postgres://ahv:s3cret@db:5432/ahv").unwrap();
        assert_eq!(pg.describe(), "postgres://ahv:***@db:5432/ahv");
        assert_eq!(redact("postgres://db/ahv"), "postgres://db/ahv");
        assert_eq!(
            Location::parse("mysql://u:p@h/x").unwrap_err().to_string(),
            "invalid store location `mysql://u:***@h/x`"
        );
        assert!(Location::parse("  ").is_err());
    }
}
