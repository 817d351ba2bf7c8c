//! Vector clocks and isolation levels: how the session VFS tells a fresh write from a lost update.
//!
//! Every path and every agent of a session carries a [`VectorClock`]. Reading a path folds the
//! path's clock into the reader's clock; writing a path ticks the writer and folds the writer's
//! clock into the path's. A write is accepted only if the writer has *seen* the path's latest
//! version, i.e. the writer's clock dominates or equals the path's ([`ClockTable::check_write`]).
//!
//! Where this departs from the reference (spec §2.3, §17 item 9):
//! - equal clocks compare as [`ClockOrder::Equal`], not "concurrent";
//! - a writer whose clock is *concurrent* with the path's (it wrote elsewhere but never read this
//!   path) is rejected like a strictly stale one; the reference let it overwrite (lost update);
//! - the isolation level decides whether the check applies ([`IsolationLevel`]); the reference's
//!   levels were descriptive flags nothing consulted;
//! - clocks and tables are bounded ([`MAX_CLOCK_ENTRIES`], [`MAX_TRACKED_PATHS`]).

mod clock;
mod err;
mod isolation;
mod path;
mod table;

pub use clock::{ClockOrder, MAX_CLOCK_ENTRIES, VectorClock};
pub use err::ClockError;
pub use isolation::{CoordinationCost, IsolationLevel};
pub use path::MAX_PATH_LEN;
pub use table::{ClockTable, MAX_TRACKED_AGENTS, MAX_TRACKED_PATHS};
