//! # ahv-store — durable state for the Agent Hypervisor
//!
//! The engine is a deterministic state machine, so its durable state is the ordered log of the
//! commands it applied (each with its time and id seed), shortened from time to time by a
//! snapshot of the whole engine. This crate keeps that log, the retained events, the snapshots
//! and a few settings on one of three backends chosen by a [`Location`]:
//!
//! - memory (tests, benchmarks, demos),
//! - SQLite, the default: `<data dir>/ahv.db`, WAL mode, every commit fsynced,
//! - PostgreSQL, chosen by a `postgres://` URL.
//!
//! The runtime's [`ahv_runtime::CommandLog`] is implemented with **group commit**
//! ([`commit`]): appends are queued under the engine lock without I/O, one writer task writes
//! everything queued in one transaction, and every caller of that batch is released together.
//! [`Store::recover`] rebuilds the engine from the newest snapshot plus the tail of the log.
//!
//! Several nodes can share one PostgreSQL database ([`Store::join_cluster`], module `cluster`):
//! the command log is then one linear history that every node appends to in serialized
//! sequencing rounds and replays into its own engine.
//!
//! ```no_run
//! # async fn start() -> Result<(), ahv_store::StoreError> {
//! use ahv_store::{Location, Store, StoreOptions};
//! let store = Store::open(&Location::parse("/var/lib/ahv")?, StoreOptions::default()).await?;
//! let recovered = store.recover(ahv_core::engine::EngineConfig::default()).await?;
//! // Hypervisor::new(recovered.engine, recovered.log, clock, key, config), then
//! // hv.bus().restore(recovered.events) and spawn snapshot_every(hv, store, …).
//! # Ok(()) }
//! ```

mod backend;
mod batch;
mod cluster;
pub mod commit;
mod err;
mod location;
mod memory;
mod mode;
mod postgres;
mod recover;
mod schema;
mod snapshot;
mod sqlite;
mod store;

pub use cluster::{DEFAULT_LEASE_TTL, MAX_NODE_ID, Replica};
pub use commit::CommitStats;
pub use err::{Result, StoreError};
pub use location::{Location, SQLITE_FILE, StoreOptions};
pub use mode::LOG_MODE_KEY;
pub use recover::{GENESIS_CONFIG_KEY, Recovered, RecoveryReport};
pub use schema::CURRENT_VERSION;
pub use snapshot::snapshot_every;
pub use sqlite::LOCK_FILE;
pub use store::{MAX_META_KEY, MAX_META_VALUE, Store};
