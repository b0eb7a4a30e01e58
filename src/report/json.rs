//! `--format json`: the report model as one JSON document (docs/json-report.md).
//!
//! A report of tens of thousands of flows is tens of megabytes of JSON, and rendering it took
//! as long as reading a gigabyte of packets. The flows and findings, nearly all of the
//! document, are written by [`json_elements`] rather than through serde, in slices; with more
//! than one thread the slices are rendered in parallel and written in order. The
//! bytes are exactly serde_json's pretty output whichever the path (the tests check it).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use serde::Serialize;

use super::{json_elements, pretty_json};
use super::{Emitter, FindingReport, FlowReport, Report};

pub struct JsonEmitter {
    /// Threads that may render the document's pieces.
    pub threads: usize,
}

/// Below this many flows and findings one thread renders the report quicker than starting
/// others.
const PARALLEL_MIN_ITEMS: usize = 2048;
/// Flows or findings rendered as one piece: about a megabyte of JSON of flows.
const ITEMS_PER_SLICE: usize = 512;
/// Rendered slices that may wait to be written, beyond one being rendered per thread.
const SPARE_BUFFERS: usize = 2;

impl Emitter for JsonEmitter {
    fn emit(&self, report: &Report, mut out: &mut dyn Write) -> io::Result<()> {
        // No buffer here: the pieces written are a megabyte each.
        let threads = if report.flows.len() + report.findings.len() >= PARALLEL_MIN_ITEMS {
            self.threads
        } else {
            1
        };
        write_document(report, &mut out, threads, ITEMS_PER_SLICE)?;
        writeln!(out)?;
        out.flush()
    }
}

/// One piece of the document, rendered on its own and written in order.
#[derive(Clone, Copy)]
enum Piece<'r> {
    /// `{` and the fields before `findings`, then `"findings": [`.
    Start,
    /// Findings, the `first` of the array without a comma before it.
    Findings(&'r [FindingReport], bool),
    /// The end of `findings`, then `allowed` and `baselined`, then `"flows": [`.
    Middle,
    Flows(&'r [FlowReport], bool),
    /// The end of `flows` and the fields after it.
    End,
}

impl Piece<'_> {
    fn render(self, report: &Report, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Piece::Start => start(report, out),
            Piece::Findings(items, first) => {
                elements(out, items, first, json_elements::append_finding)
            }
            Piece::Middle => middle(report, out),
            Piece::Flows(items, first) => elements(out, items, first, json_elements::append_flow),
            Piece::End => end(report, out),
        }
    }
}

/// The document's pieces in order: the findings and the flows, nearly all of it, in slices.
fn pieces(report: &Report, items_per_slice: usize) -> Vec<Piece<'_>> {
    let items_per_slice = items_per_slice.max(1);
    let mut pieces = vec![Piece::Start];
    for (index, slice) in report.findings.chunks(items_per_slice).enumerate() {
        pieces.push(Piece::Findings(slice, index == 0));
    }
    pieces.push(Piece::Middle);
    for (index, slice) in report.flows.chunks(items_per_slice).enumerate() {
        pieces.push(Piece::Flows(slice, index == 0));
    }
    pieces.push(Piece::End);
    pieces
}

/// The document, piece by piece ([`pieces`]): on `threads` threads when there are more than
/// one, each piece written as soon as it and those before it are ready, so that writing
/// overlaps rendering. The findings are sliced like the flows: rendered by one thread before
/// the flows, they held up the first write by a few tens of milliseconds.
///
/// This thread writes, and renders too whenever the next piece to write is not ready yet;
/// `threads - 1` others only render. With a thread that only wrote, `--jobs 2` ran three busy
/// threads on two cores, and the writer's core sat idle whenever it waited for a piece: the
/// 92 MB report of two 1 GB captures took 38–42 ms to write where its 61 ms of work, split
/// over two cores, needs 31.
fn write_document(
    report: &Report,
    out: &mut impl Write,
    threads: usize,
    items_per_slice: usize,
) -> io::Result<()> {
    let pieces = pieces(report, items_per_slice);
    let threads = threads.min(pieces.len());
    if threads <= 1 {
        let mut rendered = Vec::new();
        for piece in pieces {
            rendered.clear();
            piece.render(report, &mut rendered)?;
            out.write_all(&rendered)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    // Pieces are rendered into a few buffers that go round: back to the renderers once
    // written. A fresh megabyte per piece cost a page fault per 4 KiB (23,000 faults for the
    // 92 MB report of two 1 GB captures) and let renderers run ahead of the writes unbounded.
    // A renderer takes a buffer before it claims a piece, so the piece written next always has
    // one and the renderers cannot all wait on buffers held by later pieces.
    let (spare, spares) = mpsc::channel::<Vec<u8>>();
    for _ in 0..threads + SPARE_BUFFERS {
        spare
            .send(Vec::with_capacity(
                items_per_slice.saturating_mul(2048).min(1 << 22),
            ))
            .map_err(|_| io::Error::other("JSON buffers"))?;
    }
    let spares = Mutex::new(spares);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for _ in 1..threads {
            let sender = sender.clone();
            let (next, pieces, spares) = (&next, &pieces, &spares);
            scope.spawn(move || {
                while let Some(rendered) = take_spare(spares) {
                    let Some(done) = render_next(next, pieces, report, rendered) else {
                        break;
                    };
                    if sender.send(done).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // The buffers' way back; dropped if writing fails, which stops the renderers.
        let spare = spare;
        let mut waiting = BTreeMap::new();
        let mut expected = 0;
        while expected < pieces.len() {
            if let Some(rendered) = waiting.remove(&expected) {
                let rendered: Vec<u8> = rendered?;
                out.write_all(&rendered)?;
                // The renderers may all have finished: then nobody needs it back.
                let _ = spare.send(rendered);
                expected += 1;
                continue;
            }
            if let Ok((index, rendered)) = receiver.try_recv() {
                waiting.insert(index, rendered);
                continue;
            }
            // Nothing to write yet: render a piece here rather than wait, if a buffer is free.
            // `try_lock`: a renderer holding the lock is waiting for a buffer that only this
            // thread can hand back.
            let free = spares
                .try_lock()
                .ok()
                .and_then(|spares| spares.try_recv().ok());
            if let Some((index, rendered)) =
                free.and_then(|buffer| render_next(&next, &pieces, report, buffer))
            {
                waiting.insert(index, rendered);
                continue;
            }
            // Every piece is claimed, or every buffer is out: the next piece to write is with a
            // renderer, which sends it.
            match receiver.recv() {
                Ok((index, rendered)) => {
                    waiting.insert(index, rendered);
                }
                Err(_) => break,
            }
        }
        if expected < pieces.len() {
            return Err(io::Error::other("a JSON writer thread failed"));
        }
        Ok(())
    })
}

/// Claims the next piece not yet claimed and renders it into `buffer`: its index and the
/// result, or `None` when every piece is claimed.
fn render_next(
    next: &AtomicUsize,
    pieces: &[Piece<'_>],
    report: &Report,
    mut buffer: Vec<u8>,
) -> Option<(usize, io::Result<Vec<u8>>)> {
    let index = next.fetch_add(1, Ordering::Relaxed);
    let piece = pieces.get(index)?;
    buffer.clear();
    let result = piece.render(report, &mut buffer);
    Some((index, result.map(|()| buffer)))
}

/// A buffer handed back by the writer, waiting for one if none is free; `None` once the
/// writer has stopped (its end of the channel is gone).
fn take_spare(spares: &Mutex<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    spares.lock().ok()?.recv().ok()
}

/// `{` and the fields of [`Report`] before `findings`, in its order, then the opening of
/// `findings` (a test compares the whole document with serde_json's).
fn start(report: &Report, text: &mut Vec<u8>) -> io::Result<()> {
    text.push(b'{');
    field(text, true, "schema_version", &report.schema_version)?;
    field(text, false, "tool", &report.tool)?;
    field(text, false, "captures", &report.captures)?;
    field(text, false, "databases", &report.databases)?;
    field(text, false, "policy", &report.policy)?;
    field(text, false, "summary", &report.summary)?;
    key_of(text, false, "findings");
    text.push(b'[');
    Ok(())
}

/// The end of `findings`, `allowed` and `baselined` whole, and the opening of `flows`.
fn middle(report: &Report, text: &mut Vec<u8>) -> io::Result<()> {
    close_array(text, report.findings.is_empty());
    for (key, findings) in [
        ("allowed", &report.allowed),
        ("baselined", &report.baselined),
    ] {
        key_of(text, false, key);
        text.push(b'[');
        elements(text, findings, true, json_elements::append_finding)?;
        close_array(text, findings.is_empty());
    }
    key_of(text, false, "flows");
    text.push(b'[');
    Ok(())
}

/// The end of `flows` and the fields after it.
fn end(report: &Report, text: &mut Vec<u8>) -> io::Result<()> {
    close_array(text, report.flows.is_empty());
    field(text, false, "warnings", &report.warnings)?;
    text.extend_from_slice(b"\n}");
    Ok(())
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

    /// A writer that fails once it has taken `room` bytes.
    struct FailingWriter {
        room: usize,
    }

    impl Write for FailingWriter {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if bytes.len() > self.room {
                return Err(io::Error::other("disk full"));
            }
            self.room -= bytes.len();
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The renderers wait for buffers the writer hands back: when writing fails part way, they
    /// must stop rather than wait for ever, and the error must come out.
    #[test]
    fn a_failing_writer_stops_the_renderers_and_reports_its_error() {
        let report = fixtures_report();
        let mut whole = Vec::new();
        write_document(&report, &mut whole, 1, 1).unwrap();
        for room in [0, 10, whole.len() / 3, whole.len() - 5] {
            for threads in [2, 3] {
                let mut out = FailingWriter { room };
                let error = write_document(&report, &mut out, threads, 1).unwrap_err();
                assert_eq!(
                    error.to_string(),
                    "disk full",
                    "{room} bytes, {threads} threads"
                );
            }
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
