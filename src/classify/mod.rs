//! Classify: what each packet is for, and which app each flow belongs to.
//!
//! Every packet of a flow gets one [`Role`]: `key_exchange` (TLS/DTLS handshakes, ZRTP, QUIC
//! Initial/Handshake), `media` (RTP/RTCP, Zoom media), `signaling` (STUN/TURN control, Zoom
//! control, TLS application data of a conferencing app) or `other`. Each flow collects the
//! protocols seen, a hostname (TLS SNI, else a DNS answer seen earlier in the capture) and an app
//! with the evidence that decided it.
//!
//! Per-packet work is a first-byte demultiplexing step (RFC 7983 / RFC 9443) and a header peek in
//! one dissector; nothing is allocated per packet. Strings are built once per flow (SNI) or once
//! per DNS answer.
//!
//! RTP is never decided on one packet: random encrypted bytes start with 0x80–0xBF a quarter of
//! the time. A flow direction's RTP candidates are held as *pending* until its
//! [`rtp::RtpStreamTracker`] confirms a stream (stable SSRC, advancing sequence numbers), and only
//! then counted as media, retroactively.

pub mod app;
mod crc;
pub mod dns;
pub mod dtls;
pub mod quic;
pub mod rtp;
pub mod stun;
pub mod tls;
pub mod zoom;
pub mod zrtp;

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::Timestamp;
use crate::decode::{DecodedPacket, Transport};
use crate::flow::{Direction, Endpoint};
use app::{AppCatalog, AppId};

/// What a packet carries, from the auditor's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    KeyExchange,
    Media,
    Signaling,
    Other,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::KeyExchange, Role::Media, Role::Signaling, Role::Other];

    fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::KeyExchange => "key_exchange",
            Role::Media => "media",
            Role::Signaling => "signaling",
            Role::Other => "other",
        }
    }
}

/// Protocols a flow can carry, named as in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Dns,
    Stun,
    Turn,
    Dtls,
    Rtp,
    Rtcp,
    Zrtp,
    Tls,
    Quic,
    Zoom,
}

impl Protocol {
    pub const ALL: [Protocol; 10] = [
        Protocol::Dns,
        Protocol::Stun,
        Protocol::Turn,
        Protocol::Dtls,
        Protocol::Rtp,
        Protocol::Rtcp,
        Protocol::Zrtp,
        Protocol::Tls,
        Protocol::Quic,
        Protocol::Zoom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Dns => "dns",
            Protocol::Stun => "stun",
            Protocol::Turn => "turn",
            Protocol::Dtls => "dtls",
            Protocol::Rtp => "rtp",
            Protocol::Rtcp => "rtcp",
            Protocol::Zrtp => "zrtp",
            Protocol::Tls => "tls",
            Protocol::Quic => "quic",
            Protocol::Zoom => "zoom",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A small set of [`Protocol`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protocols(u16);

impl Protocols {
    pub fn insert(&mut self, protocol: Protocol) {
        self.0 |= protocol.bit();
    }

    pub fn contains(self, protocol: Protocol) -> bool {
        self.0 & protocol.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        Protocol::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

/// A packet cited as evidence: its number in the capture and its timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PacketRef {
    pub number: u64,
    pub time: Timestamp,
}

/// Packets per role, with the first packet of each role as evidence.
#[derive(Debug, Clone, Default)]
pub struct RoleCounts {
    counts: [u64; 4],
    first: [Option<PacketRef>; 4],
}

impl RoleCounts {
    fn add(&mut self, role: Role, count: u64, first: PacketRef) {
        let i = role.index();
        self.counts[i] += count;
        if self.first[i].is_none_or(|seen| first.number < seen.number) {
            self.first[i] = Some(first);
        }
    }

    pub fn count(&self, role: Role) -> u64 {
        self.counts[role.index()]
    }

    /// The first packet of the flow with this role: the evidence a finding cites.
    pub fn first(&self, role: Role) -> Option<PacketRef> {
        self.first[role.index()]
    }
}

/// How a flow's app was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppEvidence {
    /// The TLS ClientHello's server name.
    Sni,
    /// A DNS answer earlier in the capture named the server's address.
    DnsName,
    /// The app's proprietary framing (e.g. Zoom's media encapsulation).
    Framing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppMatch {
    pub app: AppId,
    pub evidence: AppEvidence,
    /// The packet that showed it.
    pub packet: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostnameSource {
    Sni,
    Dns,
}

/// Up to this many addresses are remembered from DNS answers; later answers for new addresses
/// are ignored, so a capture full of DNS cannot grow memory without bound.
const MAX_RESOLVED_ADDRESSES: usize = 1 << 16;

/// RTP candidates of one stream not yet confirmed (see the module docs).
#[derive(Debug, Clone, Copy)]
struct PendingStream {
    ssrc: u32,
    count: u64,
    first: PacketRef,
}

/// Pending RTP candidates of one flow direction, per SSRC. Three slots, like the tracker's three
/// streams: bundled audio, video and retransmission share one 5-tuple.
#[derive(Debug, Clone, Copy, Default)]
struct PendingRtp {
    slots: [Option<PendingStream>; 3],
}

impl PendingRtp {
    /// Holds one more candidate of `ssrc`. When every slot is taken by another stream, the
    /// stream held longest is given up and returned: its packets were not RTP after all.
    fn add(&mut self, ssrc: u32, at: PacketRef) -> Option<PendingStream> {
        if let Some(stream) = self.slots.iter_mut().flatten().find(|s| s.ssrc == ssrc) {
            stream.count += 1;
            return None;
        }
        let new = PendingStream {
            ssrc,
            count: 1,
            first: at,
        };
        if let Some(free) = self.slots.iter_mut().find(|slot| slot.is_none()) {
            *free = Some(new);
            return None;
        }
        let oldest = self
            .slots
            .iter_mut()
            .min_by_key(|slot| slot.map_or(0, |s| s.first.number))?;
        oldest.replace(new)
    }

    fn take(&mut self, ssrc: u32) -> Option<PendingStream> {
        self.slots
            .iter_mut()
            .find(|slot| slot.is_some_and(|s| s.ssrc == ssrc))
            .and_then(Option::take)
    }

    fn drain(&mut self) -> impl Iterator<Item = PendingStream> + '_ {
        self.slots.iter_mut().filter_map(Option::take)
    }
}

/// Everything classify keeps about one flow.
#[derive(Debug)]
pub struct FlowClass {
    pub roles: RoleCounts,
    pub protocols: Protocols,
    pub app: Option<AppMatch>,
    pub hostname: Option<(String, HostnameSource)>,
    rtp: [rtp::RtpStreamTracker; 2],
    pending_rtp: [PendingRtp; 2],
    turn_seen: bool,
    zoom_port: bool,
    zoom_p2p: bool,
    dns_port: bool,
    /// TLS state, created on the first TCP payload; boxed because most flows are UDP.
    tls: Option<Box<[tls::TlsStream; 2]>>,
    not_tls: bool,
}

/// The classifier of one capture: the app catalog and the address → name map that DNS answers
/// fill as the capture is read.
pub struct Classifier<'c> {
    catalog: &'c AppCatalog,
    resolved: HashMap<IpAddr, Box<str>>,
}

impl<'c> Classifier<'c> {
    pub fn new(catalog: &'c AppCatalog) -> Classifier<'c> {
        Classifier {
            catalog,
            resolved: HashMap::new(),
        }
    }

    pub fn catalog(&self) -> &'c AppCatalog {
        self.catalog
    }

    /// State for a new flow. A server address named by an earlier DNS answer gives the flow its
    /// hostname (and maybe its app) right away.
    pub fn new_flow(
        &self,
        client: &Endpoint,
        server: &Endpoint,
        transport: Transport,
    ) -> FlowClass {
        let mut flow = FlowClass {
            roles: RoleCounts::default(),
            protocols: Protocols::default(),
            app: None,
            hostname: None,
            rtp: Default::default(),
            pending_rtp: Default::default(),
            turn_seen: false,
            zoom_port: transport == Transport::Udp
                && (is_zoom_port(server.port) || is_zoom_port(client.port)),
            zoom_p2p: false,
            dns_port: server.port == 53 || server.port == 5353,
            tls: None,
            not_tls: false,
        };
        if let Some(name) = self.resolved.get(&server.ip) {
            flow.hostname = Some((name.to_string(), HostnameSource::Dns));
        }
        flow
    }

    /// Assigns the packet a role and updates the flow.
    pub fn classify(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        packet: &DecodedPacket<'_>,
        at: PacketRef,
    ) -> Role {
        let role = match packet.transport {
            Transport::Udp => self.classify_udp(flow, direction, packet.payload, at),
            Transport::Tcp => self.classify_tcp(flow, direction, packet, at),
        };
        // `None` means the packet is a pending RTP candidate, counted once its stream is decided.
        if let Some(role) = role {
            flow.roles.add(role, 1, at);
            if flow.app.is_none() {
                self.attribute_app_by_hostname(flow, at.number);
            }
            role
        } else {
            Role::Other
        }
    }

    /// Settles what is still open at the end of the capture: unconfirmed RTP candidates are
    /// `other`, and a flow without a hostname takes one from DNS answers seen after it started.
    pub fn finish(&self, flow: &mut FlowClass, server: &Endpoint) {
        for pending in &mut flow.pending_rtp {
            for stream in pending.drain() {
                flow.roles.add(Role::Other, stream.count, stream.first);
            }
        }
        if flow.hostname.is_none() {
            if let Some(name) = self.resolved.get(&server.ip) {
                flow.hostname = Some((name.to_string(), HostnameSource::Dns));
            }
        }
        if flow.app.is_none() {
            let first = flow.roles.first.iter().flatten().map(|p| p.number).min();
            self.attribute_app_by_hostname(flow, first.unwrap_or(0));
        }
    }

    fn attribute_app_by_hostname(&self, flow: &mut FlowClass, packet: u64) {
        if let Some((name, source)) = &flow.hostname {
            if let Some(app) = self.catalog.match_hostname(name) {
                let evidence = match source {
                    HostnameSource::Sni => AppEvidence::Sni,
                    HostnameSource::Dns => AppEvidence::DnsName,
                };
                flow.app = Some(AppMatch {
                    app,
                    evidence,
                    packet,
                });
            }
        }
    }

    fn attribute_app_by_framing(&self, flow: &mut FlowClass, protocol: Protocol, packet: u64) {
        if flow.app.is_none() {
            if let Some(app) = self.catalog.match_protocol(protocol) {
                flow.app = Some(AppMatch {
                    app,
                    evidence: AppEvidence::Framing,
                    packet,
                });
            }
        }
    }

    fn remember_name(&mut self, address: IpAddr, name: &str) {
        if self.resolved.len() < MAX_RESOLVED_ADDRESSES || self.resolved.contains_key(&address) {
            // The first name wins: later answers for the same address are usually CDN aliases.
            self.resolved.entry(address).or_insert_with(|| name.into());
        }
    }

    fn classify_udp(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Option<Role> {
        if flow.dns_port {
            if dns::looks_like_dns(payload) {
                flow.protocols.insert(Protocol::Dns);
                if direction == Direction::ToClient {
                    dns::parse_response(payload, |address, name| self.remember_name(address, name));
                }
            }
            return Some(Role::Other);
        }
        // Zoom's own framing shares the first-byte ranges of STUN (0x01–0x03), so strict STUN is
        // tried first; on Zoom's ports whatever is not STUN, DTLS or RTP is Zoom's protocol.
        if flow.zoom_port && stun::parse_header(payload).is_none() {
            if let Some(packet) = zoom::parse_server_mode(payload) {
                flow.protocols.insert(Protocol::Zoom);
                self.attribute_app_by_framing(flow, Protocol::Zoom, at.number);
                return Some(match packet {
                    zoom::ZoomPacket::Media { .. } => Role::Media,
                    zoom::ZoomPacket::Control { .. } => Role::Signaling,
                });
            }
        }
        if zoom::is_p2p_setup(payload) {
            flow.zoom_p2p = true;
            flow.protocols.insert(Protocol::Zoom);
            self.attribute_app_by_framing(flow, Protocol::Zoom, at.number);
            return Some(Role::Signaling);
        }
        if flow.zoom_p2p {
            if let Some(zoom::ZoomPacket::Media { .. }) = zoom::parse_p2p(payload) {
                return Some(Role::Media);
            }
        }
        self.demultiplex(flow, direction, payload, at, true)
    }

    /// RFC 7983 / RFC 9443 first-byte demultiplexing of one datagram (or of the payload a TURN
    /// relay carries, when `may_recurse`).
    fn demultiplex(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
        may_recurse: bool,
    ) -> Option<Role> {
        let Some(&first_byte) = payload.first() else {
            return Some(Role::Other);
        };
        match first_byte {
            0..=3 => {
                let Some(header) = stun::parse_header(payload) else {
                    return Some(Role::Other);
                };
                flow.protocols.insert(Protocol::Stun);
                if may_recurse && zoom::is_zoom_stun(payload) {
                    // Zoom's clients send classic STUN with its own attribute (facts-zoom §2.6).
                    flow.protocols.insert(Protocol::Zoom);
                    self.attribute_app_by_framing(flow, Protocol::Zoom, at.number);
                }
                let method = header.method();
                if stun::is_turn_method(method) {
                    flow.turn_seen = true;
                    flow.protocols.insert(Protocol::Turn);
                    if may_recurse {
                        if let Some(data) = stun::data_attribute(payload) {
                            return self.demultiplex(flow, direction, data, at, false);
                        }
                    }
                }
                Some(Role::Signaling)
            }
            16..=19 => match zrtp::parse(payload) {
                Some(_) => {
                    flow.protocols.insert(Protocol::Zrtp);
                    Some(Role::KeyExchange)
                }
                None => Some(Role::Other),
            },
            20..=63 => {
                // A DTLS 1.3 unified header has too little structure to trust on its own (GTP-U,
                // for one, starts with 0x30); it only continues a flow that began with a
                // plaintext DTLS handshake.
                let unified = dtls::is_unified_header(first_byte);
                if !dtls::looks_like_dtls(payload)
                    || (unified && !flow.protocols.contains(Protocol::Dtls))
                {
                    return Some(Role::Other);
                }
                flow.protocols.insert(Protocol::Dtls);
                let mut role = Role::Other;
                for record in dtls::records(payload) {
                    match record.content_type {
                        dtls::HANDSHAKE | dtls::CHANGE_CIPHER_SPEC => {
                            return Some(Role::KeyExchange)
                        }
                        dtls::ALERT => role = Role::Signaling,
                        _ => {}
                    }
                }
                Some(role)
            }
            64..=79 if may_recurse && flow.turn_seen => match stun::parse_channel_data(payload) {
                Some((_channel, data)) => self.demultiplex(flow, direction, data, at, false),
                None => Some(Role::Other),
            },
            128..=191 => self.rtp_or_rtcp(flow, direction, payload, at),
            192..=255 => match quic::parse_long_header(payload) {
                Some(header) => {
                    flow.protocols.insert(Protocol::Quic);
                    Some(if header.is_key_exchange() {
                        Role::KeyExchange
                    } else {
                        Role::Other
                    })
                }
                None => Some(Role::Other),
            },
            _ => Some(Role::Other),
        }
    }

    fn rtp_or_rtcp(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Option<Role> {
        if payload.get(1).is_some_and(|&b| rtp::is_rtcp_packet_type(b)) {
            return match rtp::parse_rtcp(payload) {
                Some(_) => {
                    flow.protocols.insert(Protocol::Rtcp);
                    Some(Role::Media)
                }
                None => Some(Role::Other),
            };
        }
        let Some(header) = rtp::parse_rtp(payload) else {
            return Some(Role::Other);
        };
        let d = direction.index();
        match flow.rtp[d].observe(&header) {
            rtp::RtpVerdict::Confirmed => {
                flow.protocols.insert(Protocol::Rtp);
                if let Some(stream) = flow.pending_rtp[d].take(header.ssrc) {
                    flow.roles.add(Role::Media, stream.count, stream.first);
                }
                Some(Role::Media)
            }
            rtp::RtpVerdict::Candidate => {
                if let Some(stale) = flow.pending_rtp[d].add(header.ssrc, at) {
                    flow.roles.add(Role::Other, stale.count, stale.first);
                }
                None
            }
            rtp::RtpVerdict::NotRtp => Some(Role::Other),
        }
    }

    fn classify_tcp(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        packet: &DecodedPacket<'_>,
        at: PacketRef,
    ) -> Option<Role> {
        let Some(segment) = packet.tcp else {
            return Some(Role::Other);
        };
        let payload = packet.payload;
        if flow.dns_port {
            if let Some(message) = dns::strip_tcp_length(payload) {
                flow.protocols.insert(Protocol::Dns);
                if direction == Direction::ToClient {
                    dns::parse_response(message, |address, name| self.remember_name(address, name));
                }
            }
            return Some(Role::Other);
        }
        if flow.not_tls {
            return Some(Role::Other);
        }
        let streams = flow.tls.get_or_insert_with(Default::default);
        let stream = &mut streams[direction.index()];
        if segment.syn {
            stream.set_initial_sequence(segment.sequence.wrapping_add(1));
        }
        if payload.is_empty() {
            return Some(Role::Other);
        }
        let summary = stream.on_segment(segment.sequence, payload);
        if summary.not_tls {
            flow.not_tls = true;
            flow.tls = None;
            return Some(Role::Other);
        }
        let role = if summary.handshake || summary.change_cipher_spec {
            flow.protocols.insert(Protocol::Tls);
            Role::KeyExchange
        } else if summary.application_data && flow.app.is_some() {
            Role::Signaling
        } else {
            Role::Other
        };
        if direction == Direction::ToServer
            && !matches!(flow.hostname, Some((_, HostnameSource::Sni)))
        {
            if let Some(sni) = stream.client_hello().and_then(|hello| hello.sni.as_deref()) {
                flow.hostname = Some((sni.to_string(), HostnameSource::Sni));
                // The SNI outranks a name learned from DNS.
                if flow.app.is_some_and(|m| m.evidence == AppEvidence::DnsName)
                    || flow.app.is_none()
                {
                    flow.app = None;
                    self.attribute_app_by_hostname(flow, at.number);
                }
            }
        }
        Some(role)
    }
}

fn is_zoom_port(port: u16) -> bool {
    (8801..=8810).contains(&port)
}

/// Helpers shared by the dissectors' tests.
#[cfg(test)]
mod testing {
    /// Bytes from a hex dump; anything but hex digits (spaces, newlines) is ignored.
    pub fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests;
