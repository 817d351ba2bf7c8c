//! Two real `ahv serve` processes sharing one PostgreSQL database (`--node-id`): conflicting
//! joins sent to both at once respect the session's capacity and admit each agent once, both
//! nodes answer with the same state and sign with one key, and an SSE subscriber of node B sees
//! node A's events.
//!
//! Runs when `AHV_TEST_POSTGRES_URL` is set (`.ci/run` sets it); skips with a printed reason
//! otherwise, unless `AHV_REQUIRE_POSTGRES` is set, which makes a missing server a failure.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "cluster-test-admin-token";

/// A server process, killed when dropped.
struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str, id: &str, dir: &std::path::Path) -> Node {
    start_with(dir, &["--database-url", url, "--node-id", id])
}

/// `ahv serve` with `extra` arguments, once it listens.
fn start_with(dir: &std::path::Path, extra: &[&str]) -> Node {
    let mut c = crate::util::serve_command(dir, TOKEN, extra);
    let mut child = c.spawn().expect("ahv serve starts");
    let out = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(out).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("ahv serve exited before listening")
            .expect("stdout readable");
        if let Some(rest) = line.trim().strip_prefix("listening on") {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Node { child, base }
}

async fn fresh_schema() -> Option<(String, String)> {
    let Ok(base) = std::env::var("AHV_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("AHV_REQUIRE_POSTGRES").is_err(),
            "AHV_REQUIRE_POSTGRES is set but AHV_TEST_POSTGRES_URL is not"
        );
        eprintln!(
            "SKIPPED: AHV_TEST_POSTGRES_URL is not set, so the two-process cluster test does not run"
        );
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("ahv_cli_cluster_{}_{nanos}", std::process::id());
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some((
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    ))
}

async fn drop_schema(schema: &str) {
    let base = std::env::var("AHV_TEST_POSTGRES_URL").unwrap();
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await;
    pool.close().await;
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_one_postgres() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    let a = start(&url, "a", &dir_a);
    let b = start(&url, "b", &dir_b);
    let http = reqwest::Client::new();

    // An SSE subscriber on node B.
    let mut stream = http
        .get(format!("{}/api/v1/events/stream", b.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);

    let (status, created) = post(
        &http,
        format!("{}/api/v1/sessions", a.base),
        json!({ "creator_did": "did:mesh:owner", "max_participants": 3 }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let sid = created["session_id"].as_str().unwrap().to_string();

    // Node B's subscriber sees the session node A created.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !(seen.contains("session.created") && seen.contains(&sid)) {
        assert!(
            Instant::now() < deadline,
            "no session.created on node B: {seen}"
        );
        match tokio::time::timeout(Duration::from_secs(1), stream.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => panic!("node B closed the event stream"),
            Ok(Err(e)) => panic!("event stream failed: {e}"),
            Err(_) => {}
        }
    }

    // Six agents, each joining through both nodes at once; capacity 3.
    let mut joins = tokio::task::JoinSet::new();
    for i in 0..6 {
        for node in [&a.base, &b.base] {
            let (http, url) = (http.clone(), format!("{node}/api/v1/sessions/{sid}/join"));
            let agent = format!("did:mesh:agent{i}");
            joins.spawn(async move {
                let body = json!({ "agent_did": agent, "sigma_raw": 0.8 });
                (agent, post(&http, url, body).await)
            });
        }
    }
    let mut admitted: Vec<String> = Vec::new();
    while let Some(r) = joins.join_next().await {
        let (agent, (status, body)) = r.unwrap();
        match status {
            200..=299 => admitted.push(agent),
            400..=499 => {}
            _ => panic!("join of {agent} failed with {status}: {body}"),
        }
    }
    admitted.sort();
    let unique = {
        let mut u = admitted.clone();
        u.dedup();
        u
    };
    assert_eq!(unique, admitted, "an agent was admitted twice");
    assert_eq!(
        admitted.len(),
        3,
        "capacity 3 must be filled exactly: {admitted:?}"
    );

    // Both nodes answer with the same participants (B may lag by a poll interval).
    let view = |base: String| {
        let http = http.clone();
        let sid = sid.clone();
        async move {
            let r = http
                .get(format!("{base}/api/v1/sessions/{sid}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (va, vb) = (view(a.base.clone()).await, view(b.base.clone()).await);
        if va["participants"] == vb["participants"] && va["participant_count"] == json!(3) {
            break;
        }
        assert!(Instant::now() < deadline, "nodes disagree: {va} vs {vb}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both nodes sign with the cluster's one key.
    let key = |base: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(format!("{base}/api/v1/audit/public-key"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["public_key_hex"].clone()
        }
    };
    let (ka, kb) = (key(a.base.clone()).await, key(b.base.clone()).await);
    assert!(ka.is_string(), "{ka}");
    assert_eq!(ka, kb, "the nodes sign with different keys");
    drop(stream);
    drop(a);
    drop(b);
    drop_schema(&schema).await;
}

/// Runs `ahv serve` with `extra` arguments, which must refuse to start; returns its error line.
fn refused(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut c = crate::util::serve_command(dir, TOKEN, extra);
    let mut child = c
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ahv serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("waitable").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ahv serve {extra:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output readable");
    crate::util::one_line_error(&out, 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_in_the_wrong_mode_for_its_database_or_beside_a_running_node_stops_at_start() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = start(&url, "a", &dir.path().join("a"));
    let line = refused(&dir.path().join("single"), &["--database-url", &url]);
    assert!(
        line.contains("shared log of a cluster") && line.contains("with --node-id"),
        "{line}"
    );
    drop(a);
    drop_schema(&schema).await;

    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let single = start_with(&dir.path().join("s"), &["--database-url", &url]);
    let line = refused(
        &dir.path().join("node"),
        &["--database-url", &url, "--node-id", "b"],
    );
    assert!(
        line.contains("log of a single node") && line.contains("without --node-id"),
        "{line}"
    );
    // A second single node on a database a running single node writes.
    let line = refused(&dir.path().join("s2"), &["--database-url", &url]);
    assert!(
        line.contains("another server is already writing this database"),
        "{line}"
    );
    drop(single);
    drop_schema(&schema).await;
}
