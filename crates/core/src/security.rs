//! Security controls that sit on the governed path of every agent action.
//!
//! - [`rate_limit`]: a GCRA limiter per (agent, session) whose quota follows the agent's
//!   *current* ring, so a demotion tightens the limit immediately and never refills it.
//! - [`kill`]: the kill switch's pure planning — who takes over a killed agent's in-flight
//!   saga steps (round-robin over active, sufficiently privileged substitutes), which steps
//!   must be compensated, and the kill record.
//!
//! Both are pure state machines: the engine supplies `now`, ids and the facts (rings,
//! membership), and applies the resulting decisions.

pub mod kill;
pub mod rate_limit;
