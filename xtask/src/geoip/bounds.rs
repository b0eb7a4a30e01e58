//! `cargo xtask geoip --country-bounds`: rebuilds `data/geo/country-bounds.csv`, the country
//! geometry of callaudit's RTT plausibility check (`src/geo/physics.rs`).
//!
//! Source: Natural Earth's Admin 0 countries at 1:10m (public domain), as TopoJSON in the npm
//! package `world-atlas` (ISC), with ISO 3166-1 numeric → alpha-2 codes from the npm package
//! `i18n-iso-countries` (MIT). For each country: one bounding box per polygon, widened by
//! [`MARGIN_KM`], boxes inside another dropped, then the cheapest pairs merged until at most
//! [`MAX_BOXES`] remain. Every step only grows the covered area, so the distance callaudit
//! computes to the boxes is never larger than the distance to the country's outline.
//!
//! Natural Earth keeps some territories inside their parent's feature (France's overseas
//! departments, Svalbard in Norway, the Caribbean Netherlands) and names a few areas without an
//! ISO code: [`SPLITS`] and [`UNNAMED`] give those polygons their own codes (the parent keeps
//! them too), and [`ALSO_PART_OF`] adds dependent territories to their state (US territories to
//! US), since "anywhere in the US" must include them to stay conservative.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use super::{fetch, read, write};

const ATLAS_PACKAGE: &str = "world-atlas";
const ATLAS_FILE: &str = "countries-10m.json";
const CODES_PACKAGE: &str = "i18n-iso-countries";
/// Widening of every polygon's box: covers the generalisation of the 1:10m outlines and the
/// bulge of long edges, which are straight in degrees but not on the sphere.
const MARGIN_KM: f64 = 10.0;
const MAX_BOXES: usize = 8;
/// An inclusive range of degrees.
type Span = (f64, f64);
const KM_PER_DEGREE: f64 = 111.2;

/// Polygons of a parent feature (ISO numeric) that also get their own code: (parent, code, lat
/// range, lon range); a polygon belongs when its box's centre is inside.
const SPLITS: &[(&str, &str, Span, Span)] = &[
    ("250", "GF", (1.5, 6.5), (-55.5, -51.0)),
    ("250", "GP", (15.7, 16.7), (-62.0, -60.8)),
    ("250", "MQ", (14.2, 15.0), (-61.4, -60.6)),
    ("250", "RE", (-21.6, -20.7), (55.0, 56.0)),
    ("250", "YT", (-13.2, -12.4), (44.8, 45.5)),
    ("578", "SJ", (74.0, 81.5), (10.0, 35.0)),
    ("578", "SJ", (70.7, 71.3), (-9.5, -7.5)),
    ("528", "BQ", (11.9, 18.0), (-69.0, -62.5)),
    ("-Indian Ocean Ter.", "CX", (-11.0, -10.0), (105.0, 106.5)),
    ("-Indian Ocean Ter.", "CC", (-12.5, -11.5), (96.5, 97.5)),
];

/// Features without an ISO numeric code: name → the codes they count for.
const UNNAMED: &[(&str, &[&str])] = &[
    ("Somaliland", &["SO"]),
    ("Kosovo", &["XK"]),
    ("N. Cyprus", &["CY"]),
    ("Cyprus U.N. Buffer Zone", &["CY"]),
    ("Dhekelia", &["CY", "GB"]),
    ("Akrotiri", &["CY", "GB"]),
    ("USNB Guantanamo Bay", &["CU", "US"]),
    ("Siachen Glacier", &["IN", "PK"]),
    ("Baikonur", &["KZ"]),
    ("Indian Ocean Ter.", &["AU"]),
    ("Coral Sea Is.", &["AU"]),
    ("Clipperton I.", &["FR"]),
];

/// Territories that also count as part of a state: (territory, state).
const ALSO_PART_OF: &[(&str, &str)] = &[
    ("PR", "US"),
    ("GU", "US"),
    ("VI", "US"),
    ("AS", "US"),
    ("MP", "US"),
    ("UM", "US"),
];

/// A latitude/longitude box in degrees (`min_lon <= max_lon`; polygons never cross ±180 in
/// Natural Earth, which splits them there).
#[derive(Debug, Clone)]
struct GeoBox {
    min_lat: f64,
    max_lat: f64,
    min_lon: f64,
    max_lon: f64,
    from: Vec<String>,
}

impl GeoBox {
    fn union(&self, other: &GeoBox) -> GeoBox {
        let mut from = self.from.clone();
        for name in &other.from {
            if !from.contains(name) {
                from.push(name.clone());
            }
        }
        GeoBox {
            min_lat: self.min_lat.min(other.min_lat),
            max_lat: self.max_lat.max(other.max_lat),
            min_lon: self.min_lon.min(other.min_lon),
            max_lon: self.max_lon.max(other.max_lon),
            from,
        }
    }

    /// Roughly the area in square degrees of latitude (longitude shrunk by the cosine).
    fn area(&self) -> f64 {
        let mid = ((self.min_lat + self.max_lat) / 2.0).to_radians().cos();
        (self.max_lat - self.min_lat) * (self.max_lon - self.min_lon) * mid.max(0.05)
    }

    fn contains(&self, other: &GeoBox) -> bool {
        self.min_lat <= other.min_lat
            && self.max_lat >= other.max_lat
            && self.min_lon <= other.min_lon
            && self.max_lon >= other.max_lon
    }

    /// The box widened by `km` on every side; a part pushed past ±180 becomes a second box on
    /// the other side.
    fn widened(mut self, km: f64) -> Vec<GeoBox> {
        let dlat = km / KM_PER_DEGREE;
        let widest = self.min_lat.abs().max(self.max_lat.abs()) + dlat;
        let cos = widest.min(90.0).to_radians().cos().max(0.01);
        let dlon = (km / (KM_PER_DEGREE * cos)).min(360.0);
        self.min_lat = (self.min_lat - dlat).max(-90.0);
        self.max_lat = (self.max_lat + dlat).min(90.0);
        let (west, east) = (self.min_lon - dlon, self.max_lon + dlon);
        if east - west >= 360.0 {
            self.min_lon = -180.0;
            self.max_lon = 180.0;
            return vec![self];
        }
        self.min_lon = west.max(-180.0);
        self.max_lon = east.min(180.0);
        let mut out = Vec::new();
        if west < -180.0 {
            let mut wrapped = self.clone();
            wrapped.min_lon = west + 360.0;
            wrapped.max_lon = 180.0;
            out.push(wrapped);
        }
        if east > 180.0 {
            let mut wrapped = self.clone();
            wrapped.min_lon = -180.0;
            wrapped.max_lon = east - 360.0;
            out.push(wrapped);
        }
        out.push(self);
        out
    }
}

pub fn build(geo_dir: &Path, work_dir: &Path) -> Result<(), String> {
    let atlas = fetch(ATLAS_PACKAGE, None, work_dir)?;
    let codes_package = fetch(CODES_PACKAGE, None, work_dir)?;
    let codes: Vec<Vec<String>> = serde_json::from_slice(&read(&codes_package.file("codes.json"))?)
        .map_err(|e| format!("{CODES_PACKAGE}: codes.json: {e}"))?;
    let alpha2_of: HashMap<String, String> = codes
        .iter()
        .filter(|row| row.len() >= 3)
        .map(|row| (row[2].clone(), row[0].to_ascii_uppercase()))
        .collect();
    let topology: serde_json::Value = serde_json::from_slice(&read(&atlas.file(ATLAS_FILE))?)
        .map_err(|e| format!("{ATLAS_PACKAGE}: {ATLAS_FILE}: {e}"))?;
    let arcs = decode_arcs(&topology)?;
    let geometries = topology["objects"]["countries"]["geometries"]
        .as_array()
        .ok_or("countries: no geometries")?;

    let mut boxes: BTreeMap<String, Vec<GeoBox>> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for geometry in geometries {
        let name = geometry["properties"]["name"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let id = geometry["id"].as_str().map(str::to_string);
        let parent_key = id.clone().unwrap_or_else(|| format!("-{name}"));
        let mut codes: Vec<String> = match &id {
            Some(id) => alpha2_of.get(id).cloned().into_iter().collect(),
            None => UNNAMED
                .iter()
                .filter(|(n, _)| *n == name)
                .flat_map(|(_, codes)| codes.iter().map(|c| c.to_string()))
                .collect(),
        };
        for (territory, state) in ALSO_PART_OF {
            if codes.iter().any(|c| c == territory) {
                codes.push(state.to_string());
            }
        }
        if codes.is_empty() {
            unmapped.push(name.clone());
            continue;
        }
        for outline in polygons(geometry)?
            .iter()
            .map(|polygon| polygon_boxes(polygon, &arcs, &name))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
        {
            let centre = (
                (outline.min_lat + outline.max_lat) / 2.0,
                (outline.min_lon + outline.max_lon) / 2.0,
            );
            let mut own = codes.clone();
            for (parent, code, lat, lon) in SPLITS {
                if *parent == parent_key
                    && (lat.0..=lat.1).contains(&centre.0)
                    && (lon.0..=lon.1).contains(&centre.1)
                    && !own.iter().any(|c| c == code)
                {
                    own.push(code.to_string());
                }
            }
            let widened = outline.widened(MARGIN_KM);
            for code in own {
                boxes
                    .entry(code)
                    .or_default()
                    .extend(widened.iter().cloned());
            }
        }
    }
    for (_, code, _, _) in SPLITS {
        if !boxes.contains_key(*code) {
            return Err(format!("no polygon matched the split for {code}"));
        }
    }

    let mut csv = format!(
        "# Country bounding boxes for callaudit's RTT plausibility check (src/geo/physics.rs).\n\
         # Generated by `cargo xtask geoip --country-bounds`; do not edit by hand.\n\
         # Source: Natural Earth Admin 0 countries 1:10m (public domain), from the npm package\n\
         # {ATLAS_PACKAGE}@{} ({ATLAS_FILE}, ISC; sha512 {}), with ISO 3166-1 codes from the npm\n\
         # package {CODES_PACKAGE}@{} (MIT).\n\
         # Each polygon's box is widened by {MARGIN_KM} km and rounded outwards to 0.01 degree;\n\
         # boxes are merged (only ever growing) to at most {MAX_BOXES} per country.\n\
         # A country may have several rows: the distance to a country is the distance to its nearest box.\n\
         country,min_lat,max_lat,min_lon,max_lon,from\n",
        atlas.version, atlas.integrity, codes_package.version
    );
    let mut rows = 0;
    for (code, list) in &mut boxes {
        let merged = merge(std::mem::take(list));
        for b in merged {
            let floor = |x: f64| (x * 100.0).floor() / 100.0;
            let ceil = |x: f64| (x * 100.0).ceil() / 100.0;
            let from = if b.from.len() > 3 {
                format!("{} +{} more", b.from[..3].join("; "), b.from.len() - 3)
            } else {
                b.from.join("; ")
            };
            csv += &format!(
                "{code},{:.2},{:.2},{:.2},{:.2},{}\n",
                floor(b.min_lat).max(-90.0),
                ceil(b.max_lat).min(90.0),
                floor(b.min_lon).max(-180.0),
                ceil(b.max_lon).min(180.0),
                from.replace(',', " ")
            );
            rows += 1;
        }
    }
    fs::create_dir_all(geo_dir).map_err(|e| format!("{}: {e}", geo_dir.display()))?;
    write(&geo_dir.join("country-bounds.csv"), csv.as_bytes())?;
    eprintln!(
        "wrote data/geo/country-bounds.csv: {} countries, {rows} boxes; features without a code: {}",
        boxes.len(),
        unmapped.join(", ")
    );
    Ok(())
}

/// The arcs as absolute coordinates (TopoJSON: quantized, delta-encoded).
fn decode_arcs(topology: &serde_json::Value) -> Result<Vec<Vec<(f64, f64)>>, String> {
    let number = |v: &serde_json::Value| v.as_f64().ok_or("transform: not a number");
    let transform = &topology["transform"];
    let (sx, sy) = (
        number(&transform["scale"][0])?,
        number(&transform["scale"][1])?,
    );
    let (tx, ty) = (
        number(&transform["translate"][0])?,
        number(&transform["translate"][1])?,
    );
    let arcs = topology["arcs"].as_array().ok_or("topology: no arcs")?;
    arcs.iter()
        .map(|arc| {
            let (mut x, mut y) = (0i64, 0i64);
            arc.as_array()
                .ok_or("arc is not an array")?
                .iter()
                .map(|point| {
                    x += point[0].as_i64().ok_or("arc point: not an integer")?;
                    y += point[1].as_i64().ok_or("arc point: not an integer")?;
                    // (lon, lat)
                    Ok((x as f64 * sx + tx, y as f64 * sy + ty))
                })
                .collect::<Result<Vec<_>, &str>>()
        })
        .collect::<Result<_, _>>()
        .map_err(|e: &str| e.to_string())
}

/// The polygons of a geometry, each a list of rings of arc indexes.
fn polygons(geometry: &serde_json::Value) -> Result<Vec<serde_json::Value>, String> {
    match geometry["type"].as_str() {
        Some("Polygon") => Ok(vec![geometry["arcs"].clone()]),
        Some("MultiPolygon") => Ok(geometry["arcs"].as_array().cloned().unwrap_or_default()),
        Some(_) | None => Ok(Vec::new()),
    }
}

/// The boxes of a polygon's outer ring (holes cannot widen it): one box, or two when the ring
/// crosses ±180 (world-atlas keeps such polygons whole, e.g. Russia's and Fiji's), split there.
///
/// The longitude extent is the smallest arc holding every vertex: the complement of the widest
/// gap between vertex longitudes. An edge runs the short way (under 180°), so it cannot cross
/// that gap unless the gap is narrower than the edge; then the whole circle is used.
fn polygon_boxes(
    polygon: &serde_json::Value,
    arcs: &[Vec<(f64, f64)>],
    name: &str,
) -> Result<Vec<GeoBox>, String> {
    let Some(outer) = polygon.get(0).and_then(|ring| ring.as_array()) else {
        return Ok(Vec::new());
    };
    let mut points: Vec<(f64, f64)> = Vec::new();
    for index in outer {
        let index = index.as_i64().ok_or("arc index: not an integer")?;
        let arc = usize::try_from(if index < 0 { !index } else { index })
            .ok()
            .and_then(|i| arcs.get(i))
            .ok_or(format!("{name}: arc {index} out of range"))?;
        points.extend_from_slice(arc);
    }
    if points.is_empty() {
        return Ok(Vec::new());
    }
    let (mut min_lat, mut max_lat) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, lat) in &points {
        min_lat = min_lat.min(lat);
        max_lat = max_lat.max(lat);
    }
    // The widest step between consecutive vertices, the short way round.
    let mut widest_edge: f64 = 0.0;
    for pair in points.windows(2) {
        let d = (pair[1].0 - pair[0].0).abs();
        widest_edge = widest_edge.max(d.min(360.0 - d));
    }
    let mut lons: Vec<f64> = points.iter().map(|p| p.0).collect();
    lons.sort_by(f64::total_cmp);
    lons.dedup();
    // Gap after each longitude (the last one wraps to the first + 360).
    let (mut gap, mut gap_start) = (0.0, 0usize);
    for i in 0..lons.len() {
        let next = if i + 1 < lons.len() {
            lons[i + 1]
        } else {
            lons[0] + 360.0
        };
        if next - lons[i] > gap {
            gap = next - lons[i];
            gap_start = i;
        }
    }
    let b = |min_lon: f64, max_lon: f64| GeoBox {
        min_lat,
        max_lat,
        min_lon,
        max_lon,
        from: vec![name.to_string()],
    };
    // A ring that winds once around the globe encloses a pole (Antarctica's does), which no
    // vertex shows: the box must reach it.
    let mut winding = 0.0;
    for pair in points
        .windows(2)
        .chain(std::iter::once(&[points[points.len() - 1], points[0]][..]))
    {
        let d = pair[1].0 - pair[0].0;
        winding += if d > 180.0 {
            d - 360.0
        } else if d < -180.0 {
            d + 360.0
        } else {
            d
        };
    }
    if winding.abs() > 180.0 {
        let mean_lat = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
        let (lo, hi) = if mean_lat < 0.0 {
            (-90.0, max_lat)
        } else {
            (min_lat, 90.0)
        };
        return Ok(vec![GeoBox {
            min_lat: lo,
            max_lat: hi,
            min_lon: -180.0,
            max_lon: 180.0,
            from: vec![name.to_string()],
        }]);
    }
    if gap <= widest_edge {
        return Ok(vec![b(-180.0, 180.0)]);
    }
    // The extent runs from the longitude after the gap to the one before it.
    let west = lons[(gap_start + 1) % lons.len()];
    let east = lons[gap_start];
    Ok(if west <= east {
        vec![b(west, east)]
    } else {
        vec![b(west, 180.0), b(-180.0, east)]
    })
}

/// Drops boxes inside others, then merges the pair whose union adds the least area while that
/// is little (at most the smaller box's own area) or while there are more than [`MAX_BOXES`].
fn merge(mut boxes: Vec<GeoBox>) -> Vec<GeoBox> {
    loop {
        let mut removed = false;
        'outer: for i in 0..boxes.len() {
            for j in 0..boxes.len() {
                if i != j && boxes[i].contains(&boxes[j]) {
                    let inner = boxes.remove(j);
                    let keep = if j < i { i - 1 } else { i };
                    boxes[keep] = boxes[keep].union(&inner);
                    removed = true;
                    break 'outer;
                }
            }
        }
        if !removed {
            break;
        }
    }
    while boxes.len() > 1 {
        let mut best: Option<(f64, usize, usize)> = None;
        for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                let union = boxes[i].union(&boxes[j]);
                // Never merge across most of the globe (e.g. both sides of ±180).
                if union.max_lon - union.min_lon > 180.0 && boxes.len() <= MAX_BOXES * 2 {
                    continue;
                }
                let added = union.area() - boxes[i].area() - boxes[j].area();
                if best.is_none_or(|(cost, _, _)| added < cost) {
                    best = Some((added, i, j));
                }
            }
        }
        let Some((cost, i, j)) = best else { break };
        let small = boxes[i].area().min(boxes[j].area());
        if boxes.len() <= MAX_BOXES && cost > small.max(0.01) {
            break;
        }
        let b = boxes.remove(j);
        boxes[i] = boxes[i].union(&b);
    }
    boxes.sort_by(|a, b| b.area().total_cmp(&a.area()));
    boxes
}
