//! Scenario tests of the engine: every control denies with its code and reason (audited and
//! emitted), state changes compose across modules, and replaying the logged commands on a
//! fresh engine rebuilds the same state.

mod audit_room;
mod configure;
mod fixtures;
mod governance;
mod kill;
mod liability;
mod replay;
mod rings;
mod sagas;
mod sessions;
mod smoke;
mod tick;
mod vfs;
