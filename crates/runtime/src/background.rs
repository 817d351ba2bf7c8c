//! Background timers: the periodic `Tick` that applies expiries, and the checkpointer that signs
//! the hypervisor log in batches (never on the request path).

use ahv_core::engine::{Actor, Command};
use tokio::task::JoinHandle;

use crate::hypervisor::{Hypervisor, RuntimeError};

/// Handles of the background tasks; dropping them does not stop them, [`Background::abort`]
/// does.
#[derive(Debug)]
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Stops the timers.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Hypervisor {
    /// Starts the ticker and the checkpointer.
    pub fn start_background(&self) -> Background {
        let ticker = {
            let hv = self.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(hv.config().tick_interval);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if hv.read(|e| e.has_due(hv.now())).unwrap_or(false)
                        && let Err(e) = hv.execute(Actor::System, Command::Tick).await
                    {
                        tracing::warn!(error = %e, "tick failed");
                    }
                }
            })
        };
        let checkpointer = {
            let hv = self.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(hv.config().checkpoint_interval);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if let Err(e) = hv.checkpoint_now().await {
                        tracing::warn!(error = %e, "checkpoint failed");
                    }
                }
            })
        };
        Background {
            tasks: vec![ticker, checkpointer],
        }
    }

    /// Signs and records a checkpoint of the hypervisor log if it grew since the last one.
    /// Returns the signed note, if one was made.
    pub async fn checkpoint_now(&self) -> Result<Option<String>, RuntimeError> {
        let (size, root, last) = self.read(|e| {
            let (size, root) = e.hv_head();
            (size, root, e.last_signed_size())
        })?;
        if size == 0 || (size == last && self.read(|e| e.signed_checkpoints().next().is_some())?) {
            return Ok(None);
        }
        let note = self
            .signer()
            .sign_hypervisor(size, root)
            .map_err(RuntimeError::Storage)?;
        self.execute(
            Actor::System,
            Command::RecordCheckpoint {
                size,
                note: note.clone(),
            },
        )
        .await?;
        Ok(Some(note))
    }
}
