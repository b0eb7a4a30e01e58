use std::net::IpAddr;

use super::*;
use crate::geo::SpecialRange;

fn policy(text: &str) -> Policy {
    Policy::parse(text, Path::new("test.toml"), "test.toml".into())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    Policy::parse(text, Path::new("test.toml"), "test.toml".into())
        .expect_err("an error")
        .to_string()
}

fn geo(country: Option<&str>, operator: Option<&str>) -> ServerGeo {
    ServerGeo {
        country: country.map(str::to_string),
        operator_country: operator.map(str::to_string),
        asn: Some(64500),
        as_org: Some("Example".into()),
        special: None,
        anycast: None,
        disagreement: Vec::new(),
        coordinates: None,
    }
}

fn at(number: u64) -> PacketRef {
    PacketRef {
        number,
        time: Timestamp {
            secs: 1_585_839_600,
            micros: 0,
        },
    }
}

/// A flow with key exchange at packet 3, media at 10, signaling at 5.
fn facts<'a>(geo: &'a ServerGeo, app: Option<&'a str>) -> FlowFacts<'a> {
    FlowFacts {
        flow: 7,
        transport: Transport::Tcp,
        app,
        hostname: Some("zoombj250mmr.bj.zoom.us"),
        server: Endpoint {
            ip: "52.81.151.250".parse::<IpAddr>().unwrap(),
            port: 443,
        },
        first_packet: at(1),
        first_of_class: [Some(at(3)), Some(at(10)), Some(at(5))],
        geo,
        network_label: None,
        rtt_ms: None,
        plausible: None,
        tls_version: Some(0x0303),
        srtp_profile: None,
        keys_in_clear: None,
    }
}

fn rules_of(policy: &Policy, facts: &FlowFacts<'_>) -> Vec<(&'static str, Severity, u64, bool)> {
    let mut findings = Vec::new();
    policy.evaluate(facts, &mut findings);
    findings
        .iter()
        .map(|f| (f.rule, f.severity, f.packet, f.allowed.is_some()))
        .collect()
}

#[test]
fn builtin_policy_parses_and_restricts_china_by_group() {
    let policy = Policy::builtin().unwrap();
    let restricted = policy.scope.restricted.as_ref().unwrap();
    for code in ["CN", "HK", "MO", "RU", "BY", "CU", "IR", "KP", "SY"] {
        assert!(restricted.contains(code), "{code}");
    }
    assert!(!restricted.contains("NL"));
    assert!(policy.scope.home.is_none() && policy.vantage.is_none() && policy.allow.is_empty());
}

#[test]
fn the_starter_policy_is_valid() {
    let starter = policy(STARTER_POLICY);
    assert!(starter.scope.restricted.as_ref().unwrap().contains("CN"));
}

#[test]
fn located_in_a_restricted_country_gives_one_finding_per_class() {
    let policy = Policy::builtin().unwrap();
    let beijing = geo(Some("CN"), Some("CN"));
    let found = rules_of(&policy, &facts(&beijing, Some("zoom")));
    assert_eq!(
        found,
        [
            ("restricted-key-exchange", Severity::Critical, 3, false),
            ("restricted-media", Severity::High, 10, false),
            ("restricted-signaling", Severity::Medium, 5, false),
        ]
    );
}

#[test]
fn operated_from_a_restricted_country_is_its_own_rule() {
    let policy = Policy::builtin().unwrap();
    let frankfurt_chinese_as = geo(Some("DE"), Some("CN"));
    let mut findings = Vec::new();
    policy.evaluate(&facts(&frankfurt_chinese_as, None), &mut findings);
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [
            "restricted-operator-key-exchange",
            "restricted-operator-media",
            "restricted-operator-signaling"
        ]
    );
    assert_eq!(
        findings[0].country.as_deref(),
        Some("CN"),
        "the finding is about the operator's country"
    );
    // Located in a restricted country: the location rule covers it, the operator rule stays quiet.
    let both = geo(Some("CN"), Some("CN"));
    assert!(!rules_of(&policy, &facts(&both, None))
        .iter()
        .any(|r| r.0.contains("operator")));
}

#[test]
fn home_region_makes_cross_border_findings_and_allow_entries_clear_them() {
    let policy = policy(
        r#"
        home = ["US"]
        [[allow]]
        cidr = "52.81.0.0/16"
        rules = ["cross-border-media"]
        reason = "accepted for this test"
        "#,
    );
    let amsterdam = geo(Some("NL"), Some("NL"));
    let found = rules_of(&policy, &facts(&amsterdam, None));
    assert_eq!(
        found,
        [
            ("cross-border-key-exchange", Severity::High, 3, false),
            ("cross-border-media", Severity::High, 10, true),
        ]
    );
    let at_home = geo(Some("US"), Some("US"));
    assert!(rules_of(&policy, &facts(&at_home, None)).is_empty());
}

#[test]
fn app_and_class_scopes_override_the_top_level() {
    let policy = policy(
        r#"
        restricted = ["RU"]
        [classes.media]
        restricted = ["NL"]
        [apps.zoom]
        restricted = ["DE"]
        severity = { "restricted-key-exchange" = "low" }
        [severity]
        "restricted-signaling" = "off"
        "#,
    );
    let amsterdam = geo(Some("NL"), Some("NL"));
    assert_eq!(
        rules_of(&policy, &facts(&amsterdam, None)),
        [("restricted-media", Severity::High, 10, false)]
    );
    assert!(
        rules_of(&policy, &facts(&amsterdam, Some("zoom"))).is_empty(),
        "zoom restricts only DE"
    );
    let frankfurt = geo(Some("DE"), Some("DE"));
    assert_eq!(
        rules_of(&policy, &facts(&frankfurt, Some("zoom"))),
        [
            ("restricted-key-exchange", Severity::Low, 3, false),
            ("restricted-media", Severity::High, 10, false)
        ],
        "signaling is off everywhere"
    );
}

#[test]
fn allow_entries_match_on_every_criterion_given() {
    let policy = policy(
        r#"
        restricted = ["CN"]
        [[allow]]
        asn = 64500
        domain = "zoom.us"
        reason = "both must match"
        "#,
    );
    let beijing = geo(Some("CN"), Some("CN"));
    assert!(rules_of(&policy, &facts(&beijing, None))
        .iter()
        .all(|r| r.3));
    let mut other_host = facts(&beijing, None);
    other_host.hostname = Some("example.org");
    assert!(rules_of(&policy, &other_host).iter().all(|r| !r.3));
}

#[test]
fn keys_in_clear_and_weak_key_exchange() {
    let policy = Policy::builtin().unwrap();
    let us = geo(Some("US"), Some("US"));
    let mut sip = facts(&us, None);
    sip.keys_in_clear = Some(at(7));
    sip.tls_version = Some(0x0301);
    let found = rules_of(&policy, &sip);
    assert_eq!(
        found,
        [
            ("keys-in-clear", Severity::Critical, 7, false),
            ("weak-key-exchange", Severity::High, 3, false)
        ]
    );
    let mut null_srtp = facts(&us, None);
    null_srtp.srtp_profile = Some(0x0005);
    assert_eq!(
        rules_of(&policy, &null_srtp),
        [("weak-key-exchange", Severity::High, 3, false)]
    );
}

#[test]
fn unknown_location_only_for_public_servers_with_keys_or_media() {
    let policy = Policy::builtin().unwrap();
    let nowhere = geo(None, None);
    assert_eq!(
        rules_of(&policy, &facts(&nowhere, None)),
        [("unknown-location", Severity::Low, 3, false)]
    );
    let mut private = geo(None, None);
    private.special = Some(SpecialRange::Private);
    assert!(rules_of(&policy, &facts(&private, None)).is_empty());
}

#[test]
fn implausible_location_needs_a_vantage_and_a_round_trip() {
    let policy = policy("restricted = [\"RU\"]\nvantage = \"DE\"");
    let sydney = geo(Some("AU"), Some("AU"));
    let mut fast = facts(&sydney, None);
    fast.rtt_ms = Some(2.0);
    assert_eq!(policy.location_plausible(&sydney, Some(2.0)), Some(false));
    assert_eq!(policy.location_plausible(&sydney, Some(300.0)), Some(true));
    assert_eq!(
        rules_of(&policy, &fast),
        [("implausible-location", Severity::Medium, 1, false)]
    );
    assert_eq!(
        Policy::builtin()
            .unwrap()
            .location_plausible(&sydney, Some(2.0)),
        None,
        "no vantage"
    );
}

#[test]
fn networks_place_private_space() {
    let policy = policy(
        r#"
        restricted = ["RU"]
        [[networks]]
        cidr = "10.20.0.0/16"
        label = "Moscow office"
        country = "ru"
        "#,
    );
    let network = policy.network("10.20.1.2".parse().unwrap()).unwrap();
    assert_eq!(
        (network.label.as_str(), network.country.as_str()),
        ("Moscow office", "RU")
    );
    assert!(policy.network("10.21.0.1".parse().unwrap()).is_none());
}

#[test]
fn errors_name_line_column_and_what_was_expected() {
    assert_eq!(
        error("restricted = [\"CN\", \"UK\"]"),
        "test.toml:1:21: \"UK\" is not an ISO 3166-1 code: the United Kingdom is \"GB\""
    );
    assert!(error("restricted = [\"CN\"]\nhome = [\"@nato\"]")
        .starts_with("test.toml:2:9: unknown group"));
    assert!(
        error("restrcted = [\"CN\"]").contains("test.toml:1:1:"),
        "{}",
        error("restrcted = [\"CN\"]")
    );
    assert!(
        error("restricted = [\"CN\"]\n[severity]\n\"restricted-media\" = \"severe\"")
            .starts_with("test.toml:3:22:")
    );
    assert!(
        error("restricted = [\"CN\"]\n[severity]\n\"no-such-rule\" = \"low\"")
            .contains("unknown rule")
    );
    assert!(
        error("restricted = [\"CN\"]\n[[allow]]\ncidr = \"10.0.0.0/8\"")
            .contains("without a `reason`")
    );
    assert!(error("restricted = [\"CN\"]\n[[allow]]\nreason = \"x\"").contains("matches nothing"));
    assert!(
        error("restricted = [\"CN\"]\n[[allow]]\ncidr = \"10.0.0.1/8\"\nreason = \"x\"")
            .contains("address bits")
    );
    assert!(
        error("restricted = [\"CN\"]\nvantage = { lat = 95.0, lon = 0.0 }")
            .contains("out of range")
    );
    assert!(error("").contains("restricts nothing"));
    assert!(error("restricted = [").starts_with("test.toml:1:"));
}

#[test]
fn a_missing_file_is_named() {
    let err = Policy::from_file(Path::new("/nonexistent/policy.toml")).unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/policy.toml: no such file");
}

#[test]
fn severities_order_from_info_to_critical() {
    assert!(Severity::Critical > Severity::High);
    assert!(Severity::High > Severity::Medium);
    assert!(Severity::Low > Severity::Info);
}

#[test]
fn findings_say_when_the_location_is_doubtful() {
    let policy = Policy::builtin().unwrap();
    let mut doubtful = geo(Some("CN"), Some("CN"));
    doubtful.disagreement = vec![
        crate::geo::SourceCountry {
            source: "a.mmdb".into(),
            country: Some("CN".into()),
        },
        crate::geo::SourceCountry {
            source: "b.mmdb".into(),
            country: Some("SG".into()),
        },
    ];
    doubtful.anycast = Some("Example CDN".into());
    let mut findings = Vec::new();
    policy.evaluate(&facts(&doubtful, None), &mut findings);
    let notes = &findings[0].notes;
    assert!(
        notes.contains(&"location databases disagree: a.mmdb says CN, b.mmdb says SG".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"location unreliable: anycast (Example CDN)".to_string()),
        "{notes:?}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Country entries as a policy may write them: codes in any case, and groups.
    const ENTRIES: [&str; 14] = [
        "CN",
        "ru",
        "By",
        "IR",
        "KP",
        "US",
        "de",
        "GB",
        "JP",
        "@china",
        "@sanctioned",
        "@eu",
        "@five-eyes",
        "@EEA",
    ];
    const LEVELS: [&str; 6] = ["info", "low", "medium", "high", "critical", "off"];

    #[derive(Debug, Clone)]
    struct AllowSpec {
        cidr: Option<(u32, u8)>,
        asn: Option<u32>,
        domain: Option<String>,
        app: Option<String>,
        rules: Vec<usize>,
        reason: String,
    }

    /// A generated policy file: the one policy generator of these tests.
    #[derive(Debug, Clone)]
    struct PolicySpec {
        restricted: Vec<usize>,
        home: Option<Vec<usize>>,
        vantage: Option<Result<usize, (i32, i32)>>,
        severity: Vec<(usize, usize)>,
        media_restricted: Option<Vec<usize>>,
        app_scopes: Vec<(String, Vec<usize>)>,
        allow: Vec<AllowSpec>,
        networks: Vec<((u32, u8), String, usize)>,
    }

    fn list(entries: &[usize]) -> String {
        let quoted: Vec<String> = entries
            .iter()
            .map(|&e| format!("{:?}", ENTRIES[e]))
            .collect();
        format!("[{}]", quoted.join(", "))
    }

    fn prefix((address, len): (u32, u8)) -> String {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        format!("{}/{len}", std::net::Ipv4Addr::from(address & mask))
    }

    fn countries(entries: &[usize]) -> BTreeSet<String> {
        entries
            .iter()
            .flat_map(|&e| countries::expand(ENTRIES[e]).unwrap())
            .collect()
    }

    impl PolicySpec {
        fn text(&self) -> String {
            let mut t = format!("restricted = {}\n", list(&self.restricted));
            if let Some(home) = &self.home {
                t.push_str(&format!("home = {}\n", list(home)));
            }
            match self.vantage {
                Some(Ok(e)) => t.push_str(&format!("vantage = {:?}\n", &ENTRIES[e % 9])),
                Some(Err((lat, lon))) => {
                    t.push_str(&format!("vantage = {{ lat = {lat}.5, lon = {lon}.25 }}\n"))
                }
                None => {}
            }
            for (i, network) in self.networks.iter().enumerate() {
                let _ = i;
                t.push_str(&format!(
                    "\n[[networks]]\ncidr = {:?}\nlabel = {:?}\ncountry = {:?}\n",
                    prefix(network.0),
                    network.1,
                    ENTRIES[network.2 % 9]
                ));
            }
            for entry in &self.allow {
                t.push_str("\n[[allow]]\n");
                if let Some(cidr) = entry.cidr {
                    t.push_str(&format!("cidr = {:?}\n", prefix(cidr)));
                }
                if let Some(asn) = entry.asn {
                    t.push_str(&format!("asn = {asn}\n"));
                }
                if let Some(domain) = &entry.domain {
                    t.push_str(&format!("domain = {domain:?}\n"));
                }
                if let Some(app) = &entry.app {
                    t.push_str(&format!("app = {app:?}\n"));
                }
                if !entry.rules.is_empty() {
                    let ids: Vec<String> = entry
                        .rules
                        .iter()
                        .map(|&r| format!("{:?}", RULES[r].id))
                        .collect();
                    t.push_str(&format!("rules = [{}]\n", ids.join(", ")));
                }
                t.push_str(&format!("reason = {:?}\n", entry.reason));
            }
            if !self.severity.is_empty() {
                t.push_str("\n[severity]\n");
                for &(rule, level) in &self.severity {
                    t.push_str(&format!("{:?} = {:?}\n", RULES[rule].id, LEVELS[level]));
                }
            }
            if let Some(media) = &self.media_restricted {
                t.push_str(&format!(
                    "\n[classes.media]\nrestricted = {}\n",
                    list(media)
                ));
            }
            for (app, entries) in &self.app_scopes {
                t.push_str(&format!("\n[apps.{app}]\nhome = {}\n", list(entries)));
            }
            t
        }
    }

    fn entries() -> impl Strategy<Value = Vec<usize>> {
        proptest::collection::vec(0..ENTRIES.len(), 0..5)
    }

    fn any_policy() -> impl Strategy<Value = PolicySpec> {
        let allow = (
            proptest::option::of((any::<u32>(), 0u8..=32)),
            proptest::option::of(1u32..),
            proptest::option::of("[a-z0-9]{1,10}\\.[a-z]{2,5}\\.?"),
            proptest::option::of("[a-z][a-z0-9-]{0,10}"),
            proptest::collection::vec(0..RULES.len(), 0..3),
            "[A-Za-z][A-Za-z0-9 ,.]{0,30}",
        )
            .prop_filter("an entry matches something", |a| {
                a.0.is_some() || a.1.is_some() || a.2.is_some() || a.3.is_some()
            })
            .prop_map(|(cidr, asn, domain, app, rules, reason)| AllowSpec {
                cidr,
                asn,
                domain,
                app,
                rules,
                reason,
            });
        (
            entries(),
            proptest::option::of(entries()),
            proptest::option::of(prop_oneof![
                (0usize..9).prop_map(Ok),
                (-89i32..89, -179i32..179).prop_map(Err),
            ]),
            proptest::collection::btree_map(0..RULES.len(), 0..LEVELS.len(), 0..4),
            proptest::option::of(entries()),
            proptest::collection::btree_map("[a-z][a-z0-9_-]{0,8}", entries(), 0..3),
            proptest::collection::vec(allow, 0..4),
            proptest::collection::vec(
                (
                    (any::<u32>(), 0u8..=32),
                    "[A-Za-z][A-Za-z ]{0,15}",
                    0usize..9,
                ),
                0..3,
            ),
        )
            .prop_map(
                |(
                    restricted,
                    home,
                    vantage,
                    severity,
                    media_restricted,
                    app_scopes,
                    allow,
                    networks,
                )| {
                    PolicySpec {
                        restricted,
                        home,
                        vantage,
                        severity: severity.into_iter().collect(),
                        media_restricted,
                        app_scopes: app_scopes.into_iter().collect(),
                        allow,
                        networks,
                    }
                },
            )
    }

    proptest! {
        /// Any text: an error with a line and column inside the text, or a policy.
        #[test]
        fn arbitrary_text_never_panics(
            head in prop::sample::select(vec!["", "restricted = [", "restricted = [\"CN\"]\n[[allow]]\n", "[severity]\n"]),
            text in "\\PC{0,120}",
        ) {
            let text = format!("{head}{text}");
            if let Err(error) = Policy::from_text(&text, "fuzz.toml") {
                if let Some((line, column)) = error.position {
                    prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
                    prop_assert!(column >= 1);
                }
            }
        }

    }

    proptest! {
        // A TOML parse per cut: fewer cases keep this test near a second.
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// A policy built from arbitrary countries, groups, severities, allow entries,
        /// networks, a vantage and class and app scopes reads back as built. Every prefix of
        /// its text is an error placed inside the prefix, or a policy holding no more than the
        /// whole one.
        #[test]
        fn generated_policy_round_trips_and_truncates(spec in any_policy()) {
            let text = spec.text();
            let policy = Policy::from_text(&text, "generated.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
            prop_assert_eq!(policy.scope.restricted.as_ref(), Some(&countries(&spec.restricted)));
            prop_assert_eq!(policy.scope.home.clone(), spec.home.as_deref().map(countries));
            let vantage = spec.vantage.map(|v| match v {
                Ok(e) => Vantage::Country(ENTRIES[e].to_ascii_uppercase()),
                Err((lat, lon)) => Vantage::Point {
                    lat: format!("{lat}.5").parse().unwrap(),
                    lon: format!("{lon}.25").parse().unwrap(),
                },
            });
            prop_assert_eq!(&policy.vantage, &vantage);
            let severity: BTreeMap<String, Option<Severity>> = spec
                .severity
                .iter()
                .map(|&(rule, level)| {
                    let level = Severity::parse_or_off(LEVELS[level]).unwrap();
                    (RULES[rule].id.to_string(), level)
                })
                .collect();
            prop_assert_eq!(&policy.scope.severity, &severity);
            prop_assert_eq!(
                policy.classes.get("media").map(|s| s.restricted.clone().unwrap()),
                spec.media_restricted.as_deref().map(countries)
            );
            prop_assert_eq!(policy.apps.len(), spec.app_scopes.len());
            for (app, entries) in &spec.app_scopes {
                prop_assert_eq!(policy.apps[app].home.as_ref(), Some(&countries(entries)));
            }
            prop_assert_eq!(policy.allow.len(), spec.allow.len());
            for (got, want) in policy.allow.iter().zip(&spec.allow) {
                prop_assert_eq!(got.cidr.map(|c| c.to_string()), want.cidr.map(prefix));
                prop_assert_eq!(got.asn, want.asn);
                prop_assert_eq!(got.domain.clone(), want.domain.as_ref().map(|d| d.trim_end_matches('.').to_string()));
                prop_assert_eq!(&got.app, &want.app);
                let rules: Vec<String> = want.rules.iter().map(|&r| RULES[r].id.to_string()).collect();
                prop_assert_eq!(&got.rules, &rules);
                prop_assert_eq!(&got.reason, want.reason.trim());
            }
            prop_assert_eq!(policy.networks.len(), spec.networks.len());
            for (got, want) in policy.networks.iter().zip(&spec.networks) {
                prop_assert_eq!(got.cidr.to_string(), prefix(want.0));
                prop_assert_eq!(&got.label, &want.1);
                prop_assert_eq!(&got.country, &ENTRIES[want.2 % 9].to_ascii_uppercase());
            }

            // Cuts just before and after every line end, and a sample of those inside lines
            // (a TOML parse per cut is too slow for all of them).
            let cuts = (0..text.len()).filter(|&cut| {
                cut % 23 == 0 || text.as_bytes()[cut.saturating_sub(1)..(cut + 1).min(text.len())].contains(&b'\n')
            });
            for cut in cuts {
                let prefix_text = &text[..cut];
                match Policy::from_text(prefix_text, "cut.toml") {
                    Ok(partial) => {
                        let within = |part: &Option<BTreeSet<String>>, whole: &Option<BTreeSet<String>>| {
                            part.as_ref().is_none_or(|p| whole.as_ref().is_some_and(|w| p.is_subset(w)))
                        };
                        prop_assert!(within(&partial.scope.restricted, &policy.scope.restricted));
                        prop_assert!(within(&partial.scope.home, &policy.scope.home));
                        prop_assert!(partial.allow.len() <= policy.allow.len());
                        prop_assert!(partial.networks.len() <= policy.networks.len());
                        prop_assert!(partial.apps.len() <= policy.apps.len());
                        for (rule, level) in &partial.scope.severity {
                            prop_assert_eq!(policy.scope.severity.get(rule), Some(level));
                        }
                    }
                    Err(error) => {
                        if let Some((line, _)) = error.position {
                            prop_assert!(line <= prefix_text.split('\n').count(), "cut {}: {}", cut, error);
                        }
                    }
                }
            }
        }
    }
}
