//! Writes the fuzz targets' seed corpus from the project's fixtures into `fuzz/corpus/TARGET/`:
//! - `capture_file`: every fixture capture, whole;
//! - `decode`: every packet, after the byte that picks its link type;
//! - the dissector targets: every UDP/TCP payload, alone, and for the targets that read
//!   several pieces (see `callaudit_fuzz::pieces`) each flow's payloads as one input;
//! - `session`: each capture's packets in the session target's piece format;
//! - `policy`, `app_catalog`: the policies and catalog the project ships.
//!
//! The captures in `../shared/corpus` are added the same way when that directory is present.
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use callaudit::capture::{FileSource, LinkType, Read};
use callaudit::decode::{decode, Decoded, Transport};

/// Targets that read a sequence of length-prefixed pieces.
const PIECE_TARGETS: [&str; 4] = ["dtls", "tls", "quic", "rtp"];
/// Targets that read one payload.
const PAYLOAD_TARGETS: [&str; 5] = ["stun", "zrtp", "sip", "dns", "zoom"];
/// The server ports of the session target, in its order (fuzz_targets/session.rs).
const SESSION_PORTS: [u16; 8] = [443, 3478, 8801, 5060, 53, 19302, 50_000, 3480];

type Corpus = BTreeMap<&'static str, BTreeSet<Vec<u8>>>;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut corpus = Corpus::new();
    // nDPI's and Princeton's real captures beside the project, when present, reach protocol
    // variants the fixtures do not; they stay outside the project (fuzz/corpus is not committed).
    let shared = root.join("../shared/corpus");
    let mut paths = captures(&root.join("fixtures"));
    if shared.is_dir() {
        paths.extend(captures(&shared));
    }
    for path in paths {
        add_capture(&mut corpus, &path);
    }
    for text in [
        "data/default-policy.toml",
        "data/policy-starter.toml",
        "tests/data/formats-policy.toml",
    ] {
        add(&mut corpus, "policy", read(&root.join(text)));
    }
    add(
        &mut corpus,
        "app_catalog",
        read(&root.join("data/apps.toml")),
    );

    let out = root.join("fuzz/corpus");
    for (target, inputs) in &corpus {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory writable");
        for input in inputs {
            std::fs::write(dir.join(format!("seed-{:016x}", fnv1a(input))), input)
                .expect("corpus file writable");
        }
        println!("{target}: {} seeds", inputs.len());
    }
}

fn add_capture(corpus: &mut Corpus, path: &Path) {
    add(corpus, "capture_file", read(path));
    let Ok(mut source) = FileSource::open(path, None) else {
        return; // the deliberately broken fixtures are seeds of capture_file only
    };
    let link_type = source.link_type();
    let pick = LinkType::SUPPORTED
        .iter()
        .position(|supported| *supported == link_type)
        .expect("FileSource opens only supported link types") as u8;
    // Payloads per flow (by its ports), in capture order, and the session target's input.
    let mut flows: BTreeMap<(u16, u16), Vec<u8>> = BTreeMap::new();
    let mut session = Vec::new();
    loop {
        let packet = match source.read() {
            Ok(Read::Packet(packet)) => packet,
            Ok(Read::FilteredOut) => continue,
            Ok(Read::End) | Err(_) => break,
        };
        add(corpus, "decode", [&[pick][..], packet.data].concat());
        let Decoded::Packet(decoded) = decode(link_type, &packet) else {
            continue;
        };
        let payload = decoded.payload;
        let from_server = decoded.src_port < decoded.dst_port;
        let server_port = decoded.src_port.min(decoded.dst_port);
        let port_pick = SESSION_PORTS
            .iter()
            .position(|port| *port == server_port)
            .unwrap_or(0) as u8;
        let tcp = decoded.transport == Transport::Tcp;
        let syn = decoded.tcp.is_some_and(|segment| segment.syn);
        let control =
            u8::from(from_server) | u8::from(tcp) << 1 | u8::from(syn) << 2 | port_pick << 3;
        push_piece(&mut session, &[&[control][..], payload].concat());
        if payload.is_empty() {
            continue;
        }
        for target in PAYLOAD_TARGETS {
            add(corpus, target, payload.to_vec());
        }
        let key = (
            decoded.src_port.min(decoded.dst_port),
            decoded.src_port.max(decoded.dst_port),
        );
        let flow = flows.entry(key).or_default();
        if tcp {
            flow.push(0); // the tls target's sequence shift: in order
        }
        push_piece(flow, payload);
    }
    add(corpus, "session", session);
    for pieces in flows.into_values() {
        for target in PIECE_TARGETS {
            add(corpus, target, pieces.clone());
        }
    }
}

/// Appends one piece: a big-endian `u16` length, then the bytes (cut to 65,535).
fn push_piece(out: &mut Vec<u8>, piece: &[u8]) {
    let piece = &piece[..piece.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
    out.extend_from_slice(piece);
}

fn add(corpus: &mut Corpus, target: &'static str, input: Vec<u8>) {
    corpus.entry(target).or_default().insert(input);
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            found.extend(captures(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// A stable file name for a seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
