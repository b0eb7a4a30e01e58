//! `callaudit live`: the audit pipeline on packets as they arrive.
//!
//! The same [`Session`] that reads files reads the interface, so the final report is the one
//! `callaudit audit` gives for the saved packets. On top of that, a live run:
//!
//! - announces each finding the moment its proving packet is processed: the policy is run on a
//!   flow only when the flow gains its first packet of a class or its app changes, a handful of
//!   times per flow, never per packet;
//! - shows a status line on a terminal (packets, flows, findings, drops, rate), or streams JSON
//!   events (`--format jsonl`, docs/live.md);
//! - finishes flows idle for `--idle-timeout` seconds and keeps only their report, so memory is
//!   bounded by the flows still talking plus a compact report per finished flow;
//! - stops cleanly on SIGINT/SIGTERM, `--duration` or `--count` (a second Ctrl-C quits at once),
//!   prints the full report and exits with the findings' code.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::audit::{Auditor, Session};
use crate::capture::process::{ProcessTracker, SocketProtocol};
use crate::capture::{drop_privileges, LiveOptions, LiveRead, LiveSource};
use crate::classify::{FlowClass, Role};
use crate::cli::{LiveArgs, LiveFormatArg};
use crate::decode::Transport;
use crate::flow::{Endpoint, Flow};
use crate::report::redact::Redactor;
use crate::report::{FindingReport, FlowReport, Format, Report};
use crate::{fail, load_data, write_report, Data, EXIT_ERROR};

/// How often the status line and the `stats` event are refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(1);
const STATS_EVENT_EVERY: Duration = Duration::from_secs(5);
/// How often idle flows are looked for (capture time).
const EVICT_EVERY_SECS: i64 = 10;
/// The process table is re-read at most this often.
const PROCESS_REFRESH: Duration = Duration::from_millis(500);

pub fn run(args: &LiveArgs) -> ExitCode {
    let Data {
        policy,
        geo,
        catalog,
    } = match load_data(&args.data) {
        Ok(data) => data,
        Err(e) => return fail(e),
    };
    let mut source = match LiveSource::open(&LiveOptions {
        interface: args.interface.as_deref(),
        filter: args.filter.as_deref(),
        snaplen: args.snaplen,
        promiscuous: !args.no_promisc,
        save: args.save.as_deref(),
    }) {
        Ok(source) => source,
        Err(e) => return fail(e),
    };
    match drop_privileges() {
        Ok(Some(user)) => eprintln!(
            "callaudit: capturing as {user} (root dropped after opening {})",
            source.interface()
        ),
        Ok(None) => {}
        Err(e) => return fail(e),
    }

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    // A second Ctrl-C quits at once, without the report.
    let _ = ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });

    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        LiveFormatArg::Table
    } else {
        LiveFormatArg::Jsonl
    });
    let mut out = Output::new(format, args.redact);
    let started_event = match &mut out.redactor {
        // The filter may name the capturing machine's addresses; the save file's directory
        // and the interface's name are the machine's.
        Some(redactor) => json!({
            "event": "started",
            "interface": redactor.interface(source.interface()),
            "link_type": source.link_type().0,
            "filter": args.filter.as_deref().map(|filter| redactor.text(filter)),
            "save": args.save.as_ref().map(|save| redactor.path(&save.display().to_string())),
            "time": now(),
        }),
        None => json!({
            "event": "started",
            "interface": source.interface(),
            "link_type": source.link_type().0,
            "filter": args.filter,
            "save": args.save,
            "time": now(),
        }),
    };
    out.event(&started_event);

    let mut auditor = Auditor::new(&geo, &policy, &catalog);
    let mut session = auditor.session(source.link_type());
    let mut processes = ProcessTracker::new(PROCESS_REFRESH);
    let mut signatures: HashMap<usize, u8> = HashMap::new();
    let mut findings = 0usize;
    let started = Instant::now();
    let deadline = args
        .duration
        .filter(|d| *d > 0.0)
        .map(|d| started + Duration::from_secs_f64(d));
    let mut last_status = Instant::now();
    let mut last_stats_event = Instant::now();
    let mut last_eviction_secs = None;
    let mut error = None;

    while !stop.load(Ordering::SeqCst) {
        if deadline.is_some_and(|d| Instant::now() >= d)
            || args.count.is_some_and(|c| source.packets_read() >= c)
        {
            break;
        }
        let packet = match source.read() {
            Ok(LiveRead::Packet(packet)) => packet,
            Ok(LiveRead::Idle) => {
                refresh(
                    &mut out,
                    &mut source,
                    &session,
                    findings,
                    started,
                    &mut last_status,
                    &mut last_stats_event,
                );
                continue;
            }
            Err(e) => {
                error = Some(format!("{}: capture stopped: {e}", source.interface()));
                break;
            }
        };
        let time = packet.time;
        if let Some(outcome) = session.packet(&packet) {
            if outcome.new_flow {
                if let Some(flow) = session.flow(outcome.flow) {
                    let process = owner(&mut processes, flow);
                    let (client, server) = match &mut out.redactor {
                        Some(redactor) => redactor.endpoints(flow.client, flow.server),
                        None => (flow.client, flow.server),
                    };
                    out.event(&flow_started(
                        outcome.flow,
                        flow,
                        (client, server),
                        process.as_ref(),
                    ));
                    if let Some(process) = process {
                        session.set_process(outcome.flow, process);
                    }
                }
            }
            // The policy runs only when what it looks at changed.
            let changed = session
                .flow(outcome.flow)
                .map(signature)
                .is_some_and(|now| signatures.insert(outcome.flow, now) != Some(now));
            if changed {
                for finding in session.new_findings(&mut auditor, outcome.flow) {
                    if finding.allowed.is_none() {
                        findings += 1;
                    }
                    out.finding(&finding);
                }
            }
        }
        if last_eviction_secs.is_none_or(|last| time.secs.saturating_sub(last) >= EVICT_EVERY_SECS)
        {
            last_eviction_secs = Some(time.secs);
            for report in session.evict_idle(&mut auditor, time, i64::from(args.idle_timeout)) {
                out.flow_ended(&report, "idle");
            }
        }
        refresh(
            &mut out,
            &mut source,
            &session,
            findings,
            started,
            &mut last_status,
            &mut last_stats_event,
        );
    }

    out.clear_status();
    source.flush();
    let stats = source.stats();
    let name = format!("live:{}", source.interface());
    let place = session.place();
    let settled = session.settle(
        auditor.finisher(),
        place,
        name,
        source.packets_read(),
        error.clone(),
        Some(stats),
    );
    let still_live = auditor.add(settled);
    for index in still_live {
        if let Some(report) = auditor.report().flows.get(index) {
            out.flow_ended(report, "capture stopped");
        }
    }
    let mut report = auditor.finish();
    // With the placeholders the events used.
    if let Some(redactor) = &mut out.redactor {
        redactor.report(&mut report);
    }
    if let Some(error) = &error {
        eprintln!("callaudit: warning: {error}");
    }
    eprintln!(
        "callaudit: {} packets captured, {} received by libpcap, {} dropped by the kernel, {} by the interface",
        report.summary.packets, stats.received, stats.dropped, stats.interface_dropped
    );
    if let Err(e) = out.report(&report, args) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return fail(format!("standard output: {e}"));
        }
    }
    let failing = args.fail_on.threshold().is_some_and(|threshold| {
        report
            .worst_severity()
            .is_some_and(|worst| worst >= threshold)
    });
    if error.is_some() && report.summary.packets == 0 {
        return ExitCode::from(EXIT_ERROR);
    }
    ExitCode::from(if failing { crate::EXIT_FINDINGS } else { 0 })
}

/// What the policy looks at in a flow: which classes have a first packet, and whether the app
/// and hostname are known. A change means new findings may be proved.
fn signature(flow: &Flow<FlowClass>) -> u8 {
    let state = &flow.state;
    let mut bits = 0u8;
    for (bit, role) in [Role::KeyExchange, Role::Media, Role::Signaling]
        .into_iter()
        .enumerate()
    {
        if state.roles.first(role).is_some() {
            bits |= 1 << bit;
        }
    }
    if state.app.is_some() {
        bits |= 1 << 3;
    }
    if state.hostname.is_some() {
        bits |= 1 << 4;
    }
    if state.keys_in_clear.is_some() {
        bits |= 1 << 5;
    }
    if state.rtt.min_rtt_ms().is_some() {
        bits |= 1 << 6;
    }
    bits
}

/// The local program that owns the flow's client socket (the capturing machine's end).
fn owner(
    processes: &mut ProcessTracker,
    flow: &Flow<FlowClass>,
) -> Option<crate::capture::Process> {
    let protocol = match flow.transport {
        Transport::Tcp => SocketProtocol::Tcp,
        Transport::Udp => SocketProtocol::Udp,
    };
    processes
        .lookup(protocol, flow.client.ip, flow.client.port)
        .or_else(|| processes.lookup(protocol, flow.server.ip, flow.server.port))
}

/// The `flow_started` event; `endpoints` are the flow's client and server as shown (redacted
/// with `--redact`).
fn flow_started(
    index: usize,
    flow: &Flow<FlowClass>,
    (client, server): (Endpoint, Endpoint),
    process: Option<&crate::capture::Process>,
) -> serde_json::Value {
    json!({
        "event": "flow_started",
        "flow": index,
        "transport": flow.transport,
        "client": client,
        "server": server,
        "packet": flow.first_packet,
        "time": flow.first_seen,
        "process": process,
    })
}

fn now() -> String {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::capture::Timestamp::from_timeval(
        elapsed.as_secs() as i64,
        i64::from(elapsed.subsec_micros()),
    )
    .to_string()
}

/// Refreshes the status line and emits the periodic stats event.
fn refresh(
    out: &mut Output,
    source: &mut LiveSource,
    session: &Session<'_>,
    findings: usize,
    started: Instant,
    last_status: &mut Instant,
    last_stats_event: &mut Instant,
) {
    if last_status.elapsed() < STATUS_EVERY {
        return;
    }
    *last_status = Instant::now();
    let stats = source.stats();
    let (packets, flows) = session.counts();
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    let rate = source.packets_read() as f64 / seconds;
    out.status(&format!(
        "{packets} packets, {flows} flows, {findings} findings, {} dropped, {rate:.0} packets/s",
        stats.dropped + stats.interface_dropped
    ));
    if last_stats_event.elapsed() >= STATS_EVENT_EVERY {
        *last_stats_event = Instant::now();
        out.event(&json!({
            "event": "stats",
            "time": now(),
            "packets": packets,
            "flows": flows,
            "findings": findings,
            "received": stats.received,
            "dropped": stats.dropped,
            "interface_dropped": stats.interface_dropped,
            "packets_per_second": rate.round(),
        }));
    }
}

/// Where live output goes, by format.
struct Output {
    format: LiveFormatArg,
    /// A status line is shown (stderr is a terminal and the format is for people).
    status_shown: bool,
    status_enabled: bool,
    /// `--redact`: one redactor for every event and the final report, so that placeholders
    /// agree.
    redactor: Option<Redactor>,
}

impl Output {
    fn new(format: LiveFormatArg, redact: bool) -> Output {
        Output {
            format,
            status_shown: false,
            status_enabled: format != LiveFormatArg::Jsonl && io::stderr().is_terminal(),
            redactor: redact.then(Redactor::new),
        }
    }

    /// A JSON event: written only with `--format jsonl`, one object per line, flushed at once.
    fn event<T: Serialize>(&mut self, event: &T) {
        if self.format == LiveFormatArg::Jsonl {
            let mut stdout = io::stdout().lock();
            if serde_json::to_writer(&mut stdout, event).is_ok() {
                let _ = writeln!(stdout);
                let _ = stdout.flush();
            }
        }
    }

    fn finding(&mut self, finding: &FindingReport) {
        let redacted;
        let finding = match &mut self.redactor {
            Some(redactor) => {
                let mut copy = finding.clone();
                redactor.finding(&mut copy);
                redacted = copy;
                &redacted
            }
            None => finding,
        };
        match self.format {
            LiveFormatArg::Jsonl => {
                let mut value = serde_json::to_value(finding).unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert("event".into(), "finding".into());
                }
                self.event(&value);
            }
            LiveFormatArg::Table => {
                self.clear_status();
                let mut stdout = io::stdout().lock();
                let _ = writeln!(stdout, "{}", finding_line(finding));
                let _ = stdout.flush();
            }
            LiveFormatArg::Json => {
                // stdout is kept for the report's JSON.
                self.clear_status();
                eprintln!("{}", finding_line(finding));
            }
        }
    }

    fn flow_ended(&mut self, report: &FlowReport, reason: &str) {
        if self.format == LiveFormatArg::Jsonl {
            let redacted;
            let report = match &mut self.redactor {
                Some(redactor) => {
                    let mut copy = report.clone();
                    redactor.flow(&mut copy);
                    redacted = copy;
                    &redacted
                }
                None => report,
            };
            let mut value = serde_json::to_value(report).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("event".into(), "flow_ended".into());
                object.insert("reason".into(), reason.into());
            }
            self.event(&value);
        }
    }

    fn status(&mut self, line: &str) {
        if self.status_enabled {
            eprint!("\r\x1b[K{line}");
            let _ = io::stderr().flush();
            self.status_shown = true;
        }
    }

    fn clear_status(&mut self) {
        if self.status_shown {
            eprint!("\r\x1b[K");
            self.status_shown = false;
        }
    }

    fn report(&mut self, report: &Report, args: &LiveArgs) -> io::Result<()> {
        match self.format {
            LiveFormatArg::Jsonl if args.output.is_none() => {
                let mut stdout = io::stdout().lock();
                serde_json::to_writer(
                    &mut stdout,
                    &json!({ "event": "report", "report": report }),
                )?;
                writeln!(stdout)?;
                stdout.flush()
            }
            LiveFormatArg::Table => write_report(report, args.output.as_deref(), Format::Table, 1),
            _ => write_report(report, args.output.as_deref(), Format::Json, 1),
        }
    }
}

/// One line per finding, for people: time, severity, rule, server and where it is, evidence.
fn finding_line(finding: &FindingReport) -> String {
    let place = match (&finding.location, &finding.operator_country) {
        (Some(location), Some(operator)) if location != operator => {
            format!("{location} (operator {operator})")
        }
        (Some(location), _) => location.clone(),
        (None, _) => "?".into(),
    };
    let mut line = format!(
        "{} {:<8} {} {} {place}",
        finding.time,
        finding.severity.as_str().to_uppercase(),
        finding.rule,
        finding.server,
    );
    if let Some(app) = &finding.app {
        line.push_str(&format!(" app={app}"));
    }
    if let Some(host) = &finding.hostname {
        line.push_str(&format!(" host={host}"));
    }
    line.push_str(&format!(" packet #{}", finding.packet));
    if let Some(reason) = &finding.allowed {
        line.push_str(&format!(" (allowed: {reason})"));
    }
    line
}
