//! `--format junit`: JUnit XML, for test-report viewers (GitLab merge requests, Jenkins, …).
//!
//! ```xml
//! <testsuites name="callaudit" tests="12" failures="1" errors="0" skipped="0">
//!   <testsuite name="call.pcap" tests="12" failures="1" errors="0" skipped="0">
//!     <properties>…packets, flows, policy…</properties>
//!     <testcase classname="callaudit" name="restricted-key-exchange">
//!       <failure message="Key exchange with 52.81.151.250:443 (…), located in CN — …"
//!                type="critical">…the evidence, one fact a line…</failure>
//!     </testcase>
//!     <testcase classname="callaudit" name="keys-in-clear"/>
//!     …
//!   </testsuite>
//! </testsuites>
//! ```
//!
//! One test suite per capture (named by its path), one test case per rule of the catalog. A rule
//! with findings in that capture fails, one `<failure>` per finding (`type` is the severity);
//! one without findings passes; one whose only findings the policy allows (or a baseline
//! accepted) is skipped, with the reasons; one the policy switches off is skipped too. `tests`,
//! `failures` and `skipped` count test cases, as JUnit does; a failing test case's allowed and
//! baselined findings are listed in its `<system-out>`. The XML is written here: text and
//! attributes are escaped, and characters XML 1.0 cannot carry become U+FFFD.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::sarif::{class_words, finding_message};
use super::{Emitter, FindingReport, Report};
use crate::policy::rules::{Rule, RULES};

pub struct JunitEmitter;

/// What a rule's test case says for one capture.
enum Outcome<'a> {
    Pass,
    Fail(Vec<&'a FindingReport>),
    Skip(String),
}

impl Emitter for JunitEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let mut suites = String::new();
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        for (index, capture) in report.captures.iter().enumerate() {
            let cases: Vec<(&Rule, Outcome, String)> = RULES
                .iter()
                .map(|rule| {
                    let (outcome, output) = outcome(report, index, rule);
                    (rule, outcome, output)
                })
                .collect();
            let suite_failures = cases
                .iter()
                .filter(|(_, o, _)| matches!(o, Outcome::Fail(_)))
                .count();
            let suite_skipped = cases
                .iter()
                .filter(|(_, o, _)| matches!(o, Outcome::Skip(_)))
                .count();
            tests += cases.len();
            failures += suite_failures;
            skipped += suite_skipped;

            let flows = report.flows.iter().filter(|f| f.capture == index).count();
            let _ = writeln!(
                suites,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" errors=\"0\" \
                 skipped=\"{suite_skipped}\">",
                attr(&capture.path),
                cases.len()
            );
            suites.push_str("    <properties>\n");
            for (name, value) in [
                ("packets", capture.packets.to_string()),
                ("packets_read", capture.packets_read.to_string()),
                ("flows", flows.to_string()),
                ("policy", report.policy.source.clone()),
            ] {
                let _ = writeln!(
                    suites,
                    "      <property name=\"{name}\" value=\"{}\"/>",
                    attr(&value)
                );
            }
            suites.push_str("    </properties>\n");
            for (rule, outcome, output) in &cases {
                write_case(&mut suites, report, rule, outcome, output);
            }
            if let Some(warning) = &capture.warning {
                let _ = writeln!(suites, "    <system-err>{}</system-err>", text(warning));
            }
            suites.push_str("  </testsuite>\n");
        }
        write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
             skipped=\"{skipped}\">\n{suites}</testsuites>\n",
            attr(report.tool.name)
        )
    }
}

/// The rule's outcome in one capture, and what its `<system-out>` lists.
fn outcome<'a>(report: &'a Report, capture: usize, rule: &Rule) -> (Outcome<'a>, String) {
    let of_rule = |findings: &'a [FindingReport]| -> Vec<&'a FindingReport> {
        findings
            .iter()
            .filter(|f| f.capture == capture && f.rule == rule.id)
            .collect()
    };
    let failed = of_rule(&report.findings);
    let mut accepted: Vec<String> = of_rule(&report.allowed)
        .into_iter()
        .map(|f| {
            format!(
                "allowed: {} ({})",
                finding_message(report, f),
                f.allowed.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    accepted.extend(
        of_rule(&report.baselined)
            .into_iter()
            .map(|f| format!("baselined: {}", finding_message(report, f))),
    );
    if !failed.is_empty() {
        return (Outcome::Fail(failed), accepted.join("\n"));
    }
    if !accepted.is_empty() {
        let mut reasons: Vec<String> = of_rule(&report.allowed)
            .into_iter()
            .map(|f| {
                format!(
                    "allowed: {}",
                    f.allowed.as_deref().unwrap_or("no reason given")
                )
            })
            .collect();
        if !of_rule(&report.baselined).is_empty() {
            reasons.push("accepted by the baseline".to_string());
        }
        reasons.dedup();
        return (Outcome::Skip(reasons.join("; ")), accepted.join("\n"));
    }
    if report.policy.scope.severity.get(rule.id) == Some(&None) {
        return (
            Outcome::Skip("off in the policy".to_string()),
            String::new(),
        );
    }
    (Outcome::Pass, String::new())
}

fn write_case(xml: &mut String, report: &Report, rule: &Rule, outcome: &Outcome, output: &str) {
    let open = format!(
        "    <testcase classname=\"callaudit\" name=\"{}\"",
        attr(rule.id)
    );
    match outcome {
        Outcome::Pass => {
            let _ = writeln!(xml, "{open}/>");
        }
        Outcome::Skip(message) => {
            let _ = writeln!(xml, "{open}>");
            if output.is_empty() {
                let _ = writeln!(xml, "      <skipped message=\"{}\"/>", attr(message));
            } else {
                let _ = writeln!(
                    xml,
                    "      <skipped message=\"{}\">{}</skipped>",
                    attr(message),
                    text(output)
                );
            }
            let _ = writeln!(xml, "    </testcase>");
        }
        Outcome::Fail(findings) => {
            let _ = writeln!(xml, "{open}>");
            for finding in findings {
                let _ = writeln!(
                    xml,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    attr(&finding_message(report, finding)),
                    finding.severity,
                    text(&evidence(report, finding))
                );
            }
            if !output.is_empty() {
                let _ = writeln!(xml, "      <system-out>{}</system-out>", text(output));
            }
            let _ = writeln!(xml, "    </testcase>");
        }
    }
}

/// The finding's evidence, one fact a line.
fn evidence(report: &Report, finding: &FindingReport) -> String {
    let mut lines = vec![format!(
        "{} ({}): {}",
        finding.rule, finding.severity, finding.title
    )];
    if let Some(capture) = report.captures.get(finding.capture) {
        lines.push(format!("capture: {}", capture.path));
    }
    let flow = report.flows.get(finding.flow);
    match flow {
        Some(flow) => lines.push(format!(
            "flow {}: {} {}:{} -> {}",
            finding.flow,
            flow.transport.as_str(),
            flow.client.ip,
            flow.client.port,
            finding.server
        )),
        None => lines.push(format!("flow {}: -> {}", finding.flow, finding.server)),
    }
    lines.push(format!("packet: #{} at {}", finding.packet, finding.time));
    if let (Some(class), Some(packets)) = (finding.class, finding.packets) {
        lines.push(format!("{} packets: {packets}", class_words(class)));
    }
    let or_unknown = |value: Option<&str>| value.unwrap_or("unknown").to_string();
    lines.push(format!(
        "location: {}, operator: {}",
        or_unknown(finding.location.as_deref()),
        or_unknown(finding.operator_country.as_deref())
    ));
    if let Some(flow) = flow {
        if let (Some(asn), Some(org)) = (flow.server.asn, &flow.server.as_org) {
            lines.push(format!("AS: AS{asn} {org}"));
        }
    }
    if let Some(hostname) = &finding.hostname {
        lines.push(format!("hostname: {hostname}"));
    }
    if let Some(app) = &finding.app {
        lines.push(format!("app: {app}"));
    }
    for note in &finding.notes {
        lines.push(format!("note: {note}"));
    }
    lines.join("\n")
}

/// Escaped for an attribute value in double quotes; line breaks kept as character references.
fn attr(value: &str) -> String {
    escape(value, true)
}

/// Escaped for element content.
fn text(value: &str) -> String {
    escape(value, false)
}

fn escape(value: &str, attribute: bool) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' if attribute => escaped.push_str("&quot;"),
            '\'' if attribute => escaped.push_str("&apos;"),
            '\n' if attribute => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' if attribute => escaped.push_str("&#9;"),
            '\t' | '\n' => escaped.push(c),
            c if allowed_in_xml(c) => escaped.push(c),
            _ => escaped.push('\u{FFFD}'),
        }
    }
    escaped
}

/// XML 1.0's `Char` production.
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(attr("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(attr("two\nlines"), "two&#10;lines");
        assert_eq!(text("two\nlines & \"q\""), "two\nlines &amp; \"q\"");
        assert_eq!(text("bell\u{7}"), "bell\u{FFFD}");
    }
}
