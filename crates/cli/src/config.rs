//! Configuration: command-line flags, then `AHV_*` environment variables (both handled by
//! clap), then an optional TOML file given with `--config FILE` (or `AHV_CONFIG`), then
//! defaults. This module reads the file and merges it under what clap resolved.
//!
//! The file is strict: an unknown key is an error, so a typo never silently does nothing.
//!
//! ```toml
//! server = "http://127.0.0.1:8080"   # ahv status / saga run / audit export
//! listen = "127.0.0.1:8080"          # ahv serve
//! data_dir = "/var/lib/ahv"          # ahv serve / ahv demo
//! no_color = true                    # plain output
//!
//! [engine]                           # ahv serve: the engine's tunables (see engine_config)
//! rate_limits.ring3 = { rate_per_sec = 5, burst = 10 }
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine_config::EngineSection;
use crate::error::CliError;

/// Keys accepted in the TOML file. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Base URL of a running server.
    pub server: Option<String>,
    /// Address `ahv serve` listens on.
    pub listen: Option<String>,
    /// Data directory of the durable store.
    pub data_dir: Option<PathBuf>,
    /// Plain output without colour.
    pub no_color: Option<bool>,
    /// The engine's tunables (`ahv serve`).
    pub engine: Option<EngineSection>,
}

impl FileConfig {
    /// Reads and parses `path`. A missing or malformed file is an error naming the file (and
    /// the line and column of the problem).
    pub fn load(path: &Path) -> Result<FileConfig, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::read(path, &e))?;
        Self::parse(&text, path)
    }

    /// Parses TOML text that came from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, CliError> {
        toml::from_str(text).map_err(|e| {
            let place = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(text, span.start);
                    format!("{}:{l}:{c}", path.display())
                }
                None => path.display().to_string(),
            };
            CliError::usage(format!("invalid configuration: {}", e.message()), place)
        })
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for (i, ch) in text.char_indices() {
        if i >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// Settings after merging flags, environment, file and defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Plain output.
    pub no_color: bool,
    /// Base URL of a running server, if any.
    pub server: Option<String>,
    /// Listen address for `ahv serve`.
    pub listen: Option<String>,
    /// Data directory, if any.
    pub data_dir: Option<PathBuf>,
    /// The `[engine]` section of the file (only the file sets it).
    pub engine: EngineSection,
}

impl Settings {
    /// Merges values from the command line (already including the environment) over the file.
    /// `no_color` is `None` when neither the flag nor `AHV_NO_COLOR` was given.
    pub fn merge(
        file: &FileConfig,
        no_color: Option<bool>,
        server: Option<String>,
        listen: Option<String>,
        data_dir: Option<PathBuf>,
    ) -> Settings {
        Settings {
            no_color: no_color.or(file.no_color).unwrap_or(false),
            server: server.or_else(|| file.server.clone()),
            listen: listen.or_else(|| file.listen.clone()),
            data_dir: data_dir.or_else(|| file.data_dir.clone()),
            engine: file.engine.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let file = FileConfig {
            server: Some("http://file".into()),
            no_color: Some(true),
            ..FileConfig::default()
        };
        let s = Settings::merge(&file, Some(false), Some("http://flag".into()), None, None);
        assert_eq!(s.server.as_deref(), Some("http://flag"));
        assert!(!s.no_color);
        let s = Settings::merge(&file, None, None, None, None);
        assert_eq!(s.server.as_deref(), Some("http://file"));
        assert!(s.no_color);
    }

    #[test]
    fn unknown_keys_are_errors_with_a_position() {
        let e =
            FileConfig::parse("server = \"x\"\nbogus = 1\n", Path::new("ahv.toml")).unwrap_err();
        assert_eq!(e.place, "ahv.toml:2:1");
        assert!(e.what.contains("bogus"), "{}", e.what);
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
