//! An append-only Merkle log of leaf hashes with an incremental root.
//!
//! Why this exists: the reference recomputed its whole tree on every query and kept its deltas in
//! an unbounded list. [`MerkleLog`] keeps the leaf hashes (needed to build proofs for any past
//! size) plus a compact *frontier*: the roots of the perfect subtrees that make up the current
//! tree, one per set bit of its size. The frontier is brought up to date lazily, when a root is
//! asked for: `append` hashes nothing beyond its leaf, and every leaf is folded in once, so a
//! root costs O(log n) hashes plus one node hash per leaf appended since the last root.
//!
//! Memory bound: 32 bytes per entry for the leaf hashes plus at most 64 frontier nodes, and the
//! log refuses appends beyond its `max_leaves` (default [`DEFAULT_MAX_LEAVES`], i.e. 32 MiB of
//! hashes). The entries themselves are not stored here; the runtime persists them. The capacity
//! may change ([`MerkleLog::set_max_leaves`]) but never below what the log holds. A full log
//! fails closed: the caller must not perform an action it cannot record.

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::audit::digest::Digest32;
use crate::audit::entry::{AuditEntry, EntryError};
use crate::audit::merkle::{self, ProofError};

/// Default cap on the number of leaves in one log (2^20 ≈ 1M entries, 32 MiB of hashes).
pub const DEFAULT_MAX_LEAVES: u64 = 1 << 20;

/// Why a log operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The log already holds its maximum number of leaves.
    #[error("audit log is full at {max} entries; raise its capacity or start a new log")]
    Full {
        /// The configured maximum.
        max: u64,
    },
    /// A requested tree size is larger than the log.
    #[error("tree size {size} is larger than the log ({len} entries)")]
    SizeOutOfRange {
        /// The requested size.
        size: u64,
        /// The current length.
        len: u64,
    },
    /// The configured capacity is zero.
    #[error("audit log capacity must be at least 1")]
    ZeroCapacity,
    /// A deserialized log holds more leaves than its capacity allows.
    #[error("audit log holds {len} entries but its capacity is {max}")]
    OverCapacity {
        /// Leaves present.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The entry failed validation.
    #[error(transparent)]
    BadEntry(#[from] EntryError),
    /// The entry's `seq` is not the next index of the log.
    #[error("entry seq {found} is not the next log index {expected}")]
    SeqMismatch {
        /// The next index of the log.
        expected: u64,
        /// The entry's seq.
        found: u64,
    },
}

/// An append-only log of Merkle leaf hashes.
///
/// Serialized as `{ "max_leaves": …, "leaves": ["hex", …] }`; the frontier is rebuilt (and so
/// re-derived from the leaves, never trusted) on deserialization.
pub struct MerkleLog {
    max_leaves: u64,
    leaves: Vec<Digest32>,
    // INVARIANT: `frontier` holds the roots of the maximal perfect subtrees of the first `folded`
    // leaves, left to right, as (height, root) with strictly decreasing heights; the heights are
    // exactly the set bits of `folded`, and `folded <= leaves.len()`. A cache: `root` takes it
    // out, folds in the newer leaves and puts it back, so it needs no `&mut self`.
    frontier: Cell<Vec<(u32, Digest32)>>,
    folded: Cell<usize>,
}

impl Clone for MerkleLog {
    fn clone(&self) -> Self {
        let frontier = self.frontier.take();
        let copy = frontier.clone();
        self.frontier.set(frontier);
        MerkleLog {
            max_leaves: self.max_leaves,
            leaves: self.leaves.clone(),
            frontier: Cell::new(copy),
            folded: Cell::new(self.folded.get()),
        }
    }
}

impl fmt::Debug for MerkleLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleLog")
            .field("max_leaves", &self.max_leaves)
            .field("len", &self.leaves.len())
            .finish_non_exhaustive()
    }
}

impl Default for MerkleLog {
    fn default() -> Self {
        Self::new()
    }
}

impl MerkleLog {
    /// An empty log with the default capacity.
    pub fn new() -> Self {
        MerkleLog {
            max_leaves: DEFAULT_MAX_LEAVES,
            leaves: Vec::new(),
            frontier: Cell::new(Vec::new()),
            folded: Cell::new(0),
        }
    }

    /// An empty log holding at most `max_leaves` entries.
    pub fn with_max_leaves(max_leaves: u64) -> Result<Self, LogError> {
        if max_leaves == 0 {
            return Err(LogError::ZeroCapacity);
        }
        Ok(MerkleLog {
            max_leaves,
            ..Self::new()
        })
    }

    /// Hashes `entry_bytes` as a leaf (`SHA-256(0x00 ‖ bytes)`), appends it and returns its index.
    pub fn append(&mut self, entry_bytes: &[u8]) -> Result<u64, LogError> {
        self.append_leaf_hash(merkle::leaf_hash(entry_bytes))
    }

    /// Validates `entry`, checks that its `seq` is the next index, and appends its leaf hash.
    /// The caller stores the entry itself (the log keeps only hashes).
    pub fn append_entry(&mut self, entry: &AuditEntry) -> Result<u64, LogError> {
        self.append_entry_with(entry, &mut String::new())
    }

    /// As [`MerkleLog::append_entry`], encoding the entry once into `buf` (a scratch buffer the
    /// caller keeps to avoid an allocation per entry).
    pub fn append_entry_with(
        &mut self,
        entry: &AuditEntry,
        buf: &mut String,
    ) -> Result<u64, LogError> {
        let expected = self.len();
        if entry.seq != expected {
            // Validation errors take precedence, as before.
            entry.validate()?;
            return Err(LogError::SeqMismatch {
                expected,
                found: entry.seq,
            });
        }
        let leaf = entry.checked_leaf_hash(buf)?;
        self.append_leaf_hash(leaf)
    }

    /// Appends an already computed leaf hash (e.g. [`AuditEntry::leaf_hash`]) and returns its
    /// index.
    pub fn append_leaf_hash(&mut self, leaf: Digest32) -> Result<u64, LogError> {
        let index = self.len();
        if index >= self.max_leaves {
            return Err(LogError::Full {
                max: self.max_leaves,
            });
        }
        self.leaves.push(leaf);
        Ok(index)
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        u64::try_from(self.leaves.len()).unwrap_or(u64::MAX)
    }

    /// Whether the log has no entries.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The configured capacity.
    pub fn max_leaves(&self) -> u64 {
        self.max_leaves
    }

    /// Changes the capacity. Refused when `max_leaves` is zero or below the leaves already held
    /// (the log never drops a leaf); the log is unchanged then.
    pub fn set_max_leaves(&mut self, max_leaves: u64) -> Result<(), LogError> {
        if max_leaves == 0 {
            return Err(LogError::ZeroCapacity);
        }
        if max_leaves < self.len() {
            return Err(LogError::OverCapacity {
                len: self.len(),
                max: max_leaves,
            });
        }
        self.max_leaves = max_leaves;
        Ok(())
    }

    /// The current root, from the frontier (see the module docs for the cost).
    pub fn root(&self) -> Digest32 {
        let mut frontier = self.frontier.take();
        let folded = self.folded.get().min(self.leaves.len());
        for leaf in self.leaves.get(folded..).unwrap_or(&[]) {
            push_frontier(&mut frontier, *leaf);
        }
        self.folded.set(self.leaves.len());
        let mut nodes = frontier.iter().rev();
        let root = match nodes.next() {
            None => merkle::empty_root(),
            Some((_, last)) => nodes.fold(*last, |acc, (_, left)| merkle::node_hash(left, &acc)),
        };
        self.frontier.set(frontier);
        root
    }

    /// The root the log had when it held `size` entries. O(size) for past sizes.
    pub fn root_at(&self, size: u64) -> Result<Digest32, LogError> {
        if size == self.len() {
            return Ok(self.root());
        }
        Ok(merkle::root(self.prefix(size)?))
    }

    /// Proof that entry `index` is in the tree of the first `size` entries. O(size).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Digest32>, LogError> {
        Ok(merkle::inclusion_proof(self.prefix(size)?, index)?)
    }

    /// Proof that the tree of the first `old` entries is a prefix of that of the first `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest32>, LogError> {
        Ok(merkle::consistency_proof(self.prefix(new)?, old)?)
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Digest32> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.leaves.get(i))
            .copied()
    }

    /// All leaf hashes, oldest first.
    pub fn leaves(&self) -> &[Digest32] {
        &self.leaves
    }

    fn prefix(&self, size: u64) -> Result<&[Digest32], LogError> {
        usize::try_from(size)
            .ok()
            .and_then(|s| self.leaves.get(..s))
            .ok_or(LogError::SizeOutOfRange {
                size,
                len: self.len(),
            })
    }
}

/// Adds one leaf to a frontier, merging equal-height subtrees (a binary counter increment).
fn push_frontier(frontier: &mut Vec<(u32, Digest32)>, leaf: Digest32) {
    let mut node = (0u32, leaf);
    while let Some(&(height, left)) = frontier.last() {
        if height != node.0 {
            break;
        }
        frontier.pop();
        node = (height + 1, merkle::node_hash(&left, &node.1));
    }
    frontier.push(node);
}

#[derive(Serialize)]
struct LogReprRef<'a> {
    max_leaves: u64,
    leaves: &'a [Digest32],
}

#[derive(Deserialize)]
struct LogRepr {
    max_leaves: u64,
    leaves: Vec<Digest32>,
}

impl Serialize for MerkleLog {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LogReprRef {
            max_leaves: self.max_leaves,
            leaves: &self.leaves,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MerkleLog {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = LogRepr::deserialize(d)?;
        MerkleLog::from_leaves(repr.max_leaves, repr.leaves).map_err(serde::de::Error::custom)
    }
}

impl MerkleLog {
    /// Rebuilds a log from persisted leaf hashes (validating the capacity), recomputing the
    /// frontier in O(n).
    pub fn from_leaves(max_leaves: u64, leaves: Vec<Digest32>) -> Result<Self, LogError> {
        let mut log = Self::with_max_leaves(max_leaves)?;
        let len = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
        if len > max_leaves {
            return Err(LogError::OverCapacity {
                len,
                max: max_leaves,
            });
        }
        log.leaves = leaves;
        // Fold now, so a loaded log is checked and ready (a root costs O(log n) afterwards).
        log.root();
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u64) -> MerkleLog {
        let mut log = MerkleLog::new();
        for i in 0..n {
            assert_eq!(log.append(format!("e{i}").as_bytes()).unwrap(), i);
        }
        log
    }

    #[test]
    fn incremental_root_equals_full_recompute_at_every_size() {
        let mut log = MerkleLog::new();
        assert_eq!(log.root(), merkle::empty_root());
        for i in 0..130u64 {
            log.append(format!("e{i}").as_bytes()).unwrap();
            assert_eq!(log.root(), merkle::root(log.leaves()), "size {}", i + 1);
            let frontier = log.frontier.take();
            assert_eq!(frontier.len(), log.len().count_ones() as usize);
            log.frontier.set(frontier);
        }
    }

    #[test]
    fn lazy_root_after_many_appends_and_clones_is_right() {
        let mut log = filled(3);
        let _ = log.root();
        for i in 3..100u64 {
            log.append(format!("e{i}").as_bytes()).unwrap();
        }
        let copy = log.clone();
        assert_eq!(copy.root(), merkle::root(log.leaves()));
        assert_eq!(log.root(), merkle::root(log.leaves()));
        log.append(b"one more").unwrap();
        assert_eq!(log.root(), merkle::root(log.leaves()));
        assert_ne!(copy.root(), log.root());
    }

    #[test]
    fn past_roots_and_proofs_verify() {
        let log = filled(37);
        for size in 1..=37 {
            let r = log.root_at(size).unwrap();
            for index in [0, size / 2, size - 1] {
                let p = log.inclusion_proof(index, size).unwrap();
                let leaf = log.leaf(index).unwrap();
                merkle::verify_inclusion(&leaf, index, size, &p, &r).unwrap();
            }
            let c = log.consistency_proof(size, 37).unwrap();
            merkle::verify_consistency(size, 37, &r, &log.root(), &c).unwrap();
        }
        assert_eq!(log.root_at(0).unwrap(), merkle::empty_root());
    }

    #[test]
    fn out_of_range_requests_are_refused() {
        let log = filled(5);
        assert_eq!(
            log.root_at(6),
            Err(LogError::SizeOutOfRange { size: 6, len: 5 })
        );
        assert_eq!(
            log.inclusion_proof(5, 5),
            Err(LogError::Proof(ProofError::IndexOutOfRange {
                index: 5,
                size: 5
            }))
        );
        assert!(log.consistency_proof(2, 9).is_err());
        assert!(log.consistency_proof(0, 5).is_err());
        assert_eq!(log.leaf(5), None);
        assert_eq!(log.leaf(u64::MAX), None);
    }

    #[test]
    fn a_full_log_refuses_appends() {
        let mut log = MerkleLog::with_max_leaves(2).unwrap();
        log.append(b"a").unwrap();
        log.append(b"b").unwrap();
        let err = log.append(b"c").unwrap_err();
        assert_eq!(err, LogError::Full { max: 2 });
        assert_eq!(
            err.to_string(),
            "audit log is full at 2 entries; raise its capacity or start a new log"
        );
        assert_eq!(log.len(), 2);
        assert_eq!(
            MerkleLog::with_max_leaves(0).unwrap_err(),
            LogError::ZeroCapacity
        );
    }

    #[test]
    fn capacity_can_be_raised_but_never_below_the_leaves_held() {
        let mut log = MerkleLog::with_max_leaves(2).unwrap();
        log.append(b"a").unwrap();
        log.append(b"b").unwrap();
        let root = log.root();
        assert_eq!(
            log.set_max_leaves(1).unwrap_err(),
            LogError::OverCapacity { len: 2, max: 1 }
        );
        assert_eq!(log.set_max_leaves(0).unwrap_err(), LogError::ZeroCapacity);
        assert_eq!((log.max_leaves(), log.len(), log.root()), (2, 2, root));
        log.set_max_leaves(3).unwrap();
        assert_eq!(log.append(b"c").unwrap(), 2);
        assert_eq!(log.append(b"d").unwrap_err(), LogError::Full { max: 3 });
        // Exactly full is allowed: nothing is dropped.
        log.set_max_leaves(3).unwrap();
    }

    #[test]
    fn append_entry_checks_seq_and_validity() {
        use crate::audit::entry::Decision;
        use crate::time::Timestamp;
        let entry = |seq, kind: &'static str| AuditEntry {
            seq,
            at: Timestamp::from_secs(1),
            session_id: None,
            agent_did: None,
            kind: kind.into(),
            decision: Decision::Allowed,
            reason: String::new(),
            detail: serde_json::Value::Null.into(),
        };
        let mut log = MerkleLog::new();
        assert_eq!(log.append_entry(&entry(0, "a.b")).unwrap(), 0);
        assert_eq!(log.leaf(0), Some(entry(0, "a.b").leaf_hash()));
        assert_eq!(
            log.append_entry(&entry(5, "a.b")),
            Err(LogError::SeqMismatch {
                expected: 1,
                found: 5
            })
        );
        assert!(matches!(
            log.append_entry(&entry(1, "")),
            Err(LogError::BadEntry(_))
        ));
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn serde_round_trip_rebuilds_the_frontier() {
        let log = filled(11);
        let json = serde_json::to_string(&log).unwrap();
        assert!(!json.contains("frontier"));
        let back: MerkleLog = serde_json::from_str(&json).unwrap();
        assert_eq!(back.root(), log.root());
        assert_eq!(back.leaves(), log.leaves());
        let over = r#"{"max_leaves":1,"leaves":["#.to_string()
            + &format!("\"{}\",\"{}\"]}}", log.leaves()[0], log.leaves()[1]);
        assert!(serde_json::from_str::<MerkleLog>(&over).is_err());
    }
}
