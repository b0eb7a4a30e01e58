//! Integration tests: the built binary on the project's fixtures (see fixtures/README.md) and,
//! when present, on the reference captures in ../shared/corpus.

// Test code: a failed unwrap is a failed test (the lints guard the library, Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bounds;
mod ci;
mod classification;
mod formats;
mod jurisdiction;
mod live;
mod redact;
mod torture;
mod util;

use serde_json::Value;
use util::*;

const BEIJING: &str = "52.81.151.250";

// ---------------------------------------------------------------- the Citizen Lab reproduction

#[test]
fn citizenlab_key_exchange_in_beijing_is_the_top_critical_finding() {
    let run = audit_json(&[&fixture("citizenlab-zoom-2020.pcap")], &[]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let report = run.json();

    let tls = one_flow_to(&report, BEIJING, 443);
    assert_eq!(tls["transport"], "tcp");
    assert_eq!(tls["server"]["country"], "CN");
    assert_eq!(tls["app"], "zoom");
    // The server certificate outranks the SNI as evidence (docs/app-catalog.md).
    assert_eq!(tls["certificate"], "CN=*.bj.zoom.us");
    assert_eq!(tls["app_evidence"], "tls cert CN=*.bj.zoom.us");
    assert_eq!(tls["confidence"], "high");
    assert_eq!(tls["server"]["role"], "mmr");
    assert_eq!(tls["tls_version"], "TLS 1.2");
    assert!(
        tls["hostname"].as_str().unwrap().ends_with(".zoom.us"),
        "{tls:#}"
    );
    assert_eq!(tls["hostname_source"], "sni");
    assert!(protocols(tls).contains(&"tls"));
    assert!(
        tls["packets"]["key_exchange"].as_u64().unwrap() >= 4,
        "{tls:#}"
    );
    assert!(
        tls["packets"]["signaling"].as_u64().unwrap() > 0,
        "application data of a Zoom flow"
    );
    assert_eq!(tls["client"]["ip"], "192.168.1.20");
    assert_eq!(tls["orientation"], "tcp_syn");

    let top = &report["findings"][0];
    assert_eq!(top["rule"], "restricted-key-exchange");
    assert_eq!(top["severity"], "critical");
    assert_eq!(top["country"], "CN");
    assert_eq!(top["server"]["ip"], BEIJING);
    assert_eq!(top["app"], "zoom");
    let flow_index = top["flow"].as_u64().unwrap() as usize;
    assert_eq!(&report["flows"][flow_index], tls);
    // The cited packet is the first key-exchange packet of that flow: the ClientHello.
    assert_eq!(top["packet"], tls["first"]["key_exchange"]["number"]);
    assert!(top["packet"].as_u64().unwrap() > tls["first_packet"].as_u64().unwrap());
    assert!(top["time"].as_str().unwrap().starts_with("2020-04-02T"));

    // The findings are ordered most severe first.
    let severities: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities.first(), Some(&"critical"));
    assert_eq!(
        report["summary"]["findings"].as_u64().unwrap() as usize,
        severities.len()
    );
}

#[test]
fn citizenlab_zoom_media_goes_to_the_us_and_is_media() {
    let report = audit_json(&[&fixture("citizenlab-zoom-2020.pcap")], &[]).json();
    let media_flows: Vec<&Value> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["transport"] == "udp" && protocols(f).contains(&"zoom"))
        .collect();
    assert!(!media_flows.is_empty(), "no Zoom UDP flow");
    for flow in media_flows {
        assert_eq!(flow["app"], "zoom");
        assert_eq!(flow["app_evidence"], "zoom framing");
        assert_eq!(flow["confidence"], "high");
        assert_eq!(flow["server"]["role"], "mmr");
        let kinds = flow["media_kinds"].as_array().unwrap();
        assert!(
            kinds.contains(&"audio".into()) && kinds.contains(&"video".into()),
            "{kinds:?}"
        );
        assert_eq!(flow["server"]["country"], "US");
        let port = flow["server"]["port"].as_u64().unwrap();
        assert!((8801..=8810).contains(&port));
        assert!(flow["packets"]["media"].as_u64().unwrap() > 10, "{flow:#}");
        assert!(
            flow["packets"]["signaling"].as_u64().unwrap() > 0,
            "{flow:#}"
        );
    }
    // No finding is about the US media server under the default policy.
    for finding in report["findings"].as_array().unwrap() {
        assert_ne!(finding["country"], "US");
    }
}

#[test]
fn citizenlab_dns_names_label_later_flows() {
    let report = audit_json(&[&fixture("citizenlab-zoom-2020.pcap")], &[]).json();
    let dns: Vec<&Value> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| protocols(f).contains(&"dns"))
        .collect();
    assert!(!dns.is_empty());
    for flow in &dns {
        assert_eq!(flow["server"]["special"], "private");
        assert!(flow["server"]["country"].is_null());
    }
}

#[test]
fn table_output_puts_the_critical_finding_first() {
    let run = callaudit([
        "audit".as_ref(),
        "--format".as_ref(),
        "table".as_ref(),
        fixture("citizenlab-zoom-2020.pcap").as_os_str(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings_start = run.stdout.find("Findings").expect("a findings section");
    let flows_start = run.stdout.find("Flows").expect("a flows section");
    assert!(findings_start < flows_start);
    let findings = &run.stdout[findings_start..flows_start];
    let first_row = findings
        .lines()
        .find(|line| line.contains("CRITICAL") || line.contains("HIGH") || line.contains("MEDIUM"))
        .expect("a finding row");
    assert!(first_row.contains("CRITICAL"), "{first_row}");
    assert!(first_row.contains(BEIJING), "{first_row}");
    assert!(first_row.contains("CN"), "{first_row}");
    assert!(run.stdout.contains("malformed"), "summary line");
}

#[test]
fn fail_on_threshold_decides_the_exit_code() {
    let capture = fixture("citizenlab-zoom-2020.pcap");
    assert_eq!(audit_json(&[&capture], &["--fail-on", "critical"]).code, 1);
    assert_eq!(audit_json(&[&capture], &["--fail-on", "never"]).code, 0);
    let no_conf = fixture("no-conferencing.pcap");
    assert_eq!(audit_json(&[&no_conf], &["--fail-on", "info"]).code, 0);
}

#[test]
fn a_policy_file_replaces_the_default() {
    let dir = temp_dir("policy");
    let policy = dir.join("us.toml");
    std::fs::write(&policy, "restricted = [\"US\"]\n").unwrap();
    let run = audit_json(
        &[&fixture("citizenlab-zoom-2020.pcap")],
        &["--policy", policy.to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["policy"]["restricted"], serde_json::json!(["US"]));
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"restricted-media"), "{rules:?}");
    assert!(!report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["country"] == "CN"));
}

// ---------------------------------------------------------------- WebRTC building blocks

#[test]
fn webrtc_call_has_stun_dtls_and_validated_rtp() {
    let run = audit_json(&[&fixture("webrtc-call.pcap")], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let call = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| protocols(f).contains(&"dtls"))
        .expect("a DTLS flow");
    let protos = protocols(call);
    for expected in ["stun", "dtls", "rtp", "rtcp"] {
        assert!(protos.contains(&expected), "{protos:?}");
    }
    let packets = &call["packets"];
    assert!(packets["key_exchange"].as_u64().unwrap() >= 4, "{packets}");
    assert!(packets["media"].as_u64().unwrap() >= 100, "{packets}");
    assert!(packets["signaling"].as_u64().unwrap() >= 2, "{packets}");
    let total = packets["total"].as_u64().unwrap();
    let sum: u64 = ["key_exchange", "media", "signaling", "other"]
        .iter()
        .map(|k| packets[*k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, total, "every packet has exactly one role");
    assert_eq!(call["transport"], "udp");
    assert!(call["server"]["country"].is_string());
}

#[test]
fn media_relayed_through_turn_counts_as_media() {
    let report = audit_json(&[&fixture("webrtc-call.pcap")], &[]).json();
    let turn = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| protocols(f).contains(&"turn"))
        .expect("a TURN flow");
    assert_eq!(turn["server"]["port"], 3478);
    assert!(turn["packets"]["media"].as_u64().unwrap() > 0, "{turn:#}");
    assert!(
        turn["packets"]["signaling"].as_u64().unwrap() >= 4,
        "{turn:#}"
    );
}

#[test]
fn no_conferencing_traffic_means_no_app_and_no_findings() {
    let run = audit_json(&[&fixture("no-conferencing.pcap")], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert!(report["findings"].as_array().unwrap().is_empty());
    let flows = report["flows"].as_array().unwrap();
    assert!(!flows.is_empty());
    for flow in flows {
        assert!(flow["app"].is_null(), "{flow:#}");
        assert_eq!(flow["packets"]["media"], 0);
    }
    assert!(
        report["summary"]["skipped"]["not_ip"].as_u64().unwrap() >= 1,
        "the ARP frame"
    );
    assert_eq!(report["summary"]["malformed"], 0);
}

// ---------------------------------------------------------------- link types

#[test]
fn every_supported_link_type_gives_the_same_flow() {
    let dir = fixture("linktypes");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("unsupported")
            || !(name.ends_with(".pcap") || name.ends_with(".pcapng"))
        {
            continue;
        }
        let run = audit_json(&[&path], &[]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let report = run.json();
        let flows = report["flows"].as_array().unwrap();
        assert_eq!(flows.len(), 1, "{name}: {flows:#?}");
        let flow = &flows[0];
        let protos = protocols(flow);
        assert!(
            protos.contains(&"stun") && protos.contains(&"dtls") && protos.contains(&"rtp"),
            "{name}: {protos:?}"
        );
        assert!(
            flow["packets"]["media"].as_u64().unwrap() >= 8,
            "{name}: {flow:#}"
        );
        assert!(
            flow["packets"]["key_exchange"].as_u64().unwrap() >= 1,
            "{name}"
        );
        assert_eq!(report["summary"]["malformed"], 0, "{name}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} link-type fixtures");
}

#[test]
fn an_unsupported_link_type_is_a_clear_error() {
    let path = fixture("linktypes/unsupported-linktype.pcap");
    let run = audit_json(&[&path], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unsupported-linktype.pcap"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unsupported link type 147"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_directory_is_searched_for_captures() {
    let run = audit_json(&[&fixture("linktypes")], &[]);
    // The unsupported capture in that directory makes the run exit 2, after the others.
    assert_eq!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    let captures = report["captures"].as_array().unwrap();
    assert!(captures.len() >= 10);
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), captures.len());
    for (i, flow) in flows.iter().enumerate() {
        assert_eq!(flow["capture"], i);
    }
}

// ---------------------------------------------------------------- bad input

#[test]
fn a_missing_file_exits_2_naming_it() {
    let run = audit_json(&[std::path::Path::new("no/such/capture.pcap")], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no/such/capture.pcap"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one clear message: {}",
        run.stderr
    );
}

#[test]
fn a_text_file_exits_2_naming_it() {
    let run = audit_json(&[&fixture("not-a-capture.txt")], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not-a-capture.txt"), "{}", run.stderr);
    assert!(
        run.stderr.contains("not a pcap or pcapng capture"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_truncated_capture_gives_its_flows_and_a_warning() {
    let run = audit_json(&[&fixture("truncated.pcap")], &[]);
    assert_eq!(
        run.code, 1,
        "the critical finding is before the damage: {}",
        run.stderr
    );
    assert!(run.stderr.contains("warning"), "{}", run.stderr);
    assert!(run.stderr.contains("truncated.pcap"), "{}", run.stderr);
    let report = run.json();
    let full = audit_json(&[&fixture("citizenlab-zoom-2020.pcap")], &[]).json();
    let read = report["captures"][0]["packets_read"].as_u64().unwrap();
    assert_eq!(
        read + 1,
        full["captures"][0]["packets_read"].as_u64().unwrap(),
        "all but the cut packet"
    );
    assert!(report["captures"][0]["warning"].is_string());
    assert_eq!(
        report["flows"].as_array().unwrap().len(),
        full["flows"].as_array().unwrap().len()
    );
}

#[test]
fn malformed_packets_are_counted_by_layer_and_reason() {
    let run = audit_json(&[&fixture("malformed.pcap")], &[]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let report = run.json();
    let malformed = report["summary"]["malformed"].as_u64().unwrap();
    assert!(malformed >= 6, "{:#}", report["summary"]);
    let reasons = report["summary"]["malformed_by_reason"].as_array().unwrap();
    let layers: Vec<&str> = reasons
        .iter()
        .map(|r| r["layer"].as_str().unwrap())
        .collect();
    for layer in ["ethernet", "ipv4", "udp"] {
        assert!(layers.contains(&layer), "{layers:?}");
    }
    let counted: u64 = reasons.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, malformed);
    assert!(
        !report["flows"].as_array().unwrap().is_empty(),
        "good packets still decoded"
    );
}

#[test]
fn a_bad_policy_exits_2_naming_the_file() {
    let dir = temp_dir("bad-policy");
    let policy = dir.join("bad.toml");
    std::fs::write(&policy, "restricted = [\"China\"]\n").unwrap();
    let run = audit_json(
        &[&fixture("webrtc-call.pcap")],
        &["--policy", policy.to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("China"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn a_broken_database_exits_2_naming_the_file() {
    let run = audit_json(
        &[&fixture("webrtc-call.pcap")],
        &["--geoip-db", fixture("not-a-capture.txt").to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not-a-capture.txt"), "{}", run.stderr);
    let run = audit_json(
        &[&fixture("webrtc-call.pcap")],
        &["--asn-db", "/no/such.mmdb"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/no/such.mmdb"), "{}", run.stderr);
}

#[test]
fn a_maxmind_city_database_replaces_the_embedded_one() {
    let city = root().join("data/geoip/test/city-test.mmdb");
    let run = audit_json(
        &[&fixture("webrtc-call.pcap")],
        &["--geoip-db", city.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let country_db = &report["databases"][0];
    assert_eq!(country_db["role"], "country");
    assert_eq!(country_db["source"], city.to_str().unwrap());
    assert_eq!(country_db["database_type"], "GeoLite2-City");
    assert_eq!(
        report["databases"][1]["source"], "embedded",
        "the ASN part stays embedded"
    );
    // The invented test records do not cover the fixture's servers: no country, but still an AS.
    for flow in report["flows"].as_array().unwrap() {
        assert!(flow["server"]["country"].is_null(), "{flow:#}");
        assert_eq!(flow["server"]["asn"], 15169);
    }
}

#[test]
fn a_bad_filter_exits_2() {
    let run = audit_json(
        &[&fixture("webrtc-call.pcap")],
        &["--filter", "udp port banana"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--filter"), "{}", run.stderr);
}

// ---------------------------------------------------------------- filter and output

#[test]
fn a_filter_keeps_packet_numbers_of_the_file() {
    let capture = fixture("citizenlab-zoom-2020.pcap");
    let full = audit_json(&[&capture], &[]).json();
    let tcp_only = audit_json(&[&capture], &["--filter", "tcp"]).json();
    for flow in tcp_only["flows"].as_array().unwrap() {
        assert_eq!(flow["transport"], "tcp");
    }
    assert_eq!(
        full["findings"][0]["packet"],
        tcp_only["findings"][0]["packet"]
    );
    assert_eq!(
        full["captures"][0]["packets_read"],
        tcp_only["captures"][0]["packets_read"]
    );
    assert!(tcp_only["captures"][0]["packets"].as_u64() < full["captures"][0]["packets"].as_u64());
}

#[test]
fn output_file_gets_the_report() {
    let dir = temp_dir("output");
    let out = dir.join("report.json");
    let run = callaudit([
        "audit".as_ref(),
        fixture("webrtc-call.pcap").as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["tool"]["name"], "callaudit");
    assert!(!report["databases"].as_array().unwrap().is_empty());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(callaudit(["audit"]).code, 2);
    assert_eq!(callaudit(["audit", "--format", "xml", "x.pcap"]).code, 2);
    assert_eq!(callaudit(["frobnicate"]).code, 2);
}

// ---------------------------------------------------------------- reference captures

#[test]
fn ndpi_zoom_capture_matches_the_reference() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus not present");
        return;
    };
    let capture = corpus.join("ndpi/zoom.pcap");
    let run = audit_json(&[&capture], &[]);
    assert_eq!(run.code, 0, "default policy: {}", run.stderr);
    let report = run.json();

    let media = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["transport"] == "udp"
                && f["client"]["ip"] == "192.168.1.117"
                && f["client"]["port"] == 58327
                && f["server"]["ip"] == "109.94.160.99"
                && f["server"]["port"] == 8801
        })
        .expect("the UDP flow 192.168.1.117:58327 <-> 109.94.160.99:8801");
    assert_eq!(media["app"], "zoom");
    assert_eq!(media["server"]["country"], "NL");
    assert_eq!(media["server"]["asn"], 60893);
    assert!(media["packets"]["media"].as_u64().unwrap() > 0);

    let tls = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["transport"] == "tcp"
                && f["server"]["ip"] == "109.94.160.99"
                && f["server"]["port"] == 443
        })
        .expect("the TCP flow to 109.94.160.99:443");
    assert_eq!(tls["hostname"], "zoomfrn99mmr.zoom.us");
    assert!(tls["packets"]["key_exchange"].as_u64().unwrap() > 0);
    assert_eq!(tls["app"], "zoom");

    let dir = temp_dir("nl-policy");
    let policy = dir.join("nl.toml");
    std::fs::write(&policy, "restricted = [\"NL\"]\n").unwrap();
    let run = audit_json(&[&capture], &["--policy", policy.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let report = run.json();
    let top = &report["findings"][0];
    assert_eq!(top["severity"], "critical");
    assert_eq!(top["rule"], "restricted-key-exchange");
    assert_eq!(top["country"], "NL");
    assert!(top["packet"].as_u64().unwrap() > 0);
}

#[test]
fn every_reference_capture_runs_without_a_crash() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus not present");
        return;
    };
    let mut files = Vec::new();
    for sub in ["ndpi", "zoom"] {
        for entry in std::fs::read_dir(corpus.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().into_owned();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20);
    for path in files {
        let run = audit_json(&[&path], &[]);
        assert!(
            run.code == 0 || run.code == 1,
            "{}: exit {}: {}",
            path.display(),
            run.code,
            run.stderr
        );
        let report = run.json();
        assert!(
            report["summary"]["packets"].as_u64().unwrap() > 0,
            "{}",
            path.display()
        );
    }
}
