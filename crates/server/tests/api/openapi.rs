//! The OpenAPI document covers exactly the routes that exist: every operation in it is
//! routed, every endpoint of the authorisation table is in it, and nothing is registered
//! around it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{call, fixture};
use crate::matrix::ROWS;

/// Open endpoints (not in the authorisation table).
const OPEN: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("POST", "/api/v1/auth/challenge"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/dashboard/login"),
    ("POST", "/api/v1/dashboard/logout"),
    ("GET", "/api/v1/dashboard/session"),
];

fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn concrete(path: &str) -> String {
    path.replace("{session_id}", "session:x")
        .replace("{agent_did}", "did:mesh:x")
        .replace("{saga_id}", "saga:x")
        .replace("{step_id}", "step:x")
        .replace("{seq}", "0")
        .replace("{vouch_id}", "vouch:x")
        .replace("{lock_id}", "lock:x")
        .replace("{elevation_id}", "elev:x")
        .replace("{snapshot_id}", "snap")
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let fx = fixture().await;
    let r = call(&fx.app, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    let ops = operations(&r.body);
    let mut table: BTreeSet<(String, String)> = ROWS
        .iter()
        .map(|r| (r.0.to_string(), r.1.to_string()))
        .collect();
    table.extend(OPEN.iter().map(|(m, p)| (m.to_string(), p.to_string())));
    let missing: Vec<_> = table.difference(&ops).collect();
    assert!(
        missing.is_empty(),
        "endpoints missing from the OpenAPI document: {missing:?}"
    );
    let untested: Vec<_> = ops.difference(&table).collect();
    assert!(
        untested.is_empty(),
        "operations without a row in the authorisation table: {untested:?}"
    );
    // Every documented operation is routed (no 404 "no such endpoint", no 405).
    for (method, path) in &ops {
        let r = call(&fx.app, method, &concrete(path), None, None).await;
        assert!(
            r.status != 405 && r.body["detail"] != "no such endpoint",
            "{method} {path} is documented but not routed: {}",
            r.status
        );
    }
    // Routes are only ever registered together with their operation (`routes!`).
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !text.contains(".route("),
            "a route bypasses the OpenAPI registration"
        );
    }
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn every_operation_documents_the_errors_it_can_give() {
    let fx = fixture().await;
    let spec = call(&fx.app, "GET", "/api/v1/openapi.json", None, None)
        .await
        .body;
    let open: BTreeSet<(String, String)> = OPEN
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let key = (method.to_uppercase(), path.clone());
            let responses = op["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            let mut want = vec!["400", "408"];
            if path == "/metrics" {
                // Open to the router; checks the admin token itself unless made public.
                want.extend(["401", "403"]);
            } else if !open.contains(&key) {
                want.extend(["401", "403", "404"]);
                if method != "get" {
                    want.extend(["409", "429", "503"]);
                }
            }
            if op.get("requestBody").is_some() {
                want.extend(["413", "422"]);
            }
            for status in want {
                assert!(has(status), "{method} {path} does not document {status}");
                let schema = &responses[status]["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 70, "only {checked} operations");
}

#[tokio::test]
async fn swagger_ui_is_served_without_network() {
    let fx = fixture().await;
    let r = call(&fx.app, "GET", "/docs/", None, None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_str().unwrap().contains("swagger"), "{}", r.body);
}
