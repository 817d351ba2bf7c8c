//! Joint liability: agents vouch for each other, share the loss when one misbehaves, and carry
//! a record of it into later sessions.
pub mod ledger;
pub mod quarantine;
pub mod shapley;
pub mod slash;
pub mod vouch;
