//! End-to-end tests of the `ahv` binary: run it as a process and check its output and exit
//! codes (0 ok, 1 check failed, 2 usage or I/O error).

// Test helpers outside `#[test]` functions fail loudly too; clippy.toml allows this in tests only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod bench;
mod cluster;
mod crash;
mod demo;
mod engine_config;
mod saga;
mod usage;
mod util;
mod witness;
