//! `--format html`: one self-contained page, checked as text and then rendered by a real headless
//! browser (Debian's `chromium`, which .ci/run installs) with the network disabled.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// `callaudit audit --format html -o <dir>/report.html <capture>`: the page and its path.
fn audit_html(capture: &Path, name: &str) -> (String, PathBuf) {
    let dir = temp_dir(name);
    let out = dir.join("report.html");
    let run = callaudit([
        "audit".as_ref(),
        "--format".as_ref(),
        "html".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        capture.as_os_str(),
    ]);
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}: {}",
        run.code,
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let html = std::fs::read_to_string(&out).expect("the report file");
    (html, out)
}

/// The value of every `name=` attribute (quoted or not) in `html`, lower-cased.
fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let needle = format!("{name}=");
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&needle) {
        let start = from + at + needle.len();
        from = start;
        // Only attributes: preceded by whitespace inside a tag.
        if !lower[..start - needle.len()].ends_with(char::is_whitespace) {
            continue;
        }
        let rest = &lower[start..];
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or(""),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        values.push(value.to_string());
    }
    values
}

/// Nothing the page would fetch: no external scripts, stylesheets, fonts, images or frames.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "<script", "<link", "<iframe", "<object", "<embed", "<img", "@import", "url(",
    ] {
        assert!(!lower.contains(forbidden), "the page contains {forbidden}");
    }
    for attribute in ["src", "srcset", "xlink:href", "action", "poster", "data"] {
        let values = attribute_values(html, attribute);
        assert!(values.is_empty(), "{attribute}= {values:?}");
    }
    for href in attribute_values(html, "href") {
        assert!(href.starts_with('#'), "href to {href:?}");
    }
}

#[test]
fn html_report_of_the_citizenlab_capture_is_self_contained_and_tells_the_story() {
    let (html, _) = audit_html(&fixture("citizenlab-zoom-2020.pcap"), "html-citizenlab");
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..100]);
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains("<title>callaudit: The meeting"));
    assert_self_contained(&html);
    // The verdict comes first, before any finding card.
    let h1 = html.find("<h1>").expect("a headline");
    let verdict = &html[h1..html[h1..].find("</h1>").unwrap() + h1];
    assert!(
        verdict.contains("key exchange went to a Zoom server in <strong>China</strong>"),
        "{verdict}"
    );
    assert!(verdict.contains("52.81.151.250"), "{verdict}");
    assert!(verdict.contains("which your policy restricts"), "{verdict}");
    assert!(h1 < html.find(r#"class="finding "#).unwrap_or(usize::MAX));
    // What was captured, the policy and the databases, with the CC BY 4.0 attribution.
    for expected in [
        "citizenlab-zoom-2020.pcap",
        "190 packets analysed",
        "Ethernet (link type 1)",
        "Restricted:",
        "China (CN)",
        "built 2026-",
        "Attribution (CC BY 4.0)",
        "RouteViews",
        "DB-IP",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }
    // The finding card: the rule's explanation and the packet to look at.
    assert!(html.contains(r#"data-rule="restricted-key-exchange""#));
    assert!(html.contains("Whoever terminates the handshake holds the session keys"));
    assert!(html.contains("go to frame <strong>26</strong>"));
    assert!(html.contains("zoombj250mmr.bj.zoom.us"));
    // Glossary.
    for term in ["Key exchange", "Media", "Signaling", "Location vs operator"] {
        assert!(
            html.contains(&format!("<dt>{term}</dt>")),
            "glossary {term}"
        );
    }
}

#[test]
fn html_report_without_findings_says_so() {
    let (html, _) = audit_html(&fixture("no-conferencing.pcap"), "html-clean");
    assert_self_contained(&html);
    assert!(
        html.contains(
            "<h1>No key exchange, media or signaling reached a restricted jurisdiction.</h1>"
        ),
        "{html}"
    );
    assert!(!html.contains(r#"<article class="finding"#));
}

#[test]
fn an_html_output_file_name_selects_the_html_format() {
    let dir = temp_dir("html-extension");
    let out = dir.join("report.html");
    let run = callaudit([
        "audit".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        fixture("citizenlab-zoom-2020.pcap").as_os_str(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
}

// ---------------------------------------------------------------- in a real browser

const BROWSER_TIMEOUT: Duration = Duration::from_secs(30);

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Runs headless chromium on `page` with `action` (`--dump-dom`, `--screenshot=…`), offline,
/// killed after [`BROWSER_TIMEOUT`]. Returns its standard output.
fn run_chromium(browser: &Path, page: &Path, action: &str, work: &Path) -> String {
    let profile = work.join("profile");
    let stdout_path = work.join(format!("stdout-{}", action.len()));
    let stdout = File::create(&stdout_path).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            // Nothing listens on the discard port: every fetch fails.
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--window-size=1280,1600",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {action} took more than {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium {action}: {status}");
    std::fs::read_to_string(&stdout_path).unwrap()
}

#[test]
fn html_report_renders_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is missing: .ci/run installs it (apt-get install chromium)");
        }
        eprintln!("skipped: /usr/bin/chromium not installed (apt-get install chromium)");
        return;
    };
    let (_, page) = audit_html(&fixture("citizenlab-zoom-2020.pcap"), "html-browser");
    let work = page.parent().unwrap().to_path_buf();

    let dom = run_chromium(&browser, &page, "--dump-dom", &work);
    assert!(dom.contains("<h1>"), "no rendered DOM: {dom}");
    assert!(!dom.to_ascii_lowercase().contains("<script"), "{dom}");
    assert!(dom.contains("52.81.151.250"));
    assert!(dom.contains("China (CN)"));
    assert!(dom.contains("restricted-key-exchange"));
    // The country chart: an SVG with stacked bars, China's on the restricted band.
    let chart_at = dom
        .find(r#"id="country-chart""#)
        .expect("the country chart");
    let chart = &dom[chart_at..chart_at + dom[chart_at..].find("</svg>").unwrap()];
    let bars = chart.matches(r#"class="bar""#).count();
    assert!(bars >= 4, "{bars} bars: {chart}");
    assert!(chart.contains("restricted-band"), "{chart}");
    assert!(
        chart.contains("China (CN): 6 packets of key exchange"),
        "{chart}"
    );
    // The timeline: one bar per flow, the finding's flow marked.
    let timeline_at = dom.find(r#"id="timeline-chart""#).expect("the timeline");
    let timeline = &dom[timeline_at..timeline_at + dom[timeline_at..].find("</svg>").unwrap()];
    assert_eq!(
        timeline.matches(r#"class="flow-bar""#).count(),
        7,
        "{timeline}"
    );
    assert!(timeline.contains("finding-mark"));

    // The first screen, kept for people to look at: <target>/html-report.png.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    let screenshot = target.join("html-report.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(
        &browser,
        &page,
        &format!("--screenshot={}", screenshot.display()),
        &work,
    );
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 20_000, "a blank page? {} bytes", png.len());
    eprintln!("screenshot: {}", screenshot.display());
}
