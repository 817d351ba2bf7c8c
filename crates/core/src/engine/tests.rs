//! Engine tests live in `tests/`.
