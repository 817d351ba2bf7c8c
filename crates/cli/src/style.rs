//! Terminal colour, written by hand as ANSI escapes: on only when stdout is a terminal and
//! neither `--no-color`, `NO_COLOR` nor the config asks for plain output.

use std::io::IsTerminal;

/// Decides whether to colour and paints text.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    /// Colour when stdout is a terminal, `no_color` is false and `NO_COLOR` is unset or empty.
    pub fn detect(no_color: bool) -> Self {
        let env_off = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            on: !no_color && !env_off && std::io::stdout().is_terminal(),
        }
    }

    /// Never colour.
    pub fn plain() -> Self {
        Style { on: false }
    }

    /// Whether colour is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Bold.
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    /// Dimmed (secondary facts).
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    /// Green (allowed, verified).
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    /// Red (denied, failed).
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    /// Yellow (warnings, compensation).
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    /// Cyan (identifiers, headings).
    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_no_escapes() {
        assert_eq!(Style::plain().red("x"), "x");
        assert!(!Style::plain().is_on());
    }

    #[test]
    fn coloured_style_wraps_in_escapes() {
        let s = Style { on: true };
        assert_eq!(s.green("ok"), "\x1b[32mok\x1b[0m");
    }
}
