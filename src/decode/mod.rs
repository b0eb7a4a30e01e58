//! Decode: from link-layer bytes to a transport payload, with etherparse's lax slicing.
//!
//! Lax slicing returns every layer it could read plus where and why it stopped, which is what an
//! auditor wants: a malformed packet is counted (by layer and reason) and the run goes on. Only
//! UDP and TCP over IPv4/IPv6 continue down the pipeline; other traffic (ARP, ICMP, non-first IP
//! fragments) is counted as skipped, not as malformed.
//!
//! Ethernet (with 802.1Q/QinQ) and raw IP are sliced by etherparse directly; the Linux cooked
//! headers and BSD loopback are tiny fixed headers that [`link`] strips by hand before handing the
//! rest to etherparse by ether type.

mod fast;
mod link;

use std::collections::BTreeMap;
use std::net::IpAddr;

use etherparse::err::{self, Layer, LenError};
use etherparse::{LaxNetSlice, LaxSlicedPacket, LenSource, TransportSlice};
use serde::Serialize;

use crate::capture::{CapturedPacket, LinkType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// The TCP header fields the flow and classify stages need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment {
    pub sequence: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A UDP datagram or TCP segment, borrowed from the captured bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub transport: Transport,
    /// Present for TCP.
    pub tcp: Option<TcpSegment>,
    pub payload: &'a [u8],
    /// Bytes on the wire from the IP header on, for the byte counters.
    pub ip_len: u32,
}

/// Why a packet is not decoded further without being malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// ARP, LLDP, other ether types.
    NotIp,
    /// ICMP, IGMP, ESP, SCTP…
    OtherTransport,
    /// A non-first IP fragment (no transport header to read; reassembly comes later).
    IpFragment,
}

/// A packet that could not be decoded: the layer where decoding stopped and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Malformed {
    pub layer: &'static str,
    pub reason: &'static str,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Packet(DecodedPacket<'a>),
    Skipped(SkipReason),
    Malformed(Malformed),
}

/// Per-run counters of what the decoder did not pass on.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DecodeStats {
    pub malformed: BTreeMap<Malformed, u64>,
    pub skipped: BTreeMap<SkipReason, u64>,
}

impl DecodeStats {
    pub fn record<'a>(&mut self, decoded: &Decoded<'a>) {
        match decoded {
            Decoded::Packet(_) => {}
            Decoded::Skipped(reason) => *self.skipped.entry(*reason).or_default() += 1,
            Decoded::Malformed(m) => *self.malformed.entry(*m).or_default() += 1,
        }
    }

    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().sum()
    }

    pub fn merge(&mut self, other: &DecodeStats) {
        for (k, v) in &other.malformed {
            *self.malformed.entry(*k).or_default() += v;
        }
        for (k, v) in &other.skipped {
            *self.skipped.entry(*k).or_default() += v;
        }
    }
}

/// Decodes one captured packet of the given link type.
#[inline]
pub fn decode<'a>(link_type: LinkType, packet: &CapturedPacket<'a>) -> Decoded<'a> {
    let data = packet.data;
    let fast = match link_type {
        LinkType::ETHERNET => fast::ethernet(data),
        LinkType::RAW | LinkType::DLT_RAW | LinkType::DLT_RAW_OPENBSD => fast::ip(data),
        _ => None,
    };
    match fast {
        Some(packet) => Decoded::Packet(packet),
        None => decode_lax(link_type, packet),
    }
}

/// Every packet the fast path declines: etherparse's lax slicing, which names what is wrong.
fn decode_lax<'a>(link_type: LinkType, packet: &CapturedPacket<'a>) -> Decoded<'a> {
    let data = packet.data;
    let sliced = match link_type {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(data).map_err(|e| len_malformed(&e)),
        LinkType::RAW
        | LinkType::DLT_RAW
        | LinkType::DLT_RAW_OPENBSD
        | LinkType::IPV4
        | LinkType::IPV6 => LaxSlicedPacket::from_ip(data).map_err(|e| match e {
            err::ip::LaxHeaderSliceError::Len(e) => len_malformed(&e),
            err::ip::LaxHeaderSliceError::Content(e) => ip_header_malformed(&e),
        }),
        _ => match link::strip(link_type, data) {
            Ok(link::Stripped::EtherType(ether_type, rest)) => {
                Ok(LaxSlicedPacket::from_ether_type(ether_type, rest))
            }
            Ok(link::Stripped::NotIp) => return Decoded::Skipped(SkipReason::NotIp),
            Err(m) => Err(m),
        },
    };
    match sliced {
        Ok(sliced) => from_sliced(&sliced, packet.is_snapped()),
        Err(m) => Decoded::Malformed(m),
    }
}

fn from_sliced<'a>(sliced: &LaxSlicedPacket<'a>, snapped: bool) -> Decoded<'a> {
    let (src, dst, ip_payload, ip_len) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ipv4)) => {
            let header = ipv4.header();
            (
                IpAddr::from(header.source_addr()),
                IpAddr::from(header.destination_addr()),
                ipv4.payload(),
                u32::from(header.total_len()),
            )
        }
        Some(LaxNetSlice::Ipv6(ipv6)) => {
            let header = ipv6.header();
            (
                IpAddr::from(header.source_addr()),
                IpAddr::from(header.destination_addr()),
                ipv6.payload(),
                40 + u32::from(header.payload_length()),
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Decoded::Skipped(SkipReason::NotIp),
        None => {
            return match sliced.stop_err {
                Some((ref e, layer)) => Decoded::Malformed(slice_malformed(e, layer)),
                None => Decoded::Skipped(SkipReason::NotIp),
            }
        }
    };
    // An IP length that runs past the captured bytes is normal when a snaplen cut the packet, and
    // a malformed packet otherwise.
    if ip_payload.incomplete && !snapped {
        let layer = if src.is_ipv4() { "ipv4" } else { "ipv6" };
        return Decoded::Malformed(Malformed {
            layer,
            reason: "length field exceeds captured data",
        });
    }
    if ip_payload.fragmented && sliced.transport.is_none() {
        return Decoded::Skipped(SkipReason::IpFragment);
    }
    let transport = match &sliced.transport {
        Some(TransportSlice::Udp(udp)) => {
            if udp.payload_len_source() != LenSource::UdpHeaderLen && !snapped {
                return Decoded::Malformed(Malformed {
                    layer: "udp",
                    reason: "length field exceeds captured data",
                });
            }
            (
                udp.source_port(),
                udp.destination_port(),
                Transport::Udp,
                None,
                udp.payload(),
            )
        }
        Some(TransportSlice::Tcp(tcp)) => (
            tcp.source_port(),
            tcp.destination_port(),
            Transport::Tcp,
            Some(TcpSegment {
                sequence: tcp.sequence_number(),
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
            }),
            tcp.payload(),
        ),
        Some(_) => return Decoded::Skipped(SkipReason::OtherTransport),
        None => {
            return match sliced.stop_err {
                Some((ref e, layer)) => Decoded::Malformed(slice_malformed(e, layer)),
                None => Decoded::Skipped(SkipReason::OtherTransport),
            }
        }
    };
    let (src_port, dst_port, transport, tcp, payload) = transport;
    Decoded::Packet(DecodedPacket {
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

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::LinuxSllHeader => "linux_sll",
        Layer::Ethernet2Header | Layer::EtherPayload => "ethernet",
        Layer::VlanHeader => "vlan",
        Layer::MacsecHeader | Layer::MacsecPacket => "macsec",
        Layer::IpHeader => "ip",
        Layer::Ipv4Header | Layer::Ipv4Packet => "ipv4",
        Layer::IpAuthHeader => "ip_auth",
        Layer::Ipv6Header
        | Layer::Ipv6Packet
        | Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader => "ipv6",
        Layer::UdpHeader | Layer::UdpPayload => "udp",
        Layer::TcpHeader => "tcp",
        _ => "other",
    }
}

fn len_malformed(error: &LenError) -> Malformed {
    Malformed {
        layer: layer_name(error.layer),
        reason: match error.len_source {
            LenSource::Slice => "truncated header",
            _ => "length field too small for header",
        },
    }
}

fn ip_header_malformed(error: &err::ip::HeaderError) -> Malformed {
    match error {
        err::ip::HeaderError::UnsupportedIpVersion { .. } => Malformed {
            layer: "ip",
            reason: "unsupported IP version",
        },
        err::ip::HeaderError::Ipv4HeaderLengthSmallerThanHeader { .. } => Malformed {
            layer: "ipv4",
            reason: "header length (IHL) below 5",
        },
    }
}

fn slice_malformed(error: &err::packet::SliceError, layer: Layer) -> Malformed {
    use err::packet::SliceError;
    let reason = match error {
        SliceError::Len(e) => return len_malformed(e),
        SliceError::Ip(e) => return ip_header_malformed(e),
        SliceError::Ipv4(err::ipv4::HeaderError::UnexpectedVersion { .. }) => "wrong IP version",
        SliceError::Ipv4(err::ipv4::HeaderError::HeaderLengthSmallerThanHeader { .. }) => {
            "header length (IHL) below 5"
        }
        SliceError::Ipv6(_) => "wrong IP version",
        SliceError::Tcp(_) => "data offset below 5",
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(_) => "bad extension header",
        SliceError::LinuxSll(_) => "bad Linux SLL header",
        SliceError::Macsec(_) => "bad MACsec header",
    };
    Malformed {
        layer: layer_name(layer),
        reason,
    }
}

#[cfg(test)]
mod tests;
