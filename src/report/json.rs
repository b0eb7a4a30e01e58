//! `--format json`: the report model as one JSON document (docs/json-report.md).

use std::io::{self, Write};

use super::{Emitter, Report};

pub struct JsonEmitter;

impl Emitter for JsonEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)
    }
}
