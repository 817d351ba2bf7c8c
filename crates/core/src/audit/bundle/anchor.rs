//! Anchors: proof that a bundled session log is the one whose root the hypervisor log committed
//! when the session ended, without shipping the hypervisor log itself.
//!
//! Why this exists: the hypervisor log has one entry per terminated session, naming its
//! participants. Shipping it whole made a bundle grow with every session ever run and showed an
//! agent who took part in sessions it does not belong to. An anchor carries, as Certificate
//! Transparency does, only the one hypervisor-log entry that committed the session's root, its
//! RFC 6962 inclusion path, and a signed checkpoint of the hypervisor log that the path leads to.

use serde::{Deserialize, Serialize};

use super::{BundleError, HYPERVISOR_LOG, checked_log_origin};
use crate::audit::checkpoint::{self, Checkpoint};
use crate::audit::digest::Digest32;
use crate::audit::entry::{AuditEntry, Decision};
use crate::audit::merkle;
use crate::audit::note::NoteVerifier;

/// The `kind` of the hypervisor-log entry that commits a terminated session's audit root.
pub const SESSION_ROOT_KIND: &str = "session.root";

/// Proof that the hypervisor log committed a bundled session log's root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnchorExport {
    /// The bundled session log this anchors.
    pub log_id: String,
    /// The hypervisor-log entry (kind [`SESSION_ROOT_KIND`]) whose detail holds the session's
    /// `root` (hex) and `tree_size`; its `seq` is its index in the hypervisor log.
    pub entry: AuditEntry,
    /// The RFC 6962 inclusion path of `entry` against `checkpoint`, bottom-up.
    pub proof: Vec<Digest32>,
    /// A signed checkpoint of the hypervisor log (origin `<origin>/hypervisor`).
    pub checkpoint: String,
}

/// A session log as a verifier has checked it: its id and its signed leaf hashes.
pub(super) struct CheckedLog<'a> {
    pub(super) log_id: &'a str,
    pub(super) leaf_hashes: &'a [Digest32],
}

/// Verifies anchor `item` against the verified logs; returns the hypervisor checkpoint it used.
pub(super) fn verify_anchor(
    origin: &str,
    item: usize,
    anchor: &AnchorExport,
    logs: &[CheckedLog<'_>],
    verifier: &NoteVerifier,
) -> Result<Checkpoint, BundleError> {
    let bad = |why: String| BundleError::BadAnchor {
        item,
        log_id: anchor.log_id.chars().take(200).collect(),
        why,
    };
    let log = logs
        .iter()
        .find(|l| l.log_id == anchor.log_id && l.log_id != HYPERVISOR_LOG)
        .ok_or_else(|| bad("it names no bundled session log".into()))?;
    let cp = checkpoint::verify_with(&anchor.checkpoint, verifier)
        .map_err(|e| bad(format!("hypervisor checkpoint: {e}")))?;
    let expected = checked_log_origin(origin, HYPERVISOR_LOG)?;
    if cp.origin != expected {
        return Err(bad(format!(
            "checkpoint origin `{}` is not `{expected}`",
            cp.origin
        )));
    }
    let e = &anchor.entry;
    merkle::verify_inclusion(&e.leaf_hash(), e.seq, cp.size, &anchor.proof, &cp.root).map_err(
        |source| {
            bad(format!(
                "entry {} is not in the signed hypervisor log: {source}",
                e.seq
            ))
        },
    )?;
    let commits_this_log = e.kind == SESSION_ROOT_KIND
        && e.decision == Decision::Allowed
        && e.session_id.as_ref().map(|s| s.as_str()) == Some(log.log_id);
    if !commits_this_log {
        return Err(bad(format!(
            "hypervisor entry {} is a `{}` entry, not the root commitment of this session",
            e.seq, e.kind
        )));
    }
    let size = e
        .detail
        .get("tree_size")
        .and_then(|v| v.as_u64())
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= log.leaf_hashes.len())
        .ok_or_else(|| bad("its tree_size is missing or larger than the bundled log".into()))?;
    let committed = e.detail.get("root");
    let root = log
        .leaf_hashes
        .get(..size)
        .map(merkle::root)
        .ok_or_else(|| bad("its tree_size is larger than the bundled log".into()))?;
    if committed.as_ref().and_then(|v| v.as_str()) != Some(root.to_hex().as_str()) {
        return Err(bad(format!(
            "the committed root is not the root of the bundled log's first {size} entries"
        )));
    }
    Ok(cp)
}

impl AnchorExport {
    /// Anchors session log `log_id` by hypervisor entry `entry`, proven by `proof` against the
    /// signed hypervisor checkpoint `checkpoint`. Checked by the verifier, not here.
    pub fn new(log_id: &str, entry: AuditEntry, proof: Vec<Digest32>, checkpoint: String) -> Self {
        AnchorExport {
            log_id: log_id.to_owned(),
            entry,
            proof,
            checkpoint,
        }
    }
}
