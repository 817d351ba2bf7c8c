//! The checkpoint signer: holds the Ed25519 key, signs checkpoints of the hypervisor log per
//! batch (off the request path), and builds audit bundles a third party verifies with the
//! public key alone.

use ahv_core::audit::bundle::{
    AnchorExport, AuditBundle, ConsistencyExport, LogExport, log_origin,
};
use ahv_core::audit::checkpoint::Checkpoint;
use ahv_core::audit::digest::Digest32;
use ahv_core::audit::note::{NoteVerifier, SignedNote};
use ahv_core::engine::{AuditTrail, Engine, EngineError};
use ahv_core::id::SessionId;
use ed25519_dalek::SigningKey;

pub use ahv_core::audit::bundle::HYPERVISOR_LOG;

/// What to put in an audit bundle.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExportRequest<'a> {
    /// Sessions whose logs to include (each ended one anchored in the hypervisor log).
    pub sessions: &'a [SessionId],
    /// Entry indexes to prove by inclusion in each session log.
    pub prove: &'a [u64],
    /// Include the whole hypervisor log too. It names every session's participants, so only an
    /// operator should ask.
    pub whole_hypervisor_log: bool,
    /// A signed checkpoint of the hypervisor log seen earlier, e.g. by a witness: the bundle
    /// then proves that its hypervisor head extends it.
    pub witnessed: Option<&'a str>,
}

/// Signs checkpoints and exports.
pub struct Signer {
    key: SigningKey,
    key_name: String,
    origin: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_name", &self.key_name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `origin` with `key` named `key_name` in signed notes.
    pub fn new(key: SigningKey, key_name: &str, origin: &str) -> Self {
        Signer {
            key,
            key_name: key_name.to_string(),
            origin: origin.to_string(),
        }
    }

    /// A fresh random signing key.
    pub fn generate_key() -> Result<SigningKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no entropy for a signing key: {e}"))?;
        Ok(SigningKey::from_bytes(&seed))
    }

    /// The verifier key in signed-note `vkey` form (`name+keyid+base64`), the one thing a third
    /// party needs to check checkpoints and bundles.
    pub fn vkey(&self) -> String {
        NoteVerifier::new(&self.key_name, self.key.verifying_key())
            .map(|v| v.to_vkey())
            .unwrap_or_default()
    }

    /// The raw Ed25519 public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// Checkpoint origin prefix.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Signs a checkpoint of the hypervisor log at `size` with `root`.
    pub fn sign_hypervisor(&self, size: u64, root: Digest32) -> Result<String, String> {
        Checkpoint::new(&log_origin(&self.origin, HYPERVISOR_LOG), size, root)
            .and_then(|cp| cp.sign(&self.key, &self.key_name))
            .map(|n| n.to_string())
            .map_err(|e| e.to_string())
    }

    /// Exports the requested sessions' logs as a verifiable bundle, with inclusion proofs for
    /// the requested entries, and an anchor for each terminated session: the hypervisor-log
    /// entry that committed its root, proven against a fresh signed checkpoint of the
    /// hypervisor log. On request, the whole hypervisor log (with a consistency proof from its
    /// last recorded checkpoint), and a consistency proof from a witnessed checkpoint.
    pub fn export(
        &self,
        engine: &Engine,
        req: &ExportRequest<'_>,
    ) -> Result<AuditBundle, EngineError> {
        let (sessions, prove, whole_hypervisor_log) =
            (req.sessions, req.prove, req.whole_hypervisor_log);
        let bad = |e: ahv_core::audit::bundle::BundleError| {
            EngineError::Conflict(format!("cannot build bundle: {e}"))
        };
        let verifier = NoteVerifier::new(&self.key_name, self.key.verifying_key())
            .map_err(|e| EngineError::Conflict(e.to_string()))?;
        let mut bundle = AuditBundle::new(&self.origin, &verifier).map_err(bad)?;
        let hv = engine.hypervisor_log();
        if whole_hypervisor_log {
            bundle
                .logs
                .push(self.export_trail(hv, HYPERVISOR_LOG, &[])?);
            if let Some((_, note)) = engine.signed_checkpoints().last()
                && let Ok(c) = ConsistencyExport::build(HYPERVISOR_LOG, note, hv.log().leaves())
            {
                bundle.consistency.push(c);
            }
        }
        let mut hv_checkpoint = None;
        for s in sessions {
            let trail = engine.audit_trail(s)?;
            bundle
                .logs
                .push(self.export_trail(trail, s.as_str(), prove)?);
            if let Some(index) = engine.books().slot(s)?.hv_index {
                let checkpoint = match &hv_checkpoint {
                    Some(c) => c,
                    None => hv_checkpoint.insert(
                        self.sign_hypervisor(hv.len(), hv.root())
                            .map_err(EngineError::Conflict)?,
                    ),
                };
                bundle.anchors.push(Self::anchor(hv, s, index, checkpoint)?);
            }
        }
        if let Some(note) = req.witnessed {
            if !whole_hypervisor_log && bundle.anchors.is_empty() {
                return Err(EngineError::Invalid(
                    "a witnessed checkpoint needs a hypervisor head in the bundle: include an \
                     ended session or the hypervisor log"
                        .into(),
                ));
            }
            bundle.consistency.push(self.prove_witnessed(hv, note)?);
        }
        Ok(bundle)
    }

    /// A proof that the hypervisor log now extends the checkpoint `note` (read, not verified:
    /// the bundle's verifier checks its signature).
    fn prove_witnessed(
        &self,
        hv: &AuditTrail,
        note: &str,
    ) -> Result<ConsistencyExport, EngineError> {
        let bad = |why: String| EngineError::Invalid(format!("witnessed checkpoint: {why}"));
        let old = SignedNote::parse(note)
            .map_err(|e| e.to_string())
            .and_then(|n| Checkpoint::parse_body(n.text()).map_err(|e| e.to_string()))
            .map_err(bad)?;
        let ours = log_origin(&self.origin, HYPERVISOR_LOG);
        if old.origin != ours {
            return Err(bad(format!("it is of log `{}`, not `{ours}`", old.origin)));
        }
        ConsistencyExport::build(HYPERVISOR_LOG, note, hv.log().leaves())
            .map_err(|e| bad(e.to_string()))
    }

    /// The anchor of session `s`, committed at `index` of the hypervisor log `hv`.
    fn anchor(
        hv: &AuditTrail,
        s: &SessionId,
        index: u64,
        checkpoint: &str,
    ) -> Result<AnchorExport, EngineError> {
        let cannot =
            |why: String| EngineError::Conflict(format!("cannot anchor the log of `{s}`: {why}"));
        let entry = hv
            .entry(index)
            .cloned()
            .ok_or_else(|| cannot(format!("hypervisor entry {index} is not held")))?;
        let proof = hv
            .log()
            .inclusion_proof(index, hv.len())
            .map_err(|e| cannot(e.to_string()))?;
        Ok(AnchorExport::new(
            s.as_str(),
            entry,
            proof,
            checkpoint.to_owned(),
        ))
    }

    fn export_trail(
        &self,
        trail: &AuditTrail,
        log_id: &str,
        prove: &[u64],
    ) -> Result<LogExport, EngineError> {
        if trail.first_held() > 0 {
            return Err(EngineError::Conflict(format!(
                "log `{log_id}` holds only entries from {} in memory; export from the store",
                trail.first_held()
            )));
        }
        let entries = trail.entries(0, usize::MAX).into_iter().cloned().collect();
        let prove: Vec<u64> = prove.iter().copied().filter(|i| *i < trail.len()).collect();
        // The log's own leaf hashes: hashing every entry again would hold the engine's read
        // lock (and so every write) for about a second per million entries.
        LogExport::build_with_hashes(
            &self.origin,
            log_id,
            entries,
            trail.log().leaves().to_vec(),
            &self.key,
            &self.key_name,
            &prove,
        )
        .map_err(|e| EngineError::Conflict(format!("cannot export `{log_id}`: {e}")))
    }
}
