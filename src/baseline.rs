//! Baselines: accepting today's findings so that CI fails only on new ones.
//!
//! `callaudit baseline write FILE <captures>` audits the captures and records each finding by a
//! stable fingerprint — rule, app, server (its address, or its policy network's label), class —
//! that does not depend on packet numbers, times or flow order, so the same traffic recorded
//! again matches. `callaudit audit --baseline FILE` then moves the findings whose fingerprint
//! the baseline holds to the report's `baselined` list: they are shown, but do not count toward
//! the exit code.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::{FindingReport, Report};

const BASELINE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    /// The tool and version that wrote it.
    pub tool: String,
    /// The policy the findings came from.
    pub policy: String,
    pub accepted: Vec<Accepted>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    pub fingerprint: String,
    pub rule: String,
    pub app: Option<String>,
    pub server: String,
    pub class: Option<String>,
}

/// The stable identity of a finding (see the module docs).
pub fn fingerprint(finding: &FindingReport, network: Option<&str>) -> String {
    let server = match network {
        Some(label) => format!("network:{label}"),
        None => finding.server.ip.to_string(),
    };
    let class = finding.class.map_or("-", |c| c.as_str());
    format!(
        "{}|{}|{server}|{class}",
        finding.rule,
        finding.app.as_deref().unwrap_or("-")
    )
}

fn network_of<'a>(report: &'a Report, finding: &FindingReport) -> Option<&'a str> {
    report
        .flows
        .get(finding.flow)
        .and_then(|f| f.server.network.as_deref())
}

impl Baseline {
    /// The findings of a report (not the allowed ones: an allow-list already accepts them).
    pub fn from_report(report: &Report) -> Baseline {
        let accepted: BTreeSet<Accepted> = report
            .findings
            .iter()
            .chain(&report.baselined)
            .map(|finding| {
                let network = network_of(report, finding);
                Accepted {
                    fingerprint: fingerprint(finding, network),
                    rule: finding.rule.to_string(),
                    app: finding.app.clone(),
                    server: network
                        .map_or_else(|| finding.server.ip.to_string(), |l| format!("network:{l}")),
                    class: finding.class.map(|c| c.as_str().to_string()),
                }
            })
            .collect();
        Baseline {
            version: BASELINE_VERSION,
            tool: format!("{} {}", report.tool.name, report.tool.version),
            policy: report.policy.source.clone(),
            accepted: accepted.into_iter().collect(),
        }
    }

    pub fn read(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let baseline: Baseline = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a callaudit baseline: {e}", path.display()))?;
        if baseline.version != BASELINE_VERSION {
            return Err(format!(
                "{}: baseline version {} (this callaudit reads version {BASELINE_VERSION})",
                path.display(),
                baseline.version
            ));
        }
        Ok(baseline)
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Moves the findings this baseline accepts from `findings` to `baselined`.
    pub fn apply(&self, report: &mut Report) {
        let known: BTreeSet<&str> = self
            .accepted
            .iter()
            .map(|a| a.fingerprint.as_str())
            .collect();
        let findings = std::mem::take(&mut report.findings);
        for finding in findings {
            let print = fingerprint(&finding, network_of(report, &finding));
            if known.contains(print.as_str()) {
                report.baselined.push(finding);
            } else {
                report.findings.push(finding);
            }
        }
        report.summary.findings = report.findings.len();
        report.summary.baselined = report.baselined.len();
        report.summary.findings_by_severity.clear();
        for finding in &report.findings {
            *report
                .summary
                .findings_by_severity
                .entry(finding.severity)
                .or_default() += 1;
        }
    }
}
