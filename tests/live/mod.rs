//! End-to-end tests of `callaudit live` and `callaudit interfaces` on the loopback interface.
//!
//! `live_flags_loopback_key_exchange_and_turn_as_it_happens` (root only, Linux):
//!   1. writes a policy with `restricted = ["CN"]` and a `[[networks]]` entry placing
//!      127.0.0.0/8 ("loopback lab") in CN, and a throwaway self-signed certificate (openssl);
//!   2. starts, all on 127.0.0.1 only: `openssl s_server -dtls` on udp/47443, `openssl s_server`
//!      (TLS) on tcp/47444, coturn's `turnserver` on udp/3478 (no TCP/TLS/DTLS listeners, static
//!      long-term user, relay ports 47450–47469, no CLI, log in the temp dir) and
//!      `turnutils_peer` on udp/47480 (the echoing peer the relayed data goes to);
//!   3. starts `callaudit live -i lo --duration 15 --format jsonl --save live.pcap --policy …
//!      --filter "udp port 47443 or tcp port 47444 or udp port 3478"` and waits for `started`;
//!   4. makes the traffic: a DTLS 1.2 handshake plus one line (`openssl s_client -dtls1_2`), a
//!      TLS handshake with SNI meet.example.org plus one line (`openssl s_client`), and a TURN
//!      session (`turnutils_uclient`: Allocate with 401 challenge, CreatePermission,
//!      ChannelBind, 5 ChannelData messages of 170 bytes echoed back by the peer);
//!   5. checks: every stdout line is a JSON object with an `event`; `restricted-key-exchange`
//!      findings for both OpenSSL servers, each read within 1 s of its proving packet's capture
//!      time; `flow_started` for the TURN flow, whose protocols include stun and turn and whose
//!      ChannelData is counted; `stats` events; exit 1 on its own after --duration; the final
//!      `report` event holds the findings streamed; `callaudit audit live.pcap --policy …` gives
//!      the same (rule, server, packet) findings.
//!
//! Time bounds: certificate ≤ 10 s, servers listening ≤ 10 s, `started` ≤ 10 s, each OpenSSL
//! client ≤ 5 s, uclient ≤ 10 s, callaudit's exit ≤ 15 s + 8 s after `started`: ≤ 45 s in the
//! worst case, ~18 s typically. Every child is killed when the test ends, passing or not
//! (`Guard`).
//!
//! `interfaces_lists_loopback`: `callaudit interfaces --format json` lists `lo` as loopback.
//! `live_without_capture_privileges_names_the_fix` (root only): `callaudit live -i lo
//! --duration 1` as uid/gid 65534 (`setpriv`) exits 2 naming `setcap … cap_net_raw …` and sudo
//! (≤ 10 s).
//!
//! Not root (or no CAP_NET_RAW), or not Linux: the privileged tests say so on stderr and pass. A
//! missing tool (openssl, coturn's turnserver/turnutils_*, setpriv) skips them too, except in CI
//! (`CI=true`), where .ci/run installs them and a missing one fails.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::util::*;

const LOOPBACK: &str = "127.0.0.1";
/// udp: `openssl s_server -dtls`.
const DTLS_PORT: u16 = 47443;
/// tcp: `openssl s_server` (TLS).
const TLS_PORT: u16 = 47444;
/// udp: coturn's listener.
const TURN_PORT: u16 = 3478;
/// udp: coturn's relay endpoints (not captured).
const TURN_RELAY_PORTS: (u16, u16) = (47450, 47469);
/// udp: `turnutils_peer`, the echoing peer behind the relay (not captured).
const PEER_PORT: u16 = 47480;
const DURATION_SECS: u64 = 15;
const SNI: &str = "meet.example.org";
/// ChannelData messages of the TURN session: 5 sent by uclient, 5 echoed by the peer.
const CHANNEL_DATA_MESSAGES: u64 = 10;

// ---------------------------------------------------------------- the tests

#[test]
fn live_flags_loopback_key_exchange_and_turn_as_it_happens() {
    let Some(tools) = privileged_prerequisites(
        "live end-to-end",
        &[
            "openssl",
            "turnserver",
            "turnutils_uclient",
            "turnutils_peer",
        ],
    ) else {
        return;
    };
    let (openssl, turnserver, uclient, peer) = (&tools[0], &tools[1], &tools[2], &tools[3]);
    let dir = temp_dir("live");
    for (port, tcp) in [
        (DTLS_PORT, false),
        (TLS_PORT, true),
        (TURN_PORT, false),
        (PEER_PORT, false),
    ] {
        assert!(
            !port_in_use(port, tcp),
            "{} port {port} is already in use on this machine: the test needs it",
            if tcp { "tcp" } else { "udp" }
        );
    }

    let policy = dir.join("policy.toml");
    fs::write(
        &policy,
        "restricted = [\"CN\"]\n\n\
         [[networks]]\n\
         cidr = \"127.0.0.0/8\"\n\
         label = \"loopback lab\"\n\
         country = \"CN\"\n",
    )
    .unwrap();

    let subject = format!("/CN={SNI}");
    let status = run_client(
        &dir,
        "openssl-req",
        Command::new(openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-keyout", "key.pem", "-out", "cert.pem", "-subj", &subject]),
        None,
        Duration::from_secs(10),
    );
    assert!(status.success(), "openssl req: {status}\n{}", logs(&dir));

    // The servers, before the capture starts: they send nothing until a client comes.
    let dtls_accept = format!("{LOOPBACK}:{DTLS_PORT}");
    let tls_accept = format!("{LOOPBACK}:{TLS_PORT}");
    let _dtls_server = spawn_server(
        &dir,
        "dtls-server",
        Command::new(openssl)
            .args(["s_server", "-dtls", "-accept", &dtls_accept])
            .args(["-cert", "cert.pem", "-key", "key.pem"]),
    );
    let _tls_server = spawn_server(
        &dir,
        "tls-server",
        Command::new(openssl)
            .args(["s_server", "-accept", &tls_accept])
            .args(["-cert", "cert.pem", "-key", "key.pem"]),
    );
    let _turn_server = spawn_server(
        &dir,
        "turnserver",
        Command::new(turnserver)
            .args([
                "-n",
                "--no-cli",
                "--no-tcp",
                "--no-tls",
                "--no-dtls",
                "--no-tcp-relay",
            ])
            .arg(format!("--listening-ip={LOOPBACK}"))
            .arg(format!("--relay-ip={LOOPBACK}"))
            .arg(format!("--listening-port={TURN_PORT}"))
            .arg(format!("--min-port={}", TURN_RELAY_PORTS.0))
            .arg(format!("--max-port={}", TURN_RELAY_PORTS.1))
            .args([
                "--allow-loopback-peers",
                "--lt-cred-mech",
                "--user=user:pass",
            ])
            .arg("--realm=callaudit.test")
            .arg(format!("--userdb={}", dir.join("turndb").display()))
            .arg(format!(
                "--pidfile={}",
                dir.join("turnserver.pid").display()
            ))
            .arg(format!(
                "--log-file={}",
                dir.join("turnserver-own.log").display()
            ))
            .args(["--simple-log", "--no-stdout-log"]),
    );
    let _peer = spawn_server(
        &dir,
        "turnutils-peer",
        Command::new(peer).args(["-L", LOOPBACK, "-p", &PEER_PORT.to_string()]),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    for (name, port, tcp) in [
        ("openssl s_server -dtls", DTLS_PORT, false),
        ("openssl s_server", TLS_PORT, true),
        ("turnserver", TURN_PORT, false),
        ("turnutils_peer", PEER_PORT, false),
    ] {
        while !port_in_use(port, tcp) {
            assert!(
                Instant::now() < deadline,
                "{name} is not listening on port {port} after 10 s\n{}",
                logs(&dir)
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    // callaudit live, its stdout read line by line on a thread, each line stamped when read.
    let saved = dir.join("live.pcap");
    let filter = format!("udp port {DTLS_PORT} or tcp port {TLS_PORT} or udp port {TURN_PORT}");
    let live_stderr = dir.join("callaudit-live.stderr");
    let mut live = Guard::spawn(
        "callaudit live",
        Command::new(env!("CARGO_BIN_EXE_callaudit"))
            .args(["live", "-i", "lo", "--duration", &DURATION_SECS.to_string()])
            .arg("--policy")
            .arg(&policy)
            .arg("--save")
            .arg(&saved)
            .args(["--format", "jsonl", "--filter", &filter])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&live_stderr).unwrap()),
    );
    let stdout = live.child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel::<Line>();
    let reader = thread::spawn(move || {
        for text in BufReader::new(stdout).lines() {
            let Ok(text) = text else { break };
            let line = Line {
                read_at: SystemTime::now(),
                text,
            };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let context = |lines: &[Line]| {
        format!(
            "callaudit stdout:\n{}\ncallaudit stderr:\n{}\n{}",
            lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            fs::read_to_string(&live_stderr).unwrap_or_default(),
            logs(&dir)
        )
    };

    let mut lines: Vec<Line> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let started_at = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) => {
                let is_started = serde_json::from_str::<Value>(&line.text)
                    .is_ok_and(|event| event["event"] == "started");
                lines.push(line);
                if is_started {
                    break Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no \"started\" event within 10 s\n{}", context(&lines))
            }
            Err(RecvTimeoutError::Disconnected) => panic!(
                "callaudit live ended before \"started\" ({:?})\n{}",
                live.wait_timeout(Duration::from_secs(2)),
                context(&lines)
            ),
        }
    };

    // The traffic.
    let status = run_client(
        &dir,
        "dtls-client",
        Command::new(openssl)
            .args(["s_client", "-dtls1_2", "-connect", &dtls_accept])
            .args(["-servername", SNI]),
        Some("hello over DTLS\n"),
        Duration::from_secs(5),
    );
    assert!(
        status.success(),
        "openssl s_client -dtls1_2: {status}\n{}",
        logs(&dir)
    );
    let status = run_client(
        &dir,
        "tls-client",
        Command::new(openssl)
            .args(["s_client", "-connect", &tls_accept])
            .args(["-servername", SNI]),
        Some("hello over TLS\n"),
        Duration::from_secs(5),
    );
    assert!(
        status.success(),
        "openssl s_client: {status}\n{}",
        logs(&dir)
    );
    let status = run_client(
        &dir,
        "turnutils-uclient",
        Command::new(uclient)
            .args(["-n", "5", "-m", "1", "-l", "170", "-c", "-g"])
            .args(["-e", LOOPBACK, "-r", &PEER_PORT.to_string()])
            .args([
                "-u",
                "user",
                "-w",
                "pass",
                "-p",
                &TURN_PORT.to_string(),
                LOOPBACK,
            ]),
        None,
        Duration::from_secs(10),
    );
    assert!(
        status.success(),
        "turnutils_uclient: {status}\n{}",
        logs(&dir)
    );

    // callaudit stops by itself after --duration.
    let limit = (started_at + Duration::from_secs(DURATION_SECS + 8))
        .saturating_duration_since(Instant::now());
    let Some(status) = live.wait_timeout(limit) else {
        lines.extend(receiver.try_iter());
        panic!(
            "callaudit live --duration {DURATION_SECS} still running {} s after \"started\"\n{}",
            DURATION_SECS + 8,
            context(&lines)
        );
    };
    let ran_for = started_at.elapsed();
    loop {
        match receiver.recv_timeout(Duration::from_secs(5)) {
            Ok(line) => lines.push(line),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!(
                "callaudit's stdout still open 5 s after it exited\n{}",
                context(&lines)
            ),
        }
    }
    reader.join().unwrap();
    let context = context(&lines);
    assert_eq!(status.code(), Some(1), "exit status {status}\n{context}");
    assert!(
        ran_for >= Duration::from_secs(DURATION_SECS - 1),
        "exited {ran_for:?} after \"started\", before --duration {DURATION_SECS}\n{context}"
    );

    // Every line is one JSON object with an "event".
    let events: Vec<(&Line, Value)> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let event: Value = serde_json::from_str(&line.text).unwrap_or_else(|e| {
                panic!(
                    "stdout line {} is not JSON ({e}): {}\n{context}",
                    i + 1,
                    line.text
                )
            });
            assert!(
                event.is_object() && event["event"].is_string(),
                "stdout line {} is not an object with an \"event\": {}",
                i + 1,
                line.text
            );
            (line, event)
        })
        .collect();
    let of_kind = |kind: &str| -> Vec<(&Line, &Value)> {
        events
            .iter()
            .filter(|(_, e)| e["event"] == kind)
            .map(|(line, e)| (*line, e))
            .collect()
    };
    let started = &events[0].1;
    assert_eq!(started["event"], "started", "the first event\n{context}");
    assert_eq!(started["interface"], "lo", "{started:#}");
    assert!(!started["link_type"].is_null(), "{started:#}");
    assert!(started["time"].is_string(), "{started:#}");
    let stats = of_kind("stats");
    assert!(
        !stats.is_empty(),
        "no \"stats\" event in {DURATION_SECS} s\n{context}"
    );
    for (_, s) in &stats {
        for field in ["packets", "flows", "findings", "dropped"] {
            assert!(s[field].is_u64(), "stats.{field}: {s:#}");
        }
    }
    let reports = of_kind("report");
    assert_eq!(reports.len(), 1, "one \"report\" event\n{context}");
    let last = &events.last().unwrap().1;
    assert_eq!(last["event"], "report", "the last event\n{context}");
    let report = &last["report"];
    assert_eq!(report["schema_version"], 1, "{report:#}");

    // The key exchanges with the "Chinese" OpenSSL servers, flagged as they happened.
    let findings = of_kind("finding");
    for (what, port) in [("DTLS", DTLS_PORT), ("TLS", TLS_PORT)] {
        let (line, finding) = findings
            .iter()
            .find(|(_, f)| {
                f["rule"] == "restricted-key-exchange"
                    && f["server"]["ip"] == LOOPBACK
                    && f["server"]["port"] == port
            })
            .unwrap_or_else(|| {
                panic!("no restricted-key-exchange finding for the {what} server {LOOPBACK}:{port}\n{context}")
            });
        assert_eq!(finding["severity"], "critical", "{finding:#}");
        assert_eq!(finding["class"], "key_exchange", "{finding:#}");
        assert_eq!(finding["country"], "CN", "{finding:#}");
        let proved = unix_seconds(finding["time"].as_str().expect("finding.time"));
        let read = line
            .read_at
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let lag = read - proved;
        assert!(
            (-0.25..=1.0).contains(&lag),
            "the {what} finding was read {lag:.3} s after its proving packet's time: {}",
            line.text
        );
        // It cites the flow's ClientHello: for DTLS the flow's first packet, for TLS after the
        // TCP handshake.
        let flow = &report["flows"][finding["flow"].as_u64().expect("finding.flow") as usize];
        assert_eq!(
            flow["server"]["port"], port,
            "finding {finding:#}\nflow {flow:#}"
        );
        assert_eq!(
            flow["first"]["key_exchange"]["number"], finding["packet"],
            "{flow:#}"
        );
        let first = flow["first_packet"].as_u64().unwrap();
        let packet = finding["packet"].as_u64().unwrap();
        if port == DTLS_PORT {
            assert_eq!(packet, first, "{flow:#}");
        } else {
            assert!(packet > first, "{flow:#}");
        }
    }

    // The TURN session: streamed flow events, and its protocols and relayed payload counted.
    let turn_started: Vec<&Value> = of_kind("flow_started")
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e["server"]["ip"] == LOOPBACK && e["server"]["port"] == TURN_PORT)
        .collect();
    assert!(
        !turn_started.is_empty(),
        "no flow_started for the TURN server\n{context}"
    );
    for event in &turn_started {
        assert_eq!(event["transport"], "udp", "{event:#}");
        assert_eq!(event["client"]["ip"], LOOPBACK, "{event:#}");
        assert!(event["client"]["port"].is_u64(), "{event:#}");
        assert!(
            event["flow"].is_u64() && event["packet"].is_u64(),
            "{event:#}"
        );
        assert!(event["time"].is_string(), "{event:#}");
    }
    for (_, ended) in of_kind("flow_ended") {
        if ended["server"]["port"] == TURN_PORT {
            let protocols = protocols(ended);
            assert!(
                protocols.contains(&"stun") && protocols.contains(&"turn"),
                "{ended:#}"
            );
        }
    }
    let turn_flows = flows_to(report, LOOPBACK, u64::from(TURN_PORT));
    assert!(
        !turn_flows.is_empty(),
        "no TURN flow in the report\n{context}"
    );
    let all_protocols: BTreeSet<&str> = turn_flows.iter().flat_map(|f| protocols(f)).collect();
    assert!(
        all_protocols.contains("stun") && all_protocols.contains("turn"),
        "{turn_flows:#?}"
    );
    let count = |class: &str| -> u64 {
        turn_flows
            .iter()
            .map(|f| f["packets"][class].as_u64().unwrap())
            .sum()
    };
    assert!(
        count("signaling") > 0,
        "STUN/TURN messages: {turn_flows:#?}"
    );
    // uclient's relayed payload (00 00 00 00 07 07 …) is neither RTP nor anything callaudit
    // knows, so the ChannelData packets count as media or as other, never as signaling.
    assert!(
        count("media") + count("other") >= CHANNEL_DATA_MESSAGES,
        "the ChannelData messages: {turn_flows:#?}"
    );
    for flow in &turn_flows {
        let classes: u64 = ["key_exchange", "media", "signaling", "other"]
            .iter()
            .map(|c| flow["packets"][c].as_u64().unwrap())
            .sum();
        assert_eq!(
            classes,
            flow["packets"]["total"].as_u64().unwrap(),
            "{flow:#}"
        );
    }

    // The report holds what was streamed, and the saved capture gives the same findings.
    let streamed: BTreeSet<_> = findings.iter().map(|(_, f)| finding_key(f)).collect();
    let reported: BTreeSet<_> = report["findings"]
        .as_array()
        .expect("report.findings[]")
        .iter()
        .map(finding_key)
        .collect();
    assert_eq!(streamed, reported, "streamed vs. final report\n{context}");
    assert_eq!(
        report["summary"]["findings"].as_u64(),
        Some(reported.len() as u64),
        "{report:#}"
    );
    let policy_arg = policy.to_str().unwrap();
    let audit = audit_json(&[&saved], &["--policy", policy_arg]);
    assert_eq!(
        audit.code,
        1,
        "callaudit audit {}: {}",
        saved.display(),
        audit.stderr
    );
    let audited: BTreeSet<_> = audit.json()["findings"]
        .as_array()
        .expect("findings[]")
        .iter()
        .map(finding_key)
        .collect();
    assert_eq!(audited, reported, "audit of the saved capture vs. live");
}

#[test]
fn interfaces_lists_loopback() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: the loopback interface is `lo` on Linux only");
        return;
    }
    let run = callaudit(["interfaces", "--format", "json"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let interfaces = run.json();
    let lo = interfaces
        .as_array()
        .expect("an array of interfaces")
        .iter()
        .find(|i| i["name"] == "lo")
        .unwrap_or_else(|| panic!("no `lo` in {interfaces:#}"));
    assert_eq!(lo["loopback"], true, "{lo:#}");
    assert_eq!(lo["up"], true, "{lo:#}");
    assert!(
        lo["running"].is_boolean() && lo["default"].is_boolean(),
        "{lo:#}"
    );
    let addresses: Vec<&str> = lo["addresses"]
        .as_array()
        .expect("addresses[]")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(addresses.contains(&LOOPBACK), "{lo:#}");
}

#[test]
fn live_without_capture_privileges_names_the_fix() {
    let Some(tools) = privileged_prerequisites("live without privileges", &["setpriv"]) else {
        return;
    };
    // A copy of the binary that user 65534 can reach and run (the target directory may be
    // private), without any file capabilities the original might carry.
    let dir = temp_dir("unprivileged");
    let binary = dir.join("callaudit");
    fs::copy(env!("CARGO_BIN_EXE_callaudit"), &binary).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let stdout = dir.join("stdout");
    let stderr = dir.join("stderr");
    let mut run = Guard::spawn(
        "callaudit live (unprivileged)",
        Command::new(&tools[0])
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&binary)
            .args(["live", "-i", "lo", "--duration", "1", "--format", "jsonl"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap()),
    );
    let status = run
        .wait_timeout(Duration::from_secs(10))
        .expect("callaudit live as an unprivileged user still running after 10 s");
    let stderr = fs::read_to_string(&stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{status}; stderr: {stderr}");
    for fix in ["setcap", "cap_net_raw", "sudo"] {
        assert!(
            stderr.contains(fix),
            "stderr does not name {fix:?}: {stderr}"
        );
    }
}

#[test]
fn rfc3339_timestamps_convert_to_unix_seconds() {
    assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), 0.0);
    let t = unix_seconds("2020-04-02T15:00:00.950200Z");
    assert!((t - 1_585_839_600.950_2).abs() < 1e-6, "{t}");
    let t = unix_seconds("2024-02-29T23:59:59.000001Z");
    assert!((t - 1_709_251_199.000_001).abs() < 1e-6, "{t}");
}

// ---------------------------------------------------------------- helpers

/// A line of callaudit's stdout and the wall-clock time it was read.
struct Line {
    read_at: SystemTime,
    text: String,
}

/// A child process killed (if still running) and reaped when dropped, also on a panic.
struct Guard {
    name: String,
    child: Child,
}

impl Guard {
    fn spawn(name: &str, command: &mut Command) -> Guard {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Guard {
            name: name.to_string(),
            child,
        }
    }

    /// The exit status, or None if it is still running after `limit`.
    fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => return None,
                Err(e) => panic!("wait for {}: {e}", self.name),
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A long-running server, its output in `dir/NAME.log`. Its stdin stays open for its life:
/// `openssl s_server` shuts down at end of input.
fn spawn_server(dir: &Path, name: &str, command: &mut Command) -> Guard {
    let log = File::create(dir.join(format!("{name}.log"))).unwrap();
    Guard::spawn(
        name,
        command
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    )
}

/// Runs a client to completion (killed after `limit`, which fails the test), its output in
/// `dir/NAME.log`, `input` written to its stdin then closed.
fn run_client(
    dir: &Path,
    name: &str,
    command: &mut Command,
    input: Option<&str>,
    limit: Duration,
) -> ExitStatus {
    let log = File::create(dir.join(format!("{name}.log"))).unwrap();
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut client = Guard::spawn(
        name,
        command
            .current_dir(dir)
            .stdin(stdin)
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    if let Some(text) = input {
        let mut stdin = client.child.stdin.take().unwrap();
        let _ = stdin.write_all(text.as_bytes());
    }
    client
        .wait_timeout(limit)
        .unwrap_or_else(|| panic!("{name} still running after {limit:?}\n{}", logs(dir)))
}

/// The last lines of every log in `dir`, for failure messages.
fn logs(dir: &Path) -> String {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    paths.sort();
    let mut out = String::new();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
    {
        let text = fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(15)..];
        out += &format!("--- {} (last lines)\n{}\n", path.display(), tail.join("\n"));
    }
    out
}

/// The tools' paths when the test can run: Linux, root with CAP_NET_RAW, every tool found. Else
/// None after saying why on stderr; a missing tool in CI (`CI=true`) fails instead.
fn privileged_prerequisites(test: &str, tools: &[&str]) -> Option<Vec<PathBuf>> {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped {test}: Linux only (the `lo` interface, /proc)");
        return None;
    }
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> Option<String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| rest.trim().to_string())
    };
    let euid = field("Uid:").and_then(|u| u.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() != Some("0") {
        eprintln!("skipped {test}: needs root (capture privileges and setpriv)");
        return None;
    }
    const CAP_NET_RAW: u32 = 13;
    let effective = field("CapEff:").and_then(|c| u64::from_str_radix(&c, 16).ok());
    if effective.is_none_or(|caps| caps & (1 << CAP_NET_RAW) == 0) {
        eprintln!("skipped {test}: root without CAP_NET_RAW cannot capture here");
        return None;
    }
    let mut found = Vec::new();
    for tool in tools {
        match which(tool) {
            Some(path) => found.push(path),
            None if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
                "{test}: `{tool}` is not installed; .ci/run installs it (openssl, coturn, util-linux)"
            ),
            None => {
                eprintln!("skipped {test}: `{tool}` is not installed (apt-get install openssl coturn)");
                return None;
            }
        }
    }
    Some(found)
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether a local socket holds `port`: a bound UDP socket, or a listening TCP one
/// (/proc/net/{udp,udp6,tcp,tcp6}: `sl local_address rem_address st …`, hex, LISTEN = 0A).
fn port_in_use(port: u16, tcp: bool) -> bool {
    let tables = if tcp {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        ["/proc/net/udp", "/proc/net/udp6"]
    };
    tables
        .iter()
        .filter_map(|table| fs::read_to_string(table).ok())
        .any(|text| {
            text.lines().skip(1).any(|line| {
                let mut columns = line.split_whitespace();
                let local = columns.nth(1).unwrap_or_default();
                let state = columns.nth(1).unwrap_or_default();
                let local_port = local.rsplit(':').next().unwrap_or_default();
                u16::from_str_radix(local_port, 16) == Ok(port) && (!tcp || state == "0A")
            })
        })
}

/// (rule, server ip:port, packet) of a finding.
fn finding_key(finding: &Value) -> (String, String, u64) {
    (
        finding["rule"].as_str().expect("finding.rule").to_string(),
        format!("{}:{}", finding["server"]["ip"], finding["server"]["port"]),
        finding["packet"].as_u64().expect("finding.packet"),
    )
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp as the reports write them,
/// `2020-04-02T15:00:00.950200Z`.
fn unix_seconds(timestamp: &str) -> f64 {
    fn invalid(timestamp: &str) -> ! {
        panic!("not an RFC 3339 UTC timestamp: {timestamp:?}")
    }
    let rest = timestamp
        .strip_suffix('Z')
        .or_else(|| timestamp.strip_suffix("+00:00"))
        .unwrap_or_else(|| invalid(timestamp));
    let (date, time) = rest.split_once('T').unwrap_or_else(|| invalid(timestamp));
    let numbers = |text: &str, separator: char| -> Vec<i64> {
        text.split(separator)
            .map(|n| n.parse().unwrap_or_else(|_| invalid(timestamp)))
            .collect()
    };
    let [year, month, day] = numbers(date, '-')[..] else {
        invalid(timestamp)
    };
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let [hours, minutes, seconds] = numbers(clock, ':')[..] else {
        invalid(timestamp)
    };
    let fraction: f64 = format!("0.{fraction}")
        .parse()
        .unwrap_or_else(|_| invalid(timestamp));
    // Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    (days * 86_400 + hours * 3_600 + minutes * 60 + seconds) as f64 + fraction
}
