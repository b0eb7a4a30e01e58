//! Policy: which flows break the user's jurisdiction rules, and the packet that proves it.
//!
//! A policy names *restricted* jurisdictions (ISO 3166-1 alpha-2 codes). The built-in default
//! (`data/default-policy.toml`, explained in docs/policy.md) is replaced by `--policy FILE`. Each
//! rule in [`rules::RULES`] turns one class of traffic — key exchange, media, signaling — with a
//! server located in a restricted jurisdiction into a [`Finding`] that cites the flow and the
//! first packet of that class, like a citation in a report.

pub mod rules;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capture::Timestamp;
use crate::classify::{FlowClass, Role};
use crate::flow::{Endpoint, Flow};
use crate::geo::ServerGeo;

const DEFAULT_POLICY: &str = include_str!("../../data/default-policy.toml");

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
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy file's schema. Unknown keys are errors, so a typo cannot silently weaken a policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    restricted: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// `built-in` or the file's path.
    pub source: String,
    pub restricted: BTreeSet<String>,
}

/// A policy that could not be loaded: names the file and the problem.
#[derive(Debug)]
pub struct PolicyError {
    pub path: PathBuf,
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// The built-in default policy (`data/default-policy.toml`).
    pub fn builtin() -> Result<Policy, PolicyError> {
        Policy::parse(DEFAULT_POLICY, "built-in".into()).map_err(|problem| PolicyError {
            path: PathBuf::from("built-in policy"),
            problem,
        })
    }

    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let fail = |problem: String| PolicyError {
            path: path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".into(),
                std::io::ErrorKind::InvalidData => "not a UTF-8 text file".into(),
                _ => e.to_string(),
            })
        })?;
        Policy::parse(&text, path.display().to_string()).map_err(fail)
    }

    fn parse(text: &str, source: String) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(text)
            .map_err(|e| format!("not a valid policy: {}", e.message().trim()))?;
        let mut restricted = BTreeSet::new();
        for code in file.restricted {
            let upper = code.to_ascii_uppercase();
            if upper.len() != 2 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "`restricted` entry {code:?} is not an ISO 3166-1 alpha-2 country code"
                ));
            }
            restricted.insert(upper);
        }
        Ok(Policy { source, restricted })
    }

    pub fn is_restricted(&self, country: &str) -> bool {
        self.restricted.contains(country)
    }

    /// Appends the findings of one flow. `flow_index` is the flow's index in the report.
    pub fn evaluate(
        &self,
        flow_index: usize,
        flow: &Flow<FlowClass>,
        server_geo: &ServerGeo,
        findings: &mut Vec<Finding>,
    ) {
        let Some(country) = server_geo.country.as_deref() else {
            return;
        };
        if !self.is_restricted(country) {
            return;
        }
        for rule in &rules::RULES {
            if let Some(evidence) = flow.state.roles.first(rule.role) {
                findings.push(Finding {
                    rule: rule.id,
                    severity: rule.severity,
                    role: rule.role,
                    flow: flow_index,
                    packet: evidence.number,
                    time: evidence.time,
                    server: flow.server,
                    country: country.to_string(),
                    packets: flow.state.roles.count(rule.role),
                });
            }
        }
    }
}

/// One broken rule, with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// The class of traffic the rule is about.
    pub role: Role,
    /// Index of the flow in the report's `flows`.
    pub flow: usize,
    /// Number (1-based, as in Wireshark) of the first packet of that class in the flow.
    pub packet: u64,
    pub time: Timestamp,
    pub server: Endpoint,
    pub country: String,
    /// How many packets of that class the flow carried.
    pub packets: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_parses_and_restricts_china() {
        let policy = Policy::parse(DEFAULT_POLICY, "built-in".into()).unwrap();
        assert!(policy.is_restricted("CN"));
        assert!(policy.is_restricted("HK"));
        assert!(!policy.is_restricted("NL"));
        assert!(!policy.is_restricted("US"));
        assert_eq!(Policy::builtin().unwrap().restricted, policy.restricted);
    }

    #[test]
    fn lowercase_codes_are_accepted() {
        let policy = Policy::parse("restricted = [\"nl\", \"Ru\"]", "t".into()).unwrap();
        assert!(policy.is_restricted("NL") && policy.is_restricted("RU"));
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        let err = Policy::parse("restricted = [\"China\"]", "t".into()).unwrap_err();
        assert!(err.contains("\"China\""), "{err}");
        let err = Policy::parse("restrcted = [\"CN\"]", "t".into()).unwrap_err();
        assert!(err.contains("restrcted"), "{err}");
        assert!(Policy::parse("restricted = \"CN\"", "t".into()).is_err());
        assert!(Policy::parse("not toml at all [", "t".into()).is_err());
        assert!(Policy::parse("", "t".into()).is_err());
    }

    #[test]
    fn missing_policy_file_names_the_file() {
        let err = Policy::from_file(Path::new("/nonexistent/policy.toml")).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/policy.toml: no such file");
    }

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Low > Severity::Info);
    }
}
