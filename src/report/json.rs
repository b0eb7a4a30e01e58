//! `--format json`: the report model as one JSON document (docs/json-report.md).
//!
//! A report of tens of thousands of flows is tens of megabytes of JSON, and rendering it took
//! as long as reading a gigabyte of packets. The flows, nearly all of the document, are written
//! by [`flow_json`] rather than through serde, in slices; with more than one thread the slices
//! are rendered in parallel and joined in order. The bytes are exactly serde_json's pretty
//! output whichever the path (the tests check it).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use super::{flow_json, pretty_json};
use super::{CaptureSummary, Emitter, FindingReport, FlowReport, Report, Summary, Tool};
use crate::geo::DatabaseInfo;
use crate::policy::Policy;

pub struct JsonEmitter {
    /// Threads that may render flows.
    pub threads: usize,
}

/// Below this many flows one thread renders the report quicker than starting others.
const PARALLEL_MIN_FLOWS: usize = 2048;
/// Flows rendered as one piece: about a megabyte of JSON.
const FLOWS_PER_SLICE: usize = 512;

impl Emitter for JsonEmitter {
    fn emit(&self, report: &Report, mut out: &mut dyn Write) -> io::Result<()> {
        // No buffer here: the pieces written are a megabyte each.
        let threads = if report.flows.len() >= PARALLEL_MIN_FLOWS {
            self.threads
        } else {
            1
        };
        write_document(report, &mut out, threads, FLOWS_PER_SLICE)?;
        writeln!(out)?;
        out.flush()
    }
}

/// The document: everything but the flows rendered through serde, the flows by
/// [`flow_json`] in slices, on `threads` threads when there are enough of them. Slices are
/// written in order as soon as they are ready, so writing overlaps rendering.
fn write_document(
    report: &Report,
    out: &mut impl Write,
    threads: usize,
    flows_per_slice: usize,
) -> io::Result<()> {
    let slices: Vec<&[FlowReport]> = report.flows.chunks(flows_per_slice.max(1)).collect();
    let threads = threads.min(slices.len());
    if threads <= 1 {
        let (before, after) = shell(report)?;
        out.write_all(&before)?;
        let mut rendered = Vec::new();
        for (index, slice) in slices.iter().enumerate() {
            rendered.clear();
            render_flows(&mut rendered, slice, index == 0)?;
            out.write_all(&rendered)?;
        }
        return out.write_all(&after);
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for _ in 0..threads {
            let sender = sender.clone();
            let (next, slices) = (&next, &slices);
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(slice) = slices.get(index) else {
                    break;
                };
                let mut rendered = Vec::with_capacity(slice.len() * 2048);
                let result = render_flows(&mut rendered, slice, index == 0);
                if sender.send((index, result.map(|()| rendered))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        // Meanwhile, everything but the flows.
        let (before, after) = shell(report)?;
        out.write_all(&before)?;
        let mut waiting = BTreeMap::new();
        let mut expected = 0;
        for (index, rendered) in receiver {
            waiting.insert(index, rendered);
            while let Some(rendered) = waiting.remove(&expected) {
                out.write_all(&rendered?)?;
                expected += 1;
            }
        }
        if expected < slices.len() {
            return Err(io::Error::other("a JSON writer thread failed"));
        }
        out.write_all(&after)
    })
}

/// The document without its flows, as the text before the first flow and the text after the
/// last: `"flows": []` rendered through serde, cut open when there are flows.
fn shell(report: &Report) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let shell = Shell {
        schema_version: report.schema_version,
        tool: &report.tool,
        captures: &report.captures,
        databases: &report.databases,
        policy: &report.policy,
        summary: &report.summary,
        findings: &report.findings,
        allowed: &report.allowed,
        baselined: &report.baselined,
        flows: &[],
        warnings: &report.warnings,
    };
    let mut text = Vec::new();
    pretty_json::append(&mut text, &shell, 0)?;
    if report.flows.is_empty() {
        return Ok((text, Vec::new()));
    }
    // A literal newline only comes from the formatter (strings escape theirs), so this is the
    // top-level key and nothing inside a value. It comes after the findings, which can be
    // megabytes: searched for from the end.
    const EMPTY_FLOWS: &[u8] = b"\n  \"flows\": []";
    let at = text
        .windows(EMPTY_FLOWS.len())
        .rposition(|window| window == EMPTY_FLOWS)
        .ok_or_else(|| io::Error::other("report has no top-level flows key"))?;
    let mut after = b"\n  ]".to_vec();
    after.extend_from_slice(&text[at + EMPTY_FLOWS.len()..]);
    text.truncate(at);
    text.extend_from_slice(b"\n  \"flows\": [");
    Ok((text, after))
}

/// [`Report`] field for field, borrowed, so the document around the flows can be rendered
/// without copying the report. The test below fails if the two ever differ.
#[derive(Serialize)]
struct Shell<'a> {
    schema_version: u32,
    tool: &'a Tool,
    captures: &'a [CaptureSummary],
    databases: &'a [DatabaseInfo],
    policy: &'a Policy,
    summary: &'a Summary,
    findings: &'a [FindingReport],
    allowed: &'a [FindingReport],
    baselined: &'a [FindingReport],
    flows: &'a [FlowReport],
    warnings: &'a [String],
}

/// Flows as elements of the top-level `flows` array, appended to `out`: each on a new line at
/// two levels of indentation, separated by commas, the first without one when `first` is set.
fn render_flows(out: &mut Vec<u8>, flows: &[FlowReport], first: bool) -> io::Result<()> {
    for (i, flow) in flows.iter().enumerate() {
        out.extend_from_slice(if first && i == 0 {
            b"\n    "
        } else {
            b",\n    "
        });
        flow_json::append(out, flow)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real report: every fixture capture audited with the embedded data.
    fn fixtures_report() -> Report {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "pcap"))
            .collect();
        paths.sort();
        crate::report::testing::audit(&paths)
    }

    #[test]
    fn flows_rendered_in_slices_and_in_parallel_are_the_same_bytes() {
        let report = fixtures_report();
        assert!(report.flows.len() > 20 && !report.findings.is_empty());
        let mut one = Vec::new();
        serde_json::to_writer_pretty(&mut one, &report).unwrap();
        for (threads, flows_per_slice) in [(1, 3), (2, 1), (3, 7), (2, 10_000)] {
            let mut many = Vec::new();
            write_document(&report, &mut many, threads, flows_per_slice).unwrap();
            assert!(
                one == many,
                "{threads} threads, {flows_per_slice} flows a slice"
            );
        }
    }

    #[test]
    fn a_report_without_flows_is_serde_jsons_too() {
        let mut report = fixtures_report();
        report.flows.clear();
        let expected = serde_json::to_vec_pretty(&report).unwrap();
        for threads in [1, 2] {
            let mut ours = Vec::new();
            write_document(&report, &mut ours, threads, 4).unwrap();
            assert!(ours == expected, "{threads} threads");
        }
    }

    #[test]
    fn the_report_is_serde_jsons_pretty_output_byte_for_byte() {
        let report = fixtures_report();
        let mut expected = serde_json::to_vec_pretty(&report).unwrap();
        expected.push(b'\n');
        let mut ours = Vec::new();
        JsonEmitter { threads: 1 }.emit(&report, &mut ours).unwrap();
        assert!(ours == expected);
    }
}
