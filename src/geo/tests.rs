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

fn public(country: &str, asn: u32, org: &str) -> ServerGeo {
    ServerGeo {
        country: Some(country.into()),
        asn: Some(asn),
        as_org: Some(org.into()),
        special: None,
    }
}

// ----- embedded data -------------------------------------------------------------------------

#[test]
fn embedded_lookups_match_the_data() {
    let db = embedded();
    // What this version of the data says (the AS name is the registrant's, not the tenant's).
    assert_eq!(
        db.lookup(ip("109.94.160.99")),
        public("NL", 60893, "Art of Automation B.V.")
    );
    // AWS Beijing, operated by a Chinese partner.
    assert_eq!(
        db.lookup(ip("52.81.151.250")),
        public("CN", 55960, "Beijing Guanghuan Xinwang Digital")
    );
    assert_eq!(
        db.lookup(ip("144.195.73.154")),
        public("US", 30103, "Zoom Video Communications, Inc")
    );
    let google_dns = db.lookup(ip("8.8.8.8"));
    assert_eq!(
        (google_dns.asn, google_dns.as_org.as_deref()),
        (Some(15169), Some("Google LLC"))
    );
    assert_eq!(google_dns.country.as_deref(), Some("US"));
    assert_eq!(
        db.lookup(ip("2a00:1450:4001:80b::200e")),
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
    assert_eq!(infos.len(), 2);
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
        let expected = ServerGeo {
            country: None,
            asn: None,
            as_org: None,
            special: Some(range),
        };
        assert_eq!(db.lookup(ip(text)), expected, "{text}");
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
    let db = GeoDb::open(Some(&city), None).expect("city db opens");
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
    let db = GeoDb::open(None, Some(&asn)).expect("asn db opens");
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
    let db = GeoDb::open(Some(&city), Some(&asn)).expect("both open");
    assert_eq!(
        db.lookup(ip("81.2.69.160")),
        public("GB", 20712, "Andrews & Arnold Ltd")
    );
}

#[test]
fn database_of_the_wrong_kind_is_refused() {
    let asn = temp_file("asn.mmdb", ASN_TEST);
    let error = GeoDb::open(Some(&asn), None).expect_err("an ASN db is not a country db");
    assert_eq!(error.path, *asn);
    assert!(
        error.problem.contains("ASN database") && error.problem.contains("GeoLite2-ASN"),
        "{error}"
    );
    let city = temp_file("city.mmdb", CITY_TEST);
    let error = GeoDb::open(None, Some(&city)).expect_err("a city db is not an ASN db");
    assert!(error.problem.contains("not an ASN database"), "{error}");
    let error = GeoDb::open(None, Some(&temp_file("country.mmdb", EMBEDDED_COUNTRY)))
        .expect_err("country as ASN");
    assert!(error.problem.contains("country database"), "{error}");
}

// ----- broken files --------------------------------------------------------------------------

#[test]
fn missing_file_is_an_error_naming_it() {
    let path = std::env::temp_dir().join("callaudit-geo-test-does-not-exist.mmdb");
    let error = GeoDb::open(Some(&path), None).expect_err("missing");
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
    let error = GeoDb::open(Some(&path), None).expect_err("garbage");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: not a MaxMind DB file (no metadata marker)",
            path.display()
        )
    );
    let empty = temp_file("empty.mmdb", b"");
    assert!(GeoDb::open(None, Some(&empty))
        .expect_err("empty")
        .problem
        .contains("empty file"));
    let text = temp_file("text.mmdb", b"hello, I am not a database\n");
    assert!(GeoDb::open(Some(&text), None).is_err());
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
            GeoDb::open(None, Some(&path))
        } else {
            GeoDb::open(Some(&path), None)
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
                    GeoDb::open(None, Some(&path))
                } else {
                    GeoDb::open(Some(&path), None)
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
