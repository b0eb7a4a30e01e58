//! Classify: what each packet is for, and which app each flow belongs to.
//!
//! Every packet of a flow gets one [`Role`]: `key_exchange` (TLS/DTLS handshakes, QUIC
//! Initial/Handshake, ZRTP, SIP messages whose SDP carries keys), `media` (RTP/RTCP, Zoom media),
//! `signaling` (STUN/TURN control, SIP, Zoom control, TLS application data of a conferencing app)
//! or `other`. Each flow collects the protocols seen, a hostname (TLS/QUIC SNI, else a DNS answer
//! seen earlier in the capture), the media kinds it carries, and an app with the evidence that
//! decided it and a confidence ([`evidence`]).
//!
//! The work is split by transport: [`datagram`] demultiplexes UDP payloads by their first byte
//! (RFC 7983 / RFC 9443) into the dissectors, [`stream`] follows TCP (TLS, STUN over TCP, SIP,
//! DNS). At the end of a capture, [`propagate`] passes labels between flows (addresses announced
//! in STUN/TURN and SDP, servers an attributed flow used) and names each server's role.
//!
//! Per-packet work is a first-byte check and a header peek in one dissector; nothing is
//! allocated per packet. Handshake parsing (TLS/DTLS/QUIC hellos, certificates) runs only until a
//! flow's handshake is read, and strings are built once per flow or per DNS answer.
//!
//! RTP is never decided on one packet: random encrypted bytes start with 0x80–0xBF a quarter of
//! the time. RTP candidates are held as *pending* until an [`rtp::RtpStreamTracker`] confirms
//! their stream (stable SSRC, advancing sequence numbers), and only then counted as media,
//! retroactively.

pub mod app;
mod crc;
mod datagram;
pub mod discord;
pub mod dns;
pub mod dtls;
pub mod evidence;
pub mod gquic;
mod propagate;
pub mod quic;
pub mod quic_initial;
pub mod rtp;
pub mod rtt;
pub mod sip;
mod stream;
pub mod stun;
pub mod tls;
pub mod x509;
pub mod zoom;
pub mod zrtp;

use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::Timestamp;
use crate::decode::{DecodedPacket, Transport};
use crate::flow::{Direction, Endpoint, Flow};
use app::{AppCatalog, AppId};
use datagram::PendingRtp;
pub use evidence::{AppMatch, Confidence, EvidenceKind};

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
    Sip,
    Srtp,
    Zoom,
}

impl Protocol {
    pub const ALL: [Protocol; 12] = [
        Protocol::Dns,
        Protocol::Stun,
        Protocol::Turn,
        Protocol::Dtls,
        Protocol::Rtp,
        Protocol::Rtcp,
        Protocol::Zrtp,
        Protocol::Tls,
        Protocol::Quic,
        Protocol::Sip,
        Protocol::Srtp,
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
            Protocol::Sip => "sip",
            Protocol::Srtp => "srtp",
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostnameSource {
    /// The server name in a TLS, DTLS or QUIC ClientHello.
    Sni,
    /// A DNS answer earlier in the capture.
    Dns,
}

impl HostnameSource {
    /// The name reports use (the same as the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            HostnameSource::Sni => "sni",
            HostnameSource::Dns => "dns",
        }
    }
}

/// Kinds of media a flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
    ScreenShare,
}

impl MediaKind {
    pub const ALL: [MediaKind; 3] = [MediaKind::Audio, MediaKind::Video, MediaKind::ScreenShare];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A small set of [`MediaKind`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaKinds(u8);

impl MediaKinds {
    pub fn insert(&mut self, kind: MediaKind) {
        self.0 |= kind.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = MediaKind> {
        MediaKind::ALL
            .into_iter()
            .filter(move |k| self.0 & k.bit() != 0)
    }
}

/// What a flow's server is for, where the evidence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    /// Zoom zone controller (`…zc.zoom.us`).
    Zc,
    /// Zoom multimedia router (`…mmr.zoom.us`).
    Mmr,
    /// Zoom web gateway (`…rwg.zoom.us`).
    Rwg,
    /// A TURN relay.
    Relay,
    /// A media server (SFU) the client sends media to.
    Media,
    /// The other participant of a peer-to-peer call.
    Peer,
    /// A server that only set up or controlled the call (TLS, STUN).
    Control,
}

impl ServerRole {
    /// The name reports use (the same as the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            ServerRole::Zc => "zc",
            ServerRole::Mmr => "mmr",
            ServerRole::Rwg => "rwg",
            ServerRole::Relay => "relay",
            ServerRole::Media => "media",
            ServerRole::Peer => "peer",
            ServerRole::Control => "control",
        }
    }
}

/// How a flow learned an address it announces to others (see [`propagate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    /// TURN XOR-PEER-ADDRESS: the peer a relay forwards to.
    StunPeer,
    /// TURN XOR-RELAYED-ADDRESS: the relay's allocated address.
    StunRelayed,
    /// An SDP `m=`/`c=` media address, with its media kind.
    SdpMedia(Option<MediaKind>),
}

/// An address a flow's packets announced for later flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncedAddress {
    pub ip: IpAddr,
    pub port: u16,
    pub how: Announced,
    pub packet: u64,
}

/// How many packets of a Google QUIC flow are checked for its unencrypted handshake.
const GQUIC_HANDSHAKE_PACKETS: u8 = 16;

/// A certificate's subjectAltNames are app evidence only when there are at most this many.
const MAX_TELLING_SANS: usize = 4;

/// At most this many announced addresses are kept per flow: a SIP call's SDP announces one per
/// media section (audio, video, often their RTCP ports), a TURN flow its relayed and peer
/// addresses. Later ones are ignored.
const MAX_ANNOUNCED_PER_FLOW: usize = 8;

/// Up to this many addresses are remembered from DNS answers (per capture); answers for further
/// new addresses are ignored and counted ([`Classifier::dns_addresses_dropped`]), so a capture
/// full of DNS cannot grow memory without bound. A busy office's day of lookups names a few
/// thousand addresses; each entry costs at most about 300 bytes (a name is at most 253), so
/// the map stays under about 20 MB.
pub const MAX_RESOLVED_ADDRESSES: usize = 1 << 16;

/// Bytes of handshake reassembly buffers that the flows of one capture may hold at once: TLS
/// hold and message buffers, DTLS fragment buffers, QUIC CRYPTO and packet buffers. Each is
/// bounded per flow (at most about 64 KiB per message), but a crafted capture can make a
/// buffer allocate its bound from a 100-byte packet (a fragment at a far offset) on every flow
/// of the table; this caps the sum. Real handshakes hold a few KB each for a few packets, so
/// thousands would have to be in flight at once to reach it. Past it, the handshake whose
/// reader grew last is given up (its buffers freed; what was read stays; its records still
/// count) and counted ([`Classifier::reassembly_given_up`]).
pub const MAX_REASSEMBLY_BYTES: usize = 256 << 20;

/// The reassembly budget of one capture (see [`MAX_REASSEMBLY_BYTES`]). `Cell`s, because the
/// datagram dissectors run with a shared classifier.
#[derive(Debug)]
struct ReassemblyBudget {
    limit: usize,
    held: Cell<usize>,
    given_up: Cell<u64>,
}

impl ReassemblyBudget {
    fn new(limit: usize) -> ReassemblyBudget {
        ReassemblyBudget {
            limit,
            held: Cell::new(0),
            given_up: Cell::new(0),
        }
    }

    /// A reader's buffers went from `before` to `after` bytes. False when that puts the capture
    /// over its budget: the caller then frees the reader's buffers and calls
    /// [`Self::released`].
    fn charge(&self, before: usize, after: usize) -> bool {
        let held = self.held.get().saturating_sub(before).saturating_add(after);
        self.held.set(held);
        held <= self.limit || after <= before
    }

    /// A reader over the budget freed `bytes` and gave up.
    fn released(&self, bytes: usize) {
        self.held.set(self.held.get().saturating_sub(bytes));
        self.given_up.set(self.given_up.get().saturating_add(1));
    }

    /// A reader holding `bytes` was dropped.
    fn dropped(&self, bytes: usize) {
        self.held.set(self.held.get().saturating_sub(bytes));
    }
}

/// Handshake facts worth reporting (from TLS, DTLS or QUIC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeFacts {
    pub alpn: Vec<String>,
    /// Leaf certificate subject, e.g. `CN=hangouts` (TLS ≤ 1.2 and DTLS ≤ 1.2 only).
    pub certificate: Option<String>,
    /// The DTLS-SRTP protection profile the server chose (RFC 5764).
    pub srtp_profile: Option<u16>,
    /// The protocol version the server chose (TLS or DTLS wire value, e.g. 0x0303, 0xFEFD).
    pub version: Option<u16>,
}

/// Everything classify keeps about one flow.
pub struct FlowClass {
    pub roles: RoleCounts,
    pub protocols: Protocols,
    pub app: Option<AppMatch>,
    pub hostname: Option<(String, HostnameSource)>,
    pub media_kinds: MediaKinds,
    pub handshake: HandshakeFacts,
    pub server_role: Option<ServerRole>,
    /// Index (in the capture's flow list) of the flow whose SDP or STUN announced this one.
    pub announced_by: Option<usize>,
    pub announced: Vec<AnnouncedAddress>,
    /// The smallest handshake round trip seen (TCP SYN → SYN/ACK, STUN, DTLS, QUIC).
    pub rtt: rtt::RttTracker,
    /// The first SIP message whose SDP carried SRTP keys readable on the wire (SIP is only
    /// parsed when it is not inside TLS, so any such keys are in clear).
    pub keys_in_clear: Option<PacketRef>,
    rtp: [rtp::RtpStreamTracker; 2],
    /// RTP candidates waiting for confirmation, per direction; boxed, and dropped once empty,
    /// because they are needed only for a flow's first packets and were a third of its size.
    pending_rtp: Option<Box<[PendingRtp; 2]>>,
    turn_seen: bool,
    zoom_port: bool,
    zoom_p2p: bool,
    /// A first Zoom P2P media packet, held until a second one confirms the flow.
    zoom_p2p_pending: Option<PacketRef>,
    dns_port: bool,
    sip_port: bool,
    /// Handshake readers, created on a flow's first TLS, DTLS or QUIC packet and dropped once
    /// the handshake has been read; boxed because most flows never need them.
    tls: Option<Box<[tls::TlsStream; 2]>>,
    not_tls: bool,
    dtls: Option<Box<[dtls::DtlsHandshake; 2]>>,
    quic: Option<Box<quic_initial::InitialAssembler>>,
    /// Google QUIC: the version a client packet announced, and how many more packets may be
    /// checked for the unencrypted handshake (each check hashes the packet).
    gquic: Option<(u32, u8)>,
}

/// What a handshake reader has found so far, borrowed from it.
#[derive(Clone, Copy)]
pub struct HandshakeFound<'a> {
    /// The ClientHello's server name.
    pub sni: Option<&'a str>,
    /// The ClientHello's ALPN list; `None` before the hello.
    pub alpn: Option<&'a [String]>,
    /// The leaf certificate's names.
    pub certificate: Option<&'a x509::CertificateNames>,
}

impl<'a> HandshakeFound<'a> {
    /// From a hello's server name and ALPN list, when there is a hello, and a certificate.
    pub fn new(
        hello: Option<(Option<&'a str>, &'a [String])>,
        certificate: Option<&'a x509::CertificateNames>,
    ) -> Self {
        HandshakeFound {
            sni: hello.and_then(|(sni, _)| sni),
            alpn: hello.map(|(_, alpn)| alpn),
            certificate,
        }
    }
}

impl FlowClass {
    /// True while the flow holds TLS, DTLS or QUIC handshake readers (and so perhaps
    /// reassembly buffers); [`Classifier::finish`] frees them.
    pub fn has_handshake_readers(&self) -> bool {
        self.tls.is_some() || self.dtls.is_some() || self.quic.is_some()
    }

    /// Whether the flow's host name came from a ClientHello's server name, which no later name
    /// replaces.
    fn has_sni(&self) -> bool {
        matches!(self.hostname, Some((_, HostnameSource::Sni)))
    }

    /// Adds an address to announce, within the per-flow bound.
    fn announce(&mut self, address: AnnouncedAddress) {
        if self.announced.len() < MAX_ANNOUNCED_PER_FLOW && !self.announced.contains(&address) {
            self.announced.push(address);
        }
    }
}

/// The classifier of one capture: the app catalog and the address → name map that DNS answers
/// fill as the capture is read.
pub struct Classifier<'c> {
    catalog: &'c AppCatalog,
    /// foldhash (seeded at random per process): looked up for every new flow.
    resolved: HashMap<IpAddr, Box<str>, foldhash::fast::RandomState>,
    /// DNS answers for new addresses ignored because `resolved` was full.
    resolved_dropped: u64,
    budget: ReassemblyBudget,
}

impl<'c> Classifier<'c> {
    pub fn new(catalog: &'c AppCatalog) -> Classifier<'c> {
        Classifier {
            catalog,
            resolved: HashMap::default(),
            resolved_dropped: 0,
            budget: ReassemblyBudget::new(MAX_REASSEMBLY_BYTES),
        }
    }

    pub fn catalog(&self) -> &'c AppCatalog {
        self.catalog
    }

    /// Addresses remembered from DNS answers (at most [`MAX_RESOLVED_ADDRESSES`]).
    pub fn dns_addresses(&self) -> usize {
        self.resolved.len()
    }

    /// DNS answers that named a new address after [`MAX_RESOLVED_ADDRESSES`] were remembered,
    /// and were therefore ignored.
    pub fn dns_addresses_dropped(&self) -> u64 {
        self.resolved_dropped
    }

    /// Bytes the capture's handshake readers hold for reassembly now (at most about
    /// [`MAX_REASSEMBLY_BYTES`]).
    pub fn reassembly_bytes(&self) -> usize {
        self.budget.held.get()
    }

    /// Handshakes given up because the capture reached [`MAX_REASSEMBLY_BYTES`].
    pub fn reassembly_given_up(&self) -> u64 {
        self.budget.given_up.get()
    }

    /// A smaller reassembly budget, for tests.
    #[cfg(test)]
    fn set_reassembly_limit(&mut self, limit: usize) {
        self.budget.limit = limit;
    }

    /// Drops a flow's TLS readers, returning their buffers to the budget.
    fn drop_tls(&self, flow: &mut FlowClass) {
        if let Some(streams) = flow.tls.take() {
            let bytes = streams.iter().map(tls::TlsStream::buffered_bytes).sum();
            self.budget.dropped(bytes);
        }
    }

    /// State for a new flow. A server address named by an earlier DNS answer gives the flow its
    /// hostname (and maybe its app) right away; the app's published address ranges are the
    /// weakest evidence and are checked here, once.
    pub fn new_flow(
        &self,
        client: &Endpoint,
        server: &Endpoint,
        transport: Transport,
    ) -> FlowClass {
        let udp = transport == Transport::Udp;
        let mut flow = FlowClass {
            roles: RoleCounts::default(),
            protocols: Protocols::default(),
            app: None,
            hostname: None,
            media_kinds: MediaKinds::default(),
            handshake: HandshakeFacts::default(),
            server_role: None,
            announced_by: None,
            announced: Vec::new(),
            rtt: rtt::RttTracker::default(),
            keys_in_clear: None,
            rtp: Default::default(),
            pending_rtp: None,
            turn_seen: false,
            zoom_port: udp && (is_zoom_port(server.port) || is_zoom_port(client.port)),
            zoom_p2p: false,
            zoom_p2p_pending: None,
            dns_port: matches!(server.port, 53 | 5353),
            sip_port: matches!(server.port, 5060) || matches!(client.port, 5060),
            tls: None,
            not_tls: false,
            dtls: None,
            quic: None,
            gquic: None,
        };
        if let Some(name) = self.resolved.get(&server.ip) {
            flow.hostname = Some((name.to_string(), HostnameSource::Dns));
            self.attribute_by_name(&mut flow, None);
        }
        if let Some((app, list)) = self.catalog.match_ip(server.ip) {
            let detail = [self.app_id(app), list.date.as_str()].join(" ");
            self.offer(&mut flow, app, EvidenceKind::IpList, detail, None);
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
        let to_server = direction == Direction::ToServer;
        let time_us = at
            .time
            .secs
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(at.time.micros));
        match packet.tcp {
            Some(segment) => flow
                .rtt
                .on_tcp(to_server, segment.syn, segment.ack, time_us),
            None => flow.rtt.on_datagram(to_server, packet.payload, time_us),
        }
        let role = match packet.transport {
            Transport::Udp => self.classify_datagram(flow, direction, packet.payload, at),
            Transport::Tcp => self.classify_segment(flow, direction, packet, at),
        };
        // `None` means the packet is a pending RTP candidate, counted once its stream is decided.
        match role {
            Some(role) => {
                flow.roles.add(role, 1, at);
                role
            }
            None => Role::Other,
        }
    }

    /// Settles one flow at the end of the capture: unconfirmed RTP candidates are `other`, and a
    /// flow without a hostname takes one from DNS answers seen after it started.
    pub fn finish(&self, flow: &mut FlowClass, server: &Endpoint) {
        if let Some(mut pending) = flow.pending_rtp.take() {
            for stream in pending.iter_mut().flat_map(PendingRtp::drain) {
                flow.roles.add(Role::Other, stream.count, stream.first);
            }
        }
        if let Some(first) = flow.zoom_p2p_pending.take() {
            flow.roles.add(Role::Other, 1, first);
        }
        if flow.hostname.is_none() {
            if let Some(name) = self.resolved.get(&server.ip) {
                flow.hostname = Some((name.to_string(), HostnameSource::Dns));
                self.attribute_by_name(flow, None);
            }
        }
        if self.sni_names_another_service(flow) {
            flow.app = None;
        }
        if flow.protocols.contains(Protocol::Rtp) && flow.protocols.contains(Protocol::Dtls) {
            // RTP after a DTLS handshake on the same 5-tuple is DTLS-SRTP (RFC 5764).
            flow.protocols.insert(Protocol::Srtp);
        }
        self.drop_tls(flow);
        if let Some(readers) = flow.dtls.take() {
            let bytes = readers
                .iter()
                .map(dtls::DtlsHandshake::buffered_bytes)
                .sum();
            self.budget.dropped(bytes);
        }
        if let Some(assembler) = flow.quic.take() {
            self.budget.dropped(assembler.buffered_bytes());
        }
    }

    /// Attribution by AS number, the weakest evidence: the caller passes what the geo stage
    /// found for the flow's server.
    pub fn attribute_by_asn(&self, flow: &mut FlowClass, asn: u32) {
        if flow.has_sni() && flow.app.is_none() {
            // The flow's own server name named no app: see `sni_names_another_service`.
            return;
        }
        if let Some(app) = self.catalog.match_asn(asn) {
            let detail = ["AS", itoa::Buffer::new().format(asn)].concat();
            self.offer(flow, app, EvidenceKind::Asn, detail, None);
        }
    }

    /// Passes labels between the flows of one capture and names server roles; see
    /// [`propagate`]. Call after [`Classifier::finish`] on every flow.
    /// `first_index` is the report index of the capture's flow number 0, for the flow numbers in evidence.
    pub fn propagate(&self, flows: &mut [Flow<FlowClass>], first_index: usize) {
        propagate::run(self, flows, first_index);
    }

    /// True when the flow's app rests only on its server's address (IP list, ASN) while its
    /// own SNI names a server the catalog does not know. Clouds host many services on one
    /// vendor's ranges (Teams' 52.112.0.0/14 also serves Microsoft telemetry): the name the
    /// client asked for says which service this flow is, and outranks the address.
    fn sni_names_another_service(&self, flow: &FlowClass) -> bool {
        let weak = flow
            .app
            .as_ref()
            .is_some_and(|m| matches!(m.kind, EvidenceKind::IpList | EvidenceKind::Asn));
        weak && matches!(&flow.hostname, Some((name, HostnameSource::Sni)) if self.catalog.match_hostname(name).is_none())
    }

    fn app_id(&self, app: AppId) -> &str {
        self.catalog.get(app).map_or("?", |a| a.id.as_str())
    }

    fn offer(
        &self,
        flow: &mut FlowClass,
        app: AppId,
        kind: EvidenceKind,
        detail: String,
        packet: Option<u64>,
    ) {
        evidence::offer(
            &mut flow.app,
            AppMatch {
                app,
                kind,
                detail,
                packet,
            },
        );
    }

    /// Attribution from the flow's hostname (SNI or DNS name).
    fn attribute_by_name(&self, flow: &mut FlowClass, packet: Option<u64>) {
        let Some((name, source)) = &flow.hostname else {
            return;
        };
        if let Some(app) = self.catalog.match_hostname(name) {
            let kind = match source {
                HostnameSource::Sni => EvidenceKind::Sni,
                HostnameSource::Dns => EvidenceKind::DnsName,
            };
            let detail = name.clone();
            self.offer(flow, app, kind, detail, packet);
        }
    }

    /// Records a server name from a ClientHello (TLS, DTLS or QUIC) and attributes by it.
    fn server_name_seen(&self, flow: &mut FlowClass, sni: &str, packet: u64) {
        if flow.has_sni() {
            return;
        }
        flow.hostname = Some((sni.to_string(), HostnameSource::Sni));
        self.attribute_by_name(flow, Some(packet));
    }

    /// What a TLS, DTLS or QUIC handshake reader has found so far, copied into the flow only
    /// where the flow does not have it yet: a reader is asked after every handshake record or
    /// datagram, and copying its hello's names and a certificate of a hundred names each
    /// time, to be ignored, was most of the work.
    fn handshake_read(&self, flow: &mut FlowClass, found: HandshakeFound<'_>, at: PacketRef) {
        if let Some(sni) = found.sni {
            self.server_name_seen(flow, sni, at.number);
        }
        if let Some(alpn) = found.alpn.filter(|_| flow.handshake.alpn.is_empty()) {
            flow.handshake.alpn = alpn.to_vec();
        }
        if let Some(names) = found.certificate {
            self.certificate_seen(flow, names, at.number);
        }
    }

    /// Records a certificate's names and attributes by them.
    fn certificate_seen(&self, flow: &mut FlowClass, names: &x509::CertificateNames, packet: u64) {
        if flow.handshake.certificate.is_some() {
            return;
        }
        let subject = match (&names.subject_cn, &names.subject_org) {
            (Some(cn), _) => ["CN=", cn].concat(),
            (None, Some(org)) => ["O=", org].concat(),
            (None, None) => return,
        };
        // A certificate shared by many services (dozens of SANs: `*.skype.com` next to
        // `*.events.data.microsoft.com`) says little about which one this flow is: its SANs
        // count only when there are few of them.
        let sans = names
            .dns_names
            .iter()
            .filter(|_| names.dns_names.len() <= MAX_TELLING_SANS);
        let matched = names
            .subject_cn
            .iter()
            .chain(sans)
            .find_map(|name| self.catalog.match_certificate_name(name));
        if let Some(app) = matched {
            self.offer(
                flow,
                app,
                EvidenceKind::Certificate,
                subject.clone(),
                Some(packet),
            );
        }
        flow.handshake.certificate = Some(subject);
    }

    fn remember_name(&mut self, address: IpAddr, name: &str) {
        if self.resolved.len() < MAX_RESOLVED_ADDRESSES || self.resolved.contains_key(&address) {
            // The first name wins: later answers for the same address are usually CDN aliases.
            self.resolved.entry(address).or_insert_with(|| name.into());
        } else {
            self.resolved_dropped = self.resolved_dropped.saturating_add(1);
        }
    }
}

fn is_zoom_port(port: u16) -> bool {
    (8801..=8810).contains(&port)
}

/// Makes room in a reassembly buffer for `needed` bytes in all. The buffer grows geometrically,
/// as a `Vec` would (many small fragments cost few reallocations), but never past `bound`, the
/// most the buffer may hold: its allocation, not only its data, stays within the bound that
/// docs/robustness.md states. (A `needed` above `bound` is allowed exactly.)
pub(crate) fn reserve_within(buffer: &mut Vec<u8>, needed: usize, bound: usize) {
    if needed <= buffer.capacity() {
        return;
    }
    let target = buffer.capacity().saturating_mul(2).min(bound).max(needed);
    buffer.reserve_exact(target.saturating_sub(buffer.len()));
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
mod bounds_tests;
#[cfg(test)]
mod tests;
