//! The policy file's TOML schema and its validation.
//!
//! Values that can be wrong are read with their position in the file (`toml::Spanned`), so every
//! error names the line and column and says what was expected. Unknown keys, country codes,
//! groups, rule ids and severities are errors: a typo must not silently weaken a policy.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::countries;
use super::rules;
use super::{AllowEntry, Network, Policy, Scope, Severity};
use crate::classify::app::IpPrefix;
use crate::geo::physics::Vantage;

pub struct SchemaError {
    /// Byte offset in the file, when the problem has a place.
    pub offset: Option<usize>,
    pub problem: String,
}

impl SchemaError {
    fn at<T>(spanned: &Spanned<T>, problem: impl Into<String>) -> SchemaError {
        SchemaError {
            offset: Some(spanned.span().start),
            problem: problem.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    restricted: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    home: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    vantage: Option<Spanned<VantageSpec>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    classes: Classes,
    #[serde(default)]
    apps: BTreeMap<Spanned<String>, ScopeSpec>,
    #[serde(default)]
    allow: Vec<Spanned<AllowSpec>>,
    #[serde(default)]
    networks: Vec<Spanned<NetworkSpec>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VantageSpec {
    Country(String),
    Point { lat: f64, lon: f64 },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Classes {
    key_exchange: Option<ScopeSpec>,
    media: Option<ScopeSpec>,
    signaling: Option<ScopeSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopeSpec {
    #[serde(default)]
    restricted: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    home: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowSpec {
    cidr: Option<Spanned<String>>,
    asn: Option<u32>,
    domain: Option<String>,
    app: Option<String>,
    #[serde(default)]
    rules: Vec<Spanned<String>>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSpec {
    cidr: Spanned<String>,
    label: String,
    country: Spanned<String>,
}

pub fn parse(text: &str, source: String) -> Result<Policy, SchemaError> {
    let file: File = toml::from_str(text).map_err(|e| SchemaError {
        offset: e.span().map(|span| span.start),
        problem: e.message().trim().to_string(),
    })?;

    let mut classes = BTreeMap::new();
    for (key, spec) in [
        ("key_exchange", file.classes.key_exchange),
        ("media", file.classes.media),
        ("signaling", file.classes.signaling),
    ] {
        if let Some(spec) = spec {
            classes.insert(key, scope(&spec)?);
        }
    }
    let mut apps = BTreeMap::new();
    for (app, spec) in &file.apps {
        let id = app.get_ref();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(SchemaError::at(
                app,
                format!("app id {id:?} must be lowercase letters, digits, '-' or '_'"),
            ));
        }
        apps.insert(id.clone(), scope(spec)?);
    }
    let whole = scope(&ScopeSpec {
        restricted: file.restricted,
        home: file.home,
        severity: file.severity,
    })?;
    if whole.restricted.is_none() && whole.home.is_none() && classes.is_empty() && apps.is_empty() {
        return Err(SchemaError {
            offset: None,
            problem: "the policy restricts nothing: expected at least `restricted = [...]` or `home = [...]`".into(),
        });
    }
    Ok(Policy {
        source,
        scope: whole,
        vantage: file.vantage.as_ref().map(vantage).transpose()?,
        classes,
        apps,
        allow: file
            .allow
            .iter()
            .map(allow_entry)
            .collect::<Result<_, _>>()?,
        networks: file
            .networks
            .iter()
            .map(network)
            .collect::<Result<_, _>>()?,
    })
}

fn scope(spec: &ScopeSpec) -> Result<Scope, SchemaError> {
    let mut severity = BTreeMap::new();
    for (rule, level) in &spec.severity {
        let Some(known) = rules::rule(rule.get_ref()) else {
            let ids: Vec<&str> = rules::RULES.iter().map(|r| r.id).collect();
            return Err(SchemaError::at(
                rule,
                format!(
                    "unknown rule {:?}; rules are {}",
                    rule.get_ref(),
                    ids.join(", ")
                ),
            ));
        };
        let level = Severity::parse_or_off(level.get_ref())
            .map_err(|problem| SchemaError::at(level, problem))?;
        severity.insert(known.id.to_string(), level);
    }
    Ok(Scope {
        restricted: spec.restricted.as_deref().map(country_set).transpose()?,
        home: spec.home.as_deref().map(country_set).transpose()?,
        severity,
    })
}

fn country_set(entries: &[Spanned<String>]) -> Result<BTreeSet<String>, SchemaError> {
    let mut set = BTreeSet::new();
    for entry in entries {
        let countries = countries::expand(entry.get_ref())
            .map_err(|problem| SchemaError::at(entry, problem))?;
        set.extend(countries);
    }
    Ok(set)
}

fn vantage(spec: &Spanned<VantageSpec>) -> Result<Vantage, SchemaError> {
    match spec.get_ref() {
        VantageSpec::Country(code) => {
            let upper = code.to_ascii_uppercase();
            if countries::is_country(&upper) {
                Ok(Vantage::Country(upper))
            } else {
                Err(SchemaError::at(
                    spec,
                    format!("vantage {code:?} is not an ISO 3166-1 alpha-2 country code"),
                ))
            }
        }
        &VantageSpec::Point { lat, lon } => {
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
                Ok(Vantage::Point { lat, lon })
            } else {
                Err(SchemaError::at(
                    spec,
                    "vantage coordinates out of range (lat -90..90, lon -180..180)",
                ))
            }
        }
    }
}

fn allow_entry(spec: &Spanned<AllowSpec>) -> Result<AllowEntry, SchemaError> {
    let entry = spec.get_ref();
    let reason = entry.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(SchemaError::at(
            spec,
            "allow entry without a `reason`: say why this traffic is acceptable",
        ));
    }
    if entry.cidr.is_none() && entry.asn.is_none() && entry.domain.is_none() && entry.app.is_none()
    {
        return Err(SchemaError::at(
            spec,
            "allow entry matches nothing: expected `cidr`, `asn`, `domain` or `app`",
        ));
    }
    let cidr = entry
        .cidr
        .as_ref()
        .map(|cidr| {
            IpPrefix::parse(cidr.get_ref()).map_err(|problem| SchemaError::at(cidr, problem))
        })
        .transpose()?;
    let mut rule_ids = Vec::new();
    for rule in &entry.rules {
        match rules::rule(rule.get_ref()) {
            Some(known) => rule_ids.push(known.id.to_string()),
            None => {
                return Err(SchemaError::at(
                    rule,
                    format!("unknown rule {:?}", rule.get_ref()),
                ))
            }
        }
    }
    Ok(AllowEntry {
        cidr,
        asn: entry.asn,
        domain: entry
            .domain
            .as_ref()
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
        app: entry.app.clone(),
        rules: rule_ids,
        reason: reason.to_string(),
    })
}

fn network(spec: &Spanned<NetworkSpec>) -> Result<Network, SchemaError> {
    let entry = spec.get_ref();
    let cidr = IpPrefix::parse(entry.cidr.get_ref())
        .map_err(|problem| SchemaError::at(&entry.cidr, problem))?;
    let country = entry.country.get_ref().to_ascii_uppercase();
    if !countries::is_country(&country) {
        return Err(SchemaError::at(
            &entry.country,
            format!(
                "{:?} is not an ISO 3166-1 alpha-2 country code",
                entry.country.get_ref()
            ),
        ));
    }
    if entry.label.trim().is_empty() {
        return Err(SchemaError::at(spec, "network without a `label`"));
    }
    Ok(Network {
        cidr,
        label: entry.label.clone(),
        country,
    })
}

/// `zoom.us` covers `zoom.us` and `x.zoom.us`, not `notzoom.us`. Case-insensitive.
pub fn domain_covers(domain: &str, hostname: &str) -> bool {
    let hostname = hostname.trim_end_matches('.');
    if hostname.len() == domain.len() {
        return hostname.eq_ignore_ascii_case(domain);
    }
    hostname.len() > domain.len()
        && hostname.is_char_boundary(hostname.len() - domain.len())
        && hostname[hostname.len() - domain.len()..].eq_ignore_ascii_case(domain)
        && hostname.as_bytes().get(hostname.len() - domain.len() - 1) == Some(&b'.')
}
