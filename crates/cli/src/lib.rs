//! # ahv-cli — the `ahv` command
//!
//! One binary for the Agent Hypervisor: `serve` (the HTTP server with its durable store),
//! `demo` (a narrated multi-agent scenario on an embedded hypervisor), `audit verify` (offline
//! bundle verification) and `audit export`, `saga validate` and `saga run`, `status`, and
//! `bench` (the reference's benchmarks, same names and definitions).
//!
//! [`run`] parses arguments, merges configuration ([`config`]), runs the command and maps its
//! outcome to an exit code: 0 ok, 1 a check failed, 2 usage or I/O error. Errors print as one
//! line `error: <what> (<where>)` on stderr.

pub mod args;
pub mod bench;
pub mod cmd;
pub mod config;
pub mod engine_config;
pub mod error;
pub mod out;
pub mod style;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::args::{AuditCommand, Cli, Command, SagaCommand};
use crate::config::{FileConfig, Settings};
use crate::error::{CliError, EXIT_USAGE};

/// Runs `ahv` with these arguments (the first is the program name) and returns its exit code.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    install_panic_hook();
    match run_inner(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out::err_line(format!("error: {e}"));
            ExitCode::from(e.code)
        }
    }
}

fn run_inner<I, T>(args: I) -> Result<u8, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return clap_outcome(&e),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| clap_error(&e))?;
    let no_color = match matches.value_source("no_color") {
        Some(ValueSource::CommandLine | ValueSource::EnvVariable) => Some(cli.no_color),
        _ => None,
    };
    let file = match &cli.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let (server, listen, data_dir) = match &cli.command {
        Command::Serve(a) => (None, a.listen.clone(), a.data_dir.clone()),
        Command::Demo(a) => (None, None, a.data_dir.clone()),
        Command::Status(a) => (a.server.clone(), None, None),
        Command::Audit(AuditCommand::Export(a)) => (a.server.clone(), None, None),
        Command::Audit(AuditCommand::Witness(a)) => (a.server.clone(), None, None),
        Command::Saga(SagaCommand::Run(a)) => (a.server.clone(), None, None),
        _ => (None, None, None),
    };
    let settings = Settings::merge(&file, no_color, server, listen, data_dir);
    cmd::dispatch(cli.command, &settings)
}

/// Help and version go to stdout with exit 0; any other parse error becomes one line.
fn clap_outcome(e: &clap::Error) -> Result<u8, CliError> {
    use clap::error::ErrorKind as K;
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion => {
            let _ = e.print();
            Ok(0)
        }
        K::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            Ok(EXIT_USAGE)
        }
        _ => Err(clap_error(e)),
    }
}

/// The first line of clap's message, without its `error: ` prefix.
fn clap_error(e: &clap::Error) -> CliError {
    let text = e.render().to_string();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    let what = first.strip_prefix("error: ").unwrap_or(first);
    CliError::usage(what, "command line; see `ahv --help`")
}

/// Any panic (a bug) prints one line instead of a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        let place = info.location().map_or_else(
            || "ahv".to_string(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        out::err_line(format!("error: internal error: {msg} ({place})"));
    }));
}
