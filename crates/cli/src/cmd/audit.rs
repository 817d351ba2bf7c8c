//! `ahv audit verify BUNDLE.json [--key VKEY]`: offline verification of an exported audit
//! bundle with `verify_bundle` (or `verify_bundle_with_key` when the operator's key is pinned).
//!
//! Exit codes: 0 verified; 1 the bundle does not verify (the first bad item is named); 2 the file
//! cannot be read, is not JSON, is truncated, or does not have the shape of a bundle. A file that
//! is not a bundle at all is an input error rather than evidence of tampering, hence 2.

use std::path::Path;

use ahv_core::audit::bundle::{
    AuditBundle, BundleError, HYPERVISOR_LOG, VerifyReport, verify_bundle, verify_bundle_with_key,
};
use ahv_core::audit::note::NoteVerifier;

use crate::args::VerifyArgs;
use crate::config::Settings;
use crate::error::CliError;
use crate::out;
use crate::style::Style;

/// Runs `ahv audit verify`.
pub fn verify(a: &VerifyArgs, settings: &Settings) -> Result<u8, CliError> {
    let style = Style::detect(settings.no_color);
    let bundle = load_bundle(&a.bundle)?;
    let place = a.bundle.display().to_string();
    let pinned = match &a.key {
        Some(k) => Some(
            NoteVerifier::parse(k.trim())
                .map_err(|e| CliError::usage(format!("invalid --key: {e}"), "--key"))?,
        ),
        None => None,
    };
    let result = match &pinned {
        Some(v) => verify_bundle_with_key(&bundle, v),
        None => verify_bundle(&bundle),
    };
    let witnessed = match &a.witness {
        Some(path) => Some(super::witness::witnessed(path)?),
        None => None,
    };
    match result {
        Ok(report) => {
            print_report(&style, &place, &bundle, &report, pinned.is_some());
            if let Some(w) = witnessed {
                let proven = bundle.consistency.iter().any(|c| {
                    c.log_id == HYPERVISOR_LOG && c.old_checkpoint.trim() == w.note.trim()
                });
                if !proven {
                    return Err(CliError::check(
                        format!(
                            "the bundle does not prove that its hypervisor log extends the \
                             checkpoint witnessed at size {} (export it with --witness)",
                            w.tree_size
                        ),
                        place,
                    ));
                }
                out::line(format!(
                    "  {}hypervisor log proven to extend the checkpoint witnessed at size {}",
                    style.dim(&format!("{:<20}", "witness")),
                    w.tree_size
                ));
            }
            Ok(0)
        }
        Err(e) => {
            out::line(format!("{} {place}", style.red(&style.bold("FAILED"))));
            if let Some(detail) = describe_bad_entry(&bundle, &e) {
                out::line(format!("  {detail}"));
            }
            Err(CliError::check(
                format!("audit bundle does not verify: {e}"),
                place,
            ))
        }
    }
}

/// Reads and parses a bundle; every failure is one line with the file (and position).
pub fn load_bundle(path: &Path) -> Result<AuditBundle, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::read(path, &e))?;
    serde_json::from_str(&text).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Eof => "is truncated (unexpected end of JSON)".to_string(),
            Category::Syntax => format!("is not JSON: {}", strip_position(&e)),
            Category::Data => format!("is not an audit bundle: {}", strip_position(&e)),
            Category::Io => format!("cannot be read: {e}"),
        };
        CliError::usage(
            format!("`{}` {what}", path.display()),
            format!("{}:{}:{}", path.display(), e.line(), e.column()),
        )
    })
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn print_report(style: &Style, place: &str, bundle: &AuditBundle, r: &VerifyReport, pinned: bool) {
    out::line(format!("{} {place}", style.green(&style.bold("VERIFIED"))));
    let key_note = if pinned {
        "pinned with --key"
    } else {
        "bundled key; pin it with --key to prove who signed"
    };
    let rows = [
        ("origin", bundle.origin.clone()),
        ("public key", format!("{} ({key_note})", bundle.public_key)),
        ("logs", r.logs.to_string()),
        (
            "entries",
            format!(
                "{} re-hashed, each equal to its signed leaf hash",
                r.entries
            ),
        ),
        (
            "signatures",
            format!("{} signed checkpoints valid", r.signatures),
        ),
        (
            "inclusion proofs",
            format!("{} verified", r.inclusion_proofs),
        ),
        (
            "consistency proofs",
            format!("{} verified", r.consistency_proofs),
        ),
        (
            "anchors",
            format!(
                "{} session logs proven committed by the signed hypervisor log",
                r.anchors
            ),
        ),
    ];
    for (k, v) in rows {
        out::line(format!("  {}{v}", style.dim(&format!("{k:<20}"))));
    }
    for log in &bundle.logs {
        let anchored = bundle
            .anchors
            .iter()
            .find(|a| a.log_id == log.log_id)
            .map(|a| format!(", root committed at hypervisor entry #{}", a.entry.seq))
            .unwrap_or_default();
        out::line(format!(
            "  {}{} entries, {} inclusion proofs{anchored}",
            style.dim(&format!("{:<20}", "log")),
            log.entries.len(),
            log.inclusion_proofs.len()
        ));
        out::line(format!("  {:<20}{}", "", style.cyan(&log.log_id)));
    }
}

/// For an entry mismatch, what the (tampered) entry says now.
fn describe_bad_entry(bundle: &AuditBundle, e: &BundleError) -> Option<String> {
    let (log_id, index) = match e {
        BundleError::EntryMismatch { log_id, index }
        | BundleError::SeqMismatch { log_id, index, .. } => (log_id, *index),
        _ => return None,
    };
    let log = bundle.logs.iter().find(|l| &l.log_id == log_id)?;
    let entry = log.entries.get(usize::try_from(index).ok()?)?;
    let agent = entry.agent_did.as_ref().map_or("-", |a| a.as_str());
    Some(format!(
        "first bad entry: #{index} of `{log_id}` (kind {}, agent {agent}, decision {}, at {})",
        entry.kind,
        entry.decision.as_str(),
        entry.at.to_rfc3339()
    ))
}
