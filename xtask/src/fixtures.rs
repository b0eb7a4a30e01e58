//! `cargo xtask fixtures [--check] [--out DIR]`: regenerates `fixtures/`, the small
//! captures the project makes itself from documented packet formats.
//!
//! Every byte is deterministic: fixed timestamps, addresses and ports, and "encrypted"
//! payloads from a fixed pseudo-random generator ([`crypto::Prng`], one seed per fixture).
//! IP/UDP/TCP headers and checksums come from etherparse; capture files are written by
//! [`capture`]. `fixtures/README.md` (written by hand) says what each file contains and what
//! callaudit must report for it.
//!
//! `--check` regenerates everything into a temporary directory and fails if any committed
//! fixture differs, is missing, or if `fixtures/` holds a capture the generator does not make.

mod broken;
pub(crate) mod capture;
mod citizenlab;
mod crypto;
mod der;
mod dns;
mod jurisdiction;
mod linktypes;
mod net;
mod plain;
mod rtp;
mod sip;
mod stun;
mod tls;
mod webrtc;
mod zoom;

use std::fs;
use std::path::{Path, PathBuf};

use capture::linktype;

/// One generated file, path relative to `fixtures/`.
pub struct Fixture {
    pub path: String,
    pub bytes: Vec<u8>,
    /// Packets (records) in the file; 0 for non-captures.
    pub packets: usize,
}

fn fixture(path: &str, bytes: Vec<u8>, packets: usize) -> Fixture {
    Fixture {
        path: path.to_string(),
        bytes,
        packets,
    }
}

/// Builds every fixture in memory.
pub fn generate() -> Vec<Fixture> {
    let mut out = Vec::new();
    let zoom = citizenlab::frames();
    out.push(fixture(
        "citizenlab-zoom-2020.pcap",
        capture::pcap(linktype::ETHERNET, &zoom),
        zoom.len(),
    ));
    let call = webrtc::frames();
    out.push(fixture(
        "webrtc-call.pcap",
        capture::pcap(linktype::ETHERNET, &call),
        call.len(),
    ));
    let sip = sip::frames();
    out.push(fixture(
        "sip-sdes-call.pcap",
        capture::pcap(linktype::ETHERNET, &sip),
        sip.len(),
    ));
    let plain = plain::frames();
    out.push(fixture(
        "no-conferencing.pcap",
        capture::pcap(linktype::ETHERNET, &plain),
        plain.len(),
    ));
    let (truncated, n, _) = broken::truncated();
    out.push(fixture("truncated.pcap", truncated, n));
    out.push(fixture(
        "not-a-capture.txt",
        broken::NOT_A_CAPTURE.as_bytes().to_vec(),
        0,
    ));
    let malformed: Vec<capture::Frame> = broken::malformed().into_iter().map(|(f, _)| f).collect();
    out.push(fixture(
        "malformed.pcap",
        capture::pcap(linktype::ETHERNET, &malformed),
        malformed.len(),
    ));
    for (name, frames) in [
        (
            "operator-restricted.pcap",
            jurisdiction::operator_restricted(),
        ),
        (
            "rtt-implausible.pcap",
            jurisdiction::far_server(jurisdiction::RTT_IMPLAUSIBLE_US),
        ),
        (
            "rtt-plausible.pcap",
            jurisdiction::far_server(jurisdiction::RTT_PLAUSIBLE_US),
        ),
        ("weak-tls.pcap", jurisdiction::weak_tls()),
    ] {
        out.push(fixture(
            name,
            capture::pcap(linktype::ETHERNET, &frames),
            frames.len(),
        ));
    }
    for (name, bytes, n) in linktypes::files() {
        out.push(fixture(&format!("linktypes/{name}"), bytes, n));
    }
    out
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
}

fn write_all(dir: &Path, files: &[Fixture]) -> Result<(), String> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, &f.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Files under `dir` (relative paths), recursively.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if entry.path().is_dir() {
            list_files(&entry.path(), &rel, out);
        } else {
            out.push(rel);
        }
    }
}

fn check(committed: &Path, files: &[Fixture]) -> Result<(), String> {
    let tmp = std::env::temp_dir().join(format!("callaudit-fixtures-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    write_all(&tmp, files)?;
    let mut problems = Vec::new();
    for f in files {
        let fresh = fs::read(tmp.join(&f.path)).map_err(|e| format!("{}: {e}", f.path))?;
        match fs::read(committed.join(&f.path)) {
            Ok(old) if old == fresh => {}
            Ok(old) => problems.push(format!(
                "{} differs ({} bytes committed, {} generated)",
                f.path,
                old.len(),
                fresh.len()
            )),
            Err(_) => problems.push(format!("{} is missing", f.path)),
        }
    }
    let mut present = Vec::new();
    list_files(committed, "", &mut present);
    present.sort();
    for p in present {
        if p != "README.md" && !files.iter().any(|f| f.path == p) {
            problems.push(format!("{p} is not produced by `cargo xtask fixtures`"));
        }
    }
    let _ = fs::remove_dir_all(&tmp);
    if problems.is_empty() {
        println!("fixtures: {} files up to date", files.len());
        Ok(())
    } else {
        Err(format!(
            "committed fixtures are out of date (run `cargo xtask fixtures`):\n  {}",
            problems.join("\n  ")
        ))
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut check_only = false;
    let mut out_dir: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--check" => check_only = true,
            "--out" => out_dir = Some(PathBuf::from(it.next().ok_or("--out needs a directory")?)),
            "-h" | "--help" => {
                println!("usage: cargo xtask fixtures [--check] [--out DIR]");
                return Ok(());
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: fixtures [--check] [--out DIR])"
                ))
            }
        }
    }
    let files = generate();
    let dir = out_dir.unwrap_or_else(fixtures_dir);
    if check_only {
        return check(&dir, &files);
    }
    write_all(&dir, &files)?;
    for f in &files {
        println!(
            "{:<40} {:>8} bytes {:>5} packets",
            f.path,
            f.bytes.len(),
            f.packets
        );
    }
    println!("malformed.pcap packets:");
    for (i, (_, what)) in broken::malformed().iter().enumerate() {
        println!("  #{:<2} {what}", i + 1);
    }
    let (_, n, len) = broken::truncated();
    println!(
        "truncated.pcap: record #{n} ({len} bytes) cut after {} bytes",
        len / 2
    );
    println!(
        "webrtc-call.pcap: first SRTP packet is #{}",
        broken::webrtc_first_rtp_number()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.path, y.path);
            assert!(x.bytes == y.bytes, "{} differs between runs", x.path);
        }
    }

    #[test]
    fn truncated_file_ends_inside_its_last_record() {
        let (bytes, _, last_len) = broken::truncated();
        let full = capture::pcap(linktype::ETHERNET, &citizenlab::frames());
        assert_eq!(full.len() - bytes.len(), last_len - last_len / 2);
        assert_eq!(&full[..bytes.len()], &bytes[..]);
    }
}
