//! `ahv bench [--json] [--quick]`: runs the benchmark suite ([`crate::bench`]) and prints an
//! aligned table like the reference's, or one JSON object keyed by operation name.

use std::io::IsTerminal;

use serde_json::{Value, json};

use crate::args::BenchArgs;
use crate::bench::{self, Stats};
use crate::config::Settings;
use crate::error::CliError;
use crate::out;
use crate::style::Style;

/// Runs `ahv bench`.
pub fn run(a: &BenchArgs, settings: &Settings) -> Result<u8, CliError> {
    let show_progress = std::io::stderr().is_terminal();
    let benches = bench::select(&a.only).map_err(|e| CliError::usage(e, "--only"))?;
    let results = bench::run_all(&benches, a.quick, |i, n, name| {
        if show_progress {
            out::err_progress(format!("\r\x1b[2K[{}/{n}] {name}…", i + 1));
        }
    })
    .map_err(|e| CliError::check(e, "ahv bench"))?;
    if show_progress {
        out::err_progress("\r\x1b[2K");
    }
    if a.json {
        out::line(to_json(&results));
    } else {
        print_table(&Style::detect(settings.no_color), &results, a.quick);
    }
    Ok(0)
}

/// One JSON object keyed by operation name, keys in suite order (the reference's nine first).
pub fn to_json(results: &[(&str, Stats)]) -> String {
    let fields: Vec<String> = results
        .iter()
        .map(|(name, s)| {
            let v = json!({
                "mean_ns": round1(s.mean_ns),
                "p50_ns": round1(s.p50_ns),
                "p99_ns": s.p99_ns,
                "ops_per_s": round1(s.ops_per_s),
                "iterations": s.iterations,
            });
            format!("{}:{v}", Value::String((*name).to_string()))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn print_table(style: &Style, results: &[(&str, Stats)], quick: bool) {
    let rule = "=".repeat(96);
    out::line(&rule);
    out::line(format!(
        "  {}",
        style.bold("AGENT HYPERVISOR (Rust) PERFORMANCE BENCHMARKS")
    ));
    if quick {
        out::line(format!(
            "  {}",
            style.dim("--quick: iteration counts divided by 10")
        ));
    }
    out::line(&rule);
    out::line(format!(
        "  {:<34} {:>12} {:>12} {:>12} {:>16} {:>8}",
        "operation", "mean", "p50", "p99", "ops/s", "iters"
    ));
    for (i, (name, s)) in results.iter().enumerate() {
        let prev_ref = i > 0
            && results
                .get(i - 1)
                .is_some_and(|(p, _)| bench::is_reference(p));
        if prev_ref && !bench::is_reference(name) {
            out::line(format!("  {}", style.dim("-- beyond the reference --")));
        }
        out::line(format!(
            "  {} {:>12} {:>12} {:>12} {:>16} {:>8}",
            style.cyan(&format!("{name:<34}")),
            micros(s.mean_ns),
            micros(s.p50_ns),
            micros(s.p99_ns as f64),
            thousands(s.ops_per_s.round() as u64),
            s.iterations
        ));
    }
    out::line(&rule);
}

fn micros(ns: f64) -> String {
    format!("{:.2}µs", ns / 1000.0)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_documented_fields() {
        let s = Stats {
            mean_ns: 1.25,
            p50_ns: 1.0,
            p99_ns: 3,
            ops_per_s: 800_000_000.0,
            iterations: 4,
        };
        let text = to_json(&[("ring_computation", s), ("delta_capture", s)]);
        assert!(
            text.find("ring_computation") < text.find("delta_capture"),
            "suite order kept"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        let r = &v["ring_computation"];
        for k in ["mean_ns", "p50_ns", "p99_ns", "ops_per_s", "iterations"] {
            assert!(r.get(k).is_some(), "{k}");
        }
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(3_339_623), "3,339,623/s");
        assert_eq!(thousands(12), "12/s");
    }
}
