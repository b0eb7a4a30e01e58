//! Report: one [`Report`] value, rendered by one [`Emitter`] per output format.
//!
//! The JSON rendering of [`Report`] is the stable machine contract, documented field by field in
//! docs/json-report.md; `schema_version` changes when a field changes meaning or disappears.
//! Everything a format shows comes from this model, so formats never disagree.

pub mod apps;
mod csv;
mod flows;
mod html;
mod json;
mod json_elements;
mod jsonl;
mod junit;
mod markdown;
mod pretty_json;
pub mod redact;
mod sarif;
mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::{LiveStats, Process, Timestamp};
use crate::classify::{Confidence, HostnameSource, MediaKind, PacketRef, Role, ServerRole};
use crate::decode::{Malformed, SkipReason, Transport};
use crate::flow::{Endpoint, Orientation};
use crate::geo::{DatabaseInfo, SourceCountry, SpecialRange};
use crate::policy::{Policy, Severity};

pub use flows::Flows;

pub use csv::CsvEmitter;
pub use html::HtmlEmitter;
pub use json::JsonEmitter;
pub use jsonl::JsonlEmitter;
pub use junit::JunitEmitter;
pub use markdown::MarkdownEmitter;
pub use sarif::SarifEmitter;
pub use table::TableEmitter;

pub const SCHEMA_VERSION: u32 = 1;

/// Renders a report in one format.
pub trait Emitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
    Sarif,
    Junit,
    Markdown,
    Html,
}

impl Format {
    /// The format's writer; `threads` bounds the threads it may use (only large JSON
    /// reports use more than one).
    pub fn emitter(self, threads: usize) -> Box<dyn Emitter> {
        match self {
            Format::Table => Box::new(TableEmitter),
            Format::Json => Box::new(JsonEmitter { threads }),
            Format::Jsonl => Box::new(JsonlEmitter),
            Format::Csv => Box::new(CsvEmitter),
            Format::Sarif => Box::new(SarifEmitter),
            Format::Junit => Box::new(JunitEmitter),
            Format::Markdown => Box::new(MarkdownEmitter),
            Format::Html => Box::new(HtmlEmitter),
        }
    }

    /// The format's name, as `--format` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// The format a file name suggests: `report.sarif`, `junit.xml`, `summary.md`, ….
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match extension.as_str() {
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "csv" => Format::Csv,
            "sarif" => Format::Sarif,
            "xml" => Format::Junit,
            "md" | "markdown" => Format::Markdown,
            "html" | "htm" => Format::Html,
            "txt" => Format::Table,
            _ => return None,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub captures: Vec<CaptureSummary>,
    pub databases: Vec<DatabaseInfo>,
    /// The policy in force, as parsed (groups expanded).
    pub policy: Policy,
    pub summary: Summary,
    /// Most severe first.
    pub findings: Vec<FindingReport>,
    /// Findings an allow-list entry covers, with its reason; they do not count toward the exit
    /// code.
    pub allowed: Vec<FindingReport>,
    /// Findings a baseline (`--baseline FILE`) accepted: known before, not new; they do not
    /// count toward the exit code.
    pub baselined: Vec<FindingReport>,
    pub flows: Flows,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CaptureSummary {
    pub path: String,
    pub link_type: i32,
    /// Packets read from the file, including those the filter dropped.
    pub packets_read: u64,
    /// Packets that passed the filter and were analysed.
    pub packets: u64,
    /// Set when the capture is damaged (e.g. truncated): results cover the packets before it.
    pub warning: Option<String>,
    /// Live capture: libpcap's counters (packets the kernel received and dropped).
    pub live: Option<LiveStats>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub captures: usize,
    pub packets: u64,
    /// Packets decoded down to a UDP or TCP payload.
    pub decoded: u64,
    pub flows: usize,
    /// Flows finished early because a capture's flow table reached `--max-flows` (they are in
    /// `flows`, as they stood when evicted).
    pub evicted_flows: usize,
    pub malformed: u64,
    pub malformed_by_reason: Vec<MalformedCount>,
    pub skipped: BTreeMap<SkipReason, u64>,
    pub findings: usize,
    pub findings_by_severity: BTreeMap<Severity, usize>,
    /// Findings an allow-list entry covers.
    pub allowed: usize,
    /// Findings a baseline accepted.
    pub baselined: usize,
}

#[derive(Debug, Serialize)]
pub struct MalformedCount {
    pub layer: &'static str,
    pub reason: &'static str,
    pub count: u64,
}

impl MalformedCount {
    pub fn from_map(map: &BTreeMap<Malformed, u64>) -> Vec<MalformedCount> {
        map.iter()
            .map(|(m, &count)| MalformedCount {
                layer: m.layer,
                reason: m.reason,
                count,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientReport {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub ip: IpAddr,
    pub port: u16,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// Special-purpose range (private, loopback, …): such addresses are never looked up.
    pub special: Option<SpecialRange>,
    /// What the server is for, where the evidence says: zc, mmr, rwg (Zoom), relay, media,
    /// peer, control.
    pub role: Option<ServerRole>,
    /// Where the server's AS is registered: the jurisdiction its operator answers to.
    pub operator_country: Option<String>,
    /// The label of the policy network holding the address (its country then comes from the
    /// policy, not from GeoIP).
    pub network: Option<String>,
    /// Set for known anycast ranges: the location is unreliable. Names the operator.
    pub anycast: Option<String>,
    /// Every location database's answer, when they disagree (empty when they agree).
    pub disagreement: Vec<SourceCountry>,
    /// The smallest round trip measured to the server from the capture point.
    pub rtt_ms: Option<f64>,
    /// Whether light in fibre could reach the claimed location in that round trip from the
    /// policy's vantage point; null without a vantage, a round trip or a location.
    pub location_plausible: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PacketCounts {
    pub total: u64,
    pub key_exchange: u64,
    pub media: u64,
    pub signaling: u64,
    pub other: u64,
    pub to_server: u64,
    pub to_client: u64,
}

impl PacketCounts {
    pub fn of(&self, role: Role) -> u64 {
        match role {
            Role::KeyExchange => self.key_exchange,
            Role::Media => self.media,
            Role::Signaling => self.signaling,
            Role::Other => self.other,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ByteCounts {
    pub to_server: u64,
    pub to_client: u64,
}

/// The first packet of each class in a flow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FirstPackets {
    pub key_exchange: Option<PacketRef>,
    pub media: Option<PacketRef>,
    pub signaling: Option<PacketRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    /// Index of the capture in `captures`.
    pub capture: usize,
    pub transport: Transport,
    pub client: ClientReport,
    pub server: ServerReport,
    /// The rule that decided which end is the server.
    pub orientation: Orientation,
    /// Live capture: the local program that owns the client socket, when it could be found.
    pub process: Option<Process>,
    pub hostname: Option<String>,
    pub hostname_source: Option<HostnameSource>,
    /// Lowercase app id from the app catalog, or null when unknown.
    pub app: Option<String>,
    /// What decided the app, e.g. "tls sni zoomfrn99mmr.zoom.us", "zoom framing".
    pub app_evidence: Option<String>,
    /// The packet that showed that evidence, when one packet did.
    pub app_evidence_packet: Option<u64>,
    /// How much to trust the app: high, medium or low.
    pub confidence: Option<Confidence>,
    pub protocols: Vec<&'static str>,
    /// Media the flow carries, where knowable: audio, video, screen_share.
    pub media_kinds: Vec<MediaKind>,
    /// ALPN protocols the client offered (TLS, DTLS, QUIC).
    pub alpn: Vec<String>,
    /// The server certificate's subject (TLS and DTLS up to 1.2), e.g. "CN=hangouts".
    pub certificate: Option<String>,
    /// The DTLS-SRTP protection profile the server chose.
    pub srtp_profile: Option<&'static str>,
    /// The TLS or DTLS version the server chose: "TLS 1.2", "TLS 1.3", "DTLS 1.2", …
    pub tls_version: Option<&'static str>,
    /// Index in `flows` of the flow whose SDP or STUN/TURN message announced this flow's address.
    pub announced_by: Option<usize>,
    pub packets: PacketCounts,
    pub bytes: ByteCounts,
    pub first_packet: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub first: FirstPackets,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingReport {
    pub rule: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The class of traffic the rule is about, when it is about one.
    pub class: Option<Role>,
    /// Index of the flow in `flows`.
    pub flow: usize,
    /// Index of the capture in `captures`; `packet` numbers count within that file.
    pub capture: usize,
    /// The packet that proves the finding (1-based, as in Wireshark).
    pub packet: u64,
    pub time: Timestamp,
    pub server: Endpoint,
    /// The country the finding is about: the server's location, its operator's country, or the
    /// country outside the home region.
    pub country: Option<String>,
    /// The server's location and its operator's country, both, as the flow reports them.
    pub location: Option<String>,
    pub operator_country: Option<String>,
    pub app: Option<String>,
    pub hostname: Option<String>,
    /// Packets of the rule's class in the flow.
    pub packets: Option<u64>,
    /// Caveats: databases that disagree, anycast, implausible location, a policy network.
    pub notes: Vec<String>,
    /// The allow-list entry's reason, for findings in `allowed`.
    pub allowed: Option<String>,
}

impl Report {
    /// The highest severity among the findings.
    pub fn worst_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// What the emitters' and redaction's tests share.
#[cfg(test)]
mod testing {
    use super::Report;
    use crate::audit::Auditor;
    use crate::classify::app::AppCatalog;
    use crate::geo::GeoDb;
    use crate::policy::Policy;

    /// A real report: `paths` audited in order with the embedded data and the built-in policy.
    pub(super) fn audit(paths: &[std::path::PathBuf]) -> Report {
        let geo = GeoDb::embedded().unwrap();
        let policy = Policy::builtin().unwrap();
        let catalog = AppCatalog::embedded().unwrap();
        let mut auditor = Auditor::new(&geo, &policy, &catalog);
        for result in auditor.audit_files(paths, None, 1) {
            result.unwrap();
        }
        auditor.finish()
    }
}
