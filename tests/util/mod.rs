//! A small harness: run the built binary, capture its output, parse its JSON report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// The reference captures beside the project, when present (see ../shared/corpus/README.md).
pub fn corpus() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn callaudit<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output: Output = Command::new(env!("CARGO_BIN_EXE_callaudit"))
        .args(args)
        .output()
        .expect("run callaudit");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `callaudit audit --format json <paths> <extra>`.
pub fn audit_json(paths: &[&Path], extra: &[&str]) -> Run {
    let mut args: Vec<std::ffi::OsString> = vec!["audit".into(), "--format".into(), "json".into()];
    args.extend(paths.iter().map(|p| p.as_os_str().to_owned()));
    args.extend(extra.iter().map(Into::into));
    callaudit(args)
}

/// The flows whose server is `ip:port`.
pub fn flows_to<'a>(report: &'a Value, ip: &str, port: u64) -> Vec<&'a Value> {
    report["flows"]
        .as_array()
        .expect("flows[]")
        .iter()
        .filter(|f| f["server"]["ip"] == ip && f["server"]["port"] == port)
        .collect()
}

pub fn one_flow_to<'a>(report: &'a Value, ip: &str, port: u64) -> &'a Value {
    let flows = flows_to(report, ip, port);
    assert_eq!(flows.len(), 1, "flows to {ip}:{port}: {flows:#?}");
    flows[0]
}

pub fn protocols(flow: &Value) -> Vec<&str> {
    flow["protocols"]
        .as_array()
        .expect("protocols[]")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callaudit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
