//! Crash durability of the real server: `ahv serve` on a SQLite data directory is killed with
//! SIGKILL at a random moment while eight agents write files, 20 times over, and restarted on the
//! same directory each time. Afterwards every write the server acknowledged (2xx) reads back with
//! its content, and the exported audit bundle of the session verifies against the key the server
//! had before the first crash and holds at least one entry per acknowledged write.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::util::{Server, ahv, code, stderr, stdout};

const TOKEN: &str = "crash-test-admin-token";
const AGENTS: usize = 8;
const ROUNDS: usize = 20;
/// Pause between one agent's writes: ~12 writes/s, under ring 2's 20/s.
const PACE: Duration = Duration::from_millis(80);

/// Sends `req` with the admin token: status and JSON body.
async fn admin(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.bearer_auth(TOKEN).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A small xorshift generator: the crash points vary per run, reproducibly from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One agent's writes until the server goes away: `(path, content)` of each 2xx answer.
async fn writer(
    base: String,
    sid: String,
    token: String,
    round: usize,
    agent: usize,
) -> Vec<(String, String)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut acked = Vec::new();
    for n in 0.. {
        let path = format!("/r{round}/a{agent}/f{n}.txt");
        let content = format!("round {round} agent {agent} write {n}");
        let r = http
            .put(format!("{base}/api/v1/sessions/{sid}/vfs/file"))
            .bearer_auth(&token)
            .json(&json!({ "path": path, "content": content }))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => acked.push((path, content)),
            // Throttled: not acknowledged, not recorded.
            Ok(r) if r.status().as_u16() == 429 => {}
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                // A 5xx is no acknowledgement; a 4xx refusal means the governed write path broke.
                if status.is_client_error() {
                    panic!("write {path} refused with {status}: {body}");
                }
            }
            // The server is gone (or the answer was lost with it): not acknowledged.
            Err(_) => break,
        }
        tokio::time::sleep(PACE).await;
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_repeated_sigkill_of_serve() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);

    let mut server = Server::start(&data, TOKEN, &[]).await;
    let http = reqwest::Client::new();
    let (status, created) = admin(http.post(format!("{}/api/v1/sessions", server.base)).json(
        &json!({
            "creator_did": "did:mesh:owner",
            "max_participants": AGENTS,
            "max_duration_seconds": 86_400,
        }),
    ))
    .await;
    assert_eq!(status, 201, "{created}");
    let sid = created["session_id"].as_str().unwrap().to_string();
    let mut tokens = Vec::new();
    for i in 0..AGENTS {
        let (status, joined) = admin(
            http.post(format!("{}/api/v1/sessions/{sid}/join", server.base))
                .json(&json!({ "agent_did": format!("did:mesh:writer{i}"), "sigma_raw": 0.8 })),
        )
        .await;
        assert_eq!(status, 200, "{joined}");
        tokens.push(joined["agent_token"].as_str().unwrap().to_string());
    }
    let (status, body) =
        admin(http.post(format!("{}/api/v1/sessions/{sid}/activate", server.base))).await;
    assert_eq!(status, 200, "{body}");
    let (_, key) = admin(http.get(format!("{}/api/v1/audit/public-key", server.base))).await;
    let vkey = key["vkey"].as_str().unwrap().to_string();

    // Rounds: writers run, the server is SIGKILLed at a random moment, then restarted.
    let mut acked: Vec<(usize, String, String)> = Vec::new();
    let mut kills = 0;
    for round in 0..ROUNDS {
        let mut tasks = tokio::task::JoinSet::new();
        for (agent, token) in tokens.iter().enumerate() {
            let (base, sid, token) = (server.base.clone(), sid.clone(), token.clone());
            tasks.spawn(async move {
                let w = writer(base, sid, token, round, agent).await;
                (agent, w)
            });
        }
        tokio::time::sleep(Duration::from_millis(50 + rng.below(251))).await;
        server.crash();
        kills += 1;
        while let Some(r) = tasks.join_next().await {
            let (agent, w) = r.unwrap();
            acked.extend(w.into_iter().map(|(p, c)| (agent, p, c)));
        }
        server = Server::start(&data, TOKEN, &[]).await;
    }

    // Every acknowledged write reads back with its content (each agent reads its own files).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut reads = tokio::task::JoinSet::new();
    for (agent, token) in tokens.iter().enumerate() {
        let mine: Vec<(String, String)> = acked
            .iter()
            .filter(|(a, _, _)| *a == agent)
            .map(|(_, p, c)| (p.clone(), c.clone()))
            .collect();
        let (http, base, sid, token) = (
            http.clone(),
            server.base.clone(),
            sid.clone(),
            token.clone(),
        );
        reads.spawn(async move {
            for (path, content) in mine {
                loop {
                    let r = http
                        // The paths need no escaping: letters, digits, `/` and `.`.
                        .get(format!("{base}/api/v1/sessions/{sid}/vfs/file?path={path}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    if status == 429 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    assert_eq!(
                        status, 200,
                        "acknowledged write {path} lost (seed {seed}): {body}"
                    );
                    assert_eq!(
                        body["content"].as_str(),
                        Some(content.as_str()),
                        "acknowledged write {path} changed (seed {seed}): {body}"
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(45)).await;
            }
        });
    }
    while let Some(r) = reads.join_next().await {
        r.unwrap();
    }

    // The session's audit log verifies offline, signed by the key from before the first crash.
    let (status, bundle) = admin(
        http.post(format!("{}/api/v1/audit/export", server.base))
            .json(&json!({ "session_ids": [sid] })),
    )
    .await;
    assert_eq!(status, 200, "{bundle}");
    let log = bundle["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            let id = l["log_id"].as_str().unwrap_or_default();
            id.starts_with("session:") && id.contains(sid.as_str())
        })
        .unwrap_or_else(|| panic!("no session log in the bundle: {bundle}"));
    let entries = log["entries"].as_array().unwrap().len();

    assert!(
        entries >= acked.len(),
        "{entries} audit entries for {} acknowledged writes",
        acked.len()
    );
    // Each acknowledged write has its allowed `vfs.write` entry: same agent, path and content hash.
    let mut written: HashMap<&str, (&str, &str)> = HashMap::new();
    for e in log["entries"].as_array().unwrap() {
        if e["kind"] == "vfs.write" && e["decision"] == "allowed" {
            let path = e["detail"]["path"].as_str().unwrap();
            let by = e["agent_did"].as_str().unwrap();
            let sha = e["detail"]["content_sha256"].as_str().unwrap();
            assert!(
                written.insert(path, (by, sha)).is_none(),
                "{path} written twice"
            );
        }
    }
    for (agent, path, content) in &acked {
        let want = hex::encode(Sha256::digest(content.as_bytes()));
        let by = format!("did:mesh:writer{agent}");
        assert_eq!(
            written.get(path.as_str()),
            Some(&(by.as_str(), want.as_str())),
            "no audit entry for the acknowledged write {path} (seed {seed})"
        );
    }
    let unanswered = written.len() - acked.len();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let o = ahv(&["audit", "verify", path.to_str().unwrap(), "--key", &vkey]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("VERIFIED"), "{}", stdout(&o));
    drop(server);

    assert!(!acked.is_empty(), "no write was acknowledged");
    println!(
        "crash: {ROUNDS} rounds, {kills} SIGKILLs, {} acknowledged writes read back ({} more durable but unanswered), {entries} audit entries verified, {:.1} s (seed {seed})",
        acked.len(),
        unanswered,
        started.elapsed().as_secs_f64()
    );
}
