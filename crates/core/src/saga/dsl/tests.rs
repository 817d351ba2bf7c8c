//! DSL tests: one full document end to end, then each error kind with its position.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::id::{IdGen, SagaId, StepId};
use crate::saga::machine::{Saga, SagaMode};
use crate::saga::model::FanOutPolicy;
use crate::saga::protocol::{SagaCommand, SagaInput};
use crate::time::Timestamp;

const VALID: &str = r#"# A model deployment with a parallel shard upload.
name: deploy-model
session_id: session:1
saga_id: saga:deploy-1
timeout: 3600
metadata:
  team: ml
  priority: 2
steps:
  - id: reserve
    action_id: reserve_gpu
    agent: did:mesh:alpha
    execute_api: https://gpu.example/reserve
    undo_api: gpu.release
    timeout: 120
    undo_timeout: 30
    retries: 2
    checkpoint_goal: gpu reserved
    input: { gpus: 4, zones: [eu, us] }
  - id: shard-a
    action_id: upload
    agent: did:mesh:beta
    execute_api: storage.upload
    undo_api: storage.delete
    retry:
      max_attempts: 5
      initial_delay_ms: 500
      multiplier: 3
      max_delay_ms: 10000
      jitter: 0
  - id: shard-b
    action_id: upload
    agent: did:mesh:gamma
    execute_api: storage.upload
  - id: shard-c
    action_id: upload
    agent: did:mesh:gamma
    execute_api: storage.upload
  - id: serve
    action_id: serve
    agent: did:mesh:alpha
    execute_api: http://localhost:8080/serve
fan_out:
  - id: shards
    policy: majority_must_succeed
    branches: [shard-a, shard-b, shard-c]
"#;

fn sid(s: &str) -> StepId {
    StepId::new(s).unwrap()
}

/// A minimal valid document with `extra` appended to its only step.
fn one_step(extra: &str) -> String {
    format!(
        "name: x\nsession_id: session:1\nsteps:\n  - id: a\n    action_id: act\n    agent: did:mesh:a\n    execute_api: api.do\n{extra}"
    )
}

fn problems(text: &str) -> Vec<String> {
    parse_saga(text)
        .unwrap_err()
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn valid_yaml_becomes_a_typed_definition() {
    let d = parse_saga(VALID).unwrap();
    assert_eq!(d.name, "deploy-model");
    assert_eq!(d.session_id.as_str(), "session:1");
    assert_eq!(d.saga_id, Some(SagaId::new("saga:deploy-1").unwrap()));
    assert_eq!(d.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(d.metadata.get("priority"), Some(&json!(2)));
    assert_eq!(d.steps.len(), 5);
    let r = &d.steps[0];
    assert_eq!(r.step_id, sid("reserve"));
    assert_eq!(r.action_id.as_str(), "reserve_gpu");
    assert_eq!(r.agent.as_str(), "did:mesh:alpha");
    assert_eq!(r.undo_api.as_deref(), Some("gpu.release"));
    assert_eq!(r.timeout, Duration::from_secs(120));
    assert_eq!(r.effective_undo_timeout(), Duration::from_secs(30));
    assert_eq!(r.retry.max_attempts(), 3, "retries: 2 means three attempts");
    assert_eq!(r.checkpoint_goal.as_deref(), Some("gpu reserved"));
    assert_eq!(r.input, json!({"gpus": 4, "zones": ["eu", "us"]}));
    let a = &d.steps[1];
    assert_eq!(a.retry.max_attempts(), 5);
    assert_eq!(a.retry.initial_delay(), Duration::from_millis(500));
    assert_eq!(a.retry.multiplier(), 3.0);
    assert_eq!(a.retry.jitter(), 0.0);
    let b = &d.steps[2];
    assert_eq!(b.timeout, Duration::from_secs(300), "default timeout");
    assert_eq!(b.retry.max_attempts(), 1, "default: no retry");
    assert_eq!(b.undo_api, None);
    assert_eq!(b.input, serde_json::Value::Null);
    assert_eq!(d.fan_outs.len(), 1);
    assert_eq!(d.fan_outs[0].group_id.as_str(), "shards");
    assert_eq!(d.fan_outs[0].policy, FanOutPolicy::MajorityMustSucceed);
    assert_eq!(
        d.fan_outs[0].branches,
        vec![sid("shard-a"), sid("shard-b"), sid("shard-c")]
    );
}

#[test]
fn parsed_definition_runs_in_the_machine() {
    let d = parse_saga(VALID).unwrap();
    let mut ids = IdGen::new([0; 16]);
    let mut g = Saga::from_definition(d, SagaMode::Defined, &mut ids, Timestamp::ZERO).unwrap();
    assert_eq!(g.saga_id().as_str(), "saga:deploy-1");
    let c = g
        .handle(SagaInput::Start { skip: vec![] }, Timestamp::ZERO)
        .unwrap();
    assert!(c.contains(&SagaCommand::ScheduleSagaTimeout {
        at: Timestamp::from_secs(3600)
    }));
    let c = g
        .handle(
            SagaInput::StepSucceeded {
                step_id: sid("reserve"),
                attempt: 1,
                output: json!(null),
            },
            Timestamp::from_secs(1),
        )
        .unwrap();
    let started: Vec<_> = c
        .iter()
        .filter_map(|c| match c {
            SagaCommand::ExecuteStep { step_id, .. } => Some(step_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec!["shard-a", "shard-b", "shard-c"]);
}

#[test]
fn json_is_accepted_too() {
    let text = r#"{"name": "j", "session_id": "session:1",
      "steps": [{"id": "a", "action_id": "x", "agent": "did:mesh:a", "execute_api": "https://h/x",
                 "retry": {"max_attempts": 2}},
                {"id": "b", "action_id": "x", "agent": "did:mesh:a", "execute_api": "https://h/y"}],
      "fan_out": [{"branches": ["a", "b"], "policy": "any_must_succeed"}]}"#;
    let d = parse_saga(text).unwrap();
    assert_eq!(d.steps[0].retry.max_attempts(), 2);
    assert_eq!(d.fan_outs[0].group_id.as_str(), "fanout:0");
}

#[test]
fn unknown_field_is_reported_with_line_and_column() {
    let e = parse_saga(&one_step("    retires: 3\n")).unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(8), Some(5)));
    assert!(matches!(e, DslError::Syntax(_)));
    assert!(
        e.to_string().starts_with(
            "line 8 column 5: unknown field `retires`, expected one of id, action_id, agent, execute_api"
        ),
        "{e}"
    );
    let e = parse_saga("name: x\nsession_id: s\nsteps: []\nfanout: []\n").unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(4), Some(1)));
}

#[test]
fn type_error_is_reported_with_line_and_column() {
    let e = parse_saga(&one_step("    timeout: \"abc\"\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 8 column 5: invalid type: string \"abc\", expected a whole number of seconds"
    );
    assert_eq!((e.line(), e.column()), (Some(8), Some(5)));
    let e = parse_saga(&one_step("    timeout: 1.5\n")).unwrap_err();
    assert!(e.to_string().contains("floating point `1.5`"), "{e}");
    let e = parse_saga(&one_step("    retries: many\n")).unwrap_err();
    assert_eq!(e.line(), Some(8));
}

#[test]
fn malformed_text_is_a_syntax_error() {
    let e = parse_saga("name: x\nsteps: [\n").unwrap_err();
    assert_eq!(e.to_string(), "line 2 column 8: unclosed bracket '['");
    let e = parse_saga("- a\n- b\n").unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(1), Some(1)));
    let e = parse_saga("name: x\nname: y\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2 column 1: duplicate mapping key `name` is not allowed here"
    );
    assert_eq!(
        parse_saga("  \n").unwrap_err().to_string(),
        "saga definition is empty"
    );
    let big = "#".repeat(MAX_DSL_BYTES + 1);
    assert!(matches!(parse_saga(&big), Err(DslError::TooLarge(_))));
}

#[test]
fn missing_top_level_fields_are_all_reported() {
    assert_eq!(
        problems("metadata: {}\n"),
        vec![
            "line 1 column 1: missing required field `name`",
            "line 1 column 1: missing required field `session_id`",
            "line 1 column 1: missing required field `steps`",
        ]
    );
    assert_eq!(
        problems("name: \"\"\nsession_id: \"\"\nsteps: []\n"),
        vec![
            "line 1 column 7: name: must not be empty",
            "line 2 column 13: session_id: session id must not be empty",
            "line 3 column 8: saga must have at least one step",
        ]
    );
}

#[test]
fn missing_step_fields_name_the_step() {
    let text = "name: x\nsession_id: s\nsteps:\n  - action_id: a\n  - id: b\n";
    assert_eq!(
        problems(text),
        vec![
            "line 4 column 5: step 1 is missing required field `id`",
            "line 4 column 5: step 1 is missing required field `agent`",
            "line 4 column 5: step 1 is missing required field `execute_api`",
            "line 5 column 5: step `b` is missing required field `action_id`",
            "line 5 column 5: step `b` is missing required field `agent`",
            "line 5 column 5: step `b` is missing required field `execute_api`",
        ]
    );
}

#[test]
fn duplicate_step_ids_point_at_both() {
    let text = format!(
        "{}  - id: a\n    action_id: act\n    agent: did:mesh:b\n    execute_api: api.do\n",
        one_step("")
    );
    assert_eq!(
        problems(&text),
        vec!["line 8 column 9: duplicate step id `a` (first defined at line 4)"]
    );
}

#[test]
fn invalid_apis_are_explained() {
    assert_eq!(
        problems(&one_step("    undo_api: ftp://files/x\n")),
        vec![
            "line 8 column 15: step `a` undo_api: `ftp://files/x` is not an http(s) url; other schemes are refused"
        ]
    );
    let text = one_step("").replace("api.do", "https://user:pw@h/x");
    assert_eq!(
        problems(&text),
        vec![
            "line 7 column 18: step `a` execute_api: `https://user:pw@h/x` embeds credentials; pass them out of band"
        ]
    );
    let text = one_step("").replace("api.do", "'9 lives'");
    assert!(problems(&text)[0].contains("is neither an http(s) url nor an api name"));
}

#[test]
fn out_of_range_timeouts_and_retries_are_refused() {
    assert_eq!(
        problems(&one_step("    timeout: 0\n    undo_timeout: 100000\n")),
        vec![
            "line 8 column 14: step `a` timeout: 0 s is out of range; allowed 1 s to 86400 s",
            "line 9 column 19: step `a` undo_timeout: 100000 s is out of range; allowed 1 s to 86400 s",
        ]
    );
    assert_eq!(
        problems(&format!("{}timeout: 999999999\n", one_step(""))),
        vec!["line 8 column 10: timeout: 999999999 s is out of range; allowed 1 s to 604800 s"]
    );
    assert_eq!(
        problems(&one_step("    retries: 100\n")),
        vec!["line 8 column 14: step `a` retries: at most 99 retries are allowed, got 100"]
    );
    assert_eq!(
        problems(&one_step(
            "    retries: 1\n    retry: { max_attempts: 3 }\n"
        )),
        vec!["line 4 column 5: step `a` gives both `retries` and `retry.max_attempts`; keep one"]
    );
    assert_eq!(
        problems(&one_step("    retry: { jitter: 2 }\n")),
        vec!["line 8 column 12: step `a` retry: jitter must be a number between 0 and 1, got 2"]
    );
    let ok = parse_saga(&one_step(
        "    retries: 1\n    retry: { initial_delay_ms: 10 }\n",
    ))
    .unwrap();
    assert_eq!(ok.steps[0].retry.max_attempts(), 2);
    assert_eq!(ok.steps[0].retry.initial_delay(), Duration::from_millis(10));
}

fn three_steps(fan_out: &str) -> String {
    let mut s = String::from("name: x\nsession_id: s\nsteps:\n");
    for id in ["a", "b", "c"] {
        s.push_str(&format!(
            "  - id: {id}\n    action_id: act\n    agent: did:mesh:{id}\n    execute_api: api.do\n"
        ));
    }
    s.push_str("fan_out:\n");
    s.push_str(fan_out);
    s
}

#[test]
fn fan_out_problems_are_located() {
    // Lines 1–15 hold the header and three steps, line 16 `fan_out:`; entries start at 17.
    let text = three_steps(
        "  - id: g1\n    policy: most\n    branches: [a]\n  - id: g2\n    branches: [a, zz, b, b]\n  - id: g2\n    branches: [c]\n",
    );
    assert_eq!(
        problems(&text),
        vec![
            "line 18 column 13: fan-out `g1`: invalid policy `most`; valid: all_must_succeed, majority_must_succeed, any_must_succeed",
            "line 19 column 15: fan-out `g1` needs at least 2 branches, got 1",
            "line 21 column 16: step `a` is already a branch of fan-out `g1`",
            "line 21 column 19: fan-out `g2` branch `zz` is not a step id of this saga",
            "line 21 column 26: fan-out `g2` lists step `b` twice",
            "line 22 column 9: duplicate fan-out id `g2`",
            "line 23 column 15: fan-out `g2` needs at least 2 branches, got 1",
        ]
    );
    let e = parse_saga(&three_steps("  - policy: all\n    branches: [a, b]\n")).unwrap_err();
    assert!(e.to_string().contains("invalid policy `all`"));
}

#[test]
fn fan_out_without_branches_is_refused() {
    assert_eq!(
        problems(&three_steps("  - policy: any_must_succeed\n")),
        vec!["line 17 column 5: fan-out `fanout:0` needs at least 2 branches, got 0"]
    );
}
