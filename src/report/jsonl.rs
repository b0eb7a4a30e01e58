//! `--format jsonl`: the report as JSON lines, for log pipelines and `jq -c` filters.
//!
//! One JSON object per line, each standing alone, with a `type`:
//!
//! - `{"type":"flow","flow":4,"capture_path":"call.pcap",…}`: one per flow, in the order of
//!   `flows[]` of the JSON report; `flow` is its index there (what findings' `flow` refers to),
//!   `capture_path` the path of its capture, and the other fields are the flow's fields
//!   (docs/json-report.md, `flows[]`), `capture` still being the capture's index;
//! - `{"type":"finding","capture_path":…,…}`: one per finding, most severe first, with the fields
//!   of `findings[]`;
//! - `{"type":"allowed",…}` and `{"type":"baselined",…}`: the same shape, for the findings an
//!   allow-list entry covers (with its `allowed` reason) and those a baseline accepted;
//! - `{"type":"summary",…}`, last: `schema_version`, `tool`, `summary`, `captures`, `databases`,
//!   `policy` and `warnings`, as in the JSON report.
//!
//! Field meanings are those of the JSON report; only the split into lines is added.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use super::{CaptureSummary, Emitter, FindingReport, FlowReport, Report, Summary, Tool};
use crate::geo::DatabaseInfo;
use crate::policy::Policy;

pub struct JsonlEmitter;

#[derive(Serialize)]
struct FlowLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    flow: usize,
    capture_path: Option<&'a str>,
    #[serde(flatten)]
    fields: &'a FlowReport,
}

#[derive(Serialize)]
struct FindingLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    capture_path: Option<&'a str>,
    #[serde(flatten)]
    fields: &'a FindingReport,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema_version: u32,
    tool: &'a Tool,
    summary: &'a Summary,
    captures: &'a [CaptureSummary],
    databases: &'a [DatabaseInfo],
    policy: &'a Policy,
    warnings: &'a [String],
}

impl Emitter for JsonlEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // A concrete buffer so serde_json's many small writes inline (see json.rs).
        let mut buffered = BufWriter::with_capacity(1 << 16, out);
        let out: &mut BufWriter<&mut dyn Write> = &mut buffered;
        let capture_path = |index: usize| report.captures.get(index).map(|c| c.path.as_str());
        for (index, flow) in report.flows.iter().enumerate() {
            let line = FlowLine {
                kind: "flow",
                flow: index,
                capture_path: capture_path(flow.capture),
                fields: flow,
            };
            write_line(out, &line)?;
        }
        for (kind, findings) in [
            ("finding", &report.findings),
            ("allowed", &report.allowed),
            ("baselined", &report.baselined),
        ] {
            for finding in findings {
                let line = FindingLine {
                    kind,
                    capture_path: capture_path(finding.capture),
                    fields: finding,
                };
                write_line(out, &line)?;
            }
        }
        let summary = SummaryLine {
            kind: "summary",
            schema_version: report.schema_version,
            tool: &report.tool,
            summary: &report.summary,
            captures: &report.captures,
            databases: &report.databases,
            policy: &report.policy,
            warnings: &report.warnings,
        };
        write_line(out, &summary)?;
        out.flush()
    }
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
