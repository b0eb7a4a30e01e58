//! GeoIP stage: a server address → the country it is in, the country its operator (AS) is
//! registered in, its AS number and AS organisation, whether it is anycast, and where the
//! databases disagree.
//!
//! The pipeline calls [`GeoDb::lookup`] once per server address (the caller caches). One type,
//! [`GeoDb`], covers the embedded databases and replacement files, in the manner of sniffnet's
//! `src/mmdb/`:
//!
//! - **Embedded** ([`GeoDb::embedded`]): `data/geoip/country.mmdb` (ip-location-db's
//!   geo-whois-asn-country), `data/geoip/asn.mmdb` (built by `cargo xtask geoip` from
//!   ip-location-db's ASN data, in the GeoLite2-ASN schema) and `data/geoip/operator.mmdb`
//!   (IPtoASN's data via ip-location-db: the country the announcing AS is registered in),
//!   compiled into the binary and read in place, so the tool works offline. Provenance, licences
//!   and accuracy: `data/geoip/README.md`.
//! - **Replacement files** ([`GeoDb::open`]): MaxMind GeoIP2/GeoLite2 Country or City (country
//!   from `country.iso_code`, else `registered_country.iso_code`), ip-location-db country MMDBs
//!   (`country_code`), and GeoIP2/GeoLite2 ASN files. The kind is read from the records, so a
//!   file given for the wrong role is refused when it is opened, with the file named.
//!
//! **Two jurisdictions.** `country` is where the address is located (as far as the databases
//! know); `operator_country` is where the network's AS is registered, i.e. which jurisdiction the
//! operator answers to. They differ for e.g. a Russian operator's servers in Europe.
//!
//! **Provenance.** Several location databases can be given: the first decides `country`, and
//! when another names a different country every answer is listed in `disagreement`, so a report
//! never states one database's opinion as a fact without saying that another differs.
//! `anycast` marks addresses in a documented list of anycast ranges (`data/geo/anycast.csv`),
//! whose location no database can know. [`physics`] checks a claimed location against a
//! measured round-trip time.
//!
//! Special-purpose addresses (private, loopback, CGNAT, documentation, …, see [`SpecialRange`])
//! are answered before any lookup; IPv4-mapped (and NAT64 well-known-prefix) IPv6 addresses are
//! looked up as their IPv4 address. A broken database never panics: it fails at open, or its
//! lookups give `None` fields.

mod anycast;
mod db;
pub mod physics;
mod special;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use anycast::{anycast_ranges, AnycastRange};
pub use special::{canonical, classify as special_range, SpecialRange};

use db::{Database, Role};

static EMBEDDED_COUNTRY: &[u8] = include_bytes!("../../data/geoip/country.mmdb");
static EMBEDDED_ASN: &[u8] = include_bytes!("../../data/geoip/asn.mmdb");
static EMBEDDED_OPERATOR: &[u8] = include_bytes!("../../data/geoip/operator.mmdb");

const EMBEDDED_COUNTRY_DESCRIPTION: &str =
    "ip-location-db geo-whois-asn-country (GeoFeed, RIR whois, RIR ASN data; NRO, CC BY 4.0)";
const EMBEDDED_ASN_DESCRIPTION: &str =
    "ip-location-db asn (RouteViews, NRO, DB-IP IP to ASN Lite; CC BY 4.0)";
const EMBEDDED_OPERATOR_DESCRIPTION: &str =
    "ip-location-db iptoasn-country (IPtoASN: country of registration of the AS announcing each range; PDDL-1.0)";

/// The GeoIP databases in use: one or more for countries (the first decides), one for AS
/// numbers and organisations, one for the operator's country.
pub struct GeoDb {
    /// (source name for [`SourceCountry`], database); never empty.
    countries: Vec<(String, Database)>,
    asn: Database,
    operator: Database,
}

/// What is known about one server address.
///
/// `Eq` holds although `coordinates` has floats: they come only from a database, which never
/// yields NaN here (out-of-range coordinates are dropped when read).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServerGeo {
    /// Where the address is located, ISO 3166-1 alpha-2, upper case: the first (authoritative)
    /// location database's answer.
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// Set for special-purpose addresses, which are not looked up (the other fields are `None`
    /// or empty).
    pub special: Option<SpecialRange>,
    /// Where the address's AS is registered (the operator's jurisdiction), ISO alpha-2.
    pub operator_country: Option<String>,
    /// Every location database's answer, in the order given, when another database names a
    /// different country than the first; empty when they agree (a database without an answer
    /// does not by itself disagree).
    pub disagreement: Vec<SourceCountry>,
    /// The operator of a known anycast range holding the address (`data/geo/anycast.csv`): the
    /// location is unreliable, the same address is served from many places.
    pub anycast: Option<String>,
    /// (latitude, longitude, accuracy radius in km) when the first location database is a City
    /// database that has them; usable as [`physics::ClaimedLocation::Point`].
    pub coordinates: Option<(f64, f64, f64)>,
}

impl Eq for ServerGeo {}

impl ServerGeo {
    /// What a special-purpose address gets: the range, nothing else.
    fn special(range: SpecialRange) -> ServerGeo {
        ServerGeo {
            country: None,
            asn: None,
            as_org: None,
            special: Some(range),
            operator_country: None,
            disagreement: Vec::new(),
            anycast: None,
            coordinates: None,
        }
    }

    /// The claimed location for [`physics`]: the City coordinates when there are, else the
    /// country.
    pub fn claimed_location(&self) -> Option<physics::ClaimedLocation> {
        match (self.coordinates, &self.country) {
            (Some((lat, lon, accuracy_km)), _) => Some(physics::ClaimedLocation::Point {
                lat,
                lon,
                accuracy_km,
            }),
            (None, Some(country)) => Some(physics::ClaimedLocation::Country(country.clone())),
            (None, None) => None,
        }
    }
}

/// One location database's answer for an address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceCountry {
    /// The database's file name, or `"embedded"`.
    pub source: String,
    pub country: Option<String>,
}

/// One database in use, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseInfo {
    /// `"country"`, `"asn"` or `"operator"`.
    pub role: &'static str,
    /// `"embedded"` or the file's path.
    pub source: String,
    /// The metadata's `database_type`, e.g. `GeoLite2-City`.
    pub database_type: String,
    /// The metadata's `build_epoch` as `YYYY-MM-DD` (UTC).
    pub build_date: String,
    pub description: String,
}

/// A database that cannot be used: which file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoError {
    pub path: PathBuf,
    pub problem: String,
}

impl GeoError {
    fn new(path: &Path, problem: impl Into<String>) -> GeoError {
        GeoError {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for GeoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for GeoError {}

impl GeoDb {
    /// The databases compiled into the binary. Cheap: the bytes are read in place.
    pub fn embedded() -> Result<GeoDb, GeoError> {
        GeoDb::open(&[], None, None)
    }

    /// Replacement databases. `countries`: location databases (`--geoip-db`, repeatable), the
    /// first authoritative; empty keeps the embedded one. `asn`, `operator`: `None` keeps the
    /// embedded one. Any database with a country field can serve as `operator`.
    pub fn open(
        countries: &[PathBuf],
        asn: Option<&Path>,
        operator: Option<&Path>,
    ) -> Result<GeoDb, GeoError> {
        let countries = if countries.is_empty() {
            vec![(
                "embedded".to_string(),
                Database::embedded(
                    EMBEDDED_COUNTRY,
                    "country.mmdb",
                    Role::Country,
                    EMBEDDED_COUNTRY_DESCRIPTION,
                )?,
            )]
        } else {
            let names = source_names(countries);
            countries
                .iter()
                .zip(names)
                .map(|(path, name)| Ok((name, Database::from_file(path, Role::Country)?)))
                .collect::<Result<_, GeoError>>()?
        };
        let asn = match asn {
            Some(path) => Database::from_file(path, Role::Asn)?,
            None => Database::embedded(
                EMBEDDED_ASN,
                "asn.mmdb",
                Role::Asn,
                EMBEDDED_ASN_DESCRIPTION,
            )?,
        };
        let operator = match operator {
            Some(path) => Database::from_file(path, Role::Operator)?,
            None => Database::embedded(
                EMBEDDED_OPERATOR,
                "operator.mmdb",
                Role::Operator,
                EMBEDDED_OPERATOR_DESCRIPTION,
            )?,
        };
        Ok(GeoDb {
            countries,
            asn,
            operator,
        })
    }

    /// Everything known about `ip`; special-purpose addresses are not looked up.
    pub fn lookup(&self, ip: IpAddr) -> ServerGeo {
        let ip = canonical(ip);
        if let Some(range) = special_range(ip) {
            return ServerGeo::special(range);
        }
        let answers: Vec<SourceCountry> = self
            .countries
            .iter()
            .map(|(source, db)| SourceCountry {
                source: source.clone(),
                country: db.country(ip),
            })
            .collect();
        let first = answers.first().and_then(|a| a.country.clone());
        let disagrees = answers
            .iter()
            .skip(1)
            .any(|a| a.country.is_some() && a.country != first);
        let (asn, as_org) = self.asn.asn(ip);
        ServerGeo {
            country: first,
            asn,
            as_org,
            special: None,
            operator_country: self.operator.country(ip),
            disagreement: if disagrees { answers } else { Vec::new() },
            anycast: anycast::operator_of(ip).map(str::to_string),
            coordinates: self
                .countries
                .first()
                .and_then(|(_, db)| db.coordinates(ip)),
        }
    }

    /// The databases in use: the location databases in order, then ASN, then operator.
    pub fn databases(&self) -> Vec<DatabaseInfo> {
        let mut infos: Vec<DatabaseInfo> = self
            .countries
            .iter()
            .map(|(_, db)| db.info().clone())
            .collect();
        infos.push(self.asn.info().clone());
        infos.push(self.operator.info().clone());
        infos
    }
}

/// The names [`SourceCountry::source`] uses: each file's name, or its whole path where two
/// files share a name.
fn source_names(paths: &[PathBuf]) -> Vec<String> {
    let name = |path: &PathBuf| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string())
    };
    paths
        .iter()
        .map(|path| {
            let short = name(path);
            if paths.iter().filter(|other| name(other) == short).count() > 1 {
                path.display().to_string()
            } else {
                short
            }
        })
        .collect()
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("databases", &self.databases())
            .finish()
    }
}
