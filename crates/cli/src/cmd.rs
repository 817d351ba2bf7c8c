//! Subcommands, one file each, and the dispatcher that maps a parsed command to its code.

pub mod audit;
pub mod bench;
pub mod demo;
pub mod remote;
pub mod saga;
pub mod serve;
pub mod witness;

use crate::args::{AuditCommand, Command, SagaCommand};
use crate::config::Settings;
use crate::error::CliError;

/// Runs a parsed command; returns the exit code on success (0, or 1 when a check failed and the
/// command already reported why).
pub fn dispatch(command: Command, settings: &Settings) -> Result<u8, CliError> {
    match command {
        Command::Serve(a) => serve::run(&a, settings),
        Command::Status(a) => remote::status(&a, settings),
        Command::Audit(AuditCommand::Export(a)) => remote::export(&a, settings),
        Command::Saga(SagaCommand::Run(a)) => remote::run_saga(&a, settings),
        Command::Audit(AuditCommand::Verify(a)) => audit::verify(&a, settings),
        Command::Audit(AuditCommand::Witness(a)) => witness::run(&a, settings),
        Command::Saga(SagaCommand::Validate(a)) => saga::validate(&a),
        Command::Bench(a) => bench::run(&a, settings),
        Command::Demo(a) => demo::run(&a, settings),
    }
}
