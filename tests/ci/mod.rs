//! The CI gate: baselines, several outputs at once, captures read in parallel.

use serde_json::Value;

use crate::util::*;

fn strip_volatile(mut report: Value) -> Value {
    report["tool"] = Value::Null;
    report
}

#[test]
fn a_baseline_accepts_known_findings_and_only_new_ones_fail() {
    let dir = temp_dir("baseline");
    let baseline = dir.join("baseline.json");
    let citizenlab = fixture("citizenlab-zoom-2020.pcap");
    let write = callaudit([
        "baseline".as_ref(),
        "write".as_ref(),
        baseline.as_os_str(),
        citizenlab.as_os_str(),
    ]);
    assert_eq!(write.code, 0, "{}", write.stderr);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    let prints: Vec<&str> = written["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["fingerprint"].as_str().unwrap())
        .collect();
    assert!(
        prints.contains(&"restricted-key-exchange|zoom|52.81.151.250|key_exchange"),
        "{prints:?}"
    );

    // The same run passes: its findings are known.
    let same = audit_json(&[&citizenlab], &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    let report = same.json();
    assert!(report["findings"].as_array().unwrap().is_empty());
    assert_eq!(report["baselined"].as_array().unwrap().len(), prints.len());
    assert_eq!(
        report["summary"]["baselined"].as_u64().unwrap() as usize,
        prints.len()
    );

    // A new restricted server fails it, with exactly that finding new.
    let more = audit_json(
        &[&citizenlab, &fixture("operator-restricted.pcap")],
        &["--baseline", baseline.to_str().unwrap()],
    );
    assert_eq!(more.code, 1, "{}", more.stderr);
    let report = more.json();
    let new: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "critical" || f["severity"] == "high")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(new, ["restricted-operator-key-exchange"]);

    std::fs::write(&baseline, "{\"not\": \"a baseline\"}").unwrap();
    let bad = audit_json(&[&citizenlab], &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("baseline.json"), "{}", bad.stderr);
}

#[test]
fn several_outputs_at_once() {
    let dir = temp_dir("outputs");
    let json = dir.join("report.json");
    let table = dir.join("report.txt");
    let sarif = dir.join("results.out");
    let run = callaudit([
        "audit".as_ref(),
        fixture("citizenlab-zoom-2020.pcap").as_os_str(),
        "--output".as_ref(),
        json.as_os_str(),
        "-o".as_ref(),
        table.as_os_str(),
        "-o".as_ref(),
        format!("sarif={}", sarif.display()).as_ref(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["findings"][0]["rule"], "restricted-key-exchange");
    assert!(std::fs::read_to_string(&table)
        .unwrap()
        .contains("CRITICAL"));
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
}

#[test]
fn parallel_reading_gives_the_same_report() {
    let inputs = [
        fixture("citizenlab-zoom-2020.pcap"),
        fixture("webrtc-call.pcap"),
        fixture("sip-sdes-call.pcap"),
        fixture("operator-restricted.pcap"),
        fixture("no-conferencing.pcap"),
    ];
    let paths: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
    let serial = strip_volatile(audit_json(&paths, &["--jobs", "1"]).json());
    let parallel = strip_volatile(audit_json(&paths, &["--jobs", "4"]).json());
    assert_eq!(serial, parallel);
    let captures: Vec<&str> = parallel["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(captures.len(), inputs.len());
    for (capture, input) in captures.iter().zip(&inputs) {
        assert_eq!(*capture, input.to_str().unwrap(), "input order kept");
    }
    // Every flow's announcer is a flow of its own capture.
    let flows = parallel["flows"].as_array().unwrap();
    assert!(flows.iter().any(|flow| flow["announced_by"].is_u64()));
    for flow in flows {
        if let Some(announcer) = flow["announced_by"].as_u64() {
            assert_eq!(flows[announcer as usize]["capture"], flow["capture"]);
        }
    }
    // Every finding points at a flow of its own capture.
    for finding in parallel["findings"].as_array().unwrap() {
        let flow = &parallel["flows"][finding["flow"].as_u64().unwrap() as usize];
        assert_eq!(flow["capture"], finding["capture"]);
        assert_eq!(flow["server"]["ip"], finding["server"]["ip"]);
    }
}

#[test]
fn timings_name_each_stage_and_leave_the_report_alone() {
    let zoom = fixture("citizenlab-zoom-2020.pcap");
    let plain = audit_json(&[&zoom], &[]);
    let timed = audit_json(&[&zoom], &["--timings"]);
    assert_eq!(timed.code, plain.code, "{}", timed.stderr);
    assert_eq!(strip_volatile(timed.json()), strip_volatile(plain.json()));
    assert!(!plain.stderr.contains("timings"), "{}", plain.stderr);
    let report = timed.json();
    let packets = report["summary"]["packets"].as_u64().unwrap();
    let flows = report["flows"].as_array().unwrap().len();
    let stderr = &timed.stderr;
    assert!(stage_line(stderr, "reading packets").contains(&format!("({packets} packets, ")));
    assert!(stage_line(stderr, "settling flows").contains(&format!("({flows} flows, ")));
    assert!(stage_line(stderr, "writing json").contains("(standard output, "));
    let total = stage_line(stderr, "in all").split_whitespace().nth(2);
    assert!(
        total
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|s| s > 0.0),
        "{stderr}"
    );
    // With several captures read at once, the stage times are sums, and say so.
    let webrtc = fixture("webrtc-call.pcap");
    let parallel = audit_json(&[&zoom, &webrtc], &["--timings", "--jobs", "2"]);
    assert!(stage_line(&parallel.stderr, "reading packets").contains("summed over captures"));
}

/// The `--timings` line of a stage.
fn stage_line<'a>(stderr: &'a str, name: &str) -> &'a str {
    stderr
        .lines()
        .find(|line| line.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no {name:?} line in {stderr}"))
}
