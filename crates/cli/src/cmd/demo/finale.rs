//! Parts 7–8 of the demo: a burst of privileged calls trips the breach breaker and quarantines
//! the agent; then the session terminates with a Merkle root, the hypervisor log is checkpointed
//! and signed, an inclusion proof of one entry is verified, and the exported bundle verifies
//! (and a tampered copy does not).

use ahv_core::audit::bundle::{AuditBundle, verify_bundle};
use ahv_core::audit::digest::Digest32;
use ahv_core::audit::entry::Decision;
use ahv_core::audit::merkle::verify_inclusion;
use ahv_core::engine::{ActionRequest, Command, Reply};
use serde_json::json;

use super::trust::print_outcome;
use super::world::{DEPLOY, Outcome, World};

/// Most calls in the burst before the demo gives up waiting for the breaker.
const MAX_BURST: usize = 10;

/// Part 7: carol hammers the ring-1 deploy until the breaker trips; she is quarantined and her
/// next write is refused for that reason.
pub(crate) async fn breach(w: &mut World) -> Result<(), String> {
    w.n.section("A breach: a burst of privileged calls trips the breaker and quarantines");
    let carol = w.carol.clone();
    let mut codes = Vec::new();
    let mut tripped: Option<Outcome> = None;
    for _ in 0..MAX_BURST {
        let o = w.deploy(&carol).await?;
        codes.push(o.code().to_string());
        if o.code() == "breaker_tripped" {
            tripped = Some(o);
            break;
        }
    }
    w.n.kv(
        "burst",
        format!("{} calls to {DEPLOY}: {}", codes.len(), codes.join(", ")),
    );
    if let Some(o) = &tripped {
        print_outcome(w, &carol, DEPLOY, o);
    }
    let p = w.participant(&carol)?;
    w.n.kv(
        "carol now",
        format!(
            "quarantined: {}, breaker tripped: {}",
            p.quarantined, p.breaker_tripped
        ),
    );
    w.n.event(
        "breach",
        json!({
            "agent": carol, "calls": codes, "code": tripped.as_ref().map(|o| o.code().to_string()),
            "reason": tripped.as_ref().map(|o| o.reason().to_string()),
            "quarantined": p.quarantined, "breaker_tripped": p.breaker_tripped,
        }),
    );
    w.n.check(
        "the breaker tripped and carol is quarantined",
        tripped.is_some() && p.quarantined && p.breaker_tripped,
    );
    let write = ActionRequest::VfsWrite {
        path: "/notes/escape.txt".into(),
        content: "let me out".into(),
    };
    let o = w.act(&carol, write).await?;
    print_outcome(w, &carol, "vfs write", &o);
    w.n.event(
        "quarantine_enforced",
        json!({ "agent": carol, "action": "vfs_write", "code": o.code(), "reason": o.reason() }),
    );
    w.n.check(
        "a quarantined agent may not write",
        o.code() == "quarantined",
    );
    Ok(())
}

/// Part 8: terminate, checkpoint, inclusion proof, bundle. Returns the bundle.
pub(crate) async fn seal(w: &mut World) -> Result<AuditBundle, String> {
    w.n.section("The session ends: Merkle root, signed checkpoint, verified inclusion proof");
    let sid = w.sid()?;
    let r = w
        .admin(Command::Terminate {
            session_id: sid.clone(),
        })
        .await?;
    let Reply::Terminated(t) = r else {
        return Err(format!("unexpected reply {r:?}"));
    };
    let root_hex = t
        .merkle_root
        .clone()
        .ok_or("terminate returned no Merkle root")?;
    w.n.kv("Merkle root", w.n.style.bold(&root_hex));
    w.n.kv("audit entries", t.tree_size.to_string());
    w.n.kv(
        "hypervisor log",
        format!(
            "root committed at index {}",
            t.hv_index.map_or("-".to_string(), |i| i.to_string())
        ),
    );
    w.n.event("terminated", json!({ "session_id": sid, "merkle_root": root_hex, "tree_size": t.tree_size, "hv_index": t.hv_index }));
    w.n.check(
        "termination committed a Merkle root to the hypervisor log",
        t.hv_index.is_some() && t.tree_size > 0,
    );

    let note =
        w.hv.checkpoint_now()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no checkpoint was signed")?;
    let vkey = w.hv.signer().vkey();
    let lines: Vec<&str> = note.lines().collect();
    w.n.kv(
        "signed checkpoint",
        lines
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<_>>()
            .join(" | "),
    );
    w.n.kv("verifier key", &vkey);
    w.n.event("checkpoint", json!({ "note": note, "key": vkey }));
    w.n.check(
        "the checkpoint is a signed note",
        lines.iter().any(|l| l.starts_with('—')),
    );

    // Prove carol's first denial is in the committed log.
    let index =
        w.hv.read(|e| {
            e.audit_trail(&sid).ok().and_then(|trail| {
                trail
                    .entries(0, usize::MAX)
                    .into_iter()
                    .find(|x| {
                        x.decision == Decision::Denied && x.agent_did.as_ref() == Some(&w.carol)
                    })
                    .map(|x| x.seq)
            })
        })
        .map_err(|e| e.to_string())?
        .ok_or("no denial of carol in the audit log")?;
    let bundle =
        w.hv.read(|e| {
            w.hv.signer().export(
                e,
                &ahv_runtime::signer::ExportRequest {
                    sessions: std::slice::from_ref(&sid),
                    prove: &[index],
                    ..Default::default()
                },
            )
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let log = bundle
        .logs
        .iter()
        .find(|l| l.log_id == sid.as_str())
        .ok_or("the bundle lacks the session log")?;
    let proof = log
        .inclusion_proofs
        .iter()
        .find(|p| p.index == index)
        .ok_or("the bundle lacks the inclusion proof")?;
    let entry = log
        .entries
        .get(usize::try_from(index).map_err(|e| e.to_string())?)
        .ok_or("entry missing")?;
    let root = Digest32::from_hex(&root_hex).map_err(|e| e.to_string())?;
    let verified =
        verify_inclusion(&entry.leaf_hash(), index, t.tree_size, &proof.proof, &root).is_ok();
    w.n.kv(
        "inclusion proof",
        format!(
            "entry #{index} ({}, {}) — {} hashes → root: {}",
            entry.kind,
            entry.reason,
            proof.proof.len(),
            if verified {
                w.n.style.green("verified")
            } else {
                w.n.style.red("MISMATCH")
            }
        ),
    );
    w.n.event(
        "inclusion_proof",
        json!({ "index": index, "kind": entry.kind, "reason": entry.reason, "tree_size": t.tree_size, "proof_len": proof.proof.len(), "root": root_hex, "verified": verified }),
    );
    w.n.check(
        "the inclusion proof of carol's denial verifies against the committed root",
        verified,
    );

    let report =
        verify_bundle(&bundle).map_err(|e| format!("the fresh bundle does not verify: {e}"))?;
    w.n.kv(
        "audit bundle",
        format!(
            "{} logs, {} entries, {} signatures, {} inclusion and {} consistency proofs, {} anchors verified",
            report.logs,
            report.entries,
            report.signatures,
            report.inclusion_proofs,
            report.consistency_proofs,
            report.anchors
        ),
    );
    w.n.event(
        "bundle_verified",
        serde_json::to_value(&report).map_err(|e| e.to_string())?,
    );
    let mut tampered = bundle.clone();
    let detected = match tampered
        .logs
        .iter_mut()
        .find(|l| l.log_id == sid.as_str())
        .and_then(|l| l.entries.get_mut(1))
    {
        Some(e) => {
            e.reason.push('!');
            verify_bundle(&tampered).err().map(|e| e.to_string())
        }
        None => None,
    };
    w.n.kv(
        "tampered copy",
        detected.clone().map_or_else(
            || w.n.style.red("NOT DETECTED"),
            |e| format!("{} {e}", w.n.style.green("rejected:")),
        ),
    );
    w.n.event(
        "tamper_detected",
        json!({ "detected": detected.is_some(), "error": detected }),
    );
    w.n.check(
        "the bundle verifies and a one-character change to an entry is detected",
        detected.is_some(),
    );
    Ok(bundle)
}
