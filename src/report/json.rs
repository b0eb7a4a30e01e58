//! `--format json`: the report model as one JSON document (docs/json-report.md).
//!
//! A report of tens of thousands of flows is tens of megabytes of JSON, and rendering it took
//! as long as reading a gigabyte of packets. The flows and findings, nearly all of the
//! document, are written by [`json_elements`] rather than through serde, the flows in slices;
//! with more than one thread the slices are rendered in parallel and joined in order. The
//! bytes are exactly serde_json's pretty output whichever the path (the tests check it).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use super::{json_elements, pretty_json};
use super::{Emitter, FlowReport, Report};

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

/// The document: the flows by [`json_elements`] in slices, on `threads` threads when there
/// are more than one, written in order as soon as they are ready so that writing overlaps
/// rendering; before them every other field, the findings also by [`json_elements`].
fn write_document(
    report: &Report,
    out: &mut impl Write,
    threads: usize,
    flows_per_slice: usize,
) -> io::Result<()> {
    let slices: Vec<&[FlowReport]> = report.flows.chunks(flows_per_slice.max(1)).collect();
    let threads = threads.min(slices.len());
    if threads <= 1 {
        out.write_all(&head(report)?)?;
        let mut rendered = Vec::new();
        for (index, slice) in slices.iter().enumerate() {
            rendered.clear();
            elements(&mut rendered, slice, index == 0, json_elements::append_flow)?;
            out.write_all(&rendered)?;
        }
        return out.write_all(&tail(report)?);
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
                let result = elements(&mut rendered, slice, index == 0, json_elements::append_flow);
                if sender.send((index, result.map(|()| rendered))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        // Meanwhile, everything before the flows.
        out.write_all(&head(report)?)?;
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
        out.write_all(&tail(report)?)
    })
}

/// The document up to the first flow: the fields of [`Report`] before `flows`, in its order
/// (a test compares the whole document with serde_json's).
fn head(report: &Report) -> io::Result<Vec<u8>> {
    let mut text = b"{".to_vec();
    field(&mut text, true, "schema_version", &report.schema_version)?;
    field(&mut text, false, "tool", &report.tool)?;
    field(&mut text, false, "captures", &report.captures)?;
    field(&mut text, false, "databases", &report.databases)?;
    field(&mut text, false, "policy", &report.policy)?;
    field(&mut text, false, "summary", &report.summary)?;
    for (key, findings) in [
        ("findings", &report.findings),
        ("allowed", &report.allowed),
        ("baselined", &report.baselined),
    ] {
        key_of(&mut text, false, key);
        text.push(b'[');
        elements(&mut text, findings, true, json_elements::append_finding)?;
        close_array(&mut text, findings.is_empty());
    }
    key_of(&mut text, false, "flows");
    text.push(b'[');
    Ok(text)
}

/// The document after the last flow.
fn tail(report: &Report) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    close_array(&mut text, report.flows.is_empty());
    field(&mut text, false, "warnings", &report.warnings)?;
    text.extend_from_slice(b"\n}");
    Ok(text)
}

/// A top-level key, after a comma unless it is the `first`.
fn key_of(text: &mut Vec<u8>, first: bool, key: &str) {
    text.extend_from_slice(if first { b"\n  \"" } else { b",\n  \"" });
    text.extend_from_slice(key.as_bytes());
    text.extend_from_slice(b"\": ");
}

/// A top-level field through serde.
fn field<T: Serialize + ?Sized>(
    text: &mut Vec<u8>,
    first: bool,
    key: &str,
    value: &T,
) -> io::Result<()> {
    key_of(text, first, key);
    pretty_json::append(text, value, 1)
}

/// The end of a top-level array: `[]` for an empty one, else on its own line.
fn close_array(text: &mut Vec<u8>, empty: bool) {
    text.extend_from_slice(if empty { b"]" } else { b"\n  ]" });
}

/// Elements of a top-level array, appended to `out`: each on a new line at two levels of
/// indentation, separated by commas, the first without one when `first` is set.
fn elements<T>(
    out: &mut Vec<u8>,
    items: &[T],
    first: bool,
    append: fn(&mut Vec<u8>, &T) -> io::Result<()>,
) -> io::Result<()> {
    for (i, item) in items.iter().enumerate() {
        out.extend_from_slice(if first && i == 0 {
            b"\n    "
        } else {
            b",\n    "
        });
        append(out, item)?;
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
