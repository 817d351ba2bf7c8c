//! Tamper-evident audit: RFC 6962 Merkle logs, proofs, signed checkpoints and export bundles.
pub mod base64;
pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod digest;
pub mod entry;
pub mod log;
pub mod merkle;
pub mod note;
