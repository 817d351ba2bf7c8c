//! Placeholder: the cli helper fills this in.
fn main() {}
