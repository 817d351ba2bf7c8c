//! Sagas end to end through the runtime: real HTTP step endpoints on 127.0.0.1, in-process
//! executors under paused time, compensation, escalation with liability effects, fan-out,
//! checkpoint replay and the DSL.

// Test helpers outside `#[test]` functions may unwrap and panic: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod http;
mod inprocess;
