//! `--format json`: the report model as one JSON document (docs/json-report.md).

use std::io::{self, BufWriter, Write};

use super::{Emitter, Report};

pub struct JsonEmitter;

impl Emitter for JsonEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // serde_json writes token by token; through `dyn Write` each token is a virtual call,
        // which made writing a large report cost as much as reading the capture. A concrete
        // buffer here lets those writes inline into a copy.
        let mut out = BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
        out.flush()
    }
}
