//! Tamper-evident audit: RFC 6962 Merkle logs, proofs, signed checkpoints and export bundles.
pub mod digest;
pub mod merkle;
