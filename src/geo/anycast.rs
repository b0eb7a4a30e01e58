//! Known anycast ranges (`data/geo/anycast.csv`, hand-maintained, each row with its source and
//! date). An address in one is served from many places, so no database can say where the
//! answering server is: [`super::ServerGeo::anycast`] says so.

use std::net::IpAddr;
use std::sync::OnceLock;

static ANYCAST_CSV: &str = include_str!("../../data/geo/anycast.csv");

/// One row of `data/geo/anycast.csv`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnycastRange {
    pub network: IpAddr,
    pub prefix_len: u8,
    pub operator: String,
    /// Where the range is published as anycast.
    pub source: String,
    /// When the row was transcribed from the source (`YYYY-MM-DD`).
    pub date: String,
}

impl AnycastRange {
    fn contains(&self, ip: IpAddr) -> bool {
        let len = u32::from(self.prefix_len);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                len == 0 || net.to_bits() >> (32 - len) == ip.to_bits() >> (32 - len)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                len == 0 || net.to_bits() >> (128 - len) == ip.to_bits() >> (128 - len)
            }
            _ => false,
        }
    }
}

/// Parses the CSV: `#` lines are comments, the first other line is the header. A malformed
/// row is an error naming its line (the file is embedded, so tests catch it at build time).
pub(super) fn parse(text: &str) -> Result<Vec<AnycastRange>, String> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let fail = |why: &str| format!("anycast.csv:{}: {why}: {line}", index + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [prefix, operator, source, date] = fields.as_slice() else {
            return Err(fail("expected 4 fields"));
        };
        let (network, len) = prefix.split_once('/').ok_or_else(|| fail("no /length"))?;
        let network: IpAddr = network.parse().map_err(|_| fail("bad address"))?;
        let prefix_len: u8 = len.parse().map_err(|_| fail("bad prefix length"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(fail("prefix length too long"));
        }
        let host_bits = u32::from(max - prefix_len);
        let host_part = match network {
            IpAddr::V4(a) => u128::from(a.to_bits()) & ((1u128 << host_bits) - 1),
            IpAddr::V6(a) => {
                if host_bits == 128 {
                    a.to_bits()
                } else {
                    a.to_bits() & ((1u128 << host_bits) - 1)
                }
            }
        };
        if host_part != 0 {
            return Err(fail("host bits set"));
        }
        if operator.is_empty() || source.is_empty() || date.len() != 10 {
            return Err(fail("empty operator or source, or date not YYYY-MM-DD"));
        }
        rows.push(AnycastRange {
            network,
            prefix_len,
            operator: operator.to_string(),
            source: source.to_string(),
            date: date.to_string(),
        });
    }
    Ok(rows)
}

/// The embedded list (a test requires it to parse; if it did not, the list would be empty).
pub fn anycast_ranges() -> &'static [AnycastRange] {
    static RANGES: OnceLock<Vec<AnycastRange>> = OnceLock::new();
    RANGES.get_or_init(|| parse(ANYCAST_CSV).unwrap_or_default())
}

/// The operator of the listed anycast range holding `ip` (already canonical).
pub(super) fn operator_of(ip: IpAddr) -> Option<&'static str> {
    anycast_ranges()
        .iter()
        .find(|range| range.contains(ip))
        .map(|range| range.operator.as_str())
}

#[cfg(test)]
pub(super) fn embedded_csv() -> &'static str {
    ANYCAST_CSV
}
