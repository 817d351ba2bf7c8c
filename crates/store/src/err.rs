//! Why the store could not open, write, or recover.
//!
//! Every error that can stop the server at start (a corrupt or foreign file, a newer schema, a
//! read-only data directory) has its own variant with a message an operator can act on.

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The location string is neither `memory`, a `postgres://` URL nor a usable path.
    #[error("invalid store location `{0}`")]
    Location(String),
    /// The data directory cannot be created or used.
    #[error("data directory `{dir}` cannot be used: {reason}")]
    DataDir {
        /// The directory.
        dir: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The data directory exists but cannot be written.
    #[error(
        "data directory `{dir}` is read-only ({reason}); the store needs to write its database \
         and journal there: choose a writable directory or fix its permissions"
    )]
    ReadOnly {
        /// The directory.
        dir: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The database file is not an SQLite database at all (corrupt or some other file).
    #[error("`{path}` is not an agent-hypervisor database (not a valid SQLite file): {reason}")]
    NotADatabase {
        /// The file.
        path: String,
        /// What SQLite said.
        reason: String,
    },
    /// The database is valid but belongs to something else (unknown tables, no version).
    #[error("`{what}` is not an agent-hypervisor database: {reason}")]
    Foreign {
        /// The file or database.
        what: String,
        /// What gave it away.
        reason: String,
    },
    /// The database was written by a newer version of agent-hypervisor.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); \
         upgrade agent-hypervisor or point it at another database"
    )]
    NewerSchema {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The database server cannot be reached.
    #[error("cannot connect to `{what}`: {reason}")]
    Connect {
        /// The database (password redacted).
        what: String,
        /// The driver's reason.
        reason: String,
    },
    /// A statement failed.
    #[error("database error: {0}")]
    Database(String),
    /// Stored data cannot be read back (bad JSON, a gap in the log, an unreadable snapshot).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A caller passed a value the store does not accept.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A value could not be encoded for storage.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// A single node was started on the shared log of a cluster (see `LOG_MODE_KEY`).
    #[error(
        "`{what}` is the shared command log of a cluster; a single node would collide with its \
         nodes: join the cluster as a node instead"
    )]
    ClusterLog {
        /// The database (password redacted).
        what: String,
    },
    /// A cluster node was started on the command log of a single node (see `LOG_MODE_KEY`).
    #[error(
        "`{what}` is the command log of a single node; a cluster node would collide with it: \
         give the cluster its own database"
    )]
    SingleNodeLog {
        /// The database (password redacted).
        what: String,
    },
    /// Another running server already writes this database's command log as a single node (or,
    /// for a single node, anyone at all does).
    #[error(
        "`{what}` is being written by another running server: a single node must be the only \
         writer of its database; stop the other server first"
    )]
    LogInUse {
        /// The database (password redacted).
        what: String,
    },
    /// The store's command log is closed (superseded by a newer recovery, or the store closed).
    #[error("command log closed: {0}")]
    Closed(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(one_line(&e.to_string()))
    }
}

/// Keeps a driver message on one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A result with [`StoreError`] as the default error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
