//! The per-packet pipeline after decoding — flow table, demultiplexing, every dissector and
//! the per-flow state they keep — then settling: attribution, propagation, GeoIP, policy and
//! the report. Each piece of the input is one packet: a control byte (direction, UDP or TCP,
//! SYN, server port, server address) and the payload, sent between a fixed client and one of
//! a few servers on conferencing ports.
#![no_main]

use callaudit::audit::Auditor;
use callaudit::capture::{CapturedPacket, LinkType, Timestamp};
use callaudit_fuzz::{data, pieces};
use etherparse::PacketBuilder;
use libfuzzer_sys::fuzz_target;

const CLIENT: [u8; 4] = [192, 168, 1, 20];
/// Beijing (restricted), a US server, a DNS resolver and a private peer.
const SERVERS: [[u8; 4]; 4] = [
    [52, 81, 151, 250],
    [206, 247, 56, 253],
    [192, 168, 1, 1],
    [10, 0, 0, 7],
];
/// TLS, STUN/TURN, Zoom, SIP, DNS, Google STUN, an RTP port, Teams TURN.
const PORTS: [u16; 8] = [443, 3478, 8801, 5060, 53, 19302, 50_000, 3480];

fuzz_target!(|bytes: &[u8]| {
    let data = data();
    let mut auditor = Auditor::new(&data.geo, &data.policy, &data.catalog);
    let mut session = auditor.session(LinkType::RAW);
    // Next sequence number per (server, port, direction), so TCP payloads line up.
    let mut sequence = [[[1_000u32; 2]; PORTS.len()]; SERVERS.len()];
    let mut packets = 0u64;
    for piece in pieces(bytes) {
        let Some((&control, payload)) = piece.split_first() else {
            continue;
        };
        let from_server = control & 1 != 0;
        let tcp = control & 2 != 0;
        let syn = control & 4 != 0;
        let port = usize::from(control >> 3) % PORTS.len();
        let server = usize::from(control >> 6);
        let (source, destination) = if from_server {
            ((SERVERS[server], PORTS[port]), (CLIENT, 51_000))
        } else {
            ((CLIENT, 51_000), (SERVERS[server], PORTS[port]))
        };
        let ip = PacketBuilder::ipv4(source.0, destination.0, 64);
        let mut packet = Vec::new();
        let built = if tcp {
            let next = &mut sequence[server][port][usize::from(from_server)];
            let mut builder = ip.tcp(source.1, destination.1, *next, 64_000);
            if syn {
                builder = builder.syn();
                *next = next.wrapping_add(1);
            } else {
                builder = builder.ack(1);
            }
            *next = next.wrapping_add(payload.len() as u32);
            builder.write(&mut packet, payload)
        } else {
            ip.udp(source.1, destination.1).write(&mut packet, payload)
        };
        if built.is_err() {
            continue; // longer than an IP packet can be
        }
        packets += 1;
        session.packet(&CapturedPacket {
            number: packets,
            time: Timestamp::from_timeval(1_600_000_000 + packets as i64 / 10, 0),
            data: &packet,
            original_len: packet.len() as u32,
        });
    }
    let place = session.place();
    let settled = session.settle(
        auditor.finisher(),
        place,
        "fuzz".into(),
        packets,
        None,
        None,
    );
    auditor.add(settled);
    serde_json::to_vec(&auditor.finish()).expect("a report always serialises");
});
