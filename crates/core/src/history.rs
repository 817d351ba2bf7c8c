//! Verification of an agent's declared transaction history against the hypervisor's own
//! committed session records.
//!
//! The reference (spec §8, §17 item 19) trusted the agent's self-declared history, checking
//! only its internal consistency, and cached the first verdict per DID forever, so a later,
//! different history was ignored (poisoning in both directions). Here:
//! - a declared record *counts* only if the hypervisor committed a session with that id, the
//!   agent was one of its participants, and the declared summary hash equals that session's
//!   committed Merkle root (hex);
//! - a record that contradicts a committed session (agent not a participant, hash or
//!   participant count mismatch), a duplicate session or hash, a timestamp earlier than the
//!   previous record's, or a malformed hash makes the history **suspicious**;
//! - a record of a session the hypervisor never committed is reported but neither counts nor
//!   condemns (it may come from another deployment);
//! - fewer than [`REQUIRED_HISTORY_DEPTH`] confirmed records gives **probationary**;
//! - nothing is cached: every call verifies the history it is given.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

/// Confirmed transactions needed for `verified`.
pub const REQUIRED_HISTORY_DEPTH: usize = 5;
/// Most declared records examined; a longer history is suspicious.
pub const MAX_DECLARED: usize = 1000;
/// Hex characters of a summary hash (a SHA-256 Merkle root).
pub const HASH_HEX_LEN: usize = 64;

/// One transaction an agent says it took part in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionRecord {
    /// The session.
    pub session_id: SessionId,
    /// The session's summary hash (Merkle root, lowercase hex).
    pub summary_hash: String,
    /// When the transaction happened.
    pub timestamp: Timestamp,
    /// How many agents took part.
    pub participant_count: u32,
}

/// What the hypervisor committed for one session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedSession {
    /// Every agent that took part.
    pub participants: BTreeSet<AgentDid>,
    /// The committed Merkle root, lowercase hex.
    pub root_hex: String,
    /// When the session ended.
    pub terminated_at: Timestamp,
}

/// The verdict on a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Enough confirmed records and nothing contradictory.
    Verified,
    /// Nothing contradictory, but too few confirmed records.
    Probationary,
    /// Something in the history is false or inconsistent.
    Suspicious,
}

/// The result of verifying one history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationResult {
    /// The agent.
    pub agent: AgentDid,
    /// The verdict.
    pub status: VerificationStatus,
    /// Declared records examined.
    pub transactions_checked: usize,
    /// Declared records confirmed by committed sessions.
    pub transactions_found: usize,
    /// Every finding, in record order (may be non-empty for `probationary`).
    pub inconsistencies: Vec<String>,
}

impl VerificationResult {
    /// Verified or probationary (as in the reference).
    pub fn is_trustworthy(&self) -> bool {
        self.status != VerificationStatus::Suspicious
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Verifies `declared` (the agent's history) against `committed` (the hypervisor's records,
/// looked up by session id).
pub fn verify_history(
    agent: &AgentDid,
    declared: &[TransactionRecord],
    committed: &dyn Fn(&SessionId) -> Option<CommittedSession>,
) -> VerificationResult {
    let mut findings = Vec::new();
    let mut suspicious = false;
    if declared.len() > MAX_DECLARED {
        findings.push(format!(
            "History has {} records; at most {MAX_DECLARED} are accepted",
            declared.len()
        ));
        return VerificationResult {
            agent: agent.clone(),
            status: VerificationStatus::Suspicious,
            transactions_checked: 0,
            transactions_found: 0,
            inconsistencies: findings,
        };
    }
    if declared.is_empty() {
        return VerificationResult {
            agent: agent.clone(),
            status: VerificationStatus::Probationary,
            transactions_checked: 0,
            transactions_found: 0,
            inconsistencies: vec!["No transaction history available".to_string()],
        };
    }

    let mut found = 0usize;
    let mut sessions = BTreeSet::new();
    // Latest session seen with each hash (reference wording names it as the previous holder).
    let mut hash_holder: BTreeMap<&str, &SessionId> = BTreeMap::new();
    let mut previous: Option<&TransactionRecord> = None;
    for rec in declared {
        let sid = &rec.session_id;
        let mut bad = Vec::new();
        if !sessions.insert(sid) {
            bad.push(format!("Duplicate session {sid}"));
        }
        if let Some(prev) = hash_holder.insert(rec.summary_hash.as_str(), sid) {
            bad.push(format!("Duplicate hash in sessions {prev} and {sid}"));
        }
        if let Some(p) = previous
            && rec.timestamp < p.timestamp
        {
            bad.push(format!(
                "Non-monotonic timestamps: {sid} predates {}",
                p.session_id
            ));
        }
        previous = Some(rec);
        let well_formed = is_lower_hex(&rec.summary_hash, HASH_HEX_LEN);
        if !well_formed {
            bad.push(format!("Invalid hash in session {sid}"));
        }
        match committed(sid) {
            None => findings.push(format!("Session {sid} is not in the committed records")),
            Some(c) => {
                let mut confirmed = true;
                if !c.participants.contains(agent) {
                    bad.push(format!("Agent {agent} did not take part in session {sid}"));
                    confirmed = false;
                }
                if well_formed && rec.summary_hash != c.root_hex {
                    bad.push(format!("Hash mismatch in session {sid}"));
                    confirmed = false;
                }
                if usize::try_from(rec.participant_count).ok() != Some(c.participants.len()) {
                    bad.push(format!(
                        "Participant count mismatch in session {sid}: declared {}, committed {}",
                        rec.participant_count,
                        c.participants.len()
                    ));
                    confirmed = false;
                }
                // Duplicates and malformed records never count, even if they match.
                if confirmed && well_formed && bad.is_empty() {
                    found += 1;
                }
            }
        }
        suspicious |= !bad.is_empty();
        findings.extend(bad);
    }

    let status = if suspicious {
        VerificationStatus::Suspicious
    } else if found < REQUIRED_HISTORY_DEPTH {
        findings.push(format!(
            "Only {found} confirmed transactions (need {REQUIRED_HISTORY_DEPTH})"
        ));
        VerificationStatus::Probationary
    } else {
        VerificationStatus::Verified
    };
    VerificationResult {
        agent: agent.clone(),
        status,
        transactions_checked: declared.len(),
        transactions_found: found,
        inconsistencies: findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }
    fn sid(i: usize) -> SessionId {
        SessionId::new(format!("session:{i}")).unwrap()
    }
    fn root(i: usize) -> String {
        format!("{i:064x}")
    }

    /// The hypervisor's records: sessions 0..10, each with agents a and b.
    fn store(s: &SessionId) -> Option<CommittedSession> {
        let i: usize = s.as_str().strip_prefix("session:")?.parse().ok()?;
        (i < 10).then(|| CommittedSession {
            participants: [did("a"), did("b")].into_iter().collect(),
            root_hex: root(i),
            terminated_at: Timestamp::from_secs(i as u64),
        })
    }

    fn rec(i: usize) -> TransactionRecord {
        TransactionRecord {
            session_id: sid(i),
            summary_hash: root(i),
            timestamp: Timestamp::from_secs(i as u64),
            participant_count: 2,
        }
    }

    fn history(n: usize) -> Vec<TransactionRecord> {
        (0..n).map(rec).collect()
    }

    #[test]
    fn five_confirmed_records_verify() {
        let r = verify_history(&did("a"), &history(5), &store);
        assert_eq!(r.status, VerificationStatus::Verified);
        assert_eq!((r.transactions_checked, r.transactions_found), (5, 5));
        assert!(r.inconsistencies.is_empty());
        assert!(r.is_trustworthy());
    }

    #[test]
    fn empty_and_short_histories_are_probationary() {
        let r = verify_history(&did("a"), &[], &store);
        assert_eq!(r.status, VerificationStatus::Probationary);
        assert_eq!(r.inconsistencies, vec!["No transaction history available"]);
        let r = verify_history(&did("a"), &history(3), &store);
        assert_eq!(r.status, VerificationStatus::Probationary);
        assert_eq!(
            r.inconsistencies,
            vec!["Only 3 confirmed transactions (need 5)"]
        );
    }

    #[test]
    fn self_declared_history_is_not_trusted_unlike_reference() {
        // Well-formed, consistent, but invented: the reference called this verified.
        let invented: Vec<_> = (100..110)
            .map(|i| TransactionRecord {
                session_id: sid(i),
                summary_hash: root(i),
                timestamp: Timestamp::from_secs(i as u64),
                participant_count: 2,
            })
            .collect();
        let r = verify_history(&did("a"), &invented, &store);
        assert_eq!(r.status, VerificationStatus::Probationary);
        assert_eq!(r.transactions_found, 0);
        assert!(r.inconsistencies[0].contains("is not in the committed records"));
    }

    #[test]
    fn claiming_someone_elses_sessions_is_suspicious() {
        let r = verify_history(&did("mallory"), &history(6), &store);
        assert_eq!(r.status, VerificationStatus::Suspicious);
        assert_eq!(r.transactions_found, 0);
        assert_eq!(
            r.inconsistencies[0],
            "Agent mallory did not take part in session session:0"
        );
    }

    #[test]
    fn hash_and_count_mismatches_are_suspicious() {
        let mut h = history(6);
        h[2].summary_hash = root(99);
        h[3].participant_count = 3;
        let r = verify_history(&did("a"), &h, &store);
        assert_eq!(r.status, VerificationStatus::Suspicious);
        assert_eq!(r.transactions_found, 4);
        assert!(
            r.inconsistencies
                .contains(&"Hash mismatch in session session:2".to_string())
        );
        assert!(r.inconsistencies.contains(
            &"Participant count mismatch in session session:3: declared 3, committed 2".to_string()
        ));
    }

    #[test]
    fn internal_inconsistencies_are_suspicious() {
        let mut h = history(6);
        h[5].timestamp = Timestamp::ZERO;
        let r = verify_history(&did("a"), &h, &store);
        assert_eq!(r.status, VerificationStatus::Suspicious);
        assert_eq!(
            r.inconsistencies,
            vec!["Non-monotonic timestamps: session:5 predates session:4"]
        );

        let mut h = history(6);
        h[4].summary_hash = "short".into();
        let r = verify_history(&did("a"), &h, &store);
        assert_eq!(r.inconsistencies, vec!["Invalid hash in session session:4"]);

        let mut h = history(6);
        h.push(rec(5));
        let r = verify_history(&did("a"), &h, &store);
        assert_eq!(r.status, VerificationStatus::Suspicious);
        assert!(
            r.inconsistencies
                .contains(&"Duplicate session session:5".to_string())
        );
        assert!(
            r.inconsistencies
                .contains(&"Duplicate hash in sessions session:5 and session:5".to_string())
        );
        assert_eq!(r.transactions_found, 6);
    }

    #[test]
    fn no_verdict_is_cached_so_no_poisoning_unlike_reference() {
        // First call with nothing, then with a real history: the reference returned the cached
        // probationary verdict forever; then a false history after a good one.
        let a = did("a");
        assert_eq!(
            verify_history(&a, &[], &store).status,
            VerificationStatus::Probationary
        );
        assert_eq!(
            verify_history(&a, &history(5), &store).status,
            VerificationStatus::Verified
        );
        let mut forged = history(5);
        forged[0].summary_hash = root(42);
        assert_eq!(
            verify_history(&a, &forged, &store).status,
            VerificationStatus::Suspicious
        );
    }

    #[test]
    fn overlong_history_is_refused() {
        let h: Vec<_> = (0..MAX_DECLARED + 1).map(rec).collect();
        let r = verify_history(&did("a"), &h, &store);
        assert_eq!(r.status, VerificationStatus::Suspicious);
        assert_eq!(
            r.inconsistencies,
            vec!["History has 1001 records; at most 1000 are accepted"]
        );
    }
}
