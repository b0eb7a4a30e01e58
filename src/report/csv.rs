//! `--format csv`: one row per flow, for spreadsheets.
//!
//! RFC 4180: a header row, CRLF line ends, a field quoted (its `"` doubled) when it holds a
//! comma, a quote, CR or LF. Absent values are empty fields. Columns:
//!
//! `capture` (the capture's path), `flow` (index in the JSON report's `flows[]`), `transport`,
//! `client_ip`, `client_port`, `server_ip`, `server_port`, `country`, `operator_country`, `asn`,
//! `as_org`, `app`, `confidence`, `hostname`, `protocols` (space-separated), `key_exchange`,
//! `media`, `signaling`, `other`, `total` (packets), `first_seen`, `last_seen`, `server_role`,
//! `rtt_ms`, `findings` (the rule ids of the flow's findings, space-separated, allowed and
//! baselined ones excluded).
//!
//! Values come from the capture and are written as they are: a spreadsheet may treat a field
//! starting with `=` as a formula.

use std::io::{self, Write};

use super::{Emitter, FlowReport, Report};

pub struct CsvEmitter;

const COLUMNS: [&str; 25] = [
    "capture",
    "flow",
    "transport",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "country",
    "operator_country",
    "asn",
    "as_org",
    "app",
    "confidence",
    "hostname",
    "protocols",
    "key_exchange",
    "media",
    "signaling",
    "other",
    "total",
    "first_seen",
    "last_seen",
    "server_role",
    "rtt_ms",
    "findings",
];

impl Emitter for CsvEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        write_record(out, COLUMNS.iter().map(|c| c.to_string()))?;
        for (index, flow) in report.flows.iter().enumerate() {
            write_record(out, row(report, index, flow))?;
        }
        Ok(())
    }
}

fn row(report: &Report, index: usize, flow: &FlowReport) -> [String; 25] {
    let text = |value: Option<&str>| value.unwrap_or_default().to_string();
    let mut findings: Vec<&str> = Vec::new();
    for finding in report.findings.iter().filter(|f| f.flow == index) {
        if !findings.contains(&finding.rule) {
            findings.push(finding.rule);
        }
    }
    let server = &flow.server;
    [
        report
            .captures
            .get(flow.capture)
            .map(|c| c.path.clone())
            .unwrap_or_default(),
        index.to_string(),
        flow.transport.as_str().to_string(),
        flow.client.ip.to_string(),
        flow.client.port.to_string(),
        server.ip.to_string(),
        server.port.to_string(),
        text(server.country.as_deref()),
        text(server.operator_country.as_deref()),
        server.asn.map(|asn| asn.to_string()).unwrap_or_default(),
        text(server.as_org.as_deref()),
        text(flow.app.as_deref()),
        serde_name(flow.confidence),
        text(flow.hostname.as_deref()),
        flow.protocols.join(" "),
        flow.packets.key_exchange.to_string(),
        flow.packets.media.to_string(),
        flow.packets.signaling.to_string(),
        flow.packets.other.to_string(),
        flow.packets.total.to_string(),
        flow.first_seen.to_string(),
        flow.last_seen.to_string(),
        serde_name(server.role),
        server.rtt_ms.map(|rtt| rtt.to_string()).unwrap_or_default(),
        findings.join(" "),
    ]
}

/// The name serde gives a unit variant (`high`, `mmr`, …); empty for none.
fn serde_name<T: serde::Serialize>(value: Option<T>) -> String {
    value
        .and_then(|value| serde_json::to_value(value).ok())
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn write_record(out: &mut dyn Write, fields: impl IntoIterator<Item = String>) -> io::Result<()> {
    for (position, field) in fields.into_iter().enumerate() {
        if position > 0 {
            out.write_all(b",")?;
        }
        out.write_all(quoted(&field).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

/// The field as RFC 4180 writes it.
fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted(""), "");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("two\nlines"), "\"two\nlines\"");
    }
}
