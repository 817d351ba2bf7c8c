//! Sagas with in-process executors: backoff timing under paused Tokio time, fan-out policies
//! with compensation of the winners, and checkpoint replay.

use std::sync::{Arc, Mutex};

use ahv_core::saga::{SagaState, StepState};
use ahv_core::time::Timestamp;
use ahv_runtime::{Hypervisor, StepCall, StepResult};

use crate::fixtures::*;

/// Registers executors: `win` succeeds, `lose` fails for good, `undo` succeeds; `flaky` fails
/// (retryably) twice then succeeds. Every call is recorded as (api, step, key, time).
/// Calls seen by the executors: (api, step, idempotency key, time).
type CallLog = Arc<Mutex<Vec<(String, String, String, Timestamp)>>>;

fn executors(hv: &Hypervisor) -> CallLog {
    let log: CallLog = Arc::default();
    let flaky_left = Arc::new(Mutex::new(2u32));
    for name in ["win", "lose", "undo", "flaky"] {
        let log = log.clone();
        let left = flaky_left.clone();
        let hv2 = hv.clone();
        hv.register_executor(
            name,
            Arc::new(move |call: StepCall| {
                log.lock().unwrap().push((
                    name.to_string(),
                    call.step_id.to_string(),
                    call.idempotency_key,
                    hv2.now(),
                ));
                let result = match name {
                    "lose" => StepResult::Failed {
                        message: "no".into(),
                        retryable: false,
                    },
                    "flaky" => {
                        let mut l = left.lock().unwrap();
                        if *l > 0 {
                            *l -= 1;
                            StepResult::Failed {
                                message: "busy".into(),
                                retryable: true,
                            }
                        } else {
                            StepResult::Ok(serde_json::json!({}))
                        }
                    }
                    _ => StepResult::Ok(serde_json::json!({})),
                };
                async move { result }
            }),
        );
    }
    log
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_with_the_same_key() {
    let hv = hv();
    let log = executors(&hv);
    let sid = session(&hv, &[("did:mesh:alpha", 0.8)]).await;
    let yaml = r#"
name: backoff
session_id: {session}
steps:
  - id: s1
    action_id: book
    agent: did:mesh:alpha
    execute_api: flaky
    retries: 3
    retry: { initial_delay_ms: 1000, multiplier: 2.0, max_delay_ms: 60000, jitter: 0.0 }
"#;
    let saga = run_dsl(&hv, yaml, &sid, "").await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Completed);
    let calls = log.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    let t0 = calls[0].3.as_millis();
    let gaps: Vec<u64> = calls.iter().map(|c| c.3.as_millis() - t0).collect();
    // 1 s, then 2 s more: exponential, no jitter.
    assert_eq!(gaps, vec![0, 1000, 3000]);
    assert!(calls.iter().all(|c| c.2 == format!("{saga}/s1/execute")));
}

fn fan_out_yaml(policy: &str, a: &str, b: &str, c: &str) -> String {
    format!(
        r#"
name: fan-{policy}
session_id: {{session}}
steps:
  - {{ id: prep, action_id: prep, agent: did:mesh:alpha, execute_api: win, undo_api: undo }}
  - {{ id: a, action_id: shard, agent: did:mesh:alpha, execute_api: {a}, undo_api: undo }}
  - {{ id: b, action_id: shard, agent: did:mesh:alpha, execute_api: {b}, undo_api: undo }}
  - {{ id: c, action_id: shard, agent: did:mesh:alpha, execute_api: {c}, undo_api: undo }}
fan_out:
  - {{ id: shards, policy: {policy}, branches: [a, b, c] }}
"#
    )
}

async fn fan_out(policy: &str, a: &str, b: &str, c: &str) -> (SagaState, Vec<String>) {
    let hv = hv();
    let log = executors(&hv);
    let sid = session(&hv, &[("did:mesh:alpha", 0.8)]).await;
    let saga = run_dsl(&hv, &fan_out_yaml(policy, a, b, c), &sid, "").await;
    let undone: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0 == "undo")
        .map(|c| c.1.clone())
        .collect();
    (saga_state(&hv, &saga), undone)
}

#[tokio::test]
async fn fan_out_all_passes_and_fails_with_compensation_of_winners() {
    assert_eq!(
        fan_out("all_must_succeed", "win", "win", "win").await,
        (SagaState::Completed, vec![])
    );
    let (state, mut undone) = fan_out("all_must_succeed", "win", "win", "lose").await;
    assert_eq!(state, SagaState::Compensated);
    let prep = undone.pop().unwrap();
    undone.sort();
    assert_eq!(
        (undone, prep.as_str()),
        (vec!["a".to_string(), "b".to_string()], "prep"),
        "winners undone, then prep"
    );
}

#[tokio::test]
async fn fan_out_majority_passes_and_fails_with_compensation_of_winners() {
    assert_eq!(
        fan_out("majority_must_succeed", "win", "win", "lose")
            .await
            .0,
        SagaState::Completed
    );
    let (state, undone) = fan_out("majority_must_succeed", "win", "lose", "lose").await;
    assert_eq!(state, SagaState::Compensated);
    assert_eq!(undone, vec!["a".to_string(), "prep".to_string()]);
}

#[tokio::test]
async fn fan_out_any_passes_and_fails() {
    assert_eq!(
        fan_out("any_must_succeed", "lose", "lose", "win").await.0,
        SagaState::Completed
    );
    let (state, undone) = fan_out("any_must_succeed", "lose", "lose", "lose").await;
    assert_eq!(state, SagaState::Compensated);
    assert_eq!(undone, vec!["prep".to_string()]);
}

#[tokio::test]
async fn checkpoint_replay_skips_completed_steps() {
    let hv = hv();
    let log = executors(&hv);
    let sid = session(
        &hv,
        &[
            ("did:mesh:alpha", 0.8),
            ("did:mesh:beta", 0.8),
            ("did:mesh:gamma", 0.8),
        ],
    )
    .await;
    // s1 and s2 reach their goals and cannot be undone; s3 fails, so the saga escalates and the
    // checkpoints of s1 and s2 stay valid. Re-running the same saga id replays only s3. (The
    // escalation slashes s3's agent, so the second run gives s3 to another agent.)
    let yaml = |s3: &str, agent: &str| {
        format!(
            r#"
name: replay
session_id: {{session}}
saga_id: saga:replay-1
steps:
  - {{ id: s1, action_id: a, agent: did:mesh:alpha, execute_api: win, checkpoint_goal: data fetched }}
  - {{ id: s2, action_id: b, agent: did:mesh:alpha, execute_api: win, checkpoint_goal: model trained }}
  - {{ id: s3, action_id: c, agent: {agent}, execute_api: {s3} }}
"#
        )
    };
    let first = run_dsl(&hv, &yaml("lose", "did:mesh:gamma"), &sid, "").await;
    assert_ne!(saga_state(&hv, &first), SagaState::Completed);
    log.lock().unwrap().clear();
    let second = run_dsl(&hv, &yaml("win", "did:mesh:beta"), &sid, "").await;
    assert_eq!(first, second);
    assert_eq!(saga_state(&hv, &second), SagaState::Completed);
    let ran: Vec<String> = log.lock().unwrap().iter().map(|c| c.1.clone()).collect();
    assert_eq!(ran, vec!["s3".to_string()]);
    let states = hv
        .read(|e| {
            e.saga_view(&second)
                .unwrap()
                .steps
                .iter()
                .map(|s| s.state)
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(
        states,
        vec![StepState::Skipped, StepState::Skipped, StepState::Committed]
    );
}
