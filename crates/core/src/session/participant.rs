//! A member of a session, with the trust scores and ring it was admitted with.

use serde::{Deserialize, Serialize};

use crate::id::AgentDid;
use crate::ring::Ring;
use crate::score::Score;
use crate::time::Timestamp;

/// One agent's membership record. Departed members keep their record (with `is_active` false
/// and `left_at` set) so liability and audit can still name them; rejoining reuses the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Who the member is.
    pub agent_did: AgentDid,
    /// The ring the engine assigned (the session does not derive it).
    pub ring: Ring,
    /// σ as reported before vouching and penalties.
    pub sigma_raw: Score,
    /// σ after vouching and penalties; this is what the minimum-σ rule checks.
    pub sigma_eff: Score,
    /// When the agent (last) joined.
    pub joined_at: Timestamp,
    /// When the agent last left, if it is not active.
    pub left_at: Option<Timestamp>,
    /// Whether the agent is currently a member.
    pub is_active: bool,
    /// Whether the agent was admitted on probation (e.g. no verifiable history).
    pub probation: bool,
}
