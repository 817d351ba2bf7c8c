//! Paths as lock keys: validation and whole-segment hierarchy.
//!
//! Paths arrive already normalised by the VFS (`/a/b`, no `.`/`..`, no trailing slash except the
//! root). A lock on `/a` covers `/a/b` and everything below it, by whole segments: `/a` does not
//! cover `/ab`.

use super::err::LockError;

/// Longest path accepted as a lock key, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Refuses empty and over-long paths.
pub(crate) fn validate_path(path: &str) -> Result<(), LockError> {
    if path.is_empty() {
        return Err(LockError::EmptyPath);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(LockError::PathTooLong {
            len: path.len(),
            limit: MAX_PATH_LEN,
        });
    }
    Ok(())
}

/// True if `ancestor` is a proper ancestor of `path` by whole segments (`/a` of `/a/b`, `/` of
/// `/a`, but not `/a` of `/ab`).
pub(crate) fn is_ancestor(ancestor: &str, path: &str) -> bool {
    match path.strip_prefix(ancestor) {
        Some(rest) if !rest.is_empty() => ancestor.ends_with('/') || rest.starts_with('/'),
        _ => false,
    }
}

/// True if two paths are equal or one is an ancestor of the other, so locks on them can conflict.
pub(crate) fn overlaps(a: &str, b: &str) -> bool {
    a == b || is_ancestor(a, b) || is_ancestor(b, a)
}

/// The proper ancestors of `path` that could be lock keys: for `/a/b/c` these are `/`, `/a` and
/// `/a/b`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.char_indices()
        .filter(|&(_, c)| c == '/')
        .filter_map(move |(i, _)| {
            let end = if i == 0 { 1 } else { i };
            path.get(..end)
        })
        .filter(move |a| *a != path)
}

/// The prefix every descendant key of `path` starts with (`/a` → `/a/`, `/` → `/`).
pub(crate) fn descendant_prefix(path: &str) -> String {
    if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_is_by_whole_segments() {
        assert!(is_ancestor("/a", "/a/b"));
        assert!(is_ancestor("/a", "/a/b/c"));
        assert!(is_ancestor("/", "/a"));
        assert!(!is_ancestor("/a", "/ab"));
        assert!(!is_ancestor("/a", "/a"));
        assert!(!is_ancestor("/a/b", "/a"));
        assert!(overlaps("/a/b", "/a"));
        assert!(overlaps("/a", "/a"));
        assert!(!overlaps("/a/b", "/a/c"));
    }

    #[test]
    fn lists_ancestors() {
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/", "/a", "/a/b"]);
        assert_eq!(ancestors("/a").collect::<Vec<_>>(), ["/"]);
        assert!(ancestors("/").next().is_none());
        assert_eq!(ancestors("rel/x").collect::<Vec<_>>(), ["rel"]);
        assert_eq!(descendant_prefix("/a"), "/a/");
        assert_eq!(descendant_prefix("/"), "/");
    }
}
