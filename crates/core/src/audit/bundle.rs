//! Audit export bundles that a third party verifies offline with the public key alone.
//!
//! Why this exists: the reference offered no way for anyone outside the process to check its
//! audit trail, and its own check was a no-op. An [`AuditBundle`] carries, for each log, the full
//! entries, their leaf hashes, a signed checkpoint over the log, optional inclusion proofs, and
//! optional consistency proofs from earlier signed checkpoints. A terminated session's log also
//! comes with an [`AnchorExport`]: the hypervisor-log entry that committed its root, proven
//! against a signed checkpoint of the hypervisor log, so the hypervisor log itself need not be
//! shipped. [`verify_bundle`] recomputes everything and names the FIRST bad item.
//!
//! # How a verifier can honestly name the first tampered entry
//!
//! The signature covers only (origin, size, root). A root alone cannot say *which* entry
//! changed. So each log also carries `leaf_hashes`, the leaf hash of every entry as signed. The
//! verifier first checks that these hashes produce the signed root; by collision resistance they
//! are then exactly the hashes that were signed. It then compares each entry's recomputed hash
//! with its signed hash: the first index that differs is the first entry that is not what was
//! signed, and every entry before it is proven authentic. This costs 32 bytes per entry and O(n)
//! hashing, against O(n log n) for an inclusion proof per entry.
//!
//! If `leaf_hashes` itself was altered (for instance an entry and its hash changed together),
//! the root check fails first and the verifier reports [`BundleError::LeafHashesMismatch`]
//! without naming an entry: it cannot tell which one changed, and it says so rather than guess.
//!
//! # Checks, in order (the first failure is reported)
//!
//! 1. bundle version and the bundled verifier key (and, with [`verify_bundle_with_key`], that it
//!    is the key the verifier trusts);
//! 2. for each log in order: a valid, unique log id; the checkpoint's signature; its origin is
//!    `<bundle origin>/<log id>` (so a checkpoint cannot be moved to another log); entry, leaf
//!    hash and checkpoint counts agree; the leaf hashes give the signed root; each entry's hash
//!    equals its signed leaf hash and its `seq` equals its index; each inclusion proof verifies;
//! 3. each anchor: a bundled session log; a signed checkpoint of the hypervisor log; the
//!    anchoring entry's inclusion in it; that entry commits this session's root, and that root
//!    is the root of the bundled log's first `tree_size` entries;
//! 4. each consistency item: an earlier checkpoint of a bundled log (or of the hypervisor log
//!    whose head the anchors carry), signed by the same key, with a proof that the bundled log
//!    extends it.
//!
//! Trust: [`verify_bundle`] uses the key inside the bundle, so it proves the bundle is
//! internally consistent and signed by *that* key; a verifier must obtain the operator's key out
//! of band and use [`verify_bundle_with_key`] to prove who signed.

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::audit::checkpoint::{self, Checkpoint, CheckpointError};
use crate::audit::digest::Digest32;
use crate::audit::entry::AuditEntry;
use crate::audit::merkle::{self, ProofError};
use crate::audit::note::{NoteError, NoteVerifier, SignedNote};

mod anchor;

pub use anchor::{AnchorExport, SESSION_ROOT_KIND};
use anchor::{CheckedLog, verify_anchor};

/// The bundle format version this code writes. Version 2 added anchors.
pub const BUNDLE_VERSION: u32 = 2;

/// The oldest bundle version this code still verifies (version 1 has no anchors).
pub const OLDEST_READABLE_BUNDLE_VERSION: u32 = 1;

/// Log id of the hypervisor-wide log in bundles and checkpoint origins.
pub const HYPERVISOR_LOG: &str = "hypervisor";

/// A self-contained, offline-verifiable export of one or more audit logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditBundle {
    /// Format version, [`BUNDLE_VERSION`].
    pub version: u32,
    /// The operator's origin, e.g. `ahv.example`; each log's checkpoint origin is
    /// `<origin>/<log id>`.
    pub origin: String,
    /// The signer's verifier key (`<name>+<key id>+<base64 key>`, see [`NoteVerifier`]).
    pub public_key: String,
    /// The exported logs.
    pub logs: Vec<LogExport>,
    /// Proofs that bundled logs extend earlier published checkpoints.
    #[serde(default)]
    pub consistency: Vec<ConsistencyExport>,
    /// Proofs that bundled session logs are the ones the hypervisor log committed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<AnchorExport>,
}

/// One log: its entries, their signed leaf hashes and a signed checkpoint over them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogExport {
    /// The log's id, e.g. a session id or `hypervisor`.
    pub log_id: String,
    /// Every entry of the log, in order (`entries[i].seq == i`).
    pub entries: Vec<AuditEntry>,
    /// The leaf hash of every entry as signed (lets a verifier name the first tampered entry).
    pub leaf_hashes: Vec<Digest32>,
    /// The signed checkpoint (C2SP signed note) over all entries.
    pub checkpoint: String,
    /// Optional inclusion proofs of selected entries against the checkpoint's root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inclusion_proofs: Vec<InclusionExport>,
}

/// An inclusion proof of one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionExport {
    /// The entry's index.
    pub index: u64,
    /// The RFC 6962 audit path, bottom-up, as hex.
    pub proof: Vec<Digest32>,
}

/// A proof that a bundled log extends an earlier signed checkpoint of the same log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyExport {
    /// The bundled log this refers to; its checkpoint is the new tree head.
    pub log_id: String,
    /// The earlier signed checkpoint (old tree head).
    pub old_checkpoint: String,
    /// The RFC 6962 consistency proof from the old size to the bundled size.
    pub proof: Vec<Digest32>,
}

/// What a successful verification covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Logs verified.
    pub logs: usize,
    /// Entries re-hashed and matched against signed leaf hashes.
    pub entries: u64,
    /// Signed checkpoints verified (log checkpoints and old checkpoints).
    pub signatures: usize,
    /// Inclusion proofs verified.
    pub inclusion_proofs: usize,
    /// Consistency proofs verified.
    pub consistency_proofs: usize,
    /// Session logs proven committed by the hypervisor log.
    #[serde(default)]
    pub anchors: usize,
}

/// The first problem found in a bundle (or while building one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The bundle's version is not between [`OLDEST_READABLE_BUNDLE_VERSION`] and
    /// [`BUNDLE_VERSION`].
    #[error(
        "bundle version {found} is not supported; expected {OLDEST_READABLE_BUNDLE_VERSION} to {BUNDLE_VERSION}"
    )]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The bundle origin is invalid.
    #[error("bundle origin is invalid: {0}")]
    BadOrigin(#[source] CheckpointError),
    /// The bundled verifier key is malformed.
    #[error("bundle public key is invalid: {0}")]
    BadPublicKey(#[source] NoteError),
    /// The bundled key is not the key the verifier trusts.
    #[error("bundle is signed by key `{found}`, not by the trusted key")]
    UntrustedKey {
        /// The bundled vkey.
        found: String,
    },
    /// A log id is unusable in an origin (empty, spaces, `+`, control characters, too long).
    #[error("log id `{log_id}` is invalid")]
    BadLogId {
        /// The offending id (escaped, shortened).
        log_id: String,
    },
    /// Two logs share an id.
    #[error("log `{log_id}` appears twice")]
    DuplicateLog {
        /// The repeated id.
        log_id: String,
    },
    /// The log's checkpoint has no valid signature from the bundle key.
    #[error("checkpoint of log `{log_id}` is not validly signed: {source}")]
    BadSignature {
        /// The log.
        log_id: String,
        /// Why.
        source: CheckpointError,
    },
    /// The log's checkpoint is malformed (or could not be built).
    #[error("checkpoint of log `{log_id}` is malformed: {source}")]
    BadCheckpoint {
        /// The log.
        log_id: String,
        /// Why.
        source: CheckpointError,
    },
    /// The checkpoint belongs to a different log.
    #[error("checkpoint of log `{log_id}` has origin `{found}`, expected `{expected}`")]
    OriginMismatch {
        /// The log.
        log_id: String,
        /// `<bundle origin>/<log id>`.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// Entry count, leaf hash count and signed size disagree.
    #[error(
        "log `{log_id}` has {entries} entries and {leaf_hashes} leaf hashes but its checkpoint says {checkpoint_size}"
    )]
    SizeMismatch {
        /// The log.
        log_id: String,
        /// Entries present.
        entries: usize,
        /// Leaf hashes present.
        leaf_hashes: usize,
        /// Size in the signed checkpoint.
        checkpoint_size: u64,
    },
    /// The bundled leaf hashes do not produce the signed root (the hash list was altered).
    #[error("leaf hashes of log `{log_id}` do not match its signed root")]
    LeafHashesMismatch {
        /// The log.
        log_id: String,
    },
    /// An entry is not what was signed: its hash differs from the signed leaf hash.
    #[error("entry {index} of log `{log_id}` does not match its signed hash")]
    EntryMismatch {
        /// The log.
        log_id: String,
        /// Index of the first entry that differs.
        index: u64,
    },
    /// An entry's `seq` is not its position in the log.
    #[error("entry {index} of log `{log_id}` has seq {seq}")]
    SeqMismatch {
        /// The log.
        log_id: String,
        /// Its position.
        index: u64,
        /// Its `seq` field.
        seq: u64,
    },
    /// An inclusion proof does not verify (or could not be built).
    #[error("inclusion proof of entry {index} of log `{log_id}` is invalid: {source}")]
    BadProof {
        /// The log.
        log_id: String,
        /// The entry index the proof is for.
        index: u64,
        /// Why.
        source: ProofError,
    },
    /// A consistency item names a log that is not in the bundle.
    #[error("consistency item {item} refers to unknown log `{log_id}`")]
    UnknownLog {
        /// 0-based position in `consistency`.
        item: usize,
        /// The id it names.
        log_id: String,
    },
    /// A consistency item's old checkpoint is unsigned, malformed or of another log.
    #[error("old checkpoint of consistency item {item} (log `{log_id}`) is invalid: {why}")]
    BadOldCheckpoint {
        /// 0-based position in `consistency`.
        item: usize,
        /// The log.
        log_id: String,
        /// Why.
        why: String,
    },
    /// A consistency proof could not be built (e.g. the old checkpoint is larger than the log).
    #[error("cannot prove consistency of log `{log_id}`: {source}")]
    CannotProve {
        /// The log.
        log_id: String,
        /// Why.
        source: ProofError,
    },
    /// A consistency proof does not verify.
    #[error("consistency proof of item {item} (log `{log_id}`) is invalid: {source}")]
    BadConsistency {
        /// 0-based position in `consistency`.
        item: usize,
        /// The log.
        log_id: String,
        /// Why.
        source: ProofError,
    },
    /// An anchor does not prove that the hypervisor log committed its session log.
    #[error("anchor {item} (log `{log_id}`) is invalid: {why}")]
    BadAnchor {
        /// 0-based position in `anchors`.
        item: usize,
        /// The session log it names.
        log_id: String,
        /// Why.
        why: String,
    },
}

/// The checkpoint origin of log `log_id` under the operator `origin`: `<origin>/<log id>`.
pub fn log_origin(origin: &str, log_id: &str) -> String {
    format!("{origin}/{log_id}")
}

fn checked_log_origin(origin: &str, log_id: &str) -> Result<String, BundleError> {
    let o = log_origin(origin, log_id);
    if log_id.is_empty() || checkpoint::check_origin(&o).is_err() {
        return Err(BundleError::BadLogId {
            log_id: log_id
                .chars()
                .take(80)
                .collect::<String>()
                .escape_debug()
                .to_string(),
        });
    }
    Ok(o)
}

impl AuditBundle {
    /// An empty bundle for `origin`, declaring `signer` as the key that signs its checkpoints.
    pub fn new(origin: &str, signer: &NoteVerifier) -> Result<Self, BundleError> {
        checkpoint::check_origin(origin).map_err(BundleError::BadOrigin)?;
        Ok(AuditBundle {
            version: BUNDLE_VERSION,
            origin: origin.to_owned(),
            public_key: signer.to_vkey(),
            logs: Vec::new(),
            consistency: Vec::new(),
            anchors: Vec::new(),
        })
    }
}

impl LogExport {
    /// Exports a whole log: hashes `entries`, signs a checkpoint over them with origin
    /// `<origin>/<log id>`, and adds inclusion proofs for the indices in `prove`.
    pub fn build(
        origin: &str,
        log_id: &str,
        entries: Vec<AuditEntry>,
        key: &SigningKey,
        key_name: &str,
        prove: &[u64],
    ) -> Result<Self, BundleError> {
        let leaf_hashes: Vec<Digest32> = entries.iter().map(AuditEntry::leaf_hash).collect();
        Self::build_with_hashes(origin, log_id, entries, leaf_hashes, key, key_name, prove)
    }

    /// Like [`LogExport::build`], with the entries' leaf hashes as the exporter's log already
    /// holds them, so a large log is not hashed again while it is being read (a verifier
    /// recomputes them anyway). `leaf_hashes` must have one hash per entry.
    pub fn build_with_hashes(
        origin: &str,
        log_id: &str,
        entries: Vec<AuditEntry>,
        leaf_hashes: Vec<Digest32>,
        key: &SigningKey,
        key_name: &str,
        prove: &[u64],
    ) -> Result<Self, BundleError> {
        let cp_origin = checked_log_origin(origin, log_id)?;
        let size = u64::try_from(leaf_hashes.len()).unwrap_or(u64::MAX);
        if entries.len() != leaf_hashes.len() {
            return Err(BundleError::SizeMismatch {
                log_id: log_id.to_owned(),
                entries: entries.len(),
                leaf_hashes: leaf_hashes.len(),
                checkpoint_size: size,
            });
        }
        let bad_cp = |source| BundleError::BadCheckpoint {
            log_id: log_id.to_owned(),
            source,
        };
        let note = Checkpoint::new(&cp_origin, size, merkle::root(&leaf_hashes))
            .and_then(|cp| cp.sign(key, key_name))
            .map_err(bad_cp)?;
        let inclusion_proofs = prove
            .iter()
            .map(|&index| {
                merkle::inclusion_proof(&leaf_hashes, index)
                    .map(|proof| InclusionExport { index, proof })
                    .map_err(|source| BundleError::BadProof {
                        log_id: log_id.to_owned(),
                        index,
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LogExport {
            log_id: log_id.to_owned(),
            entries,
            leaf_hashes,
            checkpoint: note.to_string(),
            inclusion_proofs,
        })
    }
}

impl ConsistencyExport {
    /// Proves that the log with leaf hashes `leaves` extends `old_checkpoint` (a signed note
    /// published earlier for the same log). The old checkpoint is read, not verified, here.
    pub fn build(
        log_id: &str,
        old_checkpoint: &str,
        leaves: &[Digest32],
    ) -> Result<Self, BundleError> {
        let bad_cp = |source| BundleError::BadCheckpoint {
            log_id: log_id.to_owned(),
            source,
        };
        let note =
            SignedNote::parse(old_checkpoint).map_err(|e| bad_cp(CheckpointError::Note(e)))?;
        let old = Checkpoint::parse_body(note.text()).map_err(bad_cp)?;
        let proof = merkle::consistency_proof(leaves, old.size).map_err(|source| {
            BundleError::CannotProve {
                log_id: log_id.to_owned(),
                source,
            }
        })?;
        Ok(ConsistencyExport {
            log_id: log_id.to_owned(),
            old_checkpoint: old_checkpoint.to_owned(),
            proof,
        })
    }
}

/// Verifies a bundle with the key it carries (see the module docs for what that proves).
pub fn verify_bundle(bundle: &AuditBundle) -> Result<VerifyReport, BundleError> {
    check_version(bundle)?;
    let verifier = NoteVerifier::parse(&bundle.public_key).map_err(BundleError::BadPublicKey)?;
    verify_inner(bundle, &verifier)
}

/// Verifies a bundle and that it is signed by `trusted`, the operator's key obtained out of band.
pub fn verify_bundle_with_key(
    bundle: &AuditBundle,
    trusted: &NoteVerifier,
) -> Result<VerifyReport, BundleError> {
    check_version(bundle)?;
    let bundled = NoteVerifier::parse(&bundle.public_key).map_err(BundleError::BadPublicKey)?;
    if bundled != *trusted {
        return Err(BundleError::UntrustedKey {
            found: bundle.public_key.chars().take(200).collect(),
        });
    }
    verify_inner(bundle, trusted)
}

fn check_version(bundle: &AuditBundle) -> Result<(), BundleError> {
    if (OLDEST_READABLE_BUNDLE_VERSION..=BUNDLE_VERSION).contains(&bundle.version) {
        Ok(())
    } else {
        Err(BundleError::UnsupportedVersion {
            found: bundle.version,
        })
    }
}

fn verify_inner(
    bundle: &AuditBundle,
    verifier: &NoteVerifier,
) -> Result<VerifyReport, BundleError> {
    checkpoint::check_origin(&bundle.origin).map_err(BundleError::BadOrigin)?;
    let mut report = VerifyReport::default();
    let mut heads: Vec<(&str, Checkpoint)> = Vec::with_capacity(bundle.logs.len());
    for log in &bundle.logs {
        if heads.iter().any(|(id, _)| *id == log.log_id) {
            return Err(BundleError::DuplicateLog {
                log_id: log.log_id.clone(),
            });
        }
        let cp = verify_log(bundle, log, verifier, &mut report)?;
        heads.push((&log.log_id, cp));
    }
    let checked: Vec<CheckedLog<'_>> = bundle
        .logs
        .iter()
        .map(|l| CheckedLog {
            log_id: &l.log_id,
            leaf_hashes: &l.leaf_hashes,
        })
        .collect();
    for (item, a) in bundle.anchors.iter().enumerate() {
        let hv = verify_anchor(&bundle.origin, item, a, &checked, verifier)?;
        report.signatures += 1;
        report.anchors += 1;
        // Without the hypervisor log itself, the first anchor's checkpoint is its head: a
        // consistency item can prove that head extends an earlier (e.g. witnessed) checkpoint.
        if !heads.iter().any(|(id, _)| *id == HYPERVISOR_LOG) {
            heads.push((HYPERVISOR_LOG, hv));
        }
    }
    for (item, c) in bundle.consistency.iter().enumerate() {
        let Some((_, new)) = heads.iter().find(|(id, _)| *id == c.log_id) else {
            return Err(BundleError::UnknownLog {
                item,
                log_id: c.log_id.clone(),
            });
        };
        let bad_old = |why: String| BundleError::BadOldCheckpoint {
            item,
            log_id: c.log_id.clone(),
            why,
        };
        let old = checkpoint::verify_with(&c.old_checkpoint, verifier)
            .map_err(|e| bad_old(e.to_string()))?;
        report.signatures += 1;
        if old.origin != new.origin {
            return Err(bad_old(format!(
                "origin `{}` is not `{}`",
                old.origin, new.origin
            )));
        }
        merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &c.proof).map_err(
            |source| BundleError::BadConsistency {
                item,
                log_id: c.log_id.clone(),
                source,
            },
        )?;
        report.consistency_proofs += 1;
    }
    Ok(report)
}

/// Verifies one log and returns its signed checkpoint.
fn verify_log(
    bundle: &AuditBundle,
    log: &LogExport,
    verifier: &NoteVerifier,
    report: &mut VerifyReport,
) -> Result<Checkpoint, BundleError> {
    let log_id = || log.log_id.clone();
    let expected = checked_log_origin(&bundle.origin, &log.log_id)?;
    let cp = checkpoint::verify_with(&log.checkpoint, verifier).map_err(|source| match source {
        CheckpointError::Note(_) => BundleError::BadSignature {
            log_id: log_id(),
            source,
        },
        _ => BundleError::BadCheckpoint {
            log_id: log_id(),
            source,
        },
    })?;
    report.signatures += 1;
    if cp.origin != expected {
        return Err(BundleError::OriginMismatch {
            log_id: log_id(),
            expected,
            found: cp.origin,
        });
    }
    let size_ok = |n: usize| u64::try_from(n).is_ok_and(|n| n == cp.size);
    if !size_ok(log.entries.len()) || !size_ok(log.leaf_hashes.len()) {
        return Err(BundleError::SizeMismatch {
            log_id: log_id(),
            entries: log.entries.len(),
            leaf_hashes: log.leaf_hashes.len(),
            checkpoint_size: cp.size,
        });
    }
    if merkle::root(&log.leaf_hashes) != cp.root {
        return Err(BundleError::LeafHashesMismatch { log_id: log_id() });
    }
    for (index, (entry, signed)) in (0u64..).zip(log.entries.iter().zip(&log.leaf_hashes)) {
        if entry.leaf_hash() != *signed {
            return Err(BundleError::EntryMismatch {
                log_id: log_id(),
                index,
            });
        }
        if entry.seq != index {
            return Err(BundleError::SeqMismatch {
                log_id: log_id(),
                index,
                seq: entry.seq,
            });
        }
        report.entries += 1;
    }
    for p in &log.inclusion_proofs {
        let bad = |source| BundleError::BadProof {
            log_id: log_id(),
            index: p.index,
            source,
        };
        let leaf = usize::try_from(p.index)
            .ok()
            .and_then(|i| log.entries.get(i))
            .ok_or(bad(ProofError::IndexOutOfRange {
                index: p.index,
                size: cp.size,
            }))?;
        merkle::verify_inclusion(&leaf.leaf_hash(), p.index, cp.size, &p.proof, &cp.root)
            .map_err(bad)?;
        report.inclusion_proofs += 1;
    }
    report.logs += 1;
    Ok(cp)
}

#[cfg(test)]
mod tests;
