//! Normalised paths inside one session's file system.
//!
//! The reference joined strings: it kept `..` literally and decided "inside this session" with a
//! raw string prefix, so a path of `session:10` passed the check of `session:1`. A [`VfsPath`]
//! is a list of validated segments relative to the session's root, so escaping the namespace is
//! not expressible. Rules, applied by [`VfsPath::parse`]:
//!
//! - `/` separates segments; empty segments (`a//b`, a leading or trailing `/`) and `.` are
//!   dropped, so `a/b`, `/a/b` and `./a//b/` are the same path.
//! - `..` is refused outright, even where it would stay inside the root: no path ever means
//!   "the parent", which keeps normalisation trivial and ACL prefixes unambiguous.
//! - Refused: empty input, control characters (NUL included), `\` (not a separator here, and
//!   refusing it avoids look-alike paths), segments over 255 bytes, normalised paths over
//!   1024 bytes, more than 64 segments, raw input over 4096 bytes.
//! - The first segment `sessions` is reserved for namespaced absolute paths
//!   `/sessions/{session_id}/…`. Only [`VfsPath::parse_in`] accepts them, and only when the
//!   namespace is exactly the given session's, compared segment by segment.
//!
//! `/` alone is the root: a valid path for ACLs and listings but not a file.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::SessionId;

use super::err::VfsError;

/// Longest normalised path, in bytes of its `/a/b` form.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest segment, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Most segments in a path.
pub const MAX_DEPTH: usize = 64;
/// Longest raw input accepted for parsing, in bytes (before `.` and `//` are dropped).
pub const MAX_PATH_INPUT_BYTES: usize = 4096;
/// The reserved first segment of namespaced paths.
pub const NAMESPACE_ROOT: &str = "sessions";

/// A normalised path relative to a session's root, compared and ordered segment by segment
/// (so everything under a directory is contiguous in a sorted map).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VfsPath(
    // INVARIANT: every segment is non-empty, not `.` or `..`, free of `/`, `\` and control
    // characters and at most MAX_SEGMENT_BYTES long; at most MAX_DEPTH segments; the display
    // form is at most MAX_PATH_BYTES long; the first segment is not NAMESPACE_ROOT.
    Vec<String>,
);

impl VfsPath {
    /// The session's root directory, `/`.
    pub fn root() -> VfsPath {
        VfsPath(Vec::new())
    }

    /// Parses a path relative to the session root (`a/b`, `/a/b`, `./a//b/`). Namespaced
    /// `/sessions/…` paths are refused: use [`VfsPath::parse_in`] for those.
    pub fn parse(input: &str) -> Result<VfsPath, VfsError> {
        parse_inner(input, None)
    }

    /// Like [`VfsPath::parse`], but also accepts `/sessions/{session}/…`, stripping the
    /// namespace, when `{session}` is exactly `session` (segment by segment). Any other
    /// namespace is refused.
    pub fn parse_in(input: &str, session: &SessionId) -> Result<VfsPath, VfsError> {
        parse_inner(input, Some(session))
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Whether this path is `dir` or lies below it, comparing whole segments (so `/a/bc` is
    /// not under `/a/b`). Every path is under the root.
    pub fn is_under(&self, dir: &VfsPath) -> bool {
        self.0.starts_with(&dir.0)
    }

    /// The enclosing directory; the root has none.
    pub fn parent(&self) -> Option<VfsPath> {
        let (_, init) = self.0.split_last()?;
        Some(VfsPath(init.to_vec()))
    }
}

fn invalid(input: &str, reason: impl Into<String>) -> VfsError {
    const SHOWN: usize = 64;
    let mut shown: String = input.chars().take(SHOWN).collect();
    if shown.len() < input.len() {
        shown.push('…');
    }
    VfsError::InvalidPath {
        input: shown.escape_debug().to_string(),
        reason: reason.into(),
    }
}

fn parse_inner(input: &str, session: Option<&SessionId>) -> Result<VfsPath, VfsError> {
    if input.is_empty() {
        return Err(invalid(input, "path is empty"));
    }
    if input.len() > MAX_PATH_INPUT_BYTES {
        return Err(invalid(
            input,
            format!(
                "path is {} bytes; the limit is {MAX_PATH_INPUT_BYTES}",
                input.len()
            ),
        ));
    }
    if input.chars().any(char::is_control) {
        return Err(invalid(input, "path contains a control character"));
    }
    if input.contains('\\') {
        return Err(invalid(
            input,
            "`\\` is not allowed; separate segments with `/`",
        ));
    }
    let mut segments: Vec<String> = Vec::new();
    for seg in input.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(invalid(input, "`..` segments are not allowed")),
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(invalid(
                    input,
                    format!(
                        "a segment is {} bytes; the limit is {MAX_SEGMENT_BYTES}",
                        s.len()
                    ),
                ));
            }
            s => segments.push(s.to_owned()),
        }
    }
    if segments.first().is_some_and(|s| s == NAMESPACE_ROOT) {
        segments = strip_namespace(input, segments, session)?;
    }
    if segments.len() > MAX_DEPTH {
        return Err(invalid(
            input,
            format!(
                "path has {} segments; the limit is {MAX_DEPTH}",
                segments.len()
            ),
        ));
    }
    let display_len: usize = segments.iter().map(|s| s.len() + 1).sum();
    if display_len > MAX_PATH_BYTES {
        return Err(invalid(
            input,
            format!("path is {display_len} bytes; the limit is {MAX_PATH_BYTES}"),
        ));
    }
    Ok(VfsPath(segments))
}

/// Removes `sessions/{session}` from the front of `segments`, or refuses the path.
fn strip_namespace(
    input: &str,
    segments: Vec<String>,
    session: Option<&SessionId>,
) -> Result<Vec<String>, VfsError> {
    let Some(session) = session else {
        return Err(invalid(
            input,
            "`/sessions/…` paths name a session namespace; give a path relative to the session",
        ));
    };
    let ns: Vec<&str> = session.as_str().split('/').collect();
    let matches = segments
        .get(1..=ns.len())
        .is_some_and(|given| given.iter().map(String::as_str).eq(ns.iter().copied()));
    if !matches {
        return Err(invalid(
            input,
            format!("namespace is not this session's (`/sessions/{session}`)"),
        ));
    }
    let rest: Vec<String> = segments.into_iter().skip(1 + ns.len()).collect();
    if rest.first().is_some_and(|s| s == NAMESPACE_ROOT) {
        return Err(invalid(input, "`sessions` is reserved as a top-level name"));
    }
    Ok(rest)
}

impl fmt::Display for VfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for seg in &self.0 {
            write!(f, "/{seg}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for VfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VfsPath({:?})", self.to_string())
    }
}

impl Borrow<[String]> for VfsPath {
    fn borrow(&self) -> &[String] {
        &self.0
    }
}

impl std::str::FromStr for VfsPath {
    type Err = VfsError;
    fn from_str(s: &str) -> Result<Self, VfsError> {
        VfsPath::parse(s)
    }
}

impl Serialize for VfsPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VfsPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        VfsPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> VfsPath {
        VfsPath::parse(s).unwrap()
    }

    fn reason(r: Result<VfsPath, VfsError>) -> String {
        match r {
            Err(VfsError::InvalidPath { reason, .. }) => reason,
            other => panic!("expected an invalid path, got {other:?}"),
        }
    }

    #[test]
    fn equivalent_spellings_normalise_to_one_path() {
        assert_eq!(p("a/b"), p("/a/b"));
        assert_eq!(p("./a//b/"), p("a/b"));
        assert_eq!(p("a/./b/."), p("a/b"));
        assert_eq!(p("/a/b").to_string(), "/a/b");
        assert_eq!(p("/").to_string(), "/");
        assert!(p("/").is_root());
        assert!(p("./").is_root());
    }

    #[test]
    fn dot_dot_is_refused_everywhere_unlike_reference() {
        assert_eq!(
            reason(VfsPath::parse("../x")),
            "`..` segments are not allowed"
        );
        assert!(VfsPath::parse("a/../b").is_err());
        assert!(VfsPath::parse("a/..").is_err());
        // `...` is an ordinary name.
        assert_eq!(p("a/...").to_string(), "/a/...");
    }

    #[test]
    fn bad_inputs_are_refused_with_reasons() {
        assert_eq!(reason(VfsPath::parse("")), "path is empty");
        assert_eq!(
            reason(VfsPath::parse("a\0b")),
            "path contains a control character"
        );
        assert!(VfsPath::parse("a\nb").is_err());
        assert!(VfsPath::parse("a\\b").is_err());
        let long = "x".repeat(256);
        assert_eq!(
            reason(VfsPath::parse(&long)),
            "a segment is 256 bytes; the limit is 255"
        );
        assert!(VfsPath::parse(&"x".repeat(255)).is_ok());
        let deep = vec!["d"; 65].join("/");
        assert_eq!(
            reason(VfsPath::parse(&deep)),
            "path has 65 segments; the limit is 64"
        );
        assert!(VfsPath::parse(&vec!["d"; 64].join("/")).is_ok());
        let seg = "y".repeat(200);
        let big = [seg.as_str(); 6].join("/");
        assert_eq!(
            reason(VfsPath::parse(&big)),
            "path is 1206 bytes; the limit is 1024"
        );
        assert!(VfsPath::parse(&"/".repeat(5000)).is_err());
    }

    #[test]
    fn error_message_shows_escaped_truncated_input() {
        let e = VfsPath::parse("a\0b").unwrap_err().to_string();
        assert_eq!(e, "invalid path `a\\0b`: path contains a control character");
        let e = VfsPath::parse(&"z".repeat(300)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("invalid path `{}…`", "z".repeat(64))));
    }

    #[test]
    fn namespaced_paths_need_the_matching_session() {
        let s1 = SessionId::new("session:1").unwrap();
        assert_eq!(
            VfsPath::parse_in("/sessions/session:1/a/b", &s1).unwrap(),
            p("a/b")
        );
        assert!(
            VfsPath::parse_in("/sessions/session:1", &s1)
                .unwrap()
                .is_root()
        );
        assert_eq!(VfsPath::parse_in("a/b", &s1).unwrap(), p("a/b"));
        assert!(VfsPath::parse("/sessions/session:1/a").is_err());
        assert!(VfsPath::parse_in("/sessions", &s1).is_err());
        assert!(VfsPath::parse_in("/sessions/session:1/sessions/x", &s1).is_err());
    }

    #[test]
    fn prefix_confusion_between_session_1_and_10_is_refused_unlike_reference() {
        let s1 = SessionId::new("session:1").unwrap();
        let e = VfsPath::parse_in("/sessions/session:10/secret", &s1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid path `/sessions/session:10/secret`: namespace is not this session's \
             (`/sessions/session:1`)"
        );
        let s10 = SessionId::new("session:10").unwrap();
        assert!(VfsPath::parse_in("/sessions/session:1/secret", &s10).is_err());
        assert!(VfsPath::parse_in("/sessions/session:10/secret", &s10).is_ok());
    }

    #[test]
    fn session_ids_with_slashes_match_segment_by_segment() {
        let s = SessionId::new("team/a").unwrap();
        assert_eq!(VfsPath::parse_in("/sessions/team/a/f", &s).unwrap(), p("f"));
        assert!(VfsPath::parse_in("/sessions/team/ab/f", &s).is_err());
        assert!(VfsPath::parse_in("/sessions/team/f", &s).is_err());
    }

    #[test]
    fn is_under_compares_whole_segments() {
        assert!(p("a/b/c").is_under(&p("a/b")));
        assert!(p("a/b").is_under(&p("a/b")));
        assert!(!p("a/bc").is_under(&p("a/b")));
        assert!(!p("a").is_under(&p("a/b")));
        assert!(p("a").is_under(&VfsPath::root()));
        assert_eq!(p("a/b").parent(), Some(p("a")));
        assert_eq!(p("a").parent(), Some(VfsPath::root()));
        assert_eq!(VfsPath::root().parent(), None);
    }

    #[test]
    fn descendants_sort_contiguously() {
        let mut v = [p("a-x"), p("a/z"), p("a"), p("a.b"), p("a/b/c")];
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["/a", "/a/b/c", "/a/z", "/a-x", "/a.b"]);
    }

    #[test]
    fn serde_uses_the_display_form_and_validates() {
        assert_eq!(serde_json::to_string(&p("a/b")).unwrap(), "\"/a/b\"");
        let back: VfsPath = serde_json::from_str("\"a//b/\"").unwrap();
        assert_eq!(back, p("a/b"));
        assert!(serde_json::from_str::<VfsPath>("\"../etc\"").is_err());
    }

    proptest! {
        #[test]
        fn normalisation_never_yields_dot_dot_and_is_idempotent(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(String::new()),
                    Just(".".to_string()),
                    Just("..".to_string()),
                    Just("sessions".to_string()),
                    "[a-z.]{1,4}",
                    "[^/\\\\]{0,6}",
                ],
                0..8,
            ),
            lead in any::<bool>(),
        ) {
            let input = format!("{}{}", if lead { "/" } else { "" }, parts.join("/"));
            if let Ok(path) = VfsPath::parse(&input) {
                prop_assert!(path.segments().iter().all(|s| s != ".." && s != "." && !s.is_empty()));
                let shown = path.to_string();
                prop_assert!(!shown.split('/').any(|s| s == ".."));
                prop_assert_eq!(&VfsPath::parse(&shown).unwrap(), &path);
                let s = SessionId::new("session:1").unwrap();
                let namespaced = format!("/sessions/session:1{}", if path.is_root() { String::new() } else { shown });
                prop_assert_eq!(&VfsPath::parse_in(&namespaced, &s).unwrap(), &path);
            }
        }
    }
}
