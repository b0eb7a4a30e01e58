//! Jurisdiction you can defend: operator vs location, the physics check, the policy language,
//! allow-lists, `lookup`, `explain` and `policy init/check`.

use serde_json::Value;

use crate::util::*;

fn write_policy(name: &str, text: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn rules(report: &Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lookup_shows_location_operator_and_the_verdicts() {
    let run = callaudit([
        "lookup",
        "--format",
        "json",
        "52.81.151.250",
        "10.1.2.3",
        "2001:4860:4860::8888",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let addresses = report["addresses"].as_array().unwrap();

    let beijing = &addresses[0];
    assert_eq!(beijing["country"], "CN");
    assert_eq!(beijing["operator_country"], "CN");
    assert_eq!(beijing["asn"], 55960);
    assert!(beijing["as_org"].as_str().unwrap().contains("Beijing"));
    let key_exchange = &beijing["verdicts"][0];
    assert_eq!(key_exchange["class"], "key_exchange");
    assert_eq!(key_exchange["verdict"], "restricted");
    assert_eq!(key_exchange["rules"][0]["rule"], "restricted-key-exchange");

    let private = &addresses[1];
    assert_eq!(private["special"], "private");
    assert!(private["country"].is_null() && private["asn"].is_null());
    assert_eq!(private["verdicts"][0]["verdict"], "ok");

    let google_v6 = &addresses[2];
    assert_eq!(google_v6["asn"], 15169);
    assert!(google_v6["country"].is_string());
    assert!(!report["databases"].as_array().unwrap().is_empty());
}

#[test]
fn lookup_table_reads_like_a_report() {
    let run = callaudit(["lookup", "--format", "table", "52.81.151.250"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("located in:       CN"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("AS55960"), "{}", run.stdout);
    assert!(
        run.stdout.contains("key exchange:     restricted"),
        "{}",
        run.stdout
    );
    assert_eq!(callaudit(["lookup", "not-an-address"]).code, 2);
}

#[test]
fn a_server_operated_from_a_restricted_country_is_flagged_with_both_countries() {
    let run = audit_json(&[&fixture("operator-restricted.pcap")], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "restricted-operator-key-exchange")
        .expect("the operator rule's finding");
    assert_eq!(finding["severity"], "critical");
    let location = finding["location"].as_str().unwrap();
    let operator = finding["operator_country"].as_str().unwrap();
    assert_ne!(location, operator);
    assert_eq!(finding["country"], operator);
    let flow = &report["flows"][finding["flow"].as_u64().unwrap() as usize];
    assert_eq!(flow["server"]["country"], location);
    assert_eq!(flow["server"]["operator_country"], operator);
    assert!(!rules(&report, "findings").contains(&"restricted-key-exchange".to_string()));
}

#[test]
fn a_two_millisecond_handshake_to_another_continent_is_implausible() {
    let policy = write_policy("vantage", "restricted = [\"KP\"]\nvantage = \"DE\"\n");
    let fast = audit_json(
        &[&fixture("rtt-implausible.pcap")],
        &["--policy", policy.to_str().unwrap()],
    )
    .json();
    let slow = audit_json(
        &[&fixture("rtt-plausible.pcap")],
        &["--policy", policy.to_str().unwrap()],
    )
    .json();
    let measured: Vec<&Value> = fast["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["server"]["rtt_ms"].is_number())
        .collect();
    assert!(!measured.is_empty(), "round trips measured");
    for flow in measured {
        let rtt = flow["server"]["rtt_ms"].as_f64().unwrap();
        assert!((1.5..=2.5).contains(&rtt), "{rtt}");
        assert_eq!(flow["server"]["location_plausible"], false, "{flow:#}");
    }
    assert!(rules(&fast, "findings").contains(&"implausible-location".to_string()));
    for flow in slow["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["server"]["rtt_ms"].is_number())
    {
        assert!(flow["server"]["rtt_ms"].as_f64().unwrap() >= 149.0);
        assert_eq!(flow["server"]["location_plausible"], true, "{flow:#}");
    }
    assert!(!rules(&slow, "findings").contains(&"implausible-location".to_string()));
    // Without a vantage point there is no verdict.
    let none = audit_json(&[&fixture("rtt-implausible.pcap")], &[]).json();
    assert!(none["flows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["server"]["location_plausible"].is_null()));
}

#[test]
fn home_region_flags_zoom_media_and_an_allow_entry_clears_it() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus not present");
        return;
    };
    let capture = corpus.join("ndpi/zoom.pcap");
    let home = write_policy("home", "home = [\"US\"]\n");
    let run = audit_json(&[&capture], &["--policy", home.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let media: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "cross-border-media" && f["server"]["ip"] == "109.94.160.99")
        .collect();
    assert!(!media.is_empty(), "{:#}", report["findings"]);
    assert_eq!(media[0]["country"], "NL");

    let allowed = write_policy(
        "home-allowed",
        "home = [\"US\"]\n\n[[allow]]\ncidr = \"109.94.160.0/24\"\nreason = \"Zoom's Amsterdam MMR, covered by our DPA\"\n",
    );
    let report = audit_json(&[&capture], &["--policy", allowed.to_str().unwrap()]).json();
    assert!(!report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["server"]["ip"] == "109.94.160.99"));
    let listed: Vec<&Value> = report["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "cross-border-media")
        .collect();
    assert!(!listed.is_empty());
    assert_eq!(
        listed[0]["allowed"],
        "Zoom's Amsterdam MMR, covered by our DPA"
    );
    assert_eq!(
        report["summary"]["allowed"].as_u64().unwrap() as usize,
        report["allowed"].as_array().unwrap().len()
    );
}

#[test]
fn keys_in_clear_and_weak_key_exchange_fixtures() {
    let sip = audit_json(&[&fixture("sip-sdes-call.pcap")], &[]).json();
    let keys = sip["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "keys-in-clear")
        .expect("keys-in-clear");
    assert_eq!(keys["severity"], "critical");
    assert_eq!(keys["packet"], 7, "the INVITE carrying a=crypto");

    let weak = audit_json(&[&fixture("weak-tls.pcap")], &[]).json();
    let weak_flows: Vec<u64> = weak["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "weak-key-exchange")
        .map(|f| f["flow"].as_u64().unwrap())
        .collect();
    assert!(
        weak_flows.len() >= 2,
        "TLS 1.0 and DTLS 1.0 with a NULL SRTP profile: {:#}",
        weak["findings"]
    );
}

#[test]
fn policy_errors_name_file_line_and_column() {
    let bad = write_policy("bad-line", "# my policy\nrestricted = [\"CN\", \"UK\"]\n");
    let run = audit_json(
        &[&fixture("webrtc-call.pcap")],
        &["--policy", bad.to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    let expected = format!("{}:2:21: \"UK\" is not an ISO 3166-1 code", bad.display());
    assert!(run.stderr.contains(&expected), "{}", run.stderr);

    let check = callaudit(["policy".as_ref(), "check".as_ref(), bad.as_os_str()]);
    assert_eq!(check.code, 2);
    assert!(check.stderr.contains(":2:21:"), "{}", check.stderr);
}

#[test]
fn policy_init_writes_a_starter_that_checks() {
    let dir = temp_dir("init");
    let path = dir.join("starter.toml");
    let init = callaudit(["policy".as_ref(), "init".as_ref(), path.as_os_str()]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let check = callaudit(["policy".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stdout.contains("valid"));
    let again = callaudit(["policy".as_ref(), "init".as_ref(), path.as_os_str()]);
    assert_eq!(again.code, 2, "never overwrites");
}

#[test]
fn explain_prints_every_rule_and_docs_list_them_all() {
    let run = callaudit(["explain"]);
    assert_eq!(run.code, 0);
    let docs = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    let mut count = 0;
    for block in run.stdout.split("\n---\n") {
        let Some(first) = block.trim().lines().next() else {
            continue;
        };
        let id = first.split_whitespace().next().unwrap();
        count += 1;
        assert!(
            block.contains("What it detects:") && block.contains("References:"),
            "{id}"
        );
        assert!(
            docs.contains(&format!("## `{id}`")),
            "docs/rules.md lacks {id}"
        );
        for paragraph in block.trim().split("\n\n").skip(1) {
            let text = paragraph
                .split_once(": ")
                .map_or(paragraph, |(_, text)| text);
            assert!(
                docs.contains(text.trim()),
                "docs/rules.md differs from `callaudit explain {id}`: {text}"
            );
        }
        let one = callaudit(["explain", id]);
        assert_eq!(one.code, 0);
        assert!(one.stdout.starts_with(id));
    }
    assert!(count >= 12, "{count} rules");
    assert_eq!(callaudit(["explain", "no-such-rule"]).code, 2);
}

#[test]
fn several_location_databases_are_compared_and_anycast_is_marked() {
    let city = root().join("data/geoip/test/city-test.mmdb");
    let country = root().join("data/geoip/test/country-test.mmdb");
    let run = callaudit([
        "lookup".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--geoip-db".as_ref(),
        city.as_os_str(),
        "--geoip-db".as_ref(),
        country.as_os_str(),
        "81.2.69.160".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let address = &report["addresses"][0];
    assert_eq!(address["country"], "GB", "the first database decides");
    let answers: Vec<(&str, &str)> = address["disagreement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["source"].as_str().unwrap(),
                a["country"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [("city-test.mmdb", "GB"), ("country-test.mmdb", "FR")]
    );
    assert!(
        address["coordinates"].is_array(),
        "a City database gives coordinates"
    );
    let roles: Vec<&str> = report["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["country", "country", "asn", "operator"]);

    let anycast = callaudit(["lookup", "--format", "json", "1.1.1.1"]).json();
    assert_eq!(anycast["addresses"][0]["anycast"], "Cloudflare");
}
