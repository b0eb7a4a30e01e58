//! `callaudit lookup ADDRESS...`: what callaudit knows about a server address without a capture —
//! where it is, who operates it, which databases said so, and the verdict the current policy
//! would give to each class of traffic with it.
//!
//! The verdicts come from [`Policy::evaluate`] on a flow that carries one class of traffic, so a
//! lookup and an audit can never disagree.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::Timestamp;
use crate::classify::{PacketRef, Role};
use crate::decode::Transport;
use crate::flow::Endpoint;
use crate::geo::{DatabaseInfo, GeoDb, ServerGeo};
use crate::policy::{FlowFacts, Policy, Severity};
use crate::report::Format;

#[derive(Serialize)]
pub struct Lookup {
    pub address: IpAddr,
    #[serde(flatten)]
    pub geo: ServerGeo,
    /// The policy network that holds the address, if any.
    pub network: Option<String>,
    pub verdicts: Vec<Verdict>,
}

/// What the policy says about one class of traffic with the address.
#[derive(Serialize)]
pub struct Verdict {
    pub class: Role,
    /// `restricted`, `cross-border`, `allowed`, `unknown location` or `ok`.
    pub verdict: String,
    pub rules: Vec<RuleHit>,
}

#[derive(Serialize)]
pub struct RuleHit {
    pub rule: &'static str,
    pub severity: Severity,
    pub allowed: Option<String>,
}

#[derive(Serialize)]
struct LookupReport<'a> {
    databases: Vec<DatabaseInfo>,
    policy: &'a str,
    addresses: &'a [Lookup],
}

/// Looks up one address and evaluates the policy for each class of traffic.
pub fn lookup(address: IpAddr, geo_db: &GeoDb, policy: &Policy) -> Lookup {
    let mut geo = geo_db.lookup(address);
    let network = policy.network(address).map(|n| {
        geo.country = Some(n.country.clone());
        geo.special = None;
        n.label.clone()
    });
    let evidence = PacketRef {
        number: 0,
        time: Timestamp::default(),
    };
    let verdicts = [Role::KeyExchange, Role::Media, Role::Signaling]
        .into_iter()
        .map(|class| {
            let mut first_of_class = [None; 3];
            first_of_class[class as usize] = Some(evidence);
            let facts = FlowFacts {
                flow: 0,
                transport: Transport::Udp,
                app: None,
                hostname: None,
                server: Endpoint {
                    ip: address,
                    port: 0,
                },
                first_packet: evidence,
                first_of_class,
                geo: &geo,
                network_label: network.as_deref(),
                rtt_ms: None,
                plausible: None,
                tls_version: None,
                srtp_profile: None,
                keys_in_clear: None,
            };
            let mut findings = Vec::new();
            policy.evaluate(&facts, &mut findings);
            let rules: Vec<RuleHit> = findings
                .into_iter()
                .map(|f| RuleHit {
                    rule: f.rule,
                    severity: f.severity,
                    allowed: f.allowed,
                })
                .collect();
            Verdict {
                class,
                verdict: verdict_word(&rules),
                rules,
            }
        })
        .collect();
    Lookup {
        address,
        geo,
        network,
        verdicts,
    }
}

fn verdict_word(rules: &[RuleHit]) -> String {
    let open: Vec<&RuleHit> = rules.iter().filter(|r| r.allowed.is_none()).collect();
    let word = if open.iter().any(|r| r.rule.starts_with("restricted")) {
        "restricted"
    } else if open.iter().any(|r| r.rule.starts_with("cross-border")) {
        "cross-border"
    } else if open.iter().any(|r| r.rule == "unknown-location") {
        "unknown location"
    } else if !rules.is_empty() {
        "allowed"
    } else {
        "ok"
    };
    word.to_string()
}

pub fn emit(
    lookups: &[Lookup],
    geo_db: &GeoDb,
    policy: &Policy,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let report = LookupReport {
                databases: geo_db.databases(),
                policy: &policy.source,
                addresses: lookups,
            };
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)
        }
        _ => {
            for lookup in lookups {
                write_lookup(lookup, out)?;
            }
            for db in geo_db.databases() {
                writeln!(
                    out,
                    "GeoIP {}: {} [{}, built {}]",
                    db.role, db.description, db.source, db.build_date
                )?;
            }
            writeln!(out, "Policy: {}", policy.source)
        }
    }
}

fn write_lookup(lookup: &Lookup, out: &mut dyn Write) -> io::Result<()> {
    let geo = &lookup.geo;
    let unknown = || "unknown".to_string();
    writeln!(out, "{}", lookup.address)?;
    if let Some(special) = geo.special {
        writeln!(
            out,
            "  special range:    {} (not looked up)",
            special.as_str()
        )?;
    }
    if let Some(label) = &lookup.network {
        writeln!(out, "  policy network:   {label}")?;
    }
    if geo.special.is_none() {
        writeln!(
            out,
            "  located in:       {}",
            geo.country.clone().unwrap_or_else(unknown)
        )?;
        writeln!(
            out,
            "  operated from:    {}",
            geo.operator_country.clone().unwrap_or_else(unknown)
        )?;
        let asn = match (geo.asn, &geo.as_org) {
            (Some(asn), Some(org)) => format!("AS{asn} {org}"),
            (Some(asn), None) => format!("AS{asn}"),
            _ => unknown(),
        };
        writeln!(out, "  AS:               {asn}")?;
        if let Some(operator) = &geo.anycast {
            writeln!(out, "  location:         unreliable, anycast ({operator})")?;
        }
        for answer in &geo.disagreement {
            writeln!(
                out,
                "  database {}: {}",
                answer.source,
                answer.country.as_deref().unwrap_or("unknown")
            )?;
        }
    }
    for verdict in &lookup.verdicts {
        let rules: Vec<String> = verdict
            .rules
            .iter()
            .map(|r| match &r.allowed {
                Some(reason) => format!("{} allowed: {reason}", r.rule),
                None => format!("{}, {}", r.rule, r.severity),
            })
            .collect();
        let detail = if rules.is_empty() {
            String::new()
        } else {
            format!(" ({})", rules.join("; "))
        };
        writeln!(
            out,
            "  {:<17} {}{detail}",
            format!("{}:", verdict.class.as_str().replace('_', " ")),
            verdict.verdict
        )?;
    }
    writeln!(out)
}
