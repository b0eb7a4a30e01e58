//! The elements of the JSON report's big arrays, flows and findings, written field by field:
//! the bytes [`pretty_json`] writes for a [`FlowReport`] or [`FindingReport`] at level 2 (an
//! element of a top-level array), in a fraction of the instructions.
//!
//! Flows are nearly all of a big report (tens of thousands, 1.5 KB each), findings most of the
//! rest, and serde spends most of an element's time on its way to the bytes: a call per field,
//! indentation worked out per line, a number formatted through the generic path. Here every
//! key, with its line break and indent, is one literal copied whole, and the common values are
//! written directly. Rare or nested values (enums, a live capture's process, databases that
//! disagree) still go through [`pretty_json`], at the level they sit. The tests compare the two
//! on every fixture's flows and findings and on elements with every field set, so a field added
//! to either struct but not here fails.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::pretty_json::{self, push_float, push_string};
use super::{FindingReport, FlowReport};
use crate::capture::Timestamp;
use crate::classify::{Confidence, HostnameSource, PacketRef, Role, ServerRole};
use crate::geo::SpecialRange;

/// A line break and the indent of a level of the report: a flow is at level 2 (an element of
/// the top-level `flows`), its fields at 3, their fields at 4, and so on.
macro_rules! line {
    (2) => {
        "\n    "
    };
    (3) => {
        "\n      "
    };
    (4) => {
        "\n        "
    };
    (5) => {
        "\n          "
    };
}

/// The key of a field at a level, with the comma before it unless it comes `first`.
macro_rules! key {
    (first, $level:tt, $name:literal) => {
        concat!(line!($level), "\"", $name, "\": ").as_bytes()
    };
    ($level:tt, $name:literal) => {
        concat!(",", line!($level), "\"", $name, "\": ").as_bytes()
    };
}

/// The closing brace of an object whose key is at `$level` (its fields are one level deeper).
macro_rules! close {
    ($level:tt) => {
        concat!(line!($level), "}").as_bytes()
    };
}

/// Appends `flow` as an element of the report's `flows` array, exactly as
/// `pretty_json::append(out, flow, 2)` would.
pub fn append_flow(out: &mut Vec<u8>, flow: &FlowReport) -> io::Result<()> {
    out.push(b'{');
    out.extend_from_slice(key!(first, 3, "capture"));
    integer(out, flow.capture);
    out.extend_from_slice(key!(3, "transport"));
    name(out, Some(flow.transport.as_str()));

    out.extend_from_slice(key!(3, "client"));
    out.push(b'{');
    out.extend_from_slice(key!(first, 4, "ip"));
    ip(out, flow.client.ip)?;
    out.extend_from_slice(key!(4, "port"));
    integer(out, flow.client.port);
    out.extend_from_slice(close!(3));

    let server = &flow.server;
    out.extend_from_slice(key!(3, "server"));
    out.push(b'{');
    out.extend_from_slice(key!(first, 4, "ip"));
    ip(out, server.ip)?;
    out.extend_from_slice(key!(4, "port"));
    integer(out, server.port);
    out.extend_from_slice(key!(4, "country"));
    text(out, server.country.as_deref());
    out.extend_from_slice(key!(4, "asn"));
    optional_integer(out, server.asn);
    out.extend_from_slice(key!(4, "as_org"));
    text(out, server.as_org.as_deref());
    out.extend_from_slice(key!(4, "special"));
    name(out, server.special.map(SpecialRange::as_str));
    out.extend_from_slice(key!(4, "role"));
    name(out, server.role.map(ServerRole::as_str));
    out.extend_from_slice(key!(4, "operator_country"));
    text(out, server.operator_country.as_deref());
    out.extend_from_slice(key!(4, "network"));
    text(out, server.network.as_deref());
    out.extend_from_slice(key!(4, "anycast"));
    text(out, server.anycast.as_deref());
    out.extend_from_slice(key!(4, "disagreement"));
    array(out, &server.disagreement, 4)?;
    out.extend_from_slice(key!(4, "rtt_ms"));
    match server.rtt_ms {
        Some(ms) => push_float(out, ms, ms.is_finite()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(key!(4, "location_plausible"));
    out.extend_from_slice(match server.location_plausible {
        Some(true) => b"true",
        Some(false) => b"false",
        None => b"null",
    });
    out.extend_from_slice(close!(3));

    out.extend_from_slice(key!(3, "orientation"));
    name(out, Some(flow.orientation.as_str()));
    out.extend_from_slice(key!(3, "process"));
    match &flow.process {
        Some(process) => general(out, process, 3)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(key!(3, "hostname"));
    text(out, flow.hostname.as_deref());
    out.extend_from_slice(key!(3, "hostname_source"));
    name(out, flow.hostname_source.map(HostnameSource::as_str));
    out.extend_from_slice(key!(3, "app"));
    text(out, flow.app.as_deref());
    out.extend_from_slice(key!(3, "app_evidence"));
    text(out, flow.app_evidence.as_deref());
    out.extend_from_slice(key!(3, "app_evidence_packet"));
    optional_integer(out, flow.app_evidence_packet);
    out.extend_from_slice(key!(3, "confidence"));
    name(out, flow.confidence.map(Confidence::as_str));
    out.extend_from_slice(key!(3, "protocols"));
    texts(out, flow.protocols.iter().copied());
    out.extend_from_slice(key!(3, "media_kinds"));
    array(out, &flow.media_kinds, 3)?;
    out.extend_from_slice(key!(3, "alpn"));
    texts(out, flow.alpn.iter().map(String::as_str));
    out.extend_from_slice(key!(3, "certificate"));
    text(out, flow.certificate.as_deref());
    out.extend_from_slice(key!(3, "srtp_profile"));
    text(out, flow.srtp_profile);
    out.extend_from_slice(key!(3, "tls_version"));
    text(out, flow.tls_version);
    out.extend_from_slice(key!(3, "announced_by"));
    optional_integer(out, flow.announced_by);

    let packets = &flow.packets;
    out.extend_from_slice(key!(3, "packets"));
    out.push(b'{');
    out.extend_from_slice(key!(first, 4, "total"));
    integer(out, packets.total);
    out.extend_from_slice(key!(4, "key_exchange"));
    integer(out, packets.key_exchange);
    out.extend_from_slice(key!(4, "media"));
    integer(out, packets.media);
    out.extend_from_slice(key!(4, "signaling"));
    integer(out, packets.signaling);
    out.extend_from_slice(key!(4, "other"));
    integer(out, packets.other);
    out.extend_from_slice(key!(4, "to_server"));
    integer(out, packets.to_server);
    out.extend_from_slice(key!(4, "to_client"));
    integer(out, packets.to_client);
    out.extend_from_slice(close!(3));

    out.extend_from_slice(key!(3, "bytes"));
    out.push(b'{');
    out.extend_from_slice(key!(first, 4, "to_server"));
    integer(out, flow.bytes.to_server);
    out.extend_from_slice(key!(4, "to_client"));
    integer(out, flow.bytes.to_client);
    out.extend_from_slice(close!(3));

    out.extend_from_slice(key!(3, "first_packet"));
    integer(out, flow.first_packet);
    out.extend_from_slice(key!(3, "first_seen"));
    time(out, flow.first_seen, 3)?;
    out.extend_from_slice(key!(3, "last_seen"));
    time(out, flow.last_seen, 3)?;

    let first = &flow.first;
    out.extend_from_slice(key!(3, "first"));
    out.push(b'{');
    out.extend_from_slice(key!(first, 4, "key_exchange"));
    packet(out, first.key_exchange)?;
    out.extend_from_slice(key!(4, "media"));
    packet(out, first.media)?;
    out.extend_from_slice(key!(4, "signaling"));
    packet(out, first.signaling)?;
    out.extend_from_slice(close!(3));

    out.extend_from_slice(close!(2));
    Ok(())
}

/// Appends `finding` as an element of the report's `findings` (or `allowed`, `baselined`)
/// array, exactly as `pretty_json::append(out, finding, 2)` would.
pub fn append_finding(out: &mut Vec<u8>, finding: &FindingReport) -> io::Result<()> {
    out.push(b'{');
    out.extend_from_slice(key!(first, 3, "rule"));
    push_string(out, finding.rule);
    out.extend_from_slice(key!(3, "title"));
    push_string(out, finding.title);
    out.extend_from_slice(key!(3, "severity"));
    name(out, Some(finding.severity.as_str()));
    out.extend_from_slice(key!(3, "class"));
    name(out, finding.class.map(Role::as_str));
    out.extend_from_slice(key!(3, "flow"));
    integer(out, finding.flow);
    out.extend_from_slice(key!(3, "capture"));
    integer(out, finding.capture);
    out.extend_from_slice(key!(3, "packet"));
    integer(out, finding.packet);
    out.extend_from_slice(key!(3, "time"));
    time(out, finding.time, 3)?;
    out.extend_from_slice(key!(3, "server"));
    out.push(b'{');
    out.extend_from_slice(key!(first, 4, "ip"));
    ip(out, finding.server.ip)?;
    out.extend_from_slice(key!(4, "port"));
    integer(out, finding.server.port);
    out.extend_from_slice(close!(3));
    out.extend_from_slice(key!(3, "country"));
    text(out, finding.country.as_deref());
    out.extend_from_slice(key!(3, "location"));
    text(out, finding.location.as_deref());
    out.extend_from_slice(key!(3, "operator_country"));
    text(out, finding.operator_country.as_deref());
    out.extend_from_slice(key!(3, "app"));
    text(out, finding.app.as_deref());
    out.extend_from_slice(key!(3, "hostname"));
    text(out, finding.hostname.as_deref());
    out.extend_from_slice(key!(3, "packets"));
    optional_integer(out, finding.packets);
    out.extend_from_slice(key!(3, "notes"));
    texts(out, finding.notes.iter().map(String::as_str));
    out.extend_from_slice(key!(3, "allowed"));
    text(out, finding.allowed.as_deref());
    out.extend_from_slice(close!(2));
    Ok(())
}

/// A value the serde path writes, for those rare or nested enough not to matter: at `level`,
/// the level of its key.
fn general<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T, level: usize) -> io::Result<()> {
    pretty_json::append(out, value, level)
}

/// An array the serde path writes unless it is empty, as most are.
fn array<T: Serialize>(out: &mut Vec<u8>, values: &[T], level: usize) -> io::Result<()> {
    if values.is_empty() {
        out.extend_from_slice(b"[]");
        Ok(())
    } else {
        general(out, values, level)
    }
}

/// An enum's name (`as_str`, which its serde name equals: the tests check every variant), or
/// null.
fn name(out: &mut Vec<u8>, value: Option<&'static str>) {
    match value {
        Some(name) => {
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn integer(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn optional_integer(out: &mut Vec<u8>, value: Option<impl itoa::Integer>) {
    match value {
        Some(value) => integer(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn text(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_string(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

/// An array of strings, elements at level 4 (the arrays here are fields of the flow).
fn texts<'a>(out: &mut Vec<u8>, values: impl Iterator<Item = &'a str>) {
    let mut first = true;
    for value in values {
        out.extend_from_slice(if first { b"[" } else { b"," });
        out.extend_from_slice(line!(4).as_bytes());
        push_string(out, value);
        first = false;
    }
    out.extend_from_slice(if first {
        b"[]"
    } else {
        concat!(line!(3), "]").as_bytes()
    });
}

/// An address as its `Display` writes it: IPv4 octet by octet, IPv6 (rarer, with its zero
/// compression rules) through `Display` itself.
fn ip(out: &mut Vec<u8>, ip: IpAddr) -> io::Result<()> {
    out.push(b'"');
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, c, d] = ip.octets();
            integer(out, a);
            for octet in [b, c, d] {
                out.push(b'.');
                integer(out, octet);
            }
        }
        IpAddr::V6(ip) => write!(out, "{ip}")?,
    }
    out.push(b'"');
    Ok(())
}

/// A timestamp at `level` (of its key): RFC 3339 text, or whatever the serde path writes for
/// years it cannot give as such.
fn time(out: &mut Vec<u8>, time: Timestamp, level: usize) -> io::Result<()> {
    match time.rfc3339() {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
            Ok(())
        }
        None => general(out, &time, level),
    }
}

/// A field of the flow's `first` object: `{number, time}` with its fields at level 5.
fn packet(out: &mut Vec<u8>, packet: Option<PacketRef>) -> io::Result<()> {
    let Some(packet) = packet else {
        out.extend_from_slice(b"null");
        return Ok(());
    };
    out.push(b'{');
    out.extend_from_slice(key!(first, 5, "number"));
    integer(out, packet.number);
    out.extend_from_slice(key!(5, "time"));
    time(out, packet.time, 5)?;
    out.extend_from_slice(close!(4));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::capture::Process;
    use crate::classify::MediaKind;
    use crate::geo::SourceCountry;

    fn by_serde<T: Serialize>(element: &T) -> String {
        let mut out = Vec::new();
        pretty_json::append(&mut out, element, 2).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn by_hand(flow: &FlowReport) -> String {
        let mut out = Vec::new();
        append_flow(&mut out, flow).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn finding_by_hand(finding: &FindingReport) -> String {
        let mut out = Vec::new();
        append_finding(&mut out, finding).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Every fixture capture audited with the embedded data.
    fn fixtures_report() -> super::super::Report {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|e| e == "pcap" || e == "pcapng")
            })
            .collect();
        paths.sort();
        super::super::testing::audit(&paths)
    }

    fn fixture_flows() -> Vec<FlowReport> {
        fixtures_report().flows.into_iter().collect()
    }

    #[test]
    fn every_fixture_flow_is_written_as_serde_writes_it() {
        let flows = fixture_flows();
        assert!(flows.len() > 20, "only {} flows", flows.len());
        for (index, flow) in flows.iter().enumerate() {
            assert_eq!(by_hand(flow), by_serde(flow), "flow {index}");
        }
    }

    /// A fixture flow with every optional field set, strings that need escaping, an IPv6
    /// server, a live process and disagreeing databases.
    fn everything_set() -> FlowReport {
        let mut flow = fixture_flows().swap_remove(0);
        flow.client.ip = IpAddr::V4(Ipv4Addr::new(0, 10, 200, 255));
        flow.server.ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        flow.server.country = Some("C\"N".into());
        flow.server.asn = Some(u32::MAX);
        flow.server.as_org = Some("Tab\there\\ and \u{1} and ünïcode".into());
        flow.server.special = Some(SpecialRange::Private);
        flow.server.role = Some(ServerRole::Relay);
        flow.server.operator_country = Some("US".into());
        flow.server.network = Some("office\n".into());
        flow.server.anycast = Some("Cloudflare".into());
        flow.server.disagreement = vec![
            SourceCountry {
                source: "embedded".into(),
                country: Some("US".into()),
            },
            SourceCountry {
                source: "city.mmdb".into(),
                country: None,
            },
        ];
        flow.server.rtt_ms = Some(12.345);
        flow.server.location_plausible = Some(false);
        flow.process = Some(Process {
            pid: 4242,
            name: "zoom".into(),
        });
        flow.hostname = Some("zoom.us".into());
        flow.hostname_source = Some(HostnameSource::Sni);
        flow.app = Some("zoom".into());
        flow.app_evidence = Some("tls sni zoom.us".into());
        flow.app_evidence_packet = Some(7);
        flow.confidence = Some(Confidence::High);
        flow.protocols = vec!["tls", "rtp"];
        flow.media_kinds = vec![MediaKind::Audio, MediaKind::Video];
        flow.alpn = vec!["h2".into(), "http/1.1".into()];
        flow.certificate = Some("CN=*.zoom.us".into());
        flow.srtp_profile = Some("SRTP_AEAD_AES_128_GCM");
        flow.tls_version = Some("TLS 1.3");
        flow.announced_by = Some(usize::MAX);
        flow.first.key_exchange = Some(PacketRef {
            number: 1,
            time: Timestamp {
                secs: 1_700_000_000,
                micros: 123_456,
            },
        });
        flow.first.media = Some(PacketRef {
            number: u64::MAX,
            time: Timestamp::default(),
        });
        flow
    }

    #[test]
    fn every_fixture_finding_is_written_as_serde_writes_it() {
        let findings = fixtures_report().findings;
        assert!(findings.len() > 5, "only {} findings", findings.len());
        for (index, finding) in findings.iter().enumerate() {
            assert_eq!(
                finding_by_hand(finding),
                by_serde(finding),
                "finding {index}"
            );
        }
    }

    #[test]
    fn a_finding_with_every_field_set_is_written_as_serde_writes_it() {
        let mut finding = fixtures_report().findings.swap_remove(0);
        finding.class = None;
        finding.time = Timestamp {
            secs: -62_000_000_000_000,
            micros: 1,
        };
        finding.server.ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        finding.country = Some("R\u{7f}U".into());
        finding.location = Some("RU".into());
        finding.operator_country = Some("\"quoted\"".into());
        finding.app = Some("zoom".into());
        finding.hostname = Some("a\\b".into());
        finding.packets = Some(u64::MAX);
        finding.notes = vec!["one".into(), "two\nlines".into()];
        finding.allowed = Some("vendor relay".into());
        assert_eq!(finding_by_hand(&finding), by_serde(&finding));
        finding.notes.clear();
        finding.packets = None;
        assert_eq!(finding_by_hand(&finding), by_serde(&finding));
    }

    /// The enums written by name: every variant's `as_str` is its serde name.
    #[test]
    fn enum_names_are_serde_names() {
        fn check<T: Serialize>(values: &[T], as_str: fn(&T) -> &'static str) {
            for value in values {
                let serde = serde_json::to_string(value).unwrap();
                assert_eq!(serde, format!("\"{}\"", as_str(value)));
            }
        }
        use crate::decode::Transport;
        use crate::flow::Orientation;
        use crate::policy::Severity;
        check(&[Transport::Udp, Transport::Tcp], |v| v.as_str());
        check(
            &[
                Orientation::TcpSyn,
                Orientation::ServicePort,
                Orientation::AddressScope,
                Orientation::FirstSender,
            ],
            |v| v.as_str(),
        );
        check(&[HostnameSource::Sni, HostnameSource::Dns], |v| v.as_str());
        check(
            &[Confidence::Low, Confidence::Medium, Confidence::High],
            |v| v.as_str(),
        );
        check(
            &[
                ServerRole::Zc,
                ServerRole::Mmr,
                ServerRole::Rwg,
                ServerRole::Relay,
                ServerRole::Media,
                ServerRole::Peer,
                ServerRole::Control,
            ],
            |v| v.as_str(),
        );
        check(&Role::ALL, |v| v.as_str());
        check(
            &[
                Severity::Info,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical,
            ],
            |v| v.as_str(),
        );
        use SpecialRange::*;
        check(
            &[
                Private,
                Loopback,
                LinkLocal,
                Cgnat,
                Documentation,
                Multicast,
                Unspecified,
                Broadcast,
                Reserved,
                UniqueLocal,
                Benchmarking,
                ThisNetwork,
                ProtocolAssignment,
            ],
            |v| v.as_str(),
        );
    }

    #[test]
    fn a_flow_with_every_field_set_is_written_as_serde_writes_it() {
        let flow = everything_set();
        assert_eq!(by_hand(&flow), by_serde(&flow));
    }

    #[test]
    fn values_the_fast_path_passes_on_are_written_as_serde_writes_them() {
        let mut flow = everything_set();
        // Not finite: null, as serde_json writes it.
        flow.server.rtt_ms = Some(f64::NAN);
        // A year past 9999 leaves the RFC 3339 path.
        flow.last_seen = Timestamp {
            secs: 400_000_000_000,
            micros: 7,
        };
        flow.server.ip = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        flow.client.ip = IpAddr::V6("::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(by_hand(&flow), by_serde(&flow));
    }
}
