//! The pipeline glue: runs capture → decode → flow → classify → geo → policy for each capture
//! and collects the results into one [`Report`].
//!
//! This is the only module that knows every stage; the stages themselves only look left.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::capture::{CaptureError, FileSource, Read};
use crate::classify::app::AppCatalog;
use crate::classify::{Classifier, FlowClass, PacketRef, Protocol, Role};
use crate::decode::{self, DecodeStats, Decoded};
use crate::flow::{Direction, Flow, FlowTable};
use crate::geo::{GeoDb, ServerGeo};
use crate::policy::{Finding, FlowFacts, Policy};
use crate::report::{
    ByteCounts, CaptureSummary, ClientReport, FindingReport, FirstPackets, FlowReport,
    MalformedCount, PacketCounts, Report, ServerReport, Summary, Tool, SCHEMA_VERSION,
};

/// Audits captures one after another into one report.
pub struct Auditor<'a> {
    geo: &'a GeoDb,
    policy: &'a Policy,
    catalog: &'a AppCatalog,
    filter: Option<&'a str>,
    /// Where each server address is: looked up once per address per run.
    places: HashMap<IpAddr, Place>,
    report: Report,
    decode_stats: DecodeStats,
}

impl<'a> Auditor<'a> {
    pub fn new(
        geo: &'a GeoDb,
        policy: &'a Policy,
        catalog: &'a AppCatalog,
        filter: Option<&'a str>,
    ) -> Auditor<'a> {
        Auditor {
            geo,
            policy,
            catalog,
            filter,
            places: HashMap::new(),
            report: Report {
                schema_version: SCHEMA_VERSION,
                tool: Tool::default(),
                captures: Vec::new(),
                databases: geo.databases(),
                policy: policy.clone(),
                summary: Summary::default(),
                findings: Vec::new(),
                allowed: Vec::new(),
                flows: Vec::new(),
                warnings: Vec::new(),
            },
            decode_stats: DecodeStats::default(),
        }
    }

    /// Reads one capture to its end (or to the damage that ends it) and adds its flows and
    /// findings to the report. A capture that cannot be opened is an error; one damaged part
    /// way through gives what could be read plus a warning.
    pub fn audit_file(&mut self, path: &Path) -> Result<(), CaptureError> {
        let mut source = FileSource::open(path, self.filter)?;
        let link_type = source.link_type();
        let mut table: FlowTable<FlowClass> = FlowTable::default();
        let mut classifier = Classifier::new(self.catalog);
        let mut packets = 0u64;
        let mut warning = None;

        loop {
            let packet = match source.read() {
                Ok(Read::Packet(packet)) => packet,
                Ok(Read::FilteredOut) => continue,
                Ok(Read::End) => break,
                Err(problem) => {
                    warning = Some(format!(
                        "capture damaged after packet {}: {problem}; results cover the packets before it",
                        source.packets_read()
                    ));
                    break;
                }
            };
            packets += 1;
            let decoded = decode::decode(link_type, &packet);
            self.decode_stats.record(&decoded);
            let Decoded::Packet(decoded) = decoded else {
                continue;
            };
            self.report.summary.decoded += 1;
            let at = PacketRef {
                number: packet.number,
                time: packet.time,
            };
            let (flow, direction) =
                table.observe(&decoded, at.number, at.time, |client, server, transport| {
                    classifier.new_flow(client, server, transport)
                });
            classifier.classify(&mut flow.state, direction, &decoded, at);
        }

        let capture_index = self.report.captures.len();
        if let Some(warning) = &warning {
            self.report
                .warnings
                .push(format!("{}: {warning}", path.display()));
        }
        self.report.captures.push(CaptureSummary {
            path: path.display().to_string(),
            link_type: link_type.0,
            packets_read: source.packets_read(),
            packets,
            warning,
        });
        self.report.summary.packets += packets;

        let first_index = self.report.flows.len();
        let mut flows = table.into_flows();
        let mut places = Vec::with_capacity(flows.len());
        for flow in &mut flows {
            classifier.finish(&mut flow.state, &flow.server);
            let place = self.place(flow.server.ip);
            if let Some(asn) = place.geo.asn {
                classifier.attribute_by_asn(&mut flow.state, asn);
            }
            places.push(place);
        }
        classifier.propagate(&mut flows, first_index);

        for (flow, place) in flows.iter().zip(places) {
            let flow_index = self.report.flows.len();
            let rtt_ms = flow.state.rtt.min_rtt_ms();
            let plausible = self.policy.location_plausible(&place.geo, rtt_ms);
            let app = flow
                .state
                .app
                .as_ref()
                .and_then(|m| self.catalog.get(m.app))
                .map(|a| a.id.as_str());
            let facts = FlowFacts {
                flow: flow_index,
                transport: flow.transport,
                app,
                hostname: flow.state.hostname.as_ref().map(|(name, _)| name.as_str()),
                server: flow.server,
                first_packet: PacketRef {
                    number: flow.first_packet,
                    time: flow.first_seen,
                },
                first_of_class: [
                    flow.state.roles.first(Role::KeyExchange),
                    flow.state.roles.first(Role::Media),
                    flow.state.roles.first(Role::Signaling),
                ],
                geo: &place.geo,
                network_label: place.network.as_deref(),
                rtt_ms,
                plausible,
                tls_version: flow.state.handshake.version,
                srtp_profile: flow.state.handshake.srtp_profile,
                keys_in_clear: flow.state.keys_in_clear,
            };
            let mut findings = Vec::new();
            self.policy.evaluate(&facts, &mut findings);
            let flow_report =
                flow_report(capture_index, flow, place, rtt_ms, plausible, self.catalog);
            for finding in findings {
                let finding = finding_report(capture_index, finding, &flow_report);
                if finding.allowed.is_some() {
                    self.report.allowed.push(finding);
                } else {
                    self.report.findings.push(finding);
                }
            }
            self.report.flows.push(flow_report);
        }
        Ok(())
    }

    /// The server's location and operator, with the policy's `networks` applied over GeoIP:
    /// looked up once per address per run.
    fn place(&mut self, ip: IpAddr) -> Place {
        if let Some(place) = self.places.get(&ip) {
            return place.clone();
        }
        let mut geo = self.geo.lookup(ip);
        let network = self.policy.network(ip).map(|n| {
            geo.country = Some(n.country.clone());
            geo.special = None;
            n.label.clone()
        });
        let place = Place { geo, network };
        self.places.insert(ip, place.clone());
        place
    }

    /// The finished report: findings sorted, summary filled in.
    pub fn finish(mut self) -> Report {
        let report = &mut self.report;
        report.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.flow.cmp(&b.flow))
                .then(a.packet.cmp(&b.packet))
        });
        let summary = &mut report.summary;
        summary.captures = report.captures.len();
        summary.flows = report.flows.len();
        summary.malformed = self.decode_stats.malformed_total();
        summary.malformed_by_reason = MalformedCount::from_map(&self.decode_stats.malformed);
        summary.skipped = self.decode_stats.skipped.clone();
        summary.findings = report.findings.len();
        summary.allowed = report.allowed.len();
        for finding in &report.findings {
            *summary
                .findings_by_severity
                .entry(finding.severity)
                .or_default() += 1;
        }
        self.report
    }
}

/// Where a server is, after the policy's networks.
#[derive(Clone)]
struct Place {
    geo: ServerGeo,
    /// The label of the policy network holding the address.
    network: Option<String>,
}

fn flow_report(
    capture: usize,
    flow: &Flow<FlowClass>,
    place: Place,
    rtt_ms: Option<f64>,
    plausible: Option<bool>,
    catalog: &AppCatalog,
) -> FlowReport {
    let geo = place.geo;
    let class = &flow.state;
    let roles = &class.roles;
    let to_server = flow.counters[Direction::ToServer.index()];
    let to_client = flow.counters[Direction::ToClient.index()];
    let (hostname, hostname_source) = match &class.hostname {
        Some((name, source)) => (Some(name.clone()), Some(*source)),
        None => (None, None),
    };
    FlowReport {
        capture,
        transport: flow.transport,
        client: ClientReport {
            ip: flow.client.ip,
            port: flow.client.port,
        },
        server: ServerReport {
            ip: flow.server.ip,
            port: flow.server.port,
            country: geo.country,
            asn: geo.asn,
            as_org: geo.as_org,
            special: geo.special,
            role: class.server_role,
            operator_country: geo.operator_country,
            network: place.network,
            anycast: geo.anycast,
            disagreement: geo.disagreement,
            rtt_ms: rtt_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            location_plausible: plausible,
        },
        orientation: flow.orientation,
        hostname,
        hostname_source,
        app: class
            .app
            .as_ref()
            .and_then(|m| catalog.get(m.app))
            .map(|app| app.id.clone()),
        app_evidence: class.app.as_ref().map(|m| m.text(evidence_protocol(class))),
        app_evidence_packet: class.app.as_ref().and_then(|m| m.packet),
        confidence: class.app.as_ref().map(|m| m.kind.confidence()),
        media_kinds: class.media_kinds.iter().collect(),
        alpn: class.handshake.alpn.clone(),
        certificate: class.handshake.certificate.clone(),
        srtp_profile: class
            .handshake
            .srtp_profile
            .and_then(crate::classify::dtls::srtp_profile_name),
        announced_by: class.announced_by,
        tls_version: class.handshake.version.and_then(version_name),
        protocols: class.protocols.iter().map(|p| p.as_str()).collect(),
        packets: PacketCounts {
            total: flow.packets(),
            key_exchange: roles.count(Role::KeyExchange),
            media: roles.count(Role::Media),
            signaling: roles.count(Role::Signaling),
            other: roles.count(Role::Other),
            to_server: to_server.packets,
            to_client: to_client.packets,
        },
        bytes: ByteCounts {
            to_server: to_server.bytes,
            to_client: to_client.bytes,
        },
        first_packet: flow.first_packet,
        first_seen: flow.first_seen,
        last_seen: flow.last_seen,
        first: FirstPackets {
            key_exchange: roles.first(Role::KeyExchange),
            media: roles.first(Role::Media),
            signaling: roles.first(Role::Signaling),
        },
    }
}

/// The name of a TLS or DTLS wire version.
fn version_name(version: u16) -> Option<&'static str> {
    Some(match version {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0xFEFF => "DTLS 1.0",
        0xFEFD => "DTLS 1.2",
        0xFEFC => "DTLS 1.3",
        _ => return None,
    })
}

/// The protocol an SNI or certificate came from, for evidence text ("tls sni …").
fn evidence_protocol(class: &FlowClass) -> &'static str {
    if class.protocols.contains(Protocol::Tls) {
        "tls"
    } else if class.protocols.contains(Protocol::Quic) {
        "quic"
    } else if class.protocols.contains(Protocol::Dtls) {
        "dtls"
    } else {
        ""
    }
}

fn finding_report(capture: usize, finding: Finding, flow: &FlowReport) -> FindingReport {
    FindingReport {
        rule: finding.rule,
        title: finding.title,
        severity: finding.severity,
        class: finding.class,
        flow: finding.flow,
        capture,
        packet: finding.packet,
        time: finding.time,
        server: finding.server,
        country: finding.country,
        location: flow.server.country.clone(),
        operator_country: flow.server.operator_country.clone(),
        app: flow.app.clone(),
        hostname: flow.hostname.clone(),
        packets: finding.class.map(|class| flow.packets.of(class)),
        notes: finding.notes,
        allowed: finding.allowed,
    }
}
