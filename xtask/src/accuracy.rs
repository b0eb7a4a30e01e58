//! `cargo xtask accuracy DIR [--callaudit PATH] [--markdown FILE] [--tshark]`: measures how
//! far callaudit agrees with nDPI (and, with `--tshark`, with Wireshark) on a folder of captures.
//!
//! # Inputs
//!
//! Every file `NAME` in `DIR` with a `NAME.ndpi.out` beside it is a capture; files without one
//! are skipped. `NAME.ndpi.out` is nDPI's test-suite output (`ndpiReader -v 2`): its flow lines
//! look like
//!
//! ```text
//! \t2\tTCP 192.168.1.117:54871 <-> 109.94.160.99:443 [proto: 91.189/TLS.Zoom][...][Hostname/SNI: zoom.us][...]
//! ```
//!
//! From each line we keep the transport, both endpoints (IPv6 in brackets), `[proto: ...]` and
//! `[Hostname/SNI: ...]`. `proto` is `ids/MASTER.APP` or `ids/NAME`, optionally prefixed by a
//! tunnel (`GTP:189/Zoom`: nDPI reports the inner flow of a GTP tunnel). Lines of the
//! "Undetected flows" section are flows too (`0/Unknown`). Other numbered lines (JA3 host
//! statistics) have no transport and endpoints and are ignored, as are non-TCP/UDP flows (ICMP),
//! which callaudit does not report.
//!
//! callaudit runs as `callaudit audit --format json --fail-on never NAME`.
//!
//! # Matching
//!
//! A flow is identified by its transport and the *unordered* pair of endpoints: nDPI lists the
//! endpoint it saw first, callaudit the client. Addresses are compared in canonical form
//! (`std::net::IpAddr` display), so `::24d9` and `:0:24d9` are the same. nDPI sometimes prints
//! an impossible IPv6 address with two `::` (`2600:1900:4160:5999::19::`); we try every
//! expansion and accept one that names a callaudit flow. Each callaudit flow matches at most one
//! nDPI flow. Unmatched flows on either side are counted and listed, never fatal.
//!
//! # Figures
//!
//! - **app**: of matched flows nDPI attributes to a conferencing app (see [`APP_MAP`]; the app
//!   part of `MASTER.APP` first, then the master), the share where callaudit's `app` is one of
//!   the accepted ids. DNS lookups (`DNS.Zoom`: a query for a Zoom name, sent to a resolver)
//!   are counted apart: callaudit names the app of the server a flow talks to, and a resolver
//!   is no app's server.
//! - **protocols**: for every protocol nDPI names in a matched flow (master and app part, see
//!   [`PROTOCOL_MAP`]), whether callaudit's `protocols` contains an accepted id.
//! - **false apps**: matched flows nDPI gives no conferencing app (`Unknown` included) but
//!   callaudit does.
//! - **SNI**: matched flows where nDPI shows a hostname and labels the flow TLS or QUIC: does
//!   callaudit's `hostname` equal it (ASCII case-insensitive)? The QUIC captures
//!   ([`QUIC_CAPTURES`]) are reported apart. Hostnames of other flows (DNS query names, DHCP
//!   host names, HTTP Host) are tallied as "other hostnames" for information only.
//! - **key exchange** (`--tshark`): per flow, whether tshark finds a TLS/DTLS handshake record
//!   or a QUIC Initial/Handshake packet ([`TSHARK_FILTER`]) versus callaudit's
//!   `packets.key_exchange > 0`, over the union of callaudit's flows and the flows tshark
//!   finds. tshark keys packets by their outermost IP and transport headers (what callaudit
//!   sees); ICMP errors quoting a handshake are ignored.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

const USAGE: &str =
    "usage: cargo xtask accuracy DIR [--callaudit PATH] [--markdown FILE] [--tshark] \
     [--min-app PCT] [--min-protocols PCT] [--min-key-exchange PCT] [--max-false-apps N]";

/// nDPI app names → callaudit app ids accepted for them (the first is the expected one).
pub const APP_MAP: &[(&str, &[&str])] = &[
    ("Zoom", &["zoom"]),
    ("Teams", &["teams"]),
    ("Skype_Teams", &["teams", "skype"]),
    ("Skype_TeamsCall", &["teams", "skype"]),
    ("Webex", &["webex"]),
    ("GoogleMeet", &["meet"]),
    ("GoogleCall", &["meet"]),
    ("WhatsApp", &["whatsapp"]),
    ("WhatsAppCall", &["whatsapp"]),
    ("Signal", &["signal"]),
    ("SignalVoip", &["signal"]),
    ("Discord", &["discord"]),
    ("Telegram", &["telegram"]),
    ("TelegramVoip", &["telegram"]),
    ("FacebookVoip", &["messenger", "facebook"]),
];

/// nDPI protocol names → callaudit protocol ids accepted for them (the first is the expected
/// one). TURN is STUN, and callaudit reports SRTP as `rtp` unless it has an `srtp` id.
pub const PROTOCOL_MAP: &[(&str, &[&str])] = &[
    ("STUN", &["stun", "turn"]),
    ("DTLS", &["dtls"]),
    ("RTP", &["rtp", "srtp"]),
    ("SRTP", &["rtp", "srtp"]),
    ("RTCP", &["rtcp"]),
    ("TLS", &["tls"]),
    ("QUIC", &["quic"]),
    ("SIP", &["sip"]),
    ("DNS", &["dns"]),
];

/// Captures whose SNI figure is reported apart.
pub const QUIC_CAPTURES: &[&str] = &["quic.pcap", "quic-29.pcap", "quic-v2.pcapng"];

/// Packets that carry key exchange, for tshark: TLS/DTLS handshakes, IETF QUIC Initial and
/// Handshake packets, and Google QUIC's handshake messages (CHLO, REJ; SHLO is encrypted).
pub const TSHARK_FILTER: &str = "tls.handshake or dtls.handshake \
     or quic.long.packet_type == 0 or quic.long.packet_type == 2 \
     or gquic.tag == \"CHLO\" or gquic.tag == \"REJ\"";

pub fn run(args: &[String]) -> Result<(), String> {
    let Some(options) = Options::parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    let captures = find_captures(&options.dir)?;
    if captures.is_empty() {
        return Err(format!(
            "{}: no capture with a .ndpi.out beside it",
            options.dir.display()
        ));
    }
    let mut results = Vec::new();
    for capture in &captures {
        eprintln!("accuracy: {}", capture.display());
        results.push(evaluate(capture, &options)?);
    }
    let report = render(&results, options.tshark);
    println!("{}", report.text);
    if let Some(path) = &options.markdown {
        fs::write(path, &report.markdown).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    check_gates(&results, &options.gates)
}

/// Minimum figures below which the run fails (CI uses them to catch a regression); unset gates
/// make the run a report only.
#[derive(Debug, Default)]
struct Gates {
    min_app: Option<f64>,
    min_protocols: Option<f64>,
    min_key_exchange: Option<f64>,
    max_false_apps: Option<usize>,
}

fn check_gates(results: &[CaptureResult], gates: &Gates) -> Result<(), String> {
    let mut app = Tally::default();
    let mut protocols = Tally::default();
    let mut key_exchange = Tally::default();
    let mut false_apps = 0;
    for result in results {
        app.add(&result.app);
        protocols.add(&result.protocols);
        if let Some(kx) = &result.key_exchange {
            key_exchange.add(&kx.agreement);
        }
        false_apps += result.false_apps.len();
    }
    let mut failures = Vec::new();
    let mut gate = |name: &str, tally: &Tally, min: Option<f64>| {
        if let Some(min) = min {
            let pct = if tally.total == 0 {
                100.0
            } else {
                100.0 * tally.agree as f64 / tally.total as f64
            };
            if pct < min {
                failures.push(format!("{name} agreement {pct:.1}% is below {min}%"));
            } else {
                println!("gate: {name} agreement {pct:.1}% ≥ {min}%");
            }
        }
    };
    gate("app", &app, gates.min_app);
    gate("protocol", &protocols, gates.min_protocols);
    gate("key-exchange", &key_exchange, gates.min_key_exchange);
    if let Some(max) = gates.max_false_apps {
        if false_apps > max {
            failures.push(format!(
                "{false_apps} false apps, more than the {max} explained in docs/accuracy.md"
            ));
        } else {
            println!("gate: {false_apps} false apps ≤ {max}");
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

struct Options {
    dir: PathBuf,
    callaudit: PathBuf,
    markdown: Option<PathBuf>,
    tshark: bool,
    gates: Gates,
}

impl Options {
    /// `None` when help was asked for.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut dir = None;
        let mut callaudit = PathBuf::from("target/release/callaudit");
        let mut markdown = None;
        let mut tshark = false;
        let mut gates = Gates::default();
        let mut args = args.iter();
        let number = |flag: &str, value: Option<&String>| -> Result<f64, String> {
            value
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| format!("{flag} needs a number"))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--callaudit" => callaudit = args.next().ok_or("--callaudit needs a path")?.into(),
                "--markdown" => {
                    markdown = Some(args.next().ok_or("--markdown needs a file")?.into())
                }
                "--tshark" => tshark = true,
                "--min-app" => gates.min_app = Some(number(arg, args.next())?),
                "--min-protocols" => gates.min_protocols = Some(number(arg, args.next())?),
                "--min-key-exchange" => gates.min_key_exchange = Some(number(arg, args.next())?),
                "--max-false-apps" => {
                    gates.max_false_apps = Some(number(arg, args.next())? as usize)
                }
                "-h" | "--help" => return Ok(None),
                flag if flag.starts_with('-') => {
                    return Err(format!("unknown option {flag}\n{USAGE}"))
                }
                path if dir.is_none() => dir = Some(PathBuf::from(path)),
                extra => return Err(format!("unexpected argument {extra}\n{USAGE}")),
            }
        }
        let dir = dir.ok_or(USAGE)?;
        Ok(Some(Options {
            dir,
            callaudit,
            markdown,
            tshark,
            gates,
        }))
    }
}

/// Files in `dir` with a `NAME.ndpi.out` beside them, sorted.
fn find_captures(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut captures: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && !path.to_string_lossy().ends_with(".ndpi.out"))
        .filter(|path| ndpi_out_path(path).is_file())
        .collect();
    captures.sort();
    Ok(captures)
}

fn ndpi_out_path(capture: &Path) -> PathBuf {
    let mut name = capture.as_os_str().to_owned();
    name.push(".ndpi.out");
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------------------------
// nDPI output

/// One endpoint, its address in canonical form when it parses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub addr: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.addr.contains(':') {
            write!(f, "[{}]:{}", self.addr, self.port)
        } else {
            write!(f, "{}:{}", self.addr, self.port)
        }
    }
}

/// A flow line of a `.ndpi.out` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdpiFlow {
    /// Lowercase: `tcp`, `udp`, `icmp`, ...
    pub transport: String,
    pub first: Endpoint,
    pub second: Endpoint,
    /// `GTP` in `GTP:189/Zoom`.
    pub tunnel: Option<String>,
    /// `TLS` in `TLS.Zoom`; the only name in `Zoom`.
    pub master: String,
    /// `Zoom` in `TLS.Zoom`.
    pub app: Option<String>,
    pub hostname: Option<String>,
}

impl NdpiFlow {
    /// `TLS.Zoom`, `GTP:Zoom`.
    pub fn label(&self) -> String {
        let tunnel = self
            .tunnel
            .as_ref()
            .map(|t| format!("{t}:"))
            .unwrap_or_default();
        match &self.app {
            Some(app) => format!("{tunnel}{}.{app}", self.master),
            None => format!("{tunnel}{}", self.master),
        }
    }

    /// The master and app names.
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.master.as_str()).chain(self.app.as_deref())
    }
}

/// Parses a flow line (`\tN\tTRANSPORT A <-> B [field]...`); `None` for any other line.
pub fn parse_ndpi_line(line: &str) -> Option<NdpiFlow> {
    let rest = line.strip_prefix('\t')?;
    let (number, rest) = rest.split_once('\t')?;
    number.trim().parse::<u32>().ok()?;
    let mut words = rest.splitn(5, ' ');
    let transport = words.next()?;
    let first = words.next()?;
    let arrow = words.next()?;
    let second = words.next()?;
    let fields = words.next().unwrap_or("");
    if transport.is_empty() || !transport.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    if arrow != "<->" && arrow != "->" {
        return None;
    }
    let (tunnel, master, app) = parse_proto(field(fields, "proto")?)?;
    Some(NdpiFlow {
        transport: transport.to_ascii_lowercase(),
        first: parse_endpoint(first)?,
        second: parse_endpoint(second)?,
        tunnel,
        master,
        app,
        hostname: field(fields, "Hostname/SNI").map(str::to_string),
    })
}

/// The value of `[NAME: value]` in the bracketed fields of a flow line.
fn field<'a>(fields: &'a str, name: &str) -> Option<&'a str> {
    let start = fields.find(&format!("[{name}: "))? + name.len() + 3;
    let len = fields[start..].find(']')?;
    Some(&fields[start..start + len])
}

/// `91.189/TLS.Zoom` → (None, TLS, Some(Zoom)); `GTP:30/DTLS` → (Some(GTP), DTLS, None).
fn parse_proto(value: &str) -> Option<(Option<String>, String, Option<String>)> {
    let (ids, names) = value.split_once('/')?;
    let tunnel = ids.split_once(':').map(|(tunnel, _)| tunnel.to_string());
    let (master, app) = match names.split_once('.') {
        Some((master, app)) => (master.to_string(), Some(app.to_string())),
        None => (names.to_string(), None),
    };
    Some((tunnel, master, app))
}

/// `1.2.3.4:80` or `[::1]:80`.
fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let (addr, port) = match text.strip_prefix('[') {
        Some(rest) => rest.split_once("]:")?,
        None => text.rsplit_once(':')?,
    };
    Some(Endpoint {
        addr: canonical_addr(addr),
        port: port.parse().ok()?,
    })
}

fn canonical_addr(addr: &str) -> String {
    addr.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| addr.to_string())
}

/// Every IPv6 address an nDPI rendering with several `::` could stand for (nDPI compresses
/// each run of zero groups): `1::2::` → `1:0:2:0:0:...`, `1:0:0:2::`, ... Empty for a
/// well-formed address or text that is no such rendering.
pub fn ambiguous_ipv6_expansions(addr: &str) -> Vec<String> {
    let parts: Vec<&str> = addr.split("::").collect();
    if parts.len() < 3 {
        return Vec::new();
    }
    let groups = |part: &str| part.split(':').filter(|g| !g.is_empty()).count();
    let explicit: usize = parts.iter().map(|p| groups(p)).sum();
    let gaps = parts.len() - 1;
    if explicit + gaps > 8 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for zeros in zero_distributions(8 - explicit, gaps) {
        let mut text = String::new();
        for (i, part) in parts.iter().enumerate() {
            let mut pieces: Vec<&str> = part.split(':').filter(|g| !g.is_empty()).collect();
            if i < gaps {
                pieces.extend(std::iter::repeat_n("0", zeros[i]));
            }
            if !text.is_empty() && !pieces.is_empty() {
                text.push(':');
            }
            text.push_str(&pieces.join(":"));
        }
        if let Ok(ip) = text.parse::<Ipv6Addr>() {
            out.push(ip.to_string());
        }
    }
    out
}

/// Ways to spread `total` zero groups over `gaps` gaps, at least one each.
fn zero_distributions(total: usize, gaps: usize) -> Vec<Vec<usize>> {
    if gaps == 0 {
        return if total == 0 { vec![vec![]] } else { vec![] };
    }
    let mut out = Vec::new();
    for first in 1..=total.saturating_sub(gaps - 1) {
        for mut rest in zero_distributions(total - first, gaps - 1) {
            rest.insert(0, first);
            out.push(rest);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Name mapping

/// callaudit app ids accepted for an nDPI name, if it names a conferencing app.
pub fn map_app(ndpi_name: &str) -> Option<&'static [&'static str]> {
    lookup(APP_MAP, ndpi_name)
}

/// callaudit protocol ids accepted for an nDPI name, if it is a protocol we compare.
pub fn map_protocol(ndpi_name: &str) -> Option<&'static [&'static str]> {
    lookup(PROTOCOL_MAP, ndpi_name)
}

fn lookup(
    map: &'static [(&str, &'static [&'static str])],
    name: &str,
) -> Option<&'static [&'static str]> {
    map.iter().find(|(n, _)| *n == name).map(|(_, ids)| *ids)
}

/// The conferencing app nDPI attributes a flow to: the app part first, then the master.
fn ndpi_app(flow: &NdpiFlow) -> Option<(&str, &'static [&'static str])> {
    flow.app
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(flow.master.as_str()))
        .find_map(|name| map_app(name).map(|ids| (name, ids)))
}

// ---------------------------------------------------------------------------------------------
// callaudit output

#[derive(Debug, Deserialize)]
struct CaReport {
    flows: Vec<CaFlow>,
}

#[derive(Debug, Deserialize)]
struct CaFlow {
    transport: String,
    client: CaPeer,
    server: CaPeer,
    hostname: Option<String>,
    app: Option<String>,
    app_evidence: Option<String>,
    protocols: Vec<String>,
    packets: CaPackets,
}

#[derive(Debug, Deserialize)]
struct CaPeer {
    ip: String,
    port: u16,
}

#[derive(Debug, Deserialize)]
struct CaPackets {
    key_exchange: u64,
}

impl CaFlow {
    fn key(&self) -> FlowKey {
        let endpoint = |peer: &CaPeer| Endpoint {
            addr: canonical_addr(&peer.ip),
            port: peer.port,
        };
        FlowKey::new(
            &self.transport,
            endpoint(&self.client),
            endpoint(&self.server),
        )
    }

    /// `zoom (sni @ 12)`, `null`.
    fn app_text(&self) -> String {
        let Some(app) = &self.app else {
            return "null".into();
        };
        let evidence = self.app_evidence.as_ref().map(|e| format!(" ({e})"));
        format!("{app}{}", evidence.unwrap_or_default())
    }
}

fn run_callaudit(callaudit: &Path, capture: &Path) -> Result<Vec<CaFlow>, String> {
    let output = Command::new(callaudit)
        .args(["audit", "--format", "json", "--fail-on", "never"])
        .arg(capture)
        .output()
        .map_err(|e| format!("{}: {e}", callaudit.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} on {}: {}\n{}",
            callaudit.display(),
            capture.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report: CaReport = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{}: callaudit JSON: {e}", capture.display()))?;
    Ok(report.flows)
}

// ---------------------------------------------------------------------------------------------
// Matching

/// Transport and unordered endpoint pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    transport: String,
    low: Endpoint,
    high: Endpoint,
}

impl FlowKey {
    fn new(transport: &str, a: Endpoint, b: Endpoint) -> FlowKey {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            transport: transport.to_ascii_lowercase(),
            low,
            high,
        }
    }

    /// The key, then keys with any ambiguous IPv6 rendering expanded.
    fn candidates(flow: &NdpiFlow) -> Vec<FlowKey> {
        let variants = |ep: &Endpoint| {
            let mut out = vec![ep.clone()];
            out.extend(
                ambiguous_ipv6_expansions(&ep.addr)
                    .into_iter()
                    .map(|addr| Endpoint {
                        addr,
                        port: ep.port,
                    }),
            );
            out
        };
        let mut keys = Vec::new();
        for a in variants(&flow.first) {
            for b in variants(&flow.second) {
                keys.push(FlowKey::new(&flow.transport, a.clone(), b));
            }
        }
        keys
    }
}

impl std::fmt::Display for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = self.transport.to_ascii_uppercase();
        write!(f, "{transport} {} <-> {}", self.low, self.high)
    }
}

/// Pairs each nDPI flow with at most one callaudit flow; returns the callaudit index per nDPI
/// flow.
fn match_flows(ndpi: &[NdpiFlow], callaudit: &[CaFlow]) -> Vec<Option<usize>> {
    let mut by_key: HashMap<FlowKey, Vec<usize>> = HashMap::new();
    for (i, flow) in callaudit.iter().enumerate() {
        by_key.entry(flow.key()).or_default().push(i);
    }
    let mut used = HashSet::new();
    ndpi.iter()
        .map(|flow| {
            FlowKey::candidates(flow).iter().find_map(|key| {
                let free = by_key.get(key)?.iter().find(|i| !used.contains(*i))?;
                used.insert(*free);
                Some(*free)
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Agreements out of a total, with the disagreements spelled out.
#[derive(Debug, Default)]
struct Tally {
    agree: usize,
    total: usize,
    disagreements: Vec<String>,
}

impl Tally {
    fn record(&mut self, agree: bool, describe: impl FnOnce() -> String) {
        self.total += 1;
        if agree {
            self.agree += 1;
        } else {
            self.disagreements.push(describe());
        }
    }

    fn add(&mut self, other: &Tally) {
        self.agree += other.agree;
        self.total += other.total;
    }

    fn cell(&self) -> String {
        if self.total == 0 {
            return "–".into();
        }
        let pct = 100.0 * self.agree as f64 / self.total as f64;
        format!("{}/{} ({pct:.1}%)", self.agree, self.total)
    }
}

#[derive(Debug, Default)]
struct CaptureResult {
    name: String,
    ndpi_flows: usize,
    /// ICMP and other flows callaudit does not report.
    ndpi_skipped: usize,
    callaudit_flows: usize,
    matched: usize,
    ndpi_only: Vec<String>,
    callaudit_only: Vec<String>,
    app: Tally,
    /// DNS queries for an app's names (not in `app`).
    dns_lookups: Tally,
    protocols: Tally,
    false_apps: Vec<String>,
    sni: Tally,
    other_hostnames: Tally,
    key_exchange: Option<KeyExchange>,
}

/// The `--tshark` figure of one capture.
#[derive(Debug, Default)]
struct KeyExchange {
    agreement: Tally,
    /// Flows with key exchange according to tshark and to callaudit.
    tshark_flows: usize,
    callaudit_flows: usize,
}

impl KeyExchange {
    fn add(&mut self, other: &KeyExchange) {
        self.agreement.add(&other.agreement);
        self.tshark_flows += other.tshark_flows;
        self.callaudit_flows += other.callaudit_flows;
    }
}

fn evaluate(capture: &Path, options: &Options) -> Result<CaptureResult, String> {
    let name = capture
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ndpi_path = ndpi_out_path(capture);
    let text =
        fs::read_to_string(&ndpi_path).map_err(|e| format!("{}: {e}", ndpi_path.display()))?;
    let (ndpi, skipped): (Vec<NdpiFlow>, Vec<NdpiFlow>) = text
        .lines()
        .filter_map(parse_ndpi_line)
        .partition(|flow| flow.transport == "tcp" || flow.transport == "udp");
    let callaudit = run_callaudit(&options.callaudit, capture)?;
    let matches = match_flows(&ndpi, &callaudit);
    let mut result = CaptureResult {
        name: name.clone(),
        ndpi_flows: ndpi.len(),
        ndpi_skipped: skipped.len(),
        callaudit_flows: callaudit.len(),
        ..CaptureResult::default()
    };
    for (flow, matched) in ndpi.iter().zip(&matches) {
        match matched {
            Some(i) => compare_flow(&mut result, flow, &callaudit[*i]),
            None => result.ndpi_only.push(format!(
                "{name}: {} [{}]",
                FlowKey::candidates(flow)[0],
                flow.label()
            )),
        }
    }
    let matched: HashSet<usize> = matches.iter().flatten().copied().collect();
    result.matched = matched.len();
    result.callaudit_only = (0..callaudit.len())
        .filter(|i| !matched.contains(i))
        .map(|i| {
            format!(
                "{name}: {} (callaudit {:?})",
                callaudit[i].key(),
                callaudit[i].protocols
            )
        })
        .collect();
    if options.tshark {
        let handshakes = tshark_key_exchange_flows(capture)?;
        result.key_exchange = Some(compare_key_exchange(&name, &callaudit, &handshakes));
    }
    Ok(result)
}

/// Adds one matched flow pair to the app, protocol, false-app and hostname figures.
fn compare_flow(result: &mut CaptureResult, ndpi: &NdpiFlow, ca: &CaFlow) {
    let name = result.name.clone();
    let describe = |what: String| {
        let key = ca.key();
        format!("{name}: {key} nDPI {} → callaudit {what}", ndpi.label())
    };
    match ndpi_app(ndpi) {
        Some((_, ids)) => {
            let agree = ca.app.as_deref().is_some_and(|app| ids.contains(&app));
            let tally = if ndpi.master == "DNS" {
                &mut result.dns_lookups
            } else {
                &mut result.app
            };
            tally.record(agree, || describe(format!("app {}", ca.app_text())));
        }
        None if ca.app.is_some() => result
            .false_apps
            .push(describe(format!("app {}", ca.app_text()))),
        None => {}
    }
    for ndpi_name in ndpi.names() {
        if let Some(ids) = map_protocol(ndpi_name) {
            let agree = ca.protocols.iter().any(|p| ids.contains(&p.as_str()));
            result.protocols.record(agree, || {
                describe(format!("protocols {:?} lack {}", ca.protocols, ids[0]))
            });
        }
    }
    if let Some(host) = &ndpi.hostname {
        let agree = ca.hostname.as_deref().is_some_and(|h| {
            h.trim_end_matches('.')
                .eq_ignore_ascii_case(host.trim_end_matches('.'))
        });
        let describe_host = || describe(format!("hostname {:?}, nDPI {host:?}", ca.hostname));
        if ndpi.names().any(|n| n == "TLS" || n == "QUIC") {
            result.sni.record(agree, describe_host);
        } else {
            result.other_hostnames.record(agree, describe_host);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tshark

/// Flows in which tshark finds a key-exchange packet.
fn tshark_key_exchange_flows(capture: &Path) -> Result<HashSet<FlowKey>, String> {
    let fields = [
        "frame.protocols",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
    ];
    let mut command = Command::new("tshark");
    command.arg("-r").arg(capture).args([
        "-Y",
        TSHARK_FILTER,
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=f",
    ]);
    for field in fields {
        command.args(["-e", field]);
    }
    let output = command.output().map_err(|e| format!("tshark: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "tshark on {}: {}",
            capture.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(parse_tshark_line)
        .collect())
}

/// One line of tshark fields (see [`tshark_key_exchange_flows`]) → the packet's flow, unless
/// it is an ICMP error quoting another packet's headers.
fn parse_tshark_line(line: &str) -> Option<FlowKey> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() < 9 || f[0].split(':').any(|p| p == "icmp" || p == "icmpv6") {
        return None;
    }
    let (src, dst) = if f[1].is_empty() {
        (f[3], f[4])
    } else {
        (f[1], f[2])
    };
    let (transport, sport, dport) = if f[5].is_empty() {
        ("udp", f[7], f[8])
    } else {
        ("tcp", f[5], f[6])
    };
    let endpoint = |addr: &str, port: &str| {
        Some(Endpoint {
            addr: canonical_addr(addr),
            port: port.parse().ok()?,
        })
    };
    Some(FlowKey::new(
        transport,
        endpoint(src, sport)?,
        endpoint(dst, dport)?,
    ))
}

/// Per flow (callaudit's flows and tshark's), does tshark's verdict equal callaudit's?
fn compare_key_exchange(
    name: &str,
    callaudit: &[CaFlow],
    tshark: &HashSet<FlowKey>,
) -> KeyExchange {
    let mut tally = Tally::default();
    let mut seen = BTreeSet::new();
    for flow in callaudit {
        let key = flow.key();
        let by_tshark = tshark.contains(&key);
        let by_callaudit = flow.packets.key_exchange > 0;
        tally.record(by_tshark == by_callaudit, || {
            format!(
                "{name}: {key} tshark {} / callaudit key_exchange={} {:?}",
                yes_no(by_tshark),
                flow.packets.key_exchange,
                flow.protocols
            )
        });
        seen.insert(key);
    }
    let mut missing: Vec<&FlowKey> = tshark.iter().filter(|k| !seen.contains(*k)).collect();
    missing.sort();
    for key in missing {
        tally.record(false, || {
            format!("{name}: {key} tshark yes / no callaudit flow")
        });
    }
    KeyExchange {
        agreement: tally,
        tshark_flows: tshark.len(),
        callaudit_flows: callaudit
            .iter()
            .filter(|f| f.packets.key_exchange > 0)
            .count(),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

// ---------------------------------------------------------------------------------------------
// Report

/// A table rendered both as aligned text and as Markdown.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                std::iter::once(&self.headers)
                    .chain(&self.rows)
                    .map(|row| row[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: &[String]| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&self.headers);
        out.push_str(&line(
            &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
        ));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }

    fn markdown(&self) -> String {
        let line = |row: &[String]| format!("| {} |\n", row.join(" | "));
        let mut out = line(&self.headers);
        out.push_str(&line(&vec!["---".to_string(); self.headers.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

struct Rendered {
    text: String,
    markdown: String,
}

/// Appends a titled table to both renderings.
fn push_table(out: &mut Rendered, title: &str, table: &Table) {
    let _ = write!(out.text, "\n{title}\n{}", table.text());
    let _ = write!(out.markdown, "\n#### {title}\n\n{}", table.markdown());
}

/// Appends a titled list to both renderings (nothing when empty).
fn push_list(out: &mut Rendered, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out.text, "\n{title} ({}):", items.len());
    let _ = write!(out.markdown, "\n#### {title} ({})\n\n", items.len());
    for item in items {
        let _ = writeln!(out.text, "  {item}");
        let _ = writeln!(out.markdown, "- `{item}`");
    }
}

fn render(results: &[CaptureResult], tshark: bool) -> Rendered {
    let mut out = Rendered {
        text: "callaudit vs nDPI".into(),
        markdown: "### callaudit vs nDPI\n".into(),
    };
    push_table(&mut out, "Per capture", &capture_table(results, tshark));
    push_table(&mut out, "Hostnames", &hostname_table(results));
    push_table(
        &mut out,
        "Name mapping (nDPI → callaudit)",
        &mapping_table(),
    );
    let collect = |pick: fn(&CaptureResult) -> &Vec<String>| -> Vec<String> {
        results
            .iter()
            .flat_map(|r| pick(r).iter().cloned())
            .collect()
    };
    push_list(
        &mut out,
        "App disagreements",
        &collect(|r| &r.app.disagreements),
    );
    push_list(
        &mut out,
        "DNS lookups of app names, callaudit without the app",
        &collect(|r| &r.dns_lookups.disagreements),
    );
    push_list(
        &mut out,
        "Protocol disagreements",
        &collect(|r| &r.protocols.disagreements),
    );
    push_list(&mut out, "False apps", &collect(|r| &r.false_apps));
    push_list(
        &mut out,
        "SNI disagreements",
        &collect(|r| &r.sni.disagreements),
    );
    if tshark {
        let kx: Vec<String> = results
            .iter()
            .filter_map(|r| r.key_exchange.as_ref())
            .flat_map(|kx| kx.agreement.disagreements.iter().cloned())
            .collect();
        push_list(
            &mut out,
            "Key-exchange disagreements (tshark vs callaudit)",
            &kx,
        );
    }
    push_list(
        &mut out,
        "Flows only nDPI reports",
        &collect(|r| &r.ndpi_only),
    );
    push_list(
        &mut out,
        "Flows only callaudit reports",
        &collect(|r| &r.callaudit_only),
    );
    out
}

fn capture_table(results: &[CaptureResult], tshark: bool) -> Table {
    let mut headers = vec![
        "capture",
        "nDPI flows",
        "callaudit flows",
        "matched",
        "nDPI only",
        "callaudit only",
        "app",
        "DNS lookups",
        "protocols",
        "false apps",
        "SNI",
    ];
    if tshark {
        headers.extend(["key exchange", "kx flows tshark/callaudit"]);
    }
    let mut table = Table::new(&headers);
    let mut total = CaptureResult {
        name: "TOTAL".into(),
        key_exchange: tshark.then(KeyExchange::default),
        ..CaptureResult::default()
    };
    for result in results {
        table.rows.push(capture_row(result));
        add_totals(&mut total, result);
    }
    table.rows.push(capture_row(&total));
    table
}

fn capture_row(r: &CaptureResult) -> Vec<String> {
    let mut row = vec![
        r.name.clone(),
        if r.ndpi_skipped > 0 {
            format!("{} (+{} non-TCP/UDP)", r.ndpi_flows, r.ndpi_skipped)
        } else {
            r.ndpi_flows.to_string()
        },
        r.callaudit_flows.to_string(),
        r.matched.to_string(),
        r.ndpi_only.len().to_string(),
        r.callaudit_only.len().to_string(),
        r.app.cell(),
        r.dns_lookups.cell(),
        r.protocols.cell(),
        r.false_apps.len().to_string(),
        r.sni.cell(),
    ];
    if let Some(kx) = &r.key_exchange {
        row.push(kx.agreement.cell());
        row.push(format!("{}/{}", kx.tshark_flows, kx.callaudit_flows));
    }
    row
}

/// Sums counts and tallies (not the lists: the disagreements are listed per capture).
fn add_totals(total: &mut CaptureResult, r: &CaptureResult) {
    total.ndpi_flows += r.ndpi_flows;
    total.ndpi_skipped += r.ndpi_skipped;
    total.callaudit_flows += r.callaudit_flows;
    total.matched += r.matched;
    total.ndpi_only.extend(r.ndpi_only.iter().cloned());
    total
        .callaudit_only
        .extend(r.callaudit_only.iter().cloned());
    total.false_apps.extend(r.false_apps.iter().cloned());
    total.app.add(&r.app);
    total.dns_lookups.add(&r.dns_lookups);
    total.protocols.add(&r.protocols);
    total.sni.add(&r.sni);
    total.other_hostnames.add(&r.other_hostnames);
    if let (Some(sum), Some(kx)) = (&mut total.key_exchange, &r.key_exchange) {
        sum.add(kx);
    }
}

fn hostname_table(results: &[CaptureResult]) -> Table {
    let sum = |quic: bool, pick: fn(&CaptureResult) -> &Tally| {
        let mut tally = Tally::default();
        for r in results
            .iter()
            .filter(|r| QUIC_CAPTURES.contains(&r.name.as_str()) == quic)
        {
            tally.add(pick(r));
        }
        tally.cell()
    };
    let mut table = Table::new(&["flows with an nDPI hostname", "callaudit hostname equal"]);
    let rows = [
        ("TLS/QUIC SNI, QUIC captures", sum(true, |r| &r.sni)),
        ("TLS/QUIC SNI, other captures", sum(false, |r| &r.sni)),
        (
            "other hostnames (DNS query, DHCP, HTTP...; information)",
            sum(false, |r| &r.other_hostnames),
        ),
    ];
    table.rows = rows
        .into_iter()
        .map(|(a, b)| vec![a.to_string(), b])
        .collect();
    table
}

fn mapping_table() -> Table {
    let mut table = Table::new(&["kind", "nDPI", "callaudit (accepted)"]);
    let maps = [("app", APP_MAP), ("protocol", PROTOCOL_MAP)];
    for (kind, map) in maps {
        for (ndpi, ids) in map {
            table
                .rows
                .push(vec![kind.to_string(), ndpi.to_string(), ids.join(" | ")]);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real lines from the nDPI test suite's .ndpi.out files, unchanged.
    const ZOOM_TLS: &str = "\t2\tTCP 192.168.1.117:54871 <-> 109.94.160.99:443 [proto: 91.189/TLS.Zoom]\
        [IP: 0/Unknown][Encrypted][Confidence: DPI][FPC: 189/Zoom, Confidence: DNS]\
        [DPI packets: 11][cat: Video/26][127 pkts/54118 bytes <-> 83 pkts/17526 bytes]\
        [Goodput ratio: 84/69][2.00 sec][Hostname/SNI: zoomfrn99mmr.zoom.us]\
        [bytes ratio: 0.511 (Upload)][IAT c2s/s2c min/avg/max/stddev: 0/0 17/9 950/156 93/24]\
        [Pkt Len c2s/s2c min/avg/max/stddev: 66/66 426/211 1506/1506 458/364]\
        [Risk: ** TLS (probably) Not Carrying HTTPS **][Risk Score: 10][Risk Info: No ALPN]\
        [TCP Fingerprint: 2_64_65535_63970bc57fac/Unknown][TLSv1.2]\
        [JA3C: c51de225944b7d58d48c0f99f86ba8e6][JA4: t12d930700_72a4e8475a2e_4446390ac224]\
        [ServerNames: *.zoom.us,zoom.us][JA3S: ada793d0f02b028a6c840504edccb652]\
        [Issuer: C=US, ST=Arizona, L=Scottsdale, O=GoDaddy.com, Inc., OU=http://certs.godaddy.com/repository/, CN=Go Daddy Secure Certificate Authority - G2]\
        [Subject: OU=Domain Control Validated, CN=*.zoom.us]\
        [Certificate SHA-1: F7:5A:83:A8:77:24:55:D7:6D:2E:93:F6:6E:9C:C9:7E:AD:9B:3B:E8]\
        [Firefox][Validity: 2019-03-25 19:38:42 - 2021-03-25 19:38:42]\
        [Cipher: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\
        [Plen Bins: 0,20,12,4,2,6,3,2,2,2,4,5,10,1,0,0,1,0,0,1,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,17,0,0]";
    const ZOOM_GTP: &str = "\t5\tUDP 10.140.117.35:45634 <-> 193.122.35.237:8801 [VLAN: 113][proto: GTP:189/Zoom]\
        [IP: 0/Unknown][Encrypted][Confidence: DPI][FPC: 0/Unknown, Confidence: Unknown]\
        [DPI packets: 8][cat: Video/26][34 pkts/5678 bytes <-> 47 pkts/7940 bytes]\
        [Goodput ratio: 48/49][154.35 sec][bytes ratio: -0.166 (Mixed)]\
        [IAT c2s/s2c min/avg/max/stddev: 39/2 1919/1250 3741/3741 1619/1357]\
        [Pkt Len c2s/s2c min/avg/max/stddev: 167/167 167/169 167/174 0/3]\
        [Plen Bins: 0,0,100,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
    const QUIC_V6: &str = "\t1\tUDP [::1]:42086 <-> [::1]:4443 [proto: 188/QUIC][IP: 0/Unknown][Encrypted]\
        [Confidence: DPI][FPC: 188/QUIC, Confidence: DPI][DPI packets: 1][cat: Web/5]\
        [8 pkts/2734 bytes <-> 11 pkts/10236 bytes][Goodput ratio: 81/93][0.54 sec]\
        [Hostname/SNI: test][(Advertised) ALPNs: h3][TLS Supported Versions: TLSv1.3]\
        [bytes ratio: -0.578 (Download)]\
        [IAT c2s/s2c min/avg/max/stddev: 0/0 90/44 251/100 114/43]\
        [Pkt Len c2s/s2c min/avg/max/stddev: 119/119 342/931 1296/2098 370/669]\
        [Risk: ** Known Proto on Non Std Port **][Risk Score: 50]\
        [Risk Info: No server to client traffic][TLSv1.3][QUIC ver: V-2]\
        [JA3C: 5e685944fc983af5eabcc813add3dca1][JA4: q13d0310h0_55b375c5d22e_0a3b52e28cea]\
        [Plen Bins: 0,26,0,0,5,15,0,0,0,5,0,0,0,10,0,0,0,5,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,5,0,0,0,0,0,0,21,0,5]";
    const STUN_BAD_V6: &str = "\t8\tUDP [2600:1900:4160:5999::19::]:3478 -> [2001:b07:a3d:c112:48a1:1094:1227:281e]:48094 [proto: 78/STUN]\
        [IP: 284/GoogleCloud][ClearText][Confidence: DPI][FPC: 78/STUN, Confidence: DPI]\
        [DPI packets: 3][cat: Network/14][3 pkts/414 bytes -> 0 pkts/0 bytes]\
        [Goodput ratio: 55/0][5.22 sec]\
        [Mapped IP/Port: [2001:b07:a3d:c112:48a1:1094:1227:281e]:48094]\
        [Rsp Origin IP/Port: [2600:1900:4160:5999:0:19::]:3478]\
        [Other IP/Port: [2600:1900:4160:5999:0:19::]:80][Risk: ** Unidirectional Traffic **]\
        [Risk Score: 10][Risk Info: No server to client traffic][PLAIN TEXT (KdfbdZ2)]\
        [Plen Bins: 0,66,0,33,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
    const ONE_WAY: &str = "\t13\tTCP 192.168.1.117:54854 -> 172.217.21.72:443 [proto: 91.239/TLS.GoogleServices]\
        [IP: 126/Google][Encrypted][Confidence: DPI]\
        [FPC: 91.239/TLS.GoogleServices, Confidence: DPI][DPI packets: 4][cat: Web/5]\
        [4 pkts/1060 bytes -> 0 pkts/0 bytes][Goodput ratio: 75/0][6.46 sec]\
        [Hostname/SNI: www.googletagmanager.com]\
        [(Advertised) ALPNs: h2;h2-16;h2-15;h2-14;spdy/3.1;spdy/3;http/1.1]\
        [Risk: ** Obsolete TLS (v1.1 or older) **** Unidirectional Traffic **][Risk Score: 110]\
        [Risk Info: No server to client traffic / TLSv1][TLSv1]\
        [JA3C: d78489b860c8bf7838a6ff0b4d131541][JA4: t10d0909h2_61c4dbd01224_cc731f12afbb]\
        [Plen Bins: 0,0,0,0,0,0,100,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
    const UNDETECTED: &str = "\t1\tUDP 192.168.1.2:30001 -> 212.242.33.36:40393 [proto: 0/Unknown][IP: 0/Unknown]\
        [ClearText][Confidence: Unknown][FPC: 0/Unknown, Confidence: Unknown][DPI packets: 1]\
        [1 pkts/146 bytes -> 0 pkts/0 bytes][Goodput ratio: 71/0][< 1 sec]\
        [Risk: ** Susp Entropy **** Unidirectional Traffic **][Risk Score: 20]\
        [Risk Info: No server to client traffic / Entropy: 5.220 (Executable?)]\
        [PLAIN TEXT (11894297)]\
        [Plen Bins: 0,0,0,100,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
    const ICMP: &str = "\t30\tICMP 192.168.1.117:0 -> 162.255.38.14:0 [proto: 81/ICMP][IP: 189/Zoom][ClearText]\
        [Confidence: DPI][FPC: 81/ICMP, Confidence: DPI][DPI packets: 1][cat: Network/14]\
        [2 pkts/140 bytes -> 0 pkts/0 bytes][Goodput ratio: 40/0][0.01 sec]\
        [Risk: ** Unidirectional Traffic **][Risk Score: 10]\
        [Risk Info: No server to client traffic]\
        [Plen Bins: 100,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
    const JA3_HOST: &str = "\t1\t 192.168.1.117            \t 4      ";

    fn ep(addr: &str, port: u16) -> Endpoint {
        Endpoint {
            addr: addr.into(),
            port,
        }
    }

    #[test]
    fn parses_tls_flow_with_sni() {
        let flow = parse_ndpi_line(ZOOM_TLS).unwrap();
        assert_eq!(flow.transport, "tcp");
        assert_eq!(flow.first, ep("192.168.1.117", 54871));
        assert_eq!(flow.second, ep("109.94.160.99", 443));
        assert_eq!(
            (flow.master.as_str(), flow.app.as_deref()),
            ("TLS", Some("Zoom"))
        );
        assert_eq!(flow.tunnel, None);
        assert_eq!(flow.hostname.as_deref(), Some("zoomfrn99mmr.zoom.us"));
        assert_eq!(flow.label(), "TLS.Zoom");
    }

    #[test]
    fn parses_tunnelled_flow_after_vlan_field() {
        let flow = parse_ndpi_line(ZOOM_GTP).unwrap();
        assert_eq!(flow.tunnel.as_deref(), Some("GTP"));
        assert_eq!((flow.master.as_str(), flow.app.as_deref()), ("Zoom", None));
        assert_eq!(flow.hostname, None);
        assert_eq!(flow.label(), "GTP:Zoom");
    }

    #[test]
    fn parses_ipv6_in_brackets_and_one_way_flows() {
        let flow = parse_ndpi_line(QUIC_V6).unwrap();
        assert_eq!(
            (flow.first, flow.second),
            (ep("::1", 42086), ep("::1", 4443))
        );
        assert_eq!(flow.hostname.as_deref(), Some("test"));
        let flow = parse_ndpi_line(ONE_WAY).unwrap();
        assert_eq!(flow.second, ep("172.217.21.72", 443));
        assert_eq!(flow.app.as_deref(), Some("GoogleServices"));
    }

    #[test]
    fn keeps_malformed_ipv6_raw_and_expands_it() {
        let flow = parse_ndpi_line(STUN_BAD_V6).unwrap();
        assert_eq!(flow.first, ep("2600:1900:4160:5999::19::", 3478));
        let expansions = ambiguous_ipv6_expansions(&flow.first.addr);
        assert_eq!(expansions.len(), 2);
        assert!(expansions.contains(&"2600:1900:4160:5999:0:19::".to_string()));
        assert!(ambiguous_ipv6_expansions("2a38::24d9").is_empty());
    }

    #[test]
    fn parses_undetected_and_icmp_but_not_host_stats() {
        let flow = parse_ndpi_line(UNDETECTED).unwrap();
        assert_eq!((flow.master.as_str(), flow.app), ("Unknown", None));
        assert_eq!(parse_ndpi_line(ICMP).unwrap().transport, "icmp");
        assert_eq!(parse_ndpi_line(JA3_HOST), None);
        assert_eq!(parse_ndpi_line("DNS\t2\t205\t1"), None);
        assert_eq!(parse_ndpi_line(""), None);
    }

    #[test]
    fn canonicalises_ipv6() {
        assert_eq!(
            canonical_addr("2a38:e156:8167:a333:face:b00c::24d9"),
            canonical_addr("2a38:e156:8167:a333:face:b00c:0:24d9")
        );
    }

    #[test]
    fn maps_app_names() {
        assert_eq!(map_app("Zoom"), Some(&["zoom"][..]));
        assert!(map_app("Skype_TeamsCall").unwrap().contains(&"skype"));
        assert_eq!(map_app("GoogleCall"), Some(&["meet"][..]));
        assert_eq!(map_app("TelegramVoip"), Some(&["telegram"][..]));
        assert_eq!(map_app("Microsoft365"), None);
        assert_eq!(map_app("GoogleServices"), None);
        let stun_app =
            parse_ndpi_line("\t1\tUDP 1.2.3.4:1 <-> 5.6.7.8:3478 [proto: 78.45/STUN.WhatsAppCall]")
                .unwrap();
        assert_eq!(ndpi_app(&stun_app).unwrap().1, &["whatsapp"][..]);
        let bare =
            parse_ndpi_line("\t1\tUDP 1.2.3.4:1 <-> 5.6.7.8:8801 [proto: 189/Zoom]").unwrap();
        assert_eq!(ndpi_app(&bare).unwrap().0, "Zoom");
    }

    #[test]
    fn maps_protocol_names() {
        assert_eq!(map_protocol("SRTP"), Some(&["rtp", "srtp"][..]));
        assert_eq!(map_protocol("STUN").unwrap()[0], "stun");
        assert_eq!(map_protocol("DNS"), Some(&["dns"][..]));
        assert_eq!(map_protocol("Zoom"), None);
        let flow =
            parse_ndpi_line("\t1\tUDP 1.2.3.4:1 <-> 5.6.7.8:2 [proto: 78.87/STUN.RTP]").unwrap();
        let mapped: Vec<_> = flow
            .names()
            .filter_map(map_protocol)
            .map(|ids| ids[0])
            .collect();
        assert_eq!(mapped, ["stun", "rtp"]);
    }

    #[test]
    fn flow_keys_ignore_direction() {
        let a = FlowKey::new("UDP", ep("10.0.0.1", 5), ep("10.0.0.2", 6));
        let b = FlowKey::new("udp", ep("10.0.0.2", 6), ep("10.0.0.1", 5));
        assert_eq!(a, b);
    }

    #[test]
    fn parses_tshark_fields() {
        let key =
            parse_tshark_line("eth:ethertype:ip:udp:dtls\t1.2.3.4\t5.6.7.8\t\t\t\t\t4000\t443")
                .unwrap();
        assert_eq!(
            key,
            FlowKey::new("udp", ep("1.2.3.4", 4000), ep("5.6.7.8", 443))
        );
        let v6 = parse_tshark_line("eth:ipv6:tcp:tls\t\t\t::1\t::2\t1\t2\t\t").unwrap();
        assert_eq!(v6, FlowKey::new("tcp", ep("::1", 1), ep("::2", 2)));
        assert_eq!(
            parse_tshark_line("eth:ip:icmp:ip:udp:dtls\t1.2.3.4\t5.6.7.8\t\t\t\t\t1\t2"),
            None
        );
    }
}
