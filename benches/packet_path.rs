//! Microbenchmarks of the per-packet path: what callaudit pays for every packet of a capture.
//!
//! The design promises "only cheap work per packet (first-byte demultiplexing, record-type
//! peeks), no allocation per packet on the hot path" (design notes, architecture.md, "Speed by design").
//! These benchmarks put a number on each step of that path, so that a change which makes one of
//! them slower shows up as a regression instead of as a slow `callaudit live` on a busy link.
//! Every benchmark reports its throughput in packets (`Throughput::Elements`), so criterion's
//! "time" column divided by the element count (or its "thrpt" column inverted) is the cost per
//! packet.
//!
//! Inputs are the committed fixtures (`fixtures/*.pcap`), read once through
//! [`FileSource`] and copied into owned buffers before any timing, so no benchmark measures
//! libpcap or the disk. Where no fixture holds a packet of some protocol (QUIC, ZRTP, a long
//! run of TLS application data) the packet is built here by hand from its documented format.
//! Every set of inputs is checked once before it is timed (each dissector must accept what it is
//! given, each steady-state packet must get the role it gets in a real run): a benchmark that
//! silently measured the reject path would be worse than none.
//!
//! Groups:
//!
//! - `decode/<fixture>`: [`decode::decode`] on every frame of a fixture, link layer to UDP/TCP
//!   payload. This is etherparse's lax slicing plus our checks: the first thing every packet
//!   pays.
//! - `flow_lookup/…`: [`FlowTable::observe`] in the steady state, where the packet's flow
//!   already exists (a lookup hit: hash the 5-tuple, find the slot, bump counters). `<fixture>`
//!   uses a table holding only the fixture's own flows (a few, so everything is in cache);
//!   `<fixture>+10k` adds 10,000 other flows (one per client address) to the same table;
//!   `10k_round_robin` sends one packet to each of the 10,000 flows in a scattered order, so
//!   every lookup touches a different bucket and flow, as on a busy link.
//! - `demux/<fixture>/<kind>`: [`Classifier::classify`] on packets of flows that are already
//!   classified, i.e. the steady state of a call. The first-byte demultiplexer
//!   (`classify::datagram`, RFC 7983 / RFC 9443) is private, so the public entry that wraps it
//!   is measured: it adds the RTT tracker and role counting, which every packet pays anyway.
//!   `media` is the RTP/RTCP (or Zoom media, or TURN ChannelData carrying RTP) packets, the
//!   bulk of any call; `stun` the STUN/TURN messages of the WebRTC capture (ICE checks, consent
//!   freshness, TURN), the signaling that keeps coming during a call. The Zoom media path costs
//!   more than SRTP partly because every Zoom packet offers its framing as app evidence, which
//!   builds a `String` per packet (`Classifier::zoom_packet` → `offer_framing`).
//! - `dissect/<protocol>/<function>`: each dissector's public per-packet function on its own,
//!   on payloads from the fixtures or built here: STUN header and attribute walk, DTLS record
//!   peek, RTP/RTCP header checks and the RTP stream tracker, QUIC long header, TLS record
//!   following, SIP start line and message, DNS header check and response parse, Zoom server
//!   and P2P framing, ZRTP, and the pre-filters (`udp_prefilter/…`) that every UDP datagram
//!   passes before the first-byte table (Google QUIC, Discord, Zoom P2P, SIP), measured on
//!   SRTP, where they must all say no quickly.
//! - `pipeline/packets/<fixture>`: [`callaudit::audit::Session::packet`] on every frame (decode,
//!   flow, classify): the end-to-end per-packet cost without I/O. `pipeline/audit/<fixture>`
//!   adds what happens once per capture and per flow (finishing flows, GeoIP, policy, report),
//!   spread over the packets, to show how much the per-flow work weighs on a short capture.
//!
//! Run with `cargo bench --bench packet_path`; filter with a name prefix, e.g.
//! `cargo bench --bench packet_path -- dissect/rtp`. Under `cargo test --all-targets` criterion
//! runs each benchmark once as a smoke test.

// Benchmark code: a failed unwrap is a broken benchmark (the lints guard the library).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use callaudit::audit::Auditor;
use callaudit::capture::{CapturedPacket, FileSource, LinkType, Read, Timestamp};
use callaudit::classify::app::AppCatalog;
use callaudit::classify::{
    discord, dns, dtls, gquic, quic, rtp, sip, stun, tls, zoom, zrtp, Classifier, FlowClass,
    PacketRef, Role,
};
use callaudit::decode::{self, Decoded, DecodedPacket, Transport};
use callaudit::flow::{Direction, Flow, FlowTable};
use callaudit::geo::GeoDb;
use callaudit::policy::Policy;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

/// The fixtures the benchmarks read: a WebRTC call (STUN, DTLS, SRTP/SRTCP, TURN), the
/// Citizen Lab Zoom reproduction (DNS, TLS, Zoom UDP) and a SIP call with SDES (SIP over UDP and
/// TCP, SRTP/SRTCP). Together they cover every dissector a real capture exercises most.
const WEBRTC: &str = "webrtc-call";
const ZOOM: &str = "citizenlab-zoom-2020";
const SIP: &str = "sip-sdes-call";
const FIXTURES: [&str; 3] = [WEBRTC, ZOOM, SIP];

/// Flows in the large flow table: the order of magnitude of a busy office uplink, large enough
/// that the table no longer fits in the L1/L2 caches.
const LARGE_TABLE_FLOWS: u32 = 10_000;

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// One frame of a capture, copied out of libpcap's buffer (which is only valid until the next
/// read) so that it can be replayed any number of times.
struct Frame {
    number: u64,
    time: Timestamp,
    data: Vec<u8>,
    original_len: u32,
}

/// A whole fixture in memory.
struct Capture {
    name: &'static str,
    link_type: LinkType,
    frames: Vec<Frame>,
}

/// A decoded packet with the reference the classifier cites it by.
#[derive(Clone, Copy)]
struct Packet<'a> {
    at: PacketRef,
    decoded: DecodedPacket<'a>,
}

impl Capture {
    fn load(name: &'static str) -> Capture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(format!("{name}.pcap"));
        let mut source = FileSource::open(&path, None).unwrap_or_else(|e| panic!("{e}"));
        let link_type = source.link_type();
        let mut frames = Vec::new();
        loop {
            match source.read() {
                Ok(Read::Packet(packet)) => frames.push(Frame {
                    number: packet.number,
                    time: packet.time,
                    data: packet.data.to_vec(),
                    original_len: packet.original_len,
                }),
                Ok(Read::FilteredOut) => {}
                Ok(Read::End) => break,
                Err(problem) => panic!("{}: {problem}", path.display()),
            }
        }
        assert!(!frames.is_empty(), "{name}: no packets");
        Capture {
            name,
            link_type,
            frames,
        }
    }

    fn captured(&self) -> Vec<CapturedPacket<'_>> {
        self.frames
            .iter()
            .map(|frame| CapturedPacket {
                number: frame.number,
                time: frame.time,
                data: &frame.data,
                original_len: frame.original_len,
            })
            .collect()
    }

    /// The frames that decode to UDP/TCP, in capture order.
    fn packets(&self) -> Vec<Packet<'_>> {
        self.frames
            .iter()
            .filter_map(|frame| {
                let captured = CapturedPacket {
                    number: frame.number,
                    time: frame.time,
                    data: &frame.data,
                    original_len: frame.original_len,
                };
                match decode::decode(self.link_type, &captured) {
                    Decoded::Packet(decoded) => Some(Packet {
                        at: PacketRef {
                            number: frame.number,
                            time: frame.time,
                        },
                        decoded,
                    }),
                    _ => None,
                }
            })
            .collect()
    }
}

/// UDP payloads of a capture that satisfy `keep`.
fn udp_payloads<'a>(
    packets: &[Packet<'a>],
    keep: impl Fn(&DecodedPacket<'a>) -> bool,
) -> Vec<&'a [u8]> {
    packets
        .iter()
        .map(|p| p.decoded)
        .filter(|d| d.transport == Transport::Udp && !d.payload.is_empty() && keep(d))
        .map(|d| d.payload)
        .collect()
}

fn has_port(packet: &DecodedPacket<'_>, port: u16) -> bool {
    packet.src_port == port || packet.dst_port == port
}

/// SRTP payloads (RTP header in clear, not RTCP) of a capture: first byte 128–191 and a second
/// byte outside RTCP's 192–223, as RFC 5761 separates them.
fn srtp_payloads<'a>(packets: &[Packet<'a>]) -> Vec<&'a [u8]> {
    udp_payloads(
        packets,
        |d| matches!(d.payload, [128..=191, second, ..] if !rtp::is_rtcp_packet_type(*second)),
    )
}

fn srtcp_payloads<'a>(packets: &[Packet<'a>]) -> Vec<&'a [u8]> {
    udp_payloads(
        packets,
        |d| matches!(d.payload, [128..=191, second, ..] if rtp::is_rtcp_packet_type(*second)),
    )
}

/// Deterministic filler for hand-built "encrypted" bytes (SplitMix64, as the fixtures use).
fn filler(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A QUIC v1 client Initial (RFC 9000 §17.2.2) padded to 1200 bytes, as every client sends
/// first: long header, 8-byte DCID, empty SCID and token, a 2-byte Length, then the protected
/// packet number and payload (filler: only the header is read without keys).
fn quic_v1_initial() -> Vec<u8> {
    const DATAGRAM: usize = 1200;
    let mut packet = vec![0xC3]; // long header, fixed bit, type Initial (0b00), 4-byte PN
    packet.extend_from_slice(&quic::VERSION_1.to_be_bytes());
    packet.push(8);
    packet.extend_from_slice(&filler(8, 1));
    packet.push(0); // SCID length
    packet.push(0); // token length (varint)
    let length = DATAGRAM - packet.len() - 2;
    let length = u16::try_from(length).expect("fits a 2-byte varint") | 0x4000;
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&filler(DATAGRAM - packet.len(), 2));
    packet
}

/// A QUIC v1 server Handshake packet (RFC 9000 §17.2.4): empty DCID, 8-byte SCID.
fn quic_v1_handshake() -> Vec<u8> {
    let mut packet = vec![0xE3]; // long header, fixed bit, type Handshake (0b10), 4-byte PN
    packet.extend_from_slice(&quic::VERSION_1.to_be_bytes());
    packet.push(0); // DCID length
    packet.push(8);
    packet.extend_from_slice(&filler(8, 3));
    let length: u16 = 900 | 0x4000;
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&filler(900, 4));
    packet
}

/// CRC-32C (Castagnoli), bitwise: only used to build the ZRTP test packets.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZRTP packet (RFC 6189 §5) carrying `message_type` with a `body_len`-byte body, with its
/// CRC-32C stored little-endian as `zrtp::crc_matches` expects.
fn zrtp_packet(message_type: [u8; 8], body_len: usize, sequence: u16) -> Vec<u8> {
    let mut packet = vec![0x10, 0x00];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&zrtp::MAGIC_COOKIE.to_be_bytes());
    packet.extend_from_slice(&0x3c1d_5e07u32.to_be_bytes());
    let words = u16::try_from((4 + 8 + body_len) / 4).expect("small message");
    packet.extend_from_slice(&zrtp::MESSAGE_PREAMBLE.to_be_bytes());
    packet.extend_from_slice(&words.to_be_bytes());
    packet.extend_from_slice(&message_type);
    packet.extend_from_slice(&filler(body_len, u64::from(sequence)));
    let crc = crc32c(&packet);
    packet.extend_from_slice(&crc.to_le_bytes());
    packet
}

/// A TLS 1.2 application_data record (type 23) of `body_len` bytes, the whole of one TCP
/// segment: what an established TLS connection carries after its handshake.
fn tls_application_data(body_len: usize) -> Vec<u8> {
    let mut record = vec![23, 3, 3];
    record.extend_from_slice(&u16::try_from(body_len).expect("record fits").to_be_bytes());
    record.extend_from_slice(&filler(body_len, 5));
    record
}

// ---------------------------------------------------------------------------------------------
// Replaying a capture through flow + classify
// ---------------------------------------------------------------------------------------------

/// A packet after a first pass through the pipeline: its flow's slot, its direction and role.
#[derive(Clone, Copy)]
struct Classified<'a> {
    slot: usize,
    direction: Direction,
    role: Role,
    packet: Packet<'a>,
}

/// The state a capture leaves behind: its flows, already classified, and the classifier (which
/// holds the DNS names learnt on the way).
struct Replayed<'c, 'a> {
    classifier: Classifier<'c>,
    flows: Vec<Flow<FlowClass>>,
    packets: Vec<Classified<'a>>,
}

/// Runs every packet through `FlowTable::observe` and `Classifier::classify`, as
/// `audit::Session::packet` does, keeping the flows for the steady-state benchmarks.
fn replay<'c, 'a>(catalog: &'c AppCatalog, packets: &[Packet<'a>]) -> Replayed<'c, 'a> {
    let mut table: FlowTable<FlowClass> = FlowTable::default();
    let mut classifier = Classifier::new(catalog);
    let mut classified = Vec::with_capacity(packets.len());
    for packet in packets {
        let at = packet.at;
        let (flow, direction) = table.observe(&packet.decoded, at.number, at.time, |c, s, t| {
            classifier.new_flow(c, s, t)
        });
        let role = classifier.classify(&mut flow.state, direction, &packet.decoded, at);
        classified.push(Classified {
            // Nothing is evicted here, so a flow's number is its slot in `into_flows`.
            slot: flow.number,
            direction,
            role,
            packet: *packet,
        });
    }
    Replayed {
        classifier,
        flows: table.into_flows(),
        packets: classified,
    }
}

/// Classifies `packets` again on the replayed flows and keeps those that get `role` now: the
/// packets of a call in its steady state. (RTP that was pending on the first pass is media now.)
fn steady_state<'a>(
    replayed: &mut Replayed<'_, 'a>,
    keep: impl Fn(&Classified<'a>) -> bool,
    role: Role,
) -> Vec<Classified<'a>> {
    let candidates: Vec<Classified<'a>> = replayed
        .packets
        .iter()
        .copied()
        .filter(|p| keep(p))
        .collect();
    let mut steady = Vec::new();
    for candidate in candidates {
        let flow = &mut replayed.flows[candidate.slot].state;
        let now = replayed.classifier.classify(
            flow,
            candidate.direction,
            &candidate.packet.decoded,
            candidate.packet.at,
        );
        if now == role {
            steady.push(candidate);
        }
    }
    steady
}

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------

/// Sets the group's throughput to `count` packets and runs `routine` over them.
fn per_packet<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    count: usize,
    mut routine: impl FnMut() -> R,
) {
    assert!(count > 0, "{id}: no packets to measure");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(id, |b| b.iter(|| black_box(routine())));
}

/// Runs `check` once on every input (it must accept them all), then times `f` over them.
fn dissect<T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    inputs: &[&[u8]],
    check: impl Fn(&[u8]) -> bool,
    f: impl Fn(&[u8]) -> T,
) {
    for (i, input) in inputs.iter().enumerate() {
        assert!(
            check(input),
            "{id}: input {i} is not what the benchmark claims"
        );
    }
    per_packet(group, id, inputs.len(), || {
        for input in inputs {
            black_box(f(black_box(input)));
        }
    });
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for name in FIXTURES {
        let capture = Capture::load(name);
        let captured = capture.captured();
        let link_type = capture.link_type;
        let decoded = captured
            .iter()
            .filter(|p| matches!(decode::decode(link_type, p), Decoded::Packet(_)))
            .count();
        assert!(decoded > 0, "{name}: nothing decodes");
        per_packet(&mut group, capture.name, captured.len(), || {
            for packet in &captured {
                black_box(decode::decode(link_type, black_box(packet)));
            }
        });
    }
    group.finish();
}

/// A UDP packet from client `index` of the large table to one media server.
fn synthetic_packet(index: u32, payload: &[u8]) -> DecodedPacket<'_> {
    DecodedPacket {
        src: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + index)),
        dst: IpAddr::V4(Ipv4Addr::new(142, 250, 82, 98)),
        src_port: 50_000,
        dst_port: 19_305,
        transport: Transport::Udp,
        tcp: None,
        payload,
        ip_len: u32::try_from(payload.len()).unwrap_or(u32::MAX) + 28,
    }
}

fn observe_all(table: &mut FlowTable<FlowClass>, packets: &[Packet<'_>]) {
    for packet in packets {
        let (flow, direction) = table.observe(
            black_box(&packet.decoded),
            packet.at.number,
            packet.at.time,
            |_, _, _| unreachable!("flow_lookup measures hits: every flow exists already"),
        );
        black_box((flow.number, direction));
    }
}

fn bench_flow_lookup(c: &mut Criterion) {
    let catalog = AppCatalog::embedded().expect("embedded app catalog");
    let classifier = Classifier::new(&catalog);
    let capture = Capture::load(WEBRTC);
    let packets = capture.packets();
    let new_flow = |packet: &Packet<'_>, table: &mut FlowTable<FlowClass>| {
        table.observe(
            &packet.decoded,
            packet.at.number,
            packet.at.time,
            |client, server, transport| classifier.new_flow(client, server, transport),
        );
    };

    let mut group = c.benchmark_group("flow_lookup");

    // The fixture's own flows only.
    let mut small = FlowTable::default();
    for packet in &packets {
        new_flow(packet, &mut small);
    }
    per_packet(&mut group, capture.name, packets.len(), || {
        observe_all(&mut small, &packets)
    });

    // The same packets with 10,000 other flows in the table.
    let rtp = srtp_payloads(&packets)[0];
    let synthetic: Vec<Packet<'_>> = (0..LARGE_TABLE_FLOWS)
        .map(|i| Packet {
            at: PacketRef {
                number: u64::from(i) + 1,
                time: Timestamp { secs: 0, micros: 0 },
            },
            decoded: synthetic_packet(i, rtp),
        })
        .collect();
    let mut large = FlowTable::default();
    for packet in synthetic.iter().chain(&packets) {
        new_flow(packet, &mut large);
    }
    assert_eq!(large.len(), LARGE_TABLE_FLOWS as usize + small.len());
    per_packet(
        &mut group,
        &format!("{}+10k", capture.name),
        packets.len(),
        || observe_all(&mut large, &packets),
    );

    // One packet per flow, in a scattered order (7919 is prime, so i·7919 mod 10,000 visits
    // every flow once): consecutive lookups land in unrelated buckets and flows.
    let scattered: Vec<Packet<'_>> = (0..LARGE_TABLE_FLOWS)
        .map(|i| synthetic[((u64::from(i) * 7919) % u64::from(LARGE_TABLE_FLOWS)) as usize])
        .collect();
    per_packet(&mut group, "10k_round_robin", scattered.len(), || {
        observe_all(&mut large, &scattered)
    });
    group.finish();
}

fn bench_demux(c: &mut Criterion) {
    let catalog = AppCatalog::embedded().expect("embedded app catalog");
    let mut group = c.benchmark_group("demux");
    let captures: Vec<Capture> = FIXTURES.into_iter().map(Capture::load).collect();
    for capture in &captures {
        let packets = capture.packets();
        let mut replayed = replay(&catalog, &packets);
        // Media of the call: on its first pass a media packet was media or a pending RTP
        // candidate (reported as `other` until its stream is confirmed).
        let media = steady_state(
            &mut replayed,
            |p| {
                p.packet.decoded.transport == Transport::Udp
                    && (p.role == Role::Media
                        || (p.role == Role::Other
                            && matches!(p.packet.decoded.payload.first(), Some(128..=191))))
            },
            Role::Media,
        );
        let mut kinds = vec![("media", media)];
        if capture.name == WEBRTC {
            let stun = steady_state(
                &mut replayed,
                |p| {
                    p.packet.decoded.transport == Transport::Udp
                        && p.role == Role::Signaling
                        && matches!(p.packet.decoded.payload.first(), Some(0..=3))
                },
                Role::Signaling,
            );
            kinds.push(("stun", stun));
        }
        for (kind, selected) in kinds {
            let Replayed {
                classifier, flows, ..
            } = &mut replayed;
            per_packet(
                &mut group,
                &format!("{}/{kind}", capture.name),
                selected.len(),
                || {
                    for p in &selected {
                        black_box(classifier.classify(
                            &mut flows[p.slot].state,
                            p.direction,
                            black_box(&p.packet.decoded),
                            p.packet.at,
                        ));
                    }
                },
            );
        }
    }
    group.finish();
}

fn bench_dissectors(c: &mut Criterion) {
    let webrtc = Capture::load(WEBRTC);
    let zoom_capture = Capture::load(ZOOM);
    let sip_capture = Capture::load(SIP);
    let webrtc_packets = webrtc.packets();
    let zoom_packets = zoom_capture.packets();
    let sip_packets = sip_capture.packets();

    let stun_messages = udp_payloads(&webrtc_packets, |d| matches!(d.payload[0], 0..=3));
    let dtls_records = udp_payloads(&webrtc_packets, |d| matches!(d.payload[0], 20..=63));
    let srtp = srtp_payloads(&webrtc_packets);
    let srtcp = srtcp_payloads(&webrtc_packets);
    let dns_messages = udp_payloads(&zoom_packets, |d| has_port(d, 53));
    let dns_responses = udp_payloads(&zoom_packets, |d| d.src_port == 53);
    let zoom_media = udp_payloads(&zoom_packets, |d| {
        has_port(d, 8801) && d.payload[0] == zoom::SFU_MEDIA
    });
    let sip_messages = udp_payloads(&sip_packets, |d| has_port(d, 5060));
    let quic_packets = [quic_v1_initial(), quic_v1_handshake()];
    let quic_packets: Vec<&[u8]> = quic_packets.iter().map(Vec::as_slice).collect();
    let zrtp_packets: Vec<Vec<u8>> = [
        (zrtp::HELLO, 76),
        (zrtp::HELLO_ACK, 0),
        (zrtp::COMMIT, 104),
        (zrtp::DH_PART1, 332),
        (zrtp::DH_PART2, 332),
        (zrtp::CONFIRM1, 64),
        (zrtp::CONFIRM2, 64),
        (zrtp::CONF2_ACK, 0),
    ]
    .into_iter()
    .zip(1..)
    .map(|((message_type, body_len), sequence)| zrtp_packet(message_type, body_len, sequence))
    .collect();
    let zrtp_packets: Vec<&[u8]> = zrtp_packets.iter().map(Vec::as_slice).collect();

    let mut group = c.benchmark_group("dissect");

    // STUN: the header check every 0–3 datagram gets, then what `stun_message` does with each
    // STUN packet: the Zoom fingerprint test and the attribute walk.
    dissect(
        &mut group,
        "stun/parse_header",
        &stun_messages,
        |p| stun::parse_header(p).is_some(),
        stun::parse_header,
    );
    dissect(
        &mut group,
        "stun/attributes",
        &stun_messages,
        |p| stun::attributes(p).count() > 0,
        |p| stun::attributes(p).fold(0u32, |n, (t, v)| n ^ u32::from(t) ^ v.len() as u32),
    );
    dissect(
        &mut group,
        "stun/is_zoom_stun",
        &stun_messages,
        |p| !zoom::is_zoom_stun(p),
        zoom::is_zoom_stun,
    );

    // DTLS: the record-layer check and walk that `dtls_datagram` does on every 20–63 datagram
    // (the handshake itself is parsed only until the flow's handshake is read).
    dissect(
        &mut group,
        "dtls/looks_like_and_records",
        &dtls_records,
        dtls::looks_like_dtls,
        |p| dtls::looks_like_dtls(p) && dtls::records(p).any(|r| r.content_type == dtls::HANDSHAKE),
    );

    // RTP/RTCP: the header checks, and the stream tracker that confirms RTP per direction.
    dissect(
        &mut group,
        "rtp/parse_rtp",
        &srtp,
        |p| rtp::parse_rtp(p).is_some(),
        rtp::parse_rtp,
    );
    dissect(
        &mut group,
        "rtp/parse_rtcp",
        &srtcp,
        |p| rtp::parse_rtcp(p).is_some(),
        rtp::parse_rtcp,
    );
    {
        // One tracker per direction, as a flow keeps them; the fixture's streams are confirmed
        // by the warm-up pass, so the timed loop is the steady state of a call.
        let client = webrtc_packets[0].decoded.src;
        let by_direction: Vec<(usize, &[u8])> = webrtc_packets
            .iter()
            .filter(|p| srtp_payloads(std::slice::from_ref(p)).len() == 1)
            .map(|p| (usize::from(p.decoded.src != client), p.decoded.payload))
            .collect();
        let mut trackers = [rtp::RtpStreamTracker::default(); 2];
        for &(direction, payload) in &by_direction {
            trackers[direction].observe_payload(payload);
        }
        for &(direction, payload) in &by_direction {
            let verdict = trackers[direction].observe_payload(payload);
            assert_eq!(verdict, rtp::RtpVerdict::Confirmed, "rtp/tracker");
        }
        per_packet(
            &mut group,
            "rtp/tracker_observe_payload",
            by_direction.len(),
            || {
                for &(direction, payload) in &by_direction {
                    black_box(trackers[direction].observe_payload(black_box(payload)));
                }
            },
        );
    }

    // QUIC: the long-header read that `quic_datagram` does on every 192–255 datagram.
    // (No fixture carries QUIC; the packets are built above. Decrypting a client Initial,
    // `quic_initial`, runs once per flow and is not part of the per-packet path.)
    dissect(
        &mut group,
        "quic/parse_long_header",
        &quic_packets,
        |p| quic::parse_long_header(p).is_some_and(|h| h.is_key_exchange()),
        quic::parse_long_header,
    );

    // TLS: following the record layer of an established connection, one application_data
    // record per segment, which is what a TLS flow carries after its first packets.
    {
        const SEGMENTS: usize = 64;
        let record = tls_application_data(1_200);
        let mut stream = tls::TlsStream::new();
        let mut seq: u32 = 1;
        let feed = |stream: &mut tls::TlsStream, seq: &mut u32| {
            let summary = stream.on_segment(*seq, black_box(&record));
            *seq = seq.wrapping_add(record.len() as u32);
            summary
        };
        let summary = feed(&mut stream, &mut seq);
        assert!(
            summary.application_data && !summary.not_tls,
            "tls/on_segment"
        );
        per_packet(
            &mut group,
            "tls/on_segment_application_data",
            SEGMENTS,
            || {
                for _ in 0..SEGMENTS {
                    black_box(feed(&mut stream, &mut seq));
                }
            },
        );
    }
    let tls_segments: Vec<&[u8]> = zoom_packets
        .iter()
        .map(|p| p.decoded)
        .filter(|d| d.transport == Transport::Tcp && has_port(d, 443))
        .filter(|d| tls::looks_like_tls_record(d.payload))
        .map(|d| d.payload)
        .collect();
    dissect(
        &mut group,
        "tls/looks_like_tls_record",
        &tls_segments,
        tls::looks_like_tls_record,
        tls::looks_like_tls_record,
    );

    // SIP: the start-line check every datagram of a SIP flow gets, and a whole message read
    // (headers, then the SDP when there is one).
    dissect(
        &mut group,
        "sip/looks_like_sip",
        &sip_messages,
        sip::looks_like_sip,
        sip::looks_like_sip,
    );
    dissect(
        &mut group,
        "sip/parse_with_sdp",
        &sip_messages,
        |p| sip::parse(p).is_some(),
        |p| sip::parse(p).map(|m| m.sdp().map(|sdp| sdp.has_key_exchange())),
    );

    // DNS: the header check on every DNS-port datagram, and reading the answers of a response.
    dissect(
        &mut group,
        "dns/looks_like_dns",
        &dns_messages,
        dns::looks_like_dns,
        dns::looks_like_dns,
    );
    dissect(
        &mut group,
        "dns/parse_response",
        &dns_responses,
        |p| dns::parse_response(p, |_, _| {}).is_some(),
        |p| {
            let mut answers = 0u32;
            dns::parse_response(p, |_, _| answers += 1);
            answers
        },
    );

    // Zoom: the server-mode reader every datagram on ports 8801–8810 goes through.
    dissect(
        &mut group,
        "zoom/parse_server_mode",
        &zoom_media,
        |p| {
            matches!(
                zoom::parse_server_mode(p),
                Some(zoom::ZoomPacket::Media { .. })
            )
        },
        zoom::parse_server_mode,
    );

    // ZRTP: the framing check plus CRC-32C that a 16–19 datagram gets.
    dissect(
        &mut group,
        "zrtp/parse",
        &zrtp_packets,
        |p| zrtp::parse(p).is_some_and(|z| z.is_key_agreement()),
        zrtp::parse,
    );

    // Pre-filters: before the first-byte table, `classify_datagram` asks every datagram
    // whether it is Google QUIC (client side, until the flow is known not to be), Discord's
    // framing, or Zoom P2P; on SIP flows whether it starts like SIP. On a call's SRTP all must
    // say no, so their cost is pure overhead on every media packet.
    dissect(
        &mut group,
        "udp_prefilter/gquic_parse_public_header",
        &srtp,
        |p| gquic::parse_public_header(p).is_none(),
        gquic::parse_public_header,
    );
    dissect(
        &mut group,
        "udp_prefilter/discord_framing",
        &srtp,
        |p| !discord::is_discord_framing(p),
        discord::is_discord_framing,
    );
    dissect(
        &mut group,
        "udp_prefilter/zoom_p2p",
        &srtp,
        |p| !zoom::is_p2p_setup(p) && zoom::parse_p2p(p).is_none(),
        |p| zoom::is_p2p_setup(p) || zoom::parse_p2p(p).is_some(),
    );
    dissect(
        &mut group,
        "udp_prefilter/looks_like_sip",
        &srtp,
        |p| !sip::looks_like_sip(p),
        sip::looks_like_sip,
    );
    group.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let catalog = AppCatalog::embedded().expect("embedded app catalog");
    let geo = GeoDb::embedded().expect("embedded GeoIP data");
    let policy = Policy::builtin().expect("built-in policy");
    let mut group = c.benchmark_group("pipeline");
    let captures: Vec<Capture> = FIXTURES.into_iter().map(Capture::load).collect();
    for capture in &captures {
        let captured = capture.captured();
        let packets_read = captured.len() as u64;
        let auditor = Auditor::new(&geo, &policy, &catalog);
        per_packet(
            &mut group,
            &format!("packets/{}", capture.name),
            captured.len(),
            || {
                let mut session = auditor.session(capture.link_type);
                for packet in &captured {
                    black_box(session.packet(black_box(packet)));
                }
                session
            },
        );
        per_packet(
            &mut group,
            &format!("audit/{}", capture.name),
            captured.len(),
            || {
                let mut auditor = Auditor::new(&geo, &policy, &catalog);
                let mut session = auditor.session(capture.link_type);
                for packet in &captured {
                    black_box(session.packet(black_box(packet)));
                }
                let place = session.place();
                let settled = session.settle(
                    auditor.finisher(),
                    place,
                    capture.name.to_string(),
                    packets_read,
                    None,
                    None,
                );
                auditor.add(settled);
                auditor.finish()
            },
        );
    }
    group.finish();
}

/// Shorter than criterion's defaults (3 s warm-up, 5 s measurement): these loops take micro-
/// seconds and settle quickly, and the whole file should run in a few minutes. Command-line
/// options (`--warm-up-time`, `--measurement-time`) still override these.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = packet_path;
    config = config();
    targets = bench_decode, bench_flow_lookup, bench_demux, bench_dissectors, bench_pipeline
}
criterion_main!(packet_path);
