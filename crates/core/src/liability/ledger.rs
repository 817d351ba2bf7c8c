//! The liability ledger: each agent's history of vouches, slashes, quarantines, faults and clean
//! sessions, summarised into a risk score that decides admission to later sessions.
//!
//! Risk (spec §4.6, reference formula kept): starting from 0.0 and in record order, a slash
//! (received or cascaded) adds 0.15 × max(severity, 0.5), a quarantine entry adds
//! 0.10 × max(severity, 0.3), a fault attribution adds 0.05 × severity, a clean session
//! subtracts 0.05, anything else adds 0. The sum is clamped to [0, 1] only at the end. The
//! recommendation is taken from the unrounded clamped value: ≥ 0.6 deny, ≥ 0.3 probation,
//! else admit.
//!
//! The sum and the counters are kept incrementally per agent, so [`Ledger::risk_profile`] is
//! O(log agents) and uses the same f64 order of additions as the reference. Entries are bounded
//! per agent ([`DEFAULT_MAX_ENTRIES_PER_AGENT`], oldest evicted first) but the aggregates keep
//! counting evicted entries: the risk profile always reflects the agent's *whole* history. The
//! number of agents is bounded by the agents ever recorded; [`Ledger::forget`] drops one.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, RecordId, SessionId};
use crate::score::Score;
use crate::time::Timestamp;

/// Entries kept per agent before the oldest are evicted.
pub const DEFAULT_MAX_ENTRIES_PER_AGENT: usize = 1000;
/// Longest `details` text accepted (bytes).
pub const MAX_DETAILS_LEN: usize = 4096;
/// Risk at or above which admission is denied.
pub const DENY_THRESHOLD: f64 = 0.6;
/// Risk at or above which admission is on probation.
pub const PROBATION_THRESHOLD: f64 = 0.3;

/// Why a ledger call was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LedgerError {
    /// `details` is too long.
    #[error("ledger details are {0} bytes long; the limit is {MAX_DETAILS_LEN}")]
    DetailsTooLong(usize),
    /// The agent's history is too risky to admit.
    #[error("risk score {risk:.2} of `{agent}` exceeds threshold ({DENY_THRESHOLD:.2})")]
    RiskTooHigh {
        /// The agent.
        agent: AgentDid,
        /// Its rounded risk score.
        risk: f64,
    },
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerEntryType {
    /// The agent bonded σ for another.
    VouchGiven,
    /// Another agent bonded σ for it.
    VouchReceived,
    /// A bond ended.
    VouchReleased,
    /// It was slashed.
    SlashReceived,
    /// It was slashed in a cascade.
    SlashCascaded,
    /// It was quarantined.
    QuarantineEntered,
    /// Its quarantine ended.
    QuarantineReleased,
    /// It was attributed fault for a saga failure (severity = its liability share).
    FaultAttributed,
    /// It finished a session without incident.
    CleanSession,
}

/// One ledger line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// `ledger:{16 hex}`.
    pub entry_id: RecordId,
    /// The agent.
    pub agent: AgentDid,
    /// What happened.
    pub entry_type: LedgerEntryType,
    /// Where.
    pub session_id: SessionId,
    /// When.
    pub at: Timestamp,
    /// How severe, 0–1.
    pub severity: Score,
    /// Free text.
    pub details: String,
    /// The other agent involved, if any.
    pub related_agent: Option<AgentDid>,
}

/// Admission advice from an agent's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Admit normally.
    Admit,
    /// Admit under watch.
    Probation,
    /// Refuse.
    Deny,
}

impl Admission {
    /// The advice for an unrounded, clamped risk value.
    pub fn from_risk(risk: f64) -> Admission {
        if risk >= DENY_THRESHOLD {
            Admission::Deny
        } else if risk >= PROBATION_THRESHOLD {
            Admission::Probation
        } else {
            Admission::Admit
        }
    }
}

/// The summary used for admission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskProfile {
    /// The agent.
    pub agent: AgentDid,
    /// Entries ever recorded (evicted ones included).
    pub total_entries: u64,
    /// Slashes received or cascaded.
    pub slash_count: u64,
    /// Quarantines entered.
    pub quarantine_count: u64,
    /// Clean sessions.
    pub clean_session_count: u64,
    /// Mean fault severity, rounded to 4 decimals (0 without faults).
    pub fault_score_avg: f64,
    /// Clamped risk rounded to 4 decimals.
    pub risk_score: f64,
    /// Clamped risk, unrounded (the recommendation is taken from this).
    pub risk_exact: f64,
    /// The advice.
    pub recommendation: Admission,
}

/// One agent's retained entries and exact running aggregates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AgentLedger {
    entries: VecDeque<LedgerEntry>,
    total_entries: u64,
    slash_count: u64,
    quarantine_count: u64,
    clean_session_count: u64,
    fault_count: u64,
    fault_sum: f64,
    // INVARIANT: the unclamped risk sum of every entry ever recorded, added in record order.
    risk_sum: f64,
}

/// The per-agent liability history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ledger {
    max_entries_per_agent: usize,
    total_entries: u64,
    agents: BTreeMap<AgentDid, AgentLedger>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new(DEFAULT_MAX_ENTRIES_PER_AGENT)
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl Ledger {
    /// An empty ledger keeping at most `max_entries_per_agent` entries per agent (at least 1).
    pub fn new(max_entries_per_agent: usize) -> Self {
        Ledger {
            max_entries_per_agent: max_entries_per_agent.max(1),
            total_entries: 0,
            agents: BTreeMap::new(),
        }
    }

    /// Records an event and updates the agent's aggregates.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per ledger entry field, as the reference's record()"
    )]
    pub fn record(
        &mut self,
        ids: &mut IdGen,
        agent: &AgentDid,
        entry_type: LedgerEntryType,
        session: &SessionId,
        severity: Score,
        details: &str,
        related_agent: Option<&AgentDid>,
        now: Timestamp,
    ) -> Result<LedgerEntry, LedgerError> {
        if details.len() > MAX_DETAILS_LEN {
            return Err(LedgerError::DetailsTooLong(details.len()));
        }
        let entry = LedgerEntry {
            entry_id: ids.record("ledger"),
            agent: agent.clone(),
            entry_type,
            session_id: session.clone(),
            at: now,
            severity,
            details: details.to_string(),
            related_agent: related_agent.cloned(),
        };
        let a = self.agents.entry(agent.clone()).or_default();
        let sev = severity.get();
        match entry_type {
            LedgerEntryType::SlashReceived | LedgerEntryType::SlashCascaded => {
                a.slash_count += 1;
                a.risk_sum += 0.15 * sev.max(0.5);
            }
            LedgerEntryType::QuarantineEntered => {
                a.quarantine_count += 1;
                a.risk_sum += 0.10 * sev.max(0.3);
            }
            LedgerEntryType::FaultAttributed => {
                a.fault_count += 1;
                a.fault_sum += sev;
                a.risk_sum += 0.05 * sev;
            }
            LedgerEntryType::CleanSession => {
                a.clean_session_count += 1;
                a.risk_sum -= 0.05;
            }
            LedgerEntryType::VouchGiven
            | LedgerEntryType::VouchReceived
            | LedgerEntryType::VouchReleased
            | LedgerEntryType::QuarantineReleased => {}
        }
        a.total_entries += 1;
        a.entries.push_back(entry.clone());
        while a.entries.len() > self.max_entries_per_agent {
            a.entries.pop_front();
        }
        self.total_entries += 1;
        Ok(entry)
    }

    /// The agent's retained entries, oldest first.
    pub fn history(&self, agent: &AgentDid) -> Vec<&LedgerEntry> {
        self.agents
            .get(agent)
            .map(|a| a.entries.iter().collect())
            .unwrap_or_default()
    }

    /// The agent's risk profile (an unknown agent gets an all-zero `admit` profile). O(1) in
    /// the number of entries.
    pub fn risk_profile(&self, agent: &AgentDid) -> RiskProfile {
        let Some(a) = self.agents.get(agent) else {
            return RiskProfile {
                agent: agent.clone(),
                total_entries: 0,
                slash_count: 0,
                quarantine_count: 0,
                clean_session_count: 0,
                fault_score_avg: 0.0,
                risk_score: 0.0,
                risk_exact: 0.0,
                recommendation: Admission::Admit,
            };
        };
        let risk = a.risk_sum.clamp(0.0, 1.0);
        let avg = if a.fault_count > 0 {
            a.fault_sum / a.fault_count as f64
        } else {
            0.0
        };
        RiskProfile {
            agent: agent.clone(),
            total_entries: a.total_entries,
            slash_count: a.slash_count,
            quarantine_count: a.quarantine_count,
            clean_session_count: a.clean_session_count,
            fault_score_avg: round4(avg),
            risk_score: round4(risk),
            risk_exact: risk,
            recommendation: Admission::from_risk(risk),
        }
    }

    /// Admission check: the advice, or an error when the advice is deny.
    pub fn should_admit(&self, agent: &AgentDid) -> Result<Admission, LedgerError> {
        let p = self.risk_profile(agent);
        match p.recommendation {
            Admission::Deny => Err(LedgerError::RiskTooHigh {
                agent: agent.clone(),
                risk: p.risk_score,
            }),
            other => Ok(other),
        }
    }

    /// Entries ever recorded, over all agents.
    pub fn total_entries(&self) -> u64 {
        self.total_entries
    }

    /// Agents with a history, in DID order.
    pub fn tracked_agents(&self) -> Vec<&AgentDid> {
        self.agents.keys().collect()
    }

    /// Drops an agent's history and aggregates. Returns whether it was tracked.
    pub fn forget(&mut self, agent: &AgentDid) -> bool {
        self.agents.remove(agent).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LedgerEntryType as T;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }

    struct Fx {
        l: Ledger,
        ids: IdGen,
    }
    impl Fx {
        fn new() -> Self {
            Fx {
                l: Ledger::default(),
                ids: IdGen::new([5; 16]),
            }
        }
        fn rec(&mut self, a: &str, t: LedgerEntryType, sev: f64, n: usize) {
            for _ in 0..n {
                self.l
                    .record(
                        &mut self.ids,
                        &did(a),
                        t,
                        &SessionId::new("s").unwrap(),
                        Score::new(sev).unwrap(),
                        "",
                        None,
                        Timestamp::ZERO,
                    )
                    .unwrap();
            }
        }
        fn p(&self, a: &str) -> RiskProfile {
            self.l.risk_profile(&did(a))
        }
    }

    #[test]
    fn record_entry_and_history() {
        let mut f = Fx::new();
        let e =
            f.l.record(
                &mut f.ids,
                &did("a1"),
                T::SlashReceived,
                &SessionId::new("s").unwrap(),
                Score::new(0.8).unwrap(),
                "drift",
                Some(&did("a2")),
                Timestamp::from_secs(3),
            )
            .unwrap();
        assert_eq!(e.agent, did("a1"));
        assert!(e.entry_id.as_str().starts_with("ledger:"));
        f.rec("a1", T::CleanSession, 0.0, 1);
        f.rec("a2", T::CleanSession, 0.0, 1);
        assert_eq!(f.l.total_entries(), 3);
        assert_eq!(f.l.history(&did("a1")).len(), 2);
        assert_eq!(f.l.tracked_agents(), vec![&did("a1"), &did("a2")]);
        assert!(f.l.history(&did("zz")).is_empty());
        assert_eq!(
            serde_json::to_string(&T::FaultAttributed).unwrap(),
            "\"fault_attributed\""
        );
    }

    #[test]
    fn clean_agent_is_admitted() {
        let mut f = Fx::new();
        f.rec("a", T::CleanSession, 0.0, 5);
        let p = f.p("a");
        assert_eq!((p.risk_score, p.recommendation), (0.0, Admission::Admit));
        assert_eq!(p.clean_session_count, 5);
        assert_eq!(f.l.should_admit(&did("a")), Ok(Admission::Admit));
    }

    #[test]
    fn five_slashes_deny() {
        let mut f = Fx::new();
        f.rec("a", T::SlashReceived, 0.9, 5);
        let p = f.p("a");
        assert_eq!(p.risk_score, 0.675);
        assert_eq!(p.recommendation, Admission::Deny);
        assert_eq!(p.slash_count, 5);
    }

    #[test]
    fn ten_slashes_clamp_to_one_and_deny() {
        let mut f = Fx::new();
        f.rec("a", T::SlashCascaded, 0.9, 10);
        assert_eq!(f.p("a").risk_score, 1.0);
        let e = f.l.should_admit(&did("a")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "risk score 1.00 of `a` exceeds threshold (0.60)"
        );
    }

    #[test]
    fn clean_sessions_offset_a_slash() {
        let mut f = Fx::new();
        f.rec("a", T::SlashReceived, 0.7, 1);
        f.rec("a", T::CleanSession, 0.0, 2);
        let p = f.p("a");
        assert_eq!(p.risk_score, 0.005);
        assert_eq!(p.recommendation, Admission::Admit);
    }

    #[test]
    fn probation_threshold_is_inclusive_on_the_unrounded_value() {
        // The spec quotes 0.30000000000000004 for two slashes of severity 1.0; in IEEE f64
        // 0.15 + 0.15 is exactly 0.3. Both land on probation.
        let mut f = Fx::new();
        f.rec("a", T::SlashReceived, 1.0, 2);
        assert_eq!(f.p("a").risk_exact, 0.3);
        assert_eq!(f.p("a").recommendation, Admission::Probation);
        // Three quarantines of severity 1.0 do give 0.1 + 0.1 + 0.1 = 0.30000000000000004.
        f.rec("b", T::QuarantineEntered, 1.0, 3);
        assert_eq!(f.p("b").risk_exact, 0.30000000000000004);
        assert_eq!(f.p("b").risk_score, 0.3);
        assert_eq!(f.p("b").recommendation, Admission::Probation);
        assert_eq!(f.l.should_admit(&did("b")), Ok(Admission::Probation));
    }

    #[test]
    fn severity_floors() {
        let mut f = Fx::new();
        f.rec("q", T::QuarantineEntered, 0.5, 1);
        assert_eq!(f.p("q").risk_score, 0.05);
        assert_eq!(f.p("q").quarantine_count, 1);
        f.rec("q2", T::QuarantineEntered, 0.0, 1);
        assert!((f.p("q2").risk_exact - 0.03).abs() < 1e-12);
        f.rec("s", T::SlashReceived, 0.1, 1);
        assert_eq!(f.p("s").risk_score, 0.075);
    }

    #[test]
    fn faults_average_and_other_entries_are_neutral() {
        let mut f = Fx::new();
        f.rec("a", T::FaultAttributed, 0.2, 1);
        f.rec("a", T::FaultAttributed, 0.4, 1);
        f.rec("a", T::VouchGiven, 1.0, 3);
        f.rec("a", T::QuarantineReleased, 1.0, 1);
        let p = f.p("a");
        assert_eq!(p.fault_score_avg, 0.3);
        assert!((p.risk_exact - 0.03).abs() < 1e-12);
        assert_eq!(p.total_entries, 6);
    }

    #[test]
    fn unknown_agent_is_admitted() {
        let f = Fx::new();
        let p = f.p("nobody");
        assert_eq!(p.total_entries, 0);
        assert_eq!(p.recommendation, Admission::Admit);
    }

    #[test]
    fn eviction_keeps_aggregates_exact() {
        let mut f = Fx::new();
        f.l = Ledger::new(3);
        f.rec("a", T::SlashReceived, 0.9, 5);
        f.rec("a", T::CleanSession, 0.0, 1);
        assert_eq!(f.l.history(&did("a")).len(), 3);
        let p = f.p("a");
        assert_eq!(p.total_entries, 6);
        assert_eq!(p.slash_count, 5);
        assert_eq!(p.risk_score, 0.625);
        assert_eq!(f.l.total_entries(), 6);
        assert!(f.l.forget(&did("a")));
        assert_eq!(f.p("a").total_entries, 0);
    }

    #[test]
    fn details_are_bounded() {
        let mut f = Fx::new();
        let e =
            f.l.record(
                &mut f.ids,
                &did("a"),
                T::CleanSession,
                &SessionId::new("s").unwrap(),
                Score::ZERO,
                &"x".repeat(MAX_DETAILS_LEN + 1),
                None,
                Timestamp::ZERO,
            )
            .unwrap_err();
        assert_eq!(e, LedgerError::DetailsTooLong(MAX_DETAILS_LEN + 1));
    }

    #[test]
    fn snapshot_round_trip() {
        let mut f = Fx::new();
        f.rec("a", T::SlashReceived, 0.9, 2);
        let json = serde_json::to_string(&f.l).unwrap();
        let back: Ledger = serde_json::from_str(&json).unwrap();
        assert_eq!(back.risk_profile(&did("a")), f.p("a"));
    }
}
