//! `ahv audit witness`: an outside party's check that the hypervisor log only ever grows.
//!
//! Why this exists: a signed checkpoint proves who signed a root, not that the operator never
//! signed a different history. A witness keeps the newest checkpoint it has verified in a small
//! state file; on each run (from cron, on another machine) it fetches the server's newest signed
//! checkpoint and accepts it only if it is signed by the same key and the server proves, with an
//! RFC 6962 consistency proof checked here against the two signed roots, that the new log
//! extends the old one. A log that shrank, forked or was rewritten is reported (exit 1) and the
//! state file keeps the last good checkpoint as evidence.

use std::path::Path;

use ahv_core::audit::checkpoint::{self, Checkpoint};
use ahv_core::audit::digest::Digest32;
use ahv_core::audit::merkle;
use ahv_core::audit::note::NoteVerifier;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::remote::{Client, runtime};
use crate::args::WitnessArgs;
use crate::config::Settings;
use crate::error::CliError;

/// What a witness keeps between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WitnessState {
    /// The operator's verifier key, pinned on first use or with `--key`.
    vkey: String,
    /// The newest checkpoint verified, as the signed note the server gave.
    pub(super) note: String,
    /// Its tree size.
    pub(super) tree_size: u64,
    /// Its root, hex.
    root: String,
}

/// The state of a witness that has witnessed a checkpoint (for `export`/`verify --witness`).
pub(super) fn witnessed(path: &Path) -> Result<WitnessState, CliError> {
    load_state(path)?.ok_or_else(|| {
        CliError::usage(
            format!(
                "`{}` does not exist: run `ahv audit witness` first",
                path.display()
            ),
            path.display().to_string(),
        )
    })
}

/// How a newly fetched checkpoint relates to the one witnessed before.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Nothing witnessed before.
    First,
    /// Same size and root as before.
    Unchanged,
    /// Larger: needs a consistency proof from `old` entries.
    Grew {
        /// The size witnessed before.
        old: u64,
    },
}

/// Compares the new signed checkpoint with the old one; a shrink or a fork is an error.
fn compare(old: Option<&Checkpoint>, new: &Checkpoint) -> Result<Step, String> {
    let Some(old) = old else {
        return Ok(Step::First);
    };
    if new.origin != old.origin {
        return Err(format!(
            "the checkpoint is of log `{}`, not of `{}` witnessed before",
            new.origin, old.origin
        ));
    }
    if new.size < old.size {
        return Err(format!(
            "the hypervisor log shrank: size {} was witnessed, the server now signs size {}",
            old.size, new.size
        ));
    }
    if new.size == old.size {
        return if new.root == old.root {
            Ok(Step::Unchanged)
        } else {
            Err(format!(
                "fork: two different signed roots at size {} ({} witnessed, {} now)",
                new.size,
                old.root.to_hex(),
                new.root.to_hex()
            ))
        };
    }
    Ok(Step::Grew { old: old.size })
}

fn load_state(path: &Path) -> Result<Option<WitnessState>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::read(path, &e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        CliError::usage(
            format!("`{}` is not a witness state file: {e}", path.display()),
            path.display().to_string(),
        )
    })
}

/// Writes the state so that a crash leaves either the old or the new file, never a mix.
fn save_state(path: &Path, state: &WitnessState) -> Result<(), CliError> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| CliError::usage(e.to_string(), "witness state"))?;
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| CliError::write(path, &e))
}

fn parse_key(vkey: &str, place: &str) -> Result<NoteVerifier, CliError> {
    NoteVerifier::parse(vkey.trim())
        .map_err(|e| CliError::usage(format!("invalid key: {e}"), place))
}

/// `ahv audit witness`: verifies the server's newest signed checkpoint of the hypervisor log
/// against the one witnessed before. Exit 0 consistent (state updated); 1 inconsistent or
/// wrongly signed (state kept); 2 cannot check (server, arguments, state file).
pub fn run(args: &WitnessArgs, settings: &Settings) -> Result<u8, CliError> {
    let client = Client::new(settings.server.as_deref(), args.token.as_deref());
    let state_path = args.state.as_path();
    let place = state_path.display().to_string();
    let old = load_state(state_path)?;
    runtime()?.block_on(async {
        let vkey = match (&args.key, &old) {
            (Some(k), Some(s)) if k.trim() != s.vkey => {
                return Err(CliError::check(
                    "the state file was witnessed with another key than --key",
                    place,
                ));
            }
            (Some(k), _) => k.trim().to_string(),
            (None, Some(s)) => s.vkey.clone(),
            (None, None) => {
                let k = client.get("/api/v1/audit/public-key").await?;
                let vkey = k.get("vkey").and_then(Value::as_str).unwrap_or_default();
                eprintln!("trusting key {vkey} on first use (pin it with --key)");
                vkey.to_string()
            }
        };
        let verifier = parse_key(&vkey, "--key")?;
        let old_cp = match &old {
            Some(s) => Some(checkpoint::verify_with(&s.note, &verifier).map_err(|e| {
                CliError::usage(
                    format!("the witnessed checkpoint does not verify: {e}"),
                    &place,
                )
            })?),
            None => None,
        };
        let list = client.get("/api/v1/audit/checkpoints").await?;
        let Some(note) = list
            .get("checkpoints")
            .and_then(Value::as_array)
            .and_then(|a| a.last())
            .and_then(|c| c.get("note"))
            .and_then(Value::as_str)
        else {
            println!("nothing to witness yet: the server has signed no checkpoint");
            return Ok(0);
        };
        let new = checkpoint::verify_with(note, &verifier).map_err(|e| {
            CliError::check(
                format!("the server's newest checkpoint is not signed by the witnessed key: {e}"),
                &place,
            )
        })?;
        if !new.origin.ends_with("/hypervisor") {
            return Err(CliError::check(
                format!(
                    "the newest checkpoint is of log `{}`, not of a hypervisor log",
                    new.origin
                ),
                place,
            ));
        }
        let step = compare(old_cp.as_ref(), &new).map_err(|e| CliError::check(e, &place))?;
        if let (Step::Grew { old: size }, Some(old_cp)) = (&step, &old_cp) {
            let path = format!("/api/v1/audit/consistency?old={size}&new={}", new.size);
            let answer = client.get(&path).await?;
            let proof = parse_proof(&answer)
                .map_err(|e| CliError::usage(format!("bad consistency answer: {e}"), &path))?;
            merkle::verify_consistency(old_cp.size, new.size, &old_cp.root, &new.root, &proof)
                .map_err(|e| {
                    CliError::check(
                        format!(
                            "the log at size {} does not extend the log witnessed at size {}: {e}",
                            new.size, old_cp.size
                        ),
                        &place,
                    )
                })?;
        }
        save_state(
            state_path,
            &WitnessState {
                vkey: vkey.clone(),
                note: note.to_string(),
                tree_size: new.size,
                root: new.root.to_hex(),
            },
        )?;
        match step {
            Step::First => println!(
                "witnessed `{}` at size {} (first checkpoint)",
                new.origin, new.size
            ),
            Step::Unchanged => println!(
                "witnessed `{}` at size {} (unchanged)",
                new.origin, new.size
            ),
            Step::Grew { old } => println!(
                "witnessed `{}` at size {}, proven to extend size {old}",
                new.origin, new.size
            ),
        }
        Ok(0)
    })
}

fn parse_proof(answer: &Value) -> Result<Vec<Digest32>, String> {
    answer
        .get("proof")
        .and_then(Value::as_array)
        .ok_or("no `proof` array")?
        .iter()
        .map(|h| {
            h.as_str()
                .ok_or_else(|| "a proof hash is not a string".to_string())
                .and_then(|h| Digest32::from_hex(h).map_err(|e| e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(size: u64, root: u8) -> Checkpoint {
        Checkpoint {
            origin: "ahv.example/hypervisor".into(),
            size,
            root: Digest32::from_bytes([root; 32]),
        }
    }

    #[test]
    fn a_log_may_only_grow() {
        assert_eq!(compare(None, &cp(3, 1)), Ok(Step::First));
        assert_eq!(compare(Some(&cp(3, 1)), &cp(3, 1)), Ok(Step::Unchanged));
        assert_eq!(
            compare(Some(&cp(3, 1)), &cp(5, 2)),
            Ok(Step::Grew { old: 3 })
        );
        let shrank = compare(Some(&cp(5, 1)), &cp(3, 1)).unwrap_err();
        assert!(shrank.contains("shrank"), "{shrank}");
        let fork = compare(Some(&cp(3, 1)), &cp(3, 2)).unwrap_err();
        assert!(fork.starts_with("fork"), "{fork}");
        let mut other = cp(4, 1);
        other.origin = "elsewhere/hypervisor".into();
        assert!(compare(Some(&cp(3, 1)), &other).is_err());
    }

    #[test]
    fn proofs_are_parsed_strictly() {
        let h = Digest32::from_bytes([9; 32]).to_hex();
        assert_eq!(
            parse_proof(&serde_json::json!({ "proof": [h] }))
                .unwrap()
                .len(),
            1
        );
        assert!(parse_proof(&serde_json::json!({ "proof": ["zz"] })).is_err());
        assert!(parse_proof(&serde_json::json!({})).is_err());
    }
}
