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
//! ALPN and offered versions, and the ServerHello's version and cipher suite. Everything after
//! the hellos is encrypted, so nothing else is parsed.
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
//!   is allocated on first use and then reused, so its cost is once per flow.
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
//! * **Hello reassembly**: the first handshake message of the direction (ClientHello from the
//!   client, ServerHello from the server) is reassembled across records and segments when
//!   the first record of the stream is a handshake record (post-quantum ClientHellos of
//!   ~1.8 KB span two segments). The buffer is allocated once the message length is known,
//!   capped at [`MAX_HELLO_LEN`], and freed when the message is parsed or abandoned.
//!
//! The per-segment path does not allocate (apart from the hold buffer's first use and the
//! one-off hello buffer), never indexes out of bounds, and never panics.

/// TLS record header length (RFC 5246 §6.2).
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest record body accepted: 2^14 plus 2048 bytes of expansion (TLS 1.2 TLSCiphertext).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Largest first handshake message reassembled. ClientHellos with post-quantum key shares
/// are about 1.8 KB; 16 KiB leaves room for large padding and session tickets.
pub const MAX_HELLO_LEN: usize = 16 * 1024;
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

#[derive(Debug, Default)]
enum Hello {
    /// Nothing seen yet; the first record may start the hello.
    #[default]
    Waiting,
    /// Reassembling: the 4-byte handshake header, then the body (allocated once the length
    /// is known).
    Collecting {
        header: [u8; 4],
        header_have: usize,
        body: Vec<u8>,
    },
    /// Parsed or abandoned.
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
    hello: Hello,
    held: Held,
    client_hello: Option<ClientHello>,
    server_hello: Option<ServerHelloInfo>,
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

    /// The ClientHello, once this direction's first handshake message was one and parsed.
    pub fn client_hello(&self) -> Option<&ClientHello> {
        self.client_hello.as_ref()
    }

    /// The ServerHello, once this direction's first handshake message was one and parsed.
    pub fn server_hello(&self) -> Option<ServerHelloInfo> {
        self.server_hello
    }

    /// True once the stream was found not to be TLS.
    pub fn is_not_tls(&self) -> bool {
        self.sync == Sync::NotTls
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
        // Take the buffer out so `consume_segment` can borrow `self` mutably, then put it
        // back so its capacity is reused.
        let mut held = std::mem::take(&mut self.held.data);
        if held_end > 0 {
            let skip = held_offset.unsigned_abs() as usize;
            let fresh = held.get(skip..).unwrap_or(&[]);
            self.consume_segment(fresh, summary);
            let fresh_len = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
            self.next_seq = Some(next.wrapping_add(fresh_len));
        }
        held.clear();
        self.held.data = held;
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
        // A half-reassembled hello cannot be completed across a gap; free its buffer.
        if !matches!(self.hello, Hello::Done) {
            self.hello = Hello::Done;
        }
        self.held.data.clear();
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
                        self.feed_hello(chunk);
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
        // Only the stream's first record may start the hello; otherwise the message boundary
        // is unknown.
        if matches!(self.hello, Hello::Waiting)
            && (self.records_seen > 0 || content_type != CONTENT_HANDSHAKE)
        {
            self.hello = Hello::Done;
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
            self.hello = Hello::Done;
            return;
        }
        self.lose_sync();
        self.count_unsynced();
    }

    fn feed_hello(&mut self, mut chunk: &[u8]) {
        if matches!(self.hello, Hello::Waiting) {
            self.hello = Hello::Collecting {
                header: [0; 4],
                header_have: 0,
                body: Vec::new(),
            };
        }
        let Hello::Collecting {
            header,
            header_have,
            body,
        } = &mut self.hello
        else {
            return;
        };
        if *header_have < 4 {
            let take = 4usize.saturating_sub(*header_have).min(chunk.len());
            let (head, rest) = chunk.split_at(take);
            if let Some(slot) = header.get_mut(*header_have..header_have.saturating_add(take)) {
                slot.copy_from_slice(head);
            }
            *header_have = header_have.saturating_add(take);
            chunk = rest;
            if *header_have < 4 {
                return;
            }
            let [msg_type, a, b, c] = *header;
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            let wanted = matches!(msg_type, HANDSHAKE_CLIENT_HELLO | HANDSHAKE_SERVER_HELLO);
            if !wanted || len > MAX_HELLO_LEN {
                self.hello = Hello::Done;
                return;
            }
            // One allocation per flow, sized by the message.
            *body = Vec::with_capacity(len);
        }
        let len = {
            let [_, a, b, c] = *header;
            u32::from_be_bytes([0, a, b, c]) as usize
        };
        let take = len.saturating_sub(body.len()).min(chunk.len());
        body.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
        if body.len() < len {
            return;
        }
        let msg_type = header[0];
        let message = std::mem::take(body);
        self.hello = Hello::Done;
        match msg_type {
            HANDSHAKE_CLIENT_HELLO => self.client_hello = parse_client_hello(&message),
            HANDSHAKE_SERVER_HELLO => self.server_hello = parse_server_hello(&message),
            _ => {}
        }
    }
}

/// Parses a TLS ClientHello body (after the 4-byte handshake header). Lax: the fixed part
/// must be complete, but a truncated extension block yields the extensions that fit (QUIC
/// and captures cut by snaplen deliver partial hellos).
pub fn parse_client_hello(handshake_body: &[u8]) -> Option<ClientHello> {
    parse_client_hello_with(handshake_body, false)
}

/// Parses a DTLS ClientHello body (RFC 6347 §4.2.2: a cookie follows the session ID; the
/// DTLS handshake header is 12 bytes, which the caller strips).
pub fn parse_dtls_client_hello(handshake_body: &[u8]) -> Option<ClientHello> {
    parse_client_hello_with(handshake_body, true)
}

fn parse_client_hello_with(body: &[u8], dtls: bool) -> Option<ClientHello> {
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
            _ => {}
        }
    }
    Some(hello)
}

/// Parses a ServerHello body (after the 4-byte handshake header); also reads a TLS 1.3
/// HelloRetryRequest, which has the same layout.
pub fn parse_server_hello(handshake_body: &[u8]) -> Option<ServerHelloInfo> {
    let mut r = Reader::new(handshake_body);
    let legacy_version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // legacy_session_id_echo
    let cipher_suite = r.u16()?;
    r.u8()?; // legacy_compression_method
    let mut selected_version = legacy_version;
    for (ext_type, data) in Extensions::new(&mut r) {
        if ext_type == EXT_SUPPORTED_VERSIONS {
            if let Some(version) = Reader::new(data).u16() {
                selected_version = version;
            }
            break;
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
mod tests {
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

    #[derive(Debug, Clone)]
    struct HelloSpec {
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
    fn client_hello_body(spec: &HelloSpec) -> Vec<u8> {
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

    fn expected(spec: &HelloSpec) -> ClientHello {
        ClientHello {
            sni: spec.sni.clone(),
            alpn: spec.alpn.clone(),
            legacy_version: 0x0303,
            supported_versions: spec.versions.clone(),
        }
    }

    fn hello_spec() -> impl Strategy<Value = HelloSpec> {
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
