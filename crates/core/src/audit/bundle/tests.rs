//! Tests for export bundles: an untouched bundle verifies, and each kind of tampering is caught
//! and reported at the first bad item.

use serde_json::json;

use super::*;
use crate::audit::entry::Decision;
use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

const ORIGIN: &str = "ahv.example";
const KEY_NAME: &str = "ahv.example";
const SESSION: &str = "session:0f0e0d0c-0b0a-4908-8706-050403020100";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn verifier() -> NoteVerifier {
    NoteVerifier::new(KEY_NAME, key().verifying_key()).unwrap()
}

fn entries(n: u64, session: Option<&str>) -> Vec<AuditEntry> {
    (0..n)
        .map(|seq| AuditEntry {
            seq,
            at: Timestamp::from_secs(1_800_000_000 + seq),
            session_id: session.map(|s| SessionId::new(s).unwrap()),
            agent_did: Some(AgentDid::new(format!("did:mesh:agent{}", seq % 3)).unwrap()),
            kind: "vfs.write".into(),
            decision: if seq % 4 == 3 {
                Decision::Denied
            } else {
                Decision::Allowed
            },
            reason: format!("reason {seq}"),
            detail: json!({"path": format!("/f{seq}"), "bytes": seq * 10}).into(),
        })
        .collect()
}

/// A bundle with a hypervisor log (5 entries) and a session log (9 entries), inclusion proofs,
/// and a consistency proof from an earlier checkpoint of the session log at size 4.
fn bundle() -> AuditBundle {
    let mut b = AuditBundle::new(ORIGIN, &verifier()).unwrap();
    let hv = LogExport::build(
        ORIGIN,
        "hypervisor",
        entries(5, None),
        &key(),
        KEY_NAME,
        &[0, 4],
    )
    .unwrap();
    let session = entries(9, Some(SESSION));
    let old = LogExport::build(
        ORIGIN,
        SESSION,
        session[..4].to_vec(),
        &key(),
        KEY_NAME,
        &[],
    )
    .unwrap()
    .checkpoint;
    let s = LogExport::build(ORIGIN, SESSION, session, &key(), KEY_NAME, &[2, 8]).unwrap();
    let c = ConsistencyExport::build(SESSION, &old, &s.leaf_hashes).unwrap();
    b.logs = vec![hv, s];
    b.consistency = vec![c];
    b
}

#[test]
fn untouched_bundle_verifies_with_full_report() {
    let b = bundle();
    let report = verify_bundle(&b).unwrap();
    assert_eq!(
        report,
        VerifyReport {
            logs: 2,
            entries: 14,
            signatures: 3,
            inclusion_proofs: 4,
            consistency_proofs: 1,
            anchors: 0,
        }
    );
    assert_eq!(verify_bundle_with_key(&b, &verifier()).unwrap(), report);
}

#[test]
fn bundle_survives_json_round_trip() {
    let text = serde_json::to_string_pretty(&bundle()).unwrap();
    let back: AuditBundle = serde_json::from_str(&text).unwrap();
    assert!(verify_bundle(&back).is_ok());
}

/// Tampers with the JSON text of the bundle, as a third party would receive it.
fn tamper_json(b: &AuditBundle, from: &str, to: &str) -> AuditBundle {
    let text = serde_json::to_string(b).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
    serde_json::from_str(&text.replacen(from, to, 1)).unwrap()
}

#[test]
fn one_changed_byte_in_an_entry_names_that_entry() {
    // `"/f7"` is the path in entry 7 of the session log; change one byte of it.
    let b = tamper_json(&bundle(), "\"/f7\"", "\"/f8\"");
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::EntryMismatch {
            log_id: SESSION.into(),
            index: 7
        })
    );
}

#[test]
fn tampering_with_the_last_entry_is_detected_unlike_reference() {
    let mut b = bundle();
    let last = b.logs[1].entries.last_mut().unwrap();
    last.agent_did = Some(AgentDid::new("did:mesh:mallory").unwrap());
    assert_eq!(
        verify_bundle(&b).unwrap_err().to_string(),
        format!("entry 8 of log `{SESSION}` does not match its signed hash")
    );
}

#[test]
fn the_first_of_several_tampered_entries_is_named() {
    let mut b = bundle();
    b.logs[1].entries[6].reason = "changed".into();
    b.logs[1].entries[2].detail = json!(null).into();
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::EntryMismatch {
            log_id: SESSION.into(),
            index: 2
        })
    );
    // A bad item in an earlier log is reported before it.
    b.logs[0].entries[1].decision = Decision::Denied;
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::EntryMismatch {
            log_id: "hypervisor".into(),
            index: 1
        })
    );
}

#[test]
fn tampering_with_an_entry_and_its_hash_is_detected_but_not_localised() {
    let mut b = bundle();
    b.logs[1].entries[5].reason = "changed".into();
    b.logs[1].leaf_hashes[5] = b.logs[1].entries[5].leaf_hash();
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::LeafHashesMismatch {
            log_id: SESSION.into()
        })
    );
}

#[test]
fn seq_must_equal_position() {
    let mut b = bundle();
    // Re-sign the log with a wrong seq so only the seq check can catch it.
    let mut es = entries(3, None);
    es[1].seq = 7;
    b.logs[0] = LogExport::build(ORIGIN, "hypervisor", es, &key(), KEY_NAME, &[]).unwrap();
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::SeqMismatch {
            log_id: "hypervisor".into(),
            index: 1,
            seq: 7
        })
    );
}

#[test]
fn a_tampered_inclusion_proof_is_named() {
    let mut b = bundle();
    let p = &mut b.logs[1].inclusion_proofs[1];
    let mut raw = p.proof[0].to_bytes();
    raw[31] ^= 1;
    p.proof[0] = Digest32::from_bytes(raw);
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::BadProof {
            log_id: SESSION.into(),
            index: 8,
            source: ProofError::RootMismatch
        })
    );
    let mut b = bundle();
    b.logs[0].inclusion_proofs[0].index = 9;
    assert!(matches!(
        verify_bundle(&b),
        Err(BundleError::BadProof { index: 9, .. })
    ));
}

#[test]
fn a_tampered_signature_or_checkpoint_is_rejected() {
    let b = bundle();
    // Change one base64 character of the hypervisor checkpoint's signature.
    let cp = &b.logs[0].checkpoint;
    let sig_start = cp.rfind(' ').unwrap() + 10;
    let mut chars: Vec<char> = cp.chars().collect();
    let pos = cp[..sig_start].chars().count();
    chars[pos] = if chars[pos] == 'A' { 'B' } else { 'A' };
    let mut t = b.clone();
    t.logs[0].checkpoint = chars.into_iter().collect();
    assert!(matches!(
        verify_bundle(&t),
        Err(BundleError::BadSignature { ref log_id, .. }) if log_id == "hypervisor"
    ));
    // Claiming a smaller size in the signed body breaks the signature too.
    let mut t = b.clone();
    t.logs[1].checkpoint = t.logs[1].checkpoint.replacen("\n9\n", "\n8\n", 1);
    assert!(matches!(
        verify_bundle(&t),
        Err(BundleError::BadSignature { .. })
    ));
}

#[test]
fn a_checkpoint_moved_to_another_log_is_rejected() {
    let mut b = bundle();
    b.logs[0].checkpoint = b.logs[1].checkpoint.clone();
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::OriginMismatch {
            log_id: "hypervisor".into(),
            expected: "ahv.example/hypervisor".into(),
            found: format!("ahv.example/{SESSION}"),
        })
    );
}

#[test]
fn dropped_entries_are_detected() {
    let mut b = bundle();
    b.logs[1].entries.pop();
    assert!(matches!(
        verify_bundle(&b),
        Err(BundleError::SizeMismatch {
            entries: 8,
            leaf_hashes: 9,
            checkpoint_size: 9,
            ..
        })
    ));
}

#[test]
fn a_tampered_consistency_proof_or_old_checkpoint_is_rejected() {
    let mut b = bundle();
    let mut raw = b.consistency[0].proof[0].to_bytes();
    raw[0] ^= 0x80;
    b.consistency[0].proof[0] = Digest32::from_bytes(raw);
    assert!(matches!(
        verify_bundle(&b),
        Err(BundleError::BadConsistency { item: 0, .. })
    ));
    // An old checkpoint of a different log (valid signature) is refused.
    let mut b = bundle();
    let hv_cp = b.logs[0].checkpoint.clone();
    b.consistency[0].old_checkpoint = hv_cp;
    assert!(matches!(
        verify_bundle(&b),
        Err(BundleError::BadOldCheckpoint { item: 0, .. })
    ));
    let mut b = bundle();
    b.consistency[0].log_id = "nope".into();
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::UnknownLog {
            item: 0,
            log_id: "nope".into()
        })
    );
}

#[test]
fn a_bundle_resigned_with_another_key_fails_against_the_trusted_key() {
    let mallory = SigningKey::from_bytes(&[7; 32]);
    let mut b = AuditBundle::new(
        ORIGIN,
        &NoteVerifier::new(KEY_NAME, mallory.verifying_key()).unwrap(),
    )
    .unwrap();
    let mut es = entries(3, None);
    es[0].reason = "rewritten history".into();
    b.logs = vec![LogExport::build(ORIGIN, "hypervisor", es, &mallory, KEY_NAME, &[]).unwrap()];
    // Internally consistent…
    assert!(verify_bundle(&b).is_ok());
    // …but not signed by the operator.
    assert!(matches!(
        verify_bundle_with_key(&b, &verifier()),
        Err(BundleError::UntrustedKey { .. })
    ));
    // Swapping only the key breaks every signature.
    let mut b2 = bundle();
    b2.public_key = b.public_key;
    assert!(matches!(
        verify_bundle(&b2),
        Err(BundleError::BadSignature { .. })
    ));
}

#[test]
fn header_problems_are_reported_first() {
    let mut b = bundle();
    b.version = 3;
    assert_eq!(
        verify_bundle(&b).unwrap_err().to_string(),
        "bundle version 3 is not supported; expected 1 to 2"
    );
    // Version 1 (before anchors) still verifies.
    let mut b = bundle();
    b.version = 1;
    assert!(verify_bundle(&b).is_ok());
    let mut b = bundle();
    b.public_key = "garbage".into();
    assert!(matches!(
        verify_bundle(&b),
        Err(BundleError::BadPublicKey(_))
    ));
    let mut b = bundle();
    let dup = b.logs[0].clone();
    b.logs.push(dup);
    assert_eq!(
        verify_bundle(&b),
        Err(BundleError::DuplicateLog {
            log_id: "hypervisor".into()
        })
    );
}

#[test]
fn building_refuses_bad_input() {
    assert!(matches!(
        LogExport::build(ORIGIN, "bad id", entries(1, None), &key(), KEY_NAME, &[]),
        Err(BundleError::BadLogId { .. })
    ));
    assert!(matches!(
        LogExport::build(ORIGIN, "", entries(1, None), &key(), KEY_NAME, &[]),
        Err(BundleError::BadLogId { .. })
    ));
    assert!(matches!(
        LogExport::build(ORIGIN, "hv", entries(2, None), &key(), KEY_NAME, &[2]),
        Err(BundleError::BadProof { index: 2, .. })
    ));
    assert!(matches!(
        LogExport::build(ORIGIN, "hv", entries(2, None), &key(), "bad name", &[]),
        Err(BundleError::BadCheckpoint { .. })
    ));
    let big = LogExport::build(ORIGIN, "hv", entries(5, None), &key(), KEY_NAME, &[]).unwrap();
    let small = LogExport::build(ORIGIN, "hv", entries(2, None), &key(), KEY_NAME, &[]).unwrap();
    assert!(matches!(
        ConsistencyExport::build("hv", &big.checkpoint, &small.leaf_hashes),
        Err(BundleError::CannotProve { .. })
    ));
    assert!(matches!(
        AuditBundle::new("bad origin", &verifier()),
        Err(BundleError::BadOrigin(_))
    ));
    // Given leaf hashes must be one per entry; given right, they build the same export.
    let e = entries(3, None);
    let hashes: Vec<Digest32> = e.iter().map(AuditEntry::leaf_hash).collect();
    assert!(matches!(
        LogExport::build_with_hashes(
            ORIGIN,
            "hv",
            e.clone(),
            hashes[..2].to_vec(),
            &key(),
            KEY_NAME,
            &[]
        ),
        Err(BundleError::SizeMismatch { .. })
    ));
    assert_eq!(
        LogExport::build_with_hashes(ORIGIN, "hv", e.clone(), hashes, &key(), KEY_NAME, &[1])
            .unwrap(),
        LogExport::build(ORIGIN, "hv", e, &key(), KEY_NAME, &[1]).unwrap()
    );
}

/// The hypervisor log of [`anchored_bundle`]: four ordinary entries, then (at index 4) the
/// commitment of `session`'s root.
fn hypervisor_log(session: &LogExport) -> LogExport {
    let other = |n: u64, from: u64| {
        entries(n, None).into_iter().map(move |mut e| {
            e.seq += from;
            e.reason = format!("hv reason {}", e.seq);
            e
        })
    };
    let mut hv: Vec<AuditEntry> = other(4, 0).collect();
    hv.push(AuditEntry {
        seq: 4,
        at: Timestamp::from_secs(1_800_000_100),
        session_id: Some(SessionId::new(SESSION).unwrap()),
        agent_did: None,
        kind: SESSION_ROOT_KIND.into(),
        decision: Decision::Allowed,
        reason: "session audit root committed".into(),
        detail: json!({
            "participants": ["did:mesh:agent0"],
            "root": merkle::root(&session.leaf_hashes).to_hex(),
            "tree_size": session.leaf_hashes.len(),
        })
        .into(),
    });
    hv.extend(other(3, 5));
    LogExport::build(ORIGIN, HYPERVISOR_LOG, hv, &key(), KEY_NAME, &[]).unwrap()
}

/// The session's log of its first `n` entries, signed.
fn session_log(n: u64) -> LogExport {
    LogExport::build(
        ORIGIN,
        SESSION,
        entries(n, Some(SESSION)),
        &key(),
        KEY_NAME,
        &[],
    )
    .unwrap()
}

/// What the server exports by default: a terminated session's log and its anchor in the
/// hypervisor log, without the hypervisor log.
fn anchored_bundle() -> AuditBundle {
    let mut b = AuditBundle::new(ORIGIN, &verifier()).unwrap();
    let s = session_log(9);
    let hv = hypervisor_log(&s);
    let proof = merkle::inclusion_proof(&hv.leaf_hashes, 4).unwrap();
    b.anchors = vec![AnchorExport::new(
        SESSION,
        hv.entries[4].clone(),
        proof,
        hv.checkpoint,
    )];
    b.logs = vec![s];
    b
}

fn anchor_error(b: &AuditBundle) -> String {
    match verify_bundle(b) {
        Err(e @ BundleError::BadAnchor { .. }) => e.to_string(),
        other => panic!("expected a bad anchor, got {other:?}"),
    }
}

#[test]
fn an_anchored_session_log_verifies_without_the_hypervisor_log() {
    let b = anchored_bundle();
    let report = verify_bundle(&b).unwrap();
    assert_eq!((report.logs, report.anchors, report.signatures), (1, 1, 2));
    // It round-trips as JSON, and the hypervisor log's other entries are not in it.
    let text = serde_json::to_string(&b).unwrap();
    assert!(!text.contains("hv reason"));
    let back: AuditBundle = serde_json::from_str(&text).unwrap();
    assert_eq!(verify_bundle(&back).unwrap(), report);
}

#[test]
fn an_anchor_must_name_a_bundled_session_log() {
    let mut b = anchored_bundle();
    b.anchors[0].log_id = "session:other".into();
    assert!(anchor_error(&b).contains("names no bundled session log"));
    let mut b = anchored_bundle();
    b.logs.clear();
    assert!(anchor_error(&b).contains("names no bundled session log"));
}

#[test]
fn a_tampered_anchor_entry_or_proof_is_not_in_the_signed_hypervisor_log() {
    let mut b = anchored_bundle();
    b.anchors[0].entry.detail = json!({"root": "00", "tree_size": 9}).into();
    assert!(anchor_error(&b).contains("is not in the signed hypervisor log"));
    let mut b = anchored_bundle();
    b.anchors[0].proof[0] = Digest32::from_bytes([7; 32]);
    assert!(anchor_error(&b).contains("is not in the signed hypervisor log"));
}

#[test]
fn an_anchor_needs_a_signed_checkpoint_of_the_hypervisor_log() {
    let mut b = anchored_bundle();
    // A genuine signed checkpoint, but of the session log.
    b.anchors[0].checkpoint = b.logs[0].checkpoint.clone();
    assert!(anchor_error(&b).contains("is not `ahv.example/hypervisor`"));
    let mut b = anchored_bundle();
    b.anchors[0].checkpoint = b.anchors[0].checkpoint.replace("\n8\n", "\n9\n");
    assert!(anchor_error(&b).contains("hypervisor checkpoint"));
}

#[test]
fn an_anchor_must_be_the_root_commitment_of_that_session() {
    // Entry 0 of the hypervisor log, with a valid proof, is not a root commitment.
    let s = session_log(9);
    let hv = hypervisor_log(&s);
    let mut b = anchored_bundle();
    b.anchors[0].entry = hv.entries[0].clone();
    b.anchors[0].proof = merkle::inclusion_proof(&hv.leaf_hashes, 0).unwrap();
    assert!(anchor_error(&b).contains("not the root commitment of this session"));
}

#[test]
fn a_session_log_rewritten_and_resigned_after_its_commitment_is_caught() {
    // The operator's key re-signs a session log whose entry 2 changed after the session
    // ended: its own checkpoint verifies, but the root the hypervisor log committed does not
    // match.
    let mut b = anchored_bundle();
    let mut forged = entries(9, Some(SESSION));
    forged[2].reason = "rewritten".into();
    b.logs[0] = LogExport::build(ORIGIN, SESSION, forged, &key(), KEY_NAME, &[]).unwrap();
    assert!(anchor_error(&b).contains("is not the root of the bundled log's first 9 entries"));
    // Dropping entries after the fact is caught the same way.
    let mut b = anchored_bundle();
    b.logs[0] = session_log(7);
    assert!(anchor_error(&b).contains("larger than the bundled log"));
}

#[test]
fn entries_appended_after_the_commitment_keep_the_anchor_valid() {
    // A session log that grew after it was committed (e.g. a denial recorded later) still
    // anchors by its first `tree_size` entries.
    let mut b = anchored_bundle();
    b.logs[0] = session_log(11);
    assert_eq!(verify_bundle(&b).unwrap().anchors, 1);
}

/// [`anchored_bundle`] plus a proof that its hypervisor head extends the hypervisor log's
/// checkpoint at size 3 (as a witness would have saved it).
fn witnessed_bundle() -> AuditBundle {
    let mut b = anchored_bundle();
    let s = &b.logs[0];
    let hv = hypervisor_log(s);
    let old = LogExport::build(
        ORIGIN,
        HYPERVISOR_LOG,
        hv.entries[..3].to_vec(),
        &key(),
        KEY_NAME,
        &[],
    )
    .unwrap();
    b.consistency =
        vec![ConsistencyExport::build(HYPERVISOR_LOG, &old.checkpoint, &hv.leaf_hashes).unwrap()];
    b
}

#[test]
fn anchors_give_the_hypervisor_head_a_witnessed_checkpoint_is_proven_against() {
    let b = witnessed_bundle();
    let report = verify_bundle(&b).unwrap();
    assert_eq!(
        (report.anchors, report.consistency_proofs, report.signatures),
        (1, 1, 3)
    );
    // A wrong proof, or an old checkpoint of another history, is caught.
    let mut bad = witnessed_bundle();
    bad.consistency[0].proof[0] = Digest32::from_bytes([1; 32]);
    assert!(matches!(
        verify_bundle(&bad),
        Err(BundleError::BadConsistency { .. })
    ));
    let mut other = entries(3, None);
    other[1].reason = "another history".into();
    let forged = LogExport::build(ORIGIN, HYPERVISOR_LOG, other, &key(), KEY_NAME, &[]).unwrap();
    let mut bad = witnessed_bundle();
    bad.consistency[0].old_checkpoint = forged.checkpoint;
    assert!(matches!(
        verify_bundle(&bad),
        Err(BundleError::BadConsistency { .. })
    ));
    // Without anchors (or the hypervisor log) there is no head to prove against.
    let mut bad = witnessed_bundle();
    bad.anchors.clear();
    assert!(matches!(
        verify_bundle(&bad),
        Err(BundleError::UnknownLog { .. })
    ));
}
