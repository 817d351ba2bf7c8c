//! `ahv saga validate FILE`: parses a saga definition with the core DSL parser and reports every
//! problem as `FILE:line:column: message` (compiler style), or a summary of a valid saga.

use ahv_core::saga::parse_saga;

use crate::args::ValidateArgs;
use crate::error::{CliError, EXIT_CHECK_FAILED};
use crate::out;

/// Runs `ahv saga validate`: 0 valid, 1 invalid, 2 unreadable.
pub fn validate(a: &ValidateArgs) -> Result<u8, CliError> {
    let path = &a.file;
    let text = std::fs::read_to_string(path).map_err(|e| CliError::read(path, &e))?;
    let name = path.display().to_string();
    match parse_saga(&text) {
        Ok(def) => {
            out::line(format!(
                "{name}: valid saga `{}` for session `{}`: {} step{}, {} fan-out{}",
                def.name,
                def.session_id,
                def.steps.len(),
                plural(def.steps.len()),
                def.fan_outs.len(),
                plural(def.fan_outs.len()),
            ));
            let w_id = def
                .steps
                .iter()
                .map(|s| s.step_id.as_str().len())
                .max()
                .unwrap_or(0);
            let w_agent = def
                .steps
                .iter()
                .map(|s| s.agent.as_str().len())
                .max()
                .unwrap_or(0);
            for (i, s) in def.steps.iter().enumerate() {
                let undo = s
                    .undo_api
                    .as_deref()
                    .map_or_else(|| "no undo".to_string(), |u| format!("undo {u}"));
                out::line(format!(
                    "  {:>2}. {:<w_id$}  {:<w_agent$}  {}  ({undo})",
                    i + 1,
                    s.step_id.as_str(),
                    s.agent.as_str(),
                    s.execute_api,
                ));
            }
            for f in &def.fan_outs {
                let branches: Vec<&str> = f.branches.iter().map(|b| b.as_str()).collect();
                out::line(format!(
                    "  fan-out {} ({}): {}",
                    f.group_id,
                    f.policy.name(),
                    branches.join(", ")
                ));
            }
            Ok(0)
        }
        Err(e) => {
            let problems = e.problems();
            if problems.is_empty() {
                out::line(format!("{name}: {e}"));
            }
            for p in problems {
                match (p.line, p.column) {
                    (Some(l), Some(c)) => out::line(format!("{name}:{l}:{c}: {}", p.message)),
                    (Some(l), None) => out::line(format!("{name}:{l}: {}", p.message)),
                    _ => out::line(format!("{name}: {}", p.message)),
                }
            }
            let n = problems.len().max(1);
            out::err_line(format!(
                "error: invalid saga definition: {n} problem{} ({name})",
                plural(n)
            ));
            Ok(EXIT_CHECK_FAILED)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
