//! `--format markdown`: a summary for `$GITHUB_STEP_SUMMARY`, GitLab job summaries and
//! merge-request notes (GitHub-flavoured Markdown, no emoji).
//!
//! A title; a one-line verdict ("**1 critical finding: key exchange with a server in CN**");
//! the findings table (severity, rule, app, server, location / operator, hostname, evidence:
//! flow and packet) with the findings' notes and the help of each rule that fired; the allowed
//! and baselined findings; the flows in a collapsed table (app, server, country, key-exchange /
//! media / signaling packets); the captures; the databases and policy used. Every table cell
//! is escaped: Markdown punctuation gets a backslash (`|` included) and line breaks become
//! `<br>`, so values from a capture (hostnames, certificate names) cannot break the table or
//! inject markup.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::sarif::finding_gist;
use super::{Emitter, FindingReport, FlowReport, Report};
use crate::policy::rules;
use crate::policy::Severity;

pub struct MarkdownEmitter;

impl Emitter for MarkdownEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let several = report.captures.len() > 1;
        writeln!(out, "# {} report", report.tool.name)?;
        writeln!(out)?;
        writeln!(out, "{}", verdict(report))?;
        writeln!(out)?;
        let summary = &report.summary;
        writeln!(
            out,
            "{} packets in {} capture{}, {} flow{}, {} malformed.",
            summary.packets,
            summary.captures,
            plural(summary.captures),
            summary.flows,
            plural(summary.flows),
            summary.malformed
        )?;

        if !report.findings.is_empty() {
            writeln!(out)?;
            writeln!(out, "## Findings ({})", report.findings.len())?;
            writeln!(out)?;
            findings_table(out, report, &report.findings, several, None)?;
            let noted: Vec<(usize, &FindingReport)> = report
                .findings
                .iter()
                .enumerate()
                .filter(|(_, f)| !f.notes.is_empty())
                .collect();
            if !noted.is_empty() {
                writeln!(out)?;
                for (index, finding) in noted {
                    for note in &finding.notes {
                        writeln!(out, "- Finding {}: {}", index + 1, inline(note))?;
                    }
                }
            }
            writeln!(out)?;
            let mut fired: Vec<&str> = Vec::new();
            for finding in &report.findings {
                if !fired.contains(&finding.rule) {
                    fired.push(finding.rule);
                }
            }
            for id in fired {
                if let Some(rule) = rules::rule(id) {
                    // The catalog's own text, written as Markdown (its `code` spans render).
                    writeln!(
                        out,
                        "<details><summary><code>{}</code>: {}</summary>\n",
                        rule.id, rule.title
                    )?;
                    for paragraph in rule.explain().trim_end().split("\n\n").skip(1) {
                        writeln!(out, "{paragraph}\n")?;
                    }
                    writeln!(out, "</details>")?;
                }
            }
        }
        if !report.allowed.is_empty() {
            writeln!(out)?;
            writeln!(out, "## Allowed by the policy ({})", report.allowed.len())?;
            writeln!(out)?;
            findings_table(out, report, &report.allowed, several, Some("Reason"))?;
        }
        if !report.baselined.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "## Accepted by the baseline ({})",
                report.baselined.len()
            )?;
            writeln!(out)?;
            findings_table(out, report, &report.baselined, several, None)?;
        }

        writeln!(out)?;
        writeln!(out, "## Flows ({})", report.flows.len())?;
        writeln!(out)?;
        if report.flows.is_empty() {
            writeln!(out, "No UDP or TCP flows.")?;
        } else {
            writeln!(
                out,
                "<details><summary>{} flow{}</summary>\n",
                report.flows.len(),
                plural(report.flows.len())
            )?;
            let mut header = vec![
                "#",
                "App",
                "Server",
                "Country",
                "Hostname",
                "Key exchange",
                "Media",
                "Signaling",
                "Total",
            ];
            if several {
                header.push("Capture");
            }
            table_head(out, &header)?;
            for (index, flow) in report.flows.iter().enumerate() {
                let mut row = flow_row(index, flow);
                if several {
                    row.push(cell(&capture_name(report, flow.capture)));
                }
                table_row(out, &row)?;
            }
            writeln!(out, "\n</details>")?;
        }

        writeln!(out)?;
        writeln!(out, "## Captures")?;
        writeln!(out)?;
        for capture in &report.captures {
            write!(
                out,
                "- `{}`: {} packets analysed of {} read",
                code(&capture.path),
                capture.packets,
                capture.packets_read
            )?;
            match &capture.warning {
                Some(warning) => writeln!(out, " (warning: {})", inline(warning))?,
                None => writeln!(out)?,
            }
        }
        for warning in &report.warnings {
            writeln!(out, "- Warning: {}", inline(warning))?;
        }

        writeln!(out)?;
        writeln!(out, "## Databases and policy")?;
        writeln!(out)?;
        for db in &report.databases {
            writeln!(
                out,
                "- GeoIP {}: {} ({}, built {})",
                db.role,
                inline(&db.description),
                inline(&db.source),
                db.build_date
            )?;
        }
        let policy = &report.policy;
        let list = |set: &Option<std::collections::BTreeSet<String>>| {
            set.iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        };
        write!(
            out,
            "- Policy: {} (restricted: {}",
            inline(&policy.source),
            inline(&list(&policy.scope.restricted))
        )?;
        if policy.scope.home.is_some() {
            write!(out, "; home: {}", inline(&list(&policy.scope.home)))?;
        }
        if !policy.allow.is_empty() {
            write!(out, "; {} allow-list entries", policy.allow.len())?;
        }
        writeln!(out, ")")
    }
}

/// "**1 critical finding: key exchange with a server in CN**; also 1 medium."
fn verdict(report: &Report) -> String {
    let accepted = match (report.allowed.len(), report.baselined.len()) {
        (0, 0) => String::new(),
        (allowed, 0) => format!(" ({allowed} allowed by the policy)"),
        (0, baselined) => format!(" ({baselined} accepted by the baseline)"),
        (allowed, baselined) => {
            format!(" ({allowed} allowed by the policy, {baselined} accepted by the baseline)")
        }
    };
    let Some(worst) = report.worst_severity() else {
        return format!("**No findings**{accepted}.");
    };
    let top: Vec<&FindingReport> = report
        .findings
        .iter()
        .filter(|f| f.severity == worst)
        .collect();
    let mut gists: Vec<String> = Vec::new();
    for finding in &top {
        let gist = finding_gist(finding);
        if !gists.contains(&gist) {
            gists.push(gist);
        }
    }
    let mut line = format!(
        "**{} {worst} finding{}: {}**",
        top.len(),
        plural(top.len()),
        inline(&gists.join(", "))
    );
    let mut others: BTreeMap<Severity, usize> = BTreeMap::new();
    for finding in report.findings.iter().filter(|f| f.severity != worst) {
        *others.entry(finding.severity).or_default() += 1;
    }
    if !others.is_empty() {
        let parts: Vec<String> = others
            .iter()
            .rev()
            .map(|(severity, count)| format!("{count} {severity}"))
            .collect();
        line.push_str(&format!("; also {}", parts.join(", ")));
    }
    line.push_str(&accepted);
    line.push('.');
    line
}

fn findings_table(
    out: &mut dyn Write,
    report: &Report,
    findings: &[FindingReport],
    several: bool,
    reason: Option<&str>,
) -> io::Result<()> {
    let mut header = vec![
        "Severity",
        "Rule",
        "App",
        "Server",
        "Location / operator",
        "Hostname",
        "Evidence",
    ];
    if several {
        header.push("Capture");
    }
    if let Some(reason) = reason {
        header.push(reason);
    }
    table_head(out, &header)?;
    for finding in findings {
        let mut row = vec![
            severity_marker(finding.severity),
            format!("`{}`", code(finding.rule)),
            optional(finding.app.as_deref()),
            cell(&finding.server.to_string()),
            format!(
                "{} / {}",
                optional(finding.location.as_deref()),
                optional(finding.operator_country.as_deref())
            ),
            optional(finding.hostname.as_deref()),
            format!("flow {}, packet #{}", finding.flow, finding.packet),
        ];
        if several {
            row.push(cell(&capture_name(report, finding.capture)));
        }
        if reason.is_some() {
            row.push(optional(finding.allowed.as_deref()));
        }
        table_row(out, &row)?;
    }
    Ok(())
}

fn flow_row(index: usize, flow: &FlowReport) -> Vec<String> {
    let country = match (&flow.server.country, flow.server.special) {
        (Some(country), _) => cell(country),
        (None, Some(special)) => cell(special.as_str()),
        (None, None) => "?".to_string(),
    };
    let country = match &flow.server.operator_country {
        Some(operator) if flow.server.country.as_ref() != Some(operator) => {
            format!("{country} (op. {})", cell(operator))
        }
        _ => country,
    };
    vec![
        index.to_string(),
        optional(flow.app.as_deref()),
        cell(&format!(
            "{} {}:{}",
            flow.transport.as_str(),
            flow.server.ip,
            flow.server.port
        )),
        country,
        optional(flow.hostname.as_deref()),
        flow.packets.key_exchange.to_string(),
        flow.packets.media.to_string(),
        flow.packets.signaling.to_string(),
        flow.packets.total.to_string(),
    ]
}

fn severity_marker(severity: Severity) -> String {
    let upper = severity.as_str().to_uppercase();
    match severity {
        Severity::Critical | Severity::High => format!("**{upper}**"),
        _ => upper,
    }
}

fn table_head(out: &mut dyn Write, header: &[&str]) -> io::Result<()> {
    writeln!(out, "| {} |", header.join(" | "))?;
    let separator: Vec<&str> = header.iter().map(|_| "---").collect();
    writeln!(out, "| {} |", separator.join(" | "))
}

fn table_row(out: &mut dyn Write, row: &[String]) -> io::Result<()> {
    writeln!(out, "| {} |", row.join(" | "))
}

fn optional(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_string(), cell)
}

fn capture_name(report: &Report, index: usize) -> String {
    report
        .captures
        .get(index)
        .map(|c| c.path.clone())
        .unwrap_or_default()
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// A table cell: Markdown punctuation escaped, line breaks as `<br>`.
fn cell(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                escaped.push_str("<br>");
            }
            '\n' => escaped.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c if c.is_control() => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Text outside tables: escaped like a cell, line breaks as spaces.
fn inline(value: &str) -> String {
    cell(&value.replace("\r\n", " ").replace(['\r', '\n'], " "))
}

/// Text inside a code span: backticks cannot be escaped there, so they are replaced.
fn code(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c == '`' || c == '|' || c.is_control() {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_a_table() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("one\ntwo\r\nthree"), "one<br>two<br>three");
        assert_eq!(cell("<script>"), "\\<script\\>");
        assert_eq!(cell("zoom.us"), "zoom.us");
        assert_eq!(code("a`b|c"), "a\u{FFFD}b\u{FFFD}c");
    }
}
