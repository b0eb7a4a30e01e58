//! The text and CI formats — jsonl, csv, sarif, junit, markdown — on the fixtures.
//!
//! Each format is checked two ways: a snapshot (the whole output, volatile parts redacted,
//! compared with tests/snapshots/*; `UPDATE_SNAPSHOTS=1 cargo test` rewrites them), and by
//! reading it back with a parser of that format and comparing with the JSON report of the same
//! run. The SARIF output is validated against the OASIS SARIF 2.1.0 schema in tests/data.
//!
//! Two runs are used: the Citizen Lab capture with the default policy, and a mixed run (four
//! captures, a policy with an allow entry whose reason needs escaping, a baseline accepting the
//! weak-TLS findings) that exercises allowed and baselined findings and several captures.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::{root, Run};

const CITIZENLAB: &[&str] = &["fixtures/citizenlab-zoom-2020.pcap"];

const MIXED: &[&str] = &[
    "fixtures/citizenlab-zoom-2020.pcap",
    "fixtures/weak-tls.pcap",
    "fixtures/sip-sdes-call.pcap",
    "fixtures/no-conferencing.pcap",
    "--policy",
    "tests/data/formats-policy.toml",
    "--baseline",
    "tests/data/formats-baseline.json",
];

const CASES: [(&str, &[&str]); 2] = [("citizenlab", CITIZENLAB), ("mixed", MIXED)];

/// `callaudit audit --format FORMAT ARGS` run in the crate root, so that the capture paths in
/// reports are the relative ones given, the same on every machine.
fn audit(format: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_callaudit"))
        .current_dir(root())
        .args(["audit", "--format", format, "--jobs", "1"])
        .args(args)
        .output()
        .expect("run callaudit");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        run.code == 0 || run.code == 1,
        "{format} {args:?}: exit {}: {}",
        run.code,
        run.stderr
    );
    run
}

fn json_report(args: &[&str]) -> Value {
    audit("json", args).json()
}

fn array(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

// ---------------------------------------------------------------- snapshots

/// Replaces what depends on the machine or the build rather than on the captures: the tool's
/// version and the checkout's absolute path.
fn redact(output: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut redacted = output.to_string();
    for (from, to) in [
        (
            format!("\"version\": \"{version}\""),
            "\"version\": \"[VERSION]\"",
        ),
        (
            format!("\"version\":\"{version}\""),
            "\"version\":\"[VERSION]\"",
        ),
        (format!("callaudit {version}"), "callaudit [VERSION]"),
    ] {
        redacted = redacted.replace(&from, to);
    }
    redacted.replace(&root().display().to_string(), "[ROOT]")
}

fn snapshot_path(name: &str) -> PathBuf {
    root().join("tests/snapshots").join(name)
}

/// Compares `actual` (redacted) with the golden file, or rewrites it with `UPDATE_SNAPSHOTS=1`.
fn assert_snapshot(name: &str, actual: &str) {
    let actual = redact(actual);
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `UPDATE_SNAPSHOTS=1 cargo test` to create it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let expected_lines: Vec<&str> = expected.lines().collect();
    let actual_lines: Vec<&str> = actual.lines().collect();
    let first = expected_lines
        .iter()
        .zip(&actual_lines)
        .position(|(e, a)| e != a)
        .unwrap_or(expected_lines.len().min(actual_lines.len()));
    panic!(
        "{name} differs from {} at line {} (expected {} lines, got {}):\n- {}\n+ {}\n\
         Review the change and run `UPDATE_SNAPSHOTS=1 cargo test` to accept it.",
        path.display(),
        first + 1,
        expected_lines.len(),
        actual_lines.len(),
        expected_lines.get(first).unwrap_or(&"<end>"),
        actual_lines.get(first).unwrap_or(&"<end>"),
    );
}

fn snapshots_of(format: &str, extension: &str) {
    for (case, args) in CASES {
        let run = audit(format, args);
        assert_snapshot(&format!("{case}.{extension}"), &run.stdout);
    }
}

#[test]
fn jsonl_snapshots() {
    snapshots_of("jsonl", "jsonl");
}

#[test]
fn csv_snapshots() {
    snapshots_of("csv", "csv");
}

#[test]
fn sarif_snapshots() {
    snapshots_of("sarif", "sarif");
}

#[test]
fn junit_snapshots() {
    snapshots_of("junit", "junit.xml");
}

#[test]
fn markdown_snapshots() {
    snapshots_of("markdown", "md");
}

#[test]
fn redaction_hides_the_version_and_the_checkout() {
    let text = format!(
        "{{\"version\": \"{}\"}} {}/fixtures/x.pcap",
        env!("CARGO_PKG_VERSION"),
        root().display()
    );
    assert_eq!(
        redact(&text),
        "{\"version\": \"[VERSION]\"} [ROOT]/fixtures/x.pcap"
    );
}

// ---------------------------------------------------------------- SARIF

fn sarif_validator() -> jsonschema::Validator {
    let path = root().join("tests/data/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn assert_valid_sarif(validator: &jsonschema::Validator, sarif: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_is_valid_and_carries_the_citizenlab_finding_with_its_help() {
    let validator = sarif_validator();
    let sarif: Value = serde_json::from_str(&audit("sarif", CITIZENLAB).stdout).unwrap();
    assert_valid_sarif(&validator, &sarif, "citizenlab");
    assert_eq!(sarif["version"], "2.1.0");

    let run = &sarif["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "callaudit");
    let rules = array(&driver["rules"]);
    assert_eq!(rules.len(), 12, "the whole catalog");

    let results = array(&run["results"]);
    let report = json_report(CITIZENLAB);
    assert_eq!(results.len(), array(&report["findings"]).len());
    let top = &results[0];
    assert_eq!(top["ruleId"], "restricted-key-exchange");
    assert_eq!(top["level"], "error");
    let text = top["message"]["text"].as_str().unwrap();
    for part in [
        "Key exchange with 52.81.151.250:443",
        "zoombj250mmr.bj.zoom.us",
        "located in CN",
        "flow 4, packet #26",
    ] {
        assert!(text.contains(part), "{part:?} not in {text:?}");
    }
    assert_eq!(top["properties"]["packet"], 26);
    assert_eq!(top["properties"]["country"], "CN");
    let location = &top["locations"][0];
    assert_eq!(
        location["physicalLocation"]["artifactLocation"]["uri"],
        "fixtures/citizenlab-zoom-2020.pcap"
    );
    assert_eq!(
        location["logicalLocations"][0]["name"],
        "flow 4 52.81.151.250:443"
    );
    assert!(top["partialFingerprints"]["callaudit/v1"].is_string());
    assert_eq!(
        run["artifacts"][0]["location"]["uri"],
        "fixtures/citizenlab-zoom-2020.pcap"
    );

    let rule = &rules[top["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["id"], "restricted-key-exchange");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    assert_eq!(rule["properties"]["security-severity"], "9.5");
    let explain = crate::util::callaudit(["explain", "restricted-key-exchange"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert_eq!(
        rule["help"]["text"].as_str().unwrap().trim_end(),
        explain.stdout.trim_end(),
        "the help is the `callaudit explain` text"
    );
    assert!(rule["help"]["markdown"]
        .as_str()
        .unwrap()
        .contains("**Why it matters:**"));
}

#[test]
fn sarif_suppresses_allowed_and_baselined_findings() {
    let validator = sarif_validator();
    let sarif: Value = serde_json::from_str(&audit("sarif", MIXED).stdout).unwrap();
    assert_valid_sarif(&validator, &sarif, "mixed");
    let report = json_report(MIXED);
    let run = &sarif["runs"][0];
    assert_eq!(array(&run["artifacts"]).len(), 4);
    let results = array(&run["results"]);
    let counted = |key: &str| array(&report[key]).len();
    assert_eq!(
        results.len(),
        counted("findings") + counted("allowed") + counted("baselined")
    );
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), counted("allowed") + counted("baselined"));
    let allowed = suppressed
        .iter()
        .find(|r| r["ruleId"] == "restricted-signaling")
        .expect("the allowed signaling finding");
    assert_eq!(allowed["suppressions"][0]["kind"], "external");
    assert!(allowed["suppressions"][0]["justification"]
        .as_str()
        .unwrap()
        .starts_with("Zoom's control channel |"));
    let baselined: Vec<&&Value> = suppressed
        .iter()
        .filter(|r| r["baselineState"] == "unchanged")
        .collect();
    assert_eq!(baselined.len(), counted("baselined"));
    for result in results {
        let index = result["locations"][0]["physicalLocation"]["artifactLocation"]["index"]
            .as_u64()
            .unwrap() as usize;
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            run["artifacts"][index]["location"]["uri"]
        );
    }
}

#[test]
fn the_sarif_schema_rejects_what_it_should() {
    // Guards against a validator that accepts everything (a schema that failed to load, …).
    let validator = sarif_validator();
    let mut sarif: Value = serde_json::from_str(&audit("sarif", CITIZENLAB).stdout).unwrap();
    sarif["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&sarif));
    let mut sarif: Value = serde_json::from_str(&audit("sarif", CITIZENLAB).stdout).unwrap();
    sarif.as_object_mut().unwrap().remove("version");
    assert!(!validator.is_valid(&sarif));
}

// ---------------------------------------------------------------- JUnit

#[test]
fn junit_has_one_failure_per_finding_and_consistent_counts() {
    for (case, args) in CASES {
        let xml = audit("junit", args).stdout;
        let document = roxmltree::Document::parse(&xml)
            .unwrap_or_else(|e| panic!("{case}: not XML ({e}):\n{xml}"));
        let report = json_report(args);
        let root_element = document.root_element();
        assert_eq!(root_element.tag_name().name(), "testsuites");
        let count = |node: roxmltree::Node, name: &str| -> usize {
            node.attribute(name)
                .unwrap_or_else(|| panic!("{case}: no {name}"))
                .parse()
                .unwrap()
        };
        let suites: Vec<roxmltree::Node> = root_element
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let captures = array(&report["captures"]);
        assert_eq!(suites.len(), captures.len(), "{case}");
        let (mut tests, mut failing, mut skipped, mut failures) = (0, 0, 0, 0);
        for (suite, capture) in suites.iter().zip(captures) {
            assert_eq!(suite.attribute("name"), capture["path"].as_str(), "{case}");
            let cases: Vec<roxmltree::Node> = suite
                .children()
                .filter(|n| n.has_tag_name("testcase"))
                .collect();
            assert_eq!(cases.len(), 12, "{case}: one test case per rule");
            let with = |child: &str| {
                cases
                    .iter()
                    .filter(|c| c.children().any(|n| n.has_tag_name(child)))
                    .count()
            };
            assert_eq!(count(*suite, "tests"), cases.len(), "{case}");
            assert_eq!(count(*suite, "failures"), with("failure"), "{case}");
            assert_eq!(count(*suite, "skipped"), with("skipped"), "{case}");
            tests += cases.len();
            failing += with("failure");
            skipped += with("skipped");
            for test_case in &cases {
                assert_eq!(test_case.attribute("classname"), Some("callaudit"));
                for failure in test_case.children().filter(|n| n.has_tag_name("failure")) {
                    failures += 1;
                    let rule = test_case.attribute("name").unwrap();
                    let finding = array(&report["findings"])
                        .iter()
                        .find(|f| {
                            f["rule"] == rule
                                && captures[f["capture"].as_u64().unwrap() as usize]["path"]
                                    == capture["path"]
                                && failure
                                    .attribute("message")
                                    .unwrap()
                                    .contains(&format!("packet #{}", f["packet"]))
                        })
                        .unwrap_or_else(|| panic!("{case}: no finding for {failure:?}"));
                    assert_eq!(failure.attribute("type"), finding["severity"].as_str());
                    assert!(failure.text().unwrap_or_default().contains(rule));
                }
            }
        }
        assert_eq!(failures, array(&report["findings"]).len(), "{case}");
        assert_eq!(count(root_element, "tests"), tests, "{case}");
        assert_eq!(count(root_element, "failures"), failing, "{case}");
        assert_eq!(count(root_element, "skipped"), skipped, "{case}");
    }
}

#[test]
fn junit_skips_allowed_findings_with_the_reason() {
    let xml = audit("junit", MIXED).stdout;
    let document = roxmltree::Document::parse(&xml).unwrap();
    let signaling = document
        .descendants()
        .find(|n| {
            n.has_tag_name("testcase")
                && n.attribute("name") == Some("restricted-signaling")
                && n.parent().unwrap().attribute("name")
                    == Some("fixtures/citizenlab-zoom-2020.pcap")
        })
        .unwrap();
    let skipped = signaling
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .expect("skipped");
    assert_eq!(
        skipped.attribute("message"),
        Some("allowed: Zoom's control channel | reviewed <2026-01> by \"sec\" & legal, ticket #12"),
        "escaped and read back intact"
    );
}

// ---------------------------------------------------------------- Markdown

/// Splits a table row into its cells, honouring `\|` escapes.
fn markdown_cells(row: &str) -> Vec<String> {
    let inner = row
        .strip_prefix("| ")
        .and_then(|r| r.strip_suffix(" |"))
        .unwrap_or_else(|| panic!("not a table row: {row:?}"));
    let mut cells = vec![String::new()];
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cells.last_mut().unwrap().push(c);
                if let Some(next) = chars.next() {
                    cells.last_mut().unwrap().push(next);
                }
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

/// The table under a `## {heading} (N)` line: header, rows.
fn markdown_table(markdown: &str, heading: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let lines: Vec<&str> = markdown.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("## {heading} (")))
        .unwrap_or_else(|| panic!("no {heading:?} section:\n{markdown}"));
    // The table may sit in a <details> block; GitHub needs a blank line before it either way.
    let head = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with('|'))
            .unwrap_or_else(|| panic!("no table under {heading:?}"));
    assert_eq!(lines[head - 1], "", "a blank line before the table");
    let header = markdown_cells(lines[head]);
    let separator = markdown_cells(lines[head + 1]);
    assert_eq!(separator.len(), header.len());
    assert!(separator.iter().all(|c| c == "---"), "{separator:?}");
    let rows: Vec<Vec<String>> = lines[head + 2..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .map(|l| markdown_cells(l))
        .collect();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
    }
    (header, rows)
}

#[test]
fn markdown_has_a_verdict_and_a_well_formed_findings_table() {
    let markdown = audit("markdown", CITIZENLAB).stdout;
    assert!(markdown.starts_with("# callaudit report\n"));
    assert!(
        markdown.contains("**1 critical finding: key exchange with a server in CN**"),
        "{markdown}"
    );
    let report = json_report(CITIZENLAB);
    let (header, rows) = markdown_table(&markdown, "Findings");
    assert_eq!(header[0], "Severity");
    assert_eq!(header[1], "Rule");
    assert_eq!(rows.len(), array(&report["findings"]).len());
    assert_eq!(rows[0][0], "**CRITICAL**");
    assert_eq!(rows[0][1], "`restricted-key-exchange`");
    assert_eq!(rows[0][3], "52.81.151.250:443");
    assert_eq!(rows[0][6], "flow 4, packet #26");
}

#[test]
fn markdown_escapes_cells_and_lists_allowed_findings() {
    let markdown = audit("markdown", MIXED).stdout;
    let report = json_report(MIXED);
    let (header, rows) = markdown_table(&markdown, "Findings");
    assert!(header.contains(&"Capture".to_string()), "several captures");
    assert_eq!(rows.len(), array(&report["findings"]).len());
    let (header, allowed) = markdown_table(&markdown, "Allowed by the policy");
    assert_eq!(header.last().unwrap(), "Reason");
    assert_eq!(allowed.len(), array(&report["allowed"]).len());
    assert_eq!(
        allowed[0].last().unwrap(),
        "Zoom's control channel \\| reviewed \\<2026-01\\> by \"sec\" \\& legal, ticket \\#12"
    );
    let (_, baselined) = markdown_table(&markdown, "Accepted by the baseline");
    assert_eq!(baselined.len(), array(&report["baselined"]).len());
    let (_, flows) = markdown_table(&markdown, "Flows");
    assert_eq!(flows.len(), array(&report["flows"]).len());
}

// ---------------------------------------------------------------- CSV

/// An RFC 4180 reader: quoted fields (with `""` and line breaks inside), CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("a bare LF ends a record"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "an unterminated quoted field");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record has no CRLF"
    );
    records
}

#[test]
fn csv_has_a_row_per_flow_with_the_right_columns() {
    for (case, args) in CASES {
        let records = parse_csv(&audit("csv", args).stdout);
        let report = json_report(args);
        let header: Vec<&str> = records[0].iter().map(String::as_str).collect();
        assert_eq!(
            header,
            [
                "capture",
                "flow",
                "transport",
                "client_ip",
                "client_port",
                "server_ip",
                "server_port",
                "country",
                "operator_country",
                "asn",
                "as_org",
                "app",
                "confidence",
                "hostname",
                "protocols",
                "key_exchange",
                "media",
                "signaling",
                "other",
                "total",
                "first_seen",
                "last_seen",
                "server_role",
                "rtt_ms",
                "findings"
            ]
        );
        let flows = array(&report["flows"]);
        assert_eq!(records.len() - 1, flows.len(), "{case}: a row per flow");
        for (index, (row, flow)) in records[1..].iter().zip(flows).enumerate() {
            assert_eq!(row.len(), header.len(), "{case}: {row:?}");
            let column = |name: &str| row[header.iter().position(|h| *h == name).unwrap()].as_str();
            let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
            assert_eq!(column("flow"), index.to_string());
            assert_eq!(
                column("capture"),
                report["captures"][flow["capture"].as_u64().unwrap() as usize]["path"]
            );
            assert_eq!(column("server_ip"), flow["server"]["ip"]);
            assert_eq!(column("server_port"), flow["server"]["port"].to_string());
            assert_eq!(column("country"), text(&flow["server"]["country"]));
            assert_eq!(column("as_org"), text(&flow["server"]["as_org"]));
            assert_eq!(column("hostname"), text(&flow["hostname"]));
            assert_eq!(column("total"), flow["packets"]["total"].to_string());
            assert_eq!(
                column("key_exchange"),
                flow["packets"]["key_exchange"].to_string()
            );
            let protocols: Vec<String> = array(&flow["protocols"]).iter().map(text).collect();
            assert_eq!(column("protocols"), protocols.join(" "));
            let mut rules: Vec<String> = array(&report["findings"])
                .iter()
                .filter(|f| f["flow"] == index)
                .map(|f| text(&f["rule"]))
                .collect();
            rules.dedup();
            assert_eq!(column("findings"), rules.join(" "), "{case}: flow {index}");
        }
    }
}

#[test]
fn csv_quotes_fields_with_commas() {
    let text = audit("csv", CITIZENLAB).stdout;
    assert!(
        text.contains(",\"Zoom Video Communications, Inc\","),
        "{text}"
    );
    let records = parse_csv(&text);
    let beijing = records
        .iter()
        .find(|r| r[5] == "52.81.151.250")
        .expect("the Beijing flow");
    assert_eq!(beijing[7], "CN");
    assert_eq!(beijing[24], "restricted-key-exchange restricted-signaling");
}

// ---------------------------------------------------------------- JSON lines

#[test]
fn jsonl_lines_parse_and_match_the_json_report() {
    for (case, args) in CASES {
        let text = audit("jsonl", args).stdout;
        let report = json_report(args);
        let lines: Vec<Value> = text
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{case}: {e}: {line}"))
            })
            .collect();
        let of_type =
            |kind: &str| -> Vec<&Value> { lines.iter().filter(|l| l["type"] == kind).collect() };
        let flows = of_type("flow");
        assert_eq!(flows.len(), array(&report["flows"]).len(), "{case}");
        for (index, line) in flows.iter().enumerate() {
            assert_eq!(line["flow"], index);
            let expected = &report["flows"][index];
            for key in ["capture", "transport", "client", "server", "packets", "app"] {
                assert_eq!(line[key], expected[key], "{case}: flow {index} {key}");
            }
            assert_eq!(
                line["capture_path"],
                report["captures"][expected["capture"].as_u64().unwrap() as usize]["path"]
            );
        }
        for (kind, key) in [
            ("finding", "findings"),
            ("allowed", "allowed"),
            ("baselined", "baselined"),
        ] {
            let found = of_type(kind);
            let expected = array(&report[key]);
            assert_eq!(found.len(), expected.len(), "{case}: {kind}");
            for (line, finding) in found.iter().zip(expected) {
                let mut line = (*line).clone();
                let object = line.as_object_mut().unwrap();
                object.remove("type");
                object.remove("capture_path");
                assert_eq!(&line, finding, "{case}: {kind}");
            }
        }
        let last = lines.last().unwrap();
        assert_eq!(last["type"], "summary", "{case}: the summary comes last");
        assert_eq!(of_type("summary").len(), 1);
        for key in [
            "summary",
            "captures",
            "databases",
            "policy",
            "tool",
            "warnings",
        ] {
            assert_eq!(last[key], report[key], "{case}: {key}");
        }
        assert_eq!(
            lines.len(),
            flows.len()
                + array(&report["findings"]).len()
                + array(&report["allowed"]).len()
                + array(&report["baselined"]).len()
                + 1,
            "{case}: no other lines"
        );
    }
}
