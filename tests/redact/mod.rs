//! `callaudit audit --redact` (issue 8, safe sharing): every format is written from one redacted
//! report, so none holds an address, MAC address, local name or directory of the capturing
//! side, while every server fact and finding is the unredacted run's.
//!
//! For each fixture with client-side facts — the Citizen Lab capture (client 192.168.1.20, DNS
//! server 192.168.1.1), webrtc-call (STUN XOR-MAPPED-ADDRESS 203.0.113.7, the client's public
//! address), sip-sdes-call (SDP and Via naming 203.0.113.7), raw-ipv6 (client fd00::20), and
//! all four in one run — an unredacted JSON run says what must go (every `flows[].client.ip`,
//! every server in the local networks) and what must stay (public servers, countries, rules,
//! the number of findings); then one `--redact` run writes all eight formats (`-o FORMAT=FILE`
//! repeated) and each file is searched. The fixtures' MAC addresses (fixtures/README.md) and
//! the announced public address are searched for too, in every spelling.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

const FORMATS: [&str; 8] = [
    "table", "json", "jsonl", "csv", "sarif", "junit", "markdown", "html",
];

/// Formats that list every flow (the others list findings only).
const FLOW_FORMATS: [&str; 6] = ["table", "json", "jsonl", "csv", "markdown", "html"];

/// The client's public (NAT) address, which the fixtures' STUN responses (XOR-MAPPED-ADDRESS)
/// and SIP/SDP announce (fixtures/README.md).
const ANNOUNCED_CLIENT: &str = "203.0.113.7";

/// The fixtures' Ethernet addresses: the client's and the gateway's (xtask fixtures, net.rs).
const MACS: [[u8; 6]; 2] = [
    [0x02, 0xca, 0x11, 0x00, 0x00, 0x20],
    [0x02, 0xca, 0x11, 0x00, 0x00, 0x01],
];

/// `server.special` values of the capturing side's own networks.
const LOCAL_SPECIAL: [&str; 5] = ["private", "loopback", "link_local", "cgnat", "unique_local"];

fn fixtures(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|name| fixture(name)).collect()
}

/// Every text form an address may take: as written, and for IPv6 uncompressed and padded.
fn spellings(ip: &str) -> Vec<String> {
    let mut forms = vec![ip.to_lowercase()];
    if let Ok(IpAddr::V6(v6)) = ip.parse::<IpAddr>() {
        let s = v6.segments();
        forms.push(
            s.iter()
                .map(|g| format!("{g:x}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
        forms.push(
            s.iter()
                .map(|g| format!("{g:04x}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
    }
    forms
}

fn mac_spellings(mac: &[u8; 6]) -> Vec<String> {
    let pairs: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        pairs.join(":"),
        pairs.join("-"),
        pairs.concat(),
        format!(
            "{}.{}.{}",
            pairs[0..2].concat(),
            pairs[2..4].concat(),
            pairs[4..6].concat()
        ),
    ]
}

/// What the unredacted report says must go and must stay.
struct Expected {
    /// Lowercase spellings of every address of the capturing side.
    forbidden: BTreeSet<String>,
    /// The client addresses, for the linkability check.
    clients: BTreeSet<String>,
    flow_servers: BTreeSet<String>,
    finding_servers: BTreeSet<String>,
    finding_countries: BTreeSet<String>,
    rules: BTreeSet<String>,
    report: Value,
    /// The unredacted run's exit code.
    code: i32,
}

fn expected(paths: &[PathBuf], extra: &[&str]) -> Expected {
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let run = audit_json(&paths, extra);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let report = run.json();
    let mut expected = Expected {
        forbidden: BTreeSet::new(),
        clients: BTreeSet::new(),
        flow_servers: BTreeSet::new(),
        finding_servers: BTreeSet::new(),
        finding_countries: BTreeSet::new(),
        rules: BTreeSet::new(),
        report: Value::Null,
        code: run.code,
    };
    for flow in report["flows"].as_array().unwrap() {
        let client = flow["client"]["ip"].as_str().unwrap();
        expected.clients.insert(client.to_string());
        expected.forbidden.extend(spellings(client));
        let server = flow["server"]["ip"].as_str().unwrap();
        if LOCAL_SPECIAL.contains(&flow["server"]["special"].as_str().unwrap_or("")) {
            expected.forbidden.extend(spellings(server));
        } else {
            expected.flow_servers.insert(server.to_string());
        }
    }
    for finding in report["findings"].as_array().unwrap() {
        expected
            .finding_servers
            .insert(finding["server"]["ip"].as_str().unwrap().to_string());
        if let Some(country) = finding["country"].as_str() {
            expected.finding_countries.insert(country.to_string());
        }
        expected
            .rules
            .insert(finding["rule"].as_str().unwrap().to_string());
    }
    expected.forbidden.extend(spellings(ANNOUNCED_CLIENT));
    for mac in &MACS {
        expected.forbidden.extend(mac_spellings(mac));
    }
    // The captures' directory (the paths given are absolute).
    expected
        .forbidden
        .insert(root().join("fixtures").display().to_string().to_lowercase());
    assert!(!expected.clients.is_empty());
    expected.report = report;
    expected
}

/// One `--redact` run writing every format: (format, output) pairs and the exit code.
fn redacted(
    paths: &[PathBuf],
    extra: &[&str],
    name: &str,
) -> (BTreeMap<&'static str, String>, i32) {
    let dir = temp_dir(&format!("redact-{name}"));
    let mut args: Vec<String> = vec!["audit".into(), "--redact".into()];
    for format in FORMATS {
        args.push("-o".into());
        args.push(format!(
            "{format}={}",
            dir.join(format!("out.{format}")).display()
        ));
    }
    args.extend(paths.iter().map(|p| p.display().to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = callaudit(&args);
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}: {}",
        run.code,
        run.stderr
    );
    let outputs = FORMATS
        .into_iter()
        .map(|format| {
            let text = std::fs::read_to_string(dir.join(format!("out.{format}")))
                .unwrap_or_else(|e| panic!("{format}: {e}"));
            (format, text)
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (outputs, run.code)
}

/// Runs the fixtures both ways and checks every format.
fn check(names: &[&str], extra: &[&str], case: &str) -> (Expected, Value) {
    let paths = fixtures(names);
    let expected = expected(&paths, extra);
    let (outputs, code) = redacted(&paths, extra, case);
    assert_eq!(code, expected.code, "{case}: the exit code is the audit's");

    for (format, output) in &outputs {
        let lower = output.to_lowercase();
        for gone in &expected.forbidden {
            assert!(
                !lower.contains(gone.as_str()),
                "{case}: {gone} in the redacted {format} output:\n{output}"
            );
        }
        for server in &expected.finding_servers {
            assert!(
                output.contains(server.as_str()),
                "{case}: server {server} missing from {format}"
            );
        }
        for rule in &expected.rules {
            assert!(
                output.contains(rule.as_str()),
                "{case}: rule {rule} missing from {format}"
            );
        }
        for country in &expected.finding_countries {
            assert!(
                output.contains(country.as_str()),
                "{case}: country {country} missing from {format}"
            );
        }
        if FLOW_FORMATS.contains(format) {
            for server in &expected.flow_servers {
                assert!(
                    output.contains(server.as_str()),
                    "{case}: server {server} missing from {format}"
                );
            }
        }
    }

    // The JSON report: the same flows, servers, countries and findings; one placeholder per
    // client, from the documentation ranges.
    let report: Value = serde_json::from_str(&outputs["json"]).expect("redacted JSON");
    let before = expected.report["flows"].as_array().unwrap();
    let after = report["flows"].as_array().unwrap();
    assert_eq!(before.len(), after.len(), "{case}");
    let mut placeholders: BTreeMap<&str, &str> = BTreeMap::new();
    for (b, a) in before.iter().zip(after) {
        let client = b["client"]["ip"].as_str().unwrap();
        let placeholder = a["client"]["ip"].as_str().unwrap();
        assert_eq!(
            *placeholders.entry(client).or_insert(placeholder),
            placeholder,
            "{case}: one placeholder per client"
        );
        let ip: IpAddr = placeholder.parse().expect("an address-shaped placeholder");
        let documentation = match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                matches!([a, b, c], [192, 0, 2] | [198, 51, 100] | [203, 0, 113])
            }
            IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0xdb8],
        };
        assert!(documentation, "{case}: placeholder {placeholder}");
        assert_eq!(b["client"]["port"], a["client"]["port"]);
        for field in [
            "port",
            "country",
            "operator_country",
            "asn",
            "as_org",
            "special",
            "role",
        ] {
            assert_eq!(
                b["server"][field], a["server"][field],
                "{case}: server.{field}"
            );
        }
        for field in [
            "app",
            "confidence",
            "protocols",
            "packets",
            "bytes",
            "first",
            "orientation",
            "announced_by",
        ] {
            assert_eq!(b[field], a[field], "{case}: {field}");
        }
        if !LOCAL_SPECIAL.contains(&b["server"]["special"].as_str().unwrap_or("")) {
            for field in ["hostname", "app_evidence", "certificate"] {
                assert_eq!(b[field], a[field], "{case}: {field}");
            }
            assert_eq!(
                b["server"]["ip"], a["server"]["ip"],
                "{case}: public server"
            );
        }
    }
    let distinct: BTreeSet<&str> = placeholders.values().copied().collect();
    assert_eq!(
        distinct.len(),
        placeholders.len(),
        "{case}: clients stay apart"
    );

    for list in ["findings", "allowed", "baselined"] {
        let b = expected.report[list].as_array().unwrap();
        let a = report[list].as_array().unwrap();
        assert_eq!(b.len(), a.len(), "{case}: {list}");
        for (b, a) in b.iter().zip(a) {
            for field in [
                "rule",
                "severity",
                "class",
                "flow",
                "capture",
                "packet",
                "time",
                "server",
                "country",
                "location",
                "operator_country",
                "app",
                "hostname",
                "packets",
            ] {
                assert_eq!(b[field], a[field], "{case}: {list}[].{field}");
            }
        }
    }
    assert_eq!(
        expected.report["summary"], report["summary"],
        "{case}: summary"
    );
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("redacted")),
        "{case}: the report says it is redacted"
    );
    (expected, report)
}

#[test]
fn redact_citizenlab_every_format() {
    let (expected, report) = check(&["citizenlab-zoom-2020.pcap"], &[], "citizenlab");
    assert!(expected.clients.contains("192.168.1.20"));
    assert!(
        expected.forbidden.contains("192.168.1.1"),
        "the home router's address goes too"
    );
    assert_eq!(report["findings"][0]["server"]["ip"], "52.81.151.250");
    assert_eq!(report["findings"][0]["country"], "CN");
    assert_eq!(report["captures"][0]["path"], "citizenlab-zoom-2020.pcap");
}

#[test]
fn redact_webrtc_stun_every_format() {
    check(&["webrtc-call.pcap"], &[], "webrtc");
}

#[test]
fn redact_sip_sdp_every_format() {
    let (expected, _) = check(&["sip-sdes-call.pcap"], &[], "sip");
    assert!(expected.rules.contains("keys-in-clear"));
}

#[test]
fn redact_ipv6_every_format() {
    let (expected, report) = check(&["linktypes/raw-ipv6.pcap"], &[], "ipv6");
    assert!(expected.clients.contains("fd00::20"));
    assert_eq!(report["flows"][0]["client"]["ip"], "2001:db8::1");
}

#[test]
fn redact_several_captures_one_placeholder_per_client() {
    let (_, report) = check(
        &[
            "citizenlab-zoom-2020.pcap",
            "webrtc-call.pcap",
            "sip-sdes-call.pcap",
            "linktypes/raw-ipv6.pcap",
        ],
        &[],
        "all",
    );
    let clients: BTreeSet<&str> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["client"]["ip"].as_str().unwrap())
        .collect();
    // 192.168.1.20 in three captures, fd00::20 in one.
    assert_eq!(clients, BTreeSet::from(["192.0.2.1", "2001:db8::1"]));
}

#[test]
fn redact_rounds_a_vantage_point_and_its_distances() {
    let dir = temp_dir("redact-vantage-policy");
    let policy = dir.join("vantage.toml");
    std::fs::write(
        &policy,
        "restricted = [\"KP\"]\nvantage = { lat = 52.5208, lon = 13.4094 }\n",
    )
    .unwrap();
    let policy = policy.display().to_string();
    let (expected, report) = check(&["rtt-implausible.pcap"], &["--policy", &policy], "vantage");
    assert!(expected.rules.contains("implausible-location"));
    assert_eq!(
        report["policy"]["vantage"],
        serde_json::json!({ "lat": 53.0, "lon": 13.0 })
    );
    assert_eq!(report["policy"]["source"], "vantage.toml");
    let text = report.to_string();
    for gone in [
        "52.52",
        "13.41",
        "13.4094",
        dir.display().to_string().as_str(),
    ] {
        assert!(!text.contains(gone), "{gone} in {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redact_is_refused_for_a_baseline() {
    let dir = temp_dir("redact-baseline");
    let file = dir.join("baseline.json");
    let run = callaudit([
        "baseline".into(),
        "write".into(),
        file.clone().into_os_string(),
        fixture("citizenlab-zoom-2020.pcap").into_os_string(),
        "--redact".into(),
    ] as [std::ffi::OsString; 5]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--redact"), "{}", run.stderr);
    assert!(!file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
