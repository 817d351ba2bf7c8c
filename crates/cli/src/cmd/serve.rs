//! `ahv serve`: the server. Opens (or creates) the durable store, recovers the engine from it,
//! resumes in-flight sagas, sets up authentication, and serves the API and dashboard until
//! SIGINT/SIGTERM, then finishes in-flight requests and takes a last snapshot.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ahv_core::engine::{Actor, Command, EngineConfig};
use ahv_runtime::{ClusterConfig, Hypervisor, RuntimeConfig, Signer, SystemClock};
use ahv_server::{AppState, Auth, AuthConfig, ServerConfig};
use ahv_store::{Location, Store, StoreOptions};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::args::ServeArgs;
use crate::config::Settings;
use crate::error::CliError;

mod log_mode;

/// Where the server listens by default (loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "ahv-data";

const META_ADMIN_HASH: &str = "auth.admin_token_sha256";
const META_TOKEN_SECRET: &str = "auth.token_secret";
/// The cluster's checkpoint signing key (hex seed), so every node signs with one key.
const META_CLUSTER_KEY: &str = "cluster.signing_key";

/// Runs the server until a shutdown signal.
pub fn run(args: &ServeArgs, settings: &Settings) -> Result<u8, CliError> {
    let listen = settings
        .listen
        .clone()
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr: SocketAddr = listen.parse().map_err(|_| {
        CliError::usage(
            format!("`{listen}` is not an address like 127.0.0.1:8080"),
            "--listen",
        )
    })?;
    let data_dir = settings
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    // Checked before anything starts, so a bad value is reported at once with its key.
    let engine_config = settings.engine.to_engine_config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::usage(format!("cannot start the async runtime: {e}"), "ahv serve")
        })?;
    rt.block_on(serve(
        addr,
        &data_dir,
        args.database_url.as_deref(),
        args.node_id.as_deref(),
        engine_config,
    ))
}

/// Brings the engine's tunables to `wanted` (the configuration file's `[engine]` section over
/// the defaults) with one logged `Configure` command when they differ, and says what happened.
async fn configure(hv: &Hypervisor, wanted: EngineConfig) -> Result<String, CliError> {
    // The hypervisor log's capacity is compared too: a snapshot from before it had its own
    // setting holds the capacity it was created with.
    let (current, hv_log_capacity) = hv
        .read(|e| (e.config().clone(), e.hypervisor_log().capacity()))
        .map_err(|e| CliError::usage(e.to_string(), "engine configuration"))?;
    if current == wanted && hv_log_capacity == wanted.max_hypervisor_log_leaves {
        return Ok("unchanged".to_string());
    }
    hv.execute(
        Actor::System,
        Command::Configure {
            config: Box::new(wanted),
        },
    )
    .await
    .map_err(|e| CliError::usage(format!("cannot apply it: {e}"), "[engine]"))?;
    Ok("changed by the configuration file (recorded in the hypervisor log)".to_string())
}

/// The engine and log a server starts with: a single node's own log, or a cluster replica.
struct Started {
    hv: Hypervisor,
    recovered_line: String,
    resumed: usize,
}

/// Recovers a single node (its own log; in-flight sagas resumed now).
async fn start_single(
    store: &Store,
    location: &Location,
    key: SigningKey,
) -> Result<Started, CliError> {
    log_mode::refuse_old_cluster(store, location).await?;
    let recovered = store.recover(EngineConfig::default()).await.map_err(|e| {
        log_mode::mismatch(&e, location).unwrap_or_else(|| {
            CliError::usage(format!("recovery failed: {e}"), location.describe())
        })
    })?;
    let report = recovered.report.clone();
    let mut clock = SystemClock::new();
    if let Some(at) = report.last_at {
        clock = clock.not_before(at);
    }
    let hv = Hypervisor::new(
        recovered.engine,
        recovered.log,
        Arc::new(clock),
        key,
        RuntimeConfig::default(),
    );
    hv.bus().restore(recovered.events);
    let resumed = hv.resume_sagas().unwrap_or(0);
    Ok(Started {
        hv,
        recovered_line: format!(
            "{} commands replayed after snapshot {:?}",
            report.replayed, report.snapshot_pos
        ),
        resumed,
    })
}

/// Joins the cluster sharing the PostgreSQL database as `node_id`. Unfinished sagas are not
/// resumed here: each runs on the node holding its lease, and expired leases are taken over.
async fn start_cluster(
    store: &Store,
    location: &Location,
    node_id: &str,
    key: SigningKey,
) -> Result<Started, CliError> {
    if store.kind() != "postgres" {
        return Err(CliError::usage(
            "--node-id needs a postgres:// --database-url: nodes share one PostgreSQL database",
            "--node-id",
        ));
    }
    let r = store
        .join_cluster(
            node_id,
            EngineConfig::default(),
            ahv_store::DEFAULT_LEASE_TTL,
        )
        .await
        .map_err(|e| {
            log_mode::mismatch(&e, location).unwrap_or_else(|| {
                CliError::usage(
                    format!("joining the cluster failed: {e}"),
                    location.describe(),
                )
            })
        })?;
    // Recorded only once the database is known to be a cluster's.
    let key = cluster_signing_key(store, key).await?;
    let mut clock = SystemClock::new();
    if let Some(at) = r.last_at {
        clock = clock.not_before(at);
    }
    let line = format!(
        "{} commands replayed after snapshot {:?}; cluster node `{node_id}` at position {}",
        r.replayed, r.snapshot_pos, r.pos
    );
    let hv = Hypervisor::new_cluster(
        r.engine,
        r.pos,
        r.last_at,
        r.shared,
        Arc::new(clock),
        key,
        RuntimeConfig::default(),
        ClusterConfig::default(),
    );
    hv.bus().restore(r.events);
    Ok(Started {
        hv,
        recovered_line: line,
        resumed: 0,
    })
}

async fn serve(
    addr: SocketAddr,
    data_dir: &Path,
    database_url: Option<&str>,
    node_id: Option<&str>,
    engine_config: EngineConfig,
) -> Result<u8, CliError> {
    init_tracing();
    prepare_data_dir(data_dir)?;
    let location = match database_url {
        Some(url) => {
            Location::parse(url).map_err(|e| CliError::usage(e.to_string(), "--database-url"))?
        }
        None => Location::dir(data_dir),
    };
    let store = Store::open(&location, StoreOptions::default())
        .await
        .map_err(|e| CliError::usage(e.to_string(), location.describe()))?;
    let key = signing_key(data_dir)?;
    let started = match node_id {
        Some(id) => start_cluster(&store, &location, id, key).await?,
        None => start_single(&store, &location, key).await?,
    };
    let (auth, new_token) = auth_config(&store, data_dir).await?;
    let Started {
        hv,
        recovered_line,
        resumed,
    } = started;
    let configured_line = configure(&hv, engine_config).await?;
    let background = hv.start_background();
    let snapshots = tokio::spawn(ahv_store::snapshot_every(
        hv.clone(),
        store.clone(),
        Duration::from_secs(30),
        1_000,
    ));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::usage(format!("cannot listen: {e}"), addr.to_string()))?;
    let local = listener.local_addr().unwrap_or(addr);
    println!("ahv serve — Agent Hypervisor");
    println!("  listening on     http://{local}");
    println!("  dashboard        http://{local}/");
    println!("  API docs         http://{local}/docs");
    println!("  data directory   {}", data_dir.display());
    println!(
        "  store            {} ({})",
        store.kind(),
        location.describe()
    );
    println!("  recovered        {recovered_line}; {resumed} saga calls resumed");
    println!("  engine config    {configured_line}");
    match new_token {
        Some(t) => {
            println!("  admin token      {t}");
            println!(
                "                   (printed once; also in {} with mode 0600)",
                data_dir.join("admin-token").display()
            );
        }
        None => println!(
            "  admin token      from AHV_ADMIN_TOKEN or {}",
            data_dir.join("admin-token").display()
        ),
    }
    let state = AppState::new(
        hv.clone(),
        Arc::new(Auth::new(auth)),
        ServerConfig::default(),
    );
    let result = ahv_server::serve(listener, state, shutdown_signal()).await;
    background.abort();
    snapshots.abort();
    if hv.failure().is_none()
        && let Err(e) = store.snapshot_now(&hv).await
    {
        tracing::warn!(error = %e, "final snapshot failed");
    }
    store.close().await;
    result.map_err(|e| CliError::usage(format!("server failed: {e}"), local.to_string()))?;
    Ok(0)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Creates the data directory (mode 0700) and checks it is writable, with a clear message.
fn prepare_data_dir(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::usage(
            format!("cannot create the data directory: {e}"),
            dir.display().to_string(),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(|e| {
        CliError::usage(
            format!("the data directory is not writable ({e}); choose another with --data-dir"),
            dir.display().to_string(),
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Writes `bytes` to `path` with mode 0600 (owner only).
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path).map_err(|e| {
        CliError::usage(
            format!("cannot write secret: {e}"),
            path.display().to_string(),
        )
    })?;
    f.write_all(bytes).map_err(|e| {
        CliError::usage(
            format!("cannot write secret: {e}"),
            path.display().to_string(),
        )
    })
}

/// The checkpoint signing key: `DATA_DIR/signing-key` (hex seed, mode 0600), created on first
/// start.
fn signing_key(dir: &Path) -> Result<SigningKey, CliError> {
    let path = dir.join("signing-key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| {
                CliError::usage("signing key is not hex", path.display().to_string())
            })?;
            let seed: [u8; 32] = bytes.try_into().map_err(|_| {
                CliError::usage("signing key must be 32 bytes", path.display().to_string())
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Signer::generate_key().map_err(|e| CliError::usage(e, "signing key"))?;
            write_secret(&path, hex::encode(key.to_bytes()).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(CliError::usage(
            format!("cannot read signing key: {e}"),
            path.display().to_string(),
        )),
    }
}

/// The signing key every node of a cluster uses: the first node to start records its own key
/// in the shared database (like the agent-token secret), later nodes adopt it, so checkpoints
/// and audit bundles from any node verify against one public key.
async fn cluster_signing_key(store: &Store, own: SigningKey) -> Result<SigningKey, CliError> {
    let stored = store
        .init_meta(META_CLUSTER_KEY, &hex::encode(own.to_bytes()))
        .await
        .map_err(|e| CliError::usage(e.to_string(), "store metadata"))?;
    let seed = hex32(&stored).ok_or_else(|| {
        CliError::usage(
            "the cluster's signing key in the database is not 32 hex bytes",
            META_CLUSTER_KEY,
        )
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn random32() -> Result<[u8; 32], CliError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| CliError::usage(format!("no entropy: {e}"), "ahv serve"))?;
    Ok(b)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// The admin token's hash and the agent-token secret. The token comes from `AHV_ADMIN_TOKEN`
/// if set; otherwise one is generated on first start, written to `DATA_DIR/admin-token` (0600)
/// and returned so it is printed once. The database keeps only its SHA-256.
async fn auth_config(store: &Store, dir: &Path) -> Result<(AuthConfig, Option<String>), CliError> {
    let meta_err = |e: ahv_store::StoreError| CliError::usage(e.to_string(), "store metadata");
    let secret = match store
        .get_meta(META_TOKEN_SECRET)
        .await
        .map_err(meta_err)?
        .as_deref()
        .and_then(hex32)
    {
        Some(s) => s,
        None => {
            let s = random32()?;
            store
                .set_meta(META_TOKEN_SECRET, &hex::encode(s))
                .await
                .map_err(meta_err)?;
            s
        }
    };
    let from_env = std::env::var("AHV_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let (hash, printed) = match from_env {
        Some(t) => {
            let h: [u8; 32] = Sha256::digest(t.as_bytes()).into();
            store
                .set_meta(META_ADMIN_HASH, &hex::encode(h))
                .await
                .map_err(meta_err)?;
            (h, None)
        }
        None => match store
            .get_meta(META_ADMIN_HASH)
            .await
            .map_err(meta_err)?
            .as_deref()
            .and_then(hex32)
        {
            Some(h) => (h, None),
            None => {
                let token = format!("ahv_admin_{}", hex::encode(random32()?));
                write_secret(&dir.join("admin-token"), token.as_bytes())?;
                let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
                store
                    .set_meta(META_ADMIN_HASH, &hex::encode(h))
                    .await
                    .map_err(meta_err)?;
                (h, Some(token))
            }
        },
    };
    Ok((
        AuthConfig {
            admin_token_sha256: hash,
            token_secret: secret,
        },
        printed,
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
