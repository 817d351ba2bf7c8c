//! A real server for the dashboard's browser test and for looking at the dashboard by hand:
//! the full router on `127.0.0.1:PORT` (first argument, default 8080) around an in-memory
//! hypervisor, admin token from `AHV_ADMIN_TOKEN`, background timers running (ticks and
//! signed checkpoints every second). Prints `listening on http://…` once it accepts.
//!
//! ```text
//! AHV_ADMIN_TOKEN=secret cargo run -p ahv-server --example dashboard_fixture -- 8080
//! ```

use std::sync::Arc;
use std::time::Duration;

use ahv_core::engine::{Engine, EngineConfig};
use ahv_runtime::{Hypervisor, MemoryLog, RuntimeConfig, Signer, SystemClock};
use ahv_server::{AppState, Auth, AuthConfig, ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(8080);
    let token = std::env::var("AHV_ADMIN_TOKEN").map_err(|_| "set AHV_ADMIN_TOKEN")?;
    let runtime = RuntimeConfig {
        tick_interval: Duration::from_secs(1),
        checkpoint_interval: Duration::from_secs(1),
        ..RuntimeConfig::default()
    };
    let hv = Hypervisor::new(
        Engine::new(EngineConfig::default())?,
        Arc::new(MemoryLog::default()),
        Arc::new(SystemClock::new()),
        Signer::generate_key()?,
        runtime,
    );
    let background = hv.start_background();
    let auth = Auth::new(AuthConfig::from_admin_token(&token)?);
    let state = AppState::new(hv, Arc::new(auth), ServerConfig::default());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    ahv_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    background.abort();
    Ok(())
}
