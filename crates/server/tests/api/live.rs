//! Live events (SSE with resumption), the signed export bundle, and one end-to-end run over a
//! real socket with graceful shutdown.

use std::time::Duration;

use ahv_core::audit::bundle::{AuditBundle, verify_bundle};
use axum::body::Body;
use axum::http::Request;
use futures::StreamExt;
use serde_json::json;
use tower::ServiceExt;

use crate::common::{ADMIN, fixture, get, hv, post, state_with};

/// Reads SSE frames from `body` until one of type `kind` arrives; returns its id.
async fn next_event_of(body: Body, kind: &str) -> (u64, String) {
    let mut stream = body.into_data_stream();
    let mut buf = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            for frame in buf.split("\n\n") {
                if frame.lines().any(|l| l == format!("event: {kind}")) {
                    let id = frame
                        .lines()
                        .find_map(|l| l.strip_prefix("id: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    return Some((id, frame.to_string()));
                }
            }
        }
        None
    })
    .await;
    found.expect("timed out").expect("stream ended")
}

fn stream_req(token: &str, last: Option<u64>) -> Request<Body> {
    let mut b = Request::builder()
        .uri("/api/v1/events/stream?event_type=session.created")
        .header("authorization", format!("Bearer {token}"));
    if let Some(id) = last {
        b = b.header("last-event-id", id.to_string());
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn sse_delivers_live_events_and_resumes_with_last_event_id() {
    let fx = fixture().await;
    let resp = fx
        .app
        .clone()
        .oneshot(stream_req(ADMIN, None))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = json!({"creator_did":"did:mesh:new"});
    let r = post(&fx.app, "/api/v1/sessions", Some(ADMIN), body).await;
    let created = r.body["session_id"].as_str().unwrap().to_string();
    let (id, frame) = next_event_of(resp.into_body(), "session.created").await;
    assert!(frame.contains(&created), "{frame}");
    // Resume from just before it: the retained event is replayed.
    let resp = fx
        .app
        .clone()
        .oneshot(stream_req(ADMIN, Some(id - 1)))
        .await
        .unwrap();
    let (again, frame) = next_event_of(resp.into_body(), "session.created").await;
    assert_eq!(again, id);
    assert!(frame.contains(&created));
    // An agent's stream carries only its sessions' events: mallory does not see alpha's session.
    let resp = fx
        .app
        .clone()
        .oneshot(stream_req(&fx.mallory, Some(0)))
        .await
        .unwrap();
    let (_, frame) = next_event_of(resp.into_body(), "session.created").await;
    assert!(
        frame.contains(fx.other.as_str()) && !frame.contains(fx.sid.as_str()),
        "{frame}"
    );
}

/// Reads SSE text from `stream` until it contains `needle`; returns what was read.
async fn read_until<S>(stream: &mut S, needle: &str) -> String
where
    S: futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin,
{
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if buf.contains(needle) {
                return;
            }
        }
    })
    .await
    .expect("timed out");
    buf
}

#[tokio::test]
async fn an_agent_stream_shows_a_session_from_the_moment_it_joins() {
    let fx = fixture().await;
    let req = Request::builder()
        .uri("/api/v1/events/stream?event_type=session.joined")
        .header("authorization", format!("Bearer {}", fx.mallory))
        .body(Body::empty())
        .unwrap();
    let resp = fx.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.into_body().into_data_stream();
    let join = |sid: &str, agent: &str| {
        let (app, path) = (fx.app.clone(), format!("/api/v1/sessions/{sid}/join"));
        let body = json!({"agent_did": agent, "sigma_raw": 0.5});
        async move {
            let r = post(&app, &path, Some(ADMIN), body).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    };
    // A join in alpha's session, then one in mallory's own: only the second reaches mallory.
    join(fx.sid.as_str(), "did:mesh:zed").await;
    join(fx.other.as_str(), "did:mesh:ann").await;
    let before = read_until(&mut stream, "did:mesh:ann").await;
    assert!(!before.contains("did:mesh:zed"), "{before}");
    // Once mallory joins alpha's session, its join and what follows there are shown.
    join(fx.sid.as_str(), "did:mesh:mallory").await;
    join(fx.sid.as_str(), "did:mesh:yan").await;
    let after = read_until(&mut stream, "did:mesh:yan").await;
    assert!(
        after.contains("did:mesh:mallory") && after.contains(fx.sid.as_str()),
        "{after}"
    );
}

#[tokio::test]
async fn exported_bundle_verifies_offline() {
    let fx = fixture().await;
    let terminate = format!("/api/v1/sessions/{}/terminate", fx.other);
    let r = post(&fx.app, &terminate, Some(ADMIN), None).await;
    assert_eq!(r.status, 200);
    let r = post(&fx.app, "/api/v1/admin/checkpoint", Some(ADMIN), None).await;
    assert_eq!(r.body["signed"], true);
    // By default: the two session logs, the ended one anchored in the hypervisor log.
    let body = json!({"session_ids":[fx.sid, fx.other],"prove":[0, 1]});
    let r = post(&fx.app, "/api/v1/audit/export", Some(ADMIN), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let bundle: AuditBundle = serde_json::from_value(r.body).unwrap();
    let report = verify_bundle(&bundle).unwrap();
    assert_eq!((report.logs, report.anchors), (2, 1));
    assert!(report.inclusion_proofs >= 2);
    assert!(bundle.logs.iter().all(|l| l.log_id != "hypervisor"));
    assert_eq!(bundle.anchors[0].log_id, fx.other.as_str());
    // An admin may ask for the whole hypervisor log too, proven consistent with the last
    // signed checkpoint.
    let body = json!({"session_ids":[fx.other],"hypervisor_log":true});
    let r = post(&fx.app, "/api/v1/audit/export", Some(ADMIN), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let whole: AuditBundle = serde_json::from_value(r.body).unwrap();
    let report = verify_bundle(&whole).unwrap();
    assert_eq!(
        (report.logs, report.anchors, report.consistency_proofs),
        (2, 1, 1)
    );
    let key = get(&fx.app, "/api/v1/audit/public-key", Some(&fx.alpha)).await;
    assert_eq!(key.body["vkey"].as_str(), Some(bundle.public_key.as_str()));
    // Proof endpoints agree with each other.
    let audit = format!("/api/v1/sessions/{}/audit", fx.sid);
    let p = get(&fx.app, &format!("{audit}/1/proof"), Some(&fx.alpha)).await;
    assert_eq!(p.status, 200);
    let e = get(&fx.app, &audit, Some(&fx.alpha)).await;
    assert_eq!(p.body["root"], e.body["root"]);
    let consistency = format!("{audit}/consistency?old=5&new=2");
    let bad = get(&fx.app, &consistency, Some(&fx.alpha)).await;
    assert_eq!(bad.status, 400);

    // A checkpoint seen earlier, as `ahv audit witness` keeps it: once the log grew, the bundle
    // proves its hypervisor head extends it.
    let cps = get(&fx.app, "/api/v1/audit/checkpoints", Some(&fx.alpha)).await;
    let note = cps.body["checkpoints"].as_array().unwrap().last().unwrap()["note"].clone();
    let terminate = format!("/api/v1/sessions/{}/terminate", fx.sid);
    assert_eq!(
        post(&fx.app, &terminate, Some(ADMIN), None).await.status,
        200
    );
    let body = json!({"session_ids":[fx.other],"witnessed":note});
    let r = post(&fx.app, "/api/v1/audit/export", Some(&fx.alpha), body).await;
    assert_eq!(
        r.status, 403,
        "alpha is not in mallory's session: {}",
        r.body
    );
    let body = json!({"session_ids":[fx.sid],"witnessed":note});
    let r = post(&fx.app, "/api/v1/audit/export", Some(&fx.alpha), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let witnessed: AuditBundle = serde_json::from_value(r.body).unwrap();
    let report = verify_bundle(&witnessed).unwrap();
    assert_eq!((report.anchors, report.consistency_proofs), (1, 1));
    assert_eq!(
        witnessed.consistency[0].old_checkpoint,
        note.as_str().unwrap()
    );
    // Not a checkpoint of this hypervisor log, or no head to prove it against: 400.
    for body in [
        json!({"session_ids":[fx.sid],"witnessed":"garbage"}),
        json!({"session_ids":[],"witnessed":note}),
    ] {
        let r = post(&fx.app, "/api/v1/audit/export", Some(ADMIN), body).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("witnessed checkpoint"),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn an_agent_bundle_shows_no_other_session_and_the_hypervisor_log_is_admin_only() {
    let fx = fixture().await;
    for sid in [&fx.other, &fx.sid] {
        let r = post(
            &fx.app,
            &format!("/api/v1/sessions/{sid}/terminate"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Alpha's own ended session exports and verifies, anchored in the hypervisor log, and
    // nothing in it names mallory's session or mallory.
    let body = json!({"session_ids":[fx.sid]});
    let r = post(&fx.app, "/api/v1/audit/export", Some(&fx.alpha), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body.to_string();
    assert!(!text.contains("did:mesh:mallory") && !text.contains(fx.other.as_str()));
    let bundle: AuditBundle = serde_json::from_value(r.body).unwrap();
    assert_eq!(verify_bundle(&bundle).unwrap().anchors, 1);
    // The whole hypervisor log names every session's participants: admin only.
    let body = json!({"session_ids":[fx.sid],"hypervisor_log":true});
    let r = post(&fx.app, "/api/v1/audit/export", Some(&fx.alpha), body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("hypervisor log"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn end_to_end_over_a_socket_with_graceful_shutdown() {
    let state = state_with(hv(), Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ahv_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let r = http
        .post(format!("{base}/api/v1/sessions"))
        .bearer_auth(ADMIN)
        .json(&json!({"creator_did":"did:mesh:admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sid = r.json::<serde_json::Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{base}/api/v1/sessions/{sid}/join"))
        .bearer_auth(ADMIN)
        .json(&json!({"agent_did":"did:mesh:alpha","sigma_raw":0.8}))
        .send()
        .await
        .unwrap();
    let token = r.json::<serde_json::Value>().await.unwrap()["agent_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .get(format!("{base}/api/v1/sessions/{sid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/api/v1/sessions/{sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    // An open event stream does not hold up shutdown.
    let stream = http
        .get(format!("{base}/api/v1/events/stream"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("graceful shutdown finished")
        .unwrap()
        .unwrap();
    drop(stream);
}
