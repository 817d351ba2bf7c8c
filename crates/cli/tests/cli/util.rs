//! Helpers: run `ahv`, inspect its output, and share one exported demo bundle.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `ahv serve` on an ephemeral port with `dir` as its data directory and `token` as the admin
/// token, stdout piped (it prints `listening on …`), no configuration from the environment.
/// `extra` are further `serve` arguments.
pub(crate) fn serve_command(dir: &Path, token: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ahv"));
    c.args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .env("AHV_ADMIN_TOKEN", token)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for k in [
        "AHV_CONFIG",
        "AHV_LISTEN",
        "AHV_DATA_DIR",
        "AHV_DATABASE_URL",
        "AHV_NODE_ID",
    ] {
        c.env_remove(k);
    }
    c
}

/// A running `ahv serve` process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts [`serve_command`]`(dir, token, extra)` and waits until `/health` answers.
    pub(crate) async fn start(dir: &Path, token: &str, extra: &[&str]) -> Server {
        Self::start_with(serve_command(dir, token, extra)).await
    }

    /// Starts `c` (a [`serve_command`], possibly adjusted) and waits until `/health` answers.
    pub(crate) async fn start_with(mut c: Command) -> Server {
        let mut child = c.spawn().expect("ahv serve starts");
        let out = child.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Find the address, then keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.trim().strip_prefix("listening on") {
                    let _ = tx.send(rest.trim().to_string());
                    sent = true;
                }
            }
        });
        let base = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("ahv serve printed `listening on` within 60 s");
        let server = Server { child, base };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = http.get(format!("{}/health", server.base)).send().await;
            if matches!(&r, Ok(r) if r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "no healthy server: {r:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the process (`Child::kill` is SIGKILL on Unix) and reaps it.
    pub(crate) fn crash(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("killed server reaped");
    }
}

/// Runs `ahv` with `args`, no configuration from the environment, colour off.
pub(crate) fn ahv(args: &[&str]) -> Output {
    ahv_in(args, None)
}

/// As [`ahv`], in directory `dir`.
pub(crate) fn ahv_in(args: &[&str], dir: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ahv"));
    c.args(args);
    for k in [
        "AHV_CONFIG",
        "AHV_NO_COLOR",
        "AHV_SERVER",
        "AHV_LISTEN",
        "AHV_DATA_DIR",
        "AHV_AUDIT_KEY",
        "NO_COLOR",
    ] {
        c.env_remove(k);
    }
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output().expect("ahv runs")
}

/// Stdout as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code.
pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Asserts a failure printed exactly one line `error: … (…)` on stderr, no panic, and returns it.
pub(crate) fn one_line_error(o: &Output, want_code: i32) -> String {
    let err = stderr(o);
    assert_eq!(
        code(o),
        want_code,
        "exit code; stderr: {err}; stdout: {}",
        stdout(o)
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(!err.contains("backtrace"), "backtrace: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    assert!(
        line.ends_with(')') && line.contains(" ("),
        "`error: <what> (<where>)` expected: {line}"
    );
    line.to_string()
}

/// A scratch directory that lives for the whole test run.
pub(crate) fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// The JSON events of one `ahv demo --json --export-bundle` run, shared by the tests.
pub(crate) fn demo_run() -> &'static (Vec<Value>, PathBuf) {
    static RUN: OnceLock<(Vec<Value>, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let bundle = scratch().join("demo-bundle.json");
        let p = bundle.to_str().expect("utf-8 path");
        let o = ahv(&["demo", "--json", "--export-bundle", p]);
        assert_eq!(code(&o), 0, "demo failed: {}\n{}", stderr(&o), stdout(&o));
        let events = stdout(&o)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
            })
            .collect();
        (events, bundle)
    })
}

/// The exported demo bundle as JSON.
pub(crate) fn bundle_json() -> Value {
    let text = std::fs::read_to_string(&demo_run().1).expect("bundle written");
    serde_json::from_str(&text).expect("bundle is JSON")
}

/// Writes `v` to a new file in the scratch directory and returns its path.
pub(crate) fn write_json(name: &str, v: &Value) -> String {
    let path = scratch().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(v).expect("encode")).expect("write");
    path.to_str().expect("utf-8").to_string()
}
