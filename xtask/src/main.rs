//! `cargo xtask <task>`: maintenance tasks that produce the project's committed data.
//!
//! - `geoip`: rebuilds `data/geoip/` (the embedded GeoIP databases) from public packages.
//! - `fixtures`: regenerates `fixtures/` (the bundled captures) from documented packet formats.
//! - `accuracy`: measures callaudit's agreement with nDPI's results on a folder of captures.
//! - `bench`: whole-process benchmarks against libpcap, ndpiReader and tshark (docs/performance.md).
//! - `torture`: writes the torture corpus of broken captures (fixtures/README.md, "Torture corpus").

mod accuracy;
mod bench;
mod fixtures;
mod geoip;
mod torture;

// `torture.rs` reaches the capture writers as `super::capture`, here and in tests/torture/.
use fixtures::capture;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "geoip" => geoip::run(rest),
        "fixtures" => fixtures::run(rest),
        "accuracy" => accuracy::run(rest),
        "bench" => bench::run(rest),
        "torture" => torture::run(rest),
        // Used by `bench` to measure one program's wall time and peak memory.
        "measure" => bench::measure(rest),
        _ => {
            eprintln!("usage: cargo xtask <geoip|fixtures|accuracy|bench|torture> [options]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {task}: {message}");
            ExitCode::FAILURE
        }
    }
}
