//! Joint liability: agents vouch for each other, share the loss when one misbehaves, and carry
//! a record of it into later sessions.
//!
//! The model in brief:
//! 1. A voucher with σ ≥ 0.50 bonds a fraction (default 20 %) of its σ behind a vouchee in one
//!    session ([`vouch::VouchBook`]); all its bonds together, over every session, stay within
//!    80 % of σ, and bonds never form a cycle.
//! 2. The vouchee's effective trust is σ_eff = min(σ_raw + ω · Σ bonded, 1) ([`vouch::sigma_eff`]),
//!    where Σ bonded sums the bonded amounts (σ_voucher × pct) backing it in the session.
//! 3. A misbehaving agent is slashed ([`slash::slash`]): σ → 0, each voucher keeps
//!    max(σ × (1 − ω), 0.05) and its bond is released; vouchers left near the floor are slashed
//!    in turn, at most two levels deep.
//! 4. A failed saga's harm is split by true Shapley values ([`shapley::attribute`]) of the game
//!    v(S) = Σ over failed steps of h(s) · (½·[agent(s) ∈ S] + ½·[causal chain of s ⊆ S]).
//! 5. Suspects are quarantined to read-only actions ([`quarantine::QuarantineBook`]), and every
//!    event lands in the per-agent [`ledger::Ledger`], whose risk score advises admission.
//!
//! [`matrix::VouchGraph`] answers graph questions over the same bonds. All state here is pure,
//! deterministic, serialisable and bounded; each file documents its bound.

pub mod ledger;
pub mod matrix;
pub mod quarantine;
pub mod shapley;
pub mod slash;
pub mod vouch;

pub use ledger::{Admission, Ledger, LedgerEntry, LedgerEntryType, LedgerError, RiskProfile};
pub use matrix::VouchGraph;
pub use quarantine::{
    ActionClass, QuarantineBook, QuarantineError, QuarantinePolicy, QuarantineReason,
    QuarantineRecord,
};
pub use shapley::{
    AgentLiability, AttributionError, AttributionInput, AttributionResult, ShapleyMethod, StepFact,
    attribute,
};
pub use slash::{SlashHistory, SlashOutcome, SlashResult, VoucherClip, slash};
pub use vouch::{VouchBook, VouchError, VouchPolicy, VouchRecord, sigma_eff};

/// Any liability failure, for callers that handle the whole area in one place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiabilityError {
    /// A vouch, release or vouch policy was refused.
    #[error(transparent)]
    Vouch(#[from] VouchError),
    /// A fault attribution could not be computed.
    #[error(transparent)]
    Attribution(#[from] AttributionError),
    /// A quarantine was refused or an action blocked by one.
    #[error(transparent)]
    Quarantine(#[from] QuarantineError),
    /// A ledger entry was refused or admission denied.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::id::{AgentDid, IdGen, SessionId};
    use crate::score::Score;
    use crate::time::Timestamp;

    /// The pieces compose: vouch, σ_eff, slash, ledger, quarantine, in one session.
    #[test]
    fn vouch_slash_ledger_quarantine_flow() {
        let mut ids = IdGen::new([9; 16]);
        let now = Timestamp::from_secs(10);
        let s = SessionId::new("s").unwrap();
        let (h, l) = (
            AgentDid::new("high").unwrap(),
            AgentDid::new("low").unwrap(),
        );
        let mut book = VouchBook::default();
        let mut scores: BTreeMap<AgentDid, Score> = [
            (h.clone(), Score::new(0.9).unwrap()),
            (l.clone(), Score::new(0.4).unwrap()),
        ]
        .into();
        book.vouch(
            &mut ids,
            &s,
            &h,
            scores[&h],
            &l,
            Some(Score::new(0.3).unwrap()),
            None,
            now,
        )
        .unwrap();
        let eff = sigma_eff(
            scores[&l],
            book.bonded_into(&s, &l, now),
            Score::new(0.5).unwrap(),
        );
        assert!((eff.get() - 0.535).abs() < 1e-12);

        let out = slash(
            &mut book,
            &mut scores,
            &mut ids,
            &s,
            &l,
            Score::new(0.5).unwrap(),
            "drift",
            now,
        );
        assert_eq!(scores[&l].get(), 0.0);
        assert!((scores[&h].get() - 0.45).abs() < 1e-12);
        assert_eq!(book.exposure(&h, now), 0.0);

        let mut ledger = Ledger::default();
        for r in &out.results {
            ledger
                .record(
                    &mut ids,
                    &r.vouchee,
                    LedgerEntryType::SlashReceived,
                    &s,
                    Score::ONE,
                    &r.reason,
                    None,
                    now,
                )
                .unwrap();
        }
        assert_eq!(ledger.risk_profile(&l).slash_count, 1);

        let mut q = QuarantineBook::default();
        q.quarantine(
            &mut ids,
            &l,
            &s,
            QuarantineReason::LiabilityViolation,
            "slashed",
            None,
            BTreeMap::new(),
            now,
        )
        .unwrap();
        let e: LiabilityError = q
            .check_action(&l, &s, ActionClass::Execute, now)
            .unwrap_err()
            .into();
        assert!(e.to_string().contains("execute actions are not allowed"));
    }
}
