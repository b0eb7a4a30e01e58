//! `--format html`: one self-contained page for a reader who knows nothing about packets.
//!
//! The first screen says what went where: a one-sentence verdict, where the key exchange, media
//! and signaling went, and what was audited against which policy and data. Then one card per
//! finding (with the rule's explanation and the packet to look at in Wireshark), the allowed
//! findings, a chart of packets by server country and class, a timeline of the flows, the flows
//! table and a glossary.
//!
//! The page loads nothing: CSS is inline, charts are inline SVG computed here, there is no
//! JavaScript, and a Content-Security-Policy forbids any fetch or script should a string slip
//! through. Every text that comes from the capture (hostnames, certificate names) or a database
//! is untrusted and goes through [`escape`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use super::{Emitter, FindingReport, FlowReport, Report, ServerReport};
use crate::capture::Timestamp;
use crate::classify::{Role, ServerRole};
use crate::geo::physics::Vantage;
use crate::policy::rules::{self, Check};
use crate::policy::Severity;

pub struct HtmlEmitter;

impl Emitter for HtmlEmitter {
    fn emit(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(render(report).as_bytes())
    }
}

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        let _ = write!($out, $($arg)*);
    };
}

// ---------------------------------------------------------------- escaping

/// Text made safe for HTML element content and double- or single-quoted attribute values, in
/// HTML and inline SVG. Control characters and bidirectional overrides (which could make a
/// hostname read differently from what it is) become U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    E(text).to_string()
}

/// Displays its text escaped (see [`escape`]).
struct E<'a>(&'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                '\t' | '\n' => f.write_char(c)?,
                c if c.is_control() || is_bidi_control(c) => f.write_char('\u{FFFD}')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

// ---------------------------------------------------------------- names

const COUNTRY_NAMES: &str = "AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|\
AI Anguilla|AL Albania|AM Armenia|AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria|\
AU Australia|AW Aruba|AX Åland Islands|AZ Azerbaijan|BA Bosnia and Herzegovina|BB Barbados|\
BD Bangladesh|BE Belgium|BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin|\
BL Saint Barthélemy|BM Bermuda|BN Brunei|BO Bolivia|BQ Caribbean Netherlands|BR Brazil|\
BS Bahamas|BT Bhutan|BV Bouvet Island|BW Botswana|BY Belarus|BZ Belize|CA Canada|\
CC Cocos (Keeling) Islands|CD DR Congo|CF Central African Republic|CG Congo|CH Switzerland|\
CI Côte d'Ivoire|CK Cook Islands|CL Chile|CM Cameroon|CN China|CO Colombia|CR Costa Rica|CU Cuba|\
CV Cabo Verde|CW Curaçao|CX Christmas Island|CY Cyprus|CZ Czechia|DE Germany|DJ Djibouti|\
DK Denmark|DM Dominica|DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia|EG Egypt|\
EH Western Sahara|ER Eritrea|ES Spain|ET Ethiopia|FI Finland|FJ Fiji|FK Falkland Islands|\
FM Micronesia|FO Faroe Islands|FR France|GA Gabon|GB United Kingdom|GD Grenada|GE Georgia|\
GF French Guiana|GG Guernsey|GH Ghana|GI Gibraltar|GL Greenland|GM Gambia|GN Guinea|\
GP Guadeloupe|GQ Equatorial Guinea|GR Greece|GS South Georgia and the South Sandwich Islands|\
GT Guatemala|GU Guam|GW Guinea-Bissau|GY Guyana|HK Hong Kong|HM Heard Island and McDonald Islands|\
HN Honduras|HR Croatia|HT Haiti|HU Hungary|ID Indonesia|IE Ireland|IL Israel|IM Isle of Man|\
IN India|IO British Indian Ocean Territory|IQ Iraq|IR Iran|IS Iceland|IT Italy|JE Jersey|\
JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|KI Kiribati|KM Comoros|\
KN Saint Kitts and Nevis|KP North Korea|KR South Korea|KW Kuwait|KY Cayman Islands|KZ Kazakhstan|\
LA Laos|LB Lebanon|LC Saint Lucia|LI Liechtenstein|LK Sri Lanka|LR Liberia|LS Lesotho|\
LT Lithuania|LU Luxembourg|LV Latvia|LY Libya|MA Morocco|MC Monaco|MD Moldova|ME Montenegro|\
MF Saint Martin|MG Madagascar|MH Marshall Islands|MK North Macedonia|ML Mali|MM Myanmar|\
MN Mongolia|MO Macao|MP Northern Mariana Islands|MQ Martinique|MR Mauritania|MS Montserrat|\
MT Malta|MU Mauritius|MV Maldives|MW Malawi|MX Mexico|MY Malaysia|MZ Mozambique|NA Namibia|\
NC New Caledonia|NE Niger|NF Norfolk Island|NG Nigeria|NI Nicaragua|NL Netherlands|NO Norway|\
NP Nepal|NR Nauru|NU Niue|NZ New Zealand|OM Oman|PA Panama|PE Peru|PF French Polynesia|\
PG Papua New Guinea|PH Philippines|PK Pakistan|PL Poland|PM Saint Pierre and Miquelon|\
PN Pitcairn Islands|PR Puerto Rico|PS Palestine|PT Portugal|PW Palau|PY Paraguay|QA Qatar|\
RE Réunion|RO Romania|RS Serbia|RU Russia|RW Rwanda|SA Saudi Arabia|SB Solomon Islands|\
SC Seychelles|SD Sudan|SE Sweden|SG Singapore|SH Saint Helena|SI Slovenia|SJ Svalbard and Jan Mayen|\
SK Slovakia|SL Sierra Leone|SM San Marino|SN Senegal|SO Somalia|SR Suriname|SS South Sudan|\
ST São Tomé and Príncipe|SV El Salvador|SX Sint Maarten|SY Syria|SZ Eswatini|\
TC Turks and Caicos Islands|TD Chad|TF French Southern Territories|TG Togo|TH Thailand|\
TJ Tajikistan|TK Tokelau|TL Timor-Leste|TM Turkmenistan|TN Tunisia|TO Tonga|TR Türkiye|\
TT Trinidad and Tobago|TV Tuvalu|TW Taiwan|TZ Tanzania|UA Ukraine|UG Uganda|\
UM U.S. Minor Outlying Islands|US United States|UY Uruguay|UZ Uzbekistan|VA Vatican City|\
VC Saint Vincent and the Grenadines|VE Venezuela|VG British Virgin Islands|\
VI U.S. Virgin Islands|VN Vietnam|VU Vanuatu|WF Wallis and Futuna|WS Samoa|XK Kosovo|YE Yemen|\
YT Mayotte|ZA South Africa|ZM Zambia|ZW Zimbabwe";

fn country_name(code: &str) -> Option<&'static str> {
    COUNTRY_NAMES
        .split('|')
        .find_map(|entry| entry.strip_prefix(code)?.strip_prefix(' '))
}

/// `China (CN)`, or the code alone when the name is unknown.
fn country(code: &str) -> String {
    match country_name(code) {
        Some(name) => format!("{name} ({code})"),
        None => code.to_string(),
    }
}

fn class_name(role: Role) -> &'static str {
    match role {
        Role::KeyExchange => "key exchange",
        Role::Media => "media",
        Role::Signaling => "signaling",
        Role::Other => "other traffic",
    }
}

fn class_explained(role: Role) -> &'static str {
    match role {
        Role::KeyExchange => "how the call's encryption keys are agreed",
        Role::Media => "the audio, video and screen sharing",
        Role::Signaling => "setting up and controlling the call",
        Role::Other => "connection set-up, DNS and the rest",
    }
}

const CLASSES: [Role; 3] = [Role::KeyExchange, Role::Media, Role::Signaling];

fn class_colour(role: Role) -> &'static str {
    // Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
    match role {
        Role::KeyExchange => "#0072B2",
        Role::Media => "#E69F00",
        Role::Signaling => "#009E73",
        Role::Other => "#A0A0A0",
    }
}

fn server_role_name(role: ServerRole) -> &'static str {
    match role {
        ServerRole::Zc => "Zoom zone controller",
        ServerRole::Mmr => "Zoom multimedia router",
        ServerRole::Rwg => "Zoom web gateway",
        ServerRole::Relay => "TURN relay",
        ServerRole::Media => "media server",
        ServerRole::Peer => "the other participant (peer to peer)",
        ServerRole::Control => "call set-up server",
    }
}

fn link_type_name(link_type: i32) -> &'static str {
    match link_type {
        0 => "BSD loopback",
        1 => "Ethernet",
        12 | 14 | 101 => "raw IP",
        108 => "OpenBSD loopback",
        113 => "Linux cooked capture",
        228 => "raw IPv4",
        229 => "raw IPv6",
        276 => "Linux cooked capture v2",
        _ => "link type",
    }
}

/// App display names from the embedded catalog, by id.
fn app_names() -> BTreeMap<String, String> {
    crate::classify::app::AppCatalog::embedded()
        .map(|catalog| {
            catalog
                .describe()
                .into_iter()
                .map(|app| (app.id, app.name))
                .collect()
        })
        .unwrap_or_default()
}

/// `2020-04-02 15:00:00.950200 UTC`.
fn time_text(time: Timestamp) -> String {
    let text = time.to_string();
    format!("{} UTC", text.trim_end_matches('Z').replacen('T', " ", 1))
}

/// `2020-04-02 15:00:00 UTC`.
fn time_short(time: Timestamp) -> String {
    let text = time.to_string();
    format!("{} {} UTC", &text[..10], &text[11..19])
}

/// `15:00:00.950`: the time of day to the millisecond.
fn time_of_day(time: Timestamp) -> String {
    let text = time.to_string();
    text[11..23].to_string()
}

fn duration_text(secs: f64) -> String {
    if secs < 0.001 {
        "under a millisecond".into()
    } else if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 120.0 {
        format!("{secs:.1} s")
    } else if secs < 7200.0 {
        format!("{:.0} min {:.0} s", (secs / 60.0).floor(), secs % 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------- what the page knows

/// Everything the sections share.
struct Context<'a> {
    report: &'a Report,
    /// Every country some scope of the policy restricts.
    restricted: BTreeSet<String>,
    apps: BTreeMap<String, String>,
    /// Flows with a finding (index into `flows`).
    finding_flows: BTreeSet<usize>,
}

impl<'a> Context<'a> {
    fn new(report: &'a Report) -> Context<'a> {
        let policy = &report.policy;
        let restricted = std::iter::once(&policy.scope)
            .chain(policy.classes.values())
            .chain(policy.apps.values())
            .filter_map(|scope| scope.restricted.as_ref())
            .flatten()
            .cloned()
            .collect();
        Context {
            report,
            restricted,
            apps: app_names(),
            finding_flows: report.findings.iter().map(|f| f.flow).collect(),
        }
    }

    fn is_restricted(&self, code: Option<&String>) -> bool {
        code.is_some_and(|c| self.restricted.contains(c))
    }

    fn app(&self, id: Option<&str>) -> Option<String> {
        let id = id?;
        Some(self.apps.get(id).cloned().unwrap_or_else(|| id.to_string()))
    }

    fn capture_path(&self, index: usize) -> &str {
        self.report
            .captures
            .get(index)
            .map_or("the capture", |c| c.path.as_str())
    }
}

/// Where a server is, in words: `China (CN)`, `local network`, `unknown location`.
fn location_text(server: &ServerReport) -> String {
    match (&server.country, server.special) {
        (Some(code), _) => country(code),
        (None, Some(special)) if special.as_str() == "private" => "local network".into(),
        (None, Some(special)) => format!("special address ({})", special.as_str()),
        (None, None) => "unknown location".into(),
    }
}

fn operator_text(server: &ServerReport) -> String {
    let org = match (server.asn, &server.as_org) {
        (Some(asn), Some(org)) => format!("{org} (AS{asn})"),
        (Some(asn), None) => format!("AS{asn}"),
        (None, Some(org)) => org.clone(),
        (None, None) => "unknown network".into(),
    };
    match &server.operator_country {
        Some(code) => format!("{org}, registered in {}", country(code)),
        None => org,
    }
}

// ---------------------------------------------------------------- traffic by country

/// Packets of each class to the servers of one location (and operator country, when it
/// differs).
#[derive(Debug, Clone, PartialEq)]
struct CountryTraffic {
    label: String,
    /// `operated from …` when the operator's country differs from the location.
    detail: Option<String>,
    restricted: bool,
    /// Key exchange, media, signaling.
    counts: [u64; 3],
}

impl CountryTraffic {
    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

fn traffic_by_country(cx: &Context) -> Vec<CountryTraffic> {
    let mut rows: BTreeMap<(String, Option<String>), CountryTraffic> = BTreeMap::new();
    for flow in &cx.report.flows {
        let counts = CLASSES.map(|role| flow.packets.of(role));
        if counts.iter().all(|&c| c == 0) {
            continue;
        }
        let server = &flow.server;
        let label = location_text(server);
        let detail = match &server.operator_country {
            Some(op) if server.country.as_ref() != Some(op) => {
                Some(format!("operated from {}", country(op)))
            }
            _ => None,
        };
        let restricted = cx.is_restricted(server.country.as_ref())
            || cx.is_restricted(server.operator_country.as_ref());
        let row = rows
            .entry((label.clone(), detail.clone()))
            .or_insert_with(|| CountryTraffic {
                label,
                detail,
                restricted,
                counts: [0; 3],
            });
        row.restricted |= restricted;
        for (sum, count) in row.counts.iter_mut().zip(counts) {
            *sum += count;
        }
    }
    let mut rows: Vec<CountryTraffic> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.restricted
            .cmp(&a.restricted)
            .then(b.total().cmp(&a.total()))
            .then(a.label.cmp(&b.label))
    });
    rows
}

// ---------------------------------------------------------------- the bar chart

const CHART_WIDTH: f64 = 1080.0;
const CHART_LABEL_RIGHT: f64 = 250.0;
const CHART_BAR_X: f64 = 262.0;
const CHART_BAR_MAX: f64 = 440.0;
const CHART_TOP: f64 = 40.0;
const CHART_ROW: f64 = 44.0;
const CHART_BAR_HEIGHT: f64 = 22.0;
const MIN_SEGMENT: f64 = 2.0;

#[derive(Debug)]
struct BarChart {
    height: f64,
    rows: Vec<BarRow>,
}

#[derive(Debug)]
struct BarRow {
    /// Top of the row's band.
    y: f64,
    /// Top of the bar.
    bar_y: f64,
    segments: Vec<Segment>,
    /// Right end of the last segment.
    end_x: f64,
}

#[derive(Debug)]
struct Segment {
    role: Role,
    x: f64,
    width: f64,
    count: u64,
}

/// Lays out one stacked bar per row, on one linear scale: the largest total fills
/// [`CHART_BAR_MAX`]; a non-empty class is never thinner than [`MIN_SEGMENT`].
fn bar_chart(rows: &[CountryTraffic]) -> BarChart {
    let max = rows.iter().map(CountryTraffic::total).max().unwrap_or(0);
    let scale = if max == 0 {
        0.0
    } else {
        CHART_BAR_MAX / max as f64
    };
    let rows: Vec<BarRow> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let y = CHART_TOP + index as f64 * CHART_ROW;
            let mut x = CHART_BAR_X;
            let mut segments = Vec::new();
            for (role, &count) in CLASSES.iter().zip(&row.counts) {
                if count == 0 {
                    continue;
                }
                let width = (count as f64 * scale).max(MIN_SEGMENT);
                segments.push(Segment {
                    role: *role,
                    x,
                    width,
                    count,
                });
                x += width;
            }
            BarRow {
                y,
                bar_y: y + (CHART_ROW - CHART_BAR_HEIGHT) / 2.0,
                segments,
                end_x: x,
            }
        })
        .collect();
    let height = if rows.is_empty() {
        CHART_TOP + 30.0
    } else {
        CHART_TOP + rows.len() as f64 * CHART_ROW + 8.0
    };
    BarChart { height, rows }
}

fn legend(out: &mut String, y: f64, with_restricted: bool) {
    let mut x = 0.0;
    for role in CLASSES {
        w!(
            out,
            r#"<rect x="{x}" y="{}" width="14" height="14" fill="{}"/><text x="{}" y="{}" class="legend">{}</text>"#,
            y - 11.0,
            class_colour(role),
            x + 20.0,
            y,
            class_name(role)
        );
        x += 150.0;
    }
    if with_restricted {
        w!(
            out,
            r#"<rect x="{x}" y="{}" width="14" height="14" class="restricted-band"/><text x="{}" y="{}" class="legend">⚠ restricted by your policy</text>"#,
            y - 11.0,
            x + 20.0,
            y
        );
    }
}

fn country_chart_svg(rows: &[CountryTraffic]) -> String {
    let chart = bar_chart(rows);
    let mut out = String::new();
    w!(
        out,
        r#"<svg class="chart" id="country-chart" viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" role="img" aria-labelledby="country-chart-title country-chart-desc"><title id="country-chart-title">Packets by server country and class</title><desc id="country-chart-desc">One stacked bar per server country: key exchange, media and signaling packets. Countries your policy restricts come first, on a red band.</desc>"#,
        height = chart.height
    );
    legend(&mut out, 18.0, rows.iter().any(|r| r.restricted));
    if chart.rows.is_empty() {
        w!(
            out,
            r#"<text x="0" y="{}" class="empty">No key exchange, media or signaling packets were recognised.</text>"#,
            CHART_TOP + 20.0
        );
    }
    for (row, traffic) in chart.rows.iter().zip(rows) {
        let group_class = if traffic.restricted {
            "bar-row restricted"
        } else {
            "bar-row"
        };
        w!(out, r#"<g class="{group_class}">"#);
        if traffic.restricted {
            w!(
                out,
                r#"<rect class="restricted-band" x="0" y="{}" width="{CHART_WIDTH}" height="{}" rx="4"/>"#,
                row.y + 2.0,
                CHART_ROW - 4.0
            );
        }
        let mark = if traffic.restricted { "⚠ " } else { "" };
        let label_y = if traffic.detail.is_some() || traffic.restricted {
            row.y + CHART_ROW / 2.0 - 2.0
        } else {
            row.y + CHART_ROW / 2.0 + 5.0
        };
        w!(
            out,
            r#"<text x="{CHART_LABEL_RIGHT}" y="{label_y}" text-anchor="end" class="country-label">{mark}{}</text>"#,
            E(&traffic.label)
        );
        let sub: Vec<&str> = traffic
            .detail
            .as_deref()
            .into_iter()
            .chain(traffic.restricted.then_some("restricted"))
            .collect();
        if !sub.is_empty() {
            w!(
                out,
                r#"<text x="{CHART_LABEL_RIGHT}" y="{}" text-anchor="end" class="country-sub">{}</text>"#,
                label_y + 14.0,
                E(&sub.join(" · "))
            );
        }
        for segment in &row.segments {
            w!(
                out,
                r#"<rect class="bar" data-class="{}" x="{:.1}" y="{}" width="{:.1}" height="{CHART_BAR_HEIGHT}" fill="{}"><title>{}: {} packets of {}</title></rect>"#,
                segment.role.as_str(),
                segment.x,
                row.bar_y,
                segment.width,
                class_colour(segment.role),
                E(&traffic.label),
                segment.count,
                class_name(segment.role)
            );
            if segment.width >= 36.0 {
                w!(
                    out,
                    r#"<text x="{:.1}" y="{}" text-anchor="middle" class="in-bar" fill="{}" aria-hidden="true">{}</text>"#,
                    segment.x + segment.width / 2.0,
                    row.bar_y + CHART_BAR_HEIGHT / 2.0 + 4.5,
                    if segment.role == Role::KeyExchange {
                        "#fff"
                    } else {
                        "#000"
                    },
                    segment.count
                );
            }
        }
        let parts: Vec<String> = CLASSES
            .iter()
            .zip(&traffic.counts)
            .filter(|(_, &c)| c > 0)
            .map(|(role, c)| format!("{c} {}", class_name(*role)))
            .collect();
        w!(
            out,
            r#"<text x="{:.1}" y="{}" class="bar-value">{}: {}</text></g>"#,
            row.end_x + 8.0,
            row.bar_y + CHART_BAR_HEIGHT / 2.0 + 4.0,
            plural(traffic.total(), "packet", "packets"),
            parts.join(", ")
        );
    }
    out.push_str("</svg>");
    out
}

// ---------------------------------------------------------------- the timeline

const TIMELINE_WIDTH: f64 = 1080.0;
const TIMELINE_X: f64 = 300.0;
const TIMELINE_PLOT: f64 = 740.0;
const TIMELINE_TOP: f64 = 56.0;
const TIMELINE_ROW: f64 = 20.0;
const TIMELINE_BAR: f64 = 12.0;
const TIMELINE_MAX_FLOWS: usize = 300;
const MIN_FLOW_WIDTH: f64 = 3.0;

/// One flow's lifetime, in seconds since the capture's epoch.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: f64,
    end: f64,
}

#[derive(Debug)]
struct Timeline {
    height: f64,
    /// Seconds of the left edge.
    start: f64,
    /// Seconds across the plot (never zero).
    span: f64,
    rows: Vec<TimelineRow>,
    ticks: Vec<(f64, String)>,
}

#[derive(Debug)]
struct TimelineRow {
    y: f64,
    x: f64,
    width: f64,
}

impl Timeline {
    fn x_of(&self, secs: f64) -> f64 {
        TIMELINE_X + (secs - self.start) / self.span * TIMELINE_PLOT
    }
}

fn timeline(spans: &[Span]) -> Timeline {
    let start = spans.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
    let end = spans
        .iter()
        .map(|s| s.end.max(s.start))
        .fold(f64::NEG_INFINITY, f64::max);
    let (start, span) = if spans.is_empty() {
        (0.0, 1.0)
    } else {
        (start, (end - start).max(0.001))
    };
    let mut timeline = Timeline {
        height: TIMELINE_TOP + spans.len() as f64 * TIMELINE_ROW + 10.0,
        start,
        span,
        rows: Vec::new(),
        ticks: Vec::new(),
    };
    timeline.rows = spans
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let x = timeline
                .x_of(s.start)
                .min(TIMELINE_X + TIMELINE_PLOT - MIN_FLOW_WIDTH);
            let right = timeline.x_of(s.end.max(s.start));
            TimelineRow {
                y: TIMELINE_TOP + index as f64 * TIMELINE_ROW,
                x,
                width: (right - x).max(MIN_FLOW_WIDTH),
            }
        })
        .collect();
    let step = nice_step(span / 6.0);
    let mut tick = 0.0;
    while tick <= span + step * 1e-9 {
        timeline
            .ticks
            .push((timeline.x_of(start + tick), tick_label(tick, step)));
        tick += step;
    }
    timeline
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.max(1e-6).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power)
}

fn tick_label(secs: f64, step: f64) -> String {
    if step >= 60.0 {
        format!("+{:.0} min", secs / 60.0)
    } else if step >= 1.0 {
        format!("+{secs:.0} s")
    } else {
        let decimals = (-step.log10().floor()) as usize;
        format!("+{secs:.decimals$} s")
    }
}

/// The class a flow carries most of (key exchange wins ties), or Other.
fn main_class(flow: &FlowReport) -> Role {
    let mut best = Role::Other;
    let mut most = 0;
    for role in CLASSES {
        if flow.packets.of(role) > most {
            most = flow.packets.of(role);
            best = role;
        }
    }
    best
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

fn timeline_svg(cx: &Context) -> String {
    let flows: Vec<(usize, &FlowReport)> = cx
        .report
        .flows
        .iter()
        .enumerate()
        .take(TIMELINE_MAX_FLOWS)
        .collect();
    let spans: Vec<Span> = flows
        .iter()
        .map(|(_, f)| Span {
            start: f.first_seen.as_secs_f64(),
            end: f.last_seen.as_secs_f64(),
        })
        .collect();
    let tl = timeline(&spans);
    let mut out = String::new();
    w!(
        out,
        r#"<svg class="chart" id="timeline-chart" viewBox="0 0 {TIMELINE_WIDTH} {}" width="{TIMELINE_WIDTH}" role="img" aria-labelledby="timeline-title timeline-desc"><title id="timeline-title">Timeline of the flows</title><desc id="timeline-desc">One bar per flow from its first to its last packet, coloured by the class it carries most; flows with a finding are outlined in red with a marker at the packet that proves it.</desc>"#,
        tl.height
    );
    legend(&mut out, 16.0, false);
    w!(
        out,
        r#"<rect x="450" y="5" width="14" height="14" fill="{}"/><text x="470" y="16" class="legend">other (set-up, DNS)</text><path d="M 647 6 l 6 10 l -12 0 z" class="finding-mark"/><text x="660" y="16" class="legend">finding (proving packet)</text>"#,
        class_colour(Role::Other)
    );
    let axis_y = TIMELINE_TOP - 8.0;
    for (x, label) in &tl.ticks {
        w!(
            out,
            r#"<line x1="{x:.1}" y1="{axis_y}" x2="{x:.1}" y2="{:.1}" class="grid"/><text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"#,
            tl.height - 6.0,
            axis_y - 4.0,
            E(label)
        );
    }
    for ((index, flow), row) in flows.iter().zip(&tl.rows) {
        let finding = cx.finding_flows.contains(index);
        let class = main_class(flow);
        let app = cx.app(flow.app.as_deref()).unwrap_or_default();
        let label = format!(
            "{}#{index} {} {}",
            if finding { "⚠ " } else { "" },
            endpoint_text(&flow.server),
            app
        );
        let text_y = row.y + TIMELINE_BAR / 2.0 + 4.0;
        w!(
            out,
            r#"<g class="flow{}"><text x="{}" y="{text_y}" text-anchor="end" class="flow-label">{}</text>"#,
            if finding { " has-finding" } else { "" },
            TIMELINE_X - 8.0,
            E(&truncate(&label, 44))
        );
        w!(
            out,
            r#"<rect class="flow-bar" x="{:.1}" y="{}" width="{:.1}" height="{TIMELINE_BAR}" rx="2" fill="{}"{}><title>flow #{index}: {} {} to {} ({}), {}, {} to {}: {}</title></rect>"#,
            row.x,
            row.y,
            row.width,
            class_colour(class),
            if finding {
                r##" stroke="#B00020" stroke-width="2""##
            } else {
                ""
            },
            flow.transport.as_str().to_uppercase(),
            E(&app),
            E(&endpoint_text(&flow.server)),
            E(&location_text(&flow.server)),
            E(flow.hostname.as_deref().unwrap_or("no hostname")),
            E(&time_text(flow.first_seen)),
            E(&time_text(flow.last_seen)),
            E(&packet_breakdown(flow))
        );
        for finding in cx.report.findings.iter().filter(|f| f.flow == *index) {
            let x = tl
                .x_of(finding.time.as_secs_f64())
                .clamp(TIMELINE_X, TIMELINE_X + TIMELINE_PLOT);
            w!(
                out,
                r#"<path class="finding-mark" d="M {x:.1} {} l 6 10 l -12 0 z"><title>{}: packet {} at {}</title></path>"#,
                row.y + TIMELINE_BAR - 9.0,
                E(finding.rule),
                finding.packet,
                E(&time_text(finding.time))
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    if cx.report.flows.len() > TIMELINE_MAX_FLOWS {
        w!(
            out,
            r#"<p class="note">The timeline shows the first {TIMELINE_MAX_FLOWS} of {} flows; the table below lists them all.</p>"#,
            cx.report.flows.len()
        );
    }
    out
}

fn endpoint_text(server: &ServerReport) -> String {
    match server.ip {
        std::net::IpAddr::V4(ip) => format!("{ip}:{}", server.port),
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", server.port),
    }
}

fn packet_breakdown(flow: &FlowReport) -> String {
    let p = &flow.packets;
    format!(
        "{} ({} key exchange, {} media, {} signaling, {} other)",
        plural(p.total, "packet", "packets"),
        p.key_exchange,
        p.media,
        p.signaling,
        p.other
    )
}

// ---------------------------------------------------------------- the page

const STYLE: &str = r#"
:root { --ink:#1b1b1f; --muted:#55585f; --line:#d6d8dc; --paper:#ffffff; --soft:#f4f5f7;
  --bad:#B00020; --bad-soft:#fdecee; --good:#1b5e20; --good-soft:#e8f5e9; --accent:#0b57d0; }
* { box-sizing:border-box; }
html { background:var(--soft); }
body { margin:0 auto; max-width:1200px; padding:0 24px 48px; color:var(--ink); background:var(--paper);
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace; font-size:.92em; }
h1 { font-size:1.75rem; line-height:1.3; margin:.2rem 0 .6rem; }
h2 { font-size:1.3rem; margin:2.2rem 0 .6rem; padding-bottom:.3rem; border-bottom:2px solid var(--line); }
h3 { font-size:1.05rem; margin:0 0 .4rem; }
a { color:var(--accent); }
.verdict { margin:0 -24px; padding:20px 24px 18px; border-bottom:4px solid; }
.verdict.bad { background:var(--bad-soft); border-color:var(--bad); }
.verdict.good { background:var(--good-soft); border-color:var(--good); }
.verdict .eyebrow { margin:0; color:var(--muted); font-size:.9rem; }
.verdict .status { display:inline-block; font-weight:700; letter-spacing:.04em; text-transform:uppercase;
  font-size:.8rem; padding:2px 10px; border-radius:999px; color:#fff; }
.verdict.bad .status { background:var(--bad); } .verdict.good .status { background:var(--good); }
.verdict .why { margin:.2rem 0 0; max-width:70em; }
.verdict .counts { margin:.5rem 0 0; color:var(--muted); font-size:.95rem; }
.where { display:grid; grid-template-columns:repeat(3,1fr); gap:12px; margin:16px 0 0; }
.tile { border:1px solid var(--line); border-radius:8px; padding:10px 14px; background:var(--paper); }
.tile h3 { display:flex; align-items:center; gap:8px; }
.tile .swatch { width:14px; height:14px; border-radius:3px; display:inline-block; flex:none; }
.tile p.what { margin:0 0 .4rem; color:var(--muted); font-size:.88rem; }
.tile ul { list-style:none; margin:0; padding:0; }
.tile li { padding:3px 0; border-top:1px dashed var(--line); font-size:.95rem; }
.tile li:first-child { border-top:0; }
.tile li.restricted { color:var(--bad); font-weight:700; }
.tile li .n { color:var(--muted); font-weight:400; }
.tile .none { color:var(--muted); font-style:italic; }
.facts { display:grid; align-items:start; grid-template-columns:1.1fr 1fr 1.4fr; gap:12px; margin:14px 0 0; font-size:.9rem; }
.facts section { border:1px solid var(--line); border-radius:8px; padding:10px 14px; background:var(--paper); }
.facts h3 { font-size:.95rem; }
.facts p { margin:.2rem 0; }
.facts .attribution { color:var(--muted); font-size:.82rem; margin-top:.5rem; }
.chip { display:inline-block; padding:0 7px; margin:1px 2px 1px 0; border-radius:4px; background:var(--soft);
  border:1px solid var(--line); font-size:.85rem; white-space:nowrap; }
.chip.restricted { background:var(--bad-soft); border-color:#e4a3ad; color:var(--bad); }
nav.toc { margin:14px 0 0; font-size:.9rem; }
nav.toc a { margin-right:14px; }
.finding { border:1px solid var(--line); border-left:8px solid var(--sev); border-radius:8px; padding:14px 18px;
  margin:14px 0; break-inside:avoid; page-break-inside:avoid; }
.finding header { display:flex; align-items:baseline; gap:10px; flex-wrap:wrap; }
.badge { display:inline-block; color:#fff; background:var(--sev); font-weight:700; font-size:.75rem;
  letter-spacing:.05em; padding:2px 8px; border-radius:4px; text-transform:uppercase; }
.finding h3 { font-size:1.15rem; margin:0; }
.finding .rule-id { color:var(--muted); font-size:.85rem; margin-left:auto; }
.finding dl { display:grid; grid-template-columns:11em 1fr; gap:6px 16px; margin:.8rem 0 0; }
.finding dt { font-weight:600; color:var(--muted); }
.finding dd { margin:0; }
.finding .wireshark { background:var(--soft); border-radius:6px; padding:6px 10px; margin-top:4px; }
.finding.allowed { opacity:.9; border-style:dashed; }
.sev-critical { --sev:#B00020; } .sev-high { --sev:#C43E00; } .sev-medium { --sev:#8A5300; }
.sev-low { --sev:#1D5FA8; } .sev-info { --sev:#546E7A; }
.tag-restricted { color:var(--bad); font-weight:700; }
.ok-box { border:1px solid var(--line); border-left:8px solid var(--good); border-radius:8px; padding:12px 18px; }
.chart-box { overflow-x:auto; border:1px solid var(--line); border-radius:8px; padding:12px; }
svg.chart { max-width:100%; height:auto; font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; }
svg .legend { font-size:13px; fill:var(--ink); }
svg .country-label { font-size:14px; font-weight:600; fill:var(--ink); }
svg .restricted .country-label, svg .country-sub { fill:var(--bad); }
svg .country-sub { font-size:12px; }
svg .bar-row:not(.restricted) .country-sub { fill:var(--muted); }
svg .bar-value { font-size:13px; fill:var(--ink); }
svg .in-bar { font-size:12px; font-weight:700; }
svg .restricted-band { fill:var(--bad-soft); stroke:#e4a3ad; }
svg .empty { font-size:14px; fill:var(--muted); }
svg .tick { font-size:11px; fill:var(--muted); }
svg .grid { stroke:#e3e5e8; stroke-width:1; }
svg .flow-label { font-size:11px; fill:var(--ink); font-family:ui-monospace,Menlo,Consolas,monospace; }
svg .has-finding .flow-label { fill:var(--bad); font-weight:700; }
svg .finding-mark { fill:var(--bad); }
table { border-collapse:collapse; width:100%; font-size:.86rem; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--soft); position:sticky; top:0; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.has-finding td { background:var(--bad-soft); }
td .sub { display:block; color:var(--muted); font-size:.85em; }
.table-box { overflow-x:auto; }
dl.glossary dt { font-weight:700; margin-top:.6rem; }
dl.glossary dd { margin:0 0 0 1.2rem; max-width:60em; }
.note { color:var(--muted); font-size:.9rem; }
.warning { background:#fff4e5; border:1px solid #f0c36d; border-radius:6px; padding:6px 10px; }
footer { margin-top:2.5rem; color:var(--muted); font-size:.85rem; border-top:1px solid var(--line); padding-top:.6rem; }
@media (max-width:900px) { .where, .facts { grid-template-columns:1fr; } .finding dl { grid-template-columns:1fr; } }
@media print {
  html, body { background:#fff; }
  body { max-width:none; padding:0; font-size:10.5pt; }
  * { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  nav.toc { display:none; }
  .verdict { margin:0; }
  h2 { break-after:avoid; page-break-after:avoid; }
  .finding, .tile, .facts section, .chart-box, tr { break-inside:avoid; page-break-inside:avoid; }
  .chart-box, .table-box { overflow:visible; border:0; padding:0; }
  th { position:static; }
  a { color:inherit; text-decoration:none; }
}
"#;

fn render(report: &Report) -> String {
    let cx = Context::new(report);
    let traffic = traffic_by_country(&cx);
    let mut out = String::with_capacity(64 * 1024);
    let (good, headline) = headline(&cx);
    w!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="{} {}">
<title>callaudit: {}</title>
<style>{STYLE}</style>
</head>
<body>
"#,
        E(report.tool.name),
        E(report.tool.version),
        escape(&strip_tags(&headline))
    );
    verdict(&mut out, &cx, good, &headline, &traffic);
    w!(
        out,
        "<nav class=\"toc\" aria-label=\"Sections\"><a href=\"#findings\">Findings</a><a href=\"#chart\">Traffic by country</a><a href=\"#timeline\">Timeline</a><a href=\"#flows\">All flows</a><a href=\"#glossary\">Glossary</a></nav>\n"
    );
    findings_section(&mut out, &cx);
    w!(
        out,
        "<section id=\"chart\"><h2>Where the call's packets went</h2><p class=\"note\">Packets of each kind, by the country of the server that received or sent them. Packets that are none of these kinds (connection set-up, DNS look-ups) are left out.</p><div class=\"chart-box\">{}</div></section>\n",
        country_chart_svg(&traffic)
    );
    w!(
        out,
        "<section id=\"timeline\"><h2>Timeline</h2><p class=\"note\">Each line is one flow (a conversation between this computer and a server), from its first to its last packet, in seconds from the first packet. Times come from the capturing computer's clock.</p><div class=\"chart-box\">{}</div></section>\n",
        timeline_svg(&cx)
    );
    flows_section(&mut out, &cx);
    glossary(&mut out);
    w!(
        out,
        "<footer>Generated by {} {}. The JSON report (<code>--format json</code>) holds the same data for machines; <code>callaudit explain RULE</code> documents each rule.</footer>\n</body>\n</html>\n",
        E(report.tool.name),
        E(report.tool.version)
    );
    out
}

/// The headline's plain text, for `<title>`.
fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The one-sentence verdict (HTML, escaped) and whether it is good news.
fn headline(cx: &Context) -> (bool, String) {
    let report = cx.report;
    let Some(top) = report.findings.first() else {
        let mut text =
            String::from("No key exchange, media or signaling reached a restricted jurisdiction");
        if report.policy.scope.home.is_some() {
            text.push_str(" or left your home region");
        }
        text.push('.');
        return (true, text);
    };
    let flow = report.flows.get(top.flow);
    let server = flow.map(|f| &f.server);
    let ip = top.server.ip.to_string();
    let class = top.class.map_or("traffic", class_name);
    let place = |code: Option<&String>| match code {
        Some(code) => format!("<strong>{}</strong>", E(country_name(code).unwrap_or(code))),
        None => "an unknown location".into(),
    };
    let org = server
        .and_then(|s| match (&s.as_org, s.asn) {
            (Some(org), Some(asn)) => Some(format!("{} (AS{asn})", E(org))),
            (Some(org), None) => Some(E(org).to_string()),
            (None, Some(asn)) => Some(format!("AS{asn}")),
            (None, None) => None,
        })
        .unwrap_or_else(|| "an unknown network".into());
    let check = rules::rule(top.rule).map(|r| r.check);
    // "a Zoom server", "an Element server", "a server".
    let a_server = match cx.app(top.app.as_deref()) {
        Some(app) => {
            let article = if app.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {} server", E(&app))
        }
        None => "a server".into(),
    };
    let text = match check {
        Some(Check::LocatedIn(_)) => {
            let operator = match &top.operator_country {
                Some(op) if top.location.as_ref() != Some(op) => {
                    format!("{org}, registered in {}", E(country_name(op).unwrap_or(op)))
                }
                _ => org,
            };
            format!(
                "The meeting's {class} went to {a_server} in {} ({}), operated by {operator}, which your policy restricts.",
                place(top.location.as_ref().or(top.country.as_ref())),
                E(&ip)
            )
        }
        Some(Check::OperatedFrom(_)) => format!(
            "The meeting's {class} went to {a_server} in {} ({}) operated from {} by {org}, a jurisdiction your policy restricts.",
            place(top.location.as_ref()),
            E(&ip),
            place(top.operator_country.as_ref().or(top.country.as_ref()))
        ),
        Some(Check::CrossBorder(_)) => format!(
            "The meeting's {class} left your home region: it went to {a_server} in {} ({}), operated by {org}.",
            place(top.country.as_ref().or(top.location.as_ref())),
            E(&ip)
        ),
        Some(Check::KeysInClear) => format!(
            "The call's encryption keys were sent unprotected to {} in {}: anyone on the path could read them.",
            E(&ip),
            place(top.location.as_ref())
        ),
        Some(Check::WeakKeyExchange) => format!(
            "The call's key exchange with {} in {} used a weak or deprecated protocol.",
            E(&ip),
            place(top.location.as_ref())
        ),
        Some(Check::ImplausibleLocation) => format!(
            "The location databases place server {} in {}, but its round trip was too short for that to be true.",
            E(&ip),
            place(top.location.as_ref())
        ),
        Some(Check::UnknownLocation) => format!(
            "The meeting's {class} went to a server no location database can place ({}), operated by {org}.",
            E(&ip)
        ),
        None => format!("{}: {}.", E(top.title), E(&ip)),
    };
    (false, text)
}

fn verdict(out: &mut String, cx: &Context, good: bool, headline: &str, traffic: &[CountryTraffic]) {
    let report = cx.report;
    let names: Vec<&str> = report
        .captures
        .iter()
        .map(|c| c.path.rsplit('/').next().unwrap_or(&c.path))
        .collect();
    w!(
        out,
        r#"<header class="verdict {}" id="verdict"><p class="eyebrow">callaudit report · {} · {}</p>"#,
        if good { "good" } else { "bad" },
        E(&names.join(", ")),
        E(&capture_span(report).map_or_else(
            || "no flows".into(),
            |(start, _, secs)| { format!("{} ({})", time_short(start), duration_text(secs)) }
        ))
    );
    let status = if good {
        if report.allowed.is_empty() {
            "Policy respected".to_string()
        } else {
            "Policy respected (with allowed exceptions)".to_string()
        }
    } else {
        let worst = report.worst_severity().map_or("", Severity::as_str);
        format!("Policy broken · {worst}")
    };
    w!(
        out,
        r#"<span class="status">{}</span><h1>{headline}</h1>"#,
        E(&status)
    );
    if let Some(top) = report.findings.first() {
        if let Some(rule) = rules::rule(top.rule) {
            w!(out, r#"<p class="why">{}</p>"#, E(&squeeze(rule.why)));
        }
    } else if !report.allowed.is_empty() {
        w!(
            out,
            r#"<p class="why">{} covered by your policy's allow-list, with the reasons it gives: see “Allowed by your policy” below.</p>"#,
            E(&match report.allowed.len() {
                1 => "One finding is".to_string(),
                n => format!("{n} findings are"),
            })
        );
    } else if traffic.is_empty() {
        w!(
            out,
            r#"<p class="why">callaudit recognised no conferencing key exchange, media or signaling in this capture.</p>"#
        );
    }
    let mut counts = Vec::new();
    if !report.findings.is_empty() {
        let by_severity: Vec<String> = report
            .summary
            .findings_by_severity
            .iter()
            .rev()
            .map(|(severity, n)| format!("{n} {severity}"))
            .collect();
        counts.push(format!(
            "{} ({})",
            plural(report.findings.len() as u64, "finding", "findings"),
            by_severity.join(", ")
        ));
    }
    if !report.allowed.is_empty() {
        counts.push(format!("{} allowed", report.allowed.len()));
    }
    counts.push(plural(report.flows.len() as u64, "flow", "flows"));
    counts.push(plural(report.summary.packets, "packet", "packets"));
    w!(out, r#"<p class="counts">{}</p>"#, E(&counts.join(" · ")));

    // What went where, one tile per class.
    out.push_str(r#"<div class="where" aria-label="Where each kind of traffic went">"#);
    for (i, role) in CLASSES.iter().enumerate() {
        w!(
            out,
            r#"<section class="tile"><h3><span class="swatch" style="background:{}"></span>{}</h3><p class="what">{}</p>"#,
            class_colour(*role),
            capitalise(class_name(*role)),
            class_explained(*role)
        );
        let rows: Vec<&CountryTraffic> = traffic.iter().filter(|t| t.counts[i] > 0).collect();
        if rows.is_empty() {
            out.push_str(r#"<p class="none">None seen.</p>"#);
        } else {
            out.push_str("<ul>");
            for row in rows {
                w!(
                    out,
                    r#"<li{}>{}{}{} <span class="n">· {}</span></li>"#,
                    if row.restricted {
                        r#" class="restricted""#
                    } else {
                        ""
                    },
                    if row.restricted { "⚠ " } else { "" },
                    E(&row.label),
                    row.detail
                        .as_ref()
                        .map(|d| format!(", {}", E(d)))
                        .unwrap_or_default(),
                    plural(row.counts[i], "packet", "packets")
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</section>");
    }
    out.push_str("</div>");
    facts(out, cx);
    out.push_str("</header>\n");
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Earliest first packet, latest last packet, and the seconds between, over all flows.
fn capture_span(report: &Report) -> Option<(Timestamp, Timestamp, f64)> {
    let start = report.flows.iter().map(|f| f.first_seen).min()?;
    let end = report.flows.iter().map(|f| f.last_seen).max()?;
    Some((
        start,
        end,
        (end.as_secs_f64() - start.as_secs_f64()).max(0.0),
    ))
}

fn facts(out: &mut String, cx: &Context) {
    let report = cx.report;
    out.push_str(r#"<div class="facts">"#);

    // What was captured.
    out.push_str("<section><h3>What was captured</h3>");
    for (index, capture) in report.captures.iter().enumerate() {
        let span = report.flows.iter().filter(|f| f.capture == index).fold(
            None,
            |acc: Option<(Timestamp, Timestamp)>, f| {
                Some(match acc {
                    None => (f.first_seen, f.last_seen),
                    Some((a, b)) => (a.min(f.first_seen), b.max(f.last_seen)),
                })
            },
        );
        w!(
            out,
            r#"<p><code>{}</code><br>{} analysed"#,
            E(&capture.path),
            plural(capture.packets, "packet", "packets")
        );
        if capture.packets_read != capture.packets {
            w!(out, " (of {} read)", capture.packets_read);
        }
        w!(
            out,
            ", {} (link type {})",
            link_type_name(capture.link_type),
            capture.link_type
        );
        if let Some((start, end)) = span {
            w!(
                out,
                "<br>{} to {} ({})",
                E(&time_short(start)),
                E(&time_of_day(end)),
                duration_text((end.as_secs_f64() - start.as_secs_f64()).max(0.0))
            );
        }
        out.push_str("</p>");
        if let Some(warning) = &capture.warning {
            w!(out, r#"<p class="warning">⚠ {}</p>"#, E(warning));
        }
    }
    let summary = &report.summary;
    w!(
        out,
        "<p>{} decoded, {} malformed, {}.</p>",
        plural(summary.decoded, "packet", "packets"),
        summary.malformed,
        plural(summary.flows as u64, "flow", "flows")
    );
    for warning in &report.warnings {
        if !report
            .captures
            .iter()
            .any(|c| c.warning.as_ref() == Some(warning))
        {
            w!(out, r#"<p class="warning">⚠ {}</p>"#, E(warning));
        }
    }
    out.push_str("</section>");

    // The policy.
    let policy = &report.policy;
    w!(
        out,
        "<section><h3>The policy</h3><p>Source: <code>{}</code></p>",
        E(&policy.source)
    );
    if let Some(restricted) = &policy.scope.restricted {
        out.push_str("<p>Restricted: ");
        for code in restricted {
            w!(
                out,
                r#"<span class="chip restricted">{}</span>"#,
                E(&country(code))
            );
        }
        out.push_str("</p>");
    }
    for (name, scope) in policy
        .classes
        .iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(
            policy
                .apps
                .iter()
                .map(|(k, v)| (cx.app(Some(k)).unwrap_or_default(), v)),
        )
    {
        if let Some(restricted) = &scope.restricted {
            let codes: Vec<&str> = restricted.iter().map(String::as_str).collect();
            w!(
                out,
                "<p>Restricted for {}: {}</p>",
                E(&name.replace('_', " ")),
                E(&codes.join(", "))
            );
        }
    }
    match &policy.scope.home {
        Some(home) => {
            out.push_str("<p>Home region: ");
            for code in home {
                w!(out, r#"<span class="chip">{}</span>"#, E(&country(code)));
            }
            out.push_str("</p>");
        }
        None => out.push_str("<p>Home region: none set.</p>"),
    }
    match &policy.vantage {
        Some(Vantage::Country(code)) => {
            w!(out, "<p>Captured from: {}</p>", E(&country(code)));
        }
        Some(Vantage::Point { lat, lon }) => {
            w!(out, "<p>Captured from: {lat:.3}, {lon:.3}</p>");
        }
        None => out.push_str("<p>Capture location: not set (no physics check).</p>"),
    }
    if !policy.allow.is_empty() {
        w!(
            out,
            "<p>{}.</p>",
            plural(
                policy.allow.len() as u64,
                "allow-list entry",
                "allow-list entries"
            )
        );
    }
    out.push_str("</section>");

    // The databases.
    out.push_str("<section><h3>Where locations and operators come from</h3>");
    for db in &report.databases {
        let role = match db.role {
            "country" => "Server location",
            "asn" => "Network (AS) and its owner",
            "operator" => "Operator's country",
            other => other,
        };
        w!(
            out,
            "<p><strong>{}</strong>: {} <span class=\"note\">({}, built {})</span></p>",
            E(role),
            E(&db.description),
            E(&db.source),
            E(&db.build_date)
        );
    }
    if report.databases.iter().any(|db| db.source == "embedded") {
        out.push_str(
            "<p class=\"attribution\">Attribution (CC BY 4.0): IP to AS number data by RouteViews \
             (routeviews.org), the Number Resource Organization (nro.net) and DB-IP (db-ip.com, \
             “IP Geolocation by DB-IP”), modified by ip-location-db (merged) and by callaudit \
             (converted to MMDB); country data by ip-location-db from NRO statistics (“The \
             statistics data provided by NRO is licensed under a Creative Commons Attribution 4.0 \
             International License. Copyright holder: Number Resource Organization (NRO), \
             nro.net.”); operator country by IPtoASN (iptoasn.com, PDDL-1.0).</p>",
        );
    }
    out.push_str("</section></div>");
}

fn findings_section(out: &mut String, cx: &Context) {
    let report = cx.report;
    out.push_str("<section id=\"findings\"><h2>Findings</h2>");
    if report.findings.is_empty() {
        out.push_str(
            "<div class=\"ok-box\"><h3>Nothing breaks your policy.</h3><p>No flow sent key exchange, media or signaling to a server your policy restricts.</p></div>",
        );
    } else {
        w!(
            out,
            "<p class=\"note\">Most serious first. Each card names the server, where it is and who operates it, why the policy cares, and the packet that proves it.</p>"
        );
        for (index, finding) in report.findings.iter().enumerate() {
            finding_card(out, cx, index, finding);
        }
    }
    out.push_str("</section>\n");
    if !report.allowed.is_empty() {
        out.push_str(
            "<section id=\"allowed\"><h2>Allowed by your policy</h2><p class=\"note\">These flows would be findings, but an allow-list entry of your policy covers them; its reason is shown. They do not fail the audit.</p>",
        );
        for (index, finding) in report.allowed.iter().enumerate() {
            finding_card(out, cx, index, finding);
        }
        out.push_str("</section>\n");
    }
}

/// A plain-language title: "Key exchange with a server in China (CN)".
fn plain_title(finding: &FindingReport) -> String {
    let class = finding
        .class
        .map_or("Traffic".to_string(), |c| capitalise(class_name(c)));
    let named = |code: Option<&String>| code.map_or("an unknown country".into(), |c| country(c));
    match rules::rule(finding.rule).map(|r| r.check) {
        Some(Check::LocatedIn(_)) => {
            format!(
                "{class} with a server in {}",
                named(finding.country.as_ref())
            )
        }
        Some(Check::OperatedFrom(_)) => format!(
            "{class} with a server operated from {}",
            named(finding.country.as_ref())
        ),
        Some(Check::CrossBorder(_)) => format!(
            "{class} left the home region, to {}",
            named(finding.country.as_ref())
        ),
        _ => finding.title.to_string(),
    }
}

fn finding_card(out: &mut String, cx: &Context, index: usize, finding: &FindingReport) {
    let allowed = finding.allowed.is_some();
    let id = if allowed { "allowed" } else { "finding" };
    w!(
        out,
        r#"<article class="finding sev-{sev}{extra}" id="{id}-{n}" data-rule="{rule}"><header><span class="badge">{sev}</span><h3>{title}</h3><span class="rule-id">rule <code>{rule}</code></span></header>"#,
        sev = finding.severity.as_str(),
        extra = if allowed { " allowed" } else { "" },
        n = index + 1,
        rule = E(finding.rule),
        title = E(&plain_title(finding))
    );
    out.push_str("<dl>");
    if let Some(reason) = &finding.allowed {
        w!(out, "<dt>Allowed because</dt><dd>{}</dd>", E(reason));
    }
    let flow = cx.report.flows.get(finding.flow);
    // Server.
    let mut server = format!("<code>{}</code>", E(&finding.server.to_string()));
    if let Some(host) = &finding.hostname {
        w!(server, " · <code>{}</code>", E(host));
    }
    if let Some(app) = cx.app(finding.app.as_deref()) {
        w!(server, " · {}", E(&app));
    }
    if let Some(role) = flow.and_then(|f| f.server.role) {
        w!(server, " ({})", server_role_name(role));
    }
    w!(out, "<dt>Server</dt><dd>{server}</dd>");
    // Location vs operator.
    let located = flow.map_or_else(
        || {
            finding
                .location
                .as_deref()
                .map_or("unknown location".into(), country)
        },
        |f| location_text(&f.server),
    );
    let restricted_tag = |code: Option<&String>| {
        if cx.is_restricted(code) {
            r#" <span class="tag-restricted">⚠ restricted</span>"#
        } else {
            ""
        }
    };
    w!(
        out,
        "<dt>Located in</dt><dd>{}{}</dd>",
        E(&located),
        restricted_tag(finding.location.as_ref())
    );
    let operator = flow.map_or_else(
        || {
            finding
                .operator_country
                .as_deref()
                .map_or("unknown".into(), country)
        },
        |f| operator_text(&f.server),
    );
    w!(
        out,
        "<dt>Operated by</dt><dd>{}{}</dd>",
        E(&operator),
        restricted_tag(finding.operator_country.as_ref())
    );
    if let Some(rule) = rules::rule(finding.rule) {
        w!(
            out,
            "<dt>Why it matters</dt><dd>{}</dd><dt>What the rule detects</dt><dd>{}</dd>",
            E(&squeeze(rule.why)),
            E(&squeeze(rule.detects))
        );
    }
    // Evidence.
    let capture = cx.capture_path(finding.capture);
    out.push_str("<dt>Evidence</dt><dd>");
    if let Some(flow) = flow {
        w!(
            out,
            "Flow #{}: {} from <code>{}:{}</code> (this computer) to <code>{}</code>. ",
            finding.flow,
            flow.transport.as_str().to_uppercase(),
            E(&flow.client.ip.to_string()),
            flow.client.port,
            E(&endpoint_text(&flow.server))
        );
    }
    w!(
        out,
        "Packet {} at {}",
        finding.packet,
        E(&time_text(finding.time))
    );
    if let (Some(class), Some(packets)) = (finding.class, finding.packets) {
        w!(
            out,
            " is the first of {} in this flow",
            plural(
                packets,
                &format!("{} packet", class_name(class)),
                &format!("{} packets", class_name(class))
            )
        );
    }
    out.push('.');
    let filter = match finding.server.ip {
        std::net::IpAddr::V4(ip) => format!("ip.addr == {ip}"),
        std::net::IpAddr::V6(ip) => format!("ipv6.addr == {ip}"),
    };
    let port_filter = flow.map_or(String::new(), |f| {
        format!(" && {}.port == {}", f.transport.as_str(), f.server.port)
    });
    w!(
        out,
        r#"<div class="wireshark">Open <code>{}</code> in Wireshark and go to frame <strong>{}</strong> (Go → Go to Packet…, Ctrl+G); to see the whole flow, filter with <code>{}{}</code>.</div></dd>"#,
        E(capture),
        finding.packet,
        E(&filter),
        E(&port_filter)
    );
    if !finding.notes.is_empty() {
        out.push_str("<dt>Notes</dt><dd><ul>");
        for note in &finding.notes {
            w!(out, "<li>{}</li>", E(note));
        }
        out.push_str("</ul></dd>");
    }
    out.push_str("</dl></article>\n");
}

fn flows_section(out: &mut String, cx: &Context) {
    let report = cx.report;
    let several = report.captures.len() > 1;
    out.push_str("<section id=\"flows\"><h2>All flows</h2>");
    if report.flows.is_empty() {
        out.push_str("<p>No UDP or TCP flows in the capture.</p></section>\n");
        return;
    }
    out.push_str(
        "<p class=\"note\">One row per conversation between a client and a server, in order of first packet. Rows with a finding are shaded.</p><div class=\"table-box\"><table><thead><tr><th class=\"num\">#</th><th>App</th><th>Protocol</th><th>Server</th><th>Located in</th><th>Operated by</th><th class=\"num\">Key exch.</th><th class=\"num\">Media</th><th class=\"num\">Signaling</th><th class=\"num\">Other</th><th>First packet</th></tr></thead><tbody>",
    );
    for (index, flow) in report.flows.iter().enumerate() {
        let finding = cx.finding_flows.contains(&index);
        w!(
            out,
            r#"<tr{}><td class="num">{}{index}</td>"#,
            if finding {
                r#" class="has-finding""#
            } else {
                ""
            },
            if finding { "⚠ " } else { "" }
        );
        w!(
            out,
            "<td>{}</td>",
            E(&cx.app(flow.app.as_deref()).unwrap_or_else(|| "–".into()))
        );
        w!(
            out,
            "<td>{} {}</td>",
            flow.transport.as_str().to_uppercase(),
            E(&flow.protocols.join(", "))
        );
        w!(out, "<td><code>{}</code>", E(&endpoint_text(&flow.server)));
        if let Some(host) = &flow.hostname {
            w!(out, r#"<span class="sub">{}</span>"#, E(host));
        }
        if let Some(cert) = &flow.certificate {
            w!(out, r#"<span class="sub">certificate {}</span>"#, E(cert));
        }
        out.push_str("</td>");
        w!(
            out,
            "<td>{}{}</td>",
            E(&location_text(&flow.server)),
            if cx.is_restricted(flow.server.country.as_ref()) {
                r#" <span class="tag-restricted">⚠</span>"#
            } else {
                ""
            }
        );
        w!(
            out,
            "<td>{}{}</td>",
            E(&operator_text(&flow.server)),
            if cx.is_restricted(flow.server.operator_country.as_ref()) {
                r#" <span class="tag-restricted">⚠</span>"#
            } else {
                ""
            }
        );
        let p = &flow.packets;
        w!(
            out,
            r#"<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>"#,
            p.key_exchange,
            p.media,
            p.signaling,
            p.other
        );
        w!(
            out,
            r#"<td>{}<span class="sub" title="{}">{}</span>"#,
            flow.first_packet,
            E(&time_text(flow.first_seen)),
            E(&time_of_day(flow.first_seen))
        );
        if several {
            w!(
                out,
                r#"<span class="sub">{}</span>"#,
                E(cx.capture_path(flow.capture))
            );
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></div></section>\n");
}

fn glossary(out: &mut String) {
    out.push_str(
        r#"<section id="glossary"><h2>Glossary</h2><dl class="glossary">
<dt>Key exchange</dt><dd>The handshake in which the two ends agree on the keys that encrypt the call (TLS, DTLS, QUIC, ZRTP, or keys carried in SIP). Whoever takes part in it holds the keys and could decrypt what they protect.</dd>
<dt>Media</dt><dd>The audio, video and screen-sharing packets themselves. Even encrypted, they show who talks to whom, when and for how long.</dd>
<dt>Signaling</dt><dd>The messages that set up and control the call: joining, who is in the meeting, network addresses, and often the delivery of keys.</dd>
<dt>Location vs operator</dt><dd>Location is the country where a database places the server's address. The operator's country is where the network announcing that address is registered: the jurisdiction its owner answers to, which can compel it to hand over data even from servers abroad.</dd>
<dt>Restricted jurisdiction</dt><dd>A country your policy says the call's keys, media or signaling must not reach.</dd>
<dt>Flow</dt><dd>One conversation between this computer (the client) and a server: the same addresses, ports and protocol (UDP or TCP).</dd>
<dt>Packet and frame numbers</dt><dd>Packets are numbered from 1 in the capture file, as Wireshark numbers its frames, so any finding can be checked by opening the file there.</dd>
</dl></section>
"#,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(escape("a & b"), "a &amp; b");
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape(r#""><img src=x onerror=alert(1)>"#),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(escape("' onmouseover='x"), "&#39; onmouseover=&#39;x");
        assert_eq!(escape("&amp;lt;"), "&amp;amp;lt;", "no double-decoding");
        assert_eq!(escape("zoom.us"), "zoom.us");
        assert_eq!(
            escape("Zoom Video Communications, Inc"),
            "Zoom Video Communications, Inc"
        );
        assert_eq!(
            escape("Åland · 北京"),
            "Åland · 北京",
            "non-ASCII text stays"
        );
    }

    #[test]
    fn escape_replaces_control_and_bidi_characters() {
        assert_eq!(escape("a\0b\x1b[31m"), "a\u{FFFD}b\u{FFFD}[31m");
        assert_eq!(escape("evil\u{202E}gpj.exe"), "evil\u{FFFD}gpj.exe");
        assert_eq!(escape("x\u{2066}y\u{2069}"), "x\u{FFFD}y\u{FFFD}");
        assert_eq!(escape("\u{85}"), "\u{FFFD}", "C1 control");
        assert_eq!(escape("line\nbreak\ttab"), "line\nbreak\ttab");
    }

    #[test]
    fn hostile_strings_cannot_open_a_tag_or_leave_an_attribute() {
        for hostile in [
            "</title><script>alert(1)</script>",
            "</svg><img src=x onerror=alert(1)>",
            "]]><!--",
            "\" style=\"background:url(http://evil/)",
            "' href='https://evil/",
            "<style>@import 'https://evil/x.css';</style>",
        ] {
            let escaped = escape(hostile);
            assert!(!escaped.contains('<'), "{escaped}");
            assert!(!escaped.contains('>'), "{escaped}");
            assert!(!escaped.contains('"'), "{escaped}");
            assert!(!escaped.contains('\''), "{escaped}");
            let mut svg = String::new();
            w!(svg, r#"<text title="{}">{}</text>"#, E(hostile), E(hostile));
            assert_eq!(svg.matches('<').count(), 2, "{svg}");
        }
    }

    fn row(label: &str, restricted: bool, counts: [u64; 3]) -> CountryTraffic {
        CountryTraffic {
            label: label.into(),
            detail: None,
            restricted,
            counts,
        }
    }

    #[test]
    fn chart_with_no_country_has_no_bars_and_says_so() {
        let chart = bar_chart(&[]);
        assert!(chart.rows.is_empty());
        assert!(chart.height > CHART_TOP);
        let svg = country_chart_svg(&[]);
        assert!(!svg.contains(r#"class="bar""#), "{svg}");
        assert!(svg.contains("No key exchange, media or signaling"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn chart_with_one_country_fills_the_scale() {
        let chart = bar_chart(&[row("United States (US)", false, [5, 140, 8])]);
        assert_eq!(chart.rows.len(), 1);
        let bar = &chart.rows[0];
        assert_eq!(bar.segments.len(), 3);
        assert_eq!(bar.segments[0].x, CHART_BAR_X);
        assert!(
            (bar.end_x - (CHART_BAR_X + CHART_BAR_MAX)).abs() < 1e-9,
            "{bar:?}"
        );
        let roles: Vec<Role> = bar.segments.iter().map(|s| s.role).collect();
        assert_eq!(roles, CLASSES);
        // Segments are contiguous and proportional.
        for pair in bar.segments.windows(2) {
            assert!((pair[0].x + pair[0].width - pair[1].x).abs() < 1e-9);
        }
        assert!((bar.segments[1].width / bar.segments[0].width - 28.0).abs() < 1e-9);
        assert!(chart.height >= bar.y + CHART_ROW);
    }

    #[test]
    fn chart_with_many_countries_shares_one_scale() {
        let rows = [
            row("China (CN)", true, [60, 0, 40]),
            row("United States (US)", false, [50, 1400, 80]),
            row("Germany (DE)", false, [0, 1, 0]),
        ];
        let chart = bar_chart(&rows);
        assert_eq!(chart.rows.len(), 3);
        // Rows stack downwards without overlapping, and bars stay inside the chart.
        for pair in chart.rows.windows(2) {
            assert!(pair[1].y >= pair[0].y + CHART_ROW - 1e-9);
        }
        for bar in &chart.rows {
            assert!(bar.bar_y >= bar.y && bar.bar_y + CHART_BAR_HEIGHT <= bar.y + CHART_ROW);
            assert!(bar.end_x <= CHART_BAR_X + CHART_BAR_MAX + MIN_SEGMENT);
        }
        // Empty classes get no segment; the largest total fills the scale.
        assert_eq!(chart.rows[0].segments.len(), 2);
        assert!((chart.rows[1].end_x - CHART_BAR_X - CHART_BAR_MAX).abs() < 1e-9);
        let scale = CHART_BAR_MAX / 1530.0;
        assert!((chart.rows[0].end_x - CHART_BAR_X - 100.0 * scale).abs() < 1e-9);
        // A tiny count stays visible.
        assert_eq!(chart.rows[2].segments[0].width, MIN_SEGMENT);
        let svg = country_chart_svg(&rows);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 6, "{svg}");
        assert!(svg.contains("restricted-band"));
        assert!(svg.contains("<title>China (CN): 60 packets of key exchange</title>"));
    }

    #[test]
    fn timeline_places_flows_on_one_axis() {
        let empty = timeline(&[]);
        assert!(empty.rows.is_empty());
        assert!(!empty.ticks.is_empty());

        let one = timeline(&[Span {
            start: 100.0,
            end: 100.0,
        }]);
        assert_eq!(one.rows.len(), 1);
        assert_eq!(
            one.rows[0].width, MIN_FLOW_WIDTH,
            "an instant is still visible"
        );

        let many = timeline(&[
            Span {
                start: 10.0,
                end: 12.0,
            },
            Span {
                start: 11.0,
                end: 13.0,
            },
        ]);
        assert!((many.rows[0].x - TIMELINE_X).abs() < 1e-9);
        assert!((many.rows[1].x + many.rows[1].width - TIMELINE_X - TIMELINE_PLOT).abs() < 1e-9);
        assert!((many.rows[0].width - TIMELINE_PLOT * 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(many.ticks.first().unwrap().1, "+0.0 s");
        assert!(many
            .ticks
            .iter()
            .all(|(x, _)| *x <= TIMELINE_X + TIMELINE_PLOT + 1e-6));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(nice_step(0.4), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(70.0), 100.0);
        assert_eq!(tick_label(120.0, 100.0), "+2 min");
        assert_eq!(tick_label(1.5, 0.5), "+1.5 s");
    }

    #[test]
    fn country_names() {
        assert_eq!(country("CN"), "China (CN)");
        assert_eq!(country("US"), "United States (US)");
        assert_eq!(country("XK"), "Kosovo (XK)");
        assert_eq!(country("ZZ"), "ZZ");
        assert_eq!(COUNTRY_NAMES.split('|').count(), 250);
    }
}
