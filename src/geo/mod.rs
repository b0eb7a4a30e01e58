//! GeoIP stage: a server address → the country it is in, its AS number and AS organisation.
//!
//! The pipeline calls [`GeoDb::lookup`] once per server address (the caller caches). One type,
//! [`GeoDb`], covers the embedded databases and replacement files, in the manner of sniffnet's
//! `src/mmdb/`:
//!
//! - **Embedded** ([`GeoDb::embedded`]): `data/geoip/country.mmdb` (ip-location-db's
//!   geo-whois-asn-country) and `data/geoip/asn.mmdb` (built by `cargo xtask geoip` from
//!   ip-location-db's ASN data, in the GeoLite2-ASN schema), compiled into the binary and read in
//!   place, so the tool works offline. Provenance, licences and accuracy: `data/geoip/README.md`.
//! - **Replacement files** ([`GeoDb::open`]): MaxMind GeoIP2/GeoLite2 Country or City (country
//!   from `country.iso_code`, else `registered_country.iso_code`), ip-location-db country MMDBs
//!   (`country_code`), and GeoIP2/GeoLite2 ASN files. The kind is read from the records, so a
//!   file given for the wrong role is refused when it is opened, with the file named.
//!
//! Special-purpose addresses (private, loopback, CGNAT, documentation, …, see [`SpecialRange`])
//! are answered before any lookup; IPv4-mapped (and NAT64 well-known-prefix) IPv6 addresses are
//! looked up as their IPv4 address. A broken database never panics: it fails at open, or its
//! lookups give `None` fields.

mod db;
mod special;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use special::{canonical, classify as special_range, SpecialRange};

use db::{Database, Role};

static EMBEDDED_COUNTRY: &[u8] = include_bytes!("../../data/geoip/country.mmdb");
static EMBEDDED_ASN: &[u8] = include_bytes!("../../data/geoip/asn.mmdb");

const EMBEDDED_COUNTRY_DESCRIPTION: &str =
    "ip-location-db geo-whois-asn-country (GeoFeed, RIR whois, RIR ASN data; NRO, CC BY 4.0)";
const EMBEDDED_ASN_DESCRIPTION: &str =
    "ip-location-db asn (RouteViews, NRO, DB-IP IP to ASN Lite; CC BY 4.0)";

/// The GeoIP databases in use: one for countries, one for AS numbers and organisations.
pub struct GeoDb {
    country: Database,
    asn: Database,
}

/// What is known about one server address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerGeo {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    /// Set for special-purpose addresses, which are not looked up (the other fields are `None`).
    pub special: Option<SpecialRange>,
}

/// One database in use, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseInfo {
    /// `"country"` or `"asn"`.
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
        GeoDb::open(None, None)
    }

    /// Replacement databases; `None` keeps the embedded one for that role.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<GeoDb, GeoError> {
        let country = match country {
            Some(path) => Database::from_file(path, Role::Country)?,
            None => Database::embedded(
                EMBEDDED_COUNTRY,
                "country.mmdb",
                Role::Country,
                EMBEDDED_COUNTRY_DESCRIPTION,
            )?,
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
        Ok(GeoDb { country, asn })
    }

    /// Country, AS number and organisation of `ip`; special-purpose addresses are not looked up.
    pub fn lookup(&self, ip: IpAddr) -> ServerGeo {
        let ip = canonical(ip);
        if let Some(range) = special_range(ip) {
            return ServerGeo {
                country: None,
                asn: None,
                as_org: None,
                special: Some(range),
            };
        }
        let (asn, as_org) = self.asn.asn(ip);
        ServerGeo {
            country: self.country.country(ip),
            asn,
            as_org,
            special: None,
        }
    }

    /// The databases in use: country first, then ASN.
    pub fn databases(&self) -> Vec<DatabaseInfo> {
        vec![self.country.info().clone(), self.asn.info().clone()]
    }
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("databases", &self.databases())
            .finish()
    }
}
