//! The fast path for the packets that make up nearly all of any capture: Ethernet (with up to
//! two VLAN tags) or raw IP, carrying an unfragmented, complete IPv4 or IPv6 packet with UDP or
//! TCP straight after the IP header.
//!
//! etherparse's lax slicing builds a description of every layer (a few hundred bytes, copied
//! more than once); for these packets we only need addresses, ports and the payload, and reading
//! them straight from fixed offsets is several times cheaper. Anything else — fragments, IPv6
//! extension headers, lengths that disagree with the captured bytes, other ether types — returns
//! `None` and goes the lax way, which counts and names what is wrong. A property test checks
//! that whenever this path answers, the lax path answers the same.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{DecodedPacket, TcpSegment, Transport};

const ETHER_IPV4: u16 = 0x0800;
const ETHER_IPV6: u16 = 0x86dd;
/// 802.1Q, 802.1ad, and the pre-standard QinQ type etherparse also accepts. A `matches!`
/// rather than a slice's `contains`, which did not inline and cost a call per packet.
fn is_vlan(ether_type: u16) -> bool {
    matches!(ether_type, 0x8100 | 0x88a8 | 0x9100)
}
const UDP: u8 = 17;
const TCP: u8 = 6;

/// An Ethernet frame.
pub fn ethernet(frame: &[u8]) -> Option<DecodedPacket<'_>> {
    let mut ether_type = be16(frame, 12)?;
    let mut at = 14;
    for _ in 0..2 {
        if !is_vlan(ether_type) {
            break;
        }
        ether_type = be16(frame, at + 2)?;
        at += 4;
    }
    let rest = frame.get(at..)?;
    match ether_type {
        ETHER_IPV4 => ipv4(rest),
        ETHER_IPV6 => ipv6(rest),
        _ => None,
    }
}

/// An IP packet of either version (raw-IP link types).
pub fn ip(packet: &[u8]) -> Option<DecodedPacket<'_>> {
    match packet.first()? >> 4 {
        4 => ipv4(packet),
        6 => ipv6(packet),
        _ => None,
    }
}

fn ipv4(packet: &[u8]) -> Option<DecodedPacket<'_>> {
    let first = *packet.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    let total_len = usize::from(be16(packet, 2)?);
    if first >> 4 != 4 || header_len < 20 || total_len < header_len || total_len > packet.len() {
        return None;
    }
    // More-fragments flag or a fragment offset: leave fragments to the lax path.
    if be16(packet, 6)? & 0x3fff != 0 {
        return None;
    }
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(packet.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(packet.get(16..20)?).ok()?);
    let payload = packet.get(header_len..total_len)?;
    transport(
        packet[9],
        IpAddr::V4(src),
        IpAddr::V4(dst),
        payload,
        total_len as u32,
    )
}

fn ipv6(packet: &[u8]) -> Option<DecodedPacket<'_>> {
    if packet.first()? >> 4 != 6 {
        return None;
    }
    let payload_len = usize::from(be16(packet, 4)?);
    // Zero is a jumbogram or a segmentation-offload capture: the lax path knows those.
    if payload_len == 0 || 40 + payload_len > packet.len() {
        return None;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(8..24)?).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(24..40)?).ok()?);
    let payload = packet.get(40..40 + payload_len)?;
    transport(
        packet[6],
        IpAddr::V6(src),
        IpAddr::V6(dst),
        payload,
        40 + payload_len as u32,
    )
}

// Inlined into each IP version's path: the call's entry and exit and the copy of the result
// were a sixth of the fast path.
#[inline(always)]
fn transport<'a>(
    protocol: u8,
    src: IpAddr,
    dst: IpAddr,
    segment: &'a [u8],
    ip_len: u32,
) -> Option<DecodedPacket<'a>> {
    let src_port = be16(segment, 0)?;
    let dst_port = be16(segment, 2)?;
    let (transport, tcp, payload) = match protocol {
        UDP => {
            let length = usize::from(be16(segment, 4)?);
            if length < 8 || length > segment.len() {
                return None;
            }
            (Transport::Udp, None, segment.get(8..length)?)
        }
        TCP => {
            let header_len = usize::from(*segment.get(12)? >> 4) * 4;
            if header_len < 20 || header_len > segment.len() {
                return None;
            }
            let flags = segment[13];
            let sequence = u32::from_be_bytes(segment.get(4..8)?.try_into().ok()?);
            let tcp = TcpSegment {
                sequence,
                fin: flags & 0x01 != 0,
                syn: flags & 0x02 != 0,
                rst: flags & 0x04 != 0,
                ack: flags & 0x10 != 0,
            };
            (Transport::Tcp, Some(tcp), segment.get(header_len..)?)
        }
        _ => return None,
    };
    Some(DecodedPacket {
        src,
        dst,
        src_port,
        dst_port,
        transport,
        tcp,
        payload,
        ip_len,
    })
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}
