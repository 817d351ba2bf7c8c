//! The in-memory entries of an audit trail, in shared chunks.
//!
//! Why this exists: a snapshot copies the whole engine while every command waits, and the
//! engine holds up to a million audit entries per session. In chunks of [`CHUNK`] entries behind
//! reference counts, a copy costs one count per chunk; the copy and the live trail share every
//! full chunk, and the first append after a copy duplicates only the last, partial one.
//!
//! Serialized as a plain sequence of entries, exactly as the `VecDeque` it replaces.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::audit::entry::AuditEntry;

/// Entries per chunk.
const CHUNK: usize = 1024;

/// A queue of entries: append at the back, drop from the front, index in O(1).
#[derive(Clone, Debug, Default)]
pub(super) struct EntryChunks {
    // INVARIANT: every chunk but the last holds exactly CHUNK entries; entries are never removed
    // from a chunk, only skipped (the first `skip` of the first chunk are dropped).
    chunks: VecDeque<Arc<Vec<AuditEntry>>>,
    /// Entries of the first chunk that were dropped (< CHUNK).
    skip: usize,
    /// Entries held.
    len: usize,
}

impl EntryChunks {
    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends `entry` at the back.
    pub(super) fn push_back(&mut self, entry: AuditEntry) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(entry);
                self.chunks.push_back(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    /// Drops the oldest entry, if any.
    pub(super) fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.skip += 1;
        if self.chunks.front().is_some_and(|c| self.skip >= c.len()) {
            self.chunks.pop_front();
            self.skip = 0;
        }
    }

    /// The `i`-th entry held (0 is the oldest).
    pub(super) fn get(&self, i: usize) -> Option<&AuditEntry> {
        if i >= self.len {
            return None;
        }
        let at = i.checked_add(self.skip)?;
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)
    }

    /// The entries held from the `start`-th on, oldest first.
    pub(super) fn iter_from(&self, start: usize) -> impl Iterator<Item = &AuditEntry> {
        (start..self.len).map_while(move |i| self.get(i))
    }
}

impl Serialize for EntryChunks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter_from(0))
    }
}

impl<'de> Deserialize<'de> for EntryChunks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<AuditEntry>::deserialize(deserializer)?;
        let mut out = EntryChunks::default();
        for e in entries {
            out.push_back(e);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::Decision;
    use crate::time::Timestamp;

    fn entry(seq: u64) -> AuditEntry {
        AuditEntry {
            seq,
            at: Timestamp::from_secs(seq),
            session_id: None,
            agent_did: None,
            kind: "test.entry".into(),
            decision: Decision::Allowed,
            reason: format!("r{seq}"),
            detail: Default::default(),
        }
    }

    /// The reference behaviour: a `VecDeque` with the same pushes and pops.
    fn check(c: &EntryChunks, model: &VecDeque<AuditEntry>) {
        assert_eq!(c.len(), model.len());
        let seqs: Vec<u64> = c.iter_from(0).map(|e| e.seq).collect();
        let want: Vec<u64> = model.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, want);
        for i in [
            0,
            model.len() / 2,
            model.len().saturating_sub(1),
            model.len(),
        ] {
            assert_eq!(c.get(i).map(|e| e.seq), model.get(i).map(|e| e.seq));
        }
    }

    #[test]
    fn behaves_like_a_deque_across_chunk_boundaries() {
        let (mut c, mut model) = (EntryChunks::default(), VecDeque::new());
        // Grow past three chunks, then keep a window of 1,500 (drops cross chunk boundaries).
        for seq in 0..5_000u64 {
            c.push_back(entry(seq));
            model.push_back(entry(seq));
            while model.len() > 1_500 {
                c.pop_front();
                model.pop_front();
            }
            if seq % 997 == 0 {
                check(&c, &model);
            }
        }
        check(&c, &model);
        assert_eq!(c.iter_from(1_499).count(), 1);
        assert_eq!(c.iter_from(2_000).count(), 0);
        while !model.is_empty() {
            c.pop_front();
            model.pop_front();
        }
        check(&c, &model);
        c.pop_front();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_copy_shares_full_chunks_and_diverges_safely() {
        let mut c = EntryChunks::default();
        for s in 0..(2 * CHUNK as u64 + 10) {
            c.push_back(entry(s));
        }
        let copy = c.clone();
        assert!(Arc::ptr_eq(&c.chunks[0], &copy.chunks[0]));
        c.push_back(entry(9_999));
        c.pop_front();
        assert_eq!(copy.len(), 2 * CHUNK + 10);
        assert_eq!(copy.get(0).map(|e| e.seq), Some(0));
        assert_eq!(
            copy.iter_from(0).last().map(|e| e.seq),
            Some(2 * CHUNK as u64 + 9)
        );
        assert_eq!(c.iter_from(0).last().map(|e| e.seq), Some(9_999));
    }

    #[test]
    fn serializes_as_a_plain_sequence() {
        let mut c = EntryChunks::default();
        let mut model = VecDeque::new();
        for s in 0..1_100 {
            c.push_back(entry(s));
            model.push_back(entry(s));
        }
        c.pop_front();
        model.pop_front();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text, serde_json::to_string(&model).unwrap());
        let back: EntryChunks = serde_json::from_str(&text).unwrap();
        check(&back, &model);
    }
}
