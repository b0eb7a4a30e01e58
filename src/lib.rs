//! callaudit: where do a meeting's keys and media actually go?
//!
//! callaudit reads packets from pcap/pcapng files, finds which conferencing app each flow belongs
//! to and which packets carry key exchange, media or signaling, looks up where each server is and
//! who operates it, and reports every flow that breaks a jurisdiction policy, citing the packet
//! that proves it.
//!
//! The pipeline runs one way; each stage is a module that uses only the stages to its left:
//!
//! ```text
//! capture ─▶ decode ─▶ flow ─▶ classify ─▶ geo ─▶ policy ─▶ report
//! ```
//!
//! - [`capture`]: libpcap sources (files now; live devices later), BPF filter, packet numbers.
//! - [`decode`]: etherparse lax slicing to UDP/TCP payloads; malformed packets counted.
//! - [`flow`]: bidirectional flow table; which end is the client and which the server.
//! - [`classify`]: per-packet roles, per-flow protocols, hostname and app (catalog in `data/`).
//! - [`geo`]: server country, ASN and AS organisation from an embedded MaxMind DB.
//! - [`policy`]: restricted jurisdictions and the rules that turn flows into findings.
//! - [`report`]: one report model, one emitter per format.
//!
//! [`audit`] is the glue that drives the stages for each capture; [`run`] is the command line.

pub mod audit;
pub mod baseline;
pub mod capture;
pub mod classify;
pub mod cli;
pub mod decode;
pub mod flow;
pub mod geo;
pub mod live;
pub mod lookup;
pub mod policy;
pub mod report;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use audit::{Auditor, StageTimes};
use classify::app::AppCatalog;
use cli::{
    AppsArgs, AuditArgs, BaselineCommand, Cli, Command, DataArgs, ExplainArgs, InterfacesArgs,
    LookupArgs, PolicyCommand,
};
use geo::GeoDb;
use policy::Policy;
use report::{Format, Report};

/// Exit code for a usage or input error (missing file, not a capture, bad policy or database).
pub const EXIT_ERROR: u8 = 2;
/// Exit code when findings reach `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Audit(args) => run_audit(&args),
        Command::Apps(args) => run_apps(&args),
        Command::Lookup(args) => run_lookup(&args),
        Command::Explain(args) => run_explain(&args),
        Command::Policy(command) => run_policy(&command),
        Command::Live(args) => live::run(&args),
        Command::Interfaces(args) => run_interfaces(&args),
        Command::Baseline(BaselineCommand::Write { file, audit }) => {
            run_baseline_write(&file, &audit)
        }
    }
}

fn run_baseline_write(file: &Path, args: &AuditArgs) -> ExitCode {
    if args.redact {
        // The baseline must match the real servers of later audits; it holds no client data.
        return fail(
            "--redact is for reports (audit, live): a baseline holds only rule ids, apps and \
             server addresses, which later audits must match as they are",
        );
    }
    let started = Instant::now();
    let report = match audit_report(args) {
        Ok((report, had_error, times)) if !had_error => {
            if args.timings {
                eprint!(
                    "{}",
                    timings_text(&times, &[], &report, jobs(args), started)
                );
            }
            report
        }
        Ok(_) => return ExitCode::from(EXIT_ERROR),
        Err(code) => return code,
    };
    let baseline = baseline::Baseline::from_report(&report);
    match baseline.write(file) {
        Ok(()) => {
            eprintln!(
                "callaudit: {} accepted finding(s) written to {}",
                baseline.accepted.len(),
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn run_interfaces(args: &InterfacesArgs) -> ExitCode {
    let interfaces = match capture::interfaces() {
        Ok(interfaces) => interfaces,
        Err(e) => return fail(e),
    };
    let format = args.format.map_or_else(default_format, Format::from);
    let mut out = io::stdout().lock();
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &interfaces)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        _ => {
            let mut table = comfy_table::Table::new();
            table
                .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_header([
                    "Interface",
                    "Addresses",
                    "Up",
                    "Running",
                    "Loopback",
                    "Default",
                ]);
            let yes = |b: bool| if b { "yes" } else { "-" };
            for i in &interfaces {
                let addresses: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                table.add_row([
                    i.name.clone(),
                    addresses.join(" "),
                    yes(i.up).into(),
                    yes(i.running).into(),
                    yes(i.loopback).into(),
                    yes(i.default).into(),
                ]);
            }
            writeln!(out, "{table}")
        }
    };
    finish_output(written.and_then(|()| out.flush()))
}

/// The policy, GeoIP databases and app catalog a run uses: checked before any input is read.
pub(crate) struct Data {
    policy: Policy,
    geo: GeoDb,
    catalog: AppCatalog,
}

pub(crate) fn load_data(args: &DataArgs) -> Result<Data, String> {
    let policy = match &args.policy {
        Some(path) => Policy::from_file(path),
        None => Policy::builtin(),
    }
    .map_err(|e| e.to_string())?;
    let geo = GeoDb::open(
        &args.geoip_db,
        args.asn_db.as_deref(),
        args.operator_db.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    let catalog = load_catalog(args.apps.as_deref())?;
    Ok(Data {
        policy,
        geo,
        catalog,
    })
}

fn run_lookup(args: &LookupArgs) -> ExitCode {
    let data = match load_data(&args.data) {
        Ok(data) => data,
        Err(e) => return fail(e),
    };
    let mut lookups = Vec::new();
    for text in &args.addresses {
        match text.trim().parse() {
            Ok(address) => lookups.push(lookup::lookup(address, &data.geo, &data.policy)),
            Err(_) => return fail(format!("{text:?} is not an IPv4 or IPv6 address")),
        }
    }
    let format = args.format.map_or_else(default_format, Format::from);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    finish_output(
        lookup::emit(&lookups, &data.geo, &data.policy, format, &mut out)
            .and_then(|()| out.flush()),
    )
}

fn run_explain(args: &ExplainArgs) -> ExitCode {
    let mut text = String::new();
    match &args.rule {
        Some(id) => match policy::rules::rule(id) {
            Some(rule) => text.push_str(&rule.explain()),
            None => {
                let ids: Vec<&str> = policy::rules::RULES.iter().map(|r| r.id).collect();
                return fail(format!("unknown rule {id:?}; rules are {}", ids.join(", ")));
            }
        },
        None => {
            for rule in &policy::rules::RULES {
                text.push_str(&rule.explain());
                text.push_str("\n---\n\n");
            }
        }
    }
    let mut out = io::stdout().lock();
    finish_output(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

fn run_policy(command: &PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Init { file: None } => {
            let mut out = io::stdout().lock();
            finish_output(
                out.write_all(policy::STARTER_POLICY.as_bytes())
                    .and_then(|()| out.flush()),
            )
        }
        PolicyCommand::Init { file: Some(path) } => {
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|mut file| file.write_all(policy::STARTER_POLICY.as_bytes()));
            match written {
                Ok(()) => {
                    eprintln!(
                        "callaudit: wrote {}; check it with `callaudit policy check {}`",
                        path.display(),
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fail(format!(
                    "{}: already exists; not overwritten",
                    path.display()
                )),
                Err(e) => fail(format!("{}: {e}", path.display())),
            }
        }
        PolicyCommand::Check { file } => match Policy::from_file(file) {
            Ok(policy) => {
                println!("{}: valid", file.display());
                println!(
                    "{}",
                    serde_json::to_string_pretty(&policy).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

/// Table on a terminal, JSON otherwise.
fn default_format() -> Format {
    if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    }
}

/// Exit code for a command whose output may meet a closed pipe (`| head`): quietly 0.
fn finish_output(result: io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(format!("standard output: {e}")),
    }
}

/// The embedded app catalog, with the user's file merged over it.
fn load_catalog(extra: Option<&Path>) -> Result<AppCatalog, String> {
    let mut catalog = AppCatalog::embedded()?;
    if let Some(path) = extra {
        catalog.merge(AppCatalog::from_file(path)?);
    }
    Ok(catalog)
}

fn run_apps(args: &AppsArgs) -> ExitCode {
    let catalog = match load_catalog(args.apps.as_deref()) {
        Ok(catalog) => catalog,
        Err(e) => return fail(e),
    };
    let format = args.format.map_or_else(default_format, Format::from);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    finish_output(report::apps::emit(&catalog, format, &mut out).and_then(|()| out.flush()))
}

fn error(message: impl std::fmt::Display) {
    eprintln!("callaudit: error: {message}");
}

/// Runs the audit: the finished report (baseline applied) and whether an input failed, or the
/// exit code of an error that stops the run before any report.
fn audit_report(args: &AuditArgs) -> Result<(Report, bool, StageTimes), ExitCode> {
    // Everything that can be wrong with the set-up is checked before any capture is read.
    let Data {
        policy,
        geo,
        catalog,
    } = load_data(&args.data).map_err(fail)?;
    let baseline = args
        .baseline
        .as_deref()
        .map(baseline::Baseline::read)
        .transpose()
        .map_err(fail)?;
    output_targets(args).map_err(fail)?;

    let mut had_error = false;
    let mut captures = Vec::new();
    for path in &args.paths {
        match expand_input(path) {
            Ok(found) => captures.extend(found),
            Err(message) => {
                error(message);
                had_error = true;
            }
        }
    }

    let jobs = jobs(args);
    let mut auditor = Auditor::new(&geo, &policy, &catalog);
    auditor.set_max_flows(usize::try_from(args.max_flows).unwrap_or(usize::MAX));
    let mut audited = 0usize;
    for result in auditor.audit_files(&captures, args.filter.as_deref(), jobs) {
        match result {
            Ok(()) => audited += 1,
            Err(e) => {
                error(e);
                had_error = true;
            }
        }
    }
    let times = auditor.stage_times();
    let mut report = auditor.finish();
    if let Some(baseline) = &baseline {
        baseline.apply(&mut report);
    }
    // Once, on the report, before any format is written: every format is redacted alike.
    if args.redact {
        report::redact::redact(&mut report);
    }
    for warning in &report.warnings {
        eprintln!("callaudit: warning: {warning}");
    }
    if audited == 0 {
        // Nothing was read: a report of nothing would only hide the error above.
        if !had_error {
            error("no capture files to audit");
        }
        return Err(ExitCode::from(EXIT_ERROR));
    }
    Ok((report, had_error, times))
}

fn run_audit(args: &AuditArgs) -> ExitCode {
    let started = Instant::now();
    let (report, had_error, times) = match audit_report(args) {
        Ok(result) => result,
        Err(code) => return code,
    };
    let targets = match output_targets(args) {
        Ok(targets) => targets,
        Err(e) => return fail(e),
    };
    let mut writes = Vec::new();
    for (format, output) in targets {
        let target = output
            .as_ref()
            .map_or("standard output".to_string(), |p| p.display().to_string());
        let writing = Instant::now();
        if let Err(e) = write_report(&report, output.as_deref(), format, jobs(args)) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                continue;
            }
            error(format!("{target}: {e}"));
            return ExitCode::from(EXIT_ERROR);
        }
        writes.push((format, target, writing.elapsed()));
    }
    if args.timings {
        eprint!(
            "{}",
            timings_text(&times, &writes, &report, jobs(args), started)
        );
    }
    if had_error {
        return ExitCode::from(EXIT_ERROR);
    }
    let failing = args.fail_on.threshold().is_some_and(|threshold| {
        report
            .worst_severity()
            .is_some_and(|worst| worst >= threshold)
    });
    // The process ends next: freeing a report of tens of thousands of flows string by string
    // would only delay the exit (measurably, on big captures); the OS takes it back at once.
    std::mem::forget(report);
    ExitCode::from(if failing { EXIT_FINDINGS } else { 0 })
}

/// `--timings`: how long each stage took, per packet or per flow, whichever it grows with.
fn timings_text(
    times: &StageTimes,
    writes: &[(Format, String, Duration)],
    report: &Report,
    jobs: usize,
    started: Instant,
) -> String {
    let packets = report.summary.packets;
    let flows = report.flows.len() as u64;
    let each =
        |time: Duration, count: u64, unit: f64| time.as_secs_f64() * unit / count.max(1) as f64;
    let summed = if jobs > 1 && report.captures.len() > 1 {
        "; summed over captures read at once"
    } else {
        ""
    };
    let mut text = String::from("callaudit: timings:\n");
    text += &format!(
        "  reading packets  {:.3} s  ({packets} packets, {:.0} ns each{summed})\n",
        times.reading.as_secs_f64(),
        each(times.reading, packets, 1e9),
    );
    text += &format!(
        "  settling flows   {:.3} s  ({flows} flows, {:.2} µs each{summed})\n",
        times.settling.as_secs_f64(),
        each(times.settling, flows, 1e6),
    );
    for (format, target, time) in writes {
        text += &format!(
            "  writing {:<8} {:.3} s  ({target}, {:.2} µs per flow)\n",
            format.name(),
            time.as_secs_f64(),
            each(*time, flows, 1e6),
        );
    }
    text += &format!(
        "  in all           {:.3} s\n",
        started.elapsed().as_secs_f64()
    );
    text
}

pub(crate) fn fail(message: impl std::fmt::Display) -> ExitCode {
    error(message);
    ExitCode::from(EXIT_ERROR)
}

/// Where the report goes, in which formats: each `--output [FORMAT=]FILE`, or standard output
/// in `--format` (table on a terminal, JSON otherwise).
fn output_targets(args: &AuditArgs) -> Result<Vec<(Format, Option<PathBuf>)>, String> {
    if args.output.is_empty() {
        let format = args.format.map_or_else(default_format, Format::from);
        return Ok(vec![(format, None)]);
    }
    args.output
        .iter()
        .map(|spec| {
            if let Some((name, file)) = spec.split_once('=') {
                if let Ok(format) = <cli::FormatArg as clap::ValueEnum>::from_str(name, true) {
                    return Ok((format.into(), Some(PathBuf::from(file))));
                }
            }
            let path = PathBuf::from(spec);
            let format = args
                .format
                .map(Format::from)
                .or_else(|| Format::from_extension(&path))
                .unwrap_or(Format::Table);
            Ok((format, Some(path)))
        })
        .collect()
}

/// `--jobs`, or the number of CPUs.
fn jobs(args: &AuditArgs) -> usize {
    args.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1)
}

/// Writes the report in one format to a file or standard output, on up to `threads` threads.
pub(crate) fn write_report(
    report: &Report,
    output: Option<&Path>,
    format: Format,
    threads: usize,
) -> io::Result<()> {
    let emitter = format.emitter(threads);
    match output {
        Some(path) => {
            let mut out = BufWriter::new(File::create(path)?);
            emitter.emit(report, &mut out)?;
            out.flush()
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            emitter.emit(report, &mut out)?;
            out.flush()
        }
    }
}

/// File extensions searched for inside directories.
const CAPTURE_EXTENSIONS: [&str; 3] = ["pcap", "pcapng", "cap"];

/// A file as given, or the captures found under a directory (sorted, recursive).
fn expand_input(path: &Path) -> Result<Vec<PathBuf>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        format!(
            "{}: {}",
            path.display(),
            if e.kind() == io::ErrorKind::NotFound {
                "no such file or directory".to_string()
            } else {
                e.to_string()
            }
        )
    })?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    collect_captures(path, &mut found).map_err(|e| format!("{}: {e}", path.display()))?;
    if found.is_empty() {
        return Err(format!(
            "{}: no *.pcap, *.pcapng or *.cap files in this directory",
            path.display()
        ));
    }
    found.sort();
    Ok(found)
}

fn collect_captures(dir: &Path, found: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // `file_type` does not follow symlinks, so a link cycle cannot recurse forever.
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_captures(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| CAPTURE_EXTENSIONS.iter().any(|c| c.eq_ignore_ascii_case(e)))
        {
            found.push(path);
        }
    }
    Ok(())
}
