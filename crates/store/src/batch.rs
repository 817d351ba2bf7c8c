//! What the group-commit writer hands a backend: commands with their events, already encoded.

use crate::err::{Result, StoreError};

/// One logged command, encoded, with the events it produced.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Log position (1-based, gap-free).
    pub(crate) pos: u64,
    /// When the command was applied (ms since epoch), for people reading the database.
    pub(crate) at_ms: i64,
    /// The `LoggedCommand` as JSON.
    pub(crate) json: String,
    /// Its events.
    pub(crate) events: Vec<EventRow>,
}

/// One numbered event, encoded.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    /// Global sequence number.
    pub(crate) seq: u64,
    /// When it happened (ms since epoch).
    pub(crate) at_ms: i64,
    /// The `Event` as JSON (the sequence and id are rebuilt from `seq`).
    pub(crate) json: String,
}

/// The oldest event sequence to keep after a batch whose newest event is `max_seq`, or `None`
/// when nothing needs pruning.
pub(crate) fn prune_below(batch: &[Entry], retention: u64) -> Option<u64> {
    let max_seq = batch
        .iter()
        .flat_map(|e| e.events.iter().map(|r| r.seq))
        .max()?;
    let keep_from = max_seq.saturating_sub(retention.max(1)) + 1;
    (keep_from > 1).then_some(keep_from)
}

/// A position or sequence as a database integer.
pub(crate) fn to_db(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Encode(format!("position {v} is too large")))
}

/// A database integer as a position or sequence.
pub(crate) fn from_db(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative position {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seqs: &[u64]) -> Entry {
        let events = seqs
            .iter()
            .map(|&seq| EventRow {
                seq,
                at_ms: 0,
                json: "{}".into(),
            })
            .collect();
        Entry {
            pos: 1,
            at_ms: 0,
            json: "{}".into(),
            events,
        }
    }

    #[test]
    fn prunes_only_beyond_the_retention() {
        assert_eq!(prune_below(&[entry(&[1, 2, 3])], 5), None);
        assert_eq!(prune_below(&[entry(&[1, 2, 3])], 3), None);
        assert_eq!(prune_below(&[entry(&[1, 2]), entry(&[3, 4])], 3), Some(2));
        assert_eq!(prune_below(&[entry(&[])], 3), None);
        assert_eq!(prune_below(&[entry(&[10])], 0), Some(10));
    }

    #[test]
    fn integers_convert_both_ways_or_fail_clearly() {
        assert_eq!(to_db(5).unwrap(), 5);
        assert!(to_db(u64::MAX).is_err());
        assert!(
            from_db(-1)
                .unwrap_err()
                .to_string()
                .contains("negative position -1")
        );
    }
}
