//! TLS over TCP: the record layer followed across segments, and the first handshake messages.
//!
//! References: TLS 1.2 (RFC 5246 §6.2 record layer, §7.4 handshake), TLS 1.3 (RFC 8446 §4,
//! §5.1), server_name (RFC 6066 §3), ALPN (RFC 7301), supported_versions (RFC 8446 §4.2.1),
//! GREASE values (RFC 8701).
//!
//! # What the auditor needs
//!
//! Per packet: which record content types it carries (handshake = key exchange, application
//! data = encrypted traffic, alerts, change_cipher_spec). Per flow: the ClientHello's SNI,
//! ALPN and offered versions, the ServerHello's version and cipher suite, the handshake message
//! types seen, and, up to TLS 1.2, the names in the leaf certificate of the Certificate
//! message ([`super::x509`]): strong evidence of which service the server belongs to.
//!
//! TLS 1.3 (RFC 8446 §4.3–4.4) encrypts everything after the ServerHello, certificates
//! included, so for a TLS 1.3 connection only the hellos are read: the handshake walk stops at
//! a ServerHello selecting 0x0304, at change_cipher_spec (after which a TLS ≤ 1.2 handshake is
//! encrypted too) and at the first application_data record.
//!
//! # Design
//!
//! One [`TlsStream`] per flow *direction*. It tracks the next expected TCP sequence number
//! (`u32` arithmetic throughout, so wrap-around is free) and a small record-layer state
//! machine: collecting a 5-byte header (which may itself span segments), then skipping the
//! body. Records may span segments and a segment may hold several records; a segment that
//! carries only the middle of a long Certificate record still reports `handshake`.
//!
//! * **In-order data** continues the parse. **Retransmissions** (entirely before the expected
//!   sequence number) are reported as `retransmission` and not parsed again; a segment that
//!   overlaps old and new data has only its new tail parsed.
//! * **Reordering**: one contiguous run of out-of-order data, at most [`MAX_HELD_BYTES`] bytes
//!   and at most [`MAX_REORDER_DISTANCE`] bytes ahead, is held and replayed when the gap
//!   fills. The held segment is reported as `held_out_of_order`; its content types are
//!   reported with the segment that fills the gap (they cannot be known earlier). The buffer
//!   is allocated when a segment must be held and freed when the gap fills or is given up, so
//!   a flow holds no memory for reordering it is not waiting on.
//! * **Gaps** that cannot be held lose sync. The stream then resynchronises at the first
//!   later segment that begins with a plausible record header ([`looks_like_tls_record`]) and
//!   reports nothing until then. A false resync (data that only looks like a header) fails at
//!   the next header check and loses sync again.
//! * **Not TLS**: when the caller saw the SYN ([`TlsStream::set_initial_sequence`]), the
//!   first data byte is the start of the stream, so a bad first header proves the stream is
//!   not TLS. Without the SYN, the first segment may be the middle of a record (capture
//!   started mid-connection, which is exactly when the long-lived MMR session matters most),
//!   so the stream is only declared not TLS after [`MAX_UNSYNCED_SEGMENTS`] segments without
//!   a single plausible record header. SSLv2-format hellos (`0x80 ...`) count as not TLS.
//! * **Handshake walk**: when the first record of the stream is a handshake record, the
//!   handshake messages are followed across records and segments (their 4-byte headers give
//!   the boundaries; a gap ends the walk, since a boundary may have been lost). Every message
//!   type is noted ([`TlsStream::handshake_types`]); the hellos are reassembled whole
//!   (post-quantum ClientHellos of ~1.8 KB span two segments; capped at [`MAX_HELLO_LEN`]);
//!   of a Certificate message (typically 3–6 KB of chain, spanning records and segments) only
//!   the leaf, the first certificate of the list, is kept (capped at [`MAX_CERTIFICATE_LEN`]),
//!   and the intermediates are skipped without being stored. A buffer is allocated when a
//!   wanted message starts, sized by the message, and freed as soon as it is parsed or
//!   abandoned, so at most one buffer of at most 64 KiB exists per direction. Each stream
//!   direction reads its own messages: the server→client stream yields the server's
//!   certificate, the client→server stream a client certificate (mutual TLS ≤ 1.2).
//!
//! The per-segment path does not allocate (apart from the hold buffer's first use and the
//! one-off message buffers), never indexes out of bounds, and never panics.

use std::sync::Arc;

use super::x509::{self, CertificateNames};
use super::HandshakeFound;

/// TLS record header length (RFC 5246 §6.2).
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest record body accepted: 2^14 plus 2048 bytes of expansion (TLS 1.2 TLSCiphertext).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Largest first handshake message reassembled. ClientHellos with post-quantum key shares
/// are about 1.8 KB; 16 KiB leaves room for large padding and session tickets.
pub const MAX_HELLO_LEN: usize = 16 * 1024;
/// Largest leaf certificate reassembled from a Certificate message (the rest of the chain is
/// skipped, not stored). Leaf certificates are 0.5–3 KB; Google's shared certificates, with
/// 100+ subjectAltNames, about 8 KB.
pub const MAX_CERTIFICATE_LEN: usize = 64 * 1024;
/// Out-of-order bytes held while waiting for a gap to fill (one contiguous run).
pub const MAX_HELD_BYTES: usize = 8 * 1024;
/// How far ahead of the expected sequence number a held segment may start.
pub const MAX_REORDER_DISTANCE: u32 = 64 * 1024;
/// Segments without any plausible record header before a stream whose start was not seen
/// is declared not TLS.
pub const MAX_UNSYNCED_SEGMENTS: u32 = 32;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;
const CONTENT_HEARTBEAT: u8 = 24;

const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_CERTIFICATE: u8 = 11;
/// TLS 1.2 Certificate body: certificate_list length (3), then the first certificate's length
/// (3) and DER (RFC 5246 §7.4.2).
const CERTIFICATE_LIST_HEADER_LEN: usize = 6;
const VERSION_TLS_1_3: u16 = 0x0304;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Bounds on lists copied out of a ClientHello (GREASE included); real clients send far
/// fewer, and the bounds keep a hostile hello from costing more than a few hundred bytes.
const MAX_ALPN_PROTOCOLS: usize = 16;
const MAX_SUPPORTED_VERSIONS: usize = 32;
/// Longest DNS name in text form (RFC 1035 §2.3.4).
const MAX_HOSTNAME_LEN: usize = 253;

/// Which record content types had bytes in one TCP segment, plus the stream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentSummary {
    pub handshake: bool,
    pub change_cipher_spec: bool,
    pub application_data: bool,
    pub alert: bool,
    /// The segment held no new bytes (all of it was seen before) and was not parsed again.
    pub retransmission: bool,
    /// The stream is not TLS; the caller can stop feeding it.
    pub not_tls: bool,
    /// The segment arrived ahead of a gap and was held; its content types will be reported
    /// with the segment that fills the gap.
    pub held_out_of_order: bool,
}

impl SegmentSummary {
    fn mark(&mut self, content_type: u8) {
        match content_type {
            CONTENT_CHANGE_CIPHER_SPEC => self.change_cipher_spec = true,
            CONTENT_ALERT => self.alert = true,
            CONTENT_HANDSHAKE => self.handshake = true,
            CONTENT_APPLICATION_DATA => self.application_data = true,
            // Heartbeat (RFC 6520) is valid but not reported separately.
            _ => {}
        }
    }

    /// True when any TLS content was seen in the segment.
    pub fn any_content(&self) -> bool {
        self.handshake || self.change_cipher_spec || self.application_data || self.alert
    }
}

/// What the auditor keeps from a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// The first `host_name` entry of server_name, lowercased, without a trailing dot; `None`
    /// when absent or not a plausible hostname.
    pub sni: Option<String>,
    /// ALPN protocol IDs in the client's order (IDs that are not UTF-8, such as GREASE, are
    /// skipped).
    pub alpn: Vec<String>,
    pub legacy_version: u16,
    /// supported_versions as sent, GREASE values included (see [`is_grease`]).
    pub supported_versions: Vec<u16>,
}

impl ClientHello {
    /// The highest offered version: from supported_versions (ignoring GREASE) when present,
    /// else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// What the auditor keeps from a ServerHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// From supported_versions when present (TLS 1.3), else the legacy version field.
    pub selected_version: u16,
    pub cipher_suite: u16,
}

/// A set of handshake message types 0–31 (every type in use, RFC 8446 §4 and the IANA
/// registry, except message_hash 254, which never goes on the wire), so a report can list what
/// a handshake contained: "ClientHello, ServerHello, Certificate, …".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct HandshakeTypes(pub u32);

impl HandshakeTypes {
    /// Adds a type; types above 31 are ignored.
    pub fn insert(&mut self, msg_type: u8) {
        if let Some(bit) = 1u32.checked_shl(u32::from(msg_type)) {
            self.0 |= bit;
        }
    }

    pub fn contains(self, msg_type: u8) -> bool {
        1u32.checked_shl(u32::from(msg_type))
            .is_some_and(|bit| self.0 & bit != 0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The types in ascending order.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0u8..32).filter(move |&msg_type| self.contains(msg_type))
    }

    /// The types' names ([`handshake_type_name`]) in ascending order of type.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.iter().map(handshake_type_name)
    }
}

/// The name of a handshake message type (IANA TLS HandshakeType registry, which DTLS shares);
/// `"Unknown"` for unassigned values.
pub fn handshake_type_name(msg_type: u8) -> &'static str {
    match msg_type {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        3 => "HelloVerifyRequest",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        6 => "HelloRetryRequest",
        8 => "EncryptedExtensions",
        9 => "RequestConnectionId",
        10 => "NewConnectionId",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        17 => "ClientCertificateRequest",
        20 => "Finished",
        21 => "CertificateUrl",
        22 => "CertificateStatus",
        23 => "SupplementalData",
        24 => "KeyUpdate",
        25 => "CompressedCertificate",
        26 => "EktKey",
        254 => "MessageHash",
        _ => "Unknown",
    }
}

/// RFC 8701 GREASE values (`0x?a?a`).
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && (value >> 8) == (value & 0xff)
}

/// A plausible TLS record header: content type 20–24, version 0x0300–0x0304, a non-empty
/// body no longer than [`MAX_RECORD_LEN`]. Needs at least 5 bytes.
pub fn looks_like_tls_record(first5: &[u8]) -> bool {
    match first5 {
        [_, _, _, hi, lo, ..] => {
            let len = u16::from_be_bytes([*hi, *lo]);
            header_prefix_plausible(first5.get(..RECORD_HEADER_LEN).unwrap_or(&[])) && len >= 1
        }
        _ => false,
    }
}

/// Checks as much of a record header as is present (a header may span segments).
fn header_prefix_plausible(prefix: &[u8]) -> bool {
    let type_ok = prefix
        .first()
        .is_none_or(|t| (CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(t));
    let major_ok = prefix.get(1).is_none_or(|&major| major == 3);
    let minor_ok = prefix.get(2).is_none_or(|&minor| minor <= 4);
    let len_ok = match prefix.get(3..5) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])) <= MAX_RECORD_LEN,
        _ => true,
    };
    type_ok && major_ok && minor_ok && len_ok
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Sync {
    /// Collecting a record header (`header_have` bytes so far).
    #[default]
    Header,
    /// Inside a record body.
    Body,
    /// Lost after a gap; waiting for a segment that starts with a record header.
    Lost,
    /// Definitely not TLS; everything is ignored.
    NotTls,
}

/// Where the walk over the handshake messages of the handshake records is.
#[derive(Debug, Default)]
enum Handshake {
    /// Nothing seen yet; the first record must be a handshake record for the walk to start.
    #[default]
    Waiting,
    /// Collecting a 4-byte handshake header (msg_type, 24-bit length).
    Header { header: [u8; 4], have: usize },
    /// Keeping the first `keep` bytes of a `len`-byte message body: all of a hello, the list
    /// header and leaf of a Certificate (`keep` shrinks to the leaf once its length is read).
    Collect {
        msg_type: u8,
        len: usize,
        keep: usize,
        body: Vec<u8>,
    },
    /// Skipping the rest of a message body.
    Skip { remaining: usize },
    /// Ended: encrypted from here on, a gap, or not a handshake.
    Done,
}

/// A contiguous run of bytes that arrived ahead of a gap.
#[derive(Debug, Default)]
struct Held {
    seq: u32,
    data: Vec<u8>,
}

/// Follows the TLS record layer of one TCP direction. See the module docs.
#[derive(Debug, Default)]
pub struct TlsStream {
    next_seq: Option<u32>,
    /// The next byte is known to be the first byte of the stream (the SYN was seen).
    origin_trusted: bool,
    sync: Sync,
    header: [u8; RECORD_HEADER_LEN],
    header_have: usize,
    content_type: u8,
    body_remaining: usize,
    records_seen: u32,
    unsynced_segments: u32,
    handshake: Handshake,
    held: Held,
    handshake_types: HandshakeTypes,
    client_hello: Option<ClientHello>,
    server_hello: Option<ServerHelloInfo>,
    certificate: Option<Arc<CertificateNames>>,
}

impl TlsStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the stream where its data starts (the SYN's sequence number plus one). Ignored
    /// once data has been seen. Enables the immediate not-TLS verdict and lets a first data
    /// segment that arrives out of order be held.
    pub fn set_initial_sequence(&mut self, isn_plus_one: u32) {
        if self.records_seen == 0 && self.header_have == 0 && self.sync == Sync::Header {
            self.next_seq = Some(isn_plus_one);
            self.origin_trusted = true;
        }
    }

    /// The ClientHello, once this direction sent one and it was parsed.
    pub fn client_hello(&self) -> Option<&ClientHello> {
        self.client_hello.as_ref()
    }

    /// The server name, ALPN list and certificate found so far.
    pub fn found(&self) -> HandshakeFound<'_> {
        let hello = self.client_hello.as_ref();
        HandshakeFound::new(
            hello.map(|h| (h.sni.as_deref(), &h.alpn[..])),
            self.certificate(),
        )
    }

    /// The ServerHello (negotiated version and cipher suite), once this direction sent one and
    /// it was parsed.
    pub fn server_hello(&self) -> Option<ServerHelloInfo> {
        self.server_hello
    }

    /// The names in the leaf certificate of this direction's Certificate message: the server's
    /// certificate on the server→client stream, a client certificate on the client→server
    /// stream. Only TLS ≤ 1.2 sends it in clear; `None` for TLS 1.3, when the walk did not see
    /// the start of the handshake, when the leaf exceeds [`MAX_CERTIFICATE_LEN`] or does not
    /// parse.
    pub fn certificate(&self) -> Option<&CertificateNames> {
        self.certificate.as_deref()
    }

    /// The handshake message types seen in clear in this direction.
    pub fn handshake_types(&self) -> HandshakeTypes {
        self.handshake_types
    }

    /// True once the stream was found not to be TLS.
    pub fn is_not_tls(&self) -> bool {
        self.sync == Sync::NotTls
    }

    /// Bytes allocated for reassembly right now: the out-of-order hold buffer (at most
    /// [`MAX_HELD_BYTES`] of data) and the handshake message being collected (at most
    /// [`MAX_HELLO_LEN`], or the certificate list header and a leaf of at most
    /// [`MAX_CERTIFICATE_LEN`]). Capacities, so what the allocator holds.
    pub fn buffered_bytes(&self) -> usize {
        let collecting = match &self.handshake {
            Handshake::Collect { body, .. } => body.capacity(),
            _ => 0,
        };
        self.held.data.capacity().saturating_add(collecting)
    }

    /// Frees the reassembly buffers ([`Self::buffered_bytes`] becomes 0), for a capture over its
    /// reassembly budget: a message being collected is given up (the handshake walk ends), and
    /// held out-of-order data is dropped, which loses sync as a gap would. The record layer is
    /// still followed, so later segments still report their content types.
    pub fn release_buffers(&mut self) {
        if self.held.data.is_empty() {
            self.handshake = Handshake::Done;
            self.held.data = Vec::new();
        } else {
            self.lose_sync();
        }
    }

    /// Feeds one TCP segment's payload with its sequence number.
    pub fn on_segment(&mut self, seq: u32, payload: &[u8]) -> SegmentSummary {
        let mut summary = SegmentSummary::default();
        if self.sync == Sync::NotTls || payload.is_empty() {
            summary.not_tls = self.sync == Sync::NotTls;
            return summary;
        }
        // TCP segments are below 64 KiB, so the length always fits; saturate regardless.
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        // The first segment seen sets the start unless the SYN did.
        let expected = *self.next_seq.get_or_insert(seq);
        let start_offset = seq.wrapping_sub(expected) as i32;

        if start_offset < 0 {
            let end_offset = seq.wrapping_add(len).wrapping_sub(expected) as i32;
            if end_offset <= 0 {
                summary.retransmission = true;
            } else {
                let already_seen = expected.wrapping_sub(seq) as usize;
                self.accept(payload.get(already_seen..).unwrap_or(&[]), &mut summary);
            }
        } else if start_offset == 0 {
            self.accept(payload, &mut summary);
        } else if !self.try_hold(seq, start_offset.unsigned_abs(), payload, &mut summary) {
            self.lose_sync();
            self.next_seq = Some(seq);
            self.accept(payload, &mut summary);
        }
        summary.not_tls = self.sync == Sync::NotTls;
        summary
    }

    /// Parses `data`, which starts exactly at the expected sequence number, then replays
    /// held data if the gap before it is now filled.
    fn accept(&mut self, data: &[u8], summary: &mut SegmentSummary) {
        self.consume_segment(data, summary);
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let next = self.next_seq.unwrap_or(0).wrapping_add(len);
        self.next_seq = Some(next);

        if self.held.data.is_empty() {
            return;
        }
        let held_offset = self.held.seq.wrapping_sub(next) as i32;
        if held_offset > 0 {
            return; // still a gap
        }
        let held_len = u32::try_from(self.held.data.len()).unwrap_or(u32::MAX);
        let held_end = self.held.seq.wrapping_add(held_len).wrapping_sub(next) as i32;
        // Take the buffer out so `consume_segment` can borrow `self` mutably; it is freed
        // after the replay.
        let held = std::mem::take(&mut self.held.data);
        if held_end > 0 {
            let skip = held_offset.unsigned_abs() as usize;
            let fresh = held.get(skip..).unwrap_or(&[]);
            self.consume_segment(fresh, summary);
            let fresh_len = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
            self.next_seq = Some(next.wrapping_add(fresh_len));
        }
    }

    /// Holds an out-of-order segment if the bounds allow. Returns false when the gap must be
    /// treated as loss.
    fn try_hold(
        &mut self,
        seq: u32,
        distance: u32,
        payload: &[u8],
        summary: &mut SegmentSummary,
    ) -> bool {
        if !matches!(self.sync, Sync::Header | Sync::Body) || distance > MAX_REORDER_DISTANCE {
            return false;
        }
        if self.held.data.is_empty() {
            if payload.len() > MAX_HELD_BYTES {
                return false;
            }
            self.held.seq = seq;
            super::reserve_within(&mut self.held.data, payload.len(), MAX_HELD_BYTES);
            self.held.data.extend_from_slice(payload);
            summary.held_out_of_order = true;
            return true;
        }
        let held_len = u32::try_from(self.held.data.len()).unwrap_or(u32::MAX);
        let relative = seq.wrapping_sub(self.held.seq) as i32;
        let payload_len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        if relative >= 0 && relative.unsigned_abs().saturating_add(payload_len) <= held_len {
            // A duplicate of data already held.
            summary.retransmission = true;
            return true;
        }
        if relative >= 0
            && relative.unsigned_abs() == held_len
            && self.held.data.len().saturating_add(payload.len()) <= MAX_HELD_BYTES
        {
            let needed = self.held.data.len().saturating_add(payload.len());
            super::reserve_within(&mut self.held.data, needed, MAX_HELD_BYTES);
            self.held.data.extend_from_slice(payload);
            summary.held_out_of_order = true;
            return true;
        }
        false
    }

    fn lose_sync(&mut self) {
        if self.sync != Sync::NotTls {
            self.sync = Sync::Lost;
        }
        self.origin_trusted = false;
        self.header_have = 0;
        self.body_remaining = 0;
        // Message boundaries cannot be followed across a gap; this also frees a
        // half-reassembled message.
        self.handshake = Handshake::Done;
        self.held.data = Vec::new();
    }

    /// Parses one segment's worth of in-order bytes.
    fn consume_segment(&mut self, data: &[u8], summary: &mut SegmentSummary) {
        if data.is_empty() {
            return;
        }
        if self.sync == Sync::Lost {
            if looks_like_tls_record(data) {
                self.sync = Sync::Header;
                self.header_have = 0;
            } else {
                self.count_unsynced();
                return;
            }
        }
        self.consume_records(data, summary);
    }

    fn count_unsynced(&mut self) {
        if self.records_seen == 0 {
            self.unsynced_segments = self.unsynced_segments.saturating_add(1);
            if self.unsynced_segments >= MAX_UNSYNCED_SEGMENTS {
                self.sync = Sync::NotTls;
            }
        }
    }

    fn consume_records(&mut self, mut data: &[u8], summary: &mut SegmentSummary) {
        while !data.is_empty() {
            match self.sync {
                Sync::Header => {
                    let want = RECORD_HEADER_LEN.saturating_sub(self.header_have);
                    let take = want.min(data.len());
                    let (head, rest) = data.split_at(take);
                    if let Some(slot) = self
                        .header
                        .get_mut(self.header_have..self.header_have.saturating_add(take))
                    {
                        slot.copy_from_slice(head);
                    }
                    self.header_have = self.header_have.saturating_add(take);
                    data = rest;
                    let prefix = self.header.get(..self.header_have).unwrap_or(&[]);
                    if !header_prefix_plausible(prefix) {
                        self.bad_header();
                        return;
                    }
                    summary.mark(self.header[0]);
                    if self.header_have == RECORD_HEADER_LEN {
                        self.start_record();
                    }
                }
                Sync::Body => {
                    let take = self.body_remaining.min(data.len());
                    let (chunk, rest) = data.split_at(take);
                    summary.mark(self.content_type);
                    if self.content_type == CONTENT_HANDSHAKE {
                        self.feed_handshake(chunk);
                    }
                    self.body_remaining = self.body_remaining.saturating_sub(take);
                    data = rest;
                    if self.body_remaining == 0 {
                        self.sync = Sync::Header;
                    }
                }
                Sync::Lost | Sync::NotTls => return,
            }
        }
    }

    fn start_record(&mut self) {
        let [content_type, _, _, hi, lo] = self.header;
        self.header_have = 0;
        self.content_type = content_type;
        self.body_remaining = usize::from(u16::from_be_bytes([hi, lo]));
        // Only the stream's first record may start the walk; otherwise the message boundary
        // is unknown. After change_cipher_spec or application data the handshake is
        // encrypted.
        let starts_walk = self.records_seen == 0 && content_type == CONTENT_HANDSHAKE;
        if (matches!(self.handshake, Handshake::Waiting) && !starts_walk)
            || (content_type != CONTENT_HANDSHAKE && content_type != CONTENT_ALERT)
        {
            self.handshake = Handshake::Done;
        }
        self.records_seen = self.records_seen.saturating_add(1);
        self.sync = if self.body_remaining == 0 {
            Sync::Header
        } else {
            Sync::Body
        };
    }

    fn bad_header(&mut self) {
        if self.origin_trusted && self.records_seen == 0 {
            self.sync = Sync::NotTls;
            self.handshake = Handshake::Done;
            return;
        }
        self.lose_sync();
        self.count_unsynced();
    }

    /// Walks the handshake messages in a piece of handshake-record body.
    fn feed_handshake(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            match &mut self.handshake {
                Handshake::Waiting => {
                    self.handshake = Handshake::Header {
                        header: [0; 4],
                        have: 0,
                    };
                }
                Handshake::Header { header, have } => {
                    let take = 4usize.saturating_sub(*have).min(chunk.len());
                    let (head, rest) = chunk.split_at(take);
                    if let Some(slot) = header.get_mut(*have..have.saturating_add(take)) {
                        slot.copy_from_slice(head);
                    }
                    *have = have.saturating_add(take);
                    chunk = rest;
                    if *have == 4 {
                        let [msg_type, a, b, c] = *header;
                        let len = u32::from_be_bytes([0, a, b, c]) as usize;
                        self.start_message(msg_type, len);
                    }
                }
                Handshake::Collect {
                    msg_type,
                    len,
                    keep,
                    body,
                } => {
                    let take = keep.saturating_sub(body.len()).min(chunk.len());
                    let (head, rest) = chunk.split_at(take);
                    body.extend_from_slice(head);
                    chunk = rest;
                    if *msg_type == HANDSHAKE_CERTIFICATE && *keep > CERTIFICATE_LIST_HEADER_LEN {
                        if let Some(&[a, b, c]) = body.get(3..CERTIFICATE_LIST_HEADER_LEN) {
                            let leaf_len = u32::from_be_bytes([0, a, b, c]) as usize;
                            let leaf_end = CERTIFICATE_LIST_HEADER_LEN.saturating_add(leaf_len);
                            if leaf_len > MAX_CERTIFICATE_LEN || leaf_end > *len {
                                let remaining = len.saturating_sub(body.len());
                                self.skip(remaining);
                                continue;
                            }
                            *keep = leaf_end;
                            body.reserve_exact(leaf_end.saturating_sub(body.len()));
                        }
                    }
                    if body.len() < *keep {
                        continue;
                    }
                    let msg_type = *msg_type;
                    let remaining = len.saturating_sub(body.len());
                    let message = std::mem::take(body);
                    self.skip(remaining);
                    self.finish_message(msg_type, &message);
                }
                Handshake::Skip { remaining } => {
                    let take = (*remaining).min(chunk.len());
                    *remaining = remaining.saturating_sub(take);
                    chunk = chunk.get(take..).unwrap_or(&[]);
                    if *remaining == 0 {
                        self.handshake = Handshake::Header {
                            header: [0; 4],
                            have: 0,
                        };
                    }
                }
                Handshake::Done => return,
            }
        }
    }

    /// A handshake header was read: decide whether to keep the body.
    fn start_message(&mut self, msg_type: u8, len: usize) {
        if handshake_type_name(msg_type) == "Unknown" {
            // Not a cleartext handshake (or not TLS at all): stop rather than read garbage.
            self.handshake = Handshake::Done;
            return;
        }
        self.handshake_types.insert(msg_type);
        let keep = match msg_type {
            HANDSHAKE_CLIENT_HELLO if self.client_hello.is_none() && len <= MAX_HELLO_LEN => len,
            HANDSHAKE_SERVER_HELLO if self.server_hello.is_none() && len <= MAX_HELLO_LEN => len,
            // Until the leaf's length is known: the list header and up to the largest leaf.
            HANDSHAKE_CERTIFICATE if self.certificate.is_none() => {
                len.min(CERTIFICATE_LIST_HEADER_LEN.saturating_add(MAX_CERTIFICATE_LEN))
            }
            _ => 0,
        };
        if keep == 0 {
            self.skip(len);
            return;
        }
        // Hellos are allocated at their size; a Certificate grows to its leaf's size, known
        // after six bytes, so a hostile length costs nothing until the bytes arrive.
        let capacity = if msg_type == HANDSHAKE_CERTIFICATE {
            CERTIFICATE_LIST_HEADER_LEN
        } else {
            keep
        };
        self.handshake = Handshake::Collect {
            msg_type,
            len,
            keep,
            body: Vec::with_capacity(capacity),
        };
    }

    fn skip(&mut self, remaining: usize) {
        self.handshake = if remaining == 0 {
            Handshake::Header {
                header: [0; 4],
                have: 0,
            }
        } else {
            Handshake::Skip { remaining }
        };
    }

    fn finish_message(&mut self, msg_type: u8, message: &[u8]) {
        match msg_type {
            HANDSHAKE_CLIENT_HELLO => self.client_hello = parse_client_hello(message),
            HANDSHAKE_SERVER_HELLO => {
                self.server_hello = parse_server_hello(message);
                if self
                    .server_hello
                    .is_some_and(|hello| hello.selected_version >= VERSION_TLS_1_3)
                {
                    // Everything after a TLS 1.3 ServerHello is encrypted.
                    self.handshake = Handshake::Done;
                }
            }
            HANDSHAKE_CERTIFICATE => {
                self.certificate = message
                    .get(CERTIFICATE_LIST_HEADER_LEN..)
                    .and_then(x509::read_certificate);
            }
            _ => {}
        }
    }
}

/// Parses a TLS ClientHello body (after the 4-byte handshake header). Lax: the fixed part
/// must be complete, but a truncated extension block yields the extensions that fit (QUIC
/// and captures cut by snaplen deliver partial hellos).
pub fn parse_client_hello(handshake_body: &[u8]) -> Option<ClientHello> {
    parse_client_hello_with(handshake_body, false, |_, _| {})
}

/// Parses a DTLS ClientHello body (RFC 6347 §4.2.2: a cookie follows the session ID; the
/// DTLS handshake header is 12 bytes, which the caller strips).
pub fn parse_dtls_client_hello(handshake_body: &[u8]) -> Option<ClientHello> {
    parse_client_hello_with(handshake_body, true, |_, _| {})
}

/// Parses a ClientHello body and hands every extension not read here (type, data) to
/// `other_extension`, for the DTLS reader's use_srtp.
pub(crate) fn parse_client_hello_with(
    body: &[u8],
    dtls: bool,
    mut other_extension: impl FnMut(u16, &[u8]),
) -> Option<ClientHello> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // legacy_session_id
    if dtls {
        r.vec8()?; // cookie
    }
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    let mut hello = ClientHello {
        legacy_version,
        ..ClientHello::default()
    };
    let mut seen_sni = false;
    let mut seen_alpn = false;
    let mut seen_versions = false;
    for (ext_type, data) in Extensions::new(&mut r) {
        match ext_type {
            EXT_SERVER_NAME if !seen_sni => {
                seen_sni = true;
                hello.sni = parse_sni(data);
            }
            EXT_ALPN if !seen_alpn => {
                seen_alpn = true;
                let mut list = Reader::new(data);
                let mut protocols = Reader::new(list.vec16_lax());
                while let Some(id) = protocols.vec8() {
                    if hello.alpn.len() >= MAX_ALPN_PROTOCOLS {
                        break;
                    }
                    if let Ok(id) = std::str::from_utf8(id) {
                        if !id.is_empty() {
                            hello.alpn.push(id.to_owned());
                        }
                    }
                }
            }
            EXT_SUPPORTED_VERSIONS if !seen_versions => {
                seen_versions = true;
                let mut list = Reader::new(data);
                let mut versions = Reader::new(list.vec8_lax());
                while let Some(version) = versions.u16() {
                    if hello.supported_versions.len() >= MAX_SUPPORTED_VERSIONS {
                        break;
                    }
                    hello.supported_versions.push(version);
                }
            }
            _ => other_extension(ext_type, data),
        }
    }
    Some(hello)
}

/// Parses a ServerHello body (after the 4-byte handshake header); also reads a TLS 1.3
/// HelloRetryRequest, which has the same layout.
pub fn parse_server_hello(handshake_body: &[u8]) -> Option<ServerHelloInfo> {
    parse_server_hello_with(handshake_body, |_, _| {})
}

/// Parses a ServerHello body (TLS or DTLS: the layouts match) and hands every other extension
/// to `other_extension`.
pub(crate) fn parse_server_hello_with(
    handshake_body: &[u8],
    mut other_extension: impl FnMut(u16, &[u8]),
) -> Option<ServerHelloInfo> {
    let mut r = Reader::new(handshake_body);
    let legacy_version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // legacy_session_id_echo
    let cipher_suite = r.u16()?;
    r.u8()?; // legacy_compression_method
    let mut selected_version = legacy_version;
    let mut seen_versions = false;
    for (ext_type, data) in Extensions::new(&mut r) {
        if ext_type == EXT_SUPPORTED_VERSIONS && !seen_versions {
            seen_versions = true;
            if let Some(version) = Reader::new(data).u16() {
                selected_version = version;
            }
        } else {
            other_extension(ext_type, data);
        }
    }
    Some(ServerHelloInfo {
        selected_version,
        cipher_suite,
    })
}

/// The first `host_name` of a server_name extension, validated and lowercased.
fn parse_sni(data: &[u8]) -> Option<String> {
    let mut outer = Reader::new(data);
    let mut list = Reader::new(outer.vec16_lax());
    while let Some(name_type) = list.u8() {
        let name = list.vec16()?;
        if name_type == 0 {
            return hostname(name);
        }
    }
    None
}

/// A plausible DNS hostname: letters, digits, `-`, `_` and non-empty dot-separated labels.
/// One trailing dot is tolerated and removed (RFC 6066 forbids it, some clients send it).
fn hostname(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_suffix(b".").unwrap_or(bytes);
    if bytes.is_empty() || bytes.len() > MAX_HOSTNAME_LEN {
        return None;
    }
    let valid_chars = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_chars || bytes.split(|&b| b == b'.').any(|label| label.is_empty()) {
        return None;
    }
    let mut name = String::with_capacity(bytes.len());
    name.extend(bytes.iter().map(|b| char::from(b.to_ascii_lowercase())));
    Some(name)
}

/// A bounds-checked big-endian cursor.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    /// Up to `n` bytes: everything that is left when fewer remain.
    fn take_lax(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.buf.split_at(n.min(self.buf.len()));
        self.buf = rest;
        head
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(self.u8()?);
        self.take(len)
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(self.u16()?);
        self.take(len)
    }

    fn vec8_lax(&mut self) -> &'a [u8] {
        let len = self.u8().map_or(0, usize::from);
        self.take_lax(len)
    }

    fn vec16_lax(&mut self) -> &'a [u8] {
        let len = self.u16().map_or(0, usize::from);
        self.take_lax(len)
    }
}

/// Iterates the extensions block that follows a hello's fixed part; stops at the first
/// extension that does not fit.
struct Extensions<'a> {
    block: Reader<'a>,
}

impl<'a> Extensions<'a> {
    fn new(r: &mut Reader<'a>) -> Self {
        Self {
            block: Reader::new(r.vec16_lax()),
        }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let ext_type = self.block.u16()?;
        let data = self.block.vec16()?;
        Some((ext_type, data))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::x509::samples::{CLOUD_ZOOM_DER, HANGOUTS_DER, WEBRTC_2059_DER};
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    /// nDPI zoom.pcap frame 167: a 2019 Zoom client's ClientHello to a Zone Controller,
    /// one 517-byte segment (TLS 1.2, no ALPN, no supported_versions).
    const ZOOM_ZC_CLIENT_HELLO: &str = "1603010200010001fc0303d1c77b740100bcf6ee27a6a65ea7dc4f1d610674a0cd5fbfd7bc3bc807107a5f0000bac030c02cc028c024c014c00a00a500a300a1009f006b006a0069006800390038003700360088008700860085c01900a7006d003a0089c032c02ec02ac026c00fc005009d003d00350084c02fc02bc027c023c013c00900a400a200a0009e00670040003f003e0033003200310030009a0099009800970045004400430042c01800a6006c0034009b0046c031c02dc029c025c00ec004009c003c002f009600410007c012c008001600130010000dc017001bc00dc003000a00ff010001190000001800160000137a6f6f6d616d3130357a632e7a6f6f6d2e7573000b000403000102000a001c001a00170019001c001b0018001a0016000e000d000b000c0009000a00230000000d0020001e060106020603050105020503040104020403030103020303020102020203000f000101001500a40000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    /// nDPI teams.pcap frame 518: ClientHello with ALPN and supported_versions.
    const TEAMS_CLIENT_HELLO: &str = "1603010200010001fc0303a5951c331412c3d9f192d1174c4309b27895feaedf678924dce8b81e7cc68e1b20def1bbec0d068a67f4874c295349412970a7e6f2d9d1701fd7c660cce308dfd20072130213031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c013003300ad00abccaeccadccac009d00a9ccab00ac00aa009c00a8003d003cc038c03600b700b300950091003500af008dc037c03500b600b200940090002f00ae008c00ff0100014100000012001000000d646174692e6e746f702e6f7267000b000403000102000a000c000a001d0017001e0019001800230000337400000010000e000c02683208687474702f312e310016000000170000000d0030002e040305030603080708080809080a080b080408050806040105010601030302030301020103020202040205020602002b0009080304030303020301002d00020101003300260024001d0020beb16ae3190c6632bb8de7861435e314155cb64bc39366d46b61883bfaa56f7a0015007c00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    /// nDPI zoom.pcap frame 180, cut: the ServerHello record of the Zone Controller and the
    /// first bytes of its 5140-byte Certificate record.
    const ZOOM_ZC_SERVER_HELLO: &str = "16030300420200003e0303c5ae175918dd8df94cf4e449845211f424bd8cf079cbac67332ed839c80fe88b00c02f000016ff01000100000b00040300010200230000000f00010116030314140b001410";
    /// nDPI teams.pcap frame 553: ServerHello, ChangeCipherSpec and an encrypted Finished in
    /// one segment; frame 1125: an encrypted alert.
    const TEAMS_SERVER_FLIGHT: &str = "16030300600200005c030363f43156f74b94a7ada4a581f4819ceeb202640269cd74f9253868210b1818c020def1bbec0d068a67f4874c295349412970a7e6f2d9d1701fd7c660cce308dfd2c030000014ff010001000010000b000908687474702f312e311403030001011603030028c9b34481f8ecc2d92066efa0225b4c4beb6693940479de3dcd66c5cb894f91d9091d527f2a7e4489";
    const TEAMS_ALERT: &str = "150303001ac9b34481f8ecc2dbf75ef08f582f4d8e2450f61027027eb616c8";

    #[test]
    fn real_zoom_client_hello_in_two_segments() {
        let ch = hex(ZOOM_ZC_CLIENT_HELLO);
        let mut stream = TlsStream::new();
        let first = stream.on_segment(1000, &ch[..300]);
        assert!(first.handshake && !first.not_tls);
        assert!(stream.client_hello().is_none());
        let second = stream.on_segment(1300, &ch[300..]);
        assert!(second.handshake);
        let hello = stream.client_hello().unwrap();
        assert_eq!(hello.sni.as_deref(), Some("zoomam105zc.zoom.us"));
        assert!(hello.alpn.is_empty());
        assert_eq!(hello.legacy_version, 0x0303);
        assert!(hello.supported_versions.is_empty());
        assert_eq!(hello.max_version(), 0x0303);
        // A retransmission of the first segment is recognised and not re-parsed.
        let again = stream.on_segment(1000, &ch[..300]);
        assert_eq!(
            again,
            SegmentSummary {
                retransmission: true,
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_teams_client_hello_free_function() {
        let ch = hex(TEAMS_CLIENT_HELLO);
        assert!(looks_like_tls_record(&ch));
        let hello = parse_client_hello(&ch[9..]).unwrap();
        assert_eq!(hello.sni.as_deref(), Some("dati.ntop.org"));
        assert_eq!(hello.alpn, vec!["h2".to_owned(), "http/1.1".to_owned()]);
        assert_eq!(
            hello.supported_versions,
            vec![0x0304, 0x0303, 0x0302, 0x0301]
        );
        assert_eq!(hello.max_version(), 0x0304);
    }

    #[test]
    fn real_server_hello_then_middle_of_certificate() {
        let sh = hex(ZOOM_ZC_SERVER_HELLO);
        let mut stream = TlsStream::new();
        stream.set_initial_sequence(u32::MAX - 10); // wraps inside the first segment
        let summary = stream.on_segment(u32::MAX - 10, &sh);
        assert!(summary.handshake);
        assert_eq!(
            stream.server_hello(),
            Some(ServerHelloInfo {
                selected_version: 0x0303,
                cipher_suite: 0xc02f
            })
        );
        // The Certificate record is 5140 bytes long; a segment of its middle is handshake.
        let next = (u32::MAX - 10).wrapping_add(sh.len() as u32);
        let middle = stream.on_segment(next, &[0x30; 1400]);
        assert!(middle.handshake && !middle.application_data);
    }

    #[test]
    fn several_records_in_one_segment() {
        let mut stream = TlsStream::new();
        let flight = stream.on_segment(7, &hex(TEAMS_SERVER_FLIGHT));
        assert!(flight.handshake && flight.change_cipher_spec && !flight.alert);
        assert_eq!(stream.server_hello().unwrap().cipher_suite, 0xc030);
        let data_seq = 7 + hex(TEAMS_SERVER_FLIGHT).len() as u32;
        let mut app = vec![0x17, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4];
        app.extend_from_slice(&hex(TEAMS_ALERT));
        let mixed = stream.on_segment(data_seq, &app);
        assert!(mixed.application_data && mixed.alert && !mixed.handshake);
    }

    #[test]
    fn not_tls_with_and_without_syn() {
        let mut with_syn = TlsStream::new();
        with_syn.set_initial_sequence(1);
        assert!(with_syn.on_segment(1, b"GET / HTTP/1.1\r\n").not_tls);
        assert!(with_syn.on_segment(17, &hex(TEAMS_ALERT)).not_tls);

        let mut without_syn = TlsStream::new();
        let mut seq = 1u32;
        for i in 0..MAX_UNSYNCED_SEGMENTS {
            let summary = without_syn.on_segment(seq, b"GET / HTTP/1.1\r\n");
            assert_eq!(summary.not_tls, i + 1 == MAX_UNSYNCED_SEGMENTS);
            seq += 16;
        }
    }

    #[test]
    fn gap_loses_sync_then_resyncs_on_header() {
        let mut stream = TlsStream::new();
        let record = |len: u16| {
            let mut r = vec![0x17, 0x03, 0x03];
            r.extend_from_slice(&len.to_be_bytes());
            r.resize(5 + usize::from(len), 0xaa);
            r
        };
        let big = record(3000);
        assert!(stream.on_segment(0, &big[..1000]).application_data);
        // Far beyond the reorder window: sync is lost, the segment is mid-record.
        let lost = stream.on_segment(200_000, &big[1000..2000]);
        assert!(!lost.any_content() && !lost.not_tls);
        let still_lost = stream.on_segment(201_000, &big[2000..]);
        assert!(!still_lost.any_content());
        // The next segment starts a record: resync.
        let mut next = record(10);
        next.extend_from_slice(&hex(TEAMS_ALERT));
        let resynced = stream.on_segment(201_000 + (big.len() as u32 - 2000), &next);
        assert!(resynced.application_data && resynced.alert);
    }

    #[test]
    fn out_of_order_segment_is_held_and_replayed() {
        let ch = hex(ZOOM_ZC_CLIENT_HELLO);
        let mut stream = TlsStream::new();
        stream.set_initial_sequence(500);
        let early = stream.on_segment(800, &ch[300..]);
        assert!(early.held_out_of_order && !early.any_content());
        let filler = stream.on_segment(500, &ch[..300]);
        assert!(filler.handshake);
        assert_eq!(
            stream.client_hello().unwrap().sni.as_deref(),
            Some("zoomam105zc.zoom.us")
        );
        // The held data counts as seen.
        assert!(stream.on_segment(800, &ch[300..]).retransmission);
    }

    #[test]
    fn record_header_checks() {
        assert!(looks_like_tls_record(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!looks_like_tls_record(&[0x16, 0x03, 0x01, 0x02]));
        assert!(!looks_like_tls_record(&[0x16, 0x03, 0x05, 0x00, 0x10]));
        assert!(!looks_like_tls_record(&[0x19, 0x03, 0x03, 0x00, 0x10]));
        assert!(!looks_like_tls_record(&[0x17, 0x03, 0x03, 0x48, 0x01]));
        assert!(!looks_like_tls_record(&[0x17, 0x03, 0x03, 0x00, 0x00]));
        assert!(!looks_like_tls_record(&[0x80, 0x2e, 0x01, 0x03, 0x01]));
        assert!(is_grease(0x1a1a) && is_grease(0xfafa) && !is_grease(0x0304));
    }

    #[test]
    fn sni_validation() {
        assert_eq!(hostname(b"Zoom.US.").as_deref(), Some("zoom.us"));
        assert_eq!(
            hostname(b"_dmarc.example").as_deref(),
            Some("_dmarc.example")
        );
        assert_eq!(hostname(b"a..b"), None);
        assert_eq!(hostname(b"bad host"), None);
        assert_eq!(hostname(b""), None);
        assert_eq!(hostname("zoöm.us".as_bytes()), None);
    }

    // ---- generated hellos ----

    /// A generated ClientHello: the one TLS ClientHello generator of the tests (QUIC Initial
    /// carries the same message).
    #[derive(Debug, Clone)]
    pub(in crate::classify) struct HelloSpec {
        sni: Option<String>,
        alpn: Vec<String>,
        versions: Vec<u16>,
        padding: usize,
    }

    fn extension(out: &mut Vec<u8>, ext_type: u16, data: &[u8]) {
        out.extend_from_slice(&ext_type.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }

    /// A ClientHello body per RFC 8446 §4.1.2.
    pub(in crate::classify) fn client_hello_body(spec: &HelloSpec) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x42; 32]);
        body.push(32);
        body.extend_from_slice(&[0x11; 32]);
        body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[0x01, 0x00]);
        let mut exts = Vec::new();
        if let Some(sni) = &spec.sni {
            let mut data = ((sni.len() + 3) as u16).to_be_bytes().to_vec();
            data.push(0);
            data.extend_from_slice(&(sni.len() as u16).to_be_bytes());
            data.extend_from_slice(sni.as_bytes());
            extension(&mut exts, EXT_SERVER_NAME, &data);
        }
        if !spec.alpn.is_empty() {
            let mut list = Vec::new();
            for id in &spec.alpn {
                list.push(id.len() as u8);
                list.extend_from_slice(id.as_bytes());
            }
            let mut data = (list.len() as u16).to_be_bytes().to_vec();
            data.extend_from_slice(&list);
            extension(&mut exts, EXT_ALPN, &data);
        }
        if !spec.versions.is_empty() {
            let mut data = vec![(spec.versions.len() * 2) as u8];
            for v in &spec.versions {
                data.extend_from_slice(&v.to_be_bytes());
            }
            extension(&mut exts, EXT_SUPPORTED_VERSIONS, &data);
        }
        // Stands in for a post-quantum key_share (~1.2 KB) or padding.
        extension(&mut exts, 51, &vec![0x5a; spec.padding]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        body
    }

    /// Handshake header + body, split into records of at most `fragment` bytes.
    fn records(msg_type: u8, body: &[u8], fragment: usize) -> Vec<u8> {
        let mut message = vec![msg_type];
        message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend_from_slice(body);
        let mut out = Vec::new();
        for piece in message.chunks(fragment) {
            out.extend_from_slice(&[0x16, 0x03, 0x01]);
            out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
            out.extend_from_slice(piece);
        }
        out
    }

    pub(in crate::classify) fn expected(spec: &HelloSpec) -> ClientHello {
        ClientHello {
            sni: spec.sni.clone(),
            alpn: spec.alpn.clone(),
            legacy_version: 0x0303,
            supported_versions: spec.versions.clone(),
        }
    }

    pub(in crate::classify) fn hello_spec() -> impl Strategy<Value = HelloSpec> {
        (
            proptest::option::of("[a-z0-9]{1,12}(\\.[a-z0-9-]{1,12}){0,3}"),
            proptest::collection::vec("[a-z0-9/.-]{1,10}", 0..4),
            proptest::collection::vec(any::<u16>(), 0..6),
            0usize..1500,
        )
            .prop_map(|(sni, alpn, versions, padding)| HelloSpec {
                sni,
                alpn,
                versions,
                padding,
            })
    }

    // ---- server flights with a certificate ----

    /// A ServerHello body: TLS 1.2, cipher 0xc02f, optionally supported_versions.
    fn server_hello_body(version: Option<u16>) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0xc0, 0x2f, 0]);
        if let Some(v) = version {
            let mut exts = Vec::new();
            extension(&mut exts, EXT_SUPPORTED_VERSIONS, &v.to_be_bytes());
            body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
            body.extend_from_slice(&exts);
        }
        body
    }

    /// A TLS 1.2 Certificate body (RFC 5246 §7.4.2) holding `chain`, leaf first.
    fn certificate_body(chain: &[Vec<u8>]) -> Vec<u8> {
        let mut list = Vec::new();
        for der in chain {
            list.extend_from_slice(&(der.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(der);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        body
    }

    /// Handshake messages back to back, split into records of at most `fragment` bytes.
    fn flight(messages: &[(u8, Vec<u8>)], fragment: usize) -> Vec<u8> {
        let mut stream = Vec::new();
        for (msg_type, body) in messages {
            stream.push(*msg_type);
            stream.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            stream.extend_from_slice(body);
        }
        let mut out = Vec::new();
        for piece in stream.chunks(fragment) {
            out.extend_from_slice(&[0x16, 0x03, 0x03]);
            out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
            out.extend_from_slice(piece);
        }
        out
    }

    fn zoom_chain() -> Vec<Vec<u8>> {
        vec![hex(CLOUD_ZOOM_DER), hex(WEBRTC_2059_DER), hex(HANGOUTS_DER)]
    }

    #[test]
    fn server_flight_certificate_names() {
        let wire = flight(
            &[
                (HANDSHAKE_SERVER_HELLO, server_hello_body(None)),
                (HANDSHAKE_CERTIFICATE, certificate_body(&zoom_chain())),
                (14, Vec::new()),
            ],
            1000,
        );
        let mut stream = TlsStream::new();
        stream.set_initial_sequence(9);
        for (i, segment) in wire.chunks(700).enumerate() {
            let summary = stream.on_segment(9 + (i * 700) as u32, segment);
            assert!(summary.handshake && !summary.not_tls);
        }
        let names = stream.certificate().unwrap();
        assert_eq!(names.subject_cn.as_deref(), Some("*.cloud.zoom.us"));
        assert_eq!(names.dns_names, ["*.cloud.zoom.us", "cloud.zoom.us"]);
        assert_eq!(stream.server_hello().unwrap().cipher_suite, 0xc02f);
        assert_eq!(
            stream.handshake_types().names().collect::<Vec<_>>(),
            ["ServerHello", "Certificate", "ServerHelloDone"]
        );
        assert!(matches!(stream.handshake, Handshake::Header { .. }));
        // change_cipher_spec ends the walk: the Finished after it is encrypted.
        let end = 9 + wire.len() as u32;
        let mut tail = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
        tail.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x99, 0, 0, 0]);
        assert!(stream.on_segment(end, &tail).handshake);
        assert!(matches!(stream.handshake, Handshake::Done));
        assert!(!stream.handshake_types().contains(0x99));
    }

    #[test]
    fn tls13_server_hello_ends_the_walk() {
        let wire = flight(
            &[
                (HANDSHAKE_SERVER_HELLO, server_hello_body(Some(0x0304))),
                (HANDSHAKE_CERTIFICATE, certificate_body(&zoom_chain())),
            ],
            16_384,
        );
        let mut stream = TlsStream::new();
        stream.on_segment(0, &wire);
        assert_eq!(stream.server_hello().unwrap().selected_version, 0x0304);
        assert_eq!(stream.certificate(), None);
        assert_eq!(
            stream.handshake_types().names().collect::<Vec<_>>(),
            ["ServerHello"]
        );
    }

    #[test]
    fn oversized_or_broken_leaf_is_skipped() {
        let huge_leaf = vec![0x30; MAX_CERTIFICATE_LEN + 1];
        let broken_leaf = hex(CLOUD_ZOOM_DER)[..100].to_vec();
        for chain in [vec![huge_leaf], vec![broken_leaf, hex(HANGOUTS_DER)]] {
            let wire = flight(
                &[
                    (HANDSHAKE_CERTIFICATE, certificate_body(&chain)),
                    (14, Vec::new()),
                ],
                16_384,
            );
            let mut stream = TlsStream::new();
            for (i, segment) in wire.chunks(1460).enumerate() {
                stream.on_segment((i * 1460) as u32, segment);
            }
            assert_eq!(stream.certificate(), None);
            // The walk went on past the Certificate.
            assert!(stream.handshake_types().contains(14));
        }
        // A certificate message whose leaf claims more than the message holds.
        let mut body = certificate_body(&[hex(HANGOUTS_DER)]);
        body[5] = 0xff;
        let wire = flight(&[(HANDSHAKE_CERTIFICATE, body), (14, Vec::new())], 500);
        let mut stream = TlsStream::new();
        stream.on_segment(0, &wire);
        assert!(stream.certificate().is_none() && stream.handshake_types().contains(14));
    }

    #[test]
    fn handshake_type_names() {
        let mut types = HandshakeTypes::default();
        assert!(types.is_empty());
        for t in [20, 3, 1, 200] {
            types.insert(t);
        }
        assert_eq!(
            types.names().collect::<Vec<_>>(),
            ["ClientHello", "HelloVerifyRequest", "Finished"]
        );
        assert_eq!(handshake_type_name(7), "Unknown");
        assert!(!types.contains(200));
    }

    proptest! {
        #[test]
        fn generated_server_flight_round_trips(
            fragment in 20usize..20_000,
            segment_len in 1usize..3000,
            isn in any::<u32>(),
            swap in any::<bool>(),
        ) {
            let chain = zoom_chain();
            let wire = flight(
                &[
                    (HANDSHAKE_SERVER_HELLO, server_hello_body(None)),
                    (HANDSHAKE_CERTIFICATE, certificate_body(&chain)),
                    (12, vec![0x42; 300]),
                    (14, Vec::new()),
                ],
                fragment,
            );
            let mut segments: Vec<(u32, &[u8])> = wire
                .chunks(segment_len)
                .enumerate()
                .map(|(i, chunk)| (isn.wrapping_add((i * segment_len) as u32), chunk))
                .collect();
            if swap && segments.len() > 2 {
                segments.swap(1, 2);
            }
            let mut stream = TlsStream::new();
            stream.set_initial_sequence(isn);
            for (seq, payload) in &segments {
                prop_assert!(!stream.on_segment(*seq, payload).not_tls);
            }
            let leaf = x509::parse_certificate(&chain[0]);
            prop_assert_eq!(stream.certificate(), leaf.as_ref());
            prop_assert!(stream.certificate().is_some());
            prop_assert_eq!(stream.handshake_types().iter().collect::<Vec<_>>(), [2, 11, 12, 14]);
            let between_messages = matches!(stream.handshake, Handshake::Header { have: 0, .. });
            prop_assert!(between_messages);
        }

        #[test]
        fn truncated_server_flight_never_panics(cut in 0usize..4000, segment_len in 1usize..1500) {
            let wire = flight(
                &[
                    (HANDSHAKE_SERVER_HELLO, server_hello_body(None)),
                    (HANDSHAKE_CERTIFICATE, certificate_body(&zoom_chain())),
                ],
                700,
            );
            let wire = &wire[..cut.min(wire.len())];
            let mut stream = TlsStream::new();
            for (i, segment) in wire.chunks(segment_len).enumerate() {
                stream.on_segment((i * segment_len) as u32, segment);
            }
            // The leaf ends before the intermediates: either all of it arrived or nothing.
            if let Some(names) = stream.certificate() {
                prop_assert_eq!(names.subject_cn.as_deref(), Some("*.cloud.zoom.us"));
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_client_hello(&bytes);
            let _ = parse_dtls_client_hello(&bytes);
            let _ = parse_server_hello(&bytes);
            let _ = looks_like_tls_record(&bytes);
            let mut stream = TlsStream::new();
            let _ = stream.on_segment(0, &bytes);
        }

        #[test]
        fn arbitrary_segment_sequences_never_panic(
            segments in proptest::collection::vec(
                (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..20),
            valid_start in any::<bool>(),
        ) {
            let mut stream = TlsStream::new();
            if valid_start {
                stream.on_segment(0, &[0x16, 0x03, 0x01, 0x00, 0x30]);
            }
            for (seq, payload) in &segments {
                let _ = stream.on_segment(*seq, payload);
            }
        }

        /// Inside well-formed handshake records (so the fuzzing gets past the record layer):
        /// a handshake message of a wanted or any type, with any declared length and any body,
        /// split into records and segments of any size.
        #[test]
        fn arbitrary_handshake_messages_never_panic(
            msg_type in prop_oneof![Just(HANDSHAKE_CLIENT_HELLO), Just(HANDSHAKE_SERVER_HELLO), Just(HANDSHAKE_CERTIFICATE), any::<u8>()],
            declared in prop_oneof![0u32..700, 0u32..(1 << 24)],
            body in proptest::collection::vec(any::<u8>(), 0..700),
            fragment in 1usize..800,
            segment_len in 1usize..800,
        ) {
            let mut message = vec![msg_type];
            message.extend_from_slice(&declared.to_be_bytes()[1..]);
            message.extend_from_slice(&body);
            let mut wire = Vec::new();
            for piece in message.chunks(fragment) {
                wire.extend_from_slice(&[0x16, 0x03, 0x01]);
                wire.extend_from_slice(&(piece.len() as u16).to_be_bytes());
                wire.extend_from_slice(piece);
            }
            let mut stream = TlsStream::new();
            stream.set_initial_sequence(77);
            for (i, segment) in wire.chunks(segment_len).enumerate() {
                let summary = stream.on_segment(77 + (i * segment_len) as u32, segment);
                prop_assert!(summary.handshake && !summary.not_tls);
            }
            if declared as usize > body.len() {
                // A hello cut short is never parsed (a Certificate may be: only its leaf is
                // needed).
                prop_assert!(stream.client_hello().is_none() && stream.server_hello().is_none());
            }
            let _ = stream.certificate();
        }

        #[test]
        fn generated_client_hello_round_trips(
            spec in hello_spec(),
            fragment in 40usize..20_000,
            cuts in proptest::collection::vec(1usize..1500, 0..6),
            isn in any::<u32>(),
            swap in any::<bool>(),
        ) {
            let body = client_hello_body(&spec);
            prop_assert_eq!(parse_client_hello(&body), Some(expected(&spec)));

            let wire = records(HANDSHAKE_CLIENT_HELLO, &body, fragment);
            let mut segments: Vec<(u32, &[u8])> = Vec::new();
            let mut rest: &[u8] = &wire;
            let mut seq = isn;
            for cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
                if rest.is_empty() {
                    break;
                }
                let (head, tail) = rest.split_at((*cut).min(rest.len()));
                segments.push((seq, head));
                seq = seq.wrapping_add(head.len() as u32);
                rest = tail;
            }
            // Reorder two adjacent segments after the first (the first must start the stream
            // when no SYN is given), and retransmit the first one at the end.
            if swap && segments.len() > 2 && segments[2].1.len() <= MAX_HELD_BYTES {
                segments.swap(1, 2);
            }
            segments.push(segments[0]);
            let mut stream = TlsStream::new();
            let mut saw_retransmission = false;
            for (seq, payload) in &segments {
                let summary = stream.on_segment(*seq, payload);
                prop_assert!(!summary.not_tls && !summary.application_data);
                saw_retransmission |= summary.retransmission;
            }
            prop_assert!(saw_retransmission);
            prop_assert_eq!(stream.client_hello(), Some(&expected(&spec)));
        }

        #[test]
        fn truncated_client_hello_is_handled(spec in hello_spec()) {
            let body = client_hello_body(&spec);
            let full = expected(&spec);
            for cut in 0..body.len() {
                if let Some(partial) = parse_client_hello(&body[..cut]) {
                    // Whatever comes out of a truncated hello is a prefix of the truth.
                    prop_assert!(partial.sni.is_none() || partial.sni == full.sni);
                    prop_assert!(full.alpn.starts_with(&partial.alpn));
                    prop_assert!(full.supported_versions.starts_with(&partial.supported_versions));
                }
                // The same truncation seen as a stream: no hello, no panic.
                let wire = records(HANDSHAKE_CLIENT_HELLO, &body, 16_384);
                let mut stream = TlsStream::new();
                let summary = stream.on_segment(0, &wire[..cut.min(wire.len())]);
                prop_assert!(!summary.not_tls);
                prop_assert!(stream.client_hello().is_none());
            }
        }

        #[test]
        fn generated_server_hello_round_trips(
            cipher in any::<u16>(),
            version in proptest::option::of(any::<u16>()),
            session in proptest::collection::vec(any::<u8>(), 0..33),
        ) {
            let mut body = vec![0x03, 0x03];
            body.extend_from_slice(&[7; 32]);
            body.push(session.len() as u8);
            body.extend_from_slice(&session);
            body.extend_from_slice(&cipher.to_be_bytes());
            body.push(0);
            if let Some(v) = version {
                let mut exts = Vec::new();
                extension(&mut exts, EXT_SUPPORTED_VERSIONS, &v.to_be_bytes());
                body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
                body.extend_from_slice(&exts);
            }
            let want = ServerHelloInfo {
                selected_version: version.unwrap_or(0x0303),
                cipher_suite: cipher,
            };
            prop_assert_eq!(parse_server_hello(&body), Some(want));
            let wire = records(HANDSHAKE_SERVER_HELLO, &body, 30);
            let mut stream = TlsStream::new();
            for (i, chunk) in wire.chunks(7).enumerate() {
                stream.on_segment(1000 + (i * 7) as u32, chunk);
            }
            prop_assert_eq!(stream.server_hello(), Some(want));
            for cut in 0..body.len() {
                let _ = parse_server_hello(&body[..cut]);
            }
        }
    }
}
