//! `--format table`: what a person reads in a terminal. Findings first, most severe first, then
//! one row per flow, then a summary line.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::{Emitter, FindingReport, FlowReport, Report, ServerReport};

pub struct TableEmitter;

impl Emitter for TableEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let several_captures = report.captures.len() > 1;
        if report.findings.is_empty() {
            writeln!(out, "No findings.")?;
        } else {
            writeln!(out, "Findings ({}):", report.findings.len())?;
            writeln!(
                out,
                "{}",
                findings_table(report, &report.findings, several_captures)
            )?;
            for (index, finding) in report.findings.iter().enumerate() {
                for note in &finding.notes {
                    writeln!(out, "  finding {}: {note}", index + 1)?;
                }
            }
        }
        for (title, list) in [
            ("Allowed by the policy", &report.allowed),
            ("Accepted by the baseline", &report.baselined),
        ] {
            if list.is_empty() {
                continue;
            }
            writeln!(out)?;
            writeln!(out, "{title} ({}):", list.len())?;
            let mut table = new_table();
            table.set_header([
                "Severity", "Rule", "Server", "Country", "Evidence", "Reason",
            ]);
            for finding in list {
                table.add_row([
                    finding.severity.as_str().to_uppercase(),
                    finding.rule.to_string(),
                    finding.server.to_string(),
                    finding.country.clone().unwrap_or_else(|| "-".into()),
                    format!("flow {}, packet #{}", finding.flow, finding.packet),
                    finding
                        .allowed
                        .clone()
                        .unwrap_or_else(|| "known before".into()),
                ]);
            }
            writeln!(out, "{table}")?;
        }
        writeln!(out)?;
        if report.flows.is_empty() {
            writeln!(out, "No UDP or TCP flows.")?;
        } else {
            writeln!(out, "Flows ({}):", report.flows.len())?;
            let mut table = new_table();
            let mut header = vec![
                "#",
                "App",
                "Proto",
                "Client",
                "Server",
                "Country",
                "AS",
                "Hostname",
                "Key exch.",
                "Media",
                "Signal.",
                "Total",
            ];
            if several_captures {
                header.push("Capture");
            }
            table.set_header(header);
            for (index, flow) in report.flows.iter().enumerate() {
                let mut row = flow_row(index, flow);
                if several_captures {
                    row.push(capture_name(report, flow.capture));
                }
                table.add_row(row);
            }
            writeln!(out, "{table}")?;
        }

        for capture in &report.captures {
            if let Some(warning) = &capture.warning {
                writeln!(out, "warning: {}: {warning}", capture.path)?;
            }
        }
        let summary = &report.summary;
        // Only a capture that filled its flow table (--max-flows) says so.
        let evicted = match summary.evicted_flows {
            0 => String::new(),
            n => format!(" ({n} evicted at --max-flows)"),
        };
        writeln!(
            out,
            "{} packets in {} capture(s), {} flows{evicted}, {} malformed, {} findings{}",
            summary.packets,
            summary.captures,
            summary.flows,
            summary.malformed,
            summary.findings,
            severity_breakdown(report)
        )?;
        for malformed in &summary.malformed_by_reason {
            writeln!(
                out,
                "  malformed: {} at {} layer: {}",
                malformed.count, malformed.layer, malformed.reason
            )?;
        }
        for db in &report.databases {
            writeln!(
                out,
                "GeoIP {}: {} [{}, built {}]",
                db.role, db.description, db.source, db.build_date
            )?;
        }
        let restricted: Vec<&str> = report
            .policy
            .scope
            .restricted
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        write!(
            out,
            "Policy: {} (restricted: {}",
            report.policy.source,
            restricted.join(" ")
        )?;
        if let Some(home) = &report.policy.scope.home {
            let home: Vec<&str> = home.iter().map(String::as_str).collect();
            write!(out, "; home: {}", home.join(" "))?;
        }
        writeln!(out, ")")
    }
}

fn findings_table(report: &Report, findings: &[FindingReport], several_captures: bool) -> Table {
    let mut table = new_table();
    let mut header = vec![
        "Severity", "Rule", "App", "Server", "Country", "AS", "Hostname", "Evidence",
    ];
    if several_captures {
        header.push("Capture");
    }
    table.set_header(header);
    for finding in findings {
        let flow = report.flows.get(finding.flow);
        let mut row = vec![
            finding.severity.as_str().to_uppercase(),
            finding.rule.to_string(),
            finding.app.clone().unwrap_or_else(|| "-".into()),
            finding.server.to_string(),
            flow.map(|f| country_text(&f.server)).unwrap_or_default(),
            flow.map(|f| as_text(&f.server)).unwrap_or_default(),
            finding.hostname.clone().unwrap_or_else(|| "-".into()),
            evidence_text(finding),
        ];
        if several_captures {
            row.push(capture_name(report, finding.capture));
        }
        table.add_row(row);
    }
    table
}

fn evidence_text(finding: &FindingReport) -> String {
    match (finding.class, finding.packets) {
        (Some(class), Some(packets)) => format!(
            "flow {}, packet #{} at {} ({packets} {} packets)",
            finding.flow,
            finding.packet,
            finding.time,
            class.as_str().replace('_', " ")
        ),
        _ => format!(
            "flow {}, packet #{} at {}",
            finding.flow, finding.packet, finding.time
        ),
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

fn flow_row(index: usize, flow: &FlowReport) -> Vec<String> {
    vec![
        index.to_string(),
        flow.app.clone().unwrap_or_else(|| "-".into()),
        format!("{} {}", flow.transport.as_str(), flow.protocols.join(","))
            .trim()
            .to_string(),
        format!("{}:{}", flow.client.ip, flow.client.port),
        format!("{}:{}", flow.server.ip, flow.server.port),
        country_text(&flow.server),
        as_text(&flow.server),
        flow.hostname.clone().unwrap_or_else(|| "-".into()),
        flow.packets.key_exchange.to_string(),
        flow.packets.media.to_string(),
        flow.packets.signaling.to_string(),
        flow.packets.total.to_string(),
    ]
}

/// The location, and the operator's country when it differs: `DE (op. CN)`.
fn country_text(server: &ServerReport) -> String {
    let location = match (&server.country, server.special) {
        (Some(country), _) => country.clone(),
        (None, Some(special)) => special.as_str().to_string(),
        (None, None) => "?".into(),
    };
    match &server.operator_country {
        Some(operator) if server.country.as_ref() != Some(operator) => {
            format!("{location} (op. {operator})")
        }
        _ => location,
    }
}

fn as_text(server: &ServerReport) -> String {
    match (server.asn, &server.as_org) {
        (Some(asn), Some(org)) => format!("AS{asn} {org}"),
        (Some(asn), None) => format!("AS{asn}"),
        _ => "-".into(),
    }
}

fn capture_name(report: &Report, index: usize) -> String {
    report
        .captures
        .get(index)
        .map(|c| c.path.clone())
        .unwrap_or_default()
}

fn severity_breakdown(report: &Report) -> String {
    if report.summary.findings_by_severity.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = report
        .summary
        .findings_by_severity
        .iter()
        .rev()
        .map(|(severity, count)| format!("{count} {severity}"))
        .collect();
    format!(" ({})", parts.join(", "))
}
