//! Lookups against the embedded data, the special ranges, broken files, and replacement
//! databases (the tiny MaxMind-schema files in `data/geoip/test/`, made by
//! `cargo xtask geoip --test-dbs`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

static CITY_TEST: &[u8] = include_bytes!("../../data/geoip/test/city-test.mmdb");
static ASN_TEST: &[u8] = include_bytes!("../../data/geoip/test/asn-test.mmdb");

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn embedded() -> GeoDb {
    GeoDb::embedded().expect("embedded databases open")
}

/// A temporary file, removed when dropped.
struct TempFile(PathBuf);

impl std::ops::Deref for TempFile {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `bytes` to a fresh temporary file.
fn temp_file(name: &str, bytes: &[u8]) -> TempFile {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join("callaudit-geo-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!(
        "{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).expect("temp file");
    TempFile(path)
}

type Basics = (
    Option<String>,
    Option<u32>,
    Option<String>,
    Option<SpecialRange>,
);

/// The fields that existed before operator country, disagreement, anycast and coordinates.
fn basics(geo: ServerGeo) -> Basics {
    (geo.country, geo.asn, geo.as_org, geo.special)
}

fn public(country: &str, asn: u32, org: &str) -> Basics {
    (Some(country.into()), Some(asn), Some(org.into()), None)
}

fn paths(files: &[&TempFile]) -> Vec<PathBuf> {
    files.iter().map(|f| f.0.clone()).collect()
}

// ----- embedded data -------------------------------------------------------------------------

#[test]
fn embedded_lookups_match_the_data() {
    let db = embedded();
    // What this version of the data says (the AS name is the registrant's, not the tenant's).
    assert_eq!(
        basics(db.lookup(ip("109.94.160.99"))),
        public("NL", 60893, "Art of Automation B.V.")
    );
    // AWS Beijing, operated by a Chinese partner.
    assert_eq!(
        basics(db.lookup(ip("52.81.151.250"))),
        public("CN", 55960, "Beijing Guanghuan Xinwang Digital")
    );
    assert_eq!(
        basics(db.lookup(ip("144.195.73.154"))),
        public("US", 30103, "Zoom Video Communications, Inc")
    );
    let google_dns = db.lookup(ip("8.8.8.8"));
    assert_eq!(
        (google_dns.asn, google_dns.as_org.as_deref()),
        (Some(15169), Some("Google LLC"))
    );
    assert_eq!(google_dns.country.as_deref(), Some("US"));
    assert_eq!(
        basics(db.lookup(ip("2a00:1450:4001:80b::200e"))),
        public("IE", 15169, "Google LLC")
    );
}

#[test]
fn ipv4_mapped_and_nat64_addresses_are_looked_up_as_ipv4() {
    let db = embedded();
    let plain = db.lookup(ip("8.8.8.8"));
    assert_eq!(db.lookup(ip("::ffff:8.8.8.8")), plain);
    assert_eq!(db.lookup(ip("64:ff9b::808:808")), plain);
    assert_eq!(
        db.lookup(ip("::ffff:10.1.2.3")).special,
        Some(SpecialRange::Private)
    );
}

#[test]
fn known_error_of_the_data_cernet_comes_out_au() {
    // Documented in data/geoip/README.md: CERNET (China) is AU in this data. If this fails the
    // data was fixed: update the README and this test.
    assert_eq!(
        embedded().lookup(ip("2001:da8::1")).country.as_deref(),
        Some("AU")
    );
}

#[test]
fn embedded_database_info() {
    let infos = embedded().databases();
    assert_eq!(infos.len(), 3);
    assert_eq!(
        (infos[2].role, infos[2].source.as_str()),
        ("operator", "embedded")
    );
    assert_eq!(infos[2].database_type, "country ipvAll");
    assert!(infos[2].description.contains("IPtoASN"), "{:?}", infos[2]);
    assert_eq!(
        (infos[0].role, infos[0].source.as_str()),
        ("country", "embedded")
    );
    assert_eq!(
        (infos[1].role, infos[1].source.as_str()),
        ("asn", "embedded")
    );
    assert_eq!(infos[0].database_type, "country ipvAll");
    assert_eq!(infos[1].database_type, "ipLocationDb-ASN");
    for info in &infos {
        assert_eq!(info.build_date.len(), 10, "{info:?}");
        assert!(info.build_date.starts_with("20"), "{info:?}");
        assert!(!info.description.is_empty(), "{info:?}");
    }
}

#[test]
fn unannounced_public_address_has_no_asn() {
    // 1.0.1.0/24..1.0.3.255 lies between ranges of the ASN data (1.0.0.0/24, 1.0.4.0/22).
    let geo = embedded().lookup(ip("1.0.2.1"));
    assert_eq!((geo.asn, geo.as_org, geo.special), (None, None, None));
}

// ----- special ranges ------------------------------------------------------------------------

#[test]
fn every_special_range_is_answered_without_lookup() {
    use SpecialRange::*;
    let cases = [
        ("10.1.2.3", Private),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.168.1.1", Private),
        ("127.0.0.1", Loopback),
        ("::1", Loopback),
        ("169.254.10.20", LinkLocal),
        ("fe80::1", LinkLocal),
        ("100.64.0.1", Cgnat),
        ("100.127.255.255", Cgnat),
        ("192.0.2.1", Documentation),
        ("198.51.100.7", Documentation),
        ("203.0.113.99", Documentation),
        ("2001:db8::1", Documentation),
        ("3fff::1", Documentation),
        ("198.18.0.1", Benchmarking),
        ("198.19.255.255", Benchmarking),
        ("2001:2::1", Benchmarking),
        ("224.0.0.251", Multicast),
        ("239.255.255.250", Multicast),
        ("ff02::fb", Multicast),
        ("fc00::1", UniqueLocal),
        ("fd12:3456::1", UniqueLocal),
        ("0.0.0.0", Unspecified),
        ("::", Unspecified),
        ("0.1.2.3", ThisNetwork),
        ("255.255.255.255", Broadcast),
        ("240.0.0.1", Reserved),
        ("255.255.255.254", Reserved),
        ("100::1", Reserved),
        ("fec0::1", Reserved),
        ("::1.2.3.4", Reserved),
        ("192.0.0.9", ProtocolAssignment),
        ("::ffff:192.168.0.1", Private),
        ("::ffff:127.0.0.1", Loopback),
    ];
    let db = embedded();
    for (text, range) in cases {
        assert_eq!(db.lookup(ip(text)), ServerGeo::special(range), "{text}");
    }
}

#[test]
fn boundaries_of_special_ranges_are_public() {
    for text in [
        "172.32.0.1",
        "100.128.0.1",
        "11.0.0.1",
        "198.20.0.1",
        "192.0.1.1",
        "2001:db9::1",
        "2606:4700::1111",
    ] {
        assert_eq!(special_range(ip(text)), None, "{text}");
    }
}

#[test]
fn special_range_names_are_stable() {
    use SpecialRange::*;
    let names = [
        (Private, "private"),
        (Loopback, "loopback"),
        (LinkLocal, "link_local"),
        (Cgnat, "cgnat"),
        (Documentation, "documentation"),
        (Multicast, "multicast"),
        (Unspecified, "unspecified"),
        (Broadcast, "broadcast"),
        (Reserved, "reserved"),
        (UniqueLocal, "unique_local"),
        (Benchmarking, "benchmarking"),
        (ThisNetwork, "this_network"),
        (ProtocolAssignment, "protocol_assignment"),
    ];
    for (range, name) in names {
        assert_eq!(range.as_str(), name);
        assert_eq!(range.to_string(), name);
    }
}

// ----- replacement databases -----------------------------------------------------------------

#[test]
fn maxmind_city_schema_replaces_the_country_database() {
    let city = temp_file("GeoLite2-City.mmdb", CITY_TEST);
    let db = GeoDb::open(&paths(&[&city]), None, None).expect("city db opens");
    let country = |text: &str| db.lookup(ip(text)).country;
    assert_eq!(country("81.2.69.142").as_deref(), Some("GB"));
    // country wins over registered_country
    assert_eq!(country("175.16.199.1").as_deref(), Some("CN"));
    // registered_country is the fallback
    assert_eq!(country("89.160.20.120").as_deref(), Some("SE"));
    // lower case is normalised, a malformed code is dropped
    assert_eq!(country("2a02:cf40::1").as_deref(), Some("DE"));
    assert_eq!(country("5.6.7.8"), None);
    assert_eq!(country("2001:218::1").as_deref(), Some("JP"));
    assert_eq!(country("::ffff:81.2.69.1").as_deref(), Some("GB"));
    // not in the file
    assert_eq!(country("8.8.8.8"), None);
    // the ASN part stays embedded
    assert_eq!(db.lookup(ip("8.8.8.8")).asn, Some(15169));
    let infos = db.databases();
    assert_eq!(infos[0].source, city.display().to_string());
    assert_eq!(infos[0].database_type, "GeoLite2-City");
    assert_eq!(infos[0].build_date, "2024-01-02");
    assert!(infos[0].description.contains("test data"));
    assert_eq!(infos[1].source, "embedded");
}

#[test]
fn maxmind_asn_schema_replaces_the_asn_database() {
    let asn = temp_file("GeoLite2-ASN.mmdb", ASN_TEST);
    let db = GeoDb::open(&[], Some(&asn), None).expect("asn db opens");
    let geo = db.lookup(ip("1.130.0.1"));
    assert_eq!(
        (geo.asn, geo.as_org.as_deref()),
        (Some(1221), Some("Telstra Pty Ltd"))
    );
    assert_eq!(geo.country.as_deref(), Some("AU"), "country stays embedded");
    assert_eq!(db.lookup(ip("12.81.95.255")).asn, Some(7018));
    let no_org = db.lookup(ip("149.101.100.5"));
    assert_eq!((no_org.asn, no_org.as_org), (Some(6167), None));
    assert_eq!(db.lookup(ip("8.8.8.8")).asn, None);
    // An IPv6 address in an IPv4-only file: no answer, no panic.
    assert_eq!(db.lookup(ip("2a00:1450:4001:80b::200e")).asn, None);
    assert_eq!(db.databases()[1].database_type, "GeoLite2-ASN");
}

#[test]
fn both_replacements_together() {
    let city = temp_file("city.mmdb", CITY_TEST);
    let asn = temp_file("asn.mmdb", ASN_TEST);
    let db = GeoDb::open(&paths(&[&city]), Some(&asn), None).expect("both open");
    assert_eq!(
        basics(db.lookup(ip("81.2.69.160"))),
        public("GB", 20712, "Andrews & Arnold Ltd")
    );
}

#[test]
fn database_of_the_wrong_kind_is_refused() {
    let asn = temp_file("asn.mmdb", ASN_TEST);
    let error =
        GeoDb::open(&paths(&[&asn]), None, None).expect_err("an ASN db is not a country db");
    assert_eq!(error.path, *asn);
    assert!(
        error.problem.contains("ASN database") && error.problem.contains("GeoLite2-ASN"),
        "{error}"
    );
    let city = temp_file("city.mmdb", CITY_TEST);
    let error = GeoDb::open(&[], Some(&city), None).expect_err("a city db is not an ASN db");
    assert!(error.problem.contains("not an ASN database"), "{error}");
    let error = GeoDb::open(
        &[],
        Some(&temp_file("country.mmdb", EMBEDDED_COUNTRY)),
        None,
    )
    .expect_err("country as ASN");
    assert!(error.problem.contains("country database"), "{error}");
}

// ----- broken files --------------------------------------------------------------------------

#[test]
fn missing_file_is_an_error_naming_it() {
    let path = std::env::temp_dir().join("callaudit-geo-test-does-not-exist.mmdb");
    let error = GeoDb::open(std::slice::from_ref(&path), None, None).expect_err("missing");
    assert_eq!(error.path, path);
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: cannot read", path.display())),
        "{error}"
    );
}

#[test]
fn garbage_and_empty_files_are_not_databases() {
    let garbage: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = temp_file("x.mmdb", &garbage);
    let error = GeoDb::open(&paths(&[&path]), None, None).expect_err("garbage");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: not a MaxMind DB file (no metadata marker)",
            path.display()
        )
    );
    let empty = temp_file("empty.mmdb", b"");
    assert!(GeoDb::open(&[], Some(&empty), None)
        .expect_err("empty")
        .problem
        .contains("empty file"));
    let text = temp_file("text.mmdb", b"hello, I am not a database\n");
    assert!(GeoDb::open(&paths(&[&text]), None, None).is_err());
}

#[test]
fn truncated_databases_fail_at_open_or_answer_none() {
    // Every cut of the small files, and a spread of cuts of the embedded country file.
    let mut inputs: Vec<(&str, Vec<u8>)> = Vec::new();
    for cut in 0..CITY_TEST.len() {
        inputs.push(("city", CITY_TEST[..cut].to_vec()));
    }
    for cut in 0..ASN_TEST.len() {
        inputs.push(("asn", ASN_TEST[..cut].to_vec()));
    }
    for cut in [
        1,
        1000,
        EMBEDDED_COUNTRY.len() / 2,
        EMBEDDED_COUNTRY.len() - 200,
        EMBEDDED_COUNTRY.len() - 1,
    ] {
        inputs.push(("country", EMBEDDED_COUNTRY[..cut].to_vec()));
    }
    let probes = [
        "81.2.69.142",
        "1.130.0.1",
        "8.8.8.8",
        "2001:218::1",
        "2a00:1450::1",
    ]
    .map(ip);
    for (kind, bytes) in inputs {
        let path = temp_file("cut.mmdb", &bytes);
        let opened = if kind == "asn" {
            GeoDb::open(&[], Some(&path), None)
        } else {
            GeoDb::open(&paths(&[&path]), None, None)
        };
        match opened {
            Ok(db) => {
                for probe in probes {
                    let _ = db.lookup(probe);
                }
            }
            Err(error) => assert_eq!(error.path, *path),
        }
    }
}

#[test]
fn corrupted_databases_never_panic() {
    // Flip bytes all over the small files: open may fail, lookups may give None, nothing panics.
    let probes = [
        "81.2.69.142",
        "175.16.199.1",
        "89.160.20.120",
        "1.130.0.1",
        "2001:218::1",
    ]
    .map(ip);
    for (kind, original) in [("city", CITY_TEST), ("asn", ASN_TEST)] {
        for position in (0..original.len()).step_by(7) {
            for flip in [0xff_u8, 0x80, 0x01] {
                let mut bytes = original.to_vec();
                bytes[position] ^= flip;
                let path = temp_file("flip.mmdb", &bytes);
                let opened = if kind == "asn" {
                    GeoDb::open(&[], Some(&path), None)
                } else {
                    GeoDb::open(&paths(&[&path]), None, None)
                };
                if let Ok(db) = opened {
                    for probe in probes {
                        let _ = db.lookup(probe);
                    }
                }
            }
        }
    }
}

#[test]
fn geo_error_displays_path_and_problem() {
    let error = GeoError::new(
        std::path::Path::new("x.mmdb"),
        "not a MaxMind DB file (no metadata marker)",
    );
    assert_eq!(
        error.to_string(),
        "x.mmdb: not a MaxMind DB file (no metadata marker)"
    );
    let _: &dyn std::error::Error = &error;
}

#[test]
fn build_dates_are_civil_dates() {
    assert_eq!(db::date_of_epoch(0), "1970-01-01");
    assert_eq!(db::date_of_epoch(951_782_400), "2000-02-29");
    assert_eq!(db::date_of_epoch(1_781_725_900), "2026-06-17");
}

// ----- operator country ----------------------------------------------------------------------

static COUNTRY_TEST: &[u8] = include_bytes!("../../data/geoip/test/country-test.mmdb");

#[test]
fn operator_country_comes_from_the_as_registration() {
    let db = embedded();
    // AWS Beijing, operated by a Chinese partner: located in and operated from China.
    let beijing = db.lookup(ip("52.81.151.250"));
    assert_eq!(beijing.operator_country.as_deref(), Some("CN"));
    assert_eq!(beijing.country.as_deref(), Some("CN"));
    assert_eq!(
        db.lookup(ip("144.195.73.154")).operator_country.as_deref(),
        Some("US")
    );
}

#[test]
fn operator_country_can_differ_from_the_location() {
    // Found by `print_operator_abroad_candidates` in this version of the data: Chinese and
    // Russian operators' ranges located elsewhere.
    let db = embedded();
    for (address, country, operator) in OPERATOR_ABROAD {
        let geo = db.lookup(ip(address));
        assert_eq!(
            (geo.country.as_deref(), geo.operator_country.as_deref()),
            (Some(*country), Some(*operator)),
            "{address}: {geo:?}"
        );
    }
}

/// (address, located in, operator registered in), from this version of the embedded data.
/// AS132203 Shenzhen Tencent; AS4134 Chinanet; AS4809 China Telecom CN2; AS12389 PJSC
/// Rostelecom.
const OPERATOR_ABROAD: &[(&str, &str, &str)] = &[
    ("43.131.0.1", "DE", "CN"),
    ("81.173.28.1", "FR", "CN"),
    ("5.10.138.1", "GB", "CN"),
    ("2.16.20.1", "NL", "RU"),
];

/// Lists addresses whose operator is registered in CN or RU while they are located elsewhere
/// (run with `--ignored --nocapture`; the policy tests need such addresses for fixtures).
#[test]
#[ignore]
fn print_operator_abroad_candidates() {
    let reader = maxminddb::Reader::from_source(EMBEDDED_OPERATOR).expect("operator db");
    let db = embedded();
    let mut found = std::collections::BTreeMap::<(String, String), Vec<String>>::new();
    for item in reader
        .networks(maxminddb::WithinOptions::default())
        .expect("networks")
    {
        let Ok(item) = item else { continue };
        let Ok(network) = item.network() else {
            continue;
        };
        let probe = match network.ip() {
            IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from_bits(a.to_bits() | 1)),
            IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from_bits(a.to_bits() | 1)),
        };
        let geo = db.lookup(probe);
        let (Some(country), Some(operator)) = (&geo.country, &geo.operator_country) else {
            continue;
        };
        if (operator == "CN" || operator == "RU") && country != operator && geo.anycast.is_none() {
            let list = found
                .entry((operator.clone(), country.clone()))
                .or_default();
            if list.len() < 2 {
                list.push(format!(
                    "{probe} ({}/{}) AS{:?} {:?}",
                    network.ip(),
                    network.prefix(),
                    geo.asn,
                    geo.as_org
                ));
            }
        }
    }
    for ((operator, country), list) in found {
        println!(
            "operator {operator}, located {country}: {}",
            list.join(" | ")
        );
    }
}

#[test]
fn operator_database_can_be_replaced_by_any_country_database() {
    let second = temp_file("country-test.mmdb", COUNTRY_TEST);
    let db = GeoDb::open(&[], None, Some(&second)).expect("opens as operator db");
    assert_eq!(
        db.lookup(ip("81.2.69.142")).operator_country.as_deref(),
        Some("FR")
    );
    assert_eq!(db.lookup(ip("1.130.0.1")).operator_country, None);
    let infos = db.databases();
    assert_eq!(infos[2].role, "operator");
    assert_eq!(infos[2].source, second.display().to_string());
    // A City database works too; an ASN database does not.
    let city = temp_file("city.mmdb", CITY_TEST);
    let db = GeoDb::open(&[], None, Some(&city)).expect("city as operator db");
    assert_eq!(
        db.lookup(ip("89.160.20.120")).operator_country.as_deref(),
        Some("SE")
    );
    let asn = temp_file("asn.mmdb", ASN_TEST);
    let error = GeoDb::open(&[], None, Some(&asn)).expect_err("ASN db as operator db");
    assert_eq!(error.path, *asn);
    assert!(error.problem.contains("operator country"), "{error}");
}

// ----- several location databases ------------------------------------------------------------

#[test]
fn disagreement_lists_every_database_answer() {
    let city = temp_file("GeoLite2-City.mmdb", CITY_TEST);
    let second = temp_file("other-country.mmdb", COUNTRY_TEST);
    let db = GeoDb::open(&paths(&[&city, &second]), None, None).expect("both open");
    let city_name = city.file_name().unwrap().to_string_lossy().into_owned();
    let second_name = second.file_name().unwrap().to_string_lossy().into_owned();

    // GB in the City file, FR in the second: the first decides, both are listed.
    let geo = db.lookup(ip("81.2.69.142"));
    assert_eq!(geo.country.as_deref(), Some("GB"));
    assert_eq!(
        geo.disagreement,
        vec![
            SourceCountry {
                source: city_name.clone(),
                country: Some("GB".into())
            },
            SourceCountry {
                source: second_name.clone(),
                country: Some("FR".into())
            },
        ]
    );
    // Both say CN: no disagreement.
    let geo = db.lookup(ip("175.16.199.1"));
    assert_eq!(geo.country.as_deref(), Some("CN"));
    assert!(geo.disagreement.is_empty());
    // Only the first answers: silence is not disagreement.
    assert!(db.lookup(ip("89.160.20.120")).disagreement.is_empty());
    // Only the second answers: the first has no country, the second's differs.
    let geo = db.lookup(ip("8.8.8.8"));
    assert_eq!(geo.country, None);
    assert_eq!(
        geo.disagreement,
        vec![
            SourceCountry {
                source: city_name,
                country: None
            },
            SourceCountry {
                source: second_name,
                country: Some("US".into())
            },
        ]
    );
    // Special addresses are not looked up anywhere.
    assert!(db.lookup(ip("10.0.0.1")).disagreement.is_empty());

    let infos = db.databases();
    let roles: Vec<&str> = infos.iter().map(|i| i.role).collect();
    assert_eq!(roles, ["country", "country", "asn", "operator"]);
    assert_eq!(infos[1].database_type, "country ipvAll");
    assert_eq!(infos[1].build_date, "2024-01-02");
}

#[test]
fn embedded_and_second_opinion_disagree_on_real_data() {
    // The embedded database as one file, the test file as a second opinion.
    let ours = temp_file("country.mmdb", EMBEDDED_COUNTRY);
    let second = temp_file("country-test.mmdb", COUNTRY_TEST);
    let db = GeoDb::open(&paths(&[&ours, &second]), None, None).expect("open");
    let geo = db.lookup(ip("81.2.69.142"));
    assert_eq!(geo.country.as_deref(), Some("GB"));
    assert_eq!(geo.disagreement.len(), 2);
    assert_eq!(geo.disagreement[1].country.as_deref(), Some("FR"));
    assert!(db.lookup(ip("8.8.8.8")).disagreement.is_empty());
}

#[test]
fn files_with_the_same_name_are_told_apart_by_path() {
    let a = temp_file("same.mmdb", CITY_TEST);
    let dir = std::env::temp_dir().join(format!("callaudit-geo-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let b = TempFile(dir.join(a.file_name().unwrap()));
    std::fs::write(&*b, COUNTRY_TEST).expect("write");
    let db = GeoDb::open(&paths(&[&a, &b]), None, None).expect("open");
    let sources: Vec<String> = db
        .lookup(ip("81.2.69.142"))
        .disagreement
        .into_iter()
        .map(|s| s.source)
        .collect();
    assert_eq!(sources, [a.display().to_string(), b.display().to_string()]);
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn a_broken_second_database_is_an_error_naming_it() {
    let city = temp_file("city.mmdb", CITY_TEST);
    let broken = temp_file("broken.mmdb", b"not a database");
    let error = GeoDb::open(&paths(&[&city, &broken]), None, None).expect_err("broken");
    assert_eq!(error.path, *broken);
}

// ----- coordinates ---------------------------------------------------------------------------

#[test]
fn city_database_gives_coordinates() {
    let city = temp_file("city.mmdb", CITY_TEST);
    let second = temp_file("country.mmdb", COUNTRY_TEST);
    let db = GeoDb::open(&paths(&[&city, &second]), None, None).expect("open");
    let geo = db.lookup(ip("81.2.69.142"));
    assert_eq!(geo.coordinates, Some((51.5142, -0.0931, 10.0)));
    assert_eq!(
        geo.claimed_location(),
        Some(physics::ClaimedLocation::Point {
            lat: 51.5142,
            lon: -0.0931,
            accuracy_km: 10.0
        })
    );
    // A City record without `location`: none.
    assert_eq!(db.lookup(ip("175.16.199.1")).coordinates, None);
    // Only the first database gives coordinates; a Country-schema database has none.
    let db = GeoDb::open(&paths(&[&second, &city]), None, None).expect("open");
    assert_eq!(db.lookup(ip("81.2.69.142")).coordinates, None);
    let geo = embedded().lookup(ip("8.8.8.8"));
    assert_eq!(geo.coordinates, None);
    assert_eq!(
        geo.claimed_location(),
        Some(physics::ClaimedLocation::Country("US".into()))
    );
}

// ----- anycast -------------------------------------------------------------------------------

#[test]
fn anycast_list_parses_and_cites_a_source_for_every_row() {
    let rows = anycast::parse(anycast::embedded_csv()).expect("anycast.csv parses");
    assert!(rows.len() >= 40, "{}", rows.len());
    assert_eq!(anycast_ranges(), rows.as_slice());
    for row in &rows {
        assert!(row.source.starts_with("https://"), "{row:?}");
        assert!(row.date.starts_with("20"), "{row:?}");
    }
}

#[test]
fn anycast_addresses_are_marked() {
    let db = embedded();
    let cases = [
        ("1.1.1.1", Some("Cloudflare")),
        ("1.0.0.1", Some("Cloudflare")),
        ("2606:4700:4700::1111", Some("Cloudflare")),
        ("104.16.132.229", Some("Cloudflare")),
        ("8.8.8.8", Some("Google Public DNS")),
        ("2001:4860:4860::8844", Some("Google Public DNS")),
        ("9.9.9.9", Some("Quad9")),
        ("::ffff:9.9.9.9", Some("Quad9")),
        ("193.0.14.129", Some("K root server (RIPE NCC)")),
        ("193.0.14.130", None),
        ("8.8.9.8", None),
        ("52.81.151.250", None),
        ("1.0.2.1", None),
    ];
    for (address, operator) in cases {
        assert_eq!(
            db.lookup(ip(address)).anycast.as_deref(),
            operator,
            "{address}"
        );
    }
}

#[test]
fn anycast_parser_rejects_bad_rows() {
    let header = "prefix,operator,source,date\n";
    for bad in [
        "1.1.1.0/24,Cloudflare,https://x\n",
        "1.1.1.1/24,Cloudflare,https://x,2026-01-01\n",
        "1.1.1.0/33,Cloudflare,https://x,2026-01-01\n",
        "1.1.1.0,Cloudflare,https://x,2026-01-01\n",
        "::/129,X,https://x,2026-01-01\n",
        "1.1.1.0/24,,https://x,2026-01-01\n",
    ] {
        assert!(anycast::parse(&format!("{header}{bad}")).is_err(), "{bad}");
    }
    let ok = anycast::parse(&format!("# c\n{header}::/0,X,https://x,2026-01-01\n")).unwrap();
    assert_eq!(ok.len(), 1);
}

// ----- physics -------------------------------------------------------------------------------

mod physics_tests {
    use super::super::physics::*;
    use proptest::prelude::*;

    const FRANKFURT: Vantage = Vantage::Point {
        lat: 50.11,
        lon: 8.68,
    };

    fn country(code: &str) -> ClaimedLocation {
        ClaimedLocation::Country(code.into())
    }

    fn point(lat: f64, lon: f64, accuracy_km: f64) -> ClaimedLocation {
        ClaimedLocation::Point {
            lat,
            lon,
            accuracy_km,
        }
    }

    #[test]
    fn country_table_parses_and_covers_the_big_ones() {
        let table =
            super::super::physics::parse_bounds(super::super::physics::embedded_bounds_csv())
                .expect("country-bounds.csv parses");
        assert!(table.len() >= 240, "{}", table.len());
        for code in [
            "US", "CN", "RU", "DE", "FR", "GB", "JP", "IN", "BR", "AU", "FJ", "NZ", "GF", "RE",
            "SJ", "BQ", "XK", "HK", "SG", "PR",
        ] {
            assert!(has_country_geometry(code), "{code}");
        }
        assert!(has_country_geometry("de"));
        assert!(!has_country_geometry("ZZ"));
        assert!(!has_country_geometry("EU"));
    }

    #[test]
    fn frankfurt_to_beijing() {
        let beijing = point(39.9, 116.4, 0.0);
        let d = min_distance_km(&FRANKFURT, &beijing).unwrap();
        // The true great-circle distance is ~7,800 km; ours is a little smaller by design.
        assert!((7700.0..7830.0).contains(&d), "{d}");
        assert_eq!(is_plausible(&FRANKFURT, &beijing, 2.0), Some(false));
        assert_eq!(is_plausible(&FRANKFURT, &beijing, 150.0), Some(true));
        // "Somewhere in China": the nearest point is in Xinjiang, ~4,500 km away.
        let cn = min_distance_km(&FRANKFURT, &country("CN")).unwrap();
        assert!((3900.0..5000.0).contains(&cn), "{cn}");
        assert_eq!(is_plausible(&FRANKFURT, &country("CN"), 2.0), Some(false));
        assert_eq!(is_plausible(&FRANKFURT, &country("CN"), 150.0), Some(true));
        assert_eq!(
            is_plausible(&Vantage::Country("DE".into()), &country("CN"), 2.0),
            Some(false)
        );
    }

    #[test]
    fn vantage_inside_the_claimed_country_is_always_plausible() {
        for (code, lat, lon) in [
            ("DE", 50.11, 8.68),
            ("US", 40.7, -74.0),
            ("US", 61.2, -149.9), // Anchorage
            ("US", 21.3, -157.8), // Honolulu
            ("FR", -21.1, 55.5),  // Réunion
            ("RU", 64.7, 177.5),  // Anadyr
            ("RU", 66.0, -170.0), // Chukotka east of 180°
            ("CN", 39.9, 116.4),
            ("AU", -33.9, 151.2),
            ("FJ", -17.8, 178.0),
            ("NZ", -36.8, 174.8),
        ] {
            let vantage = Vantage::Point { lat, lon };
            assert_eq!(
                min_distance_km(&vantage, &country(code)),
                Some(0.0),
                "{code} {lat} {lon}"
            );
            assert_eq!(is_plausible(&vantage, &country(code), 0.0), Some(true));
        }
        for code in ["US", "DE", "CN", "RU", "FR", "SJ"] {
            let vantage = Vantage::Country(code.into());
            assert_eq!(min_distance_km(&vantage, &country(code)), Some(0.0));
        }
    }

    #[test]
    fn us_vantage_and_us_server_at_a_tenth_of_a_millisecond() {
        let us = Vantage::Country("US".into());
        assert_eq!(min_distance_km(&us, &country("US")), Some(0.0));
        assert_eq!(is_plausible(&us, &country("US"), 0.1), Some(true));
        assert_eq!(
            is_plausible(&us, &point(37.4, -122.1, 50.0), 0.1),
            Some(true)
        );
        // Neighbours touch: the distance is 0 as well.
        assert_eq!(min_distance_km(&us, &country("CA")), Some(0.0));
        assert_eq!(min_distance_km(&us, &country("MX")), Some(0.0));
    }

    #[test]
    fn antimeridian() {
        // Two points 0.2° of longitude apart across ±180 at 17° S: ~21 km, not 38,000.
        let fiji_east = Vantage::Point {
            lat: -17.0,
            lon: 179.9,
        };
        let d = min_distance_km(&fiji_east, &point(-17.0, -179.9, 0.0)).unwrap();
        assert!((20.0..21.5).contains(&d), "{d}");
        // Longitudes given as 540° or -180° wrap.
        let d2 = min_distance_km(
            &Vantage::Point {
                lat: -17.0,
                lon: 179.9 + 360.0,
            },
            &point(-17.0, -179.9 - 360.0, 0.0),
        )
        .unwrap();
        assert!((d - d2).abs() < 1e-6);
        // Fiji straddles 180°: points on either side are in it.
        assert_eq!(min_distance_km(&fiji_east, &country("FJ")), Some(0.0));
        let fiji_west = Vantage::Point {
            lat: -16.5,
            lon: -179.9,
        };
        assert_eq!(min_distance_km(&fiji_west, &country("FJ")), Some(0.0));
        // Samoa (-171.8°) to Fiji's islands east of 180° (-178°): ~650 km, not ~35,000.
        let samoa = Vantage::Point {
            lat: -13.8,
            lon: -171.8,
        };
        let d = min_distance_km(&samoa, &country("FJ")).unwrap();
        assert!((400.0..800.0).contains(&d), "{d}");
        // Russia–US across the Bering Strait (~80 km between Big and Little Diomede areas).
        let d = min_distance_km(&Vantage::Country("RU".into()), &country("US")).unwrap();
        assert!(d < 100.0, "{d}");
        // The Aleutians west of 180° are US too.
        let attu = Vantage::Point {
            lat: 52.9,
            lon: 172.9,
        };
        assert_eq!(min_distance_km(&attu, &country("US")), Some(0.0));
        // New Zealand vs a point just east of 180°: close, not across the globe.
        let chatham = Vantage::Point {
            lat: -44.0,
            lon: -176.5,
        };
        assert_eq!(min_distance_km(&chatham, &country("NZ")), Some(0.0));
    }

    #[test]
    fn accuracy_radius_shrinks_the_distance() {
        let far = point(39.9, 116.4, 0.0);
        let fuzzy = point(39.9, 116.4, 1000.0);
        let d = min_distance_km(&FRANKFURT, &far).unwrap();
        let e = min_distance_km(&FRANKFURT, &fuzzy).unwrap();
        assert!((d - 1000.0 - e).abs() < 1e-6);
        assert_eq!(
            min_distance_km(&FRANKFURT, &point(39.9, 116.4, f64::INFINITY)),
            Some(0.0)
        );
        assert_eq!(
            min_distance_km(&FRANKFURT, &point(50.0, 8.0, 100.0)),
            Some(0.0)
        );
    }

    #[test]
    fn unknown_geometry_is_none() {
        assert_eq!(min_distance_km(&FRANKFURT, &country("ZZ")), None);
        assert_eq!(is_plausible(&FRANKFURT, &country("ZZ"), 10.0), None);
        assert_eq!(
            min_distance_km(&Vantage::Country("XX".into()), &country("DE")),
            None
        );
        let bad = Vantage::Point {
            lat: 91.0,
            lon: 0.0,
        };
        assert_eq!(min_distance_km(&bad, &country("DE")), None);
        let nan = Vantage::Point {
            lat: f64::NAN,
            lon: 0.0,
        };
        assert_eq!(min_distance_km(&nan, &country("DE")), None);
        assert_eq!(min_distance_km(&FRANKFURT, &point(0.0, 0.0, -1.0)), None);
        assert_eq!(
            min_distance_km(&FRANKFURT, &point(0.0, 0.0, f64::NAN)),
            None
        );
        assert_eq!(is_plausible(&FRANKFURT, &country("DE"), f64::NAN), None);
        assert_eq!(is_plausible(&FRANKFURT, &country("DE"), -1.0), None);
    }

    #[test]
    fn reach_of_a_round_trip() {
        assert_eq!(reachable_km(2.0), 200.0);
        assert_eq!(reachable_km(150.0), 15_000.0);
        assert_eq!(reachable_km(0.0), 0.0);
        assert_eq!(reachable_km(-5.0), 0.0);
        assert_eq!(reachable_km(f64::NAN), 0.0);
        assert_eq!(reachable_km(f64::INFINITY), f64::INFINITY);
        assert_eq!(
            is_plausible(&FRANKFURT, &country("CN"), f64::INFINITY),
            Some(true)
        );
    }

    #[test]
    fn poles() {
        let north = Vantage::Point {
            lat: 90.0,
            lon: 0.0,
        };
        let d = min_distance_km(&north, &point(80.0, 123.0, 0.0)).unwrap();
        assert!(
            (d - 10.0 * EARTH_RADIUS_KM.to_radians()).abs() < 1e-6,
            "{d}"
        );
        let south = Vantage::Point {
            lat: -90.0,
            lon: 77.0,
        };
        assert_eq!(min_distance_km(&south, &country("AQ")), Some(0.0));
    }

    fn any_lat() -> impl Strategy<Value = f64> {
        prop_oneof![
            -90.0..=90.0f64,
            Just(90.0),
            Just(-90.0),
            Just(0.0),
            any::<f64>(),
        ]
    }

    fn any_lon() -> impl Strategy<Value = f64> {
        prop_oneof![
            -180.0..=180.0f64,
            Just(180.0),
            Just(-180.0),
            -1e6..1e6f64,
            any::<f64>(),
        ]
    }

    fn any_code() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "US", "RU", "FJ", "KI", "NZ", "AQ", "CN", "DE", "FR", "ZZ", "",
            ])
            .prop_map(String::from),
            "[A-Za-z]{0,3}",
        ]
    }

    fn any_vantage() -> impl Strategy<Value = Vantage> {
        prop_oneof![
            any_code().prop_map(Vantage::Country),
            (any_lat(), any_lon()).prop_map(|(lat, lon)| Vantage::Point { lat, lon }),
        ]
    }

    fn any_claim() -> impl Strategy<Value = ClaimedLocation> {
        prop_oneof![
            any_code().prop_map(ClaimedLocation::Country),
            (
                any_lat(),
                any_lon(),
                prop_oneof![0.0..5000.0f64, any::<f64>()]
            )
                .prop_map(|(lat, lon, accuracy_km)| ClaimedLocation::Point {
                    lat,
                    lon,
                    accuracy_km
                }),
        ]
    }

    fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        super::super::physics::central_angle(
            lat1.to_radians(),
            lon1.to_radians(),
            lat2.to_radians(),
            lon2.to_radians(),
        ) * EARTH_RADIUS_KM
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_nor_nan(vantage in any_vantage(), claim in any_claim(), rtt in any::<f64>()) {
            if let Some(d) = min_distance_km(&vantage, &claim) {
                prop_assert!(d.is_finite() && d >= 0.0, "{d}");
                prop_assert!(d <= std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6, "{d}");
            }
            let reach = reachable_km(rtt);
            prop_assert!(!reach.is_nan() && reach >= 0.0);
            let _ = is_plausible(&vantage, &claim, rtt);
        }

        /// Conservative: never more than the distance to any point that is in the claim.
        #[test]
        fn point_distance_is_never_more_than_the_truth(
            lat1 in -90.0..=90.0f64, lon1 in -540.0..540.0f64,
            lat2 in -90.0..=90.0f64, lon2 in -540.0..540.0f64,
            accuracy in 0.0..3000.0f64,
        ) {
            let vantage = Vantage::Point { lat: lat1, lon: lon1 };
            let d = min_distance_km(&vantage, &point(lat2, lon2, accuracy)).unwrap();
            let truth = haversine_km(lat1, lon1, lat2, lon2);
            prop_assert!(d <= truth + 1e-6, "{d} > {truth}");
            prop_assert!(d >= truth - accuracy - 1e-6);
            // Symmetric for points.
            let back = min_distance_km(
                &Vantage::Point { lat: lat2, lon: lon2 },
                &point(lat1, lon1, accuracy),
            ).unwrap();
            prop_assert!((d - back).abs() < 1e-6);
        }

        /// The box distances never exceed the distance to any point inside the boxes (checked
        /// on sampled points), and are 0 for points inside.
        #[test]
        fn box_distances_are_lower_bounds(
            lat in -90.0..=90.0f64, lon in -180.0..180.0f64,
            a in (-90.0..=90.0f64, -90.0..=90.0f64, -180.0..=180.0f64, 0.0..200.0f64),
            b in (-90.0..=90.0f64, -90.0..=90.0f64, -180.0..=180.0f64, 0.0..200.0f64),
            samples in prop::collection::vec((0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64), 20),
        ) {
            use super::super::physics::GeoBox;
            let make = |(l1, l2, west, width): (f64, f64, f64, f64)| {
                let east = if west + width > 180.0 { west + width - 360.0 } else { west + width };
                (l1.min(l2), l1.max(l2), west, width, GeoBox::from_degrees(l1.min(l2), l1.max(l2), west, east))
            };
            let (a_lo, a_hi, a_w, a_width, box_a) = make(a);
            let (b_lo, b_hi, b_w, b_width, box_b) = make(b);
            let (Some(box_a), Some(box_b)) = (box_a, box_b) else { return Ok(()); };
            let to_point = box_a.distance_to_point(lat.to_radians(), lon.to_radians()) * EARTH_RADIUS_KM;
            let between = box_a.distance_to_box(&box_b) * EARTH_RADIUS_KM;
            prop_assert!(to_point.is_finite() && between.is_finite());
            let corner_in = |lo: f64, hi: f64, w: f64, width: f64, s: f64, t: f64| {
                (lo + (hi - lo) * s, w + width * t)
            };
            for &(s, t, u, v) in &samples {
                let (pa_lat, pa_lon) = corner_in(a_lo, a_hi, a_w, a_width, s, t);
                let (pb_lat, pb_lon) = corner_in(b_lo, b_hi, b_w, b_width, u, v);
                let to_sample = haversine_km(lat, lon, pa_lat, pa_lon);
                prop_assert!(to_point <= to_sample + 1e-6, "point: {to_point} > {to_sample}");
                let pair = haversine_km(pa_lat, pa_lon, pb_lat, pb_lon);
                prop_assert!(between <= pair + 1e-6, "boxes: {between} > {pair}");
                // A point inside the box is at distance 0.
                prop_assert!(box_a.distance_to_point(pa_lat.to_radians(), pa_lon.to_radians()) < 1e-9);
            }
            // Distances to corners bound the box distance from above too (it is exact, so
            // never below the truth by more than rounding): the corners are in the box.
            let corner = haversine_km(lat, lon, a_lo, a_w);
            prop_assert!(to_point <= corner + 1e-6);
        }
    }
}
