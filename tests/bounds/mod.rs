//! Bounded resources (docs/robustness.md): `--max-flows` caps the flows a capture keeps live;
//! evicted flows are still reported, counted in the summary and the table's summary line.

use serde_json::Value;

use crate::util::*;

const BEIJING: &str = "52.81.151.250";

/// (rule, flow, packet) of every finding.
fn findings(report: &Value) -> Vec<(String, u64, u64)> {
    report["findings"]
        .as_array()
        .expect("findings[]")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["flow"].as_u64().unwrap_or(u64::MAX),
                f["packet"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

#[test]
fn the_default_cap_evicts_nothing_and_says_so() {
    let report = audit_json(&[&fixture("citizenlab-zoom-2020.pcap")], &[]).json();
    assert_eq!(report["summary"]["evicted_flows"], 0);
    assert!(report["warnings"].as_array().unwrap().is_empty());
}

/// The Citizen Lab capture has 7 flows, never more than 4 of them talking at once: with room
/// for 2, flows are evicted, counted and warned about, and every flow and finding is still
/// there, the same as without the cap.
#[test]
fn max_flows_evicts_counts_and_still_reports_every_flow() {
    let capture = fixture("citizenlab-zoom-2020.pcap");
    let full = audit_json(&[&capture], &[]).json();
    let run = audit_json(&[&capture], &["--max-flows", "2"]);
    assert_eq!(
        run.code, 1,
        "the critical finding still fails the run: {}",
        run.stderr
    );
    let capped = run.json();

    let evicted = capped["summary"]["evicted_flows"].as_u64().unwrap();
    assert!(evicted >= 3, "{:#}", capped["summary"]);
    let warnings = capped["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.contains("citizenlab-zoom-2020.pcap"), "{warning}");
    assert!(
        warning.contains(&format!("{evicted} flow(s) evicted")),
        "{warning}"
    );
    assert!(warning.contains("--max-flows"), "{warning}");
    assert!(run.stderr.contains("--max-flows"), "{}", run.stderr);

    // Every flow is reported, in order, with its evidence.
    assert_eq!(capped["flows"], full["flows"]);
    assert_eq!(capped["summary"]["flows"], full["summary"]["flows"]);
    assert_eq!(findings(&capped), findings(&full));
    let top = &capped["findings"][0];
    assert_eq!(top["rule"], "restricted-key-exchange");
    assert_eq!(top["server"]["ip"], BEIJING);
    assert_eq!(top["app"], "zoom");
}

/// With room for one flow, interleaved flows are split: a later packet of an evicted flow
/// starts a new one. The finding that proves the key exchange in Beijing stays, citing the same
/// ClientHello.
#[test]
fn max_flows_of_one_splits_flows_but_keeps_the_evidence() {
    let capture = fixture("citizenlab-zoom-2020.pcap");
    let full = audit_json(&[&capture], &[]).json();
    let capped = audit_json(&[&capture], &["--max-flows", "1"]).json();
    let flows = capped["flows"].as_array().unwrap().len() as u64;
    let evicted = capped["summary"]["evicted_flows"].as_u64().unwrap();
    assert!(flows > 7, "{flows} flows");
    assert_eq!(evicted, flows - 1, "all but the last flow were evicted");
    let packets: u64 = capped["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["packets"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(
        packets,
        full["summary"]["decoded"].as_u64().unwrap(),
        "no packet lost"
    );

    let top = &capped["findings"][0];
    assert_eq!(top["rule"], "restricted-key-exchange");
    assert_eq!(top["severity"], "critical");
    assert_eq!(top["server"]["ip"], BEIJING);
    assert_eq!(top["packet"], full["findings"][0]["packet"]);
    let flow = &capped["flows"][top["flow"].as_u64().unwrap() as usize];
    assert_eq!(flow["server"]["ip"], BEIJING);
    assert_eq!(flow["hostname_source"], "sni");
}

#[test]
fn the_table_summary_line_counts_evicted_flows() {
    let run = callaudit([
        "audit".as_ref(),
        "--format".as_ref(),
        "table".as_ref(),
        "--max-flows".as_ref(),
        "2".as_ref(),
        fixture("citizenlab-zoom-2020.pcap").as_os_str(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|line| line.contains("packets in"))
        .expect("a summary line");
    assert!(line.contains("7 flows ("), "{line}");
    assert!(line.contains("evicted at --max-flows)"), "{line}");
    let plain = callaudit([
        "audit".as_ref(),
        "--format".as_ref(),
        "table".as_ref(),
        fixture("citizenlab-zoom-2020.pcap").as_os_str(),
    ]);
    assert!(!plain.stdout.contains("evicted"), "{}", plain.stdout);
}

/// Settled in parallel or not, a capped run gives the same report: eviction depends only on
/// the packets, and evicted flows take their report place like the others.
#[test]
fn a_capped_run_is_the_same_with_any_number_of_jobs() {
    let inputs = [
        fixture("citizenlab-zoom-2020.pcap"),
        fixture("webrtc-call.pcap"),
        fixture("sip-sdes-call.pcap"),
    ];
    let paths: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
    let serial = audit_json(&paths, &["--max-flows", "1", "--jobs", "1"]).json();
    let parallel = audit_json(&paths, &["--max-flows", "1", "--jobs", "3"]).json();
    assert_eq!(serial["flows"], parallel["flows"]);
    assert_eq!(serial["findings"], parallel["findings"]);
    assert_eq!(serial["summary"], parallel["summary"]);
    assert!(serial["summary"]["evicted_flows"].as_u64().unwrap() > 0);
    // Every finding still points at a flow of its own capture, on its server.
    for finding in parallel["findings"].as_array().unwrap() {
        let flow = &parallel["flows"][finding["flow"].as_u64().unwrap() as usize];
        assert_eq!(flow["capture"], finding["capture"]);
        assert_eq!(flow["server"]["ip"], finding["server"]["ip"]);
    }
}

#[test]
fn max_flows_must_be_at_least_one() {
    let run = audit_json(
        &[&fixture("citizenlab-zoom-2020.pcap")],
        &["--max-flows", "0"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--max-flows"), "{}", run.stderr);
}
