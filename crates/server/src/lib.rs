//! Placeholder: the server helper fills this in.
