//! Sagas whose steps are real HTTP endpoints on 127.0.0.1.

use ahv_core::engine::{Actor, Command};
use ahv_core::event::EventType;
use ahv_core::liability::LedgerEntryType;
use ahv_core::ring::Ring;
use ahv_core::saga::{SagaState, StepState};
use ahv_core::score::Score;
use ahv_runtime::EventFilter;

use crate::fixtures::*;

const THREE_OK: &str = r#"
name: three-ok
session_id: {session}
steps:
  - { id: s1, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/ok/s1", undo_api: "{base}/undo/s1" }
  - { id: s2, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/ok/s2", undo_api: "{base}/undo/s2" }
  - { id: s3, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/ok/s3", undo_api: "{base}/undo/s3" }
"#;

#[tokio::test]
async fn success_path_ends_completed() {
    let hv = hv();
    let (base, rec) = step_server().await;
    let sid = session(&hv, &[("did:mesh:alpha", 0.8)]).await;
    let saga = run_dsl(&hv, THREE_OK, &sid, &base).await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Completed);
    assert_eq!(rec.paths(), vec!["ok/s1", "ok/s2", "ok/s3"]);
    let keys: Vec<String> = rec.calls().iter().map(|c| c.key.clone()).collect();
    assert_eq!(keys[0], format!("{}/s1/execute", saga));
    assert!(rec.calls().iter().all(|c| c.attempt == 1));
}

#[tokio::test]
async fn failing_step_compensates_committed_steps_in_reverse_order() {
    let hv = hv();
    let (base, rec) = step_server().await;
    let sid = session(&hv, &[("did:mesh:alpha", 0.8)]).await;
    let yaml = r#"
name: fails-at-three
session_id: {session}
steps:
  - { id: s1, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/ok/s1", undo_api: "{base}/undo/s1" }
  - { id: s2, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/ok/s2", undo_api: "{base}/undo/s2" }
  - { id: s3, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/fail400/s3", undo_api: "{base}/undo/s3" }
  - { id: s4, action_id: book, agent: did:mesh:alpha, execute_api: "{base}/ok/s4" }
"#;
    let saga = run_dsl(&hv, yaml, &sid, &base).await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Compensated);
    assert_eq!(
        rec.paths(),
        vec!["ok/s1", "ok/s2", "fail400/s3", "undo/s2", "undo/s1"]
    );
    let undo = rec
        .calls()
        .into_iter()
        .find(|c| c.path == "undo/s2")
        .unwrap();
    assert_eq!(undo.key, format!("{saga}/s2/undo"));
    let view = hv.read(|e| e.saga_view(&saga).unwrap()).unwrap();
    let state = |id: &str| {
        view.steps
            .iter()
            .find(|s| s.step_id.as_str() == id)
            .unwrap()
            .state
    };
    assert_eq!(state("s3"), StepState::Failed);
    assert_eq!(state("s4"), StepState::Pending);
    assert_eq!(state("s1"), StepState::Compensated);
    // A 4xx is final: exactly one attempt of s3.
    assert_eq!(
        rec.paths()
            .iter()
            .filter(|p| p.starts_with("fail400"))
            .count(),
        1
    );
}

#[tokio::test]
async fn hanging_compensator_escalates_with_liability_effects() {
    let hv = hv();
    let (base, rec) = step_server().await;
    let sid = session(
        &hv,
        &[
            ("did:mesh:worker", 0.7),
            ("did:mesh:culprit", 0.7),
            ("did:mesh:voucher", 0.9),
        ],
    )
    .await;
    hv.execute(
        Actor::Agent(did("did:mesh:voucher")),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: did("did:mesh:voucher"),
            vouchee: did("did:mesh:culprit"),
            bond_pct: Some(Score::new(0.3).unwrap()),
            expiry: None,
        },
    )
    .await
    .unwrap();
    let yaml = r#"
name: escalates
session_id: {session}
steps:
  - { id: s1, action_id: book, agent: did:mesh:worker, execute_api: "{base}/ok/s1", undo_api: "{base}/hang/s1", undo_timeout: 1 }
  - { id: s2, action_id: charge, agent: did:mesh:culprit, execute_api: "{base}/fail400/s2" }
"#;
    let saga = run_dsl(&hv, yaml, &sid, &base).await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Escalated);
    assert_eq!(rec.paths(), vec!["ok/s1", "fail400/s2", "hang/s1"]);
    // Attribution blames the culprit; it and its voucher are slashed and demoted at once.
    let (culprit, voucher, profile) = hv
        .read(|e| {
            let v = e.session_view(&sid).unwrap();
            let p = |d: &str| {
                v.participants
                    .iter()
                    .find(|p| p.agent_did.as_str() == d)
                    .cloned()
                    .unwrap()
            };
            (
                p("did:mesh:culprit"),
                p("did:mesh:voucher"),
                e.books().ledger().risk_profile(&did("did:mesh:culprit")),
            )
        })
        .unwrap();
    assert_eq!(culprit.sigma_eff.get(), 0.0);
    assert_eq!(culprit.ring, Ring::Sandbox);
    assert!(
        voucher.sigma_eff.get() < 0.9,
        "voucher not slashed: {}",
        voucher.sigma_eff.get()
    );
    assert_eq!(voucher.ring, Ring::Sandbox, "voucher demoted");
    assert!(profile.slash_count >= 1);
    let history = hv
        .read(|e| {
            e.books()
                .ledger()
                .history(&did("did:mesh:culprit"))
                .iter()
                .map(|h| h.entry_type)
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert!(history.contains(&LedgerEntryType::FaultAttributed));
    let attribution = hv
        .read(|e| e.books().attributions().last().cloned().unwrap())
        .unwrap();
    assert_eq!(
        attribution.attributions[0].agent.as_str(),
        "did:mesh:culprit"
    );
    for t in [
        EventType::SagaEscalated,
        EventType::LiabilityFaultAttributed,
        EventType::LiabilitySlashExecuted,
        EventType::RingDemoted,
    ] {
        let f = EventFilter {
            event_type: Some(t),
            ..Default::default()
        };
        assert!(!hv.bus().query(&f, 10).is_empty(), "missing event {t}");
    }
}

#[tokio::test]
async fn http_retries_reuse_the_idempotency_key() {
    let hv = hv();
    let (base, rec) = step_server().await;
    let sid = session(&hv, &[("did:mesh:alpha", 0.8)]).await;
    let yaml = r#"
name: flaky
session_id: {session}
steps:
  - id: s1
    action_id: book
    agent: did:mesh:alpha
    execute_api: "{base}/flaky/s1"
    retries: 2
    retry: { initial_delay_ms: 20, multiplier: 2.0, max_delay_ms: 1000, jitter: 0.0 }
"#;
    let saga = run_dsl(&hv, yaml, &sid, &base).await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Completed);
    let calls = rec.calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.key == format!("{saga}/s1/execute")),
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[tokio::test]
async fn step_url_outside_the_allow_list_is_refused_without_a_call() {
    let hv = hv();
    let sid = session(&hv, &[("did:mesh:alpha", 0.8)]).await;
    let yaml = r#"
name: ssrf
session_id: {session}
steps:
  - { id: s1, action_id: book, agent: did:mesh:alpha, execute_api: "http://169.254.169.254/latest/meta-data" }
"#;
    let saga = run_dsl(&hv, yaml, &sid, "").await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Failed);
    let err = hv
        .read(|e| e.saga_view(&saga).unwrap().steps[0].error.clone())
        .unwrap()
        .unwrap();
    assert!(err.contains("allow-list"), "{err}");
}

#[tokio::test]
async fn sandboxed_agent_cannot_run_a_ring_2_step() {
    let hv = hv();
    let (base, rec) = step_server().await;
    let sid = session(&hv, &[("did:mesh:low", 0.3)]).await;
    let saga = run_dsl(
        &hv,
        THREE_OK.replace("did:mesh:alpha", "did:mesh:low").as_str(),
        &sid,
        &base,
    )
    .await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Failed);
    assert!(
        rec.paths().is_empty(),
        "no call may be made for a denied step"
    );
    let err = hv
        .read(|e| e.saga_view(&saga).unwrap().steps[0].error.clone())
        .unwrap()
        .unwrap();
    assert!(
        err.contains("denied by governance: Ring 2 requires σ_eff ≥ 0.60, got 0.300"),
        "{err}"
    );
}

#[tokio::test]
async fn dsl_file_runs_end_to_end() {
    let hv = hv();
    let (base, rec) = step_server().await;
    let sid = session(&hv, &[("did:mesh:alpha", 0.8), ("did:mesh:beta", 0.8)]).await;
    let yaml = include_str!("deploy.yaml");
    let saga = run_dsl(&hv, yaml, &sid, &base).await;
    assert_eq!(saga_state(&hv, &saga), SagaState::Completed);
    let mut paths = rec.paths();
    paths[1..3].sort();
    assert_eq!(
        paths,
        vec!["ok/reserve", "ok/shard-a", "ok/shard-b", "ok/publish"]
    );
}
