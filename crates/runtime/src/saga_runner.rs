//! The saga runner: carries out the saga machine's commands outside the engine lock — HTTP
//! calls with idempotency keys and timeouts, in-process executors, retry and deadline timers —
//! and reports each outcome back as a logged `SagaInput` command. Nothing here ever holds a
//! client request open: sagas run in the background and report by events and state.

use std::sync::Arc;
use std::time::Duration;

use ahv_core::engine::{Actor, Command};
use ahv_core::id::{SagaId, StepId};
use ahv_core::saga::{ErrorClass, Phase, SagaCommand, SagaInput, classify_http_status};
use ahv_core::time::Timestamp;
use serde_json::json;
use tokio::sync::mpsc;

use crate::executor::{StepCall, StepResult};
use crate::hypervisor::Hypervisor;

/// Starts the dispatcher of `hv`'s saga work. It holds only a weak reference: the hypervisor
/// owns the sending side of `rx`, so a strong one would keep both alive forever; once the last
/// handle is dropped the dispatcher stops (work already started finishes on its own handle).
pub(crate) fn spawn(
    hv: &Hypervisor,
    mut rx: mpsc::UnboundedReceiver<(SagaId, SagaCommand, Option<u64>)>,
) {
    let weak = Arc::downgrade(&hv.inner);
    tokio::spawn(async move {
        while let Some((saga_id, cmd, epoch)) = rx.recv().await {
            let Some(inner) = weak.upgrade() else { break };
            let hv = Hypervisor { inner };
            tokio::spawn(async move { run(hv, saga_id, cmd, epoch).await });
        }
    });
}

/// Carries out one saga command; `epoch` is the saga lease it runs under in cluster mode, sent
/// with the report so a node that lost the lease cannot change the saga.
async fn run(hv: Hypervisor, saga_id: SagaId, cmd: SagaCommand, epoch: Option<u64>) {
    let input = match cmd {
        SagaCommand::ExecuteStep {
            step_id,
            attempt,
            idempotency_key,
            agent,
            execute_api,
            input,
            deadline,
        } => {
            let action_id = action_of(&hv, &saga_id, &step_id);
            let call = StepCall {
                saga_id: saga_id.clone(),
                step_id: step_id.clone(),
                agent_did: agent,
                action_id,
                input,
                attempt,
                idempotency_key,
                phase: Phase::Execute,
            };
            match call_step(&hv, &execute_api, call, deadline).await {
                StepResult::Ok(output) => SagaInput::StepSucceeded {
                    step_id,
                    attempt,
                    output,
                },
                StepResult::Failed { message, retryable } => SagaInput::StepFailed {
                    step_id,
                    attempt,
                    error: message,
                    class: class(retryable),
                },
                StepResult::Timeout => SagaInput::StepTimedOut { step_id, attempt },
            }
        }
        SagaCommand::CompensateStep {
            step_id,
            attempt,
            idempotency_key,
            agent,
            undo_api,
            deadline,
        } => {
            let action_id = action_of(&hv, &saga_id, &step_id);
            let call = StepCall {
                saga_id: saga_id.clone(),
                step_id: step_id.clone(),
                agent_did: agent,
                action_id,
                input: json!(null),
                attempt,
                idempotency_key,
                phase: Phase::Compensate,
            };
            match call_step(&hv, &undo_api, call, deadline).await {
                StepResult::Ok(_) => SagaInput::CompensationSucceeded { step_id, attempt },
                StepResult::Failed { message, retryable } => SagaInput::CompensationFailed {
                    step_id,
                    attempt,
                    error: message,
                    class: class(retryable),
                },
                StepResult::Timeout => SagaInput::CompensationTimedOut { step_id, attempt },
            }
        }
        SagaCommand::ScheduleRetry {
            step_id,
            phase,
            attempt,
            at,
        } => {
            sleep_until(&hv, at).await;
            SagaInput::RetryTimerFired {
                step_id,
                phase,
                attempt,
            }
        }
        SagaCommand::ScheduleSagaTimeout { at } => {
            sleep_until(&hv, at).await;
            SagaInput::SagaTimedOut
        }
        _ => return,
    };
    report(&hv, &saga_id, input, epoch).await;
}

fn class(retryable: bool) -> ErrorClass {
    if retryable {
        ErrorClass::Retryable
    } else {
        ErrorClass::Final
    }
}

/// The action id of a step, as the step call reports it (empty if the saga or step is gone).
fn action_of(hv: &Hypervisor, saga_id: &SagaId, step_id: &StepId) -> String {
    hv.read(|e| e.step_action(saga_id, step_id))
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn sleep_until(hv: &Hypervisor, at: Timestamp) {
    let wait = at.since(hv.now());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

async fn report(hv: &Hypervisor, saga_id: &SagaId, input: SagaInput, epoch: Option<u64>) {
    let cmd = Command::SagaInput {
        saga_id: saga_id.clone(),
        input,
    };
    let fence = epoch.map(|epoch| crate::cluster::Fence {
        saga_id: saga_id.clone(),
        epoch,
    });
    if let Err(e) = hv.execute_fenced(Actor::System, cmd, fence).await {
        // Late or duplicate reports are expected (e.g. after a rollback began); log and drop.
        tracing::debug!(saga = %saga_id, error = %e, "saga input not applied");
    }
}

/// Performs one step call: HTTP for URLs (allow-listed), an in-process executor if one is
/// registered under the API name, otherwise a recorded step that succeeds at once.
async fn call_step(hv: &Hypervisor, api: &str, call: StepCall, deadline: Timestamp) -> StepResult {
    let budget = deadline.since(hv.now()).max(Duration::from_millis(1));
    if api.starts_with("http://") || api.starts_with("https://") {
        let allowed = hv
            .config()
            .step_url_allowlist
            .iter()
            .any(|p| url_has_prefix(api, p));
        if !allowed {
            return StepResult::Failed {
                message: format!("step URL `{api}` is not in the allow-list"),
                retryable: false,
            };
        }
        return http_call(hv, api, &call, budget).await;
    }
    let exec = hv
        .inner
        .executors
        .read()
        .ok()
        .and_then(|m| m.get(api).cloned());
    match exec {
        Some(exec) => match tokio::time::timeout(budget, exec.call(call)).await {
            Ok(r) => r,
            Err(_) => StepResult::Timeout,
        },
        None => StepResult::Ok(json!({ "status": "executed_via_api", "api": api })),
    }
}

/// Whether `url` starts with `prefix` at a boundary, so `http://localhost` does not admit
/// `http://localhost.evil.example`.
fn url_has_prefix(url: &str, prefix: &str) -> bool {
    match url.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', ':', '?']),
        None => false,
    }
}

async fn http_call(hv: &Hypervisor, url: &str, call: &StepCall, budget: Duration) -> StepResult {
    let req = hv
        .inner
        .http
        .post(url)
        .header("Idempotency-Key", &call.idempotency_key)
        .timeout(budget)
        .json(call);
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if (200..300).contains(&status) {
                let output = serde_json::from_str(&body).unwrap_or_else(
                    |_| json!({ "body": body.chars().take(4096).collect::<String>() }),
                );
                StepResult::Ok(output)
            } else {
                let retryable = classify_http_status(status) == ErrorClass::Retryable;
                let snippet: String = body.chars().take(512).collect();
                StepResult::Failed {
                    message: format!("HTTP {status} from {url}: {snippet}"),
                    retryable,
                }
            }
        }
        Err(e) if e.is_timeout() => StepResult::Timeout,
        Err(e) => StepResult::Failed {
            message: format!("cannot reach {url}: {e}"),
            retryable: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ahv_core::engine::{Engine, EngineConfig};
    use ed25519_dalek::SigningKey;

    use super::url_has_prefix;
    use crate::clock::SystemClock;
    use crate::hypervisor::{Hypervisor, RuntimeConfig};
    use crate::log::MemoryLog;

    #[tokio::test]
    async fn dropping_the_last_handle_frees_the_hypervisor() {
        let hv = Hypervisor::new(
            Engine::new(EngineConfig::default()).unwrap(),
            Arc::new(MemoryLog::default()),
            Arc::new(SystemClock::new()),
            SigningKey::from_bytes(&[7; 32]),
            RuntimeConfig::default(),
        );
        let weak = Arc::downgrade(&hv.inner);
        drop(hv);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            weak.upgrade().is_none(),
            "the saga dispatcher kept the hypervisor alive"
        );
    }

    #[test]
    fn allow_list_matches_at_boundaries_only() {
        assert!(url_has_prefix(
            "http://127.0.0.1:8080/x",
            "http://127.0.0.1"
        ));
        assert!(url_has_prefix("http://localhost/x", "http://localhost"));
        assert!(!url_has_prefix(
            "http://localhost.evil.example/x",
            "http://localhost"
        ));
        assert!(!url_has_prefix("http://127.0.0.10/x", "http://127.0.0.1"));
        assert!(!url_has_prefix("http://10.0.0.1/x", "http://127.0.0.1"));
    }
}
