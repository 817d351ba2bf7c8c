//! The demo's voice: numbered sections and aligned lines in the terminal (coloured when it is a
//! terminal), or one JSON object per line with `--json`. Also the ledger of the demo's own
//! checks: every expected fact is checked, and the exit code says whether all held.

use serde_json::{Map, Value, json};

use crate::out;
use crate::style::Style;

/// Writes the narration and keeps the checks.
#[derive(Debug)]
pub(crate) struct Narrator {
    json: bool,
    /// Colours for the plain narration.
    pub(crate) style: Style,
    section: usize,
    checks: usize,
    failed: Vec<String>,
}

impl Narrator {
    /// A narrator printing JSON lines (`json`) or plain text with `style`.
    pub(crate) fn new(json: bool, style: Style) -> Self {
        Narrator {
            json,
            style,
            section: 0,
            checks: 0,
            failed: Vec::new(),
        }
    }

    /// Whether output is JSON lines.
    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// Starts a numbered section (plain output only).
    pub(crate) fn section(&mut self, title: &str) {
        self.section += 1;
        if !self.json {
            out::line("");
            let head = format!("▸ {}. {title}", self.section);
            out::line(self.style.bold(&self.style.cyan(&head)));
        }
    }

    /// One line of narration (plain output only), indented under the section.
    pub(crate) fn say(&self, text: impl AsRef<str>) {
        if !self.json {
            out::line(format!("   {}", text.as_ref()));
        }
    }

    /// A labelled, aligned line: `label` padded to 22 columns, then `value`.
    pub(crate) fn kv(&self, label: &str, value: impl AsRef<str>) {
        if !self.json {
            out::line(format!(
                "   {}{}",
                self.style.dim(&format!("{label:<22}")),
                value.as_ref()
            ));
        }
    }

    /// A machine-readable event (JSON output only): `{"step": step, ...facts}`.
    pub(crate) fn event(&self, step: &str, facts: Value) {
        if self.json {
            let mut m = Map::new();
            m.insert("step".into(), json!(step));
            if let Value::Object(f) = facts {
                m.extend(f);
            }
            out::line(Value::Object(m).to_string());
        }
    }

    /// Records whether an expected fact held; printed as ✓ or ✗ (JSON: a `check` event).
    pub(crate) fn check(&mut self, what: &str, ok: bool) {
        self.checks += 1;
        if !ok {
            self.failed.push(what.to_string());
        }
        if self.json {
            self.event("check", json!({ "check": what, "ok": ok }));
        } else if ok {
            out::line(format!("   {} {what}", self.style.green("✓")));
        } else {
            out::line(format!("   {} {what}", self.style.red("✗ UNEXPECTED:")));
        }
    }

    /// Checks recorded so far and those that failed.
    pub(crate) fn tally(&self) -> (usize, &[String]) {
        (self.checks, &self.failed)
    }
}
