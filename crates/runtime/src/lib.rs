//! # ahv-runtime — the Agent Hypervisor engine at run time
//!
//! Wraps the pure [`ahv_core::engine::Engine`] with everything that touches the outside world:
//!
//! - [`hypervisor`]: the [`Hypervisor`] facade — apply a command, make it durable, then answer,
//!   publish its events and start its saga work.
//! - [`cluster`]: several nodes sharing one linear log (sequencing rounds, saga leases).
//! - [`log`]: the durability seam ([`CommandLog`]); the store crate provides SQLite/PostgreSQL.
//! - [`bus`]: numbered, bounded, non-blocking event fan-out with resumption by sequence.
//! - [`saga_runner`]: HTTP step calls (allow-listed, idempotency keys, timeouts), in-process
//!   executors ([`executor`]), retry and deadline timers.
//! - [`signer`]: Ed25519 checkpoints of the hypervisor log and verifiable audit bundles.
//! - [`background`]: the periodic tick (expiries) and checkpointer.
//! - [`clock`]: the monotonic, wall-anchored clock (and a manual one for tests).

pub mod background;
pub mod bus;
pub mod clock;
pub mod cluster;
pub mod executor;
pub mod hypervisor;
pub mod log;
mod outcome;
pub mod recovery;
mod saga_runner;
pub mod signer;

pub use bus::{EventBus, EventFilter, StoredEvent};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cluster::{ClusterConfig, Fence, Lease, SharedLog};
pub use executor::{StepCall, StepExecutor, StepResult};
pub use hypervisor::{Hypervisor, RuntimeConfig, RuntimeError};
pub use log::{CommandLog, LogError, MemoryLog};
pub use signer::Signer;
