//! Joining, leaving and rejoining a session, and the queries over its members.

use std::collections::btree_map::Entry;

use crate::id::AgentDid;
use crate::ring::Ring;
use crate::score::Score;
use crate::time::Timestamp;

use super::err::SessionError;
use super::participant::Participant;
use super::state::SessionState::{Active, Created, Handshaking, Terminating};
use super::{MAX_DEPARTED_RECORDS, Session};

impl Session {
    /// Admits `agent` with the scores and ring the engine computed.
    ///
    /// Allowed while handshaking or active and unexpired. Checks, in order: the agent is not an
    /// active member; fewer than `max_participants` members are active; σ_eff ≥ `min_sigma_eff`
    /// (for every ring and regardless of `probation` — the one minimum-σ rule). An agent that
    /// left earlier rejoins: its record is reactivated with the new scores, ring and join time.
    pub fn join(
        &mut self,
        agent: AgentDid,
        sigma_raw: Score,
        sigma_eff: Score,
        ring: Ring,
        probation: bool,
        now: Timestamp,
    ) -> Result<&Participant, SessionError> {
        self.require("join", &[Handshaking, Active])?;
        self.require_unexpired(now)?;
        let rejoining = match self.participants.get(&agent) {
            Some(p) if p.is_active => return Err(SessionError::AlreadyJoined { agent }),
            Some(_) => true,
            None => false,
        };
        if self.active_count() >= self.config.max_participants as usize {
            return Err(SessionError::AtCapacity {
                max: self.config.max_participants,
            });
        }
        if sigma_eff.get() < self.config.min_sigma_eff.get() {
            return Err(SessionError::SigmaBelowMinimum {
                sigma_eff: sigma_eff.get(),
                minimum: self.config.min_sigma_eff.get(),
            });
        }
        if rejoining {
            self.departed.retain(|d| d != &agent);
        }
        let record = Participant {
            agent_did: agent.clone(),
            ring,
            sigma_raw,
            sigma_eff,
            joined_at: now,
            left_at: None,
            is_active: true,
            probation,
        };
        let slot = match self.participants.entry(agent) {
            Entry::Occupied(mut o) => {
                o.insert(record);
                o.into_mut()
            }
            Entry::Vacant(v) => v.insert(record),
        };
        Ok(slot)
    }

    /// Marks `agent` as departed. Allowed while handshaking, active or terminating; an unknown
    /// agent or one that already left is refused.
    pub fn leave(&mut self, agent: &AgentDid, now: Timestamp) -> Result<(), SessionError> {
        self.require("leave", &[Handshaking, Active, Terminating])?;
        let p = self
            .participants
            .get_mut(agent)
            .ok_or_else(|| SessionError::NotParticipant {
                agent: agent.clone(),
            })?;
        if !p.is_active {
            return Err(SessionError::AlreadyLeft {
                agent: agent.clone(),
            });
        }
        p.is_active = false;
        p.left_at = Some(now);
        self.departed.push_back(agent.clone());
        // Bound: drop the records of the earliest departures beyond the retention limit.
        while self.departed.len() > MAX_DEPARTED_RECORDS {
            if let Some(old) = self.departed.pop_front() {
                self.participants.remove(&old);
            }
        }
        Ok(())
    }

    /// The record of `agent`, active or departed.
    pub fn participant(&self, agent: &AgentDid) -> Result<&Participant, SessionError> {
        self.participants
            .get(agent)
            .ok_or_else(|| SessionError::NotParticipant {
                agent: agent.clone(),
            })
    }

    /// Whether `agent` is currently an active member.
    pub fn is_member(&self, agent: &AgentDid) -> bool {
        self.participants.get(agent).is_some_and(|p| p.is_active)
    }

    /// The active members, in DID order.
    pub fn active_participants(&self) -> impl Iterator<Item = &Participant> {
        self.participants.values().filter(|p| p.is_active)
    }

    /// How many members are active.
    pub fn active_count(&self) -> usize {
        self.active_participants().count()
    }

    /// Records a new ring and σ_eff for a known member (e.g. after slashing or elevation).
    /// Allowed in every state but `archived`; departed members may be updated too.
    pub fn update_participant(
        &mut self,
        agent: &AgentDid,
        ring: Ring,
        sigma_eff: Score,
    ) -> Result<&Participant, SessionError> {
        self.require(
            "update_participant",
            &[Created, Handshaking, Active, Terminating],
        )?;
        let p = self
            .participants
            .get_mut(agent)
            .ok_or_else(|| SessionError::NotParticipant {
                agent: agent.clone(),
            })?;
        p.ring = ring;
        p.sigma_eff = sigma_eff;
        Ok(p)
    }
}
