//! The benchmark capture: the project's own Ethernet fixtures played over and over by many
//! clients, so that a file of any size looks like one busy network's day of calls.
//!
//! - All fixtures are played at once as one *scene* (their packets merged by time), so a scene
//!   holds Zoom, WebRTC (STUN/DTLS/SRTP), SIP with SDES, QUIC, TLS, DNS and plain traffic.
//! - Replica `k` of the scene starts `STEP_US * k` after the first and is played by client
//!   number `k % clients`: every local (RFC 1918, ULA, link-local) address is rewritten to that
//!   client's, with the IPv4 header and UDP/TCP checksums patched (RFC 1624), so the packets
//!   stay valid for every tool that checks them.
//! - Replicas overlap (a scene lasts seconds, a step is 40 ms), so about
//!   `scene duration / STEP_US` scenes are in flight at once, many flows are live together, and
//!   the output is merged by time like a real capture.
//! - Because clients come back every `clients` replicas (41 s of capture time), the number of
//!   distinct flows is bounded whatever the file size: a bigger file is more packets of the
//!   same flows, which is what lets memory be measured for flatness.
//!
//! The output is deterministic: the same fixtures, size and seed always give the same bytes, and
//! a smaller file is a prefix of a larger one made with the same seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::fixtures::capture::{linktype, pcap_global_header, pcap_record, Frame};

/// Fixtures that make up the scene: every Ethernet capture that is not damaged on purpose.
pub const SCENE_FIXTURES: &[&str] = &[
    "citizenlab-zoom-2020.pcap",
    "webrtc-call.pcap",
    "sip-sdes-call.pcap",
    "no-conferencing.pcap",
    "operator-restricted.pcap",
    "rtt-implausible.pcap",
    "rtt-plausible.pcap",
    "weak-tls.pcap",
    "linktypes/ethernet-vlan.pcap",
    "linktypes/ethernet-qinq.pcap",
];

/// Distinct clients the fixture replicas cycle through (27 flows a replica: 28,000 flows).
pub const FIXTURE_CLIENTS: u32 = 1024;
/// The reference captures hold ~400 flows a replica: fewer clients keep the flow count alike.
pub const CORPUS_CLIENTS: u32 = 64;
/// Time between the starts of two replicas.
pub const STEP_US: u64 = 40_000;
/// 2026-01-01T00:00:00Z, where the benchmark capture's clock starts.
const START_US: u64 = 1_767_225_600_000_000;

/// One scene packet, with where its local addresses and checksums are.
pub struct Template {
    /// Time since the scene's start.
    offset_us: u64,
    data: Vec<u8>,
    /// Byte offsets of local addresses to rewrite, with their length (4 or 16).
    addresses: Vec<(usize, usize)>,
    /// Offset of the IPv4 header checksum, if any.
    ip_checksum: Option<usize>,
    /// Offset of the UDP/TCP checksum, if any (a zero UDP checksum means "none" and stays).
    l4_checksum: Option<usize>,
}

/// What was written.
pub struct Written {
    pub packets: u64,
    pub bytes: u64,
}

/// Writes a benchmark capture of at least `target_bytes` to `path`. Files with different
/// `seed`s are played by different clients, so they share no flows.
pub fn write(
    scene: &[Template],
    clients: u32,
    path: &Path,
    target_bytes: u64,
    seed: u32,
) -> Result<Written, String> {
    if scene.is_empty() {
        return Err("the scene has no packets".into());
    }
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    out.write_all(&pcap_global_header(linktype::ETHERNET))
        .map_err(io)?;
    let mut written = Written {
        packets: 0,
        bytes: 24,
    };
    // One heap entry per replica in flight: (time of its next packet, replica, template index).
    let mut in_flight: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut next_replica = 0u64;
    let mut frame = Frame::new(0, Vec::with_capacity(2048));
    while written.bytes < target_bytes {
        let next_start = START_US + next_replica * STEP_US;
        let starts_first = in_flight
            .peek()
            .is_none_or(|Reverse((time, _, _))| next_start <= *time);
        if starts_first {
            in_flight.push(Reverse((next_start + scene[0].offset_us, next_replica, 0)));
            next_replica += 1;
            continue;
        }
        let Some(Reverse((time, replica, index))) = in_flight.pop() else {
            break;
        };
        let client = seed * clients + (replica % u64::from(clients)) as u32;
        scene[index].render(client, &mut frame.data);
        frame.ts_us = time;
        out.write_all(&pcap_record(&frame)).map_err(io)?;
        written.packets += 1;
        written.bytes += 16 + frame.data.len() as u64;
        if let Some(next) = scene.get(index + 1) {
            let start = START_US + replica * STEP_US;
            in_flight.push(Reverse((start + next.offset_us, replica, index + 1)));
        }
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// The fixtures' packets, all fixtures starting together, in time order.
pub fn fixture_scene(fixtures_dir: &Path) -> Result<Vec<Template>, String> {
    let paths: Vec<PathBuf> = SCENE_FIXTURES
        .iter()
        .map(|n| fixtures_dir.join(n))
        .collect();
    scene(&paths, u64::MAX)
}

/// Longest pause kept between two packets of a reference capture: some have timestamps years
/// apart (see ../shared/corpus/README.md), and a scene should last seconds, not years.
const MAX_GAP_US: u64 = 50_000;

/// Real traffic: every Ethernet capture (pcap or pcapng) in `corpus_dir`, all starting
/// together. Used only for measuring, never copied into the project.
pub fn corpus_scene(corpus_dir: &Path) -> Result<Vec<Template>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(corpus_dir)
        .map_err(|e| format!("{}: {e}", corpus_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    paths.sort();
    scene(&paths, MAX_GAP_US)
}

/// The Ethernet packets of `paths`, read through libpcap, each capture starting at 0 and
/// keeping its own pauses up to `max_gap_us`, merged in time order.
fn scene(paths: &[PathBuf], max_gap_us: u64) -> Result<Vec<Template>, String> {
    let mut scene = Vec::new();
    for path in paths {
        let mut capture =
            pcap::Capture::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if capture.get_datalink() != pcap::Linktype::ETHERNET {
            continue;
        }
        let (mut offset, mut last) = (0u64, None::<i64>);
        while let Ok(packet) = capture.next_packet() {
            let time = packet.header.ts.tv_sec * 1_000_000 + packet.header.ts.tv_usec;
            let gap = last.map_or(0, |last| (time - last).max(0) as u64);
            last = Some(time);
            offset += gap.min(max_gap_us);
            scene.push(Template::new(offset, packet.data.to_vec()));
        }
    }
    scene.sort_by_key(|t| t.offset_us);
    Ok(scene)
}

impl Template {
    fn new(offset_us: u64, data: Vec<u8>) -> Template {
        let mut template = Template {
            offset_us,
            data,
            addresses: Vec::new(),
            ip_checksum: None,
            l4_checksum: None,
        };
        template.find_fields();
        template
    }

    /// Finds the local addresses and the checksums that cover them: Ethernet, up to two VLAN
    /// tags, then IPv4 or IPv6 (no extension headers: the fixtures have none).
    fn find_fields(&mut self) {
        let data = &self.data;
        let mut at = 12;
        let mut ether_type = be16(data, at);
        while matches!(ether_type, Some(0x8100 | 0x88a8)) {
            at += 4;
            ether_type = be16(data, at);
        }
        let ip = at + 2;
        let (protocol, l4) = match ether_type {
            Some(0x0800) if data.len() >= ip + 20 => {
                let header_len = usize::from(data[ip] & 0x0f) * 4;
                for field in [ip + 12, ip + 16] {
                    if is_local_v4(&data[field..field + 4]) {
                        self.addresses.push((field, 4));
                    }
                }
                self.ip_checksum = Some(ip + 10);
                (data[ip + 9], ip + header_len)
            }
            Some(0x86dd) if data.len() >= ip + 40 => {
                for field in [ip + 8, ip + 24] {
                    if is_local_v6(&data[field..field + 16]) {
                        self.addresses.push((field, 16));
                    }
                }
                (data[ip + 6], ip + 40)
            }
            _ => return,
        };
        let checksum = match protocol {
            17 => l4 + 6,
            6 => l4 + 16,
            _ => return,
        };
        let present = be16(data, checksum).is_some_and(|c| protocol == 6 || c != 0);
        if present {
            self.l4_checksum = Some(checksum);
        }
    }

    /// The packet as client `client` sends or receives it.
    fn render(&self, client: u32, frame: &mut Vec<u8>) {
        frame.clear();
        frame.extend_from_slice(&self.data);
        for &(field, len) in &self.addresses {
            // IPv4 10.a.b.<host>; IPv6 keeps its prefix and host, with bytes 10..12 the client.
            let (at, new) = if len == 4 {
                (field, [10, (client >> 8) as u8, client as u8])
            } else {
                (field + 9, [0x42, (client >> 8) as u8, client as u8])
            };
            for (i, byte) in new.iter().enumerate() {
                // Checksums are over 16-bit words: patch the word each changed byte is in.
                // Link headers here are even-sized, so IP fields are word-aligned in the frame.
                let word_at = (at + i) & !1;
                let word_from = be16(frame, word_at).unwrap_or(0);
                frame[at + i] = *byte;
                let word_to = be16(frame, word_at).unwrap_or(0);
                for checksum in [self.ip_checksum, self.l4_checksum].into_iter().flatten() {
                    // A UDP/TCP checksum covers both addresses (pseudo-header); the IPv4
                    // header checksum covers them too. IPv6 has no header checksum.
                    patch_checksum(frame, checksum, word_from, word_to);
                }
            }
        }
    }
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn patch_checksum(frame: &mut [u8], at: usize, from: u16, to: u16) {
    if from == to {
        return;
    }
    let old = u16::from_be_bytes([frame[at], frame[at + 1]]);
    let mut sum = u32::from(!old) + u32::from(!from) + u32::from(to);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let new = !(sum as u16);
    frame[at..at + 2].copy_from_slice(&new.to_be_bytes());
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

fn is_local_v4(a: &[u8]) -> bool {
    a[0] == 10
        || (a[0] == 172 && (16..32).contains(&a[1]))
        || (a[0] == 192 && a[1] == 168)
        || (a[0] == 100 && (64..128).contains(&a[1]))
}

fn is_local_v6(a: &[u8]) -> bool {
    a[0] & 0xfe == 0xfc || (a[0] == 0xfe && a[1] & 0xc0 == 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_patch_matches_a_full_recompute() {
        // IPv4 header from RFC 1071's example style: compute, change an address, compare.
        let mut header = [
            0x45, 0, 0, 0x54, 0, 0, 0x40, 0, 0x40, 1, 0, 0, 192, 168, 1, 10, 8, 8, 8, 8,
        ];
        let full = |h: &[u8]| {
            let mut sum = 0u32;
            for pair in h.chunks(2) {
                sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            !(sum as u16)
        };
        let c = full(&header);
        header[10..12].copy_from_slice(&c.to_be_bytes());
        let from = u16::from_be_bytes([header[12], header[13]]);
        header[12] = 10;
        header[13] = 3;
        let to = u16::from_be_bytes([header[12], header[13]]);
        patch_checksum(&mut header, 10, from, to);
        let patched = u16::from_be_bytes([header[10], header[11]]);
        header[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(patched, full(&header));
    }

    #[test]
    fn a_smaller_file_is_a_prefix_of_a_larger_one() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.pcap");
        let large = dir.join("large.pcap");
        let scene = fixture_scene(&fixtures).unwrap();
        let a = write(&scene, FIXTURE_CLIENTS, &small, 200_000, 0).unwrap();
        let b = write(&scene, FIXTURE_CLIENTS, &large, 400_000, 0).unwrap();
        assert!(a.bytes >= 200_000 && b.bytes >= 400_000 && b.packets > a.packets);
        let small = std::fs::read(&small).unwrap();
        let large = std::fs::read(&large).unwrap();
        assert_eq!(&large[..small.len()], &small[..]);
        let mut capture = pcap::Capture::from_file(dir.join("large.pcap")).unwrap();
        let mut times = Vec::new();
        while let Ok(packet) = capture.next_packet() {
            times.push((packet.header.ts.tv_sec, packet.header.ts.tv_usec));
        }
        assert_eq!(times.len() as u64, b.packets);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
