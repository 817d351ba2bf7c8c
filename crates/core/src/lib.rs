//! # ahv-core — the pure domain of the Agent Hypervisor
//!
//! Everything here is deterministic and free of I/O: no sockets, files, threads, async runtime,
//! system clock or randomness. Time arrives as a [`time::Timestamp`] argument and fresh ids come
//! from an [`id::IdGen`] seeded by the caller, so the runtime can log a command and replay it to
//! the same state after a crash.
//!
//! Module map:
//! - [`time`], [`id`], [`score`]: primitives (timestamps, validated ids, bounded scores).
//! - [`ring`]: execution rings, the classifier, the enforcer, elevation, inheritance, breaches.
//! - [`action`]: action descriptors, reversibility and the per-session registry.
//! - [`session`]: session lifecycle and participants; [`vfs`]: the session file system with
//!   ACLs and copy-on-write snapshots; [`vclock`]: vector clocks and isolation levels;
//!   [`locks`]: intent locks with a wait-for graph.
//! - [`liability`]: vouching, slashing, Shapley attribution, quarantine, the liability ledger.
//! - [`audit`]: RFC 6962 Merkle logs, proofs, signed checkpoints, audit bundles; [`did`]: did:key.
//! - [`saga`]: saga state machines, retry policy, fan-out, checkpoints and the DSL.
//! - [`security`]: rate limiting, kill switch; [`trace`]: causal trace ids;
//!   [`history`]: verification of an agent's history against committed records.
//! - [`event`]: typed events emitted for every decision and state change.
//! - [`engine`]: the composed, governed state machine that the runtime drives.

pub mod action;
pub mod audit;
pub mod did;
pub mod engine;
pub mod event;
pub mod history;
pub mod id;
pub mod liability;
pub mod locks;
pub mod ring;
pub mod saga;
pub mod score;
pub mod security;
pub mod session;
pub mod time;
pub mod trace;
pub mod vclock;
pub mod vfs;
