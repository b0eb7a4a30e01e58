//! Bounded resources (docs/robustness.md, "Bounds"): each per-flow and per-capture bound of
//! classify, fed far more than it admits. What is checked is what the allocator holds (buffer
//! capacities, map sizes), not only what was parsed.

use std::net::{IpAddr, Ipv4Addr};

use super::tests::{at, datagram, segment};
use super::*;

fn endpoint(ip: [u8; 4], port: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::from(ip)),
        port,
    }
}

/// TLS handshake type of a Certificate message (RFC 5246 §7.4).
const HANDSHAKE_CERTIFICATE: u8 = 11;

fn u24(value: usize) -> [u8; 3] {
    let [_, a, b, c] = (value as u32).to_be_bytes();
    [a, b, c]
}

fn tls_record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut record = vec![content_type, 0x03, 0x03];
    record.extend_from_slice(&(body.len() as u16).to_be_bytes());
    record.extend_from_slice(body);
    record
}

// ---------------------------------------------------------------- TLS over TCP

/// A Certificate message announcing 16 MiB, its leaf exactly at the bound, then record after
/// record of it: the stream keeps at most the list header and the leaf, then skips the rest.
#[test]
fn endless_tls_certificate_records_keep_at_most_the_leaf() {
    const BODY: usize = 16_000;
    let mut stream = tls::TlsStream::new();
    stream.set_initial_sequence(1);
    let mut first = vec![HANDSHAKE_CERTIFICATE];
    first.extend_from_slice(&u24(0xff_ffff)); // message length
    first.extend_from_slice(&u24(0xff_fffc)); // certificate_list length
    first.extend_from_slice(&u24(tls::MAX_CERTIFICATE_LEN)); // the leaf's length
    first.resize(BODY, 0x30);
    let first = tls_record(22, &first);
    let more = tls_record(22, &[0x30; BODY]);

    let bound = 6 + tls::MAX_CERTIFICATE_LEN;
    let mut sequence = 1u32;
    let mut peak = 0;
    for i in 0..1000 {
        let record = if i == 0 { &first } else { &more };
        let summary = stream.on_segment(sequence, record);
        assert!(summary.handshake && !summary.not_tls, "segment {i}");
        sequence = sequence.wrapping_add(record.len() as u32);
        peak = peak.max(stream.buffered_bytes());
        assert!(stream.buffered_bytes() <= bound, "segment {i}");
    }
    assert!(peak > tls::MAX_CERTIFICATE_LEN, "the leaf was collected");
    assert_eq!(stream.buffered_bytes(), 0, "freed once the leaf was read");
    assert!(stream.certificate().is_none(), "not a certificate");
}

/// A leaf announced beyond the bound is never collected, however much of it arrives.
#[test]
fn a_tls_leaf_beyond_the_bound_is_skipped_without_a_buffer() {
    let mut stream = tls::TlsStream::new();
    stream.set_initial_sequence(1);
    let mut first = vec![HANDSHAKE_CERTIFICATE];
    first.extend_from_slice(&u24(0xff_ffff));
    first.extend_from_slice(&u24(0xff_fffc));
    first.extend_from_slice(&u24(0xff_fff9));
    first.resize(16_000, 0x30);
    let mut sequence = 1u32;
    for i in 0..300 {
        let record = tls_record(22, if i == 0 { &first } else { &[0x30; 16_000] });
        stream.on_segment(sequence, &record);
        sequence = sequence.wrapping_add(record.len() as u32);
        assert!(stream.buffered_bytes() <= 16_000 + 6, "segment {i}");
    }
    assert_eq!(stream.buffered_bytes(), 0);
}

/// Segments that keep arriving beyond a gap that never fills: at most `MAX_HELD_BYTES` are held,
/// and the allocation stays within it even for segment sizes that do not divide it.
#[test]
fn tls_segments_beyond_a_gap_hold_at_most_the_hold_bound() {
    let mut stream = tls::TlsStream::new();
    stream.set_initial_sequence(1);
    // The stream starts with a record header, so it is TLS; then a 1-byte gap.
    let record = tls_record(23, &[0u8; 1455]);
    stream.on_segment(1, &record[..5]);
    let mut sequence = 1 + 5 + 1;
    for i in 0..2000 {
        stream.on_segment(sequence, &record[..1460]);
        sequence = sequence.wrapping_add(1460);
        assert!(
            stream.buffered_bytes() <= tls::MAX_HELD_BYTES,
            "segment {i}: {}",
            stream.buffered_bytes()
        );
    }
}

/// A TCP flow fed through the classifier: once a certificate subject is known, later handshake
/// records do not copy the certificate's names again, and the flow's readers hold no more than
/// the per-direction bounds.
#[test]
fn a_tls_flow_through_the_classifier_stays_within_its_buffers() {
    let catalog = AppCatalog::embedded().unwrap();
    let mut classifier = Classifier::new(&catalog);
    let client = endpoint([192, 168, 1, 20], 50_000);
    let server = endpoint([203, 0, 113, 9], 443);
    let mut flow = classifier.new_flow(&client, &server, Transport::Tcp);
    let mut first = vec![HANDSHAKE_CERTIFICATE];
    first.extend_from_slice(&u24(0xff_ffff));
    first.extend_from_slice(&u24(0xff_fffc));
    first.extend_from_slice(&u24(tls::MAX_CERTIFICATE_LEN));
    first.resize(16_000, 0x30);
    let mut sequence = 1u32;
    for i in 0..200u64 {
        let record = tls_record(22, if i == 0 { &first } else { &[0x30; 16_000] });
        let role = classifier.classify(
            &mut flow,
            Direction::ToClient,
            &segment(server, client, sequence, false, &record),
            at(i + 1),
        );
        assert_eq!(role, Role::KeyExchange);
        sequence = sequence.wrapping_add(record.len() as u32);
        let buffered: usize = flow.tls.as_ref().map_or(0, |streams| {
            streams.iter().map(|s| s.buffered_bytes()).sum()
        });
        assert!(buffered <= 6 + tls::MAX_CERTIFICATE_LEN, "segment {i}");
    }
    classifier.finish(&mut flow, &server);
    assert!(flow.tls.is_none(), "finishing frees the readers");
}

/// Many flows each collecting a large leaf: the capture's reassembly budget caps the sum, the
/// handshakes past it are given up and counted, and their records still count.
#[test]
fn the_reassembly_budget_caps_the_sum_over_flows() {
    const LIMIT: usize = 1 << 20;
    let catalog = AppCatalog::embedded().unwrap();
    let mut classifier = Classifier::new(&catalog);
    classifier.set_reassembly_limit(LIMIT);
    let mut first = vec![HANDSHAKE_CERTIFICATE];
    first.extend_from_slice(&u24(0xff_ffff));
    first.extend_from_slice(&u24(0xff_fffc));
    first.extend_from_slice(&u24(tls::MAX_CERTIFICATE_LEN));
    first.resize(1000, 0x30);
    let record = tls_record(22, &first);
    let client = endpoint([192, 168, 1, 20], 0);
    let mut flows = Vec::new();
    for i in 0..100u16 {
        let client = Endpoint {
            port: 40_000 + i,
            ..client
        };
        let server = endpoint([203, 0, 113, 9], 443);
        let mut flow = classifier.new_flow(&client, &server, Transport::Tcp);
        let role = classifier.classify(
            &mut flow,
            Direction::ToClient,
            &segment(server, client, 1, false, &record),
            at(u64::from(i) + 1),
        );
        assert_eq!(role, Role::KeyExchange, "flow {i}");
        assert!(classifier.reassembly_bytes() <= LIMIT, "flow {i}");
        flows.push((flow, server));
    }
    let per_flow = 6 + tls::MAX_CERTIFICATE_LEN;
    assert_eq!(classifier.reassembly_bytes(), LIMIT / per_flow * per_flow);
    assert_eq!(
        classifier.reassembly_given_up(),
        100 - (LIMIT / per_flow) as u64
    );
    for (flow, server) in &mut flows {
        classifier.finish(flow, server);
    }
    assert_eq!(
        classifier.reassembly_bytes(),
        0,
        "finishing returns every byte"
    );
}

// ---------------------------------------------------------------- DTLS

fn dtls_fragment(message_seq: u16, length: usize, offset: usize, body: &[u8]) -> Vec<u8> {
    let mut handshake = vec![dtls::CERTIFICATE];
    handshake.extend_from_slice(&u24(length));
    handshake.extend_from_slice(&message_seq.to_be_bytes());
    handshake.extend_from_slice(&u24(offset));
    handshake.extend_from_slice(&u24(body.len()));
    handshake.extend_from_slice(body);
    let mut record = vec![dtls::HANDSHAKE, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// A Certificate announcing 16 MiB, sent in a thousand 1,200-byte fragments: the buffer never
/// holds (or allocates) more than the list header and the largest leaf, and the reader stops
/// after `MAX_HANDSHAKE_DATAGRAMS` datagrams.
#[test]
fn a_dtls_certificate_with_a_huge_length_and_many_fragments_stays_bounded() {
    let mut reader = dtls::DtlsHandshake::new();
    let length = 0xff_ffff;
    let mut body = Vec::new();
    body.extend_from_slice(&u24(length - 3));
    body.extend_from_slice(&u24(tls::MAX_CERTIFICATE_LEN));
    body.resize(1200, 0x30);
    let bound = 6 + tls::MAX_CERTIFICATE_LEN;
    let mut peak = 0;
    for i in 0..1000 {
        let fragment = if i == 0 { &body[..] } else { &[0x30; 1200][..] };
        reader.on_datagram(&dtls_fragment(1, length, i * 1200, fragment));
        peak = peak.max(reader.buffered_bytes());
        assert!(reader.buffered_bytes() <= bound, "datagram {i}");
    }
    assert!(peak >= 60_000, "the leaf was being collected: {peak}");
    assert!(reader.is_done(), "stops after MAX_HANDSHAKE_DATAGRAMS");
    assert_eq!(reader.buffered_bytes(), 0, "done frees the buffers");
}

/// Fragments scattered far apart: more separate runs than `MAX_FRAGMENT_RANGES` abandon the
/// message, and a fragment at the far end of a huge message costs no more than the bound.
#[test]
fn scattered_dtls_fragments_are_abandoned_within_the_bound() {
    let mut reader = dtls::DtlsHandshake::new();
    let length = 0xff_ffff;
    // A leaf length is not known until offset 0 arrives: fragments far apart, last first.
    for i in (1..=dtls::MAX_FRAGMENT_RANGES + 4).rev() {
        reader.on_datagram(&dtls_fragment(1, length, i * 3000, &[0x30; 100]));
        assert!(reader.buffered_bytes() <= 6 + tls::MAX_CERTIFICATE_LEN);
    }
    assert_eq!(reader.buffered_bytes(), 0, "too fragmented: abandoned");
    // Far beyond anything kept: nothing is stored.
    let mut reader = dtls::DtlsHandshake::new();
    reader.on_datagram(&dtls_fragment(1, length, length - 100, &[0x30; 100]));
    assert_eq!(reader.buffered_bytes(), 0);
}

// ---------------------------------------------------------------- DNS

/// A DNS response for `name` with `count` A records, the addresses from `first` on.
fn dns_response(name: &str, first: u32, count: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1];
    m.extend_from_slice(&count.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    for i in 0..u32::from(count) {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&(first + i).to_be_bytes());
    }
    m
}

#[test]
fn a_dns_response_with_thousands_of_answers_reports_at_most_max_answers() {
    let message = dns_response("zoom.us", 0x0a00_0000, 4000);
    let mut reported = 0;
    let summary = dns::parse_response(&message, |_, name| {
        assert_eq!(name, "zoom.us");
        reported += 1;
    })
    .unwrap();
    assert_eq!(reported, dns::MAX_ANSWERS);
    assert_eq!(usize::from(summary.addresses_reported), dns::MAX_ANSWERS);
}

/// More distinct answered addresses than the map keeps: it stops at its bound, the rest is
/// counted, and names already known still label flows.
#[test]
fn dns_answers_fill_the_name_map_only_to_its_bound() {
    let catalog = AppCatalog::embedded().unwrap();
    let mut classifier = Classifier::new(&catalog);
    let client = endpoint([192, 168, 1, 20], 53_000);
    let resolver = endpoint([192, 168, 1, 1], 53);
    let mut flow = classifier.new_flow(&client, &resolver, Transport::Udp);
    let per_response = dns::MAX_ANSWERS as u16;
    let total = MAX_RESOLVED_ADDRESSES + 5000;
    let mut next = 0x0b00_0000u32;
    let mut number = 0;
    while (next - 0x0b00_0000) as usize + usize::from(per_response) <= total {
        let response = dns_response("zoom.us", next, per_response);
        number += 1;
        classifier.classify(
            &mut flow,
            Direction::ToClient,
            &datagram(resolver, client, &response),
            at(number),
        );
        next += u32::from(per_response);
        assert!(classifier.dns_addresses() <= MAX_RESOLVED_ADDRESSES);
    }
    let answered = (next - 0x0b00_0000) as usize;
    assert_eq!(classifier.dns_addresses(), MAX_RESOLVED_ADDRESSES);
    assert_eq!(
        classifier.dns_addresses_dropped() as usize,
        answered - MAX_RESOLVED_ADDRESSES
    );
    assert!(classifier.resolved.capacity() < 2 * MAX_RESOLVED_ADDRESSES);

    // A remembered address still names its flow; one beyond the bound does not.
    let known = endpoint([11, 0, 0, 7], 443);
    let named = classifier.new_flow(&client, &known, Transport::Tcp);
    assert_eq!(
        named.hostname,
        Some(("zoom.us".to_string(), HostnameSource::Dns))
    );
    let beyond = endpoint(Ipv4Addr::from(next - 1).octets(), 443);
    assert!(classifier
        .new_flow(&client, &beyond, Transport::Tcp)
        .hostname
        .is_none());
    // An answer for an address already known is not a drop.
    let dropped = classifier.dns_addresses_dropped();
    let again = dns_response("zoom.us", 0x0b00_0000, 1);
    classifier.classify(
        &mut flow,
        Direction::ToClient,
        &datagram(resolver, client, &again),
        at(number + 1),
    );
    assert_eq!(classifier.dns_addresses_dropped(), dropped);
}

// ---------------------------------------------------------------- RTP

/// Ten thousand RTP-looking packets, each with a new SSRC: the per-direction trackers have
/// fixed slots, so nothing grows; every unconfirmed candidate ends up counted as `other`.
#[test]
fn many_distinct_ssrcs_use_fixed_slots() {
    let catalog = AppCatalog::embedded().unwrap();
    let mut classifier = Classifier::new(&catalog);
    let client = endpoint([192, 168, 1, 20], 50_000);
    let server = endpoint([203, 0, 113, 9], 50_002);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    let mut packet = vec![0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    packet.resize(172, 0x5a);
    for ssrc in 0..10_000u32 {
        packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &packet),
            at(u64::from(ssrc) + 1),
        );
        let pending = flow.pending_rtp.as_ref().map_or(0, |p| p[0].streams());
        assert!(pending <= 3, "{pending} pending streams");
    }
    classifier.finish(&mut flow, &server);
    assert_eq!(flow.roles.count(Role::Media), 0);
    assert_eq!(
        flow.roles.count(Role::Other),
        10_000,
        "no packet lost count"
    );
    assert!(flow.pending_rtp.is_none());
}

// ---------------------------------------------------------------- SIP/SDP and STUN

fn sip_invite(sdp: &str) -> Vec<u8> {
    format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.20:5060\r\n\
         Call-ID: bounds@example.com\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// An SDP with three hundred media sections, each with its own address and an `a=crypto` line:
/// at most `MAX_MEDIA` sections are kept, at most `MAX_ANNOUNCED_PER_FLOW` addresses announced.
#[test]
fn an_sdp_with_hundreds_of_media_sections_announces_a_bounded_few() {
    let mut sdp = String::from("v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nt=0 0\r\n");
    for i in 0..300u32 {
        let [_, _, b, c] = i.to_be_bytes();
        sdp.push_str(&format!(
            "m=audio {} RTP/SAVP 0\r\nc=IN IP4 198.51.{b}.{c}\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
            10_000 + 2 * i
        ));
    }
    let summary = sip::parse_sdp(sdp.as_bytes());
    assert_eq!(summary.media.len(), sip::MAX_MEDIA);
    assert!(summary.truncated);
    assert!(summary.has_key_exchange());

    let catalog = AppCatalog::embedded().unwrap();
    let mut classifier = Classifier::new(&catalog);
    let client = endpoint([192, 168, 1, 20], 5060);
    let server = endpoint([203, 0, 113, 9], 5060);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    let invite = sip_invite(&sdp);
    for n in 1..=10 {
        let role = classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &invite),
            at(n),
        );
        assert_eq!(role, Role::KeyExchange);
    }
    assert_eq!(flow.announced.len(), MAX_ANNOUNCED_PER_FLOW);
    assert!(flow.announced.capacity() <= 2 * MAX_ANNOUNCED_PER_FLOW);
}

/// A TURN message with hundreds of XOR-PEER-ADDRESS attributes announces a bounded few.
#[test]
fn a_stun_message_with_hundreds_of_peer_addresses_announces_a_bounded_few() {
    let mut attributes = Vec::new();
    for i in 0..500u16 {
        // XOR-PEER-ADDRESS, IPv4: family 1, port and address XORed with the magic cookie.
        attributes.extend_from_slice(&stun::ATTR_XOR_PEER_ADDRESS.to_be_bytes());
        attributes.extend_from_slice(&8u16.to_be_bytes());
        attributes.extend_from_slice(&[0, 1]);
        attributes.extend_from_slice(&(i ^ 0x2112).to_be_bytes());
        attributes.extend_from_slice(&(0xc633_6401u32 ^ stun::MAGIC_COOKIE).to_be_bytes());
    }
    // A Send indication (method 0x006, class indication).
    let mut message = vec![0x00, 0x16];
    message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    message.extend_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
    message.extend_from_slice(&[7; 12]);
    message.extend_from_slice(&attributes);

    let catalog = AppCatalog::embedded().unwrap();
    let mut classifier = Classifier::new(&catalog);
    let client = endpoint([192, 168, 1, 20], 50_000);
    let server = endpoint([203, 0, 113, 9], 3478);
    let mut flow = classifier.new_flow(&client, &server, Transport::Udp);
    for n in 1..=20 {
        classifier.classify(
            &mut flow,
            Direction::ToServer,
            &datagram(client, server, &message),
            at(n),
        );
    }
    assert!(flow.protocols.contains(Protocol::Stun));
    assert_eq!(flow.announced.len(), MAX_ANNOUNCED_PER_FLOW);
}

// ---------------------------------------------------------------- the growth helper

#[test]
fn reserve_within_never_allocates_past_the_bound() {
    let mut buffer = Vec::new();
    let mut len = 0;
    while len < 65_542 {
        len = (len + 1460).min(65_542);
        reserve_within(&mut buffer, len, 65_542);
        buffer.resize(len, 0);
        assert!(buffer.capacity() <= 65_542, "{}", buffer.capacity());
    }
    // Geometric growth: a few reallocations, not one per fragment.
    let mut grown = 0;
    let mut buffer: Vec<u8> = Vec::new();
    for len in (1460..=65_542).step_by(1460) {
        let before = buffer.capacity();
        reserve_within(&mut buffer, len, 65_542);
        buffer.resize(len, 0);
        grown += usize::from(buffer.capacity() != before);
    }
    assert!(grown <= 8, "{grown} reallocations");
}
