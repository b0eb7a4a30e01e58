use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::PacketBuilder;
use proptest::prelude::*;

use super::*;
use crate::capture::Timestamp;

const CLIENT: [u8; 4] = [192, 168, 1, 20];
const SERVER: [u8; 4] = [52, 81, 151, 250];

fn packet(data: &[u8]) -> CapturedPacket<'_> {
    CapturedPacket {
        number: 1,
        time: Timestamp::default(),
        data,
        original_len: data.len() as u32,
    }
}

fn udp_ipv4(payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ipv4(CLIENT, SERVER, 64).udp(50000, 8801);
    let mut out = Vec::new();
    builder.write(&mut out, payload).unwrap();
    out
}

fn expect_packet<'a>(decoded: Decoded<'a>) -> DecodedPacket<'a> {
    match decoded {
        Decoded::Packet(p) => p,
        Decoded::Skipped(reason) => panic!("skipped: {reason:?}"),
        Decoded::Malformed(m) => panic!("malformed: {m:?}"),
    }
}

fn expect_malformed(decoded: Decoded<'_>) -> Malformed {
    match decoded {
        Decoded::Malformed(m) => m,
        Decoded::Packet(_) => panic!("decoded a malformed packet"),
        Decoded::Skipped(reason) => panic!("skipped: {reason:?}"),
    }
}

#[test]
fn ethernet_udp_reaches_the_payload() {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(CLIENT, SERVER, 64)
        .udp(50000, 8801)
        .write(&mut frame, b"hello")
        .unwrap();
    let p = expect_packet(decode(LinkType::ETHERNET, &packet(&frame)));
    assert_eq!(p.src, IpAddr::V4(Ipv4Addr::from(CLIENT)));
    assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::from(SERVER)));
    assert_eq!((p.src_port, p.dst_port), (50000, 8801));
    assert_eq!(p.transport, Transport::Udp);
    assert_eq!(p.payload, b"hello");
    assert_eq!(p.ip_len, 20 + 8 + 5);
    assert!(p.tcp.is_none());
}

#[test]
fn vlan_and_qinq_frames_are_decoded() {
    let mut single = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .single_vlan(10.try_into().unwrap())
        .ipv4(CLIENT, SERVER, 64)
        .udp(1, 2)
        .write(&mut single, b"x")
        .unwrap();
    assert_eq!(
        expect_packet(decode(LinkType::ETHERNET, &packet(&single))).payload,
        b"x"
    );

    let mut double = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .double_vlan(10.try_into().unwrap(), 20.try_into().unwrap())
        .ipv4(CLIENT, SERVER, 64)
        .udp(1, 2)
        .write(&mut double, b"y")
        .unwrap();
    assert_eq!(
        expect_packet(decode(LinkType::ETHERNET, &packet(&double))).payload,
        b"y"
    );
}

#[test]
fn tcp_flags_and_sequence_are_kept() {
    let mut frame = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], [0x2a; 16], 64)
        .tcp(40000, 443, 0xfffffff0, 1000)
        .syn()
        .write(&mut frame, &[])
        .unwrap();
    let p = expect_packet(decode(LinkType::RAW, &packet(&frame)));
    let tcp = p.tcp.unwrap();
    assert_eq!(tcp.sequence, 0xfffffff0);
    assert!(tcp.syn && !tcp.ack && !tcp.fin && !tcp.rst);
    assert_eq!(p.src, IpAddr::V6(Ipv6Addr::from([0xfd; 16])));
    assert_eq!(p.ip_len, 40 + 20);
}

#[test]
fn raw_ip_link_types_share_one_path() {
    let frame = udp_ipv4(b"raw");
    for link in [
        LinkType::RAW,
        LinkType::DLT_RAW,
        LinkType::DLT_RAW_OPENBSD,
        LinkType::IPV4,
    ] {
        assert_eq!(
            expect_packet(decode(link, &packet(&frame))).payload,
            b"raw",
            "{link}"
        );
    }
}

#[test]
fn linux_cooked_headers_are_stripped() {
    let ip = udp_ipv4(b"sll");
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    assert_eq!(
        expect_packet(decode(LinkType::LINUX_SLL, &packet(&sll))).payload,
        b"sll"
    );

    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    assert_eq!(
        expect_packet(decode(LinkType::LINUX_SLL2, &packet(&sll2))).payload,
        b"sll"
    );

    let mut arp = vec![0u8; 16];
    arp[14..16].copy_from_slice(&[0x08, 0x06]);
    assert!(matches!(
        decode(LinkType::LINUX_SLL, &packet(&arp)),
        Decoded::Skipped(SkipReason::NotIp)
    ));
    assert_eq!(
        expect_malformed(decode(LinkType::LINUX_SLL2, &packet(&sll2[..10]))),
        Malformed {
            layer: "linux_sll2",
            reason: "truncated header"
        }
    );
}

#[test]
fn bsd_loopback_in_either_byte_order() {
    let ip = udp_ipv4(b"lo");
    for header in [[2u8, 0, 0, 0], [0, 0, 0, 2]] {
        let mut frame = header.to_vec();
        frame.extend_from_slice(&ip);
        assert_eq!(
            expect_packet(decode(LinkType::NULL, &packet(&frame))).payload,
            b"lo"
        );
    }
    let mut frame = vec![0, 0, 0, 2];
    frame.extend_from_slice(&ip);
    assert_eq!(
        expect_packet(decode(LinkType::LOOP, &packet(&frame))).payload,
        b"lo"
    );

    let mut v6 = Vec::new();
    PacketBuilder::ipv6([1; 16], [2; 16], 64)
        .udp(1, 2)
        .write(&mut v6, b"6")
        .unwrap();
    for family in [10u32, 24, 28, 30] {
        let mut frame = family.to_le_bytes().to_vec();
        frame.extend_from_slice(&v6);
        assert_eq!(
            expect_packet(decode(LinkType::NULL, &packet(&frame))).payload,
            b"6"
        );
    }
}

#[test]
fn non_ip_and_other_transports_are_skipped_not_malformed() {
    let mut arp = vec![0xffu8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0u8; 20]);
    assert!(matches!(
        decode(LinkType::ETHERNET, &packet(&arp)),
        Decoded::Skipped(SkipReason::NotIp)
    ));

    let mut icmp = Vec::new();
    PacketBuilder::ipv4(CLIENT, SERVER, 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut icmp, b"ping")
        .unwrap();
    assert!(matches!(
        decode(LinkType::RAW, &packet(&icmp)),
        Decoded::Skipped(SkipReason::OtherTransport)
    ));
}

#[test]
fn malformed_packets_name_layer_and_reason() {
    let good = udp_ipv4(b"payload");

    let mut bad_ihl = good.clone();
    bad_ihl[0] = 0x44;
    assert_eq!(
        expect_malformed(decode(LinkType::RAW, &packet(&bad_ihl))),
        Malformed {
            layer: "ipv4",
            reason: "header length (IHL) below 5"
        }
    );

    let mut long_total = good.clone();
    long_total[2..4].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        expect_malformed(decode(LinkType::RAW, &packet(&long_total))).layer,
        "ipv4"
    );

    let truncated_udp = &good[..24];
    let m = expect_malformed(decode(LinkType::RAW, &packet(truncated_udp)));
    assert!(m.layer == "udp" || m.layer == "ipv4", "{m:?}");

    let short_ethernet = [0u8; 10];
    assert_eq!(
        expect_malformed(decode(LinkType::ETHERNET, &packet(&short_ethernet))),
        Malformed {
            layer: "ethernet",
            reason: "truncated header"
        }
    );

    let version_7 = [0x70u8; 30];
    assert_eq!(
        expect_malformed(decode(LinkType::RAW, &packet(&version_7))).reason,
        "unsupported IP version"
    );
}

#[test]
fn udp_length_beyond_the_data_is_malformed() {
    let mut frame = udp_ipv4(b"abcdefgh");
    // IPv4 header is 20 bytes; the UDP length field sits at 24..26.
    frame[24..26].copy_from_slice(&100u16.to_be_bytes());
    let m = expect_malformed(decode(LinkType::RAW, &packet(&frame)));
    assert_eq!(m.layer, "udp");
}

#[test]
fn a_snapped_packet_is_not_malformed() {
    let frame = udp_ipv4(&[0u8; 400]);
    let snapped = CapturedPacket {
        number: 1,
        time: Timestamp::default(),
        data: &frame[..96],
        original_len: frame.len() as u32,
    };
    let p = expect_packet(decode(LinkType::RAW, &snapped));
    assert_eq!(p.payload.len(), 96 - 28);
}

#[test]
fn stats_count_by_layer_and_reason() {
    let mut stats = DecodeStats::default();
    let bad = [0u8; 4];
    for _ in 0..3 {
        stats.record(&decode(LinkType::ETHERNET, &packet(&bad)));
    }
    stats.record(&Decoded::Skipped(SkipReason::NotIp));
    assert_eq!(stats.malformed_total(), 3);
    assert_eq!(stats.skipped[&SkipReason::NotIp], 1);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200), link in 0usize..10) {
        let link = LinkType::SUPPORTED[link];
        let _ = decode(link, &packet(&data));
    }

    #[test]
    fn every_truncation_of_a_valid_frame_is_handled(cut in 0usize..60) {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(CLIENT, SERVER, 64)
            .tcp(1, 2, 3, 4)
            .write(&mut frame, b"0123456789")
            .unwrap();
        let cut = cut.min(frame.len());
        let _ = decode(LinkType::ETHERNET, &packet(&frame[..cut]));
    }
}

/// Frames the fast path reads: Ethernet with 0–2 VLAN tags, IPv4 or IPv6, UDP or TCP, with
/// `flips` (offset, xor) applied to the first 80 bytes so lengths, versions, flags and types
/// vary around the values the fast path accepts.
fn mutated_frame(
    vlans: usize,
    v6: bool,
    tcp: bool,
    payload: &[u8],
    flips: &[(usize, u8)],
) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2([1; 6], [2; 6]);
    let builder = match vlans {
        0 => builder.ipv4(CLIENT, SERVER, 64),
        1 => builder
            .single_vlan(10.try_into().unwrap())
            .ipv4(CLIENT, SERVER, 64),
        _ => builder
            .double_vlan(10.try_into().unwrap(), 20.try_into().unwrap())
            .ipv4(CLIENT, SERVER, 64),
    };
    let mut frame = Vec::new();
    match (v6, tcp) {
        (false, false) => builder.udp(5000, 3478).write(&mut frame, payload).unwrap(),
        (false, true) => builder
            .tcp(5000, 443, 7, 100)
            .write(&mut frame, payload)
            .unwrap(),
        (true, _) => {
            let v6 = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6([0xfd; 16], [0x20; 16], 64);
            if tcp {
                v6.tcp(5000, 443, 7, 100)
                    .write(&mut frame, payload)
                    .unwrap()
            } else {
                v6.udp(5000, 3478).write(&mut frame, payload).unwrap()
            }
        }
    }
    for &(at, xor) in flips {
        if let Some(byte) = frame.get_mut(at % 80) {
            *byte ^= xor;
        }
    }
    frame
}

#[test]
fn the_fast_path_takes_ordinary_frames() {
    for (vlans, v6, tcp) in [
        (0, false, false),
        (1, false, true),
        (2, false, false),
        (0, true, true),
        (0, true, false),
    ] {
        let frame = mutated_frame(vlans, v6, tcp, b"payload", &[]);
        let fast = fast::ethernet(&frame).expect("an ordinary frame takes the fast path");
        assert_eq!(fast.payload, b"payload");
        assert_eq!(
            Decoded::Packet(fast),
            decode_lax(LinkType::ETHERNET, &packet(&frame))
        );
    }
}

#[test]
fn fragments_padding_and_short_lengths_leave_the_fast_path() {
    // A first fragment (more-fragments set) goes the lax way.
    let mut frame = mutated_frame(0, false, false, b"payload", &[]);
    frame[14 + 6] |= 0x20;
    assert!(fast::ethernet(&frame).is_none());
    // Ethernet padding after the IP packet is not payload, on either path.
    let mut padded = mutated_frame(0, false, false, b"x", &[]);
    padded.resize(60, 0);
    let fast = fast::ethernet(&padded).unwrap();
    assert_eq!(fast.payload, b"x");
    assert_eq!(
        Decoded::Packet(fast),
        decode_lax(LinkType::ETHERNET, &packet(&padded))
    );
    // An IP length past the captured bytes is for the lax path to judge.
    let frame = mutated_frame(0, false, false, b"payload", &[]);
    assert!(fast::ethernet(&frame[..frame.len() - 1]).is_none());
}

proptest! {
    /// Whenever the fast path answers, it answers what the lax path would have.
    #[test]
    fn the_fast_path_agrees_with_the_lax_path(
        vlans in 0usize..3,
        v6 in any::<bool>(),
        tcp in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..40),
        flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..3),
        cut in 0usize..8,
    ) {
        let frame = mutated_frame(vlans, v6, tcp, &payload, &flips);
        let frame = &frame[..frame.len().saturating_sub(cut)];
        if let Some(fast) = fast::ethernet(frame) {
            prop_assert_eq!(Decoded::Packet(fast), decode_lax(LinkType::ETHERNET, &packet(frame)));
        }
        let ip = &frame[14.min(frame.len())..];
        if let Some(fast) = fast::ip(ip) {
            prop_assert_eq!(Decoded::Packet(fast), decode_lax(LinkType::RAW, &packet(ip)));
        }
    }
}

/// A generated packet: the one link/IP/transport generator of these tests.
#[derive(Debug, Clone)]
struct FrameSpec {
    link: LinkType,
    /// 802.1Q tags on Ethernet (0–2); NULL written big-endian; the IPv6 family value of NULL.
    vlans: usize,
    big_endian: bool,
    v6_family: u32,
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    src_port: u16,
    dst_port: u16,
    /// TCP: sequence number and SYN, ACK, FIN, RST; `None` for UDP.
    tcp: Option<(u32, bool, bool, bool, bool)>,
    payload: Vec<u8>,
}

impl FrameSpec {
    fn addresses(&self) -> (IpAddr, IpAddr) {
        if self.v6 {
            (IpAddr::from(self.src), IpAddr::from(self.dst))
        } else {
            let v4 = |a: &[u8; 16]| IpAddr::from([a[0], a[1], a[2], a[3]]);
            (v4(&self.src), v4(&self.dst))
        }
    }

    fn ip_packet(&self) -> Vec<u8> {
        let ip = if self.v6 {
            PacketBuilder::ipv6(self.src, self.dst, 64)
        } else {
            let v4 = |a: &[u8; 16]| [a[0], a[1], a[2], a[3]];
            PacketBuilder::ipv4(v4(&self.src), v4(&self.dst), 64)
        };
        let mut out = Vec::new();
        match self.tcp {
            None => ip
                .udp(self.src_port, self.dst_port)
                .write(&mut out, &self.payload)
                .unwrap(),
            Some((sequence, syn, ack, fin, rst)) => {
                let mut tcp = ip.tcp(self.src_port, self.dst_port, sequence, 1000);
                if syn {
                    tcp = tcp.syn();
                }
                if ack {
                    tcp = tcp.ack(7);
                }
                if fin {
                    tcp = tcp.fin();
                }
                if rst {
                    tcp = tcp.rst();
                }
                tcp.write(&mut out, &self.payload).unwrap()
            }
        }
        out
    }

    fn frame(&self) -> Vec<u8> {
        let ether_type: u16 = if self.v6 { 0x86dd } else { 0x0800 };
        let family = if self.v6 { self.v6_family } else { 2 };
        let mut frame = match self.link {
            LinkType::ETHERNET => {
                let mut header = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
                for tag in 0..self.vlans {
                    let tpid: u16 = if tag + 1 < self.vlans { 0x88a8 } else { 0x8100 };
                    let tpid = if tag == 0 { tpid } else { 0x8100 };
                    header.extend_from_slice(&tpid.to_be_bytes());
                    header.extend_from_slice(&(10 + tag as u16).to_be_bytes());
                }
                header.extend_from_slice(&ether_type.to_be_bytes());
                header
            }
            LinkType::LINUX_SLL => {
                let mut header = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
                header.extend_from_slice(&ether_type.to_be_bytes());
                header
            }
            LinkType::LINUX_SLL2 => {
                let mut header = ether_type.to_be_bytes().to_vec();
                header.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
                header
            }
            LinkType::NULL if self.big_endian => family.to_be_bytes().to_vec(),
            LinkType::NULL => family.to_le_bytes().to_vec(),
            LinkType::LOOP => family.to_be_bytes().to_vec(),
            _ => Vec::new(),
        };
        frame.extend_from_slice(&self.ip_packet());
        frame
    }
}

fn any_frame() -> impl Strategy<Value = FrameSpec> {
    (
        (
            prop::sample::select(LinkType::SUPPORTED.to_vec()),
            0usize..3,
            any::<bool>(),
            prop::sample::select(vec![10u32, 24, 28, 30]),
            any::<bool>(),
        ),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
        proptest::option::of((
            any::<u32>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(
                (link, vlans, big_endian, v6_family, v6),
                src,
                dst,
                src_port,
                dst_port,
                tcp,
                payload,
            )| {
                // The IPv4 and IPv6 link types carry only their own version.
                let v6 = match link {
                    LinkType::IPV4 => false,
                    LinkType::IPV6 => true,
                    _ => v6,
                };
                FrameSpec {
                    link,
                    vlans,
                    big_endian,
                    v6_family,
                    v6,
                    src,
                    dst,
                    src_port,
                    dst_port,
                    tcp,
                    payload,
                }
            },
        )
}

proptest! {
    /// Any UDP or TCP packet over IPv4 or IPv6 behind any supported link header (Ethernet
    /// with 0–2 VLAN tags, raw IP, Linux cooked v1/v2, BSD loopback in either byte order)
    /// decodes to exactly the fields it was built with. Every prefix of it is malformed, or,
    /// when the capture's snaplen explains the cut, the same packet with a prefix of its
    /// payload: nothing past the cut is ever reported.
    #[test]
    fn generated_frames_round_trip_and_truncate(spec in any_frame()) {
        let frame = spec.frame();
        let (src, dst) = spec.addresses();
        let expected = DecodedPacket {
            src,
            dst,
            src_port: spec.src_port,
            dst_port: spec.dst_port,
            transport: if spec.tcp.is_some() { Transport::Tcp } else { Transport::Udp },
            tcp: spec.tcp.map(|(sequence, syn, ack, fin, rst)| TcpSegment { sequence, syn, ack, fin, rst }),
            payload: &spec.payload,
            ip_len: spec.ip_packet().len() as u32,
        };
        prop_assert_eq!(decode(spec.link, &packet(&frame)), Decoded::Packet(expected));
        for cut in 0..frame.len() {
            let data = &frame[..cut];
            let cut_by_capture = decode(spec.link, &packet(data));
            prop_assert!(matches!(cut_by_capture, Decoded::Malformed(_)), "cut {}: {:?}", cut, cut_by_capture);
            let snapped = CapturedPacket {
                number: 1,
                time: Timestamp::default(),
                data,
                original_len: frame.len() as u32,
            };
            match decode(spec.link, &snapped) {
                Decoded::Packet(got) => {
                    prop_assert!(spec.payload.starts_with(got.payload));
                    prop_assert_eq!(got, DecodedPacket { payload: got.payload, ..expected });
                }
                Decoded::Malformed(_) => {}
                Decoded::Skipped(reason) => prop_assert!(false, "cut {}: skipped {:?}", cut, reason),
            }
        }
    }
}
