//! Special-purpose addresses (RFC 6890 and IANA's IPv4/IPv6 special-purpose address
//! registries). They have no location and no operator that a GeoIP database could know, so they
//! are answered here and never looked up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not looked up: the special-purpose range it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialRange {
    /// 10/8, 172.16/12, 192.168/16 (RFC 1918).
    Private,
    /// 127/8, ::1.
    Loopback,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 100.64/10, shared address space for carrier-grade NAT (RFC 6598).
    Cgnat,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737), 2001:db8::/32, 3fff::/20 (RFC 9637).
    Documentation,
    /// 224/4, ff00::/8.
    Multicast,
    /// 0.0.0.0, ::.
    Unspecified,
    /// 255.255.255.255 (limited broadcast).
    Broadcast,
    /// 240/4, and IPv6 outside global unicast 2000::/3 not named otherwise (e.g. the discard
    /// prefix 100::/64, deprecated site-local fec0::/10, IPv4-compatible ::/96).
    Reserved,
    /// fc00::/7 (RFC 4193).
    UniqueLocal,
    /// 198.18/15 (RFC 2544), 2001:2::/48 (RFC 5180).
    Benchmarking,
    /// 0/8 other than 0.0.0.0: "this network" (RFC 791).
    ThisNetwork,
    /// 192.0.0/24: IETF protocol assignments (DS-Lite, NAT64 discovery, PCP/TURN anycast, …).
    ProtocolAssignment,
}

impl SpecialRange {
    /// The stable name used in reports (the same as the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialRange::Private => "private",
            SpecialRange::Loopback => "loopback",
            SpecialRange::LinkLocal => "link_local",
            SpecialRange::Cgnat => "cgnat",
            SpecialRange::Documentation => "documentation",
            SpecialRange::Multicast => "multicast",
            SpecialRange::Unspecified => "unspecified",
            SpecialRange::Broadcast => "broadcast",
            SpecialRange::Reserved => "reserved",
            SpecialRange::UniqueLocal => "unique_local",
            SpecialRange::Benchmarking => "benchmarking",
            SpecialRange::ThisNetwork => "this_network",
            SpecialRange::ProtocolAssignment => "protocol_assignment",
        }
    }
}

impl std::fmt::Display for SpecialRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

use SpecialRange::*;

/// Checked in order: the more specific entries come first.
const V4: &[(Ipv4Addr, u32, SpecialRange)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 32, Unspecified),
    (Ipv4Addr::new(0, 0, 0, 0), 8, ThisNetwork),
    (Ipv4Addr::new(10, 0, 0, 0), 8, Private),
    (Ipv4Addr::new(100, 64, 0, 0), 10, Cgnat),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, LinkLocal),
    (Ipv4Addr::new(172, 16, 0, 0), 12, Private),
    (Ipv4Addr::new(192, 0, 0, 0), 24, ProtocolAssignment),
    (Ipv4Addr::new(192, 0, 2, 0), 24, Documentation),
    (Ipv4Addr::new(192, 168, 0, 0), 16, Private),
    (Ipv4Addr::new(198, 18, 0, 0), 15, Benchmarking),
    (Ipv4Addr::new(198, 51, 100, 0), 24, Documentation),
    (Ipv4Addr::new(203, 0, 113, 0), 24, Documentation),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Multicast),
    (Ipv4Addr::new(255, 255, 255, 255), 32, Broadcast),
    (Ipv4Addr::new(240, 0, 0, 0), 4, Reserved),
];

/// Checked in order; anything else outside 2000::/3 is `Reserved`.
const V6: &[(Ipv6Addr, u32, SpecialRange)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, Unspecified),
    (Ipv6Addr::LOCALHOST, 128, Loopback),
    (
        Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 0),
        48,
        Benchmarking,
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        Documentation,
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        Documentation,
    ),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, UniqueLocal),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, LinkLocal),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, Multicast),
];

/// The address a lookup should use: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) or one in the
/// NAT64 well-known prefix (`64:ff9b::a.b.c.d`, RFC 6052) stands for its IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = v6.to_bits();
            if bits >> 32 == 0x0064_ff9b_u128 << 64 {
                return IpAddr::V4(Ipv4Addr::from_bits(bits as u32));
            }
            ip
        }
        IpAddr::V4(_) => ip,
    }
}

/// The special-purpose range `ip` is in, if any (after [`canonical`]).
pub fn classify(ip: IpAddr) -> Option<SpecialRange> {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let bits = v4.to_bits();
            V4.iter()
                .find(|(network, len, _)| bits >> (32 - len) == network.to_bits() >> (32 - len))
                .map(|&(_, _, range)| range)
        }
        IpAddr::V6(v6) => {
            let bits = v6.to_bits();
            let listed = V6
                .iter()
                .find(|(network, len, _)| bits >> (128 - len) == network.to_bits() >> (128 - len))
                .map(|&(_, _, range)| range);
            let global_unicast = bits >> 125 == 0b001;
            listed.or((!global_unicast).then_some(Reserved))
        }
    }
}
