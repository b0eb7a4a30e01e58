//! `--redact`: the report without the capturing side, so that its evidence can be published.
//!
//! Redaction rewrites the [`Report`] value once, before any emitter runs, so every format shows
//! the same redacted report by construction. What goes (docs/json-report.md, "Redacted
//! reports"):
//!
//! - **addresses of the capturing side**, wherever they appear (a flow's client or server end,
//!   a finding's server, any text): every flow's client address, and every address in the
//!   capturing side's own networks — private (RFC 1918), loopback, link-local, CGNAT shared
//!   space, unique-local IPv6. Such servers are never located, so no server fact is lost;
//! - **local host names**: names under `.local` (mDNS), `.lan`, `.home`, `.home.arpa`,
//!   `.internal`, `.localdomain`, …, single-label names, reverse-DNS names of redacted
//!   addresses, and the name and certificate subject of a redacted server;
//! - **MAC addresses** in any text (`02:ca:11:00:00:20`, `02-CA-…`, `02ca.1100.0020`);
//! - **directories** of capture, policy and database paths (the file name stays), and the live
//!   interface's name;
//! - a **vantage point given as coordinates**: rounded to whole degrees (about 100 km), and the
//!   distances measured from it in notes rounded down to 100 km.
//!
//! Each redacted address becomes a placeholder from the documentation ranges, in order of
//! first appearance: 192.0.2.1, 192.0.2.2, … (then 198.51.100.0/24, 203.0.113.0/24, and past
//! 762 addresses the reserved 240.0.0.0/4), 2001:db8::1, 2001:db8::2, … The same address always
//! gets the same placeholder, so the flows of one client stay linkable; a placeholder is never
//! an address the report shows for something else. Redacted names become `host-N.invalid`,
//! MAC addresses `00:00:5e:00:53:NN` (RFC 7042's documentation range).
//!
//! Kept on purpose: client ports (ephemeral, and they let a reader match the report against
//! the capture), public server addresses and every server fact, findings, packet numbers and
//! times, the local program behind a live flow (`process`: a program's name, not the
//! machine's), the policy's lists, and the capture file's name.
//!
//! A [`Redactor`] keeps its placeholders, so `callaudit live` redacts each event as it is
//! written and the final report with the same ones.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{FindingReport, FlowReport, Report};
use crate::flow::Endpoint;
use crate::geo::physics::Vantage;
use crate::geo::{canonical, special_range, SpecialRange};

/// The note every redacted report carries in `warnings`.
pub const REDACTED_WARNING: &str = "redacted (--redact): the capturing side's addresses are \
    documentation-range placeholders (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, \
    2001:db8::/32), its host names host-N.invalid, paths file names only; servers and findings \
    are as audited";

/// What a certificate subject of a redacted server becomes.
const REDACTED_CERTIFICATE: &str = "CN=redacted";

/// What a live interface's name becomes.
const REDACTED_INTERFACE: &str = "redacted";

/// Suffixes of names that exist only on a local network (RFC 6762 `.local`, RFC 8375
/// `home.arpa`, ICANN's `.internal`, and the undelegated names routers and companies use).
const LOCAL_SUFFIXES: [&str; 10] = [
    "local",
    "lan",
    "home",
    "home.arpa",
    "internal",
    "intranet",
    "corp",
    "private",
    "localdomain",
    "localhost",
];

/// Redacts `report` in place (see the module documentation).
pub fn redact(report: &mut Report) {
    Redactor::new().report(report);
}

/// Placeholders given so far, and what is known to belong to the capturing side.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Addresses seen as a flow's client (canonical).
    clients: HashSet<IpAddr>,
    /// Original (canonical) → placeholder.
    addresses: HashMap<IpAddr, IpAddr>,
    /// Addresses the report shows: a placeholder is never one of them.
    taken: HashSet<IpAddr>,
    next_v4: u32,
    next_v6: u128,
    /// Local names (lowercase, no trailing dot) → placeholder.
    names: HashMap<String, String>,
    /// Paths → their file names, longest first.
    paths: Vec<(String, String)>,
    /// Other literal text (certificate subjects, coordinates, interface names) → replacement,
    /// longest first.
    literals: Vec<(String, String)>,
    /// Every literal and path registered, to find one fast (a directory of thousands of
    /// captures).
    literal_keys: HashSet<String>,
    macs: HashMap<[u8; 6], String>,
    /// The vantage point's rounded coordinates as notes write them, when it is a point.
    vantage_text: Option<String>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Redacts a whole report: every flow, finding, text, path and the policy's vantage point,
    /// and adds [`REDACTED_WARNING`] to its warnings.
    pub fn report(&mut self, report: &mut Report) {
        // Everything the report shows as an address, so that no placeholder collides with one.
        for flow in &report.flows {
            self.clients.insert(canonical(flow.client.ip));
            self.taken.insert(canonical(flow.client.ip));
            self.taken.insert(canonical(flow.server.ip));
        }
        for finding in report
            .findings
            .iter()
            .chain(&report.allowed)
            .chain(&report.baselined)
        {
            self.taken.insert(canonical(finding.server.ip));
        }

        // Names and literals first, so that every text below sees all of them.
        for capture in &mut report.captures {
            capture.path = self.path(&capture.path);
        }
        for database in &mut report.databases {
            if database.source != "embedded" {
                database.source = self.path(&database.source);
            }
        }
        if report.policy.source != "built-in" {
            report.policy.source = self.path(&report.policy.source);
        }
        if let Some(vantage) = &mut report.policy.vantage {
            self.vantage(vantage);
        }
        for flow in &report.flows {
            self.learn_flow_names(flow);
        }

        for flow in &mut report.flows {
            self.flow(flow);
            for disagreement in &mut flow.server.disagreement {
                if disagreement.source != "embedded" {
                    disagreement.source = self.path(&disagreement.source);
                }
            }
        }
        for finding in report
            .findings
            .iter_mut()
            .chain(report.allowed.iter_mut())
            .chain(report.baselined.iter_mut())
        {
            self.finding(finding);
        }
        for capture in &mut report.captures {
            if let Some(warning) = &capture.warning {
                capture.warning = Some(self.text(warning));
            }
        }
        for warning in &mut report.warnings {
            *warning = self.text(warning);
        }
        for entry in &mut report.policy.allow {
            entry.reason = self.text(&entry.reason);
        }
        for network in &mut report.policy.networks {
            network.label = self.text(&network.label);
        }
        report.warnings.push(REDACTED_WARNING.to_string());
    }

    /// Whether `ip` belongs to the capturing side: a client seen so far, or an address of a
    /// local network.
    pub fn redacts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.clients.contains(&ip) || is_local_address(ip)
    }

    /// The placeholder of a client address (remembered as the capturing side's from now on).
    pub fn client(&mut self, ip: IpAddr) -> IpAddr {
        self.clients.insert(canonical(ip));
        self.placeholder(ip)
    }

    /// A server address: its placeholder when it belongs to the capturing side, else itself.
    pub fn server(&mut self, ip: IpAddr) -> IpAddr {
        if self.redacts(ip) {
            self.placeholder(ip)
        } else {
            ip
        }
    }

    /// A flow's client and server endpoints, as live's `flow_started` event shows them.
    pub fn endpoints(&mut self, client: Endpoint, server: Endpoint) -> (Endpoint, Endpoint) {
        let client = Endpoint {
            ip: self.client(client.ip),
            port: client.port,
        };
        let server = Endpoint {
            ip: self.server(server.ip),
            port: server.port,
        };
        (client, server)
    }

    /// Redacts one flow.
    pub fn flow(&mut self, flow: &mut FlowReport) {
        self.clients.insert(canonical(flow.client.ip));
        self.learn_flow_names(flow);
        flow.client.ip = self.client(flow.client.ip);
        let server_redacted = self.redacts(flow.server.ip);
        flow.server.ip = self.server(flow.server.ip);
        if let Some(hostname) = &flow.hostname {
            flow.hostname = Some(self.hostname(hostname, server_redacted));
        }
        if let Some(certificate) = &flow.certificate {
            flow.certificate = Some(if server_redacted {
                REDACTED_CERTIFICATE.to_string()
            } else {
                self.text(certificate)
            });
        }
        if let Some(evidence) = &flow.app_evidence {
            flow.app_evidence = Some(self.text(evidence));
        }
        // As the policy's `networks` and the findings' notes show it.
        if let Some(label) = &flow.server.network {
            flow.server.network = Some(self.text(label));
        }
    }

    /// Redacts one finding (its server, host name, notes and allow-list reason).
    pub fn finding(&mut self, finding: &mut FindingReport) {
        let server_redacted = self.redacts(finding.server.ip);
        finding.server.ip = self.server(finding.server.ip);
        if let Some(hostname) = &finding.hostname {
            finding.hostname = Some(self.hostname(hostname, server_redacted));
        }
        finding.notes = finding.notes.iter().map(|note| self.note(note)).collect();
        if let Some(reason) = &finding.allowed {
            finding.allowed = Some(self.text(reason));
        }
    }

    /// A path without its directories (`/home/alice/call.pcap` → `call.pcap`); a live
    /// capture's `live:IFACE` without the interface name. Later texts get the same.
    pub fn path(&mut self, path: &str) -> String {
        if let Some(interface) = path.strip_prefix("live:") {
            return format!("live:{}", self.interface(interface));
        }
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path).to_string();
        if name != path && !name.is_empty() {
            self.literal(path, &name);
            name
        } else {
            path.to_string()
        }
    }

    /// A capture interface's name (which may hold a MAC address, `wlx00c0ca…`, or a GUID).
    pub fn interface(&mut self, name: &str) -> String {
        // `any` and loopback names identify nothing, and would match ordinary words.
        if name.len() >= 4 && name != "any" {
            self.literal(name, REDACTED_INTERFACE);
        }
        REDACTED_INTERFACE.to_string()
    }

    /// Free text (evidence phrases, notes, warnings, reasons) with every redacted address,
    /// local name, known path and MAC address replaced.
    pub fn text(&mut self, text: &str) -> String {
        let text = self.replace_literals(text);
        let text = self.replace_names(&text);
        let text = self.replace_addresses(&text);
        self.replace_macs(&text)
    }

    /// A finding's note: [`Redactor::text`], and a distance from a rounded vantage point
    /// rounded down to 100 km.
    fn note(&mut self, note: &str) -> String {
        let text = self.text(note);
        match &self.vantage_text {
            Some(vantage) => round_distances(&text, &format!(" km from {vantage}")),
            None => text,
        }
    }

    /// Rounds a vantage point to whole degrees; notes citing it are rewritten the same way.
    fn vantage(&mut self, vantage: &mut Vantage) {
        if let Vantage::Point { lat, lon } = vantage {
            // As the policy's physics note writes them.
            let original = format!("{lat:.2},{lon:.2}");
            *lat = lat.round();
            *lon = lon.round();
            let rounded = format!("{lat:.2},{lon:.2}");
            self.literal(&original, &rounded);
            self.vantage_text = Some(rounded);
        }
    }

    /// A host name: its placeholder when it is local or names a redacted server.
    fn hostname(&mut self, name: &str, server_redacted: bool) -> String {
        let key = name_key(name);
        if let Some(placeholder) = self.names.get(&key) {
            return placeholder.clone();
        }
        if server_redacted || self.is_local_name(&key, true) {
            self.name_placeholder(key)
        } else {
            name.to_string()
        }
    }

    /// Registers the local names of a flow (so that texts of earlier flows see them too).
    fn learn_flow_names(&mut self, flow: &FlowReport) {
        let server_redacted = self.redacts(flow.server.ip);
        if let Some(hostname) = &flow.hostname {
            let key = name_key(hostname);
            if !self.names.contains_key(&key) && (server_redacted || self.is_local_name(&key, true))
            {
                self.name_placeholder(key);
            }
        }
        if server_redacted {
            if let Some(certificate) = &flow.certificate {
                self.literal(certificate, REDACTED_CERTIFICATE);
            }
        }
    }

    fn name_placeholder(&mut self, key: String) -> String {
        let placeholder = format!("host-{}.invalid", self.names.len() + 1);
        self.names.insert(key, placeholder.clone());
        placeholder
    }

    /// Whether a name (lowercase, no trailing dot) exists only on the capturing side's
    /// network. `single_label_is_local`: a lone label counts (host name fields), not in free
    /// text, where it would be any word.
    fn is_local_name(&self, name: &str, single_label_is_local: bool) -> bool {
        if name.is_empty() {
            return false;
        }
        if !name.contains('.') {
            // `localhost`, a NetBIOS or DHCP name; in text, any word.
            return single_label_is_local;
        }
        if LOCAL_SUFFIXES
            .iter()
            .any(|suffix| name.strip_suffix(suffix).is_some_and(|s| s.ends_with('.')))
        {
            return true;
        }
        if name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa") {
            // A reverse name of a redacted address, or of a whole (local) prefix.
            return reverse_name_address(name).is_none_or(|ip| self.redacts(ip));
        }
        false
    }

    fn literal(&mut self, from: &str, to: &str) {
        if from.is_empty() || from == to || !self.literal_keys.insert(from.to_string()) {
            return;
        }
        let list = if is_path(from) {
            &mut self.paths
        } else {
            &mut self.literals
        };
        // Longest first, so that a path is replaced before a shorter one inside it.
        let at = list.partition_point(|(other, _)| other.len() >= from.len());
        list.insert(at, (from.to_string(), to.to_string()));
    }

    fn placeholder(&mut self, ip: IpAddr) -> IpAddr {
        let ip = canonical(ip);
        if let Some(placeholder) = self.addresses.get(&ip) {
            return *placeholder;
        }
        let placeholder = loop {
            let candidate = match ip {
                IpAddr::V4(_) => {
                    self.next_v4 += 1;
                    IpAddr::V4(v4_placeholder(self.next_v4))
                }
                IpAddr::V6(_) => {
                    self.next_v6 += 1;
                    IpAddr::V6(v6_placeholder(self.next_v6))
                }
            };
            if !self.taken.contains(&candidate) && !self.addresses.contains_key(&candidate) {
                break candidate;
            }
        };
        self.addresses.insert(ip, placeholder);
        self.taken.insert(placeholder);
        placeholder
    }

    fn replace_literals(&self, text: &str) -> String {
        let mut text = text.to_string();
        // Most texts (evidence phrases) hold no path.
        let paths = if is_path(&text) { &self.paths[..] } else { &[] };
        for (from, to) in paths.iter().chain(&self.literals) {
            if text.contains(from.as_str()) {
                text = replace_bounded(&text, from, to);
            }
        }
        text
    }

    /// Runs of host-name characters that are registered local names or look local.
    fn replace_names(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_name_char) {
            out.push_str(&rest[..start]);
            let run = &rest[start..];
            let end = run.find(|c| !is_name_char(c)).unwrap_or(run.len());
            let token = &run[..end];
            // A sentence's full stop is not part of the name.
            let name = token.trim_end_matches('.');
            let key = name.to_ascii_lowercase();
            let replacement = match self.names.get(&key) {
                Some(placeholder) => Some(placeholder.clone()),
                None if self.is_local_name(&key, false) => Some(self.name_placeholder(key)),
                None => None,
            };
            match replacement {
                Some(placeholder) => {
                    out.push_str(&placeholder);
                    out.push_str(&token[name.len()..]);
                }
                None => out.push_str(token),
            }
            rest = &run[end..];
        }
        out.push_str(rest);
        out
    }

    /// Runs of address characters that parse as a redacted IPv4 or IPv6 address (an IPv4
    /// address may carry `:port`).
    fn replace_addresses(&mut self, text: &str) -> String {
        let is_address_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_address_char) {
            out.push_str(&rest[..start]);
            let run = &rest[start..];
            let end = run.find(|c| !is_address_char(c)).unwrap_or(run.len());
            let token = &run[..end];
            match self.address_in(token) {
                Some((ip, len)) if self.redacts(ip) => {
                    out.push_str(&self.placeholder(ip).to_string());
                    out.push_str(&token[len..]);
                }
                _ => out.push_str(token),
            }
            rest = &run[end..];
        }
        out.push_str(rest);
        out
    }

    /// The address a token starts with, and its length: the whole token, the token without
    /// trailing punctuation, or an IPv4 address before `:port`.
    fn address_in(&self, token: &str) -> Option<(IpAddr, usize)> {
        if let Ok(ip) = token.parse::<IpAddr>() {
            return Some((ip, token.len()));
        }
        let trimmed = token.trim_end_matches(['.', ':']);
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Some((ip, trimmed.len()));
        }
        let (address, port) = trimmed.rsplit_once(':')?;
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let ip: Ipv4Addr = address.parse().ok()?;
        Some((IpAddr::V4(ip), address.len()))
    }

    fn replace_macs(&mut self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            let boundary_before = i == 0 || !is_mac_context(bytes[i - 1]);
            if let Some((mac, len)) = boundary_before.then(|| mac_at(&bytes[i..])).flatten() {
                out.push_str(&text[copied..i]);
                let next = self.macs.len();
                let placeholder = self
                    .macs
                    .entry(mac)
                    .or_insert_with(|| format!("00:00:5e:00:53:{:02x}", next.min(0xff)))
                    .clone();
                out.push_str(&placeholder);
                i += len;
                copied = i;
            } else {
                i += 1;
            }
        }
        out.push_str(&text[copied..]);
        out
    }
}

/// Private, loopback, link-local, CGNAT and unique-local addresses: the capturing side's own
/// networks. Multicast, broadcast, documentation and reserved addresses identify nobody.
fn is_local_address(ip: IpAddr) -> bool {
    matches!(
        special_range(ip),
        Some(
            SpecialRange::Private
                | SpecialRange::Loopback
                | SpecialRange::LinkLocal
                | SpecialRange::Cgnat
                | SpecialRange::UniqueLocal
        )
    )
}

/// The `n`th IPv4 placeholder (from 1): 192.0.2.1–254, 198.51.100.1–254, 203.0.113.1–254
/// (RFC 5737), then 240.0.0.1 onwards (reserved, RFC 1112).
fn v4_placeholder(n: u32) -> Ipv4Addr {
    const BLOCKS: [[u8; 3]; 3] = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
    let index = n.saturating_sub(1);
    if let Some(block) = BLOCKS.get((index / 254) as usize) {
        return Ipv4Addr::new(block[0], block[1], block[2], (index % 254 + 1) as u8);
    }
    let past = n - 3 * 254;
    let reserved = u32::from(Ipv4Addr::new(240, 0, 0, 0));
    Ipv4Addr::from(reserved.saturating_add(past).min(u32::MAX - 1))
}

/// The `n`th IPv6 placeholder (from 1): 2001:db8::n (RFC 3849).
fn v6_placeholder(n: u128) -> Ipv6Addr {
    let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0));
    Ipv6Addr::from(base + (n & ((1u128 << 96) - 1)))
}

fn is_path(text: &str) -> bool {
    text.contains(['/', '\\'])
}

fn name_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// The address a reverse-DNS name stands for: `20.1.168.192.in-addr.arpa` → 192.168.1.20;
/// `None` for a name of a prefix rather than one address.
fn reverse_name_address(name: &str) -> Option<IpAddr> {
    if let Some(labels) = name.strip_suffix(".in-addr.arpa") {
        let octets: Vec<u8> = labels
            .split('.')
            .map(|label| label.parse().ok())
            .collect::<Option<_>>()?;
        let [d, c, b, a] = octets[..] else {
            return None;
        };
        return Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
    }
    let labels = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u32> = labels
        .split('.')
        .map(|label| {
            (label.len() == 1)
                .then(|| label.chars().next()?.to_digit(16))
                .flatten()
        })
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let value = nibbles
        .iter()
        .rev()
        .fold(0u128, |acc, &nibble| (acc << 4) | u128::from(nibble));
    Some(IpAddr::V6(Ipv6Addr::from(value)))
}

/// Replaces `from` where it stands alone: not inside a longer word, path or name.
fn replace_bounded(text: &str, from: &str, to: &str) -> String {
    let inside =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || "._-/\\".contains(c));
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, _) in text.match_indices(from) {
        if start < last {
            continue;
        }
        let end = start + from.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        // A trailing full stop ends a sentence, not a name.
        let after_is_inside = inside(after)
            && !(after == Some('.')
                && text[end + 1..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace()));
        if inside(before) || after_is_inside {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str(to);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Characters that would make a MAC-shaped match part of something longer (an IPv6 address,
/// a hex string).
fn is_mac_context(b: u8) -> bool {
    b.is_ascii_hexdigit() || matches!(b, b':' | b'-' | b'.')
}

/// A MAC address at the start of `bytes`, and its length: six pairs of hex digits separated
/// by `:` or `-`, or three groups of four separated by `.` (Cisco).
fn mac_at(bytes: &[u8]) -> Option<([u8; 6], usize)> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let pair = |at: usize| Some(hex(*bytes.get(at)?)? << 4 | hex(*bytes.get(at + 1)?)?);
    let ends_here = |len: usize| {
        bytes.get(len).is_none_or(|&b| {
            !is_mac_context(b)
                || (b == b'.' && bytes.get(len + 1).is_none_or(|c| !c.is_ascii_hexdigit()))
        })
    };
    // xx:xx:xx:xx:xx:xx or xx-xx-xx-xx-xx-xx
    if let Some(&separator) = bytes.get(2).filter(|&&b| b == b':' || b == b'-') {
        let mut mac = [0u8; 6];
        let complete = (0..6).all(|k| {
            let at = k * 3;
            let separated = k == 5 || bytes.get(at + 2) == Some(&separator);
            match pair(at) {
                Some(value) if separated => {
                    mac[k] = value;
                    true
                }
                _ => false,
            }
        });
        if complete && ends_here(17) {
            return Some((mac, 17));
        }
    }
    // xxxx.xxxx.xxxx
    if bytes.get(4) == Some(&b'.') && bytes.get(9) == Some(&b'.') {
        let mut mac = [0u8; 6];
        let complete = (0..6).all(|k| {
            let at = k * 2 + k / 2;
            match pair(at) {
                Some(value) => {
                    mac[k] = value;
                    true
                }
                None => false,
            }
        });
        if complete && ends_here(14) {
            return Some((mac, 14));
        }
    }
    None
}

/// Rounds down to 100 km each distance written as `at least N<marker>` (e.g. `… at least 8123
/// km from 52.00,13.00` → `at least 8100 km from …`).
fn round_distances(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, _) in text.match_indices(marker) {
        let digits_start = text[..start]
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        let Ok(km) = text[digits_start..start].parse::<u64>() else {
            continue;
        };
        if digits_start < last {
            continue;
        }
        out.push_str(&text[last..digits_start]);
        out.push_str(&(km / 100 * 100).to_string());
        last = start;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The fixtures whose client is 192.168.1.20 (and fd00::20), audited with the embedded
    /// data, from their absolute paths.
    fn fixtures_report() -> Report {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        crate::report::testing::audit(&[
            dir.join("citizenlab-zoom-2020.pcap"),
            dir.join("webrtc-call.pcap"),
            dir.join("sip-sdes-call.pcap"),
            dir.join("linktypes/raw-ipv6.pcap"),
        ])
    }

    #[test]
    fn placeholders_come_from_the_documentation_ranges_in_order() {
        assert_eq!(v4_placeholder(1), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(v4_placeholder(254), Ipv4Addr::new(192, 0, 2, 254));
        assert_eq!(v4_placeholder(255), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(v4_placeholder(509), Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(v4_placeholder(762), Ipv4Addr::new(203, 0, 113, 254));
        assert_eq!(v4_placeholder(763), Ipv4Addr::new(240, 0, 0, 1));
        assert_eq!(IpAddr::V6(v6_placeholder(1)), ip("2001:db8::1"));
        assert_eq!(
            v6_placeholder(0x1_0000),
            "2001:db8::1:0".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn one_address_one_placeholder_never_an_address_the_report_shows() {
        let mut redactor = Redactor::new();
        redactor.taken.insert(ip("192.0.2.1"));
        let client = redactor.client(ip("192.168.1.20"));
        assert_eq!(client, ip("192.0.2.2"), "192.0.2.1 is taken");
        assert_eq!(redactor.client(ip("192.168.1.20")), client);
        // The IPv4-mapped form is the same address.
        assert_eq!(redactor.server(ip("::ffff:192.168.1.20")), client);
        assert_eq!(redactor.server(ip("192.168.1.1")), ip("192.0.2.3"));
        assert_eq!(redactor.client(ip("fd00::20")), ip("2001:db8::1"));
        // Public servers, multicast and documentation addresses stay.
        for kept in ["52.81.151.250", "224.0.0.251", "ff02::fb", "198.51.100.77"] {
            assert_eq!(redactor.server(ip(kept)), ip(kept));
        }
        // Private, loopback, link-local, CGNAT and unique-local servers go.
        for local in [
            "10.1.2.3",
            "127.0.0.1",
            "169.254.9.9",
            "100.64.1.1",
            "fe80::1",
            "fc00::5",
            "::1",
        ] {
            assert_ne!(redactor.server(ip(local)), ip(local), "{local}");
        }
        // A public address seen as a client is the capturing side's, also as a server.
        let public_client = redactor.client(ip("81.2.69.160"));
        assert_eq!(redactor.server(ip("81.2.69.160")), public_client);
    }

    #[test]
    fn text_loses_addresses_in_every_spelling_and_keeps_the_rest() {
        let mut redactor = Redactor::new();
        let v4 = redactor.client(ip("192.168.1.20"));
        let v6 = redactor.client(ip("fd00::20"));
        let cases = [
            (
                "from 192.168.1.20:53001 to 52.81.151.250:443",
                format!("from {v4}:53001 to 52.81.151.250:443"),
            ),
            ("client 192.168.1.20.", format!("client {v4}.")),
            ("peer [fd00::20]:54321", format!("peer [{v6}]:54321")),
            ("peer fd00:0:0:0:0:0:0:20, then", format!("peer {v6}, then")),
            ("mapped ::ffff:192.168.1.20", format!("mapped {v4}")),
            // A different address that shares a prefix is not the client.
            (
                "192.168.1.2 and 192.168.1.200",
                format!(
                    "{} and {}",
                    redactor.placeholder(ip("192.168.1.2")),
                    redactor.placeholder(ip("192.168.1.200"))
                ),
            ),
            (
                "tls sni zoomfrn99mmr.zoom.us",
                "tls sni zoomfrn99mmr.zoom.us".to_string(),
            ),
            (
                "flow 4, packet #26 at 2020-04-02T15:00:00.950200Z",
                "flow 4, packet #26 at 2020-04-02T15:00:00.950200Z".to_string(),
            ),
            (
                "asn AS30103; ip list zoom 2024-08-02",
                "asn AS30103; ip list zoom 2024-08-02".to_string(),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(redactor.text(text), expected, "{text}");
        }
    }

    #[test]
    fn mac_addresses_go_in_every_spelling() {
        let mut redactor = Redactor::new();
        let text = "a 02:ca:11:00:00:20 b 02-CA-11-00-00-20 c 02ca.1100.0020 d 02:ca:11:00:00:01.";
        assert_eq!(
            redactor.text(text),
            "a 00:00:5e:00:53:00 b 00:00:5e:00:53:00 c 00:00:5e:00:53:00 d 00:00:5e:00:53:01."
        );
        // IPv6 addresses and times are not MAC addresses.
        for kept in [
            "2a00:1450:4001:80b::200e",
            "aa:bb:cc:dd:ee:ff:11:22",
            "15:00:00.950200",
        ] {
            assert_eq!(redactor.text(kept), kept);
        }
    }

    #[test]
    fn local_names_go_public_names_stay() {
        let mut redactor = Redactor::new();
        assert_eq!(
            redactor.hostname("Alice-MacBook.local.", false),
            "host-1.invalid"
        );
        assert_eq!(
            redactor.hostname("alice-macbook.local", false),
            "host-1.invalid"
        );
        assert_eq!(redactor.hostname("nas", false), "host-2.invalid");
        assert_eq!(
            redactor.hostname("printer.home.arpa", false),
            "host-3.invalid"
        );
        assert_eq!(
            redactor.hostname("20.1.168.192.in-addr.arpa", false),
            "host-4.invalid"
        );
        assert_eq!(
            redactor.hostname("zoombj250mmr.bj.zoom.us", false),
            "zoombj250mmr.bj.zoom.us"
        );
        assert_eq!(
            redactor.hostname("250.151.81.52.in-addr.arpa", false),
            "250.151.81.52.in-addr.arpa"
        );
        // A redacted server's name goes whatever it is.
        assert_eq!(
            redactor.hostname("router.example.net", true),
            "host-5.invalid"
        );
        // In text: known names, and names that look local; a lone word is not a name.
        assert_eq!(
            redactor.text("sdp media of nas and 9b1c-uuid.local. via alice-macbook.local"),
            "sdp media of host-2.invalid and host-6.invalid. via host-1.invalid"
        );
        assert_eq!(redactor.text("zoom framing"), "zoom framing");
        // Words are not names, even those that are local suffixes.
        for kept in [
            "server in policy network \"home\"",
            "a private or local address",
            "localhost",
        ] {
            assert_eq!(redactor.text(kept), kept);
        }
        let reverse = "b.a.9.8.7.6.5.4.3.2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(
            reverse_name_address(reverse),
            Some(ip("fd00::123:4567:89ab"))
        );
        assert_ne!(redactor.hostname(reverse, false), reverse);
    }

    #[test]
    fn paths_keep_only_the_file_name_and_interfaces_go() {
        let mut redactor = Redactor::new();
        assert_eq!(redactor.path("/home/alice/calls/call.pcap"), "call.pcap");
        assert_eq!(
            redactor.path("C:\\Users\\alice\\call.pcapng"),
            "call.pcapng"
        );
        assert_eq!(redactor.path("call.pcap"), "call.pcap");
        assert_eq!(redactor.path("live:wlx00c0ca123456"), "live:redacted");
        assert_eq!(
            redactor
                .text("/home/alice/calls/call.pcap: truncated; wlx00c0ca123456: capture stopped"),
            "call.pcap: truncated; redacted: capture stopped"
        );
    }

    #[test]
    fn a_vantage_point_is_rounded_and_so_are_distances_from_it() {
        let mut redactor = Redactor::new();
        let mut vantage = Vantage::Point {
            lat: 52.52,
            lon: 13.405,
        };
        redactor.vantage(&mut vantage);
        assert_eq!(
            vantage,
            Vantage::Point {
                lat: 53.0,
                lon: 13.0
            }
        );
        let note = "a 2.0 ms round trip reaches at most 200 km, but the claimed location is at \
                    least 8123 km from 52.52,13.40";
        assert_eq!(
            redactor.note(note),
            "a 2.0 ms round trip reaches at most 200 km, but the claimed location is at least \
             8100 km from 53.00,13.00"
        );
        let mut country = Vantage::Country("DE".into());
        redactor.vantage(&mut country);
        assert_eq!(country, Vantage::Country("DE".into()));
    }

    #[test]
    fn live_events_and_the_final_report_share_placeholders() {
        let mut report = fixtures_report();
        let mut redactor = Redactor::new();
        // As `live` does: events first (here the IPv6 flow, then the DNS flow), the report last.
        let ipv6 = report.flows.last().unwrap();
        let (client, _) = redactor.endpoints(
            Endpoint {
                ip: ipv6.client.ip,
                port: ipv6.client.port,
            },
            Endpoint {
                ip: ipv6.server.ip,
                port: ipv6.server.port,
            },
        );
        let mut dns = report.flows[0].clone();
        redactor.flow(&mut dns);
        let mut finding = report.findings[0].clone();
        redactor.finding(&mut finding);
        redactor.report(&mut report);
        assert_eq!(report.flows.last().unwrap().client.ip, client.ip);
        assert_eq!(report.flows[0].client.ip, dns.client.ip);
        assert_eq!(report.flows[0].server.ip, dns.server.ip);
        assert_eq!(report.findings[0].server, finding.server);
        assert_eq!(client.ip, ip("2001:db8::1"));
        assert_eq!(dns.client.ip, ip("192.0.2.1"));
    }

    #[test]
    fn a_redacted_report_shows_no_client_and_every_server_fact() {
        let original = fixtures_report();
        let mut report = fixtures_report();
        redact(&mut report);
        let json = serde_json::to_string(&report).unwrap();
        for gone in [
            "192.168.1.20",
            "192.168.1.1",
            "fd00::20",
            "fixtures/",
            env!("CARGO_MANIFEST_DIR"),
        ] {
            assert!(!json.contains(gone), "{gone} in the redacted report");
        }
        assert_eq!(report.flows.len(), original.flows.len());
        // One client, one placeholder, in every flow of every capture.
        let clients: HashSet<String> = report
            .flows
            .iter()
            .map(|f| f.client.ip.to_string())
            .collect();
        assert_eq!(
            clients,
            HashSet::from(["192.0.2.1".to_string(), "2001:db8::1".to_string()])
        );
        for (before, after) in original.flows.iter().zip(&report.flows) {
            assert_eq!(before.client.port, after.client.port);
            assert_eq!(before.server.port, after.server.port);
            assert_eq!(before.server.country, after.server.country);
            assert_eq!(before.server.asn, after.server.asn);
            assert_eq!(before.app, after.app);
            if before.server.special.is_none() {
                assert_eq!(before.server.ip, after.server.ip);
                assert_eq!(before.hostname, after.hostname);
                assert_eq!(before.app_evidence, after.app_evidence);
            } else {
                assert_ne!(before.server.ip, after.server.ip);
            }
        }
        assert_eq!(report.findings.len(), original.findings.len());
        for (before, after) in original.findings.iter().zip(&report.findings) {
            assert_eq!(
                (
                    before.rule,
                    before.server,
                    &before.country,
                    before.packet,
                    &before.hostname
                ),
                (
                    after.rule,
                    after.server,
                    &after.country,
                    after.packet,
                    &after.hostname
                )
            );
        }
        assert_eq!(report.captures[0].path, "citizenlab-zoom-2020.pcap");
        assert_eq!(report.captures[3].path, "raw-ipv6.pcap");
        assert_eq!(
            report.warnings.last().map(String::as_str),
            Some(REDACTED_WARNING)
        );
    }
}
