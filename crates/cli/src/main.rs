//! The `ahv` binary: parses the command line, runs the command, and turns its outcome into an
//! exit code (0 ok, 1 a check failed, 2 usage or I/O error). All logic lives in the `ahv_cli`
//! library so tests can reach it.

use std::process::ExitCode;

fn main() -> ExitCode {
    ahv_cli::run(std::env::args_os())
}
