//! The app catalog: which conferencing app a piece of wire evidence belongs to.
//!
//! Knowledge about apps is data (`data/apps.toml`, embedded in the binary), so adding an app's
//! domains or address ranges needs no code. Every evidence list carries its provenance (`source`,
//! `date`, optional `confidence` and `note`), which `callaudit apps` prints.
//!
//! The catalog only answers "which app does this name / address / attribute belong to"; deciding
//! between conflicting answers is the classifier's job, following the precedence in
//! `docs/app-catalog.md` (vendor STUN attributes, REALM and certificates, then proprietary
//! framing, then names, then address lists and AS numbers; a port never decides alone).
//!
//! Lookups happen once per flow (or once per STUN attribute), never per packet, but they are all
//! indexed anyway: names and numbers in hash maps, address prefixes flattened at load into a
//! sorted table of disjoint intervals that is binary-searched, and ports in a direct table.
//!
//! This module depends on nothing else in the crate, so it can be developed and tested alone.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::decode::Transport;

const EMBEDDED_CATALOG: &str = include_str!("../../data/apps.toml");

/// Apps per catalog; `AppId` is a `u16` and one value is kept back for the port table.
const MAX_APPS: usize = 4096;

/// Index of an app in its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(u16);

impl AppId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// How far a list can be trusted, as its source allows (docs/app-catalog.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// One list of evidence values with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceList<T> {
    pub values: Vec<T>,
    /// Where the values come from (document, repository + path + commit).
    pub source: String,
    /// `YYYY-MM-DD`: the source version's date, or the day the list was copied from it.
    pub date: String,
    pub confidence: Option<Confidence>,
    pub note: Option<String>,
    /// Merge generation: 0 for the embedded catalog, then 1, 2, ... for each merged file. Where
    /// two apps claim the same value, the later generation wins.
    generation: u32,
}

impl<T> EvidenceList<T> {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// An IPv4 or IPv6 prefix (`addr/len`, host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// Parses `192.0.2.0/24` or `2001:db8::/32`; a bare address is a full-length prefix.
    pub fn parse(text: &str) -> Result<IpPrefix, String> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("{text:?} is not an IP prefix (expected e.g. 192.0.2.0/24)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len_text {
            None => max,
            Some(len) => match len.parse::<u8>() {
                Ok(parsed) if parsed <= max && len.bytes().all(|b| b.is_ascii_digit()) => parsed,
                _ => return Err(format!("{text:?}: prefix length must be 0..={max}")),
            },
        };
        let prefix = IpPrefix { addr, len };
        let (start, _) = prefix.bounds();
        if start != address_bits(addr) {
            return Err(format!(
                "{text:?} has address bits set beyond /{len} (did you mean {}?)",
                IpPrefix::from_bits(addr.is_ipv4(), start, len)
            ));
        }
        Ok(prefix)
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let (start, end) = self.bounds();
        let bits = address_bits(ip);
        start <= bits && bits <= end
    }

    /// First and last address as integers in the family's own width (IPv4 in the low 32 bits).
    fn bounds(&self) -> (u128, u128) {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        let host_bits = u32::from(width - self.len);
        let host_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let start = address_bits(self.addr) & !host_mask;
        (start, start | host_mask)
    }

    fn from_bits(v4: bool, bits: u128, len: u8) -> IpPrefix {
        let addr = if v4 {
            IpAddr::from((bits as u32).to_be_bytes())
        } else {
            IpAddr::from(bits.to_be_bytes())
        };
        IpPrefix { addr, len }
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

fn address_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A port or port range on one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRule {
    pub transport: Transport,
    pub first: u16,
    pub last: u16,
}

impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}/{}", self.transport.as_str(), self.first)
        } else {
            write!(
                f,
                "{}/{}-{}",
                self.transport.as_str(),
                self.first,
                self.last
            )
        }
    }
}

/// One app and everything that identifies it. A list that is `None` was not given; a list given
/// with no values is `Some` and empty (an override file can clear a list that way).
#[derive(Debug, Clone)]
pub struct App {
    /// Lowercase identifier used in reports (`app` in the JSON report).
    pub id: String,
    /// Display name.
    pub name: String,
    /// callaudit dissector ids whose framing identifies this app (e.g. `zoom`).
    pub framings: Vec<String>,
    /// DNS suffixes: a hostname equal to one, or ending in "." + one, matches.
    pub domains: Option<EvidenceList<String>>,
    pub ip_ranges: Option<EvidenceList<IpPrefix>>,
    pub asns: Option<EvidenceList<u32>>,
    /// Weak evidence: never decides alone.
    pub ports: Option<EvidenceList<PortRule>>,
    /// Vendor STUN attribute types whose presence identifies the app.
    pub stun_attributes: Option<EvidenceList<u16>>,
    /// Vendor STUN message types (e.g. WhatsApp's 0x0801).
    pub stun_message_types: Option<EvidenceList<u16>>,
    /// Words found in a STUN/TURN REALM (matched on word boundaries, case-insensitive).
    pub stun_realms: Option<EvidenceList<String>>,
    /// Prefixes of a STUN SOFTWARE attribute (case-insensitive).
    pub stun_software: Option<EvidenceList<String>>,
    /// Certificate CN/SAN patterns: exact names, or `*.suffix` for any name below `suffix`.
    pub cert_names: Option<EvidenceList<String>>,
    name_given: bool,
    framings_given: bool,
    framings_generation: u32,
}

/// What `callaudit apps` prints for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSummary {
    pub id: String,
    pub name: String,
    pub framings: Vec<String>,
    pub lists: Vec<ListSummary>,
}

/// One evidence list of an app, without its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSummary {
    /// The TOML key: `domains`, `ip_ranges`, `asns`, `ports`, `stun_attributes`, ...
    pub kind: &'static str,
    pub count: usize,
    pub source: String,
    pub date: String,
    pub confidence: Option<Confidence>,
    pub note: Option<String>,
}

/// The app catalog with its lookup indexes.
#[derive(Debug, Clone)]
pub struct AppCatalog {
    apps: Vec<App>,
    generation: u32,
    index: Index,
}

impl AppCatalog {
    /// The catalog shipped inside the binary.
    pub fn embedded() -> Result<AppCatalog, String> {
        AppCatalog::parse(EMBEDDED_CATALOG)
            .map_err(|problem| format!("embedded app catalog (data/apps.toml): {problem}"))
    }

    /// A catalog file given by the user, to be merged over the embedded one with
    /// [`AppCatalog::merge`]. An entry may leave out `name` when it only overrides lists of an
    /// existing app.
    pub fn from_file(path: &Path) -> Result<AppCatalog, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        AppCatalog::parse(&text).map_err(|problem| format!("{}: {problem}", path.display()))
    }

    /// Parses and validates catalog text.
    pub fn parse(text: &str) -> Result<AppCatalog, String> {
        let file: raw::CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.app.len() > MAX_APPS {
            return Err(format!(
                "too many apps ({}, at most {MAX_APPS})",
                file.app.len()
            ));
        }
        let mut apps = Vec::with_capacity(file.app.len());
        let mut seen = HashSet::new();
        for (position, raw_app) in file.app.into_iter().enumerate() {
            let label = format!("app #{} ({:?})", position + 1, raw_app.id);
            let app = raw_app
                .validate()
                .map_err(|problem| format!("{label}: {problem}"))?;
            if !seen.insert(app.id.clone()) {
                return Err(format!("{label}: duplicate app id {:?}", app.id));
            }
            apps.push(app);
        }
        check_cross_app_duplicates(&apps)?;
        let index = Index::build(&apps);
        Ok(AppCatalog {
            apps,
            generation: 0,
            index,
        })
    }

    /// Merges a user's catalog over this one: an entry whose id exists replaces that app's
    /// name, framings and each evidence list it sets (lists it leaves out are kept); an entry with
    /// a new id is added. Where the two catalogs give the same value (a domain, a prefix, an
    /// attribute ...) to different apps, `other` wins.
    pub fn merge(&mut self, other: AppCatalog) {
        self.generation += 1;
        let generation = self.generation;
        for mut incoming in other.apps {
            incoming.set_generation(generation);
            let full = self.apps.len() >= MAX_APPS;
            match self.apps.iter_mut().find(|app| app.id == incoming.id) {
                Some(existing) => existing.override_with(incoming),
                None if !full => {
                    if !incoming.name_given {
                        incoming.name = incoming.id.clone();
                    }
                    self.apps.push(incoming);
                }
                None => {}
            }
        }
        self.index = Index::build(&self.apps);
    }

    pub fn get(&self, id: AppId) -> Option<&App> {
        self.apps.get(id.index())
    }

    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// The `AppId` of the app with this catalog id (`"zoom"`).
    pub fn find(&self, id: &str) -> Option<AppId> {
        self.apps.iter().position(|app| app.id == id).map(app_id)
    }

    /// The app whose domain list covers `hostname` (equal, or a subdomain). The longest matching
    /// suffix wins, so `teams.skype.com` (Teams) beats `skype.com` (Skype). Case-insensitive; a
    /// trailing dot is ignored.
    pub fn match_hostname(&self, hostname: &str) -> Option<AppId> {
        let hostname = normalize_name(hostname)?;
        let found = suffixes(&hostname).find_map(|suffix| self.index.domains.get(suffix).copied());
        found
    }

    /// The app a certificate CN or SAN belongs to: first the `cert_names` patterns (exact names,
    /// `*.suffix` patterns; a wildcard certificate name `*.a.b` is treated as a name below `a.b`),
    /// then the domain lists. A leading `CN=` is ignored.
    pub fn match_certificate_name(&self, name: &str) -> Option<AppId> {
        let trimmed = name.trim();
        let trimmed = match trimmed.get(..3) {
            Some(prefix) if prefix.eq_ignore_ascii_case("cn=") => &trimmed[3..],
            _ => trimmed,
        };
        let name = normalize_name(trimmed)?;
        if let Some(&app) = self.index.cert_exact.get(name.as_str()) {
            return Some(app);
        }
        // Names strictly below a `*.suffix` pattern. For a wildcard name `*.a.b` the first
        // suffix tried is `a.b` itself, which is right: `*.a.b` names hosts below `a.b`.
        let below = name.strip_prefix("*.").unwrap_or(&name);
        let mut candidates = suffixes(below);
        if !name.starts_with("*.") {
            candidates.next();
        }
        if let Some(app) =
            candidates.find_map(|suffix| self.index.cert_wildcard.get(suffix).copied())
        {
            return Some(app);
        }
        self.match_hostname(below)
    }

    /// The app whose address list covers `ip`, with that list (for its source and date). The most
    /// specific prefix wins.
    pub fn match_ip(&self, ip: IpAddr) -> Option<(AppId, &EvidenceList<IpPrefix>)> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let table = if ip.is_ipv4() {
            &self.index.v4
        } else {
            &self.index.v6
        };
        let app = table.lookup(address_bits(ip))?;
        let list = self.apps.get(app.index())?.ip_ranges.as_ref()?;
        Some((app, list))
    }

    pub fn match_asn(&self, asn: u32) -> Option<AppId> {
        self.index.asns.get(&asn).copied()
    }

    /// The app a vendor STUN attribute type identifies.
    pub fn match_stun_attribute(&self, attribute: u16) -> Option<AppId> {
        self.index.stun_attributes.get(&attribute).copied()
    }

    /// The app a vendor STUN message type identifies (e.g. WhatsApp's 0x0801).
    pub fn match_stun_message_type(&self, message_type: u16) -> Option<AppId> {
        self.index.stun_message_types.get(&message_type).copied()
    }

    /// The app a STUN/TURN REALM names: a catalog realm found in it on word boundaries
    /// (`telegram` matches `turn.telegram.org`, not `notelegram.org`); the longest wins.
    pub fn match_stun_realm(&self, realm: &str) -> Option<AppId> {
        let realm = realm.trim().to_ascii_lowercase();
        self.index
            .realms
            .iter()
            .find(|(word, _)| contains_word(&realm, word))
            .map(|&(_, app)| app)
    }

    /// The app whose STUN SOFTWARE prefix starts `software` (case-insensitive); the longest wins.
    pub fn match_stun_software(&self, software: &str) -> Option<AppId> {
        let software = software.trim();
        self.index
            .software
            .iter()
            .find(|(prefix, _)| {
                software
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            })
            .map(|&(_, app)| app)
    }

    /// The app identified by a proprietary framing (a callaudit dissector id such as `zoom`).
    pub fn match_framing(&self, framing: &str) -> Option<AppId> {
        self.index.framings.get(framing).copied()
    }

    /// A weak hint from a server port. `None` when no app or more than one app lists the port:
    /// a port alone never decides an app.
    pub fn port_hint(&self, transport_is_udp: bool, port: u16) -> Option<AppId> {
        let table = if transport_is_udp {
            &self.index.udp_ports
        } else {
            &self.index.tcp_ports
        };
        match table.get(usize::from(port)).copied().unwrap_or(PORT_NONE) {
            PORT_NONE | PORT_SHARED => None,
            index => Some(AppId(index - 1)),
        }
    }

    /// Each app with the size and provenance of each of its lists, in catalog order.
    pub fn describe(&self) -> Vec<AppSummary> {
        self.apps
            .iter()
            .map(|app| AppSummary {
                id: app.id.clone(),
                name: app.name.clone(),
                framings: app.framings.clone(),
                lists: app.list_summaries(),
            })
            .collect()
    }
}

fn app_id(index: usize) -> AppId {
    AppId(index as u16)
}

impl App {
    fn set_generation(&mut self, generation: u32) {
        self.framings_generation = generation;
        fn set<T>(list: &mut Option<EvidenceList<T>>, generation: u32) {
            if let Some(list) = list {
                list.generation = generation;
            }
        }
        set(&mut self.domains, generation);
        set(&mut self.ip_ranges, generation);
        set(&mut self.asns, generation);
        set(&mut self.ports, generation);
        set(&mut self.stun_attributes, generation);
        set(&mut self.stun_message_types, generation);
        set(&mut self.stun_realms, generation);
        set(&mut self.stun_software, generation);
        set(&mut self.cert_names, generation);
    }

    fn override_with(&mut self, other: App) {
        fn take<T>(mine: &mut Option<EvidenceList<T>>, theirs: Option<EvidenceList<T>>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        if other.name_given {
            self.name = other.name;
            self.name_given = true;
        }
        if other.framings_given {
            self.framings = other.framings;
            self.framings_given = true;
            self.framings_generation = other.framings_generation;
        }
        take(&mut self.domains, other.domains);
        take(&mut self.ip_ranges, other.ip_ranges);
        take(&mut self.asns, other.asns);
        take(&mut self.ports, other.ports);
        take(&mut self.stun_attributes, other.stun_attributes);
        take(&mut self.stun_message_types, other.stun_message_types);
        take(&mut self.stun_realms, other.stun_realms);
        take(&mut self.stun_software, other.stun_software);
        take(&mut self.cert_names, other.cert_names);
    }

    fn list_summaries(&self) -> Vec<ListSummary> {
        fn summary<T>(kind: &'static str, list: &Option<EvidenceList<T>>) -> Option<ListSummary> {
            list.as_ref().map(|list| ListSummary {
                kind,
                count: list.values.len(),
                source: list.source.clone(),
                date: list.date.clone(),
                confidence: list.confidence,
                note: list.note.clone(),
            })
        }
        [
            summary("domains", &self.domains),
            summary("ip_ranges", &self.ip_ranges),
            summary("asns", &self.asns),
            summary("ports", &self.ports),
            summary("stun_attributes", &self.stun_attributes),
            summary("stun_message_types", &self.stun_message_types),
            summary("stun_realms", &self.stun_realms),
            summary("stun_software", &self.stun_software),
            summary("cert_names", &self.cert_names),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Within one file, a value may belong to one app only: the same domain under two apps is a
/// mistake in the data, not a tie to break at run time.
fn check_cross_app_duplicates(apps: &[App]) -> Result<(), String> {
    fn check<'a, K: std::hash::Hash + Eq + fmt::Display + 'a>(
        kind: &str,
        apps: &'a [App],
        values: impl Fn(&'a App) -> Vec<K>,
    ) -> Result<(), String> {
        let mut owner: HashMap<K, &str> = HashMap::new();
        for app in apps {
            for value in values(app) {
                let shown = value.to_string();
                if let Some(first) = owner.insert(value, &app.id) {
                    if first != app.id {
                        return Err(format!(
                            "{kind} {shown} is listed under both {first:?} and {:?}",
                            app.id
                        ));
                    }
                }
            }
        }
        Ok(())
    }
    fn values<T: Clone>(list: &Option<EvidenceList<T>>) -> Vec<T> {
        list.as_ref().map(|l| l.values.clone()).unwrap_or_default()
    }
    check("domain", apps, |a| values(&a.domains))?;
    check("IP prefix", apps, |a| values(&a.ip_ranges))?;
    check("AS number", apps, |a| values(&a.asns))?;
    check("STUN attribute", apps, |a| {
        values(&a.stun_attributes).into_iter().map(Hex).collect()
    })?;
    check("STUN message type", apps, |a| {
        values(&a.stun_message_types).into_iter().map(Hex).collect()
    })?;
    check("STUN realm", apps, |a| values(&a.stun_realms))?;
    check("STUN software prefix", apps, |a| values(&a.stun_software))?;
    check("certificate name", apps, |a| values(&a.cert_names))?;
    check("framing", apps, |a| a.framings.clone())?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Hex(u16);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

/// Lowercase, without a trailing dot; `None` for an empty name.
fn normalize_name(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.');
    if name.is_empty() {
        None
    } else {
        Some(name.to_ascii_lowercase())
    }
}

/// `a.b.c`, `b.c`, `c`: the name and each of its parent domains, longest first.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::once(name).chain(
        name.char_indices()
            .filter(|&(_, c)| c == '.')
            .map(move |(i, _)| &name[i + 1..])
            .filter(|suffix| !suffix.is_empty()),
    )
}

/// `word` occurs in `text` with no letter, digit or '-' right before or after it.
fn contains_word(text: &str, word: &str) -> bool {
    let is_word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = text.as_bytes();
    text.match_indices(word).any(|(start, _)| {
        let end = start + word.len();
        let before_ok = start == 0 || !is_word_char(bytes[start - 1]);
        let after_ok = end == bytes.len() || !is_word_char(bytes[end]);
        before_ok && after_ok
    })
}

const PORT_NONE: u16 = 0;
const PORT_SHARED: u16 = u16::MAX;

/// A lookup from a catalog value to its app. foldhash rather than std's SipHash: STUN
/// attributes and message types are looked up for every STUN message, and SipHash was most of
/// that cost. Only the catalog's values are inserted, so traffic cannot crowd the table.
type Lookup<K> = HashMap<K, AppId, foldhash::fast::RandomState>;

/// Lookup structures, rebuilt after each merge.
#[derive(Debug, Clone, Default)]
struct Index {
    domains: Lookup<String>,
    cert_exact: Lookup<String>,
    cert_wildcard: Lookup<String>,
    asns: Lookup<u32>,
    stun_attributes: Lookup<u16>,
    stun_message_types: Lookup<u16>,
    /// Longest first.
    realms: Vec<(String, AppId)>,
    /// Longest first.
    software: Vec<(String, AppId)>,
    framings: Lookup<String>,
    v4: IntervalTable,
    v6: IntervalTable,
    /// Per port: `PORT_NONE`, `PORT_SHARED`, or app index + 1.
    udp_ports: Vec<u16>,
    tcp_ports: Vec<u16>,
}

impl Index {
    fn build(apps: &[App]) -> Index {
        /// Values of one kind from every app, earlier generations first, so that inserting them
        /// in order lets a later generation replace an earlier one.
        fn ordered<'a, T>(
            apps: &'a [App],
            list: impl Fn(&'a App) -> &'a Option<EvidenceList<T>>,
        ) -> Vec<(&'a T, AppId)> {
            let mut lists: Vec<(u32, AppId, &'a EvidenceList<T>)> = apps
                .iter()
                .enumerate()
                .filter_map(|(i, app)| list(app).as_ref().map(|l| (l.generation, app_id(i), l)))
                .collect();
            lists.sort_by_key(|&(generation, app, _)| (generation, app));
            lists
                .into_iter()
                .flat_map(|(_, app, l)| l.values.iter().map(move |v| (v, app)))
                .collect()
        }

        let mut index = Index::default();
        for (domain, app) in ordered(apps, |a| &a.domains) {
            index.domains.insert(domain.clone(), app);
        }
        for (pattern, app) in ordered(apps, |a| &a.cert_names) {
            match pattern.strip_prefix("*.") {
                Some(suffix) => index.cert_wildcard.insert(suffix.to_string(), app),
                None => index.cert_exact.insert(pattern.clone(), app),
            };
        }
        for (&asn, app) in ordered(apps, |a| &a.asns) {
            index.asns.insert(asn, app);
        }
        for (&attribute, app) in ordered(apps, |a| &a.stun_attributes) {
            index.stun_attributes.insert(attribute, app);
        }
        for (&message_type, app) in ordered(apps, |a| &a.stun_message_types) {
            index.stun_message_types.insert(message_type, app);
        }
        index.realms = longest_first(ordered(apps, |a| &a.stun_realms));
        index.software = longest_first(ordered(apps, |a| &a.stun_software));
        let mut by_generation: Vec<(u32, usize)> = apps
            .iter()
            .enumerate()
            .map(|(i, app)| (app.framings_generation, i))
            .collect();
        by_generation.sort();
        for (_, i) in by_generation {
            for framing in &apps[i].framings {
                index.framings.insert(framing.clone(), app_id(i));
            }
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            if let Some(list) = &app.ip_ranges {
                for prefix in &list.values {
                    let (start, end) = prefix.bounds();
                    let entry = (start, end, list.generation, app_id(i));
                    if prefix.addr.is_ipv4() {
                        v4.push(entry);
                    } else {
                        v6.push(entry);
                    }
                }
            }
        }
        index.v4 = IntervalTable::build(v4);
        index.v6 = IntervalTable::build(v6);
        index.udp_ports = port_table(apps, Transport::Udp);
        index.tcp_ports = port_table(apps, Transport::Tcp);
        index
    }
}

/// Deduplicated by value (the latest insertion wins), longest first.
fn longest_first(values: Vec<(&String, AppId)>) -> Vec<(String, AppId)> {
    let mut by_value: HashMap<&String, AppId> = HashMap::new();
    for (value, app) in values {
        by_value.insert(value, app);
    }
    let mut out: Vec<(String, AppId)> = by_value.into_iter().map(|(v, a)| (v.clone(), a)).collect();
    out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    out
}

fn port_table(apps: &[App], transport: Transport) -> Vec<u16> {
    let mut table = vec![PORT_NONE; usize::from(u16::MAX) + 1];
    for (i, app) in apps.iter().enumerate() {
        let Some(list) = &app.ports else { continue };
        let mark = i as u16 + 1;
        for rule in list
            .values
            .iter()
            .filter(|rule| rule.transport == transport)
        {
            for port in rule.first..=rule.last {
                let slot = &mut table[usize::from(port)];
                *slot = match *slot {
                    PORT_NONE => mark,
                    current if current == mark => mark,
                    _ => PORT_SHARED,
                };
            }
        }
    }
    table
}

/// Disjoint address intervals, sorted, each owned by the app of the most specific prefix that
/// covers it. Built once; looked up with a binary search.
#[derive(Debug, Clone, Default)]
struct IntervalTable {
    starts: Vec<u128>,
    ends: Vec<u128>,
    apps: Vec<AppId>,
}

impl IntervalTable {
    /// `prefixes`: (first, last, generation, app). CIDR prefixes are either nested or disjoint.
    /// For identical prefixes the later generation (then the later app) wins.
    fn build(mut prefixes: Vec<(u128, u128, u32, AppId)>) -> IntervalTable {
        // Outer prefixes before the ones they contain; among identical ones the winner last.
        prefixes.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        let mut winners: Vec<(u128, u128, AppId)> = Vec::with_capacity(prefixes.len());
        for (start, end, _, app) in prefixes {
            match winners.last_mut() {
                Some(last) if last.0 == start && last.1 == end => last.2 = app,
                _ => winners.push((start, end, app)),
            }
        }

        let mut table = IntervalTable::default();
        // Open prefixes, outermost first; `cursor` is the first address not yet emitted.
        let mut open: Vec<(u128, AppId)> = Vec::new();
        let mut cursor: Option<u128> = Some(0);
        let emit = |table: &mut IntervalTable, from: Option<u128>, to: u128, app: AppId| {
            if let Some(from) = from {
                if from <= to {
                    table.starts.push(from);
                    table.ends.push(to);
                    table.apps.push(app);
                }
            }
        };
        for (start, end, app) in winners {
            while let Some(&(open_end, open_app)) = open.last() {
                if open_end >= start {
                    break;
                }
                emit(&mut table, cursor, open_end, open_app);
                cursor = open_end.checked_add(1);
                open.pop();
            }
            if let Some(&(_, outer)) = open.last() {
                if start > 0 {
                    emit(&mut table, cursor, start - 1, outer);
                }
            }
            cursor = Some(start);
            open.push((end, app));
        }
        while let Some((open_end, open_app)) = open.pop() {
            emit(&mut table, cursor, open_end, open_app);
            cursor = open_end.checked_add(1);
        }
        table
    }

    fn lookup(&self, address: u128) -> Option<AppId> {
        let slot = self
            .starts
            .partition_point(|&start| start <= address)
            .checked_sub(1)?;
        (address <= self.ends[slot]).then(|| self.apps[slot])
    }
}

/// The file format as written, before validation.
mod raw {
    use serde::Deserialize;

    use super::{Confidence, EvidenceList, IpPrefix, PortRule, Transport};

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct CatalogFile {
        #[serde(default)]
        pub app: Vec<RawApp>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct RawApp {
        pub id: String,
        pub name: Option<String>,
        pub framings: Option<Vec<String>>,
        pub domains: Option<RawList<String>>,
        pub ip_ranges: Option<RawList<String>>,
        pub asns: Option<RawList<u32>>,
        pub ports: Option<RawPorts>,
        pub stun_attributes: Option<RawList<u16>>,
        pub stun_message_types: Option<RawList<u16>>,
        pub stun_realms: Option<RawList<String>>,
        pub stun_software: Option<RawList<String>>,
        pub cert_names: Option<RawList<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct RawList<T> {
        pub values: Vec<T>,
        pub source: Option<String>,
        pub date: Option<String>,
        pub confidence: Option<Confidence>,
        pub note: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct RawPorts {
        #[serde(default)]
        pub udp: Vec<RawPort>,
        #[serde(default)]
        pub tcp: Vec<RawPort>,
        pub source: Option<String>,
        pub date: Option<String>,
        pub confidence: Option<Confidence>,
        pub note: Option<String>,
    }

    /// `3478` or `"3478"` or `"8801-8810"`.
    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub(super) enum RawPort {
        Number(u16),
        Text(String),
    }

    impl RawApp {
        pub(super) fn validate(self) -> Result<super::App, String> {
            check_identifier("id", &self.id)?;
            let name_given = self.name.is_some();
            let name = match self.name {
                Some(name) if name.trim().is_empty() => return Err("name is empty".into()),
                Some(name) => name,
                None => self.id.clone(),
            };
            let framings_given = self.framings.is_some();
            let framings = self.framings.unwrap_or_default();
            for framing in &framings {
                check_identifier("framing", framing).map_err(|e| format!("framings: {e}"))?;
            }
            if has_duplicates(&framings) {
                return Err("framings: a framing is listed twice".into());
            }
            Ok(super::App {
                id: self.id,
                name,
                framings,
                domains: list("domains", self.domains, |d| domain(d, false))?,
                ip_ranges: list("ip_ranges", self.ip_ranges, |p| IpPrefix::parse(p.trim()))?,
                asns: list("asns", self.asns, |&asn| {
                    if asn == 0 {
                        Err("AS0 is not an AS number".into())
                    } else {
                        Ok(asn)
                    }
                })?,
                ports: ports(self.ports)?,
                stun_attributes: list("stun_attributes", self.stun_attributes, |&a| Ok(a))?,
                stun_message_types: list("stun_message_types", self.stun_message_types, |&t| {
                    Ok(t)
                })?,
                stun_realms: list("stun_realms", self.stun_realms, |r| text("realm", r))?,
                stun_software: list("stun_software", self.stun_software, |s| {
                    let s = s.trim();
                    if s.is_empty() {
                        Err("empty SOFTWARE prefix".into())
                    } else {
                        Ok(s.to_string())
                    }
                })?,
                cert_names: list("cert_names", self.cert_names, |c| domain(c, true))?,
                name_given,
                framings_given,
                framings_generation: 0,
            })
        }
    }

    fn check_identifier(what: &str, id: &str) -> Result<(), String> {
        let mut bytes = id.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if first_ok && rest_ok && id.len() <= 32 {
            Ok(())
        } else {
            Err(format!(
                "{what} {id:?} must start with a lowercase letter and contain only a-z, 0-9, '-' \
                 or '_' (at most 32 characters)"
            ))
        }
    }

    fn has_duplicates<T: PartialEq>(values: &[T]) -> bool {
        values
            .iter()
            .enumerate()
            .any(|(i, v)| values[..i].contains(v))
    }

    /// Validates one list: every value, no duplicates, and provenance for a non-empty list.
    fn list<R, T: PartialEq + std::fmt::Debug>(
        key: &str,
        raw: Option<RawList<R>>,
        convert: impl Fn(&R) -> Result<T, String>,
    ) -> Result<Option<EvidenceList<T>>, String> {
        let Some(raw) = raw else { return Ok(None) };
        let mut values = Vec::with_capacity(raw.values.len());
        for value in &raw.values {
            let value = convert(value).map_err(|e| format!("{key}: {e}"))?;
            if values.contains(&value) {
                return Err(format!("{key}: {value:?} is listed twice"));
            }
            values.push(value);
        }
        let provenance = provenance(key, !values.is_empty(), raw.source, raw.date)?;
        Ok(Some(EvidenceList {
            values,
            source: provenance.0,
            date: provenance.1,
            confidence: raw.confidence,
            note: raw.note,
            generation: 0,
        }))
    }

    fn ports(raw: Option<RawPorts>) -> Result<Option<EvidenceList<PortRule>>, String> {
        let Some(raw) = raw else { return Ok(None) };
        let mut values = Vec::new();
        for (transport, specs) in [(Transport::Udp, &raw.udp), (Transport::Tcp, &raw.tcp)] {
            for spec in specs {
                let rule = port_rule(transport, spec).map_err(|e| format!("ports: {e}"))?;
                if values.contains(&rule) {
                    return Err(format!("ports: {rule} is listed twice"));
                }
                values.push(rule);
            }
        }
        let provenance = provenance("ports", !values.is_empty(), raw.source, raw.date)?;
        Ok(Some(EvidenceList {
            values,
            source: provenance.0,
            date: provenance.1,
            confidence: raw.confidence,
            note: raw.note,
            generation: 0,
        }))
    }

    fn port_rule(transport: Transport, spec: &RawPort) -> Result<PortRule, String> {
        let parse = |text: &str| -> Result<u16, String> {
            match text.trim().parse::<u16>() {
                Ok(port) if port > 0 && !text.trim().starts_with('+') => Ok(port),
                _ => Err(format!("{text:?} is not a port (1-65535)")),
            }
        };
        let (first, last) = match spec {
            RawPort::Number(0) => return Err("port 0 is not a port".into()),
            RawPort::Number(port) => (*port, *port),
            RawPort::Text(text) => match text.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => {
                    let port = parse(text)?;
                    (port, port)
                }
            },
        };
        if first > last {
            return Err(format!("port range {first}-{last} is backwards"));
        }
        Ok(PortRule {
            transport,
            first,
            last,
        })
    }

    fn provenance(
        key: &str,
        non_empty: bool,
        source: Option<String>,
        date: Option<String>,
    ) -> Result<(String, String), String> {
        let source = source.map(|s| s.trim().to_string()).unwrap_or_default();
        let date = date.map(|d| d.trim().to_string()).unwrap_or_default();
        if non_empty && source.is_empty() {
            return Err(format!("{key}: a non-empty list needs a `source`"));
        }
        if non_empty && date.is_empty() {
            return Err(format!(
                "{key}: a non-empty list needs a `date` (YYYY-MM-DD)"
            ));
        }
        if !date.is_empty() && !is_date(&date) {
            return Err(format!(
                "{key}: date {date:?} is not a calendar date YYYY-MM-DD"
            ));
        }
        Ok((source, date))
    }

    fn is_date(text: &str) -> bool {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return false;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = &text[range];
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10))
        else {
            return false;
        };
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1900..=9999).contains(&year) && (1..=days).contains(&day)
    }

    /// A DNS name (lowercased, trailing dot removed). With `wildcard`, a leading `*.` label is
    /// allowed and a name may be a single label (certificate CNs such as `hangouts`).
    fn domain(text: &str, wildcard: bool) -> Result<String, String> {
        let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let body = match name.strip_prefix("*.") {
            Some(body) if wildcard => body,
            Some(_) => {
                return Err(format!(
                    "{text:?}: domains are suffixes already, write it without \"*.\""
                ))
            }
            None => &name,
        };
        let labels_ok = !body.is_empty()
            && body.len() <= 253
            && body.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
            });
        if !labels_ok {
            return Err(format!("{text:?} is not a DNS name"));
        }
        if !wildcard && !body.contains('.') {
            return Err(format!(
                "{text:?}: a top-level domain alone would match too much"
            ));
        }
        Ok(name)
    }

    fn text(what: &str, value: &str) -> Result<String, String> {
        let value = value.trim().to_ascii_lowercase();
        if value.is_empty() {
            Err(format!("empty {what}"))
        } else {
            Ok(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    const IDS: [&str; 23] = [
        "zoom",
        "teams",
        "skype",
        "meet",
        "webex",
        "gotomeeting",
        "chime",
        "slack",
        "jitsi",
        "discord",
        "whatsapp",
        "signal",
        "facetime",
        "telegram",
        "viber",
        "line",
        "wechat",
        "tencent-meeting",
        "dingtalk",
        "lark",
        "zoho-meeting",
        "ringcentral",
        "messenger",
    ];

    fn catalog() -> AppCatalog {
        AppCatalog::embedded().unwrap()
    }

    fn id(catalog: &AppCatalog, app: Option<AppId>) -> Option<&str> {
        app.and_then(|app| catalog.get(app))
            .map(|app| app.id.as_str())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn embedded_catalog_has_the_23_apps_each_named_and_sourced() {
        let catalog = catalog();
        assert_eq!(catalog.apps().len(), IDS.len());
        for wanted in IDS {
            let app = catalog.get(catalog.find(wanted).unwrap()).unwrap();
            assert!(
                app.name_given && !app.name.is_empty(),
                "{wanted} has no name"
            );
            let lists = app.list_summaries();
            assert!(!lists.is_empty(), "{wanted} has no evidence");
            for list in lists {
                assert!(list.count > 0, "{wanted}.{} is empty", list.kind);
                assert!(
                    list.confidence.is_some(),
                    "{wanted}.{} has no confidence",
                    list.kind
                );
            }
        }
    }

    #[test]
    fn hostnames_match_by_suffix_with_the_longest_winning() {
        let catalog = catalog();
        let cases = [
            ("zoomfrn99mmr.zoom.us", Some("zoom")),
            ("ZOOM.COM.", Some("zoom")),
            ("x.zoomgov.com", Some("zoom")),
            ("teams.microsoft.com", Some("teams")),
            ("presence.teams.microsoft.com", Some("teams")),
            ("teams.skype.com", Some("teams")),
            ("api.skype.com", Some("skype")),
            ("meet.google.com", Some("meet")),
            ("www.google.com", None),
            ("radcom.webex.com", Some("webex")),
            ("global.gotomeeting.com", Some("gotomeeting")),
            ("abc.chime.aws", Some("chime")),
            ("edgeapi.slack.com", Some("slack")),
            ("meet.jit.si", Some("jitsi")),
            ("a.discord.media", Some("discord")),
            ("g.whatsapp.net", Some("whatsapp")),
            ("mmg.whatsapp.net", Some("whatsapp")),
            ("chat.signal.org", Some("signal")),
            ("signal.org", Some("signal")),
            ("web.telegram.org", Some("telegram")),
            ("dl-media.viber.com", Some("viber")),
            ("obs.line-apps.com", Some("line")),
            ("res.wx.qq.com", Some("wechat")),
            ("qq.com", None),
            ("voovmeeting.com", Some("tencent-meeting")),
            ("static.dingtalk.com", Some("dingtalk")),
            ("www.feishu.cn", Some("lark")),
            ("meeting.zoho.eu", Some("zoho-meeting")),
            ("www.zoho.com", None),
            ("ringcentral.com", Some("ringcentral")),
            ("edge-mqtt.facebook.com", Some("messenger")),
            ("www.facebook.com", None),
            ("notzoom.us", None),
            ("zoom.us.evil.example", None),
            ("us", None),
            ("", None),
            (".", None),
            ("..zoom.us", Some("zoom")),
        ];
        for (name, want) in cases {
            assert_eq!(id(&catalog, catalog.match_hostname(name)), want, "{name}");
        }
    }

    #[test]
    fn certificate_names_match_patterns_then_domains() {
        let catalog = catalog();
        let cases = [
            ("hangouts", Some("meet")),
            ("CN=hangouts", Some("meet")),
            ("HANGOUTS", Some("meet")),
            ("*.cloud.zoom.us", Some("zoom")),
            ("a.cloud.zoom.us", Some("zoom")),
            ("*.sjc.zoom.us", Some("zoom")),
            ("*.gateway.messenger.live.com", Some("skype")),
            ("x.gateway.messenger.live.com", Some("skype")),
            ("*.webex.com", Some("webex")),
            ("*.whatsapp.net", Some("whatsapp")),
            ("*.teams.microsoft.com", Some("teams")),
            ("notahangouts", None),
            ("*.com", None),
            ("*", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(
                id(&catalog, catalog.match_certificate_name(name)),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn addresses_match_their_app_list_with_its_date() {
        let catalog = catalog();
        let cases = [
            ("3.7.35.1", Some("zoom")),
            ("206.247.61.166", Some("zoom")),
            ("2407:30c0::1", Some("zoom")),
            ("::ffff:170.114.1.2", Some("zoom")),
            ("52.113.1.1", Some("teams")),
            ("13.107.64.10", Some("teams")),
            ("2603:1063::1", Some("teams")),
            ("74.125.250.129", Some("meet")),
            ("2001:4860:4864:5::8", Some("meet")),
            ("74.125.251.1", None),
            ("62.109.229.158", Some("webex")),
            ("67.217.65.1", Some("gotomeeting")),
            ("99.77.130.1", Some("chime")),
            ("66.22.197.4", Some("discord")),
            ("157.240.196.60", Some("whatsapp")),
            ("157.240.196.61", Some("whatsapp")),
            ("157.240.196.62", None),
            ("17.1.2.3", Some("facetime")),
            ("91.108.9.35", Some("telegram")),
            ("2001:b28:f23d::1", Some("telegram")),
            ("18.195.4.121", Some("viber")),
            ("147.92.169.90", Some("line")),
            ("104.245.57.1", Some("ringcentral")),
            ("192.0.2.1", None),
            ("::", None),
            ("255.255.255.255", None),
        ];
        for (address, want) in cases {
            assert_eq!(
                id(&catalog, catalog.match_ip(ip(address)).map(|(app, _)| app)),
                want,
                "{address}"
            );
        }
        let (_, list) = catalog.match_ip(ip("170.114.0.1")).unwrap();
        assert_eq!(list.date, "2024-08-02");
        assert!(list.source.contains("ndpi_zoom_match.c.inc"));
    }

    #[test]
    fn embedded_address_lists_of_different_apps_do_not_overlap() {
        let catalog = catalog();
        let mut all = Vec::new();
        for app in catalog.apps() {
            for prefix in app.ip_ranges.iter().flat_map(|l| &l.values) {
                all.push((app.id.as_str(), *prefix));
            }
        }
        for (i, (a, p)) in all.iter().enumerate() {
            for (b, q) in &all[i + 1..] {
                if a != b && p.addr.is_ipv4() == q.addr.is_ipv4() {
                    let (ps, pe) = p.bounds();
                    let (qs, qe) = q.bounds();
                    assert!(pe < qs || qe < ps, "{a} {p} overlaps {b} {q}");
                }
            }
        }
    }

    #[test]
    fn numbers_realms_and_framings() {
        let catalog = catalog();
        assert_eq!(id(&catalog, catalog.match_asn(30103)), Some("zoom"));
        assert_eq!(id(&catalog, catalog.match_asn(62041)), Some("telegram"));
        assert_eq!(id(&catalog, catalog.match_asn(15169)), None);
        assert_eq!(
            id(&catalog, catalog.match_stun_attribute(0x0101)),
            Some("zoom")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_attribute(0x8055)),
            Some("teams")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_attribute(0xc003)),
            Some("webex")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_attribute(0x4002)),
            Some("whatsapp")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_attribute(0xff03)),
            Some("meet")
        );
        // GOOG-NETWORK-INFO comes from every libwebrtc client, not only Google.
        assert_eq!(id(&catalog, catalog.match_stun_attribute(0xc057)), None);
        assert_eq!(id(&catalog, catalog.match_stun_attribute(0x8022)), None);
        assert_eq!(
            id(&catalog, catalog.match_stun_message_type(0x0801)),
            Some("whatsapp")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_realm("telegram.org")),
            Some("telegram")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_realm("turn.signal.org")),
            Some("signal")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_realm("\"Google.com\"")),
            Some("meet")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_realm("facebook.com")),
            Some("messenger")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_realm("viber.com")),
            Some("viber")
        );
        assert_eq!(
            id(&catalog, catalog.match_stun_realm("notelegram.org")),
            None
        );
        assert_eq!(id(&catalog, catalog.match_stun_realm("")), None);
        assert_eq!(catalog.match_stun_software("anything"), None);
        assert_eq!(id(&catalog, catalog.match_framing("zoom")), Some("zoom"));
        assert_eq!(
            id(&catalog, catalog.match_framing("discord")),
            Some("discord")
        );
        assert_eq!(catalog.match_framing("stun"), None);
    }

    #[test]
    fn a_port_hints_only_when_one_app_lists_it() {
        let catalog = catalog();
        assert_eq!(id(&catalog, catalog.port_hint(true, 22466)), Some("slack"));
        assert_eq!(
            id(&catalog, catalog.port_hint(true, 1400)),
            Some("telegram")
        );
        // Meet's 19302-19309 lies inside Zoom Mesh's 18801-19800.
        assert_eq!(catalog.port_hint(true, 19305), None);
        assert_eq!(id(&catalog, catalog.port_hint(true, 9000)), Some("webex"));
        assert_eq!(
            id(&catalog, catalog.port_hint(false, 5222)),
            Some("whatsapp")
        );
        // Zoom and RingCentral share 8801-8810; 3478 is everybody's STUN port.
        assert_eq!(catalog.port_hint(true, 8801), None);
        assert_eq!(catalog.port_hint(true, 3478), None);
        assert_eq!(catalog.port_hint(false, 22466), None);
        assert_eq!(catalog.port_hint(true, 0), None);
        assert_eq!(catalog.port_hint(true, 443), None);
    }

    #[test]
    fn describe_lists_each_app_with_counts_sources_and_dates() {
        let summary = catalog().describe();
        assert_eq!(summary.len(), 23);
        let zoom = &summary[0];
        assert_eq!((zoom.id.as_str(), zoom.name.as_str()), ("zoom", "Zoom"));
        let ranges = zoom.lists.iter().find(|l| l.kind == "ip_ranges").unwrap();
        assert_eq!((ranges.count, ranges.date.as_str()), (81, "2024-08-02"));
        let whatsapp = summary.iter().find(|s| s.id == "whatsapp").unwrap();
        let ranges = whatsapp
            .lists
            .iter()
            .find(|l| l.kind == "ip_ranges")
            .unwrap();
        assert_eq!(ranges.count, 335);
    }

    const OVERRIDE: &str = r#"
        [[app]]
        id = "zoom"
        [app.ip_ranges]
        values = ["192.0.2.0/24", "52.113.0.0/16"]
        source = "our own capture"
        date = "2026-11-01"

        [[app]]
        id = "acme"
        name = "Acme Calls"
        framings = ["acme"]
        [app.domains]
        values = ["acme.example", "teams.microsoft.com"]
        source = "vendor"
        date = "2026-01-02"
    "#;

    #[test]
    fn merge_replaces_only_the_lists_an_entry_sets_and_adds_new_apps() {
        let mut catalog = catalog();
        catalog.merge(AppCatalog::parse(OVERRIDE).unwrap());
        assert_eq!(catalog.apps().len(), 24);
        let zoom = catalog.find("zoom").unwrap();
        assert_eq!(catalog.get(zoom).unwrap().name, "Zoom");
        // Replaced list: the old prefixes are gone, the new ones are in.
        assert_eq!(catalog.match_ip(ip("170.114.0.1")), None);
        let (app, list) = catalog.match_ip(ip("192.0.2.7")).unwrap();
        assert_eq!((app, list.date.as_str()), (zoom, "2026-11-01"));
        // More specific than Teams' 52.112.0.0/14, so it wins inside it and Teams keeps the rest.
        assert_eq!(catalog.match_ip(ip("52.113.9.9")).map(|m| m.0), Some(zoom));
        assert_eq!(
            id(&catalog, catalog.match_ip(ip("52.112.0.1")).map(|m| m.0)),
            Some("teams")
        );
        // Lists the entry did not set are kept.
        assert_eq!(catalog.match_hostname("zoom.us"), Some(zoom));
        assert_eq!(catalog.match_stun_attribute(0x0103), Some(zoom));
        // A new app, which also wins a value the embedded catalog gave to another app.
        assert_eq!(
            id(&catalog, catalog.match_hostname("x.acme.example")),
            Some("acme")
        );
        assert_eq!(
            id(&catalog, catalog.match_hostname("teams.microsoft.com")),
            Some("acme")
        );
        assert_eq!(
            id(
                &catalog,
                catalog.match_hostname("presence.teams.microsoft.com")
            ),
            Some("acme")
        );
        assert_eq!(id(&catalog, catalog.match_framing("acme")), Some("acme"));
        assert_eq!(id(&catalog, catalog.match_framing("zoom")), Some("zoom"));
    }

    #[test]
    fn merge_can_clear_a_list_and_rename_an_app() {
        let mut catalog = catalog();
        let text =
            "[[app]]\nid = \"skype\"\nname = \"Skype (retired)\"\n[app.domains]\nvalues = []\n";
        catalog.merge(AppCatalog::parse(text).unwrap());
        let skype = catalog.get(catalog.find("skype").unwrap()).unwrap();
        assert_eq!(skype.name, "Skype (retired)");
        assert_eq!(catalog.match_hostname("skype.com"), None);
        assert_eq!(
            id(&catalog, catalog.match_hostname("teams.skype.com")),
            Some("teams")
        );
        // A new id without a name is shown by its id.
        catalog.merge(AppCatalog::parse("[[app]]\nid = \"nameless\"\n").unwrap());
        assert_eq!(
            catalog.get(catalog.find("nameless").unwrap()).unwrap().name,
            "nameless"
        );
    }

    fn problem(text: &str) -> String {
        AppCatalog::parse(text).unwrap_err()
    }

    fn with_list(list: &str) -> String {
        format!("[[app]]\nid = \"x\"\nname = \"X\"\n{list}")
    }

    #[test]
    fn bad_catalogs_are_rejected_with_a_reason() {
        let sourced = "source = \"s\"\ndate = \"2024-01-01\"";
        let cases = [
            ("app = 3".to_string(), "invalid type"),
            ("[[app]]\nid = \"Zoom!\"\nname = \"Z\"".into(), "must start with a lowercase"),
            ("[[app]]\nid = \"z\"\nname = \"Z\"\ncolour = 1".into(), "unknown field"),
            ("[[app]]\nid = \"z\"\n[[app]]\nid = \"z\"".into(), "duplicate app id"),
            (with_list(&format!("[app.ip_ranges]\nvalues = [\"10.0.0.0/33\"]\n{sourced}")), "0..=32"),
            (with_list(&format!("[app.ip_ranges]\nvalues = [\"10.0.0.1/8\"]\n{sourced}")), "10.0.0.0/8"),
            (with_list(&format!("[app.ip_ranges]\nvalues = [\"10.0.0.0/+8\"]\n{sourced}")), "prefix length"),
            (with_list(&format!("[app.ip_ranges]\nvalues = [\"zoom\"]\n{sourced}")), "not an IP prefix"),
            (with_list("[app.domains]\nvalues = [\"a.example\"]\ndate = \"2024-01-01\""), "needs a `source`"),
            (with_list("[app.domains]\nvalues = [\"a.example\"]\nsource = \"s\""), "needs a `date`"),
            (with_list("[app.domains]\nvalues = [\"a.example\"]\nsource = \"s\"\ndate = \"2024-02-30\""), "calendar date"),
            (with_list("[app.domains]\nvalues = [\"a.example\"]\nsource = \"s\"\ndate = \"24-01-01\""), "calendar date"),
            (with_list(&format!("[app.domains]\nvalues = [\"*.a.example\"]\n{sourced}")), "without \"*.\""),
            (with_list(&format!("[app.domains]\nvalues = [\"com\"]\n{sourced}")), "top-level"),
            (with_list(&format!("[app.domains]\nvalues = [\"a b.example\"]\n{sourced}")), "not a DNS name"),
            (with_list(&format!("[app.domains]\nvalues = [\"a.example\", \"A.example.\"]\n{sourced}")), "twice"),
            (with_list(&format!("[app.asns]\nvalues = [0]\n{sourced}")), "AS0"),
            (with_list(&format!("[app.stun_attributes]\nvalues = [0x10000]\n{sourced}")), "invalid value"),
            (with_list(&format!("[app.ports]\nudp = [\"9-8\"]\n{sourced}")), "backwards"),
            (with_list(&format!("[app.ports]\ntcp = [\"http\"]\n{sourced}")), "not a port"),
            (with_list(&format!("[app.domains]\nvalues = [\"a.example\"]\n{sourced}\nconfidence = \"sure\"")), "unknown variant"),
            (
                format!(
                    "{}\n[[app]]\nid = \"y\"\n[app.domains]\nvalues = [\"a.example\"]\n{sourced}",
                    with_list(&format!("[app.domains]\nvalues = [\"a.example\"]\n{sourced}"))
                ),
                "under both \"x\" and \"y\"",
            ),
        ];
        for (text, wanted) in cases {
            let got = problem(&text);
            assert!(
                got.contains(wanted),
                "{text:?}\n  gave {got:?}\n  wanted {wanted:?}"
            );
        }
    }

    #[test]
    fn file_errors_name_the_file() {
        let missing = AppCatalog::from_file(Path::new("/nonexistent/apps.toml")).unwrap_err();
        assert!(missing.starts_with("/nonexistent/apps.toml: "), "{missing}");
        let path = std::env::temp_dir().join(format!("callaudit-apps-{}.toml", std::process::id()));
        std::fs::write(&path, "[[app]]\nid = \"BAD\"\n").unwrap();
        let bad = AppCatalog::from_file(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            bad.starts_with(&format!("{}: app #1", path.display())),
            "{bad}"
        );
    }

    #[test]
    fn prefixes_parse_and_print() {
        assert_eq!(
            IpPrefix::parse("192.0.2.0/24").unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            IpPrefix::parse("2001:db8::/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(IpPrefix::parse("192.0.2.1").unwrap().prefix_len(), 32);
        assert!(IpPrefix::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        assert!(IpPrefix::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(!IpPrefix::parse("::/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpPrefix::parse("2001:db8::1/32").is_err());
    }

    #[test]
    fn interval_table_handles_the_ends_of_the_address_space() {
        let a = AppId(0);
        let b = AppId(1);
        let table = IntervalTable::build(vec![(0, u128::MAX, 0, a), (u128::MAX, u128::MAX, 0, b)]);
        assert_eq!(table.lookup(0), Some(a));
        assert_eq!(table.lookup(u128::MAX - 1), Some(a));
        assert_eq!(table.lookup(u128::MAX), Some(b));
        let table = IntervalTable::build(vec![(0, 0, 0, a), (0, 255, 0, b), (0, 255, 1, a)]);
        assert_eq!(table.lookup(0), Some(a));
        assert_eq!(table.lookup(1), Some(a));
        assert_eq!(table.lookup(256), None);
    }

    /// The most specific prefix containing `address`, by brute force.
    fn brute_force(prefixes: &[(u32, u8, u16)], address: u32) -> Option<AppId> {
        prefixes
            .iter()
            .filter(|&&(base, len, _)| {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                address & mask == base & mask
            })
            .max_by_key(|&&(_, len, app)| (len, app))
            .map(|&(_, _, app)| AppId(app))
    }

    /// One generated catalog entry; values are made unique per app by the builder.
    #[derive(Debug, Clone)]
    struct AppSpec {
        id: String,
        name: Option<String>,
        framings: Vec<String>,
        domains: Vec<String>,
        /// /24s numbered per app and entry.
        prefixes: usize,
        asns: usize,
        ports: Vec<(bool, u16, u16)>,
        stun_attributes: usize,
        realms: Vec<String>,
        cert_names: Vec<String>,
        confidence: Option<usize>,
    }

    /// A generated catalog file: the one app-catalog generator of these tests.
    fn catalog_text(apps: &[AppSpec]) -> String {
        let provenance = |confidence: Option<usize>| {
            let mut t = String::from("source = \"generated\"\ndate = \"2024-02-29\"\n");
            if let Some(c) = confidence {
                t.push_str(&format!(
                    "confidence = {:?}\n",
                    ["low", "medium", "high"][c]
                ));
            }
            t
        };
        let quoted = |values: &[String]| {
            values
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut t = String::new();
        for (a, app) in apps.iter().enumerate() {
            t.push_str(&format!("[[app]]\nid = {:?}\n", app.id));
            if let Some(name) = &app.name {
                t.push_str(&format!("name = {name:?}\n"));
            }
            if !app.framings.is_empty() {
                t.push_str(&format!("framings = [{}]\n", quoted(&app.framings)));
            }
            let lists: [(&str, Vec<String>); 6] = [
                (
                    "domains",
                    app.domains.iter().map(|d| format!("{a}{d}")).collect(),
                ),
                (
                    "ip_ranges",
                    (0..app.prefixes)
                        .map(|i| format!("10.{a}.{i}.0/24"))
                        .collect(),
                ),
                (
                    "stun_realms",
                    app.realms.iter().map(|r| format!("{a}{r}")).collect(),
                ),
                (
                    "cert_names",
                    app.cert_names.iter().map(|c| format!("*.{a}{c}")).collect(),
                ),
                ("asns", Vec::new()),
                ("stun_attributes", Vec::new()),
            ];
            for (key, values) in lists.iter().filter(|(_, v)| !v.is_empty()) {
                t.push_str(&format!(
                    "[app.{key}]\nvalues = [{}]\n{}",
                    quoted(values),
                    provenance(app.confidence)
                ));
            }
            if app.asns > 0 {
                let asns: Vec<String> = (0..app.asns)
                    .map(|i| (64_512 + a * 16 + i).to_string())
                    .collect();
                t.push_str(&format!(
                    "[app.asns]\nvalues = [{}]\n{}",
                    asns.join(", "),
                    provenance(None)
                ));
            }
            if app.stun_attributes > 0 {
                let attributes: Vec<String> = (0..app.stun_attributes)
                    .map(|i| (0xc000 + a * 16 + i).to_string())
                    .collect();
                t.push_str(&format!(
                    "[app.stun_attributes]\nvalues = [{}]\n{}",
                    attributes.join(", "),
                    provenance(None)
                ));
            }
            if !app.ports.is_empty() {
                let (udp, tcp): (Vec<_>, Vec<_>) = app.ports.iter().partition(|p| p.0);
                let spec = |ports: Vec<&(bool, u16, u16)>| {
                    ports
                        .iter()
                        .map(|&&(_, first, last)| {
                            if first == last {
                                first.to_string()
                            } else {
                                format!("\"{first}-{last}\"")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                t.push_str(&format!(
                    "[app.ports]\nudp = [{}]\ntcp = [{}]\n{}",
                    spec(udp),
                    spec(tcp),
                    provenance(None)
                ));
            }
            t.push('\n');
        }
        t
    }

    fn any_apps() -> impl Strategy<Value = Vec<AppSpec>> {
        let app = (
            "[a-z][a-z0-9_-]{0,12}",
            proptest::option::of("[A-Za-z][A-Za-z0-9 .]{0,20}"),
            proptest::collection::btree_set("[a-z][a-z0-9]{0,6}", 0..2),
            proptest::collection::btree_set("[a-z0-9-]{1,10}\\.[a-z]{2,6}", 0..3),
            0usize..3,
            0usize..3,
            proptest::collection::btree_set((any::<bool>(), 1u16..=65_535, 0u16..100), 0..3),
            0usize..3,
            proptest::collection::btree_set("[a-z]{1,10}", 0..2),
            proptest::collection::btree_set("[a-z0-9]{1,8}\\.[a-z]{2,4}", 0..2),
            proptest::option::of(0usize..3),
        )
            .prop_map(
                |(
                    id,
                    name,
                    framings,
                    domains,
                    prefixes,
                    asns,
                    ports,
                    stun_attributes,
                    realms,
                    cert_names,
                    confidence,
                )| AppSpec {
                    id,
                    name,
                    framings: framings.into_iter().collect(),
                    domains: domains.into_iter().collect(),
                    prefixes,
                    asns,
                    ports: ports
                        .into_iter()
                        .map(|(udp, first, span)| (udp, first, first.saturating_add(span)))
                        .collect(),
                    stun_attributes,
                    realms: realms.into_iter().collect(),
                    cert_names: cert_names.into_iter().collect(),
                    confidence,
                },
            );
        proptest::collection::vec(app, 0..4).prop_map(|mut apps| {
            // Ids and framings are unique across the catalog.
            let mut seen = HashSet::new();
            apps.retain(|app| seen.insert(app.id.clone()));
            for (i, app) in apps.iter_mut().enumerate() {
                for framing in &mut app.framings {
                    framing.push_str(&format!("-{i}"));
                }
                app.ports.dedup();
            }
            apps
        })
    }

    proptest! {
        /// Any text, and any text after a catalog entry's start: a catalog or an error.
        #[test]
        fn arbitrary_catalog_text_never_panics(
            head in prop::sample::select(vec!["", "[[app]]\nid = \"x\"\n", "[[app]]\nid = \"x\"\n[app.ports]\nudp = ["]),
            text in "\\PC{0,120}",
        ) {
            let _ = AppCatalog::parse(&format!("{head}{text}"));
        }

    }

    proptest! {
        // A catalog parse per cut: fewer cases keep this test near a second.
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A catalog built from arbitrary ids, names, framings and evidence lists reads back
        /// as built, and its lookups find each app by its own evidence. Every prefix of the
        /// text is an error or a catalog of no more apps, each a prefix-wise part of the whole.
        #[test]
        fn generated_catalog_round_trips_and_truncates(apps in any_apps()) {
            let text = catalog_text(&apps);
            let catalog = AppCatalog::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            prop_assert_eq!(catalog.apps().len(), apps.len());
            for (a, spec) in apps.iter().enumerate() {
                let id = catalog.find(&spec.id).unwrap();
                let app = catalog.get(id).unwrap();
                prop_assert_eq!(&app.name, spec.name.as_ref().unwrap_or(&spec.id));
                prop_assert_eq!(&app.framings, &spec.framings);
                for framing in &spec.framings {
                    prop_assert_eq!(catalog.match_framing(framing), Some(id));
                }
                for domain in &spec.domains {
                    prop_assert_eq!(catalog.match_hostname(&format!("x.{a}{domain}")), Some(id));
                }
                for i in 0..spec.prefixes {
                    let address = IpAddr::from([10, a as u8, i as u8, 77]);
                    prop_assert_eq!(catalog.match_ip(address).map(|m| m.0), Some(id));
                }
                for i in 0..spec.asns {
                    prop_assert_eq!(catalog.match_asn((64_512 + a * 16 + i) as u32), Some(id));
                }
                for i in 0..spec.stun_attributes {
                    prop_assert_eq!(catalog.match_stun_attribute((0xc000 + a * 16 + i) as u16), Some(id));
                }
                for cert in &spec.cert_names {
                    prop_assert_eq!(catalog.match_certificate_name(&format!("host.{a}{cert}")), Some(id));
                }
                let ports: Vec<PortRule> = spec
                    .ports
                    .iter()
                    .filter(|p| p.0)
                    .chain(spec.ports.iter().filter(|p| !p.0))
                    .map(|&(udp, first, last)| PortRule {
                        transport: if udp { Transport::Udp } else { Transport::Tcp },
                        first,
                        last,
                    })
                    .collect();
                prop_assert_eq!(app.ports.as_ref().map(|l| l.values.clone()).unwrap_or_default(), ports);
                if let Some(list) = &app.domains {
                    prop_assert_eq!(&list.source, "generated");
                    prop_assert_eq!(&list.date, "2024-02-29");
                    let confidence = spec.confidence.map(|c| [Confidence::Low, Confidence::Medium, Confidence::High][c]);
                    prop_assert_eq!(list.confidence, confidence);
                }
            }
            // Cuts around each table header and a sample of the others: a TOML parse per cut
            // is too slow for all of them.
            let cuts = (0..text.len()).filter(|&cut| {
                cut % 41 == 0 || text.get(cut.saturating_sub(1)..).is_some_and(|rest| rest.starts_with("\n["))
            });
            for cut in cuts {
                if let Ok(partial) = AppCatalog::parse(&text[..cut]) {
                    prop_assert!(partial.apps().len() <= catalog.apps().len());
                    for app in partial.apps() {
                        // An id cut short is a different id; a whole one is the app's.
                        if let Some(whole) = catalog.find(&app.id).and_then(|id| catalog.get(id)) {
                            prop_assert!(app.framings.iter().all(|f| whole.framings.contains(f)));
                        }
                    }
                }
            }
        }

    }

    proptest! {
        #[test]
        fn lookups_never_panic(text in ".{0,80}", bits in any::<u128>(), v4 in any::<u32>(), n in any::<u16>()) {
            let catalog = catalog();
            let _ = catalog.match_hostname(&text);
            let _ = catalog.match_certificate_name(&text);
            let _ = catalog.match_stun_realm(&text);
            let _ = catalog.match_stun_software(&text);
            let _ = catalog.match_framing(&text);
            let _ = catalog.match_ip(IpAddr::V6(Ipv6Addr::from(bits)));
            let _ = catalog.match_ip(IpAddr::V4(Ipv4Addr::from(v4)));
            let _ = catalog.match_asn(v4);
            let _ = catalog.match_stun_attribute(n);
            let _ = catalog.port_hint(n % 2 == 0, n);
            let _ = IpPrefix::parse(&text);
        }

        #[test]
        fn hostname_like_strings_never_panic(labels in proptest::collection::vec("[a-zA-Z0-9*._-]{0,12}", 0..6)) {
            let catalog = catalog();
            let name = labels.join(".");
            let _ = catalog.match_hostname(&name);
            let _ = catalog.match_certificate_name(&name);
        }

        #[test]
        fn every_address_in_a_zoom_prefix_is_zoom(pick in any::<usize>(), offset in any::<u128>()) {
            let catalog = catalog();
            let zoom = catalog.find("zoom").unwrap();
            let list = &catalog.get(zoom).unwrap().ip_ranges.as_ref().unwrap().values;
            let prefix = list[pick % list.len()];
            let (start, end) = prefix.bounds();
            let bits = start + offset % (end - start + 1).max(1);
            let address = if prefix.addr.is_ipv4() {
                IpAddr::V4(Ipv4Addr::from(bits as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(bits))
            };
            prop_assert_eq!(catalog.match_ip(address).map(|m| m.0), Some(zoom));
        }

        #[test]
        fn interval_table_agrees_with_brute_force(
            raw in proptest::collection::vec((any::<u32>(), 0u8..=32, 0u16..4), 0..40),
            probes in proptest::collection::vec(any::<u32>(), 1..40),
        ) {
            // Clustered prefixes, so that nesting is common; the brute force breaks ties between
            // identical prefixes by the larger app, as the table does at equal generation.
            let prefixes: Vec<(u32, u8, u16)> = raw
                .into_iter()
                .map(|(base, len, app)| {
                    let base = base & 0xFFFF_0000 | (base & 0xFF);
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    (base & mask, len, app)
                })
                .collect();
            let entries = prefixes
                .iter()
                .map(|&(base, len, app)| {
                    let host = if len == 0 { u32::MAX } else { !(u32::MAX << (32 - len)) };
                    (u128::from(base), u128::from(base | host), 0, AppId(app))
                })
                .collect();
            let table = IntervalTable::build(entries);
            for window in table.starts.windows(2) {
                prop_assert!(window[0] < window[1]);
            }
            let interesting = prefixes.iter().flat_map(|&(base, len, _)| {
                let host = if len == 0 { u32::MAX } else { !(u32::MAX << (32 - len)) };
                [base, base | host, base.wrapping_sub(1), (base | host).wrapping_add(1)]
            });
            for address in probes.into_iter().chain(interesting) {
                prop_assert_eq!(table.lookup(u128::from(address)), brute_force(&prefixes, address));
            }
        }
    }
}
