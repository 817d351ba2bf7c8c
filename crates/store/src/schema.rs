//! Schema versions and the embedded migrations of each backend.
//!
//! `sqlx::migrate!` needs sqlx's macros, which this workspace does not build, so the SQL files are
//! embedded with `include_str!` and applied here in version order, each in its own transaction
//! together with the update of `schema_version`. Before migrating, the tables found are checked:
//! a database written by a newer build is refused (it may hold data this build would misread),
//! and a database that is not ours (no `schema_version`, or tables we do not know) is refused
//! rather than written into.

use crate::err::{Result, StoreError};

/// The schema version this build writes and understands.
pub const CURRENT_VERSION: i64 = 2;

/// One migration: the SQL that brings a database from `version - 1` to `version`.
#[derive(Debug)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) sql: &'static str,
}

/// SQLite migrations, oldest first.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_saga_leases.sql"),
    },
];

/// PostgreSQL migrations, oldest first.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/postgres/0002_saga_leases.sql"),
    },
];

/// Every table this build's schema has.
pub(crate) const TABLES: &[&str] = &[
    "schema_version",
    "commands",
    "events",
    "snapshots",
    "meta",
    "saga_leases",
];

/// Decides whether a database can be used, from its tables and recorded version, and returns
/// the version it is at (0 for an empty database).
///
/// `strict` refuses tables that are not ours (an SQLite file is ours alone; a PostgreSQL schema
/// may be shared with other applications, so it is not strict).
pub(crate) fn check(
    what: &str,
    tables: &[String],
    version: Option<i64>,
    strict: bool,
) -> Result<i64> {
    let foreign = |reason: String| StoreError::Foreign {
        what: what.to_string(),
        reason,
    };
    let has = |t: &str| tables.iter().any(|x| x == t);
    let current = if has("schema_version") {
        let v = version.ok_or_else(|| foreign("its `schema_version` table is empty".into()))?;
        if v > CURRENT_VERSION {
            return Err(StoreError::NewerSchema {
                found: v,
                supported: CURRENT_VERSION,
            });
        }
        if v < 1 {
            return Err(foreign(format!("it records schema version {v}")));
        }
        v
    } else {
        if let Some(t) = TABLES.iter().find(|t| has(t)) {
            return Err(foreign(format!(
                "it has a `{t}` table but no `schema_version`"
            )));
        }
        0
    };
    let unknown = tables.iter().find(|t| !TABLES.contains(&t.as_str()));
    if let (true, Some(t)) = (strict, unknown) {
        return Err(foreign(format!("it has an unexpected table `{t}`")));
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_database_is_version_zero() {
        assert_eq!(check("db", &[], None, true).unwrap(), 0);
    }

    #[test]
    fn own_database_is_accepted_at_its_version() {
        assert_eq!(check("db", &names(TABLES), Some(1), true).unwrap(), 1);
    }

    #[test]
    fn newer_schema_is_refused() {
        let e = check("db", &names(TABLES), Some(CURRENT_VERSION + 1), true).unwrap_err();
        assert_eq!(
            e,
            StoreError::NewerSchema {
                found: CURRENT_VERSION + 1,
                supported: CURRENT_VERSION
            }
        );
    }

    #[test]
    fn foreign_databases_are_refused() {
        let e = check("x.db", &names(&["users"]), None, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`x.db` is not an agent-hypervisor database: it has an unexpected table `users`"
        );
        let e = check("x.db", &names(&["commands"]), None, false).unwrap_err();
        assert!(
            e.to_string()
                .contains("`commands` table but no `schema_version`")
        );
        assert!(check("x.db", &names(&["schema_version"]), None, true).is_err());
        // A shared PostgreSQL schema may hold other applications' tables.
        assert_eq!(check("pg", &names(&["users"]), None, false).unwrap(), 0);
    }

    #[test]
    fn migrations_are_in_order_and_reach_the_current_version() {
        for list in [SQLITE, POSTGRES] {
            let versions: Vec<i64> = list.iter().map(|m| m.version).collect();
            let expected: Vec<i64> = (1..=CURRENT_VERSION).collect();
            assert_eq!(versions, expected);
        }
    }
}
