//! One MaxMind DB file, embedded or read from disk, and what kind of database it is.
//!
//! The kind is decided by the records themselves (the keys of the first records in the tree),
//! with the metadata's `database_type` quoted in messages: vendors name their types freely, but
//! the record layout is what the lookups depend on.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;

use super::{DatabaseInfo, GeoError};

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// The bytes of a database: the embedded ones are used in place, a file's are owned.
pub(super) enum Bytes {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Static(bytes) => bytes,
            Bytes::Owned(bytes) => bytes,
        }
    }
}

/// What a database's records look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// MaxMind GeoIP2/GeoLite2 Country or City (also DB-IP's MMDBs): `country.iso_code`,
    /// `registered_country.iso_code`.
    MaxMindCountry,
    /// ip-location-db's country MMDBs: `country_code`.
    IpLocationDbCountry,
    /// MaxMind GeoIP2/GeoLite2 ASN (or ISP): `autonomous_system_number`,
    /// `autonomous_system_organization`.
    Asn,
}

impl Kind {
    fn is_country(self) -> bool {
        matches!(self, Kind::MaxMindCountry | Kind::IpLocationDbCountry)
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::MaxMindCountry => "a country/city database",
            Kind::IpLocationDbCountry => "a country database",
            Kind::Asn => "an ASN database",
        }
    }
}

/// The role a database is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Where an address is: a country or city database.
    Country,
    Asn,
    /// Where an address's AS is registered: any database with a country field.
    Operator,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Country => "country",
            Role::Asn => "asn",
            Role::Operator => "operator",
        }
    }
}

pub(super) struct Database {
    reader: Reader<Bytes>,
    kind: Kind,
    info: DatabaseInfo,
}

impl Database {
    /// The database embedded in the binary; `name` is its file under `data/geoip/`.
    pub(super) fn embedded(
        bytes: &'static [u8],
        name: &str,
        role: Role,
        fallback_description: &str,
    ) -> Result<Database, GeoError> {
        let label = PathBuf::from(format!("<embedded data/geoip/{name}>"));
        let mut database = Database::load(Bytes::Static(bytes), &label, "embedded".into(), role)?;
        if database.info.description.is_empty() {
            database.info.description = fallback_description.into();
        }
        Ok(database)
    }

    pub(super) fn from_file(path: &Path, role: Role) -> Result<Database, GeoError> {
        let bytes =
            std::fs::read(path).map_err(|e| GeoError::new(path, format!("cannot read: {e}")))?;
        Database::load(Bytes::Owned(bytes), path, path.display().to_string(), role)
    }

    fn load(bytes: Bytes, label: &Path, source: String, role: Role) -> Result<Database, GeoError> {
        let error = |problem: String| GeoError::new(label, problem);
        let data = bytes.as_ref();
        if data.is_empty() {
            return Err(error("empty file, not a MaxMind DB file".into()));
        }
        // The format puts the metadata in the last 128 KiB of the file.
        if !data
            .windows(METADATA_MARKER.len())
            .rev()
            .take(128 * 1024)
            .any(|w| w == METADATA_MARKER)
        {
            return Err(error("not a MaxMind DB file (no metadata marker)".into()));
        }
        let reader = Reader::from_source(bytes)
            .map_err(|e| error(format!("not a valid MaxMind DB file: {e}")))?;
        let database_type = reader.metadata().database_type.clone();
        let kind = detect_kind(&reader)
            .map_err(|problem| error(format!("{problem} (database_type \"{database_type}\")")))?;
        let expected_country = role != Role::Asn;
        if kind.is_country() != expected_country {
            let wanted = match role {
                Role::Country => "a country or city database",
                Role::Operator => "a database with a country field (operator country)",
                Role::Asn => "an ASN database",
            };
            return Err(error(format!(
                "this is {} (database_type \"{database_type}\"), not {wanted}",
                kind.describe()
            )));
        }
        let metadata = reader.metadata();
        let description = metadata
            .description
            .get("en")
            .or_else(|| metadata.description.values().next())
            .cloned()
            .unwrap_or_default();
        let info = DatabaseInfo {
            role: role.name(),
            source,
            database_type,
            build_date: date_of_epoch(metadata.build_epoch),
            description,
        };
        Ok(Database { reader, kind, info })
    }

    pub(super) fn info(&self) -> &DatabaseInfo {
        &self.info
    }

    /// ISO 3166-1 alpha-2 code, upper case; `None` if the database has none or a malformed one.
    pub(super) fn country(&self, ip: IpAddr) -> Option<String> {
        #[derive(Deserialize)]
        struct IsoCode<'a> {
            #[serde(borrow)]
            iso_code: Option<&'a str>,
        }
        #[derive(Deserialize)]
        struct MaxMindRecord<'a> {
            #[serde(borrow)]
            country: Option<IsoCode<'a>>,
            #[serde(borrow)]
            registered_country: Option<IsoCode<'a>>,
        }
        #[derive(Deserialize)]
        struct IpLocationDbRecord<'a> {
            #[serde(borrow)]
            country_code: Option<&'a str>,
        }
        let result = self.reader.lookup(ip).ok()?;
        match self.kind {
            Kind::MaxMindCountry => {
                let record: MaxMindRecord = result.decode().ok()??;
                let code =
                    |c: Option<IsoCode>| c.and_then(|c| c.iso_code).and_then(normalise_country);
                code(record.country).or_else(|| code(record.registered_country))
            }
            Kind::IpLocationDbCountry => {
                let record: IpLocationDbRecord = result.decode().ok()??;
                record.country_code.and_then(normalise_country)
            }
            Kind::Asn => None,
        }
    }

    /// Latitude, longitude and accuracy radius (km) of a City database's `location`; `None`
    /// for other databases, and when any of the three is missing or out of range (without a
    /// radius the point would claim a precision nobody gave).
    pub(super) fn coordinates(&self, ip: IpAddr) -> Option<(f64, f64, f64)> {
        // The reader wants the stored integer width: MaxMind writes `accuracy_radius` as
        // uint16; a uint32 is accepted as well.
        #[derive(Deserialize)]
        struct Location<R> {
            latitude: Option<f64>,
            longitude: Option<f64>,
            accuracy_radius: Option<R>,
        }
        #[derive(Deserialize)]
        struct CityRecord<R> {
            location: Option<Location<R>>,
        }
        if self.kind != Kind::MaxMindCountry {
            return None;
        }
        let result = self.reader.lookup(ip).ok()?;
        let location = match result.decode::<CityRecord<u16>>() {
            Ok(record) => record?.location.map(|l| Location {
                latitude: l.latitude,
                longitude: l.longitude,
                accuracy_radius: l.accuracy_radius.map(u32::from),
            }),
            Err(_) => result.decode::<CityRecord<u32>>().ok()??.location,
        }?;
        let (lat, lon) = (location.latitude?, location.longitude?);
        let radius = f64::from(location.accuracy_radius?);
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some((lat, lon, radius))
    }

    /// AS number and organisation; either may be missing.
    pub(super) fn asn(&self, ip: IpAddr) -> (Option<u32>, Option<String>) {
        #[derive(Deserialize)]
        struct AsnRecord<'a> {
            autonomous_system_number: Option<u32>,
            #[serde(borrow)]
            autonomous_system_organization: Option<&'a str>,
        }
        let record: Option<AsnRecord> = self
            .reader
            .lookup(ip)
            .ok()
            .and_then(|r| r.decode().ok().flatten());
        match record {
            Some(r) => (
                r.autonomous_system_number.filter(|&n| n != 0),
                r.autonomous_system_organization
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(String::from),
            ),
            None => (None, None),
        }
    }
}

fn normalise_country(code: &str) -> Option<String> {
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}

/// Decides the kind from the keys of the first records (up to 16 networks) of the tree.
fn detect_kind(reader: &Reader<Bytes>) -> Result<Kind, String> {
    let networks = reader
        .networks(WithinOptions::default())
        .map_err(|e| format!("cannot read the search tree: {e}"))?;
    let mut seen_keys: Vec<String> = Vec::new();
    let mut records = 0;
    for item in networks.take(16) {
        let result = item.map_err(|e| format!("cannot read the search tree: {e}"))?;
        let record: Option<BTreeMap<String, serde::de::IgnoredAny>> = result
            .decode()
            .map_err(|e| format!("cannot decode a record: {e}"))?;
        let Some(record) = record else { continue };
        records += 1;
        let has = |key: &str| record.contains_key(key);
        if has("autonomous_system_number") {
            return Ok(Kind::Asn);
        }
        if has("country_code") {
            return Ok(Kind::IpLocationDbCountry);
        }
        if has("country")
            || has("registered_country")
            || has("represented_country")
            || has("continent")
            || has("city")
        {
            return Ok(Kind::MaxMindCountry);
        }
        for key in record.into_keys() {
            if !seen_keys.contains(&key) && seen_keys.len() < 8 {
                seen_keys.push(key);
            }
        }
    }
    if records == 0 {
        return Err("the database holds no records".into());
    }
    Err(format!(
        "unrecognised records (keys: {}); expected a GeoIP2/GeoLite2 Country, City or ASN database or an ip-location-db country database",
        seen_keys.join(", ")
    ))
}

/// `YYYY-MM-DD` (UTC) of a Unix time (Howard Hinnant's `civil_from_days`).
pub(super) fn date_of_epoch(epoch: u64) -> String {
    let z = (epoch / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
