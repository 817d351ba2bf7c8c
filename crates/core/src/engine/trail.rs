//! An audit trail: a Merkle log of leaf hashes plus the entries themselves (the newest ones in
//! memory; older entries stay provable by their leaf hashes and live in the store).
//!
//! Appending never fails: an entry whose reason or detail is over the audit limits is recorded
//! with the oversized part replaced by its SHA-256, so an action can never escape the log by
//! being large. Nor can one escape it by filling it: the engine refuses new work in a session
//! whose trail is nearly full and keeps the rest for closing it (see `engine::audit_room`).

use serde::{Deserialize, Serialize};

use crate::audit::detail::Detail;
use crate::audit::digest::Digest32;
use crate::audit::entry::{AuditEntry, Decision, MAX_REASON_LEN};
use crate::audit::log::{DEFAULT_MAX_LEAVES, LogError, MerkleLog};
use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

mod chunks;

use chunks::EntryChunks;

/// `max_leaves` as an in-memory entry count.
fn entries_for(max_leaves: u64) -> usize {
    usize::try_from(max_leaves).unwrap_or(usize::MAX)
}

/// Largest scratch buffer kept between appends, in bytes (a huge entry does not pin memory).
const SCRATCH_KEEP: usize = 16 * 1024;

/// One append-only, provable log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditTrail {
    log_id: String,
    log: MerkleLog,
    /// The newest entries, in shared chunks (cheap to copy for a snapshot);
    /// `entries.get(0).seq == first_seq`.
    entries: EntryChunks,
    first_seq: u64,
    max_entries: usize,
    /// Scratch buffer for the canonical encoding of the entry being appended (not state).
    #[serde(skip)]
    scratch: String,
}

impl AuditTrail {
    /// An empty trail named `log_id`, keeping at most `max_entries` entries in memory, with the
    /// default capacity of its Merkle log.
    pub fn new(log_id: &str, max_entries: usize) -> Self {
        Self::with_max_leaves(log_id, max_entries, DEFAULT_MAX_LEAVES)
    }

    /// As [`AuditTrail::new`], holding at most `max_leaves` entries in all (at least 1). The
    /// engine refuses new work in a session whose trail is nearly full (see
    /// `engine::audit_room`), so no action ever goes unrecorded.
    pub fn with_max_leaves(log_id: &str, max_entries: usize, max_leaves: u64) -> Self {
        let log = MerkleLog::with_max_leaves(max_leaves.max(1)).unwrap_or_default();
        AuditTrail {
            log_id: log_id.to_string(),
            log,
            entries: EntryChunks::default(),
            first_seq: 0,
            max_entries: max_entries.max(1),
            scratch: String::new(),
        }
    }

    /// The log's name (a session id or `hypervisor`).
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Appends an entry and returns its index.
    #[allow(clippy::too_many_arguments)] // one argument per entry field keeps call sites explicit
    pub fn append(
        &mut self,
        at: Timestamp,
        session_id: Option<&SessionId>,
        agent_did: Option<&AgentDid>,
        kind: &'static str,
        decision: Decision,
        reason: &str,
        detail: impl Into<Detail>,
    ) -> u64 {
        let mut entry = AuditEntry {
            seq: self.log.len(),
            at,
            session_id: session_id.cloned(),
            agent_did: agent_did.cloned(),
            kind: kind.into(),
            decision,
            reason: reason.to_string(),
            detail: detail.into(),
        };
        // One encoding validates and hashes the entry; only an invalid entry is encoded again.
        let leaf = match entry.checked_leaf_hash(&mut self.scratch) {
            Ok(leaf) => Ok(leaf),
            Err(_) => {
                sanitize(&mut entry);
                entry.checked_leaf_hash(&mut self.scratch)
            }
        };
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = String::new();
        }
        let appended = match leaf {
            Ok(leaf) => self.log.append_leaf_hash(leaf),
            Err(e) => Err(LogError::BadEntry(e)),
        };
        match appended {
            Ok(seq) => {
                self.entries.push_back(entry);
                while self.entries.len() > self.max_entries {
                    self.entries.pop_front();
                    self.first_seq += 1;
                }
                seq
            }
            // Only reachable if the log is at its capacity, which the engine's admission check
            // (`engine::audit_room`) keeps a reserve below: nothing left to record into.
            Err(LogError::Full { .. }) | Err(_) => self.log.len(),
        }
    }

    /// Number of entries ever appended (the tree size).
    pub fn len(&self) -> u64 {
        self.log.len()
    }

    /// How many entries the trail accepts in all.
    pub fn capacity(&self) -> u64 {
        self.log.max_leaves()
    }

    /// A trail that keeps every one of its at most `max_leaves` entries in memory: the
    /// hypervisor log, which every export bundle carries whole.
    pub fn keeping_all(log_id: &str, max_leaves: u64) -> Self {
        Self::with_max_leaves(log_id, entries_for(max_leaves), max_leaves)
    }

    /// Changes how many entries a trail made by [`AuditTrail::keeping_all`] accepts, still
    /// keeping all of them; refused (and nothing changed) below the entries it holds.
    pub fn set_capacity_keeping_all(&mut self, max_leaves: u64) -> Result<(), LogError> {
        self.log.set_max_leaves(max_leaves)?;
        self.max_entries = self.max_entries.max(entries_for(max_leaves));
        Ok(())
    }

    /// How many more entries the trail accepts before it is full.
    pub fn room(&self) -> u64 {
        self.log.max_leaves().saturating_sub(self.log.len())
    }

    /// Whether nothing was ever appended.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// The current Merkle root.
    pub fn root(&self) -> Digest32 {
        self.log.root()
    }

    /// The Merkle log itself (proofs, roots at past sizes).
    pub fn log(&self) -> &MerkleLog {
        &self.log
    }

    /// The entry at `seq`, if still held in memory.
    pub fn entry(&self, seq: u64) -> Option<&AuditEntry> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.entries.get(i)
    }

    /// Up to `limit` entries from `from` on, that are still in memory.
    pub fn entries(&self, from: u64, limit: usize) -> Vec<&AuditEntry> {
        let start = from.saturating_sub(self.first_seq);
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        self.entries.iter_from(start).take(limit).collect()
    }

    /// Sequence number of the oldest entry held in memory.
    pub fn first_held(&self) -> u64 {
        self.first_seq
    }
}

/// Replaces an oversized reason or detail by a digest so the entry fits the audit limits.
fn sanitize(entry: &mut AuditEntry) {
    if entry.reason.len() > MAX_REASON_LEN {
        let digest = Digest32::sha256(entry.reason.as_bytes()).to_hex();
        let mut cut = 512;
        while !entry.reason.is_char_boundary(cut) {
            cut -= 1;
        }
        entry.reason = format!("{}… (truncated, sha256 {digest})", &entry.reason[..cut]);
    }
    if entry.validate().is_err() {
        let text = entry.detail.as_str();
        entry.detail = crate::detail! {
            "bytes": text.len(),
            "sha256": Digest32::sha256(text.as_bytes()).to_hex(),
            "truncated": true,
        };
    }
    if entry.validate().is_err() {
        entry.kind = "invalid.kind".into();
    }
}
