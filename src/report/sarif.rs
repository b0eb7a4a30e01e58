//! `--format sarif`: SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).
//!
//! Built from small serde structs, one per SARIF object used, so the shape is visible here and
//! nothing unused is emitted. One run:
//!
//! - `tool.driver.rules`: the whole rule catalog, in catalog order (`ruleIndex` points into it),
//!   with the title as `shortDescription`, "what it detects" as `fullDescription`, the
//!   `callaudit explain` text as `help` (plain and Markdown), the catalog severity as
//!   `defaultConfiguration.level` and as `properties.security-severity` (the score GitHub sorts
//!   by: critical 9.5, high 8.0, medium 5.5, low 3.0, info 1.0);
//! - `artifacts`: each capture file (`uri` is the path as given, percent-encoded; absolute paths
//!   become `file://` URIs);
//! - `results`: one per finding, then one per allowed finding and one per baselined finding, both
//!   with a `suppressions` entry. A capture has no lines, so a result's location is the capture
//!   (`physicalLocation.artifactLocation`, no `region`) plus a logical location naming the flow;
//!   the proving packet is in the message and in `properties.packet`. `partialFingerprints`
//!   carries the baseline fingerprint (rule, app, server address or policy network, class), so
//!   the same traffic recorded again is the same result;
//! - `invocations[0].toolExecutionNotifications`: the report's warnings (damaged captures, …);
//! - `properties`: the policy in force and the location databases used.
//!
//! The result texts (`message`) are shared with the JUnit and Markdown formats, see
//! [`finding_message`].

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::policy::rules::squeeze;

use super::{Emitter, FindingReport, Report};
use crate::classify::Role;
use crate::geo::DatabaseInfo;
use crate::policy::rules::{self, Check, Rule, RULES};
use crate::policy::{Policy, Severity};

/// The OASIS schema of SARIF 2.1.0 with its errata (tests/data/sarif-schema-2.1.0.json).
const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The key of the baseline fingerprint in `partialFingerprints`.
const FINGERPRINT_KEY: &str = "callaudit/v1";

pub struct SarifEmitter;

impl Emitter for SarifEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &log(report))?;
        writeln!(out)
    }
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Tool,
    invocations: [Invocation; 1],
    artifacts: Vec<Artifact<'a>>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: &'static str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: MultiformatText,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct MultiformatText {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: [&'static str; 1],
    severity: Severity,
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
}

#[derive(Serialize)]
struct Artifact<'a> {
    location: ArtifactLocation,
    roles: [&'static str; 1],
    properties: ArtifactProperties<'a>,
}

/// The capture's facts, named as in the JSON report.
#[derive(Serialize)]
struct ArtifactProperties<'a> {
    path: &'a str,
    link_type: i32,
    packets_read: u64,
    packets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'a str>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    logical_locations: [LogicalLocation; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
}

#[derive(Serialize)]
struct LogicalLocation {
    name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

/// The finding's facts, named as in the JSON report.
#[derive(Serialize)]
struct ResultProperties<'a> {
    severity: Severity,
    class: Option<Role>,
    capture: Option<&'a str>,
    flow: usize,
    packet: u64,
    time: String,
    server: String,
    country: Option<&'a str>,
    location: Option<&'a str>,
    operator_country: Option<&'a str>,
    app: Option<&'a str>,
    hostname: Option<&'a str>,
    packets: Option<u64>,
    notes: &'a [String],
}

#[derive(Serialize)]
struct RunProperties<'a> {
    policy: &'a Policy,
    databases: &'a [DatabaseInfo],
}

fn log(report: &Report) -> Log<'_> {
    let notifications = report
        .warnings
        .iter()
        .map(|warning| Notification {
            level: "warning",
            message: Text {
                text: warning.clone(),
            },
        })
        .collect();
    let artifacts = report
        .captures
        .iter()
        .map(|capture| Artifact {
            location: ArtifactLocation {
                uri: path_uri(&capture.path),
                index: None,
            },
            roles: ["analysisTarget"],
            properties: ArtifactProperties {
                path: &capture.path,
                link_type: capture.link_type,
                packets_read: capture.packets_read,
                packets: capture.packets,
                warning: capture.warning.as_deref(),
            },
        })
        .collect();
    let results = report
        .findings
        .iter()
        .map(|finding| result(report, finding, None))
        .chain(report.allowed.iter().map(|finding| {
            let reason = finding.allowed.clone().unwrap_or_default();
            result(report, finding, Some((reason, None)))
        }))
        .chain(report.baselined.iter().map(|finding| {
            let reason = "accepted by the baseline".to_string();
            result(report, finding, Some((reason, Some("unchanged"))))
        }))
        .collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: report.tool.name,
                    version: report.tool.version,
                    information_uri: information_uri(),
                    rules: RULES.iter().map(descriptor).collect(),
                },
            },
            invocations: [Invocation {
                execution_successful: true,
                tool_execution_notifications: notifications,
            }],
            artifacts,
            results,
            properties: RunProperties {
                policy: &report.policy,
                databases: &report.databases,
            },
        }],
    }
}

/// The crate's homepage or repository, once Cargo.toml names one.
fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_HOMEPAGE"), env!("CARGO_PKG_REPOSITORY")]
        .into_iter()
        .find(|uri| !uri.is_empty())
}

fn descriptor(rule: &Rule) -> ReportingDescriptor {
    ReportingDescriptor {
        id: rule.id,
        name: pascal_case(rule.id),
        short_description: Text {
            text: rule.title.to_string(),
        },
        full_description: Text {
            text: squeeze(rule.detects),
        },
        help: MultiformatText {
            text: rule.explain(),
            markdown: help_markdown(rule),
        },
        default_configuration: Configuration {
            level: level(rule.severity),
        },
        properties: RuleProperties {
            tags: ["security"],
            severity: rule.severity,
            security_severity: security_severity(rule.severity),
        },
    }
}

/// `suppressed`: the suppression's justification, and the baseline state when a baseline
/// accepted the finding.
fn result<'a>(
    report: &'a Report,
    finding: &'a FindingReport,
    suppressed: Option<(String, Option<&'static str>)>,
) -> SarifResult<'a> {
    let capture = report.captures.get(finding.capture);
    let network = report
        .flows
        .get(finding.flow)
        .and_then(|flow| flow.server.network.as_deref());
    let (suppressions, baseline_state) = match suppressed {
        Some((justification, state)) => (
            vec![Suppression {
                kind: "external",
                justification,
            }],
            state,
        ),
        None => (Vec::new(), None),
    };
    SarifResult {
        rule_id: finding.rule,
        rule_index: RULES.iter().position(|rule| rule.id == finding.rule),
        level: level(finding.severity),
        message: Text {
            text: finding_message(report, finding),
        },
        locations: [Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: capture.map(|c| path_uri(&c.path)).unwrap_or_default(),
                    index: Some(finding.capture),
                },
            },
            logical_locations: [LogicalLocation {
                name: format!("flow {} {}", finding.flow, finding.server),
                kind: "object",
            }],
        }],
        partial_fingerprints: BTreeMap::from([(
            FINGERPRINT_KEY,
            crate::baseline::fingerprint(finding, network),
        )]),
        suppressions,
        baseline_state,
        properties: ResultProperties {
            severity: finding.severity,
            class: finding.class,
            capture: capture.map(|c| c.path.as_str()),
            flow: finding.flow,
            packet: finding.packet,
            time: finding.time.to_string(),
            server: finding.server.to_string(),
            country: finding.country.as_deref(),
            location: finding.location.as_deref(),
            operator_country: finding.operator_country.as_deref(),
            app: finding.app.as_deref(),
            hostname: finding.hostname.as_deref(),
            packets: finding.packets,
            notes: &finding.notes,
        },
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` score: above 9.0 critical, 7.0 high, 4.0 medium, 0.1 low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// `restricted-key-exchange` → `RestrictedKeyExchange`.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn help_markdown(rule: &Rule) -> String {
    format!(
        "**{title}** (`{id}`, {severity})\n\n**What it detects:** {detects}\n\n\
         **Why it matters:** {why}\n\n**Example:** {example}\n\n**References:** {references}\n",
        title = rule.title,
        id = rule.id,
        severity = rule.severity,
        detects = squeeze(rule.detects),
        why = squeeze(rule.why),
        example = squeeze(rule.example),
        references = squeeze(rule.references),
    )
}

/// A path as a URI reference: relative paths stay relative, absolute ones become `file://` URIs;
/// every byte outside the unreserved set and `/` is percent-encoded.
pub(super) fn path_uri(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    if path.starts_with('/') {
        uri.push_str("file://");
    }
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

// ------------------------------------------------------------ texts shared by the CI formats

/// What went where, and the evidence: "Key exchange with 52.81.151.250:443
/// (zoombj250mmr.bj.zoom.us, zoom), located in CN — flow 4, packet #26 at 2020-04-02T…Z", then
/// the finding's notes.
pub(super) fn finding_message(report: &Report, finding: &FindingReport) -> String {
    let mut text = format!(
        "{} — flow {}, packet #{} at {}",
        finding_claim(report, finding),
        finding.flow,
        finding.packet,
        finding.time
    );
    if let (Some(class), Some(packets)) = (finding.class, finding.packets) {
        text.push_str(&format!(" ({packets} {} packets)", class_words(class)));
    }
    text.push('.');
    for note in &finding.notes {
        text.push_str(&format!(" Note: {note}."));
    }
    text
}

/// The claim of a finding, without its evidence: "Key exchange with 52.81.151.250:443
/// (zoombj250mmr.bj.zoom.us, zoom), located in CN".
pub(super) fn finding_claim(report: &Report, finding: &FindingReport) -> String {
    let class = match finding.class {
        Some(class) => capitalized(class_words(class)),
        None => "Traffic".to_string(),
    };
    let server = server_words(finding);
    let country = finding.country.as_deref().unwrap_or("?");
    let location = finding.location.as_deref().unwrap_or("?");
    let flow = report.flows.get(finding.flow);
    match rules::rule(finding.rule).map(|rule| rule.check) {
        Some(Check::LocatedIn(_)) => format!("{class} with {server}, located in {country}"),
        Some(Check::OperatedFrom(_)) => {
            format!("{class} with {server}, located in {location}, operated from {country}")
        }
        Some(Check::CrossBorder(_)) => {
            format!("{class} with {server}, located in {country}, outside the home region")
        }
        Some(Check::KeysInClear) => format!("SRTP keys sent in clear in SIP with {server}"),
        Some(Check::WeakKeyExchange) => {
            let what: Vec<&str> = flow
                .into_iter()
                .flat_map(|flow| [flow.tls_version, flow.srtp_profile])
                .flatten()
                .collect();
            if what.is_empty() {
                format!("Weak key exchange with {server}")
            } else {
                format!("Weak key exchange with {server}: {}", what.join(", "))
            }
        }
        Some(Check::ImplausibleLocation) => format!(
            "{server} cannot be located in {country}: its round trip is too short{}",
            flow.and_then(|flow| flow.server.rtt_ms)
                .map(|rtt| format!(" ({rtt} ms)"))
                .unwrap_or_default()
        ),
        Some(Check::UnknownLocation) => {
            format!("{class} with {server}, whose location no database knows")
        }
        None => format!("{} with {server}", finding.title),
    }
}

/// The gist of a finding for a one-line verdict: "key exchange with a server in CN".
pub(super) fn finding_gist(finding: &FindingReport) -> String {
    let class = finding.class.map_or("traffic", class_words);
    let country = finding.country.as_deref().unwrap_or("?");
    match rules::rule(finding.rule).map(|rule| rule.check) {
        Some(Check::LocatedIn(_)) => format!("{class} with a server in {country}"),
        Some(Check::OperatedFrom(_)) => format!("{class} with a server operated from {country}"),
        Some(Check::CrossBorder(_)) => format!("{class} leaving the home region ({country})"),
        Some(Check::KeysInClear) => "SRTP keys sent in clear".to_string(),
        Some(Check::WeakKeyExchange) => "weak key exchange".to_string(),
        Some(Check::ImplausibleLocation) => {
            format!("a server physically implausible in {country}")
        }
        Some(Check::UnknownLocation) => format!("{class} with a server of unknown location"),
        None => finding.title.to_lowercase(),
    }
}

/// "52.81.151.250:443 (zoombj250mmr.bj.zoom.us, zoom)".
fn server_words(finding: &FindingReport) -> String {
    let known: Vec<&str> = [finding.hostname.as_deref(), finding.app.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if known.is_empty() {
        finding.server.to_string()
    } else {
        format!("{} ({})", finding.server, known.join(", "))
    }
}

pub(super) fn class_words(class: Role) -> &'static str {
    match class {
        Role::KeyExchange => "key exchange",
        Role::Media => "media",
        Role::Signaling => "signaling",
        Role::Other => "traffic",
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_uri("fixtures/a.pcap"), "fixtures/a.pcap");
        assert_eq!(path_uri("/tmp/my call.pcap"), "file:///tmp/my%20call.pcap");
        assert_eq!(path_uri("c:x#1.pcap"), "c%3Ax%231.pcap");
    }

    #[test]
    fn rule_names_and_levels() {
        assert_eq!(
            pascal_case("restricted-key-exchange"),
            "RestrictedKeyExchange"
        );
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
    }
}
