//! Who writes a database's command log: one single node, or the nodes of a cluster.
//!
//! A single node ([`Store::recover`]) numbers log positions itself and takes itself for the only
//! writer; cluster nodes ([`Store::join_cluster`]) append in sequencing rounds under an advisory
//! lock. The two cannot share one log: their positions collide, and whichever writes second stops
//! with a storage error long after it started serving. So the first writer to start records its
//! mode in `meta` under [`LOG_MODE_KEY`] (atomically: of two starting at once, one wins) and a
//! writer of the other mode is refused at start, before it writes anything.
//!
//! The marker says which mode, not whether a writer is running: two single nodes started on one
//! PostgreSQL database would both pass it and write colliding positions. So each writer also
//! holds a database-wide advisory lock for as long as its store lives — exclusive for a single
//! node, shared for cluster nodes — and a writer that cannot take it is refused
//! ([`StoreError::LogInUse`]). SQLite's own lock file does the same for a data directory.
//!
//! A database written before this marker existed gets it from the next writer to start. The
//! marker is never changed by the store: to move a database from one mode to the other, stop
//! every node and delete the `log.mode` row from `meta`.

use crate::err::{Result, StoreError};
use crate::store::Store;

/// Meta key holding the database's log mode: `single` or `cluster`.
pub const LOG_MODE_KEY: &str = "log.mode";

/// The two ways a command log is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogMode {
    /// One node, its own group-commit log ([`Store::recover`]).
    Single,
    /// Several nodes in sequencing rounds ([`Store::join_cluster`]).
    Cluster,
}

impl LogMode {
    fn as_str(self) -> &'static str {
        match self {
            LogMode::Single => "single",
            LogMode::Cluster => "cluster",
        }
    }
}

impl Store {
    /// Records `mode` as the database's log mode unless one is recorded, and refuses to go on
    /// if the recorded one differs.
    pub(crate) async fn claim_log_mode(&self, mode: LogMode) -> Result<()> {
        let db = &self.inner.db;
        db.init_meta(LOG_MODE_KEY, mode.as_str()).await?;
        let found = db.get_meta(LOG_MODE_KEY).await?;
        let what = self.inner.location.clone();
        match (found.as_deref(), mode) {
            (Some(f), _) if f == mode.as_str() => {
                // Right mode; now make sure no single node is running on it besides us.
                if db.hold_writer_lock(mode == LogMode::Cluster).await? {
                    Ok(())
                } else {
                    Err(StoreError::LogInUse { what })
                }
            }
            (Some("cluster"), LogMode::Single) => Err(StoreError::ClusterLog { what }),
            (Some("single"), LogMode::Cluster) => Err(StoreError::SingleNodeLog { what }),
            (Some(other), _) => Err(StoreError::Corrupt(format!(
                "meta `{LOG_MODE_KEY}` is `{}`, neither `single` nor `cluster`",
                other.escape_debug()
            ))),
            (None, _) => Err(StoreError::Database(format!(
                "meta key `{LOG_MODE_KEY}` vanished right after it was set"
            ))),
        }
    }
}
