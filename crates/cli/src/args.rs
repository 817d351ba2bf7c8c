//! The command-line grammar (clap derive). Every subcommand has `--help`; the top-level help
//! documents configuration precedence and exit codes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Configuration, highest precedence first:
  1. command-line flags
  2. environment variables AHV_* (AHV_CONFIG, AHV_NO_COLOR, AHV_SERVER, AHV_LISTEN,
     AHV_DATA_DIR, AHV_AUDIT_KEY); NO_COLOR (any non-empty value) also disables colour
  3. the TOML file given with --config FILE (keys: server, listen, data_dir, no_color, and an
     [engine] section for `serve`: rate limits, vouching, breaker, limits; unknown keys are
     errors)
  4. built-in defaults

Exit codes:
  0  success
  1  a check failed (tampered audit bundle, invalid saga definition, demo fact not as expected)
  2  usage or I/O error (unknown flag, missing or malformed file, unavailable command)";

/// ahv — the Agent Hypervisor: governance runtime for multi-agent AI sessions.
#[derive(Debug, Parser)]
#[command(name = "ahv", version, propagate_version = true, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// Optional TOML configuration file (keys: server, listen, data_dir, no_color, [engine]).
    #[arg(long, global = true, env = "AHV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Plain output without colour (colour is also off when stdout is not a terminal).
    #[arg(long, global = true, env = "AHV_NO_COLOR")]
    pub no_color: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server with its embedded store.
    Serve(ServeArgs),
    /// Run a scripted multi-agent scenario on an embedded hypervisor and narrate it.
    #[command(
        after_long_help = "Exit code 0 only if every step of the scenario behaved as expected."
    )]
    Demo(DemoArgs),
    /// Audit bundles: verify one offline, or export one from a running server.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Saga definitions (YAML or JSON): validate offline, or run one on a server.
    #[command(subcommand)]
    Saga(SagaCommand),
    /// Run the benchmark suite (same operations as the reference's bench_hypervisor.py).
    Bench(BenchArgs),
    /// Short overview of a running server.
    Status(StatusArgs),
}

/// `ahv serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, env = "AHV_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data directory: the embedded SQLite store, the signing key and the admin token
    /// (default ./ahv-data).
    #[arg(long, env = "AHV_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A `postgres://` URL to keep state in PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "AHV_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Run as node ID of a cluster: several `ahv serve` processes sharing the PostgreSQL
    /// database of --database-url (each with its own --listen and --data-dir).
    #[arg(
        long,
        env = "AHV_NODE_ID",
        value_name = "ID",
        requires = "database_url"
    )]
    pub node_id: Option<String>,
}

/// `ahv demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print one JSON object per line (`{"step": …, …facts}`) instead of the narration.
    #[arg(long)]
    pub json: bool,
    /// Data directory (accepted; the durable store arrives with `ahv serve`, so the demo keeps
    /// its state in memory).
    #[arg(long, env = "AHV_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Also write the session's signed audit bundle to PATH (check it with `ahv audit verify`).
    #[arg(long, value_name = "PATH")]
    pub export_bundle: Option<PathBuf>,
}

/// `ahv audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an exported audit bundle offline: entries, leaf hashes, signed checkpoints,
    /// inclusion and consistency proofs.
    #[command(after_long_help = "\
Exit codes: 0 the bundle verifies; 1 it does not (the first bad item is named);
2 the file cannot be read, is not JSON, is truncated, or is not a bundle.")]
    Verify(VerifyArgs),
    /// Fetch an audit bundle from a running server.
    Export(ExportArgs),
    /// Check, as an outside witness, that the server's hypervisor log only grew since the last
    /// checkpoint witnessed (kept in a state file); run it periodically from another machine.
    #[command(after_long_help = "\
Exit codes: 0 the newest signed checkpoint extends the one witnessed (the state file is
updated); 1 it does not (shrank, forked, not a consistent extension, or signed by another key;
the state file keeps the last good checkpoint); 2 the check could not be made.")]
    Witness(WitnessArgs),
}

/// `ahv audit witness`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Bearer token (admin or agent); defaults to `AHV_ADMIN_TOKEN`.
    #[arg(long, env = "AHV_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Base URL of the server.
    #[arg(long, env = "AHV_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The witness's state file (created on first use).
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,
    /// The operator's verifier key (`name+keyid+base64`); without it the server's key is
    /// trusted on first use and kept in the state file.
    #[arg(long, env = "AHV_AUDIT_KEY", value_name = "VKEY")]
    pub key: Option<String>,
}

/// `ahv audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (JSON) to verify.
    #[arg(value_name = "BUNDLE.json")]
    pub bundle: PathBuf,
    /// Trust only this verifier key (`name+keyid+base64`, as printed by `ahv demo`); without
    /// it the key inside the bundle is used, which proves integrity but not who signed.
    #[arg(long, env = "AHV_AUDIT_KEY", value_name = "VKEY")]
    pub key: Option<String>,
    /// Also require the bundle to prove that its hypervisor log extends the checkpoint kept in
    /// this `ahv audit witness` state file (export it with the same `--witness`).
    #[arg(long, value_name = "STATE.json")]
    pub witness: Option<PathBuf>,
}

/// `ahv audit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Bearer token (admin or agent); defaults to `AHV_ADMIN_TOKEN`.
    #[arg(long, env = "AHV_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Base URL of the server.
    #[arg(long, env = "AHV_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Session whose log to export.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Where to write the bundle.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Also include the whole hypervisor log (admin token only: it names every session's
    /// participants); without it a terminated session is anchored by its one entry there.
    #[arg(long)]
    pub hypervisor_log: bool,
    /// Prove in the bundle that the hypervisor log extends the checkpoint kept in this
    /// `ahv audit witness` state file.
    #[arg(long, value_name = "STATE.json")]
    pub witness: Option<PathBuf>,
}

/// `ahv saga …`.
#[derive(Debug, Subcommand)]
pub enum SagaCommand {
    /// Check a saga definition and print `FILE:line:column: message` for each problem.
    #[command(after_long_help = "Exit codes: 0 valid; 1 invalid; 2 the file cannot be read.")]
    Validate(ValidateArgs),
    /// Submit a saga to a server and follow it live until it completes or compensates.
    Run(RunArgs),
}

/// `ahv saga validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The saga definition (YAML or JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `ahv saga run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bearer token (admin or agent); defaults to `AHV_ADMIN_TOKEN`.
    #[arg(long, env = "AHV_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The saga definition (YAML or JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Base URL of the server.
    #[arg(long, env = "AHV_SERVER", value_name = "URL")]
    pub server: Option<String>,
}

/// `ahv bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print one JSON object keyed by operation name, each
    /// `{mean_ns, p50_ns, p99_ns, ops_per_s, iterations}`.
    #[arg(long)]
    pub json: bool,
    /// Divide every iteration count by 10 (smoke runs and tests).
    #[arg(long)]
    pub quick: bool,
    /// Run only these operations (repeat the flag or separate names with commas).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub only: Vec<String>,
}

/// `ahv status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Bearer token (admin or agent); defaults to `AHV_ADMIN_TOKEN`.
    #[arg(long, env = "AHV_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Base URL of the server.
    #[arg(long, env = "AHV_SERVER", value_name = "URL")]
    pub server: Option<String>,
}
