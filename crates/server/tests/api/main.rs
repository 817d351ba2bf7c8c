//! API tests: through the router without a socket, plus one end-to-end test over a socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod dashboard;
mod errors;
mod live;
mod matrix;
mod openapi;
mod reference;
