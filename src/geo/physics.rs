//! Is a claimed server location physically possible, given a measured round-trip time?
//!
//! A reply cannot travel faster than light in fibre, so a round trip of `rtt_ms` bounds the
//! distance to the server ([`reachable_km`]). If the claimed location is farther from the
//! vantage point than that, the claim is impossible. To make "impossible" defensible, every
//! distance here is **conservatively small**, never larger than the truth:
//!
//! - Countries are sets of latitude/longitude boxes (`data/geo/country-bounds.csv`, from Natural
//!   Earth 1:10m outlines, each polygon's box widened by 10 km; several boxes where a country has
//!   far-flung parts). A box covers its polygon, so the distance to the nearest box is at most
//!   the distance to the country.
//! - Distances are great-circle distances on a sphere of [`EARTH_RADIUS_KM`] = 6335 km, 0.56%
//!   below the mean radius: the ellipsoidal distance differs from the spherical one by less
//!   than that.
//! - A City database's point is only as good as its accuracy radius, which is subtracted.
//!
//! The box distances are exact on the sphere (not approximations): inside a box's longitude
//! range the nearest point is straight north or south; outside it, it lies on the nearer edge
//! meridian, where the best latitude has a closed form. Longitudes wrap, so the antimeridian
//! needs no special case.

use std::collections::HashMap;
use std::sync::OnceLock;

static COUNTRY_BOUNDS_CSV: &str = include_str!("../../data/geo/country-bounds.csv");

/// Below the mean radius (6371.0 km) by more than the spherical model's error.
pub const EARTH_RADIUS_KM: f64 = 6335.0;
/// Light in fibre, one way, km per ms (the figure the policy uses; the true value is ~204).
pub const FIBRE_KM_PER_MS: f64 = 200.0;

/// Where the measurement was taken.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Vantage {
    /// Anywhere in this country (ISO alpha-2): distances are to the nearest point of it.
    Country(String),
    Point {
        lat: f64,
        lon: f64,
    },
}

/// Where a database says the server is.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimedLocation {
    /// Anywhere in this country (ISO alpha-2).
    Country(String),
    /// A City database's coordinates: somewhere within `accuracy_km` of the point.
    Point {
        lat: f64,
        lon: f64,
        accuracy_km: f64,
    },
}

/// The smallest distance in km between the vantage point and any point of the claimed location,
/// conservatively small: never larger than the truth.
///
/// `None` when the geometry is unknown: a country not in the table, a latitude outside ±90°, a
/// coordinate that is not finite, or a negative or NaN accuracy. Longitudes may be any finite
/// number (they wrap).
pub fn min_distance_km(vantage: &Vantage, claimed: &ClaimedLocation) -> Option<f64> {
    let vantage_boxes: Vec<GeoBox> = match vantage {
        Vantage::Country(code) => country_boxes(code)?.to_vec(),
        Vantage::Point { lat, lon } => vec![GeoBox::point(*lat, *lon)?],
    };
    let (claimed_boxes, accuracy_km): (Vec<GeoBox>, f64) = match claimed {
        ClaimedLocation::Country(code) => (country_boxes(code)?.to_vec(), 0.0),
        ClaimedLocation::Point {
            lat,
            lon,
            accuracy_km,
        } => {
            if accuracy_km.is_nan() || *accuracy_km < 0.0 {
                return None;
            }
            (vec![GeoBox::point(*lat, *lon)?], *accuracy_km)
        }
    };
    let mut best = f64::INFINITY;
    for a in &vantage_boxes {
        for b in &claimed_boxes {
            best = best.min(a.distance_to_box(b));
        }
    }
    if !best.is_finite() {
        return None;
    }
    // An infinite accuracy radius gives -inf here, and so 0.
    Some((best * EARTH_RADIUS_KM - accuracy_km).max(0.0))
}

/// Light in fibre covers ~200 km per ms one way; a round trip of rtt_ms reaches at most
/// rtt_ms/2*200 km. A negative or NaN RTT reaches nothing (0 km); see [`is_plausible`].
pub fn reachable_km(rtt_ms: f64) -> f64 {
    if rtt_ms.is_nan() || rtt_ms <= 0.0 {
        0.0
    } else {
        rtt_ms / 2.0 * FIBRE_KM_PER_MS
    }
}

/// Whether a server that answered in `rtt_ms` can be at the claimed location: `Some(false)`
/// means physically impossible (the nearest point of the claim is beyond reach). `None` when
/// the geometry is unknown (see [`min_distance_km`]) or the RTT is negative or NaN.
pub fn is_plausible(vantage: &Vantage, claimed: &ClaimedLocation, rtt_ms: f64) -> Option<bool> {
    if rtt_ms.is_nan() || rtt_ms < 0.0 {
        return None;
    }
    let distance = min_distance_km(vantage, claimed)?;
    Some(distance <= reachable_km(rtt_ms))
}

/// Whether the country table has geometry for `code` (ISO alpha-2, any case).
pub fn has_country_geometry(code: &str) -> bool {
    country_boxes(code).is_some()
}

// ----- geometry ------------------------------------------------------------------------------

/// A box in radians: latitudes `min_lat..=max_lat`, longitudes from `west` eastwards to `east`
/// (wrapping past ±π when `west > east`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct GeoBox {
    min_lat: f64,
    max_lat: f64,
    west: f64,
    east: f64,
}

impl GeoBox {
    /// A point; `None` unless the latitude is within ±90° and both are finite.
    fn point(lat: f64, lon: f64) -> Option<GeoBox> {
        if !lat.is_finite() || !lon.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return None;
        }
        let (lat, lon) = (lat.to_radians(), wrap(lon.to_radians()));
        Some(GeoBox {
            min_lat: lat,
            max_lat: lat,
            west: lon,
            east: lon,
        })
    }

    /// From degrees; `None` for inverted latitudes or out-of-range values.
    pub(super) fn from_degrees(
        min_lat: f64,
        max_lat: f64,
        min_lon: f64,
        max_lon: f64,
    ) -> Option<GeoBox> {
        let ok = |x: f64, limit: f64| x.is_finite() && (-limit..=limit).contains(&x);
        if !(ok(min_lat, 90.0) && ok(max_lat, 90.0) && ok(min_lon, 180.0) && ok(max_lon, 180.0))
            || min_lat > max_lat
        {
            return None;
        }
        if max_lon - min_lon >= 360.0 || (min_lon == -180.0 && max_lon == 180.0) {
            // The whole circle: any longitude is inside.
            return Some(GeoBox {
                min_lat: min_lat.to_radians(),
                max_lat: max_lat.to_radians(),
                west: -std::f64::consts::PI,
                east: std::f64::consts::PI,
            });
        }
        Some(GeoBox {
            min_lat: min_lat.to_radians(),
            max_lat: max_lat.to_radians(),
            west: wrap(min_lon.to_radians()),
            east: wrap(max_lon.to_radians()),
        })
    }

    fn full_circle(&self) -> bool {
        self.east - self.west >= 2.0 * std::f64::consts::PI - 1e-12
    }

    /// The eastward angle from `west` to `lon`, in `[0, 2π)`.
    fn offset(&self, lon: f64) -> f64 {
        (lon - self.west).rem_euclid(2.0 * std::f64::consts::PI)
    }

    fn width(&self) -> f64 {
        if self.full_circle() {
            2.0 * std::f64::consts::PI
        } else {
            (self.east - self.west).rem_euclid(2.0 * std::f64::consts::PI)
        }
    }

    fn contains_lon(&self, lon: f64) -> bool {
        self.full_circle() || self.offset(lon) <= self.width() + 1e-12
    }

    fn corners(&self) -> [(f64, f64); 4] {
        [
            (self.min_lat, self.west),
            (self.min_lat, self.east),
            (self.max_lat, self.west),
            (self.max_lat, self.east),
        ]
    }

    /// Central angle (radians) from a point to the nearest point of the box; exact.
    pub(super) fn distance_to_point(&self, lat: f64, lon: f64) -> f64 {
        if self.contains_lon(lon) {
            // Same meridian: the latitude difference to the clamped latitude.
            return (lat - lat.clamp(self.min_lat, self.max_lat)).abs();
        }
        // Outside the longitude range the nearest point is on an edge meridian; for a fixed
        // latitude the distance grows with the longitude difference, so both edges are tried.
        [self.west, self.east]
            .into_iter()
            .map(|edge| {
                let dlon = lon - edge;
                // On the meridian at `edge`, cos(distance) = sin φ sin φ' + cos φ cos Δλ cos φ'
                // is largest at φ' = atan2(sin φ, cos φ cos Δλ) when that lies in ±π/2; the
                // ends of the segment are the other candidates.
                let foot = lat.sin().atan2(lat.cos() * dlon.cos());
                let mut best = central_angle(lat, lon, self.min_lat, edge).min(central_angle(
                    lat,
                    lon,
                    self.max_lat,
                    edge,
                ));
                if foot.abs() <= std::f64::consts::FRAC_PI_2 {
                    let clamped = foot.clamp(self.min_lat, self.max_lat);
                    best = best.min(central_angle(lat, lon, clamped, edge));
                }
                best
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Central angle between the nearest points of two boxes; exact.
    ///
    /// If the longitude ranges overlap, the latitude gap (0 when the latitudes overlap too).
    /// Otherwise the nearest pair lies on the facing edge meridians, and on two meridian
    /// segments the minimum has one end at a segment end (two half great circles through the
    /// poles have no interior minimum), i.e. at a corner: so the smallest corner-to-box distance.
    pub(super) fn distance_to_box(&self, other: &GeoBox) -> f64 {
        let lon_overlap = self.contains_lon(other.west)
            || self.contains_lon(other.east)
            || other.contains_lon(self.west)
            || other.contains_lon(self.east);
        if lon_overlap {
            return (other.min_lat - self.max_lat)
                .max(self.min_lat - other.max_lat)
                .max(0.0);
        }
        let from_self = self
            .corners()
            .into_iter()
            .map(|(lat, lon)| other.distance_to_point(lat, lon));
        let from_other = other
            .corners()
            .into_iter()
            .map(|(lat, lon)| self.distance_to_point(lat, lon));
        from_self.chain(from_other).fold(f64::INFINITY, f64::min)
    }
}

/// Longitude into `[-π, π)`.
fn wrap(lon: f64) -> f64 {
    (lon + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI
}

/// Haversine central angle (radians) between two points in radians.
pub(super) fn central_angle(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let a = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * a.clamp(0.0, 1.0).sqrt().asin()
}

// ----- the country table ---------------------------------------------------------------------

/// Parses `country-bounds.csv`: `#` comments, a header, then
/// `country,min_lat,max_lat,min_lon,max_lon,from` rows (degrees).
pub(super) fn parse_bounds(text: &str) -> Result<HashMap<String, Vec<GeoBox>>, String> {
    let mut table: HashMap<String, Vec<GeoBox>> = HashMap::new();
    let mut header_seen = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let fail = |why: &str| format!("country-bounds.csv:{}: {why}", index + 1);
        let fields: Vec<&str> = line.splitn(6, ',').collect();
        let [code, min_lat, max_lat, min_lon, max_lon, _from] = fields.as_slice() else {
            return Err(fail("expected 6 fields"));
        };
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(fail("bad country code"));
        }
        let number = |text: &str| text.trim().parse::<f64>().map_err(|_| fail("bad number"));
        let geo_box = GeoBox::from_degrees(
            number(min_lat)?,
            number(max_lat)?,
            number(min_lon)?,
            number(max_lon)?,
        )
        .ok_or_else(|| fail("coordinates out of range"))?;
        table.entry(code.to_string()).or_default().push(geo_box);
    }
    Ok(table)
}

fn country_table() -> &'static HashMap<String, Vec<GeoBox>> {
    static TABLE: OnceLock<HashMap<String, Vec<GeoBox>>> = OnceLock::new();
    // A test requires the embedded table to parse; an unparsable one gives "unknown geometry".
    TABLE.get_or_init(|| parse_bounds(COUNTRY_BOUNDS_CSV).unwrap_or_default())
}

fn country_boxes(code: &str) -> Option<&'static [GeoBox]> {
    country_table()
        .get(&code.trim().to_ascii_uppercase())
        .map(Vec::as_slice)
}

#[cfg(test)]
pub(super) fn embedded_bounds_csv() -> &'static str {
    COUNTRY_BOUNDS_CSV
}
