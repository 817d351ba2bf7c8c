//! `ahv audit verify`: the exported bundle verifies; one changed byte in an entry, a proof or a
//! signature is rejected (exit 1, first bad item named); broken files are one-line errors (2).

use ahv_core::audit::note::NoteVerifier;
use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::util::{ahv, bundle_json, code, demo_run, one_line_error, scratch, stdout, write_json};

fn session_log(b: &mut Value) -> &mut Value {
    let logs = b["logs"].as_array_mut().unwrap();
    logs.iter_mut()
        .find(|l| l["log_id"].as_str().unwrap().starts_with("session:"))
        .unwrap()
}

/// Replaces one character of `s` at `i` by a different character of the same class.
fn flip(s: &str, i: usize) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars[i] = match chars[i] {
        'a' => 'b',
        '0' => '1',
        'A' => 'B',
        c if c.is_ascii_digit() => '0',
        c if c.is_ascii_lowercase() => 'a',
        _ => 'A',
    };
    chars.into_iter().collect()
}

#[test]
fn the_exported_bundle_verifies() {
    let path = demo_run().1.to_str().unwrap();
    let o = ahv(&["audit", "verify", path]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.starts_with("VERIFIED"), "{out}");
    for what in [
        "entries",
        "signatures",
        "inclusion proofs",
        "consistency proofs",
        "1 session logs proven committed",
        "root committed at hypervisor entry #",
    ] {
        assert!(out.contains(what), "{what}: {out}");
    }
}

#[test]
fn a_session_log_that_is_not_the_one_committed_is_rejected() {
    // The anchor's hypervisor entry says which root was committed when the session ended;
    // changing it breaks its inclusion in the signed hypervisor log.
    let mut b = bundle_json();
    let entry = &mut b["anchors"][0]["entry"];
    let root = entry["detail"]["root"].as_str().unwrap().to_string();
    entry["detail"]["root"] = Value::String(flip(&root, 0));
    let path = write_json("tampered-anchor.json", &b);
    let line = one_line_error(&ahv(&["audit", "verify", &path]), 1);
    assert!(line.contains("anchor 0"), "{line}");
    assert!(line.contains("not in the signed hypervisor log"), "{line}");
}

#[test]
fn a_pinned_key_must_match() {
    let (events, bundle) = demo_run();
    let key = events
        .iter()
        .find(|e| e["step"] == "bundle_exported")
        .unwrap()["key"]
        .as_str()
        .unwrap();
    let path = bundle.to_str().unwrap();
    let o = ahv(&["audit", "verify", path, "--key", key]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("pinned with --key"));
    let other = NoteVerifier::new(
        "agent-hypervisor",
        SigningKey::from_bytes(&[7; 32]).verifying_key(),
    )
    .unwrap()
    .to_vkey();
    let line = one_line_error(&ahv(&["audit", "verify", path, "--key", &other]), 1);
    assert!(line.contains("not by the trusted key"), "{line}");
    let line = one_line_error(&ahv(&["audit", "verify", path, "--key", "garbage"]), 2);
    assert!(line.contains("invalid --key"), "{line}");
}

#[test]
fn one_changed_byte_in_an_entry_is_rejected_and_named() {
    let mut b = bundle_json();
    let log = session_log(&mut b);
    let reason = log["entries"][3]["reason"].as_str().unwrap().to_string();
    log["entries"][3]["reason"] = Value::String(flip(&reason, 0));
    let path = write_json("tampered-entry.json", &b);
    let o = ahv(&["audit", "verify", &path]);
    let line = one_line_error(&o, 1);
    assert!(line.contains("entry 3 of log `session:"), "{line}");
    assert!(line.contains("does not match its signed hash"), "{line}");
    assert!(stdout(&o).contains("first bad entry: #3"), "{}", stdout(&o));
}

#[test]
fn one_changed_byte_in_a_proof_is_rejected() {
    let mut b = bundle_json();
    let log = session_log(&mut b);
    let hash = log["inclusion_proofs"][0]["proof"][0]
        .as_str()
        .unwrap()
        .to_string();
    log["inclusion_proofs"][0]["proof"][0] = Value::String(flip(&hash, 10));
    let path = write_json("tampered-proof.json", &b);
    let line = one_line_error(&ahv(&["audit", "verify", &path]), 1);
    assert!(line.contains("inclusion proof of entry"), "{line}");
}

#[test]
fn one_changed_byte_in_a_signature_is_rejected() {
    let mut b = bundle_json();
    let log = session_log(&mut b);
    let note = log["checkpoint"].as_str().unwrap().to_string();
    let sig_line = note.lines().find(|l| l.starts_with("— ")).unwrap();
    let start = note.find(sig_line).unwrap();
    // Change one character of the base64 signature, well inside it.
    let at = start + sig_line.len() - 20;
    let tampered = format!("{}{}", &note[..start], flip(&note[start..], at - start));
    assert_ne!(tampered, note);
    log["checkpoint"] = Value::String(tampered);
    let path = write_json("tampered-signature.json", &b);
    let line = one_line_error(&ahv(&["audit", "verify", &path]), 1);
    assert!(line.contains("is not validly signed"), "{line}");
}

#[test]
fn truncated_or_non_json_files_are_one_line_errors() {
    let text = std::fs::read_to_string(&demo_run().1).unwrap();
    let truncated = scratch().join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let line = one_line_error(&ahv(&["audit", "verify", truncated.to_str().unwrap()]), 2);
    assert!(line.contains("is truncated"), "{line}");
    let junk = scratch().join("junk.json");
    std::fs::write(&junk, "hello, not json").unwrap();
    let line = one_line_error(&ahv(&["audit", "verify", junk.to_str().unwrap()]), 2);
    assert!(
        line.contains("is not JSON") && line.contains("junk.json:1:"),
        "{line}"
    );
    let wrong = write_json("wrong-shape.json", &serde_json::json!({ "hello": 1 }));
    let line = one_line_error(&ahv(&["audit", "verify", &wrong]), 2);
    assert!(line.contains("is not an audit bundle"), "{line}");
    let line = one_line_error(&ahv(&["audit", "verify", "/nonexistent/bundle.json"]), 2);
    assert!(
        line.contains("cannot read") && line.contains("no such file"),
        "{line}"
    );
}
