//! The pipeline glue: runs capture → decode → flow → classify → geo → policy for each capture
//! and collects the results into one [`Report`].
//!
//! This is the only module that knows every stage; the stages themselves only look left.
//! [`Auditor`] holds what a run shares (databases, policy, the report being built); a
//! [`Session`] is one capture being read, packet by packet. Saved files are read to the end and
//! then finished; a live capture (`live.rs`) also asks its session for findings as soon as a
//! packet proves them, and evicts idle flows so that hours-long runs stay small. Either way a
//! session keeps at most `--max-flows` flows live (live capture: the default): the flow table
//! evicts the least recently seen, which the session finishes at once and settles with the
//! others at the end
//! (docs/robustness.md).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::capture::{
    CaptureError, CapturedPacket, FileSource, LinkType, LiveStats, Process, Read, Timestamp,
};
use crate::classify::app::AppCatalog;
use crate::classify::{Classifier, FlowClass, HostnameSource, PacketRef, Protocol, Role};
use crate::decode::{self, DecodeStats, Decoded};
use crate::flow::{Direction, Flow, FlowTable, DEFAULT_MAX_FLOWS};
use crate::geo::{GeoDb, ServerGeo};
use crate::policy::{Finding, FlowFacts, Policy};
use crate::report::{
    ByteCounts, CaptureSummary, ClientReport, FindingReport, FirstPackets, FlowReport, Flows,
    MalformedCount, PacketCounts, Report, ServerReport, Summary, Tool, SCHEMA_VERSION,
};

/// Audits captures into one report.
pub struct Auditor<'a> {
    finisher: Finisher<'a>,
    report: Report,
    decode_stats: DecodeStats,
    /// The flow-table cap of each capture's session (`--max-flows`).
    max_flows: usize,
    stage_times: StageTimes,
}

/// How long reading and settling captures took (`--timings`), summed over captures: with
/// `--jobs`, captures read at the same time each add their own time.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Reading packets: the file's reads, decode, flow lookup, classification.
    pub reading: Duration,
    /// Settling flows: geolocation, policy, flow reports and findings.
    pub settling: Duration,
}

impl StageTimes {
    fn add(&mut self, other: StageTimes) {
        self.reading += other.reading;
        self.settling += other.settling;
    }
}

/// Server addresses whose place (geolocation, policy network) is cached per settling thread.
/// Past this many distinct addresses a place is looked up again each time instead of cached:
/// a capture with millions of servers cannot grow the cache, at the price of a second lookup
/// per flow. An entry is a few hundred bytes (a place's names), so the cache stays near 20 MB.
pub const MAX_CACHED_PLACES: usize = 1 << 16;

/// What settling a flow needs: location, policy, catalog. Each thread that settles captures
/// has its own, so only the address cache is repeated.
#[derive(Clone)]
pub struct Finisher<'a> {
    geo: &'a GeoDb,
    policy: &'a Policy,
    catalog: &'a AppCatalog,
    /// Where each server address is: looked up once per address per thread. foldhash, seeded
    /// at random per process like the flow index, because this is consulted for every flow.
    places: HashMap<IpAddr, Place, foldhash::fast::RandomState>,
}

impl<'a> Auditor<'a> {
    pub fn new(geo: &'a GeoDb, policy: &'a Policy, catalog: &'a AppCatalog) -> Auditor<'a> {
        Auditor {
            finisher: Finisher {
                geo,
                policy,
                catalog,
                places: HashMap::default(),
            },
            report: Report {
                schema_version: SCHEMA_VERSION,
                tool: Tool::default(),
                captures: Vec::new(),
                databases: geo.databases(),
                policy: policy.clone(),
                summary: Summary::default(),
                findings: Vec::new(),
                allowed: Vec::new(),
                baselined: Vec::new(),
                flows: Flows::default(),
                warnings: Vec::new(),
            },
            decode_stats: DecodeStats::default(),
            max_flows: DEFAULT_MAX_FLOWS,
            stage_times: StageTimes::default(),
        }
    }

    /// Sets the most flows a capture keeps live at once (`--max-flows`, default
    /// [`DEFAULT_MAX_FLOWS`]); past it, the least recently seen flows are finished early.
    pub fn set_max_flows(&mut self, max_flows: usize) {
        self.max_flows = max_flows.max(1);
    }

    /// Reads one capture to its end (or to the damage that ends it) and adds its flows and
    /// findings to the report. A capture that cannot be opened is an error; one damaged part
    /// way through gives what could be read plus a warning.
    pub fn audit_file(&mut self, path: &Path, filter: Option<&str>) -> Result<(), CaptureError> {
        let started = Instant::now();
        let read = read_capture(path, filter, self.finisher.catalog, self.max_flows)?;
        let read_at = Instant::now();
        let place = self.next_place();
        let settled = read.settle(&mut self.finisher, place);
        self.stage_times.add(StageTimes {
            reading: read_at - started,
            settling: read_at.elapsed(),
        });
        self.add(settled);
        Ok(())
    }

    /// How long reading and settling the captures took so far.
    pub fn stage_times(&self) -> StageTimes {
        self.stage_times
    }

    /// Reads captures on up to `jobs` threads and adds them to the report in input order, so
    /// the report is the same whatever `jobs` is. Reading and settling a capture (packets,
    /// then geolocation and policy for its flows) run in parallel; a capture is settled once
    /// the captures before it are read, because its flows' report indices (cited in evidence)
    /// follow theirs. Adding settled captures to the report runs here, in order. One result
    /// per path.
    pub fn audit_files(
        &mut self,
        paths: &[PathBuf],
        filter: Option<&str>,
        jobs: usize,
    ) -> Vec<Result<(), CaptureError>> {
        if jobs <= 1 || paths.len() <= 1 {
            return paths
                .iter()
                .map(|path| self.audit_file(path, filter))
                .collect();
        }
        let finisher = self.finisher.clone();
        let max_flows = self.max_flows;
        let places = Places::new(paths.len(), self.next_place());
        let next = AtomicUsize::new(0);
        let mut results: Vec<Option<Result<(), CaptureError>>> =
            paths.iter().map(|_| None).collect();
        std::thread::scope(|scope| {
            let (sender, receiver) = mpsc::channel();
            for _ in 0..jobs.min(paths.len()) {
                let sender = sender.clone();
                let (next, places) = (&next, &places);
                let mut finisher = finisher.clone();
                scope.spawn(move || loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(index) else {
                        break;
                    };
                    let started = Instant::now();
                    let read = read_capture(path, filter, finisher.catalog, max_flows);
                    let mut times = StageTimes {
                        reading: started.elapsed(),
                        settling: Duration::ZERO,
                    };
                    places.publish(index, read.as_ref().ok().map(ReadCapture::flows));
                    let settled = read.map(|read| {
                        let place = places.wait_for(index);
                        // Waiting for the captures before this one is neither stage.
                        let settle_at = Instant::now();
                        let settled = read.settle(&mut finisher, place);
                        times.settling = settle_at.elapsed();
                        settled
                    });
                    if sender.send((index, times, settled)).is_err() {
                        break;
                    }
                });
            }
            drop(sender);
            // Finish in input order: hold a capture read early until those before it are done.
            let mut waiting = BTreeMap::new();
            let mut expected = 0;
            for (index, times, read) in receiver {
                self.stage_times.add(times);
                waiting.insert(index, read);
                while let Some(settled) = waiting.remove(&expected) {
                    results[expected] = Some(settled.map(|settled| {
                        self.add(settled);
                    }));
                    expected += 1;
                }
            }
        });
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(CaptureError {
                        path: PathBuf::new(),
                        problem: "not read".into(),
                    })
                })
            })
            .collect()
    }

    /// A session for the next capture of the run.
    pub fn session(&self, link_type: LinkType) -> Session<'a> {
        Session::new(
            self.finisher.catalog,
            link_type,
            self.next_place(),
            self.max_flows,
        )
    }

    /// Where the next capture added goes in the report.
    fn next_place(&self) -> ReportPlace {
        ReportPlace {
            capture: self.report.captures.len(),
            first_flow: self.report.flows.len(),
        }
    }

    /// Adds a settled capture, placed by [`Auditor::next_place`], to the report. Returns the
    /// report indices of the flows that were still live when it was settled, and of those the
    /// full flow table evicted (neither was announced as ended before).
    pub fn add(&mut self, settled: SettledCapture) -> Vec<usize> {
        let report = &mut self.report;
        if let Some(warning) = &settled.capture.warning {
            report
                .warnings
                .push(format!("{}: {warning}", settled.capture.path));
        }
        for bound in &settled.bounds_hit {
            report
                .warnings
                .push(format!("{}: {bound}", settled.capture.path));
        }
        report.captures.push(settled.capture);
        report.summary.packets += settled.packets;
        report.summary.decoded += settled.decoded;
        report.summary.evicted_flows += settled.evicted_flows;
        self.decode_stats.merge(&settled.decode_stats);
        report.flows.append(settled.flows);
        for finding in settled.findings {
            if finding.allowed.is_some() {
                report.allowed.push(finding);
            } else {
                report.findings.push(finding);
            }
        }
        settled.still_live
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    /// For settling a live session.
    pub fn finisher(&mut self) -> &mut Finisher<'a> {
        &mut self.finisher
    }

    pub fn decode_stats(&self) -> &DecodeStats {
        &self.decode_stats
    }

    /// The finished report: findings sorted, summary filled in.
    pub fn finish(mut self) -> Report {
        let report = &mut self.report;
        report.findings = most_severe_first(std::mem::take(&mut report.findings));
        let summary = &mut report.summary;
        summary.captures = report.captures.len();
        summary.flows = report.flows.len();
        summary.malformed = self.decode_stats.malformed_total();
        summary.malformed_by_reason = MalformedCount::from_map(&self.decode_stats.malformed);
        summary.skipped = self.decode_stats.skipped.clone();
        summary.findings = report.findings.len();
        summary.allowed = report.allowed.len();
        for finding in &report.findings {
            *summary
                .findings_by_severity
                .entry(finding.severity)
                .or_default() += 1;
        }
        self.report
    }
}

/// Findings most severe first, then by flow and packet, otherwise in the order given. A
/// finding is a few hundred bytes and a big capture has tens of thousands: their sort keys are
/// sorted, and then the findings are put in that order in place, a swap each at most (moving
/// them into a new vector instead cost fresh pages, a page fault per 4 KiB, on the one thread
/// that finishes the report).
fn most_severe_first(mut findings: Vec<FindingReport>) -> Vec<FindingReport> {
    let mut order: Vec<_> = findings
        .iter()
        .enumerate()
        .map(|(index, f)| (Reverse(f.severity), f.flow, f.packet, index))
        .collect();
    // The index makes every key distinct: as stable as a stable sort.
    order.sort_unstable();
    put_in_order(
        &mut findings,
        order.into_iter().map(|(.., index)| index).collect(),
    );
    findings
}

/// Reorders `items` in place so that `items[at]` becomes the item that was at `source[at]`, a
/// swap per item at most. `source` must hold every index of `items` once.
fn put_in_order<T>(items: &mut [T], mut source: Vec<usize>) {
    debug_assert_eq!(items.len(), source.len());
    // `source[at]` is set to PLACED once `items[at]` holds its item.
    const PLACED: usize = usize::MAX;
    for start in 0..source.len() {
        // One cycle of the permutation: the item first at `start` moves along it.
        let mut at = start;
        while source[at] != PLACED {
            let from = source[at];
            source[at] = PLACED;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

impl Finisher<'_> {
    /// The server's location and operator, with the policy's `networks` applied over GeoIP:
    /// looked up once per address.
    fn place(&mut self, ip: IpAddr) -> Place {
        if let Some(place) = self.places.get(&ip) {
            return place.clone();
        }
        let mut geo = self.geo.lookup(ip);
        let network = self.policy.network(ip).map(|n| {
            geo.country = Some(n.country.clone());
            geo.special = None;
            n.label.clone()
        });
        let place = Place { geo, network };
        if self.places.len() < MAX_CACHED_PLACES {
            self.places.insert(ip, place.clone());
        }
        place
    }

    /// The server's AS number, from the same cache as [`Finisher::place`] but without copying
    /// the place out of it.
    fn asn(&mut self, ip: IpAddr) -> Option<u32> {
        match self.places.get(&ip) {
            Some(place) => place.geo.asn,
            None => self.place(ip).geo.asn,
        }
    }

    /// Where the flow's server is, and the flow's findings.
    fn evaluate(&mut self, flow: &Flow<FlowClass>, index: usize) -> (Located, Vec<Finding>) {
        let place = self.place(flow.server.ip);
        let rtt_ms = flow.state.rtt.min_rtt_ms();
        let plausible = self.policy.location_plausible(&place.geo, rtt_ms);
        let app = flow
            .state
            .app
            .as_ref()
            .and_then(|m| self.catalog.get(m.app))
            .map(|a| a.id.as_str());
        let facts = FlowFacts {
            flow: index,
            transport: flow.transport,
            app,
            hostname: flow.state.hostname.as_ref().map(|(name, _)| name.as_str()),
            server: flow.server,
            first_packet: PacketRef {
                number: flow.first_packet,
                time: flow.first_seen,
            },
            first_of_class: [
                flow.state.roles.first(Role::KeyExchange),
                flow.state.roles.first(Role::Media),
                flow.state.roles.first(Role::Signaling),
            ],
            geo: &place.geo,
            network_label: place.network.as_deref(),
            rtt_ms,
            plausible,
            tls_version: flow.state.handshake.version,
            srtp_profile: flow.state.handshake.srtp_profile,
            keys_in_clear: flow.state.keys_in_clear,
        };
        let mut findings = Vec::new();
        self.policy.evaluate(&facts, &mut findings);
        let located = Located {
            place,
            rtt_ms,
            plausible,
        };
        (located, findings)
    }
}

/// Where a capture's flows go in the report: its capture index and its first flow's index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportPlace {
    pub capture: usize,
    pub first_flow: usize,
}

/// The report places of captures read in parallel. Capture `i`'s place is known once every
/// capture before it has been read (a capture that could not be read takes no place).
/// Captures are handed out in order, so a worker only ever waits for captures already being
/// read.
struct Places {
    /// Flows of each capture read so far; `Some(None)` for one that could not be read.
    flows: Mutex<Vec<Option<Option<usize>>>>,
    read: Condvar,
    start: ReportPlace,
}

impl Places {
    fn new(captures: usize, start: ReportPlace) -> Places {
        Places {
            flows: Mutex::new(vec![None; captures]),
            read: Condvar::new(),
            start,
        }
    }

    fn publish(&self, index: usize, flows: Option<usize>) {
        let mut known = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        known[index] = Some(flows);
        self.read.notify_all();
    }

    fn wait_for(&self, index: usize) -> ReportPlace {
        let mut known = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        while known[..index].iter().any(Option::is_none) {
            known = self.read.wait(known).unwrap_or_else(|e| e.into_inner());
        }
        known[..index]
            .iter()
            .flatten()
            .flatten()
            .fold(self.start, |place, flows| ReportPlace {
                capture: place.capture + 1,
                first_flow: place.first_flow + flows,
            })
    }
}

/// A capture file read to its end, to be finished into the report.
struct ReadCapture<'c> {
    session: Session<'c>,
    name: String,
    packets_read: u64,
    warning: Option<String>,
}

impl ReadCapture<'_> {
    /// Flows the capture will add to the report.
    fn flows(&self) -> usize {
        self.session.table.created()
    }

    fn settle(self, finisher: &mut Finisher<'_>, place: ReportPlace) -> SettledCapture {
        self.session.settle(
            finisher,
            place,
            self.name,
            self.packets_read,
            self.warning,
            None,
        )
    }
}

/// A capture read and settled, numbered for its place in the report, ready for
/// [`Auditor::add`].
pub struct SettledCapture {
    capture: CaptureSummary,
    packets: u64,
    decoded: u64,
    decode_stats: DecodeStats,
    flows: Vec<FlowReport>,
    /// Findings and allowed findings, in flow order.
    findings: Vec<FindingReport>,
    still_live: Vec<usize>,
    /// Flows finished early because the flow table was full.
    evicted_flows: usize,
    /// Bounds the capture reached (flow table, reassembly budget, DNS names), one line each for
    /// the warnings.
    bounds_hit: Vec<String>,
}

/// Reads a capture file through the packet stages (decode, flow, classify).
fn read_capture<'c>(
    path: &Path,
    filter: Option<&str>,
    catalog: &'c AppCatalog,
    max_flows: usize,
) -> Result<ReadCapture<'c>, CaptureError> {
    let mut source = FileSource::open(path, filter)?;
    let mut session = Session::new(
        catalog,
        source.link_type(),
        ReportPlace::default(),
        max_flows,
    );
    let mut warning = None;
    loop {
        match source.read() {
            Ok(Read::Packet(packet)) => {
                session.packet(&packet);
            }
            Ok(Read::FilteredOut) => continue,
            Ok(Read::End) => break,
            Err(problem) => {
                warning = Some(format!(
                    "capture damaged after packet {}: {problem}; results cover the packets before it",
                    source.packets_read()
                ));
                break;
            }
        }
    }
    Ok(ReadCapture {
        session,
        name: path.display().to_string(),
        packets_read: source.packets_read(),
        warning,
    })
}

/// What a packet did to its flow, for a live capture's events.
pub struct PacketOutcome {
    /// The flow's report index.
    pub flow: usize,
    pub new_flow: bool,
}

/// A flow finished early (evicted) or at the end, waiting for its place in the report.
struct FinishedFlow {
    report: FlowReport,
    findings: Vec<FindingReport>,
}

/// One capture being read.
pub struct Session<'c> {
    link_type: LinkType,
    /// Where the capture goes in the report; for a file read in parallel, known only when it is
    /// settled.
    place: ReportPlace,
    table: FlowTable<FlowClass>,
    classifier: Classifier<'c>,
    /// Packets analysed (passed the filter).
    packets: u64,
    /// Packets decoded to UDP/TCP, and what the decoder did not pass on.
    decoded: u64,
    decode_stats: DecodeStats,
    /// Flows evicted before the end, by flow number.
    done: BTreeMap<usize, FinishedFlow>,
    /// Flows the table evicted because it was full: finished by the classifier (handshake
    /// readers and pending RTP freed) and kept, small, to be settled with the others at the end,
    /// so that labels still pass between them and the flows that stayed.
    retired: Vec<Flow<FlowClass>>,
    /// Live: findings already announced, by flow number and rule.
    emitted: HashSet<(usize, &'static str)>,
    /// Live: the local program that owns each flow's socket, by flow number.
    processes: HashMap<usize, Process>,
}

impl<'c> Session<'c> {
    fn new(
        catalog: &'c AppCatalog,
        link_type: LinkType,
        place: ReportPlace,
        max_flows: usize,
    ) -> Session<'c> {
        Session {
            link_type,
            place,
            table: FlowTable::with_max_flows(max_flows),
            classifier: Classifier::new(catalog),
            packets: 0,
            decoded: 0,
            decode_stats: DecodeStats::default(),
            done: BTreeMap::new(),
            retired: Vec::new(),
            emitted: HashSet::new(),
            processes: HashMap::new(),
        }
    }

    /// Decodes and classifies one packet. `None` for packets that are not UDP/TCP over IP.
    pub fn packet(&mut self, packet: &CapturedPacket<'_>) -> Option<PacketOutcome> {
        self.packets += 1;
        let decoded = match decode::decode(self.link_type, packet) {
            Decoded::Packet(decoded) => decoded,
            // Only what was not decoded is counted by reason: a call per packet to record
            // nothing cost more than the counting.
            other => {
                self.decode_stats.record(&other);
                return None;
            }
        };
        self.decoded += 1;
        let at = PacketRef {
            number: packet.number,
            time: packet.time,
        };
        let created = self.table.created();
        let classifier = &mut self.classifier;
        let (flow, direction) =
            self.table
                .observe(&decoded, at.number, at.time, |client, server, transport| {
                    classifier.new_flow(client, server, transport)
                });
        self.classifier
            .classify(&mut flow.state, direction, &decoded, at);
        let flow = self.place.first_flow + flow.number;
        let new_flow = self.table.created() > created;
        if new_flow {
            // Only a new flow can have made the table evict.
            self.retire_evicted();
        }
        Some(PacketOutcome { flow, new_flow })
    }

    /// Finishes the flows the table evicted to make room (classification settled, handshake
    /// readers freed) and keeps them for [`Session::settle`].
    fn retire_evicted(&mut self) {
        let evicted = self.table.take_evicted();
        if evicted.is_empty() {
            return;
        }
        self.retired.reserve(evicted.len());
        for mut flow in evicted {
            self.classifier.finish(&mut flow.state, &flow.server);
            self.retired.push(flow);
        }
    }

    /// Live: the findings a flow proves now that were not announced before. Cheap unless the
    /// flow has a first packet of a class or a new app (the policy runs once per such change).
    pub fn new_findings(
        &mut self,
        auditor: &mut Auditor<'_>,
        flow_index: usize,
    ) -> Vec<FindingReport> {
        let number = flow_index - self.place.first_flow;
        let Some(flow) = self.table.get_by_number(number) else {
            return Vec::new();
        };
        let (located, findings) = auditor.finisher.evaluate(flow, flow_index);
        let fresh: Vec<Finding> = findings
            .into_iter()
            .filter(|f| self.emitted.insert((number, f.rule)))
            .collect();
        if fresh.is_empty() {
            return Vec::new();
        }
        let report = flow_report(
            self.place.capture,
            flow,
            FlowTexts::copy(&flow.state),
            located,
            auditor.finisher.catalog,
            self.processes.get(&number),
        );
        fresh
            .into_iter()
            .map(|finding| finding_report(self.place.capture, finding, &report))
            .collect()
    }

    /// Live: records which local program owns a flow.
    pub fn set_process(&mut self, flow_index: usize, process: Process) {
        self.processes
            .insert(flow_index - self.place.first_flow, process);
    }

    /// The current flow of a report index, for live events.
    pub fn flow(&self, flow_index: usize) -> Option<&Flow<FlowClass>> {
        self.table
            .get_by_number(flow_index.checked_sub(self.place.first_flow)?)
    }

    /// Live: finishes the flows idle for more than `idle_secs` and keeps only their report.
    pub fn evict_idle(
        &mut self,
        auditor: &mut Auditor<'_>,
        now: Timestamp,
        idle_secs: i64,
    ) -> Vec<FlowReport> {
        let mut evicted = Vec::new();
        let idle = self.table.evict_idle(now, idle_secs);
        if idle.is_empty() {
            return evicted;
        }
        for mut flow in idle {
            self.classifier.finish(&mut flow.state, &flow.server);
            let finished = self.finish_flow(&mut auditor.finisher, &mut flow);
            evicted.push(finished.report.clone());
            self.done.insert(flow.number, finished);
            // A finished flow gets no more packets: what was kept to announce it goes too.
            self.processes.remove(&flow.number);
        }
        let done = &self.done;
        self.emitted
            .retain(|(number, _)| !done.contains_key(number));
        evicted
    }

    /// Where this session's capture goes in the report.
    pub fn place(&self) -> ReportPlace {
        self.place
    }

    /// Packets analysed so far, flows so far.
    pub fn counts(&self) -> (u64, usize) {
        (self.packets, self.table.created())
    }

    /// The report and findings of a flow that gets no more packets. Its strings move into the
    /// report.
    fn finish_flow(
        &mut self,
        finisher: &mut Finisher<'_>,
        flow: &mut Flow<FlowClass>,
    ) -> FinishedFlow {
        let index = self.place.first_flow + flow.number;
        let (located, findings) = finisher.evaluate(flow, index);
        let texts = FlowTexts::take(&mut flow.state);
        let report = flow_report(
            self.place.capture,
            flow,
            texts,
            located,
            finisher.catalog,
            self.processes.get(&flow.number),
        );
        let findings = findings
            .into_iter()
            .map(|finding| finding_report(self.place.capture, finding, &report))
            .collect();
        FinishedFlow { report, findings }
    }

    /// Reports each flow and its findings, in flow order. Each report takes its flow's place in
    /// memory (std collects a `Vec` mapped into a type no larger, of the same alignment, in
    /// place): settling needs no second block as large as the flows, nor the kernel's fresh
    /// pages for one (70 MB and 18,000 page faults with 100,000 flows).
    fn finish_flows(
        &mut self,
        finisher: &mut Finisher<'_>,
        flows: Vec<Flow<FlowClass>>,
    ) -> (Vec<FlowReport>, Vec<FindingReport>) {
        const {
            assert!(
                size_of::<FlowReport>() <= size_of::<Flow<FlowClass>>()
                    && align_of::<FlowReport>() == align_of::<Flow<FlowClass>>(),
                "a flow's report must fit in its flow's place: see finish_flows"
            );
        }
        let mut findings = Vec::new();
        let reports = flows
            .into_iter()
            .map(|mut flow| {
                let finished = self.finish_flow(finisher, &mut flow);
                findings.extend(finished.findings);
                finished.report
            })
            .collect();
        (reports, findings)
    }

    /// Settles every remaining flow (labels propagated between them): the capture's flows and
    /// findings, numbered for `place` in the report, for [`Auditor::add`].
    pub fn settle(
        mut self,
        finisher: &mut Finisher<'_>,
        place: ReportPlace,
        name: String,
        packets_read: u64,
        warning: Option<String>,
        live: Option<LiveStats>,
    ) -> SettledCapture {
        // Files read in parallel are placed only now; a live session keeps its place.
        self.place = place;
        let evicted_flows = self.table.evicted();
        let max_flows = self.table.max_flows();
        let mut flows = std::mem::take(&mut self.table).into_flows();
        if !self.retired.is_empty() {
            // Flows evicted when the table was full are settled with the others, in flow order
            // (their classification was finished when they were evicted; finishing again only
            // adds DNS names seen since). The live flows, at most `max_flows`, join the retired
            // ones rather than the other way round, which would copy them all.
            let live = flows;
            flows = std::mem::take(&mut self.retired);
            flows.extend(live);
            flows.sort_unstable_by_key(|flow| flow.number);
        }
        let mut bounds_hit = Vec::new();
        if evicted_flows > 0 {
            bounds_hit.push(format!(
                "{evicted_flows} flow(s) evicted to keep at most {max_flows} live \
                 (--max-flows): each is reported as it stood when evicted, and a later packet of \
                 the same 5-tuple starts a new flow"
            ));
        }
        let given_up = self.classifier.reassembly_given_up();
        if given_up > 0 {
            bounds_hit.push(format!(
                "{given_up} handshake(s) not read to the end: the capture's handshake \
                 reassembly buffers reached their bound of {} MiB, so those flows may lack a \
                 server name or certificate",
                crate::classify::MAX_REASSEMBLY_BYTES >> 20
            ));
        }
        let dropped_names = self.classifier.dns_addresses_dropped();
        if dropped_names > 0 {
            bounds_hit.push(format!(
                "{dropped_names} DNS answer(s) naming a new address were not remembered: at most \
                 {} addresses are kept per capture, so flows to the others may lack a hostname",
                crate::classify::MAX_RESOLVED_ADDRESSES
            ));
        }
        for flow in &mut flows {
            self.classifier.finish(&mut flow.state, &flow.server);
            if let Some(asn) = finisher.asn(flow.server.ip) {
                self.classifier.attribute_by_asn(&mut flow.state, asn);
            }
        }
        self.classifier.propagate(&mut flows, self.place.first_flow);
        let numbers: Vec<usize> = flows.iter().map(|flow| flow.number).collect();
        let (mut reports, mut findings) = self.finish_flows(finisher, flows);
        if !self.done.is_empty() {
            // Flows evicted earlier (live captures) take their place by flow number.
            let mut numbered: Vec<(usize, FlowReport)> =
                numbers.iter().copied().zip(reports).collect();
            for (number, earlier) in std::mem::take(&mut self.done) {
                numbered.push((number, earlier.report));
                findings.extend(earlier.findings);
            }
            numbered.sort_unstable_by_key(|(number, _)| *number);
            // Stable: a flow's findings keep their order.
            findings.sort_by_key(|finding| finding.flow);
            reports = numbered.into_iter().map(|(_, report)| report).collect();
        }
        SettledCapture {
            capture: CaptureSummary {
                path: name,
                link_type: self.link_type.0,
                packets_read,
                packets: self.packets,
                warning,
                live,
            },
            packets: self.packets,
            decoded: self.decoded,
            decode_stats: self.decode_stats,
            flows: reports,
            findings,
            still_live: numbers
                .into_iter()
                .map(|number| self.place.first_flow + number)
                .collect(),
            evicted_flows,
            bounds_hit,
        }
    }
}

/// Where a server is, after the policy's networks.
#[derive(Clone)]
struct Place {
    geo: ServerGeo,
    /// The label of the policy network holding the address.
    network: Option<String>,
}

/// Where a flow's server is, and whether the flow's round-trip time allows it.
struct Located {
    place: Place,
    rtt_ms: Option<f64>,
    /// `None` without a vantage point, a round-trip time or a location to check.
    plausible: Option<bool>,
}

/// The strings of a flow's class that its report holds: moved out of a flow that is finished,
/// copied from one still live.
struct FlowTexts {
    hostname: Option<(String, HostnameSource)>,
    alpn: Vec<String>,
    certificate: Option<String>,
}

impl FlowTexts {
    fn take(class: &mut FlowClass) -> FlowTexts {
        FlowTexts {
            hostname: class.hostname.take(),
            alpn: std::mem::take(&mut class.handshake.alpn),
            certificate: class.handshake.certificate.take(),
        }
    }

    fn copy(class: &FlowClass) -> FlowTexts {
        FlowTexts {
            hostname: class.hostname.clone(),
            alpn: class.handshake.alpn.clone(),
            certificate: class.handshake.certificate.clone(),
        }
    }
}

fn flow_report(
    capture: usize,
    flow: &Flow<FlowClass>,
    texts: FlowTexts,
    located: Located,
    catalog: &AppCatalog,
    process: Option<&Process>,
) -> FlowReport {
    let Located {
        place,
        rtt_ms,
        plausible,
    } = located;
    let geo = place.geo;
    let class = &flow.state;
    let roles = &class.roles;
    let to_server = flow.counters[Direction::ToServer.index()];
    let to_client = flow.counters[Direction::ToClient.index()];
    let (hostname, hostname_source) = texts.hostname.unzip();
    FlowReport {
        capture,
        transport: flow.transport,
        client: ClientReport {
            ip: flow.client.ip,
            port: flow.client.port,
        },
        server: ServerReport {
            ip: flow.server.ip,
            port: flow.server.port,
            country: geo.country,
            asn: geo.asn,
            as_org: geo.as_org,
            special: geo.special,
            role: class.server_role,
            operator_country: geo.operator_country,
            network: place.network,
            anycast: geo.anycast,
            disagreement: geo.disagreement,
            rtt_ms: rtt_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            location_plausible: plausible,
        },
        orientation: flow.orientation,
        process: process.cloned(),
        hostname,
        hostname_source,
        app: class
            .app
            .as_ref()
            .and_then(|m| catalog.get(m.app))
            .map(|app| app.id.clone()),
        app_evidence: class.app.as_ref().map(|m| m.text(evidence_protocol(class))),
        app_evidence_packet: class.app.as_ref().and_then(|m| m.packet),
        confidence: class.app.as_ref().map(|m| m.kind.confidence()),
        media_kinds: class.media_kinds.iter().collect(),
        alpn: texts.alpn,
        certificate: texts.certificate,
        srtp_profile: class
            .handshake
            .srtp_profile
            .and_then(crate::classify::dtls::srtp_profile_name),
        announced_by: class.announced_by,
        tls_version: class.handshake.version.and_then(version_name),
        protocols: class.protocols.iter().map(|p| p.as_str()).collect(),
        packets: PacketCounts {
            total: flow.packets(),
            key_exchange: roles.count(Role::KeyExchange),
            media: roles.count(Role::Media),
            signaling: roles.count(Role::Signaling),
            other: roles.count(Role::Other),
            to_server: to_server.packets,
            to_client: to_client.packets,
        },
        bytes: ByteCounts {
            to_server: to_server.bytes,
            to_client: to_client.bytes,
        },
        first_packet: flow.first_packet,
        first_seen: flow.first_seen,
        last_seen: flow.last_seen,
        first: FirstPackets {
            key_exchange: roles.first(Role::KeyExchange),
            media: roles.first(Role::Media),
            signaling: roles.first(Role::Signaling),
        },
    }
}

/// The name of a TLS or DTLS wire version.
fn version_name(version: u16) -> Option<&'static str> {
    Some(match version {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0xFEFF => "DTLS 1.0",
        0xFEFD => "DTLS 1.2",
        0xFEFC => "DTLS 1.3",
        _ => return None,
    })
}

/// The protocol an SNI or certificate came from, for evidence text ("tls sni …").
fn evidence_protocol(class: &FlowClass) -> &'static str {
    if class.protocols.contains(Protocol::Tls) {
        "tls"
    } else if class.protocols.contains(Protocol::Quic) {
        "quic"
    } else if class.protocols.contains(Protocol::Dtls) {
        "dtls"
    } else {
        ""
    }
}

fn finding_report(capture: usize, finding: Finding, flow: &FlowReport) -> FindingReport {
    FindingReport {
        rule: finding.rule,
        title: finding.title,
        severity: finding.severity,
        class: finding.class,
        flow: finding.flow,
        capture,
        packet: finding.packet,
        time: finding.time,
        server: finding.server,
        country: finding.country,
        location: flow.server.country.clone(),
        operator_country: flow.server.operator_country.clone(),
        app: flow.app.clone(),
        hostname: flow.hostname.clone(),
        packets: finding.class.map(|class| flow.packets.of(class)),
        notes: finding.notes,
        allowed: finding.allowed,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    /// The embedded GeoIP data, the built-in policy and the embedded app catalog.
    fn embedded_data() -> (GeoDb, Policy, AppCatalog) {
        (
            GeoDb::embedded().unwrap(),
            Policy::builtin().unwrap(),
            AppCatalog::embedded().unwrap(),
        )
    }

    fn captured(number: u64, time: Timestamp, data: &[u8]) -> CapturedPacket<'_> {
        CapturedPacket {
            number,
            time,
            data,
            original_len: data.len() as u32,
        }
    }

    /// The findings of every fixture, in reverse and rotated: sorted as a stable sort by
    /// severity, flow and packet sorts them.
    #[test]
    fn findings_sort_as_a_stable_sort_would() {
        let (geo, policy, catalog) = embedded_data();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "pcap"))
            .collect();
        paths.sort();
        let mut auditor = Auditor::new(&geo, &policy, &catalog);
        for result in auditor.audit_files(&paths, None, 1) {
            result.unwrap();
        }
        let findings = auditor.finish().findings;
        assert!(findings.len() > 5);
        let key = |f: &FindingReport| (Reverse(f.severity), f.flow, f.packet);
        for shuffle in [0, 1, 3] {
            let mut given: Vec<FindingReport> = findings.iter().rev().cloned().collect();
            given.rotate_left(shuffle);
            let mut expected = given.clone();
            expected.sort_by_key(key);
            let sorted = most_severe_first(given);
            let rule_and_key = |f: &FindingReport| (f.rule, key(f));
            assert_eq!(
                sorted.iter().map(rule_and_key).collect::<Vec<_>>(),
                expected.iter().map(rule_and_key).collect::<Vec<_>>(),
            );
        }
    }

    use proptest::strategy::{Just, Strategy};

    proptest::proptest! {
        /// Any permutation, cycles of every length and fixed points included.
        #[test]
        fn put_in_order_moves_each_item_where_its_source_says(
            source in (0usize..200).prop_flat_map(|n| {
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle()
            })
        ) {
            let original: Vec<String> = (0..source.len()).map(|i| format!("item {i}")).collect();
            let mut items = original.clone();
            put_in_order(&mut items, source.clone());
            let expected: Vec<String> = source.iter().map(|&i| original[i].clone()).collect();
            proptest::prop_assert_eq!(items, expected);
        }
    }

    /// Many distinct server addresses: the place cache stops at its bound, and an address past
    /// it is still placed, only not cached.
    #[test]
    fn the_place_cache_stops_at_its_bound() {
        let (geo, policy, catalog) = embedded_data();
        let auditor = Auditor::new(&geo, &policy, &catalog);
        let mut finisher = auditor.finisher.clone();
        let address = |i: u32| IpAddr::V4(Ipv4Addr::from(0x3400_0000 + i));
        for i in 0..(MAX_CACHED_PLACES as u32 + 500) {
            finisher.place(address(i));
        }
        assert_eq!(finisher.places.len(), MAX_CACHED_PLACES);
        let beyond = address(MAX_CACHED_PLACES as u32 + 100);
        assert!(!finisher.places.contains_key(&beyond));
        let fresh = auditor.finisher.clone().place(beyond);
        assert_eq!(finisher.place(beyond).geo.country, fresh.geo.country);
        assert_eq!(finisher.places.len(), MAX_CACHED_PLACES);
    }

    /// A raw IPv4 packet (LINKTYPE_IPV4) from `client_port` to 203.0.113.9:443; TCP carries
    /// `payload` with the PSH/ACK flags.
    fn ipv4_packet(tcp: bool, client_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut transport = Vec::new();
        transport.extend_from_slice(&client_port.to_be_bytes());
        transport.extend_from_slice(&443u16.to_be_bytes());
        if tcp {
            transport
                .extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        } else {
            transport.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            transport.extend_from_slice(&[0, 0]);
        }
        transport.extend_from_slice(payload);
        let total = (20 + transport.len()) as u16;
        let protocol = if tcp { 6 } else { 17 };
        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0];
        packet[2..4].copy_from_slice(&total.to_be_bytes());
        packet.extend_from_slice(&[192, 168, 1, 20, 203, 0, 113, 9]);
        packet.extend_from_slice(&transport);
        packet
    }

    /// A session whose table is full retires the least recently seen flows: their handshake
    /// readers are freed at once, and the settled capture still reports every flow.
    #[test]
    fn a_full_session_retires_flows_and_still_reports_them() {
        let (geo, policy, catalog) = embedded_data();
        let mut auditor = Auditor::new(&geo, &policy, &catalog);
        auditor.set_max_flows(2);
        let mut session = auditor.session(LinkType::IPV4);
        // A TLS record header of a ClientHello whose body has not arrived: its reader waits.
        let hello_start = [
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        let packets: Vec<Vec<u8>> = (0..10u16)
            .map(|i| ipv4_packet(i % 2 == 0, 50_000 + i, &hello_start))
            .collect();
        for (n, data) in packets.iter().enumerate() {
            let time = Timestamp {
                secs: 1_700_000_000,
                micros: n as u32,
            };
            let outcome = session.packet(&captured(n as u64 + 1, time, data));
            assert!(outcome.is_some_and(|o| o.new_flow));
            assert!(session.table.len() <= 2);
        }
        assert_eq!(session.table.evicted(), 8);
        assert_eq!(session.retired.len(), 8);
        assert!(session
            .retired
            .iter()
            .all(|flow| !flow.state.has_handshake_readers()));
        assert!(session
            .table
            .get_by_number(8)
            .is_some_and(|flow| flow.state.has_handshake_readers()));
        let place = session.place();
        let settled = session.settle(auditor.finisher(), place, "test".into(), 10, None, None);
        assert_eq!(settled.flows.len(), 10);
        assert_eq!(settled.evicted_flows, 8);
        assert!(
            settled.bounds_hit[0].contains("8 flow(s) evicted"),
            "{:?}",
            settled.bounds_hit
        );
        let ports: Vec<u16> = settled.flows.iter().map(|f| f.client.port).collect();
        assert_eq!(ports, (50_000..50_010).collect::<Vec<_>>(), "in flow order");
        auditor.add(settled);
        assert_eq!(auditor.finish().summary.evicted_flows, 8);
    }

    /// A live session: flows finished early for idleness and those still live at the end are
    /// reported together, in flow order, and only the latter count as still live.
    #[test]
    fn idle_flows_and_live_ones_settle_in_flow_order() {
        let (geo, policy, catalog) = embedded_data();
        let mut auditor = Auditor::new(&geo, &policy, &catalog);
        let mut session = auditor.session(LinkType::IPV4);
        let t0 = 1_700_000_000;
        let mut number = 0;
        let mut send = |session: &mut Session<'_>, port: u16, secs: i64| {
            number += 1;
            let data = ipv4_packet(false, port, b"hello");
            session.packet(&captured(number, Timestamp { secs, micros: 0 }, &data))
        };
        send(&mut session, 50_000, t0);
        send(&mut session, 50_001, t0);
        let idle = session.evict_idle(
            &mut auditor,
            Timestamp {
                secs: t0 + 100,
                micros: 0,
            },
            30,
        );
        assert_eq!(idle.len(), 2);
        send(&mut session, 50_002, t0 + 100);
        send(&mut session, 50_003, t0 + 100);
        let again = send(&mut session, 50_000, t0 + 101);
        assert!(again.is_some_and(|o| o.new_flow && o.flow == 4));
        let place = session.place();
        let settled = session.settle(auditor.finisher(), place, "live".into(), 5, None, None);
        let ports: Vec<u16> = settled.flows.iter().map(|f| f.client.port).collect();
        assert_eq!(ports, [50_000, 50_001, 50_002, 50_003, 50_000]);
        assert_eq!(settled.still_live, [2, 3, 4]);
        assert!(settled.findings.windows(2).all(|w| w[0].flow <= w[1].flow));
    }
}
