//! Link headers etherparse does not slice on its own: Linux cooked captures (SLL, SLL2) and BSD
//! loopback (NULL, LOOP). Each is a small fixed header naming the network protocol; we read that
//! protocol as an ether type and hand the rest back to etherparse.
//!
//! References: <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>,
//! `LINKTYPE_LINUX_SLL2.html`, `LINKTYPE_NULL.html`, `LINKTYPE_LOOP.html`.

use etherparse::EtherType;

use super::Malformed;
use crate::capture::LinkType;

pub enum Stripped<'a> {
    EtherType(EtherType, &'a [u8]),
    NotIp,
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const LOOPBACK_HEADER_LEN: usize = 4;

/// Address family values for IPv6 differ between BSDs, macOS and Linux; all of them mean IPv6
/// here because the header only tells us which network layer follows.
const AF_INET: u32 = 2;
const AF_INET6_VALUES: [u32; 4] = [10, 24, 28, 30];

pub fn strip(link_type: LinkType, data: &[u8]) -> Result<Stripped<'_>, Malformed> {
    match link_type {
        LinkType::LINUX_SLL => {
            let (header, rest) = split(data, SLL_HEADER_LEN, "linux_sll")?;
            Ok(by_ether_type(be16(header, 14), rest))
        }
        LinkType::LINUX_SLL2 => {
            let (header, rest) = split(data, SLL2_HEADER_LEN, "linux_sll2")?;
            Ok(by_ether_type(be16(header, 0), rest))
        }
        LinkType::NULL => {
            let (header, rest) = split(data, LOOPBACK_HEADER_LEN, "bsd_null")?;
            // NULL stores the family in the *capturing* host's byte order, which we do not know:
            // a value that only makes sense byte-swapped was written big-endian.
            let little = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let family = if little > 0xFFFF {
                little.swap_bytes()
            } else {
                little
            };
            Ok(by_address_family(family, rest))
        }
        LinkType::LOOP => {
            let (header, rest) = split(data, LOOPBACK_HEADER_LEN, "bsd_loop")?;
            let family = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
            Ok(by_address_family(family, rest))
        }
        _ => Err(Malformed {
            layer: "link",
            reason: "unsupported link type",
        }),
    }
}

fn split<'a>(
    data: &'a [u8],
    len: usize,
    layer: &'static str,
) -> Result<(&'a [u8], &'a [u8]), Malformed> {
    data.split_at_checked(len).ok_or(Malformed {
        layer,
        reason: "truncated header",
    })
}

fn be16(header: &[u8], offset: usize) -> u16 {
    match header.get(offset..offset + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn by_ether_type(value: u16, rest: &[u8]) -> Stripped<'_> {
    let ether_type = EtherType(value);
    match ether_type {
        EtherType::IPV4
        | EtherType::IPV6
        | EtherType::VLAN_TAGGED_FRAME
        | EtherType::PROVIDER_BRIDGING
        | EtherType::VLAN_DOUBLE_TAGGED_FRAME => Stripped::EtherType(ether_type, rest),
        _ => Stripped::NotIp,
    }
}

fn by_address_family(family: u32, rest: &[u8]) -> Stripped<'_> {
    if family == AF_INET {
        Stripped::EtherType(EtherType::IPV4, rest)
    } else if AF_INET6_VALUES.contains(&family) {
        Stripped::EtherType(EtherType::IPV6, rest)
    } else {
        Stripped::NotIp
    }
}
