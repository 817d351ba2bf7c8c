//! Commands that talk to a running server: `ahv status`, `ahv saga run`, `ahv audit export`.
//! One small HTTP client; every failure (server down, 4xx, bad JSON) is one line with the URL.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::args::{ExportArgs, RunArgs, StatusArgs};
use crate::config::Settings;
use crate::error::CliError;

const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The HTTP client of the commands that talk to a server.
pub(super) struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for `server` (default `http://127.0.0.1:8080`) with `token` or
    /// `AHV_ADMIN_TOKEN`.
    pub(super) fn new(server: Option<&str>, token: Option<&str>) -> Self {
        let base = server
            .unwrap_or(DEFAULT_SERVER)
            .trim_end_matches('/')
            .to_string();
        let token = token
            .map(str::to_string)
            .or_else(|| std::env::var("AHV_ADMIN_TOKEN").ok())
            .filter(|t| !t.is_empty());
        Client {
            base,
            token,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Value, CliError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                CliError::usage(
                    format!("cannot reach the server: {}", root_cause(&e)),
                    url.to_string(),
                )
            })?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        if !status.is_success() {
            let detail = value
                .get("detail")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_string);
            return Err(CliError::usage(
                format!("server answered {}: {detail}", status.as_u16()),
                url.to_string(),
            ));
        }
        Ok(value)
    }

    /// GETs `path`: the JSON body, or one-line error naming the URL.
    pub(super) async fn get(&self, path: &str) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        self.send(self.http.get(&url), &url).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        self.send(self.http.post(&url).json(body), &url).await
    }

    async fn post_text(&self, path: &str, body: String) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        self.send(
            self.http
                .post(&url)
                .header("content-type", "application/yaml")
                .body(body),
            &url,
        )
        .await
    }
}

fn root_cause(e: &reqwest::Error) -> String {
    let mut s: &dyn std::error::Error = e;
    while let Some(next) = s.source() {
        s = next;
    }
    s.to_string()
}

/// A current-thread runtime for one command.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the async runtime: {e}"), "ahv"))
}

/// `ahv status`: sessions, participants, sagas and the event rate of a running server.
pub fn status(args: &StatusArgs, settings: &Settings) -> Result<u8, CliError> {
    let client = Client::new(settings.server.as_deref(), args.token.as_deref());
    runtime()?.block_on(async {
        let health = client.get("/health").await?;
        let stats = client.get("/api/v1/stats").await?;
        let first = client.get("/api/v1/events/stats").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let second = client.get("/api/v1/events/stats").await?;
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let rate = n(&second, "total_events").saturating_sub(n(&first, "total_events"));
        println!(
            "server            {} ({})",
            client.base,
            health.get("status").and_then(Value::as_str).unwrap_or("?")
        );
        println!(
            "sessions          {} total, {} active",
            n(&stats, "total_sessions"),
            n(&stats, "active_sessions")
        );
        println!("participants      {}", n(&stats, "total_participants"));
        println!("active sagas      {}", n(&stats, "active_sagas"));
        println!("active vouches    {}", n(&stats, "total_vouches"));
        println!(
            "events            {} total, {rate}/s now",
            n(&second, "total_events")
        );
        Ok(0)
    })
}

/// `ahv audit export`: fetches a signed bundle of a session's log, anchored in the hypervisor
/// log once the session ended (and, on request, the whole hypervisor log).
pub fn export(args: &ExportArgs, settings: &Settings) -> Result<u8, CliError> {
    let client = Client::new(settings.server.as_deref(), args.token.as_deref());
    let sessions: Vec<&str> = args.session.iter().map(String::as_str).collect();
    let witnessed = match &args.witness {
        Some(path) => Some(super::witness::witnessed(path)?.note),
        None => None,
    };
    let body = json!({
        "session_ids": sessions, "hypervisor_log": args.hypervisor_log, "witnessed": witnessed,
    });
    let bundle = runtime()?.block_on(client.post_json("/api/v1/audit/export", &body))?;
    let text = serde_json::to_string_pretty(&bundle)
        .map_err(|e| CliError::usage(e.to_string(), "bundle"))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| {
                CliError::usage(format!("cannot write: {e}"), path.display().to_string())
            })?;
            eprintln!(
                "wrote {} (check it with `ahv audit verify {}`)",
                path.display(),
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(0)
}

/// `ahv saga run`: validates locally, submits, then follows the saga until it finishes.
/// Exit 0 when it completed, 1 when it compensated, failed or escalated.
pub fn run_saga(args: &RunArgs, settings: &Settings) -> Result<u8, CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| {
        CliError::usage(format!("cannot read: {e}"), args.file.display().to_string())
    })?;
    if let Err(e) = ahv_core::saga::parse_saga(&text) {
        let first = e
            .problems()
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| e.to_string());
        return Err(CliError::check(
            format!("invalid saga: {first}"),
            args.file.display().to_string(),
        ));
    }
    let client = Client::new(settings.server.as_deref(), args.token.as_deref());
    runtime()?.block_on(async {
        let view = client.post_text("/api/v1/sagas", text).await?;
        let id = view
            .get("saga_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        println!("submitted {id}");
        let mut seen: Vec<(String, String)> = Vec::new();
        loop {
            let v = client
                .get(&format!("/api/v1/sagas/{}", encode(&id)))
                .await?;
            let steps = v
                .get("steps")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for s in &steps {
                let sid = s
                    .get("step_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let st = s
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !seen.iter().any(|(a, b)| *a == sid && *b == st) {
                    let attempts = s
                        .get("attempts")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    let err = s
                        .get("error")
                        .and_then(Value::as_str)
                        .map(|e| format!("  ({e})"))
                        .unwrap_or_default();
                    println!("  {sid:<24} {st:<20} attempts {attempts}{err}");
                    seen.retain(|(a, _)| *a != sid);
                    seen.push((sid, st));
                }
            }
            let _ = std::io::stdout().flush();
            let state = v.get("state").and_then(Value::as_str).unwrap_or_default();
            if matches!(state, "completed" | "compensated" | "failed" | "escalated") {
                println!("saga {id} {state}");
                return Ok(if state == "completed" { 0 } else { 1 });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Percent-encodes a path segment (saga ids contain `:`; DIDs may contain `/`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
