//! The torture corpus (issue 8, "Hostile input, zero panics"). xtask/src/torture.rs makes
//! several hundred broken captures from the fixtures (fixtures/README.md, "Torture corpus"). It
//! is compiled in here by `#[path]`, so the corpus is generated the same way `cargo xtask
//! torture` writes it. Each capture goes through the built binary on its own, then the whole
//! corpus goes through it as one directory. Every run must show:
//! - no panic: exit code never 101 and no "panicked" on stderr; no death by a signal; no hang;
//! - the exit code of README's "Exit codes". A rejected file exits 2 with one error line that
//!   names it. An intact or damaged file exits 0 or 1 (exactly 1 where the Beijing key exchange
//!   must survive) with a JSON report;
//! - a damaged file reports exactly the complete packets before the damage, with a warning. An
//!   intact file reports every packet, with no warning. Where a TCP case keeps the Beijing
//!   ClientHello recoverable, its server name is read from it;
//! - peak memory (VmHWM, sampled every 0.5 ms from /proc) under [`MEMORY_BOUND_KB`].

#[allow(dead_code)]
#[path = "../../xtask/src/fixtures/capture.rs"]
mod capture;
#[allow(dead_code)]
#[path = "../../xtask/src/torture.rs"]
mod generator;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use generator::{Case, Outcome};
use serde_json::Value;

use crate::util::root;

/// The most resident memory one run over one corpus capture may use. A debug build reading a
/// fixture peaks at about 17 MiB: the rest is headroom, not an allowance for growth with input.
const MEMORY_BOUND_KB: u64 = 64 * 1024;
/// The bound for the one run over the whole corpus directory (about 500 captures in one report).
const DIRECTORY_MEMORY_BOUND_KB: u64 = 256 * 1024;
/// A run taking longer than this has hung.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Corpus captures run at once: the machine has two cores.
const WORKERS: usize = 2;

#[test]
fn torture_corpus_runs_without_panics_with_documented_exits_in_bounded_memory() {
    let started = Instant::now();
    let cases = generator::generate(&root().join("fixtures")).expect("generate the corpus");
    assert!(cases.len() >= 300, "only {} captures", cases.len());
    let dir = corpus_dir("files");
    generator::write(&dir, &cases).expect("write the corpus");

    let next = AtomicUsize::new(0);
    let runs: Mutex<Vec<Option<Measured>>> = Mutex::new(cases.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(index) else {
                    break;
                };
                let run = run_measured(&audit_args(&[dir.join(&case.path)], &[]));
                runs.lock().unwrap()[index] = Some(run);
            });
        }
    });
    let runs: Vec<Measured> = runs
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|run| run.expect("every case ran"))
        .collect();

    let mut failures = Vec::new();
    let mut peak: Option<(u64, &str)> = None;
    let mut slowest = (Duration::ZERO, "");
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for (case, run) in cases.iter().zip(&runs) {
        *by_category.entry(case.category).or_default() += 1;
        let path = dir.join(&case.path);
        for problem in check(case, &path, run) {
            failures.push(format!("{} ({}): {problem}", case.path, case.what));
        }
        if let Some(kb) = run.peak_kb {
            if peak.is_none_or(|(most, _)| kb > most) {
                peak = Some((kb, &case.path));
            }
        }
        if run.elapsed > slowest.0 {
            slowest = (run.elapsed, &case.path);
        }
    }
    eprintln!(
        "torture: {} captures {:?} in {:.1} s; peak RSS {}; slowest run {} ms ({})",
        cases.len(),
        by_category,
        started.elapsed().as_secs_f64(),
        peak.map_or("not measured (no /proc)".to_string(), |(kb, path)| format!(
            "{kb} KiB ({path}), bound {MEMORY_BOUND_KB} KiB"
        )),
        slowest.0.as_millis(),
        slowest.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} captures misbehaved (corpus kept in {}):\n{}",
        failures.len(),
        cases.len(),
        dir.display(),
        failures.join("\n")
    );
    if Path::new("/proc/self/status").exists() {
        assert!(peak.is_some(), "no run's memory was measured");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torture_directory_reports_the_readable_captures_and_exits_2() {
    let cases = generator::generate(&root().join("fixtures")).expect("generate the corpus");
    let dir = corpus_dir("directory");
    generator::write(&dir, &cases).expect("write the corpus");
    let run = run_measured(&audit_args(std::slice::from_ref(&dir), &["--jobs", "2"]));
    let mut problems = Vec::new();
    problems.extend(crash(&run));
    // README, "Exit codes": 2 because some inputs are unreadable; the readable ones are still
    // reported.
    if run.code != Some(2) {
        problems.push(format!("exit {:?}, expected 2", run.code));
    }
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}): {problems:?}\nstderr:\n{}",
            run.stderr
        )
    });
    let readable: HashMap<String, &Case> = cases
        .iter()
        .filter(|c| c.outcome != Outcome::Rejected)
        .map(|c| (dir.join(&c.path).display().to_string(), c))
        .collect();
    let captures = report["captures"].as_array().expect("captures[]");
    if captures.len() != readable.len() {
        problems.push(format!(
            "{} captures reported, {} readable",
            captures.len(),
            readable.len()
        ));
    }
    let mut packets = 0;
    for capture in captures {
        let path = capture["path"].as_str().unwrap_or_default();
        let Some(case) = readable.get(path) else {
            problems.push(format!("{path}: reported but not readable"));
            continue;
        };
        packets += case.packets;
        if capture["packets_read"].as_u64() != Some(case.packets) {
            problems.push(format!(
                "{path}: {} packets read, expected {}",
                capture["packets_read"], case.packets
            ));
        }
        if capture["warning"].is_string() != (case.outcome == Outcome::Damaged) {
            problems.push(format!(
                "{path}: warning {}, expected {}",
                capture["warning"],
                case.outcome.name()
            ));
        }
    }
    if report["summary"]["packets"].as_u64() != Some(packets) {
        problems.push(format!(
            "summary.packets {}, expected {packets}",
            report["summary"]["packets"]
        ));
    }
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("callaudit: error: "))
        .collect();
    let rejected: Vec<String> = cases
        .iter()
        .filter(|c| c.outcome == Outcome::Rejected)
        .map(|c| dir.join(&c.path).display().to_string())
        .collect();
    if errors.len() != rejected.len() {
        problems.push(format!(
            "{} error lines for {} rejected files",
            errors.len(),
            rejected.len()
        ));
    }
    for path in &rejected {
        if !errors
            .iter()
            .any(|line| line.starts_with(&format!("callaudit: error: {path}: ")))
        {
            problems.push(format!("{path}: no error line names it"));
        }
    }
    let damaged = cases
        .iter()
        .filter(|c| c.outcome == Outcome::Damaged)
        .count();
    let warnings = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("callaudit: warning: "))
        .count();
    if warnings != damaged {
        problems.push(format!(
            "{warnings} warning lines for {damaged} damaged files"
        ));
    }
    if let Some(kb) = run.peak_kb {
        if kb > DIRECTORY_MEMORY_BOUND_KB {
            problems.push(format!(
                "peak RSS {kb} KiB above {DIRECTORY_MEMORY_BOUND_KB} KiB"
            ));
        }
    }
    eprintln!(
        "torture directory: {} captures ({} readable) in {} ms, peak RSS {:?} KiB",
        cases.len(),
        readable.len(),
        run.elapsed.as_millis(),
        run.peak_kb
    );
    assert!(
        problems.is_empty(),
        "the directory run (corpus kept in {}):\n{}",
        dir.display(),
        problems.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What is wrong with one capture's run.
fn check(case: &Case, path: &Path, run: &Measured) -> Vec<String> {
    let mut problems = crash(run);
    if !problems.is_empty() {
        return problems;
    }
    let name = path.display().to_string();
    let code = run.code.unwrap_or(-1);
    if !case.exit_codes().contains(&code) {
        problems.push(format!(
            "exit {code}, expected {:?}; stderr: {}",
            case.exit_codes(),
            run.stderr.trim_end()
        ));
    }
    if let Some(kb) = run.peak_kb {
        if kb > MEMORY_BOUND_KB {
            problems.push(format!("peak RSS {kb} KiB above {MEMORY_BOUND_KB} KiB"));
        }
    }
    if case.outcome == Outcome::Rejected {
        if !run.stdout.is_empty() {
            problems.push("a rejected file printed a report".into());
        }
        let lines: Vec<&str> = run.stderr.lines().collect();
        let named = format!("callaudit: error: {name}: ");
        if lines.len() != 1 || !lines[0].starts_with(&named) {
            problems.push(format!(
                "expected one error line naming the file, got: {}",
                run.stderr.trim_end()
            ));
        }
        return problems;
    }
    let report: Value = match serde_json::from_str(&run.stdout) {
        Ok(report) => report,
        Err(e) => {
            problems.push(format!(
                "stdout is not a JSON report ({e}); stderr: {}",
                run.stderr.trim_end()
            ));
            return problems;
        }
    };
    let capture = &report["captures"][0];
    if report["captures"].as_array().map(Vec::len) != Some(1) || capture["path"] != name.as_str() {
        problems.push(format!("captures: {}", report["captures"]));
    }
    let read = capture["packets_read"].as_u64();
    let analysed = report["summary"]["packets"].as_u64();
    if read != Some(case.packets) || analysed != Some(case.packets) {
        problems.push(format!(
            "{read:?} packets read and {analysed:?} analysed, expected {}",
            case.packets
        ));
    }
    let warnings = report["warnings"].as_array().map_or(0, Vec::len);
    let warned = run
        .stderr
        .lines()
        .any(|l| l.starts_with(&format!("callaudit: warning: {name}: ")));
    match case.outcome {
        Outcome::Damaged => {
            if !capture["warning"].is_string() || warnings != 1 || !warned {
                problems.push(format!(
                    "damaged, but warning {} / {warnings} in warnings[] / stderr: {}",
                    capture["warning"],
                    run.stderr.trim_end()
                ));
            }
        }
        _ => {
            if !capture["warning"].is_null() || warnings != 0 || !run.stderr.is_empty() {
                problems.push(format!(
                    "intact, but warning {} / stderr: {}",
                    capture["warning"],
                    run.stderr.trim_end()
                ));
            }
        }
    }
    if let Some(sni) = case.sni {
        let read = report["flows"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|flow| flow["hostname"] == sni && flow["hostname_source"] == "sni");
        if !read {
            problems.push(format!("the ClientHello's server name {sni} was not read"));
        }
    }
    problems.extend(inconsistencies(&report));
    problems
}

/// Panics, deaths by a signal, hangs.
fn crash(run: &Measured) -> Vec<String> {
    let mut problems = Vec::new();
    if run.timed_out {
        problems.push(format!("hung: killed after {TIMEOUT:?}"));
    }
    if let Some(signal) = run.signal {
        problems.push(format!("killed by signal {signal}"));
    }
    if run.code == Some(101) || run.stderr.contains("panicked") {
        problems.push(format!("panicked: {}", run.stderr.trim_end()));
    }
    problems
}

/// Totals of the report that must add up, whatever the input.
fn inconsistencies(report: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let summary = &report["summary"];
    let by_reason: u64 = summary["malformed_by_reason"]
        .as_array()
        .map_or(0, |r| r.iter().filter_map(|r| r["count"].as_u64()).sum());
    if summary["malformed"].as_u64() != Some(by_reason) {
        problems.push(format!(
            "summary.malformed {} but malformed_by_reason adds up to {by_reason}",
            summary["malformed"]
        ));
    }
    let flows = report["flows"].as_array().map_or(0, Vec::len);
    if summary["flows"].as_u64() != Some(flows as u64) {
        problems.push(format!(
            "summary.flows {} for {flows} flows",
            summary["flows"]
        ));
    }
    let findings = report["findings"].as_array().map_or(0, Vec::len);
    if summary["findings"].as_u64() != Some(findings as u64) {
        problems.push(format!(
            "summary.findings {} for {findings} findings",
            summary["findings"]
        ));
    }
    for (i, flow) in report["flows"].as_array().into_iter().flatten().enumerate() {
        let p = &flow["packets"];
        let n = |k: &str| p[k].as_u64().unwrap_or(u64::MAX);
        let roles = ["key_exchange", "media", "signaling", "other"]
            .iter()
            .map(|k| n(k))
            .fold(0u64, u64::saturating_add);
        if roles != n("total") || n("to_server").saturating_add(n("to_client")) != n("total") {
            problems.push(format!("flow {i}: packet counts do not add up: {p}"));
        }
    }
    problems
}

struct Measured {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    /// The child's peak resident set (VmHWM) as last sampled, in KiB; `None` without /proc.
    peak_kb: Option<u64>,
    elapsed: Duration,
    timed_out: bool,
}

fn audit_args(paths: &[PathBuf], extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["audit".into(), "--format".into(), "json".into()];
    args.extend(paths.iter().map(|p| p.clone().into_os_string()));
    args.extend(extra.iter().map(Into::into));
    args
}

/// Runs callaudit, sampling its peak resident set every 0.5 ms until it exits. VmHWM is a
/// high-water mark, so only growth in its last half millisecond could go unseen.
/// (getrusage(RUSAGE_CHILDREN) would be exact, but it adds up every child of this test process,
/// and the nix crate's `resource` feature is not enabled for the main crate.)
fn run_measured(args: &[OsString]) -> Measured {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_callaudit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start callaudit");
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let mut peak_kb: Option<u64> = None;
    let mut timed_out = false;
    let status = loop {
        if let Some(kb) = high_water_kb(&status_file) {
            peak_kb = Some(peak_kb.map_or(kb, |peak| peak.max(kb)));
        }
        match child.try_wait().expect("wait for callaudit") {
            Some(status) => break status,
            None if started.elapsed() > TIMEOUT => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("wait for callaudit");
            }
            None => std::thread::sleep(Duration::from_micros(500)),
        }
    };
    let elapsed = started.elapsed();
    Measured {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&out.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned(),
        peak_kb,
        elapsed,
        timed_out,
    }
}

/// VmHWM, the process's peak resident set so far, in KiB (Linux), once the process is
/// callaudit. `spawn` can return before the child has called exec; a sample taken then is the
/// test binary's (its thread's name, and once in a while, under load, 81 MB of its memory).
fn high_water_kb(status: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let name = text.lines().find_map(|l| l.strip_prefix("Name:"))?;
    if name.trim() != "callaudit" {
        return None;
    }
    let line = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// A fresh directory under target/tmp for one test's corpus.
fn corpus_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("torture-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    dir
}
