//! Classification of whole flows, packet by packet, from byte layouts in the RFCs and in
//! ../shared/design/facts-zoom.md. The dissectors have their own tests beside them.

use std::net::IpAddr;

use super::*;
use crate::decode::TcpSegment;

const CLIENT: &str = "192.168.1.20";
const SERVER: &str = "52.81.151.250";

struct Harness {
    catalog: AppCatalog,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            catalog: AppCatalog::embedded().unwrap(),
        }
    }
}

fn endpoint(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.parse().unwrap(),
        port,
    }
}

pub(super) fn at(number: u64) -> PacketRef {
    PacketRef {
        number,
        time: Timestamp {
            secs: 1_585_839_600 + number as i64,
            micros: 0,
        },
    }
}

pub(super) fn datagram<'a>(from: Endpoint, to: Endpoint, payload: &'a [u8]) -> DecodedPacket<'a> {
    DecodedPacket {
        src: from.ip,
        dst: to.ip,
        src_port: from.port,
        dst_port: to.port,
        transport: Transport::Udp,
        tcp: None,
        payload,
        ip_len: 28 + payload.len() as u32,
    }
}

pub(super) fn segment<'a>(
    from: Endpoint,
    to: Endpoint,
    sequence: u32,
    syn: bool,
    payload: &'a [u8],
) -> DecodedPacket<'a> {
    DecodedPacket {
        transport: Transport::Tcp,
        tcp: Some(TcpSegment {
            sequence,
            syn,
            ack: !syn,
            fin: false,
            rst: false,
        }),
        ..datagram(from, to, payload)
    }
}

fn stun_binding_request() -> Vec<u8> {
    // RFC 5769 §2.1 sample request, without its attributes: header only, length 0.
    let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    m.extend_from_slice(&[
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ]);
    m
}

fn dtls_client_hello() -> Vec<u8> {
    // DTLS 1.2 record (type 22, version fefd, epoch 0, seq 0) with a ClientHello fragment header.
    let body = [
        0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfe, 0xfd,
    ];
    let mut record = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
    record.extend_from_slice(&(body.len() as u16).to_be_bytes());
    record.extend_from_slice(&body);
    record
}

fn rtp(ssrc: u32, sequence: u16) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&(u32::from(sequence) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x5a; 60]);
    p
}

/// facts-zoom.md §2.4 worked example: a server video packet (8-byte SFU header, ZME type 0x10,
/// RTP at ZME+24), followed by an opaque payload.
fn zoom_server_video() -> Vec<u8> {
    let mut p = vec![
        0x05, 0x00, 0x07, 0x00, 0xfe, 0x51, 0x32, 0x04, 0x10, 0x01, 0x00, 0xfb, 0x90, 0x16, 0x18,
        0x0c, 0x03, 0x00, 0x05, 0x69, 0x65, 0x92, 0xaa, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x33,
        0x18, 0x05,
    ];
    p.extend_from_slice(&[
        0x90, 0x62, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04,
    ]);
    p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]);
    p.extend_from_slice(&[0x77; 200]);
    p
}

fn tls_client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut server_name = vec![0x00];
    server_name.extend_from_slice(&(name.len() as u16).to_be_bytes());
    server_name.extend_from_slice(name);
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&(server_name.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(&server_name);
    let mut extensions = vec![0x00, 0x00];
    extensions.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    extensions.extend_from_slice(&sni_ext);

    let mut hello = vec![0x03, 0x03];
    hello.extend_from_slice(&[0x11; 32]); // random
    hello.push(0); // session id
    hello.extend_from_slice(&[0x00, 0x02, 0xc0, 0x2f]); // one cipher suite
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    hello.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    hello.extend_from_slice(&extensions);

    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

fn dns_response(name: &str, address: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    m.extend_from_slice(&address);
    m
}

#[test]
fn webrtc_roles_stun_dtls_rtp() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 50000);
    let server = endpoint(SERVER, 3478);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);

    let stun = stun_binding_request();
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &stun),
            at(1)
        ),
        Role::Signaling
    );
    let hello = dtls_client_hello();
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &hello),
            at(2)
        ),
        Role::KeyExchange
    );
    for (i, n) in (3..13).enumerate() {
        let packet = rtp(0xdead_beef, 100 + i as u16);
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &packet),
            at(n),
        );
    }
    classifier.finish(&mut flow, &server);
    assert_eq!(flow.roles.count(Role::Signaling), 1);
    assert_eq!(flow.roles.count(Role::KeyExchange), 1);
    assert_eq!(
        flow.roles.count(Role::Media),
        10,
        "candidates before confirmation count as media"
    );
    assert_eq!(flow.roles.first(Role::Media).unwrap().number, 3);
    assert_eq!(flow.roles.first(Role::KeyExchange).unwrap().number, 2);
    let protocols: Vec<&str> = flow.protocols.iter().map(Protocol::as_str).collect();
    assert_eq!(
        protocols,
        ["stun", "dtls", "rtp", "srtp"],
        "RTP after DTLS is DTLS-SRTP"
    );
    assert!(flow.app.is_none());
}

#[test]
fn lone_rtp_lookalikes_are_not_media() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 50000);
    let server = endpoint(SERVER, 40000);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    // Encrypted bytes that happen to start like RTP: a new SSRC and sequence every time.
    for n in 0..20u32 {
        let packet = rtp(n.wrapping_mul(2_654_435_761), (n * 7919) as u16);
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &packet),
            at(u64::from(n) + 1),
        );
    }
    classifier.finish(&mut flow, &server);
    assert_eq!(flow.roles.count(Role::Media), 0);
    assert_eq!(flow.roles.count(Role::Other), 20);
}

#[test]
fn zoom_server_media_is_media_and_names_the_app() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 58327);
    let server = endpoint("144.195.52.3", 8801);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    let packet = zoom_server_video();
    let role = classifier.classify(
        &mut flow,
        Direction::ToClient,
        &datagram(server, client, &packet),
        at(7),
    );
    assert_eq!(role, Role::Media);
    assert!(flow.protocols.contains(Protocol::Zoom));
    let app = flow.app.clone().unwrap();
    assert_eq!(h.catalog.get(app.app).unwrap().id, "zoom");
    assert_eq!((app.kind, app.packet), (EvidenceKind::Framing, Some(7)));
}

#[test]
fn zoom_framing_is_not_trusted_off_its_ports() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 58327);
    // An address outside Zoom's published ranges, so only the framing could name the app.
    let server = endpoint("203.0.113.5", 9000);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    let packet = zoom_server_video();
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToClient,
            &datagram(server, client, &packet),
            at(1)
        ),
        Role::Other
    );
    assert!(flow.app.is_none());
    assert!(!flow.protocols.contains(Protocol::Zoom));
}

#[test]
fn tls_client_hello_gives_key_exchange_hostname_and_app() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 40000);
    let server = endpoint(SERVER, 443);
    let mut flow = classifier.new_flow(&client, &server, Transport::Tcp);
    let syn = segment(client, server, 1000, true, &[]);
    assert_eq!(
        classifier.classify(&mut flow, Direction::ToServer, &syn, at(1)),
        Role::Other
    );
    let hello = tls_client_hello("zoombj81mmr.cloud.zoom.us");
    // The ClientHello split over two segments: both carry key exchange.
    let (first, second) = hello.split_at(40);
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &segment(client, server, 1001, false, first),
            at(2)
        ),
        Role::KeyExchange
    );
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &segment(client, server, 1001 + 40, false, second),
            at(3)
        ),
        Role::KeyExchange
    );
    assert_eq!(
        flow.hostname,
        Some(("zoombj81mmr.cloud.zoom.us".to_string(), HostnameSource::Sni))
    );
    let app = flow.app.clone().unwrap();
    assert_eq!(h.catalog.get(app.app).unwrap().id, "zoom");
    assert_eq!(app.kind, EvidenceKind::Sni);
    assert_eq!(app.text("tls"), "tls sni zoombj81mmr.cloud.zoom.us");
    // Application data of a Zoom flow is signaling.
    let app_data = [0x17, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4];
    let next = 1001 + hello.len() as u32;
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &segment(client, server, next, false, &app_data),
            at(4)
        ),
        Role::Signaling
    );
    assert!(flow.protocols.contains(Protocol::Tls));
}

#[test]
fn non_tls_tcp_is_other() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 40000);
    let server = endpoint(SERVER, 80);
    let mut flow = classifier.new_flow(&client, &server, Transport::Tcp);
    let request = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &segment(client, server, 1, false, request),
            at(1)
        ),
        Role::Other
    );
    assert!(!flow.protocols.contains(Protocol::Tls));
}

#[test]
fn dns_answers_name_later_flows() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 53000);
    let resolver = endpoint("192.168.1.1", 53);
    let mut dns_flow = classifier.new_flow(&client, &resolver, Transport::Udp);
    let answer = dns_response("zoomdcalz166mmr.dca.zoom.us", [206, 247, 61, 166]);
    assert_eq!(
        classifier.classify(
            &mut dns_flow,
            Direction::ToClient,
            &datagram(resolver, client, &answer),
            at(1)
        ),
        Role::Other
    );
    assert!(dns_flow.protocols.contains(Protocol::Dns));

    let server = endpoint("206.247.61.166", 443);
    let mut flow = classifier.new_flow(&client, &server, Transport::Tcp);
    assert_eq!(
        flow.hostname,
        Some((
            "zoomdcalz166mmr.dca.zoom.us".to_string(),
            HostnameSource::Dns
        ))
    );
    let syn = segment(client, server, 5, true, &[]);
    classifier.classify(&mut flow, Direction::ToServer, &syn, at(2));
    let app = flow.app.clone().unwrap();
    assert_eq!(app.kind, EvidenceKind::DnsName);

    // An address that was never resolved has no name.
    let other = endpoint("1.1.1.1", 443);
    assert!(classifier
        .new_flow(&client, &other, Transport::Tcp)
        .hostname
        .is_none());
    let _: IpAddr = other.ip;
}

#[test]
fn turn_channel_data_carrying_rtp_is_media() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 50000);
    let server = endpoint("198.51.100.7", 3478);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    // A ChannelBind request (method 0x009) marks the flow as TURN.
    let mut bind = stun_binding_request();
    bind[1] = 0x09;
    assert_eq!(
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &bind),
            at(1)
        ),
        Role::Signaling
    );
    for n in 0..5u16 {
        let inner = rtp(0x1234_5678, 500 + n);
        let mut channel_data = vec![0x40, 0x00];
        channel_data.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        channel_data.extend_from_slice(&inner);
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &channel_data),
            at(2 + u64::from(n)),
        );
    }
    classifier.finish(&mut flow, &server);
    assert_eq!(flow.roles.count(Role::Media), 5);
    assert!(flow.protocols.contains(Protocol::Turn));
}

#[test]
fn every_packet_gets_exactly_one_role() {
    let h = Harness::new();
    let mut classifier = Classifier::new(&h.catalog);
    let client = endpoint(CLIENT, 50000);
    let server = endpoint(SERVER, 8801);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 3],
        stun_binding_request(),
        dtls_client_hello(),
        rtp(1, 1),
        rtp(1, 2),
        zoom_server_video(),
        vec![0x10; 40],
        vec![0x41; 10],
    ];
    for (n, payload) in payloads.iter().enumerate() {
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, payload),
            at(n as u64 + 1),
        );
    }
    classifier.finish(&mut flow, &server);
    let total: u64 = Role::ALL.iter().map(|r| flow.roles.count(*r)).sum();
    assert_eq!(total, payloads.len() as u64);
}

mod properties {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    /// The embedded catalog, parsed once for all cases.
    fn catalog() -> &'static AppCatalog {
        static CATALOG: OnceLock<AppCatalog> = OnceLock::new();
        CATALOG.get_or_init(|| AppCatalog::embedded().unwrap())
    }

    /// Microsoft's multiplexed TURN framing (MS-TURN §2.2.3): `FF 10`, the length of what
    /// follows the first four bytes, an 8-byte session id, then the STUN message or media.
    fn ms_turn(session: [u8; 8], inner: &[u8]) -> Vec<u8> {
        let mut frame = vec![0xff, 0x10];
        frame.extend_from_slice(&((8 + inner.len()) as u16).to_be_bytes());
        frame.extend_from_slice(&session);
        frame.extend_from_slice(inner);
        frame
    }

    /// Payloads that start where the dissectors start looking (STUN, ZRTP, DTLS, ChannelData,
    /// RTP, QUIC, MS-TURN, Zoom's types), then anything.
    fn hostile_payload() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec![
                vec![],
                vec![0x00, 0x01],
                vec![0x01, 0x01, 0x00],
                vec![0x10, 0x00, 0x00, 0x01, 0x5a, 0x52, 0x54, 0x50],
                vec![0x16, 0xfe, 0xfd, 0x00, 0x00],
                vec![0x17, 0x03, 0x03],
                vec![0x2c],
                vec![0x40, 0x00],
                vec![0x80, 0x6f],
                vec![0x81, 0xc8],
                vec![0xc3, 0x00, 0x00, 0x00, 0x01, 0x08],
                vec![0xff, 0x10],
                vec![0x05, 0x00, 0x07, 0x00, 0xfe, 0x51, 0x32, 0x04],
                b"INVITE sip:a@b SIP/2.0\r\n".to_vec(),
                b"SIP/2.0 200 OK\r\nc: application/sdp\r\n\r\n".to_vec(),
            ]),
            proptest::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|(head, tail)| [head, tail].concat())
    }

    proptest! {
        /// Datagrams and segments of any content, in either direction, on the ports that
        /// switch the dissectors on (STUN/TURN, Zoom, QUIC/TLS, DNS, SIP): the classifier
        /// never panics and gives every packet exactly one role.
        #[test]
        fn hostile_packets_never_panic_the_classifier(
            port in prop::sample::select(vec![3478u16, 8801, 443, 53, 5060, 19302, 50000]),
            tcp in any::<bool>(),
            packets in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<u32>(), hostile_payload()), 1..12),
        ) {
            let mut classifier = Classifier::new(catalog());
            let client = endpoint(CLIENT, 50001);
            let server = endpoint(SERVER, port);
            let transport = if tcp { Transport::Tcp } else { Transport::Udp };
            let mut flow = classifier.new_flow(&client, &server, transport);
            for (n, (to_server, syn, sequence, payload)) in packets.iter().enumerate() {
                let (from, to, direction) = if *to_server {
                    (client, server, Direction::ToServer)
                } else {
                    (server, client, Direction::ToClient)
                };
                let packet = if tcp {
                    segment(from, to, *sequence, *syn, payload)
                } else {
                    datagram(from, to, payload)
                };
                classifier.classify(&mut flow, direction, &packet, at(n as u64 + 1));
            }
            classifier.finish(&mut flow, &server);
            let total: u64 = Role::ALL.iter().map(|r| flow.roles.count(*r)).sum();
            prop_assert_eq!(total, packets.len() as u64);
        }

        /// MS-TURN framing around a STUN message or RTP: the flow is TURN and the inner
        /// payload decides the role; a frame cut anywhere is `other` and proves nothing.
        #[test]
        fn ms_turn_frames_round_trip_and_truncate(
            session in any::<[u8; 8]>(),
            media in any::<bool>(),
            ssrc in any::<u32>(),
        ) {
            let inner = if media { rtp(ssrc, 7) } else { stun_binding_request() };
            let frame = ms_turn(session, &inner);
            let client = endpoint(CLIENT, 50002);
            let server = endpoint("52.112.0.10", 3478);
            let mut classifier = Classifier::new(catalog());
            let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
            let role = classifier.classify(&mut flow, Direction::ToServer, &datagram(client, server, &frame), at(1));
            prop_assert!(flow.protocols.contains(Protocol::Turn));
            if media {
                // A first RTP packet is only a candidate until its stream is confirmed.
                prop_assert_eq!(role, Role::Other);
                for n in 8..10u16 {
                    let next = ms_turn(session, &rtp(ssrc, n));
                    classifier.classify(&mut flow, Direction::ToServer, &datagram(client, server, &next), at(u64::from(n)));
                }
                classifier.finish(&mut flow, &server);
                prop_assert_eq!(flow.roles.count(Role::Media), 3);
            } else {
                prop_assert_eq!(role, Role::Signaling);
                prop_assert!(flow.protocols.contains(Protocol::Stun));
            }
            for cut in 2..frame.len() {
                let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
                let role = classifier.classify(&mut flow, Direction::ToServer, &datagram(client, server, &frame[..cut]), at(1));
                prop_assert_eq!(role, Role::Other, "cut {}", cut);
                prop_assert!(!flow.protocols.contains(Protocol::Turn));
            }
        }
    }
}
