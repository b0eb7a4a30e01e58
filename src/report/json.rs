//! `--format json`: the report model as one JSON document (docs/json-report.md).
//!
//! A report of tens of thousands of flows is tens of megabytes of JSON, and rendering it took
//! as long as reading a gigabyte of packets. With more than one thread the flows, which are
//! nearly all of the document, are rendered in slices in parallel and joined in order; the
//! bytes are exactly those of the one-thread path (a test checks it).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use super::pretty_json;
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
        // No buffer here: the serializer keeps its own, and the parallel path writes slices of
        // a megabyte.
        if self.threads > 1 && report.flows.len() >= PARALLEL_MIN_FLOWS {
            write_parallel(report, &mut out, self.threads, FLOWS_PER_SLICE)?;
        } else {
            pretty_json::write(&mut out, report, 0)?;
        }
        writeln!(out)?;
        out.flush()
    }
}

/// The document with the flows rendered on `threads` threads, in slices that are written in
/// order as soon as they are ready, so writing overlaps rendering.
fn write_parallel(
    report: &Report,
    out: &mut impl Write,
    threads: usize,
    flows_per_slice: usize,
) -> io::Result<()> {
    let slices: Vec<&[FlowReport]> = report.flows.chunks(flows_per_slice.max(1)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for _ in 0..threads.min(slices.len()) {
            let sender = sender.clone();
            let (next, slices) = (&next, &slices);
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(slice) = slices.get(index) else {
                    break;
                };
                if sender
                    .send((index, render_flows(slice, index == 0)))
                    .is_err()
                {
                    break;
                }
            });
        }
        drop(sender);
        // Meanwhile, everything but the flows, rendered as usual; the flows go where its
        // `"flows": []` is.
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
        // A literal newline only comes from the formatter (strings escape theirs), so this is
        // the top-level key and nothing inside a value.
        const EMPTY_FLOWS: &[u8] = b"\n  \"flows\": []";
        let at = find(&text, EMPTY_FLOWS)
            .ok_or_else(|| io::Error::other("report has no top-level flows key"))?;
        out.write_all(&text[..at])?;
        out.write_all(b"\n  \"flows\": [")?;
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
        out.write_all(b"\n  ]")?;
        out.write_all(&text[at + EMPTY_FLOWS.len()..])
    })
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

/// Flows as elements of the top-level `flows` array: each on a new line at two levels of
/// indentation, separated by commas, the first without one when `first` is set.
fn render_flows(flows: &[FlowReport], first: bool) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(flows.len() * 2048);
    for (i, flow) in flows.iter().enumerate() {
        out.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(b"    ");
        pretty_json::append(&mut out, flow, 2)?;
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
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
    fn flows_rendered_in_parallel_are_the_same_bytes() {
        let report = fixtures_report();
        assert!(report.flows.len() > 20 && !report.findings.is_empty());
        let mut one = Vec::new();
        serde_json::to_writer_pretty(&mut one, &report).unwrap();
        for (threads, flows_per_slice) in [(2, 1), (3, 7), (2, 10_000)] {
            let mut many = Vec::new();
            write_parallel(&report, &mut many, threads, flows_per_slice).unwrap();
            assert!(
                one == many,
                "{threads} threads, {flows_per_slice} flows a slice"
            );
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
