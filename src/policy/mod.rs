//! Policy: which flows break the user's jurisdiction rules, and the packet that proves it.
//!
//! A policy (TOML, documented in docs/policy.md) names *restricted* jurisdictions, optionally a
//! *home* region that data should stay in, per-class and per-app overrides, severities,
//! allow-lists (each entry with a reason), `networks` that label and place private address
//! space, and the capture's `vantage` point for the physics check. The built-in default
//! (`data/default-policy.toml`) is replaced by `--policy FILE`.
//!
//! The audit glue describes each flow as [`FlowFacts`] — classes of traffic with their first
//! packets, the server's location and operator, round trip, handshake versions — and
//! [`Policy::evaluate`] turns them into [`Finding`]s by the rules of [`rules::RULES`]. A finding
//! an allow-list entry covers is kept, marked allowed with the entry's reason, and does not count
//! toward the exit code.

pub mod countries;
pub mod rules;
mod schema;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::capture::Timestamp;
use crate::classify::app::IpPrefix;
use crate::classify::{PacketRef, Role};
use crate::decode::Transport;
use crate::flow::Endpoint;
use crate::geo::physics::{self, Vantage};
use crate::geo::ServerGeo;
use rules::{Check, Rule, RULES};

const DEFAULT_POLICY: &str = include_str!("../../data/default-policy.toml");

/// The starter written by `callaudit policy init`: every key, commented.
pub const STARTER_POLICY: &str = include_str!("../../data/policy-starter.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// A severity name, or `off` (`Ok(None)`) to disable a rule.
    fn parse_or_off(text: &str) -> Result<Option<Severity>, String> {
        Ok(Some(match text {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            "off" => return Ok(None),
            other => {
                return Err(format!(
                "{other:?} is not a severity (expected info, low, medium, high, critical or off)"
            ))
            }
        }))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Restricted and home countries for one scope (the whole policy, a class, an app).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restricted: Option<BTreeSet<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<BTreeSet<String>>,
    /// Rule id → severity; `None` switches the rule off.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<String, Option<Severity>>,
}

/// What an allow-list entry matches. Every given criterion must match.
#[derive(Debug, Clone, Serialize)]
pub struct AllowEntry {
    #[serde(serialize_with = "serialize_display_opt")]
    pub cidr: Option<IpPrefix>,
    pub asn: Option<u32>,
    pub domain: Option<String>,
    pub app: Option<String>,
    /// Only these rules; all rules when empty.
    pub rules: Vec<String>,
    pub reason: String,
}

/// A policy-declared network: private address space with a label and a country, overriding
/// GeoIP.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    #[serde(serialize_with = "serialize_display")]
    pub cidr: IpPrefix,
    pub label: String,
    pub country: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// `built-in` or the file's path.
    pub source: String,
    /// The whole policy's scope: restricted, home, severities.
    #[serde(flatten)]
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vantage: Option<Vantage>,
    /// Per class: `key_exchange`, `media`, `signaling`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<&'static str, Scope>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, Scope>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AllowEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
}

/// A policy that could not be loaded: the file, the line and column, and what was expected.
#[derive(Debug)]
pub struct PolicyError {
    pub path: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(usize, usize)>,
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => {
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.path.display(),
                    self.problem
                )
            }
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// The built-in default policy (`data/default-policy.toml`).
    pub fn builtin() -> Result<Policy, PolicyError> {
        Policy::parse(
            DEFAULT_POLICY,
            Path::new("built-in policy"),
            "built-in".into(),
        )
    }

    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            path: path.to_path_buf(),
            position: None,
            problem: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".into(),
                std::io::ErrorKind::InvalidData => "not a UTF-8 text file".into(),
                _ => e.to_string(),
            },
        })?;
        Policy::parse(&text, path, path.display().to_string())
    }

    /// A policy from text already in memory; `name` stands for the file in error messages.
    /// For callers that do not read a file (the fuzz targets).
    pub fn from_text(text: &str, name: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new(name), name.to_string())
    }

    fn parse(text: &str, path: &Path, source: String) -> Result<Policy, PolicyError> {
        schema::parse(text, source).map_err(|e| PolicyError {
            path: path.to_path_buf(),
            position: e.offset.map(|offset| line_and_column(text, offset)),
            problem: e.problem,
        })
    }

    /// The restricted countries for traffic of `role` of an app, given its scope if the policy
    /// has one (app, then class, then the whole policy: the most specific scope that sets them).
    fn restricted<'p>(&'p self, role: Role, app: Option<&'p Scope>) -> &'p BTreeSet<String> {
        self.most_specific(role, app, |scope| scope.restricted.as_ref())
            .unwrap_or(&EMPTY)
    }

    fn home<'p>(&'p self, role: Role, app: Option<&'p Scope>) -> Option<&'p BTreeSet<String>> {
        self.most_specific(role, app, |scope| scope.home.as_ref())
    }

    fn most_specific<'p, T>(
        &'p self,
        role: Role,
        app: Option<&'p Scope>,
        pick: impl Fn(&'p Scope) -> Option<&'p T>,
    ) -> Option<&'p T> {
        let class_scope = class_key(role).and_then(|key| self.classes.get(key));
        app.and_then(&pick)
            .or_else(|| class_scope.and_then(&pick))
            .or_else(|| pick(&self.scope))
    }

    /// The severity of `rule` for an app, given its scope if the policy has one: `None` when
    /// the policy switched it off.
    fn severity(&self, rule: &Rule, app: Option<&Scope>) -> Option<Severity> {
        app.and_then(|scope| scope.severity.get(rule.id))
            .or_else(|| self.scope.severity.get(rule.id))
            .copied()
            .unwrap_or(Some(rule.severity))
    }

    /// The policy-declared network holding `ip`, the most specific first.
    pub fn network(&self, ip: IpAddr) -> Option<&Network> {
        self.networks
            .iter()
            .filter(|n| n.cidr.contains(ip))
            .max_by_key(|n| n.cidr.prefix_len())
    }

    /// Whether the claimed location is physically possible given the round trip measured from
    /// the vantage point. `None` without a vantage, a round trip or a location.
    pub fn location_plausible(&self, geo: &ServerGeo, rtt_ms: Option<f64>) -> Option<bool> {
        let vantage = self.vantage.as_ref()?;
        let rtt_ms = rtt_ms?;
        physics::is_plausible(vantage, &geo.claimed_location()?, rtt_ms)
    }

    /// For an implausible location: the measurement and the distance that rule it out.
    fn physics_note(&self, check: Check, facts: &FlowFacts<'_>) -> Option<String> {
        if check != Check::ImplausibleLocation {
            return None;
        }
        let vantage = self.vantage.as_ref()?;
        let rtt_ms = facts.rtt_ms?;
        let claimed = facts.geo.claimed_location()?;
        let distance = physics::min_distance_km(vantage, &claimed)?;
        let from = match vantage {
            Vantage::Country(code) => code.clone(),
            Vantage::Point { lat, lon } => format!("{lat:.2},{lon:.2}"),
        };
        Some(format!(
            "a {rtt_ms:.1} ms round trip reaches at most {:.0} km, but the claimed location is at least {distance:.0} km from {from}",
            physics::reachable_km(rtt_ms)
        ))
    }

    /// The findings of one flow, allowed ones included (marked).
    pub fn evaluate(&self, facts: &FlowFacts<'_>, findings: &mut Vec<Finding>) {
        // Looked up once per flow, not once per rule and scope.
        let app = facts.app.and_then(|app| self.apps.get(app));
        for rule in &RULES {
            // Most rules find nothing in most flows: checked before the severity is looked up
            // (by rule id, in up to two maps).
            let Some(hit) = self.check(rule.check, facts, app) else {
                continue;
            };
            let Some(severity) = self.severity(rule, app) else {
                continue;
            };
            let allowed = self
                .allow
                .iter()
                .find(|entry| entry.matches(rule.id, facts))
                .map(|entry| entry.reason.clone());
            findings.push(Finding {
                rule: rule.id,
                title: rule.title,
                severity,
                class: hit.class,
                flow: facts.flow,
                packet: hit.evidence.number,
                time: hit.evidence.time,
                server: facts.server,
                country: hit.country,
                notes: notes(
                    facts,
                    hit.class.is_some(),
                    self.physics_note(rule.check, facts),
                ),
                allowed,
            });
        }
    }

    fn check(&self, check: Check, facts: &FlowFacts<'_>, app: Option<&Scope>) -> Option<Hit> {
        let geo = facts.geo;
        match check {
            Check::LocatedIn(role) => {
                let evidence = facts.first(role)?;
                let country = geo.country.as_ref()?;
                self.restricted(role, app)
                    .contains(country)
                    .then(|| Hit::class(role, evidence, country))
            }
            Check::OperatedFrom(role) => {
                let evidence = facts.first(role)?;
                let operator = geo.operator_country.as_ref()?;
                let restricted = self.restricted(role, app);
                let located_in = geo.country.as_ref().is_some_and(|c| restricted.contains(c));
                (restricted.contains(operator) && !located_in)
                    .then(|| Hit::class(role, evidence, operator))
            }
            Check::CrossBorder(role) => {
                let evidence = facts.first(role)?;
                let home = self.home(role, app)?;
                let country = geo.country.as_ref()?;
                (!home.contains(country)).then(|| Hit::class(role, evidence, country))
            }
            Check::KeysInClear => {
                let evidence = facts.keys_in_clear?;
                Some(Hit::class(
                    Role::KeyExchange,
                    evidence,
                    geo.country.as_deref().unwrap_or(""),
                ))
            }
            Check::WeakKeyExchange => {
                let evidence = facts.first(Role::KeyExchange)?;
                let weak_version = facts
                    .tls_version
                    .is_some_and(|v| matches!(v, 0x0300..=0x0302 | 0xFEFF));
                let null_srtp = facts
                    .srtp_profile
                    .is_some_and(|p| matches!(p, 0x0005 | 0x0006));
                (weak_version || null_srtp).then(|| {
                    Hit::class(
                        Role::KeyExchange,
                        evidence,
                        geo.country.as_deref().unwrap_or(""),
                    )
                })
            }
            Check::ImplausibleLocation => {
                (self.location_plausible(geo, facts.rtt_ms) == Some(false)).then(|| Hit {
                    class: None,
                    evidence: facts.first_packet,
                    country: geo.country.clone(),
                })
            }
            Check::UnknownLocation => {
                let evidence = facts
                    .first(Role::KeyExchange)
                    .or_else(|| facts.first(Role::Media))?;
                (geo.country.is_none() && geo.special.is_none()).then_some(Hit {
                    class: None,
                    evidence,
                    country: None,
                })
            }
        }
    }
}

static EMPTY: BTreeSet<String> = BTreeSet::new();

fn class_key(role: Role) -> Option<&'static str> {
    match role {
        Role::KeyExchange => Some("key_exchange"),
        Role::Media => Some("media"),
        Role::Signaling => Some("signaling"),
        Role::Other => None,
    }
}

/// What one rule found in one flow.
struct Hit {
    class: Option<Role>,
    evidence: PacketRef,
    country: Option<String>,
}

impl Hit {
    fn class(role: Role, evidence: PacketRef, country: &str) -> Hit {
        Hit {
            class: Some(role),
            evidence,
            country: (!country.is_empty()).then(|| country.to_string()),
        }
    }
}

/// Caveats a reader of a finding needs: databases that disagree, anycast, a policy network.
fn notes(facts: &FlowFacts<'_>, about_location: bool, physics: Option<String>) -> Vec<String> {
    let geo = facts.geo;
    let mut notes: Vec<String> = physics.into_iter().collect();
    if let Some(label) = facts.network_label {
        notes.push(format!("server in policy network \"{label}\""));
    }
    if about_location {
        if !geo.disagreement.is_empty() {
            let answers: Vec<String> = geo
                .disagreement
                .iter()
                .map(|a| {
                    format!(
                        "{} says {}",
                        a.source,
                        a.country.as_deref().unwrap_or("unknown")
                    )
                })
                .collect();
            notes.push(format!(
                "location databases disagree: {}",
                answers.join(", ")
            ));
        }
        if let Some(operator) = &geo.anycast {
            notes.push(format!("location unreliable: anycast ({operator})"));
        }
        if facts.plausible == Some(false) {
            notes.push("location physically implausible from the vantage point".into());
        }
    }
    notes
}

impl AllowEntry {
    fn matches(&self, rule: &str, facts: &FlowFacts<'_>) -> bool {
        (self.rules.is_empty() || self.rules.iter().any(|r| r == rule))
            && self.cidr.is_none_or(|cidr| cidr.contains(facts.server.ip))
            && self.asn.is_none_or(|asn| facts.geo.asn == Some(asn))
            && self.domain.as_deref().is_none_or(|domain| {
                facts
                    .hostname
                    .is_some_and(|host| schema::domain_covers(domain, host))
            })
            && self.app.as_deref().is_none_or(|app| facts.app == Some(app))
    }
}

/// What the policy needs to know about one flow.
pub struct FlowFacts<'a> {
    /// The flow's index in the report.
    pub flow: usize,
    pub transport: Transport,
    pub app: Option<&'a str>,
    pub hostname: Option<&'a str>,
    pub server: Endpoint,
    /// The first packet of the flow.
    pub first_packet: PacketRef,
    /// The first packet of each class, indexed key exchange, media, signaling.
    pub first_of_class: [Option<PacketRef>; 3],
    /// The server's location and operator, after `networks` overrides.
    pub geo: &'a ServerGeo,
    pub network_label: Option<&'a str>,
    pub rtt_ms: Option<f64>,
    pub plausible: Option<bool>,
    pub tls_version: Option<u16>,
    pub srtp_profile: Option<u16>,
    /// The first packet that carried SRTP keys readable on the wire (SDES in SIP without TLS).
    pub keys_in_clear: Option<PacketRef>,
}

impl FlowFacts<'_> {
    fn first(&self, role: Role) -> Option<PacketRef> {
        match role {
            Role::KeyExchange => self.first_of_class[0],
            Role::Media => self.first_of_class[1],
            Role::Signaling => self.first_of_class[2],
            Role::Other => None,
        }
    }
}

/// One broken rule, with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The class of traffic the rule is about, when it is about one.
    pub class: Option<Role>,
    /// Index of the flow in the report's `flows`.
    pub flow: usize,
    /// Number (1-based, as in Wireshark) of the packet that proves it.
    pub packet: u64,
    pub time: Timestamp,
    pub server: Endpoint,
    /// The country the finding is about (location, operator or home-region country).
    pub country: Option<String>,
    /// Caveats: disagreeing databases, anycast, implausible location, policy network.
    pub notes: Vec<String>,
    /// The allow-list entry's reason when one covers this finding.
    pub allowed: Option<String>,
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn serialize_display<T: fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn serialize_display_opt<T: fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.collect_str(value),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests;
