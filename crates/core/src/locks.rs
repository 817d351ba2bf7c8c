//! Intent locks: agents announce what they will do with a VFS path, conflicting intents wait in a
//! first-come-first-served queue, and a real wait-for graph refuses any wait that would deadlock.
//!
//! Where this departs from the reference (spec §2.4, §17 item 8):
//! - requests may queue (`LockRequest::wait`) instead of being try-locks only, and waiters are
//!   granted in order when holders release, expire or leave;
//! - the wait-for graph is populated by the table itself; a wait that would close a cycle of any
//!   length is refused with [`LockError::Deadlock`] (the reference's detection was dead code);
//! - locks have a TTL ([`DEFAULT_LOCK_TTL`], at most [`MAX_LOCK_TTL`]) and an expired lock never
//!   blocks; [`LockTable::release_agent`] frees a departed or killed agent's locks;
//! - one [`LockTable`] per session, so locks are session-scoped (the reference's were global);
//! - a lock covers its path's subtree by whole segments: `/a` conflicts with `/a/b`, not `/ab`;
//! - lock ids carry 16 hex digits (`lock:{16 hex}`) instead of 8;
//! - the table is bounded ([`LockLimits`]) and indexed by path, agent and expiry, so no operation
//!   scans every lock ever created.

mod err;
mod graph;
mod intent;
mod path;
mod record;
mod table;

#[cfg(test)]
mod tests;

pub use err::LockError;
pub use graph::WaitForGraph;
pub use intent::LockIntent;
pub use path::MAX_PATH_LEN;
pub use record::{
    Acquire, DEFAULT_LOCK_TTL, Lock, LockLimits, LockRequest, MAX_LOCK_TTL, TicketState, WaitTicket,
};
pub use table::LockTable;
