//! # Tamper-evident audit
//!
//! Every governed action or state change becomes an [`AuditEntry`] appended to a [`MerkleLog`]
//! (one per session plus one for the hypervisor). Logs are RFC 6962 Merkle trees, so any entry
//! can be proven included ([`merkle::inclusion_proof`]) and any two tree heads proven consistent
//! ([`merkle::consistency_proof`]); tree heads are published as Ed25519-signed C2SP
//! [`Checkpoint`]s; and an [`AuditBundle`] lets a third party verify a whole export offline with
//! the public key alone ([`verify_bundle_with_key`]).
//!
//! What the reference got wrong and this module does instead (spec §7, §17 item 18):
//!
//! | reference | here |
//! |---|---|
//! | hashes hex strings, no leaf/node prefixes | raw bytes, `0x00`/`0x01` domain separation ([`merkle`]) |
//! | odd node paired with itself: `[a,b,c]` and `[a,b,c,c]` share a root | RFC 6962 split, no duplication |
//! | `verify_chain` recomputes then compares (a no-op) and overwrites stored hashes | verification is pure and reads only its arguments |
//! | last delta rewritable undetectably; `agent_did` unhashed | every field hashed; every leaf, the last included, is bound by the signed root |
//! | "blockchain commitment" never signed or sent anywhere | signed checkpoints and offline-verifiable bundles |
//!
//! Module map:
//! - [`digest`]: [`Digest32`], a SHA-256 value type (hex at the edges).
//! - [`merkle`]: tree hashing, inclusion and consistency proofs and their verification.
//! - [`log`]: [`MerkleLog`], the append-only log with an O(log n) incremental root.
//! - [`canonical`]: canonical JSON bytes for hashing; [`detail`]: [`Detail`], details written
//!   straight in canonical form; [`entry`]: [`AuditEntry`].
//! - [`base64`]: strict standard base64; [`note`]: C2SP signed notes; [`checkpoint`]: tree heads.
//! - [`bundle`]: export bundles and their verification.
//!
//! Nothing here generates keys, reads clocks or does I/O: signing keys, timestamps and storage
//! belong to the runtime.

pub mod base64;
pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod detail;
pub mod digest;
pub mod entry;
pub mod log;
pub mod merkle;
pub mod note;

pub use bundle::{
    AuditBundle, BundleError, ConsistencyExport, InclusionExport, LogExport, VerifyReport,
    verify_bundle, verify_bundle_with_key,
};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use detail::{Detail, JsonField, Ser};
pub use digest::Digest32;
pub use entry::{AuditEntry, Decision, EntryError};
pub use log::{LogError, MerkleLog};
pub use merkle::ProofError;
pub use note::{NoteError, NoteVerifier, SignedNote};

/// Any error of the audit module, for callers that handle them together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// See [`LogError`].
    #[error(transparent)]
    Log(#[from] LogError),
    /// See [`EntryError`].
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// See [`ProofError`].
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// See [`NoteError`].
    #[error(transparent)]
    Note(#[from] NoteError),
    /// See [`CheckpointError`].
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// See [`BundleError`].
    #[error(transparent)]
    Bundle(#[from] BundleError),
}
