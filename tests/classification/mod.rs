//! Classification on the project's fixtures and the reference captures: apps with evidence,
//! server roles, media kinds, handshake facts, SIP/SDP keys, QUIC names, label propagation.

use serde_json::Value;

use crate::util::*;

fn flows(report: &Value) -> &Vec<Value> {
    report["flows"].as_array().expect("flows[]")
}

fn corpus_report(relative: &str) -> Option<Value> {
    let capture = corpus()?.join(relative);
    let run = audit_json(&[&capture], &["--fail-on", "never"]);
    assert_eq!(run.code, 0, "{relative}: {}", run.stderr);
    Some(run.json())
}

#[test]
fn webrtc_fixture_is_meet_by_its_dtls_certificate() {
    let report = audit_json(&[&fixture("webrtc-call.pcap")], &[]).json();
    let call = flows(&report)
        .iter()
        .find(|f| protocols(f).contains(&"dtls"))
        .unwrap();
    assert_eq!(call["app"], "meet");
    assert_eq!(call["app_evidence"], "dtls cert CN=hangouts");
    assert_eq!(call["confidence"], "high");
    assert_eq!(call["certificate"], "CN=hangouts");
    assert_eq!(call["srtp_profile"], "SRTP_AES128_CM_HMAC_SHA1_80");
    assert_eq!(call["tls_version"], "DTLS 1.2");
    assert!(protocols(call).contains(&"srtp"), "RTP after DTLS-SRTP");
    assert_eq!(call["server"]["role"], "media");

    let turn = flows(&report)
        .iter()
        .find(|f| protocols(f).contains(&"turn"))
        .unwrap();
    assert_eq!(turn["server"]["role"], "relay");
    assert_eq!(turn["app_evidence"], "stun realm google.com");
}

#[test]
fn sdes_keys_in_sip_are_key_exchange_and_sdp_labels_the_media() {
    let report = audit_json(&[&fixture("sip-sdes-call.pcap")], &[]).json();
    let sip_udp = flows(&report)
        .iter()
        .position(|f| f["transport"] == "udp" && protocols(f).contains(&"sip"))
        .expect("the SIP flow over UDP");
    let sip = &flows(&report)[sip_udp];
    // The INVITE (packet 7) and the 200 OK (packet 10) carry a=crypto: SRTP keys in clear.
    assert_eq!(sip["packets"]["key_exchange"], 2, "{sip:#}");
    assert_eq!(sip["first"]["key_exchange"]["number"], 7);
    assert!(sip["packets"]["signaling"].as_u64().unwrap() >= 7);

    let rtp = flows(&report)
        .iter()
        .find(|f| f["client"]["port"] == 40000 && f["transport"] == "udp")
        .expect("the RTP flow the SDP announced");
    assert_eq!(rtp["announced_by"], sip_udp);
    assert_eq!(rtp["media_kinds"], serde_json::json!(["audio"]));
    assert_eq!(rtp["packets"]["media"], 100);

    let sip_tcp = flows(&report)
        .iter()
        .find(|f| f["transport"] == "tcp" && protocols(f).contains(&"sip"))
        .expect("the SIP flow over TCP");
    assert!(
        sip_tcp["packets"]["key_exchange"].as_u64().unwrap() >= 1,
        "{sip_tcp:#}"
    );
}

#[test]
fn princeton_zoom_server_and_p2p_flows_are_zoom_with_media_kinds() {
    let Some(report) = corpus_report("zoom/princeton_zoom_test.pcap") else {
        return;
    };
    let p2p = flows(&report)
        .iter()
        .find(|f| f["server"]["port"] != 8801)
        .expect("the P2P flow");
    assert_eq!(p2p["app"], "zoom");
    assert_eq!(p2p["server"]["role"], "peer");
    assert_eq!(p2p["media_kinds"], serde_json::json!(["audio", "video"]));
    assert_eq!(p2p["packets"]["media"], p2p["packets"]["total"]);

    let server_flows: Vec<&Value> = flows(&report)
        .iter()
        .filter(|f| f["server"]["port"] == 8801)
        .collect();
    assert_eq!(server_flows.len(), 3);
    let kinds: Vec<&Value> = server_flows
        .iter()
        .flat_map(|f| f["media_kinds"].as_array().unwrap())
        .collect();
    assert!(
        kinds.contains(&&Value::from("audio")) && kinds.contains(&&Value::from("video")),
        "{kinds:?}"
    );
    for flow in server_flows {
        assert_eq!(flow["app"], "zoom");
        assert_eq!(flow["app_evidence"], "zoom framing");
    }
}

#[test]
fn quic_client_hellos_are_decrypted_for_their_server_names() {
    for (capture, sni) in [
        ("ndpi/quic-29.pcap", "localhost"),
        ("ndpi/quic-v2.pcapng", "test"),
        ("ndpi/google_meet.pcapng", "meet.google.com"),
    ] {
        let Some(report) = corpus_report(capture) else {
            return;
        };
        let quic = flows(&report)
            .iter()
            .find(|f| protocols(f).contains(&"quic"))
            .unwrap_or_else(|| panic!("{capture}: no QUIC flow"));
        assert_eq!(quic["hostname"], sni, "{capture}");
        assert_eq!(quic["hostname_source"], "sni");
        assert!(
            quic["packets"]["key_exchange"].as_u64().unwrap() > 0,
            "{capture}"
        );
    }
}

#[test]
fn google_quic_hellos_name_their_servers() {
    let Some(report) = corpus_report("ndpi/quic.pcap") else {
        return;
    };
    let names: Vec<&str> = flows(&report)
        .iter()
        .filter_map(|f| f["hostname"].as_str())
        .collect();
    for expected in [
        "mail.google.com",
        "www.youtube.com",
        "fonts.gstatic.com",
        "i.ytimg.com",
        "yt3.ggpht.com",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
}

#[test]
fn signal_relay_realm_labels_the_peer_and_stun_flows() {
    let Some(report) = corpus_report("ndpi/stun_signal.pcapng") else {
        return;
    };
    let by_realm = flows(&report)
        .iter()
        .filter(|f| f["app_evidence"] == "stun realm signal.org")
        .count();
    assert!(by_realm >= 2, "TURN allocations with REALM signal.org");
    // The relay's peer (announced in XOR-PEER-ADDRESS) and Google's STUN server asked from the
    // same local socket are Signal's flows too.
    let peer = flows(&report)
        .iter()
        .find(|f| f["server"]["ip"] == "18.195.131.143" && f["server"]["port"] == 61156)
        .unwrap();
    assert_eq!(peer["app"], "signal");
    assert!(
        peer["app_evidence"]
            .as_str()
            .unwrap()
            .starts_with("stun address of flow"),
        "{peer:#}"
    );
    let stun = flows(&report)
        .iter()
        .find(|f| f["server"]["ip"] == "172.253.121.127" && f["client"]["port"] == 43068)
        .unwrap();
    assert_eq!(stun["app"], "signal");
    assert!(
        stun["app_evidence"]
            .as_str()
            .unwrap()
            .starts_with("socket of flow"),
        "{stun:#}"
    );
    assert_eq!(stun["confidence"], "medium");
}

#[test]
fn an_sni_naming_another_service_outranks_an_ip_list() {
    let Some(report) = corpus_report("ndpi/teams.pcap") else {
        return;
    };
    // Microsoft's telemetry endpoint sits in Teams' 52.112.0.0/14 but is not Teams.
    for flow in flows(&report)
        .iter()
        .filter(|f| f["hostname"] == "mobile.pipe.aria.microsoft.com")
    {
        assert!(flow["app"].is_null(), "{flow:#}");
    }
    let teams = flows(&report)
        .iter()
        .find(|f| f["hostname"] == "teams.microsoft.com")
        .unwrap();
    assert_eq!(teams["app"], "teams");
    assert_eq!(teams["server"]["role"], "control");
}

#[test]
fn apps_lists_the_catalog_with_dates() {
    let run = callaudit(["apps", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let apps = run.json();
    let ids: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for id in [
        "zoom",
        "teams",
        "skype",
        "meet",
        "webex",
        "gotomeeting",
        "chime",
        "slack",
        "jitsi",
        "discord",
        "whatsapp",
        "signal",
        "facetime",
        "telegram",
        "viber",
        "line",
        "wechat",
        "tencent-meeting",
        "dingtalk",
        "lark",
        "zoho-meeting",
        "ringcentral",
        "messenger",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for app in apps.as_array().unwrap() {
        for list in app["lists"].as_array().unwrap() {
            let date = list["date"].as_str().unwrap();
            assert_eq!(date.len(), 10, "{app:#}");
            assert!(!list["source"].as_str().unwrap().is_empty());
        }
    }
}

#[test]
fn a_user_catalog_adds_an_app() {
    let dir = temp_dir("apps");
    let extra = dir.join("apps.toml");
    std::fs::write(
        &extra,
        "[[app]]\nid = \"internal-bridge\"\nname = \"Our conference bridge\"\n\
         [app.domains]\nvalues = [\"example.org\"]\nsource = \"our IT department\"\ndate = \"2026-11-23\"\n",
    )
    .unwrap();
    let run = audit_json(
        &[&fixture("no-conferencing.pcap")],
        &["--apps", extra.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let https = flows(&report)
        .iter()
        .find(|f| f["hostname"] == "www.example.org" && f["transport"] == "tcp")
        .unwrap();
    assert_eq!(https["app"], "internal-bridge");
    assert_eq!(https["app_evidence"], "tls sni www.example.org");

    std::fs::write(&extra, "[[app]]\nid = \"Bad Id\"\n").unwrap();
    let run = audit_json(
        &[&fixture("no-conferencing.pcap")],
        &["--apps", extra.to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("apps.toml"), "{}", run.stderr);
}
