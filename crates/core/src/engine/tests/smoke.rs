//! The harness itself works: an engine serializes and a session can be built.

use super::fixtures::*;

#[test]
fn fresh_engine_serializes_and_round_trips() {
    let w = World::new();
    let a = w.json();
    let e: crate::engine::Engine = serde_json::from_value(a.clone()).unwrap();
    assert_eq!(serde_json::to_value(&e).unwrap(), a);
}

#[test]
fn a_session_with_members_serializes() {
    let mut w = World::new();
    let alice = did("alice");
    let bob = did("bob");
    let sid = w.active_session(&alice, &[(&alice, 0.8), (&bob, 0.3)]);
    w.write(&sid, &alice, "notes.txt", "hello").unwrap();
    w.read(&sid, &bob, "notes.txt").unwrap();
    let _ = w.json();
    w.assert_replays();
}
