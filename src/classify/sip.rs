//! SIP (RFC 3261) and the SDP it carries (RFC 8866, formerly RFC 4566): where VoIP calls put
//! their SRTP keys and announce their media addresses.
//!
//! # What the classifier makes of it
//!
//! * A SIP message whose SDP carries **`a=crypto`** (SDES, RFC 4568) is a **key exchange**
//!   packet: the SRTP master key and salt travel inline, base64 encoded, so anyone on the path of
//!   a cleartext SIP message (UDP/TCP 5060) can read them and decrypt the call. The same holds for
//!   **`a=key-mgmt`** (RFC 4567, normally `mikey`, RFC 3830): the MIKEY message that keys SRTP
//!   rides in the SDP. [`SdpSummary::has_key_exchange`] is exactly this test.
//! * **`a=fingerprint`** alone (RFC 8122, DTLS-SRTP in SDP per RFC 5763/8842) is *not* key
//!   exchange: it only pins the certificate of the DTLS handshake that will later run on the
//!   media 5-tuple, where the DTLS dissector sees it. It is reported ([`SdpSummary::fingerprint`])
//!   so an auditor can tell DTLS-SRTP calls from SDES calls.
//! * Every other SIP message (REGISTER, 100 Trying, ACK, BYE, SDP without keys, …) and the
//!   RFC 5626 CRLF keep-alives ([`is_keepalive`]) are **signaling**.
//! * The SDP's media sections name the addresses and ports the RTP (and RTCP) flows will use
//!   ([`SdpSummary::media_endpoints`], [`SdpSummary::rtcp_endpoints`]): the classifier labels the
//!   flows that follow with them, and with the protocol of the `m=` line (`RTP/SAVP` means SRTP
//!   keyed by SDES or MIKEY, `UDP/TLS/RTP/SAVPF` means DTLS-SRTP).
//!
//! # Recognition and parsing
//!
//! [`looks_like_sip`] is the fast rejection path: a few byte comparisons against a request line
//! (`INVITE sip:`, `REGISTER sips:`, … — the RFC 3261 methods and the common extension methods,
//! followed by a `sip:`, `sips:` or `tel:` Request-URI) or a status line (`SIP/2.0 `). It neither
//! allocates nor scans the payload.
//!
//! [`parse`] reads **one** message from the start of a UDP datagram or a TCP segment. It is lax
//! and allocation-free: lines may end in CRLF or a bare LF, header names are compared
//! case-insensitively and in their compact forms (`i` Call-ID, `c` Content-Type, `l`
//! Content-Length; RFC 3261 §7.3.3), whitespace around the colon is allowed, and folded
//! continuation lines are skipped (only the first line of a header value is read). The body is
//! `Content-Length` bytes after the blank line (or the rest of the payload when the header is
//! absent, as RFC 3261 §18.3 allows on UDP). When the headers or the body run past the end of the
//! payload the message is still returned, with [`SipMessage::complete`] false, so a TCP caller
//! can wait for more bytes; [`SipMessage::wire_len`] says where a following message starts.
//!
//! [`parse_sdp`] is lax too: lines that are not `<letter>=<value>` are skipped, unknown
//! attributes are ignored, and a malformed `c=` or `m=` line is ignored rather than fatal. It is
//! the only allocating step (one `Vec` of media sections), and it runs only for SIP messages that
//! carry a body.
//!
//! # Bounds
//!
//! * At most [`MAX_HEADER_FIELDS`] header fields are interpreted; later ones are skipped (still
//!   scanned to find the body). Real messages have 10–30.
//! * At most [`MAX_SDP_LINES`] SDP lines are examined and at most [`MAX_MEDIA`] media sections
//!   recorded; [`SdpSummary::truncated`] says when either bound cut the description short. Key
//!   attributes (`a=crypto`, `a=key-mgmt`, `a=fingerprint`) in media sections beyond
//!   [`MAX_MEDIA`] still count in the summary, so padding an SDP with dummy `m=` lines cannot hide
//!   keys; padding it past [`MAX_SDP_LINES`] can, and sets `truncated`.
//!
//! # Not covered
//!
//! SIP over TLS (5061) and over WebSocket (RFC 7118) is opaque here; SDP inside
//! `multipart/mixed` bodies is not unpacked; a message split across TCP segments must be
//! reassembled by the caller; `a=candidate` (ICE) addresses and the address of `a=rtcp` are not
//! collected.

use std::net::IpAddr;

/// Header fields interpreted per message (see the module docs).
pub const MAX_HEADER_FIELDS: usize = 128;
/// SDP lines examined per description.
pub const MAX_SDP_LINES: usize = 1024;
/// Media sections recorded per description.
pub const MAX_MEDIA: usize = 64;

/// Request methods recognised on a request line: RFC 3261 (INVITE, ACK, BYE, CANCEL, REGISTER,
/// OPTIONS) and the extensions PRACK (RFC 3262), SUBSCRIBE/NOTIFY (RFC 6665), PUBLISH (RFC
/// 3903), INFO (RFC 6086), REFER (RFC 3515), MESSAGE (RFC 3428) and UPDATE (RFC 3311).
pub const METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

const VERSION: &[u8] = b"SIP/2.0";

/// The first line of a SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `METHOD Request-URI SIP/2.0`.
    Request { method: &'a str, uri: &'a str },
    /// `SIP/2.0 code reason` (code 100–699; the reason may be empty).
    Response { code: u16, reason: &'a str },
}

/// The CSeq header (RFC 3261 §20.16): it ties a response to its request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub number: u32,
    pub method: &'a str,
}

/// One SIP message read by [`parse`]. Strings borrow from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipMessage<'a> {
    pub start: StartLine<'a>,
    /// `Call-ID` / `i`, trimmed; the first one if repeated.
    pub call_id: Option<&'a str>,
    pub cseq: Option<CSeq<'a>>,
    /// `Content-Type` / `c`, trimmed, parameters included.
    pub content_type: Option<&'a str>,
    /// The Content-Type's media type is `application/sdp` (case-insensitive).
    pub content_type_is_sdp: bool,
    /// `Content-Length` / `l`; saturates at `usize::MAX` for absurd values.
    pub content_length: Option<usize>,
    /// The bytes of the body present in the payload (at most `content_length`); when the body
    /// is cut short (not [`complete`](Self::complete)), only its whole lines.
    pub body: &'a [u8],
    /// Bytes of the start line, headers and the blank line (the whole payload when the blank
    /// line was not found).
    pub header_len: usize,
    /// The blank line was found and the whole body (per Content-Length) is present.
    pub complete: bool,
}

impl<'a> SipMessage<'a> {
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request's method, or for a response the method named in CSeq.
    pub fn method(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => self.cseq.map(|c| c.method),
        }
    }

    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// Bytes this message occupies in the payload: where the next message of a TCP stream
    /// starts when [`complete`](Self::complete) is true.
    pub fn wire_len(&self) -> usize {
        self.header_len.saturating_add(self.body.len())
    }

    /// The body read as SDP: when the Content-Type says `application/sdp`, or when it is absent
    /// and the body starts with `v=0` (lax). `None` for other bodies and for no body.
    pub fn sdp(&self) -> Option<SdpSummary> {
        let is_sdp = self.content_type_is_sdp
            || (self.content_type.is_none() && self.body.starts_with(b"v=0"));
        (is_sdp && !self.body.is_empty()).then(|| parse_sdp(self.body))
    }
}

/// `true` when `payload` starts like a SIP request or response (see the module docs). Cheap
/// enough to call on every TCP/UDP payload.
pub fn looks_like_sip(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    if first == b'S' && payload.starts_with(b"SIP/2.0 ") {
        return true;
    }
    if !(b'A'..=b'U').contains(&first) {
        return false;
    }
    METHODS.iter().any(|method| {
        payload
            .strip_prefix(method.as_bytes())
            .and_then(|rest| rest.strip_prefix(b" "))
            .is_some_and(has_uri_scheme)
    })
}

fn has_uri_scheme(uri: &[u8]) -> bool {
    starts_with_ignore_case(uri, b"sip:")
        || starts_with_ignore_case(uri, b"sips:")
        || starts_with_ignore_case(uri, b"tel:")
}

/// An RFC 5626 §3.5.1 keep-alive: a double CRLF ping or a single CRLF pong (bare LFs allowed).
pub fn is_keepalive(payload: &[u8]) -> bool {
    !payload.is_empty() && payload.len() <= 4 && payload.iter().all(|b| matches!(b, b'\r' | b'\n'))
}

/// Reads the SIP message at the start of `payload` (see the module docs). `None` unless
/// [`looks_like_sip`] holds and the start line is complete and well formed.
pub fn parse(payload: &[u8]) -> Option<SipMessage<'_>> {
    parse_with(payload, parse_start_line, read_header)
}

/// [`parse`], with the readers of the start line and of a header line given: the tests run the
/// parser without its shortcuts through the same steps (`reference`).
#[inline(always)]
fn parse_with<'a>(
    payload: &'a [u8],
    start_line_reader: impl Fn(&'a [u8]) -> Option<StartLine<'a>>,
    header_reader: impl Fn(&'a [u8], &mut SipMessage<'a>),
) -> Option<SipMessage<'a>> {
    if !looks_like_sip(payload) {
        return None;
    }
    let (start_line, mut rest) = split_line(payload)?;
    let mut message = SipMessage {
        start: start_line_reader(start_line)?,
        call_id: None,
        cseq: None,
        content_type: None,
        content_type_is_sdp: false,
        content_length: None,
        body: &[],
        header_len: payload.len(),
        complete: false,
    };
    let mut fields = 0usize;
    loop {
        let Some((line, after)) = split_line(rest) else {
            // The headers run past the payload: a truncated datagram or the first TCP segment.
            return Some(message);
        };
        rest = after;
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue; // a folded continuation of the previous header's value
        }
        fields += 1;
        if fields <= MAX_HEADER_FIELDS {
            header_reader(line, &mut message);
        }
    }
    message.header_len = payload.len() - rest.len();
    match message.content_length {
        Some(length) => {
            message.body = rest.get(..length).unwrap_or(rest);
            message.complete = length <= rest.len();
            if !message.complete {
                // Property test fix (every_truncation_is_handled): a body cut short ends inside
                // a line, and a cut value reads as another one (`m=audio 0 RTP/A` as protocol
                // Other, `c=IN IP4 192.0.2.12` for `.123`). Keep whole lines only.
                message.body = whole_lines(message.body);
            }
        }
        None => {
            message.body = rest;
            message.complete = true;
        }
    }
    Some(message)
}

/// The complete lines of a body cut short. A cut last line is dropped unless it is an
/// `a=crypto:` or `a=key-mgmt:` line, which counts by its presence alone: it proves that keys
/// travel in clear even when the key itself continues in the next segment.
fn whole_lines(body: &[u8]) -> &[u8] {
    let end = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
    let tail = body.get(end..).unwrap_or_default();
    if starts_with_ignore_case(tail, b"a=crypto:") || starts_with_ignore_case(tail, b"a=key-mgmt:")
    {
        return body;
    }
    body.get(..end).unwrap_or(body)
}

/// The line at the start of `bytes` without its CR LF (or LF), and what follows it. `None` when
/// there is no line end.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr(b'\n', bytes)?;
    let (line, rest) = bytes.split_at_checked(end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, rest.get(1..).unwrap_or(&[])))
}

fn parse_start_line(line: &[u8]) -> Option<StartLine<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    // Spaces are found byte by byte: `str::split(' ')` searched with memchr, whose set-up per
    // call cost more than these short fields.
    if let Some(status) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = match find_byte(status.as_bytes(), b' ') {
            Some(space) => (status.get(..space)?, status.get(space + 1..)?),
            None => (status, ""),
        };
        return Some(StartLine::Response {
            code: status_code(code)?,
            reason: reason.trim(),
        });
    }
    // `METHOD SP Request-URI SP SIP-Version`: exactly two spaces, as the version has none.
    let first = find_byte(line.as_bytes(), b' ')?;
    let (method, rest) = (line.get(..first)?, line.get(first + 1..)?);
    let second = find_byte(rest.as_bytes(), b' ')?;
    let (uri, version) = (rest.get(..second)?, rest.get(second + 1..)?);
    if uri.is_empty() || !version.as_bytes().eq_ignore_ascii_case(VERSION) {
        return None;
    }
    Some(StartLine::Request { method, uri })
}

/// A status code: three digits, 100 to 699.
fn status_code(code: &str) -> Option<u16> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    (100..=699).contains(&code).then_some(code)
}

/// The first `byte` in a short field: a plain loop, cheaper than memchr's set-up there.
fn find_byte(bytes: &[u8], byte: u8) -> Option<usize> {
    bytes.iter().position(|&b| b == byte)
}

fn read_header<'a>(line: &'a [u8], message: &mut SipMessage<'a>) {
    // Only Call-ID (i), Content-Type (c), Content-Length (l) and CSeq are read, so a line whose
    // name starts with another letter (Via, From, To, Max-Forwards, …) is passed over before
    // its colon is looked for. `| 0x20` lowercases the letters; the name is trimmed of ASCII
    // whitespace below, so its first letter is the line's first byte that is not.
    let first = line
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .map(|b| b | 0x20);
    if matches!(first, Some(b'c' | b'i' | b'l')) {
        read_header_fields(line, message);
    }
}

/// Reads a header line if it is one of the four kept, whatever its first letter.
fn read_header_fields<'a>(line: &'a [u8], message: &mut SipMessage<'a>) {
    let Some(colon) = memchr::memchr(b':', line) else {
        return;
    };
    let (name, value) = line.split_at(colon);
    let name = name.trim_ascii();
    let is = |long: &[u8], compact: &[u8]| {
        name.eq_ignore_ascii_case(long)
            || (!compact.is_empty() && name.eq_ignore_ascii_case(compact))
    };
    // Only these four headers are read, so only their values are checked as UTF-8: a message
    // has a dozen more (Via, From, To, Contact, …), and checking them all was a third of the
    // parse.
    let value = || {
        value
            .get(1..)
            .and_then(|v| std::str::from_utf8(v.trim_ascii()).ok())
    };
    if is(b"call-id", b"i") {
        if message.call_id.is_none() {
            message.call_id = value().filter(|value| !value.is_empty());
        }
    } else if is(b"content-type", b"c") {
        if message.content_type.is_none() {
            let Some(value) = value() else { return };
            message.content_type = Some(value);
            let media_type = match find_byte(value.as_bytes(), b';') {
                Some(semicolon) => value.get(..semicolon).unwrap_or(value),
                None => value,
            }
            .trim();
            message.content_type_is_sdp = media_type.eq_ignore_ascii_case("application/sdp");
        }
    } else if is(b"content-length", b"l") {
        if message.content_length.is_none() {
            message.content_length = value().and_then(parse_decimal);
        }
    } else if is(b"cseq", b"") && message.cseq.is_none() {
        let Some(value) = value() else { return };
        let mut parts = value.split_ascii_whitespace();
        if let (Some(number), Some(method)) = (parts.next(), parts.next()) {
            if let Ok(number) = number.parse() {
                message.cseq = Some(CSeq { number, method });
            }
        }
    }
}

/// A run of ASCII digits; saturates instead of overflowing.
fn parse_decimal(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0usize, |n, d| {
        n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    }))
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The media type of an `m=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKindText {
    Audio,
    Video,
    Application,
    /// `text`, `message`, `image` (T.38 fax) or anything else.
    Other,
}

impl MediaKindText {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKindText::Audio => "audio",
            MediaKindText::Video => "video",
            MediaKindText::Application => "application",
            MediaKindText::Other => "other",
        }
    }
}

/// The transport protocol of an `m=` line, grouped by how its media is keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpProtocol {
    /// `RTP/AVP`: plain RTP (RFC 3551).
    RtpAvp,
    /// `RTP/AVPF`: plain RTP with feedback (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVP`: SRTP keyed in the SDP (SDES or MIKEY) or by ZRTP (RFC 3711).
    RtpSavp,
    /// `RTP/SAVPF`: as `RTP/SAVP`, with feedback (RFC 5124).
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVP[F]`, `TCP/TLS/RTP/SAVP[F]` (RFC 5764) or `TCP/DTLS/RTP/SAVP[F]`
    /// (RFC 7850): SRTP keyed by a DTLS handshake on the media path.
    DtlsSrtp,
    /// `UDP/DTLS/SCTP`, `TCP/DTLS/SCTP` (RFC 8841) or the older `DTLS/SCTP`: a WebRTC data
    /// channel.
    DtlsSctp,
    /// Anything else (`udptl`, `TCP/MSRP`, …).
    Other,
}

impl SdpProtocol {
    fn from_token(token: &str) -> Self {
        let eq = |s: &str| token.eq_ignore_ascii_case(s);
        if eq("RTP/AVP") {
            SdpProtocol::RtpAvp
        } else if eq("RTP/AVPF") {
            SdpProtocol::RtpAvpf
        } else if eq("RTP/SAVP") {
            SdpProtocol::RtpSavp
        } else if eq("RTP/SAVPF") {
            SdpProtocol::RtpSavpf
        } else if ["UDP/TLS/", "TCP/TLS/", "TCP/DTLS/"]
            .iter()
            .any(|p| starts_with_ignore_case(token.as_bytes(), p.as_bytes()))
            && ["/RTP/SAVP", "/RTP/SAVPF"].iter().any(|s| {
                token
                    .len()
                    .checked_sub(s.len())
                    .and_then(|i| token.get(i..))
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
            })
        {
            SdpProtocol::DtlsSrtp
        } else if eq("UDP/DTLS/SCTP") || eq("TCP/DTLS/SCTP") || eq("DTLS/SCTP") {
            SdpProtocol::DtlsSctp
        } else {
            SdpProtocol::Other
        }
    }

    /// RTP of any profile: the flow at the media address carries RTP (and RTCP).
    pub fn is_rtp(self) -> bool {
        !matches!(self, SdpProtocol::DtlsSctp | SdpProtocol::Other)
    }

    /// A secure (SRTP) profile.
    pub fn is_srtp(self) -> bool {
        matches!(
            self,
            SdpProtocol::RtpSavp | SdpProtocol::RtpSavpf | SdpProtocol::DtlsSrtp
        )
    }
}

/// `a=setup` (RFC 4145 / RFC 5763 §5): which side starts the DTLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    Active,
    Passive,
    ActPass,
    HoldConn,
}

impl Setup {
    fn from_value(value: &str) -> Option<Self> {
        let value = value.trim();
        let eq = |s: &str| value.eq_ignore_ascii_case(s);
        if eq("active") {
            Some(Setup::Active)
        } else if eq("passive") {
            Some(Setup::Passive)
        } else if eq("actpass") {
            Some(Setup::ActPass)
        } else if eq("holdconn") {
            Some(Setup::HoldConn)
        } else {
            None
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpMedia {
    pub kind: MediaKindText,
    /// The RTP port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The `c=` line of this section, which overrides the session's.
    pub connection: Option<IpAddr>,
    pub protocol: SdpProtocol,
    /// `a=crypto` lines in this section (SDES keys).
    pub crypto_lines: u16,
    /// An `a=fingerprint` line in this section.
    pub fingerprint: bool,
    /// An `a=key-mgmt` line in this section.
    pub key_mgmt: bool,
    /// This section's `a=setup`.
    pub setup: Option<Setup>,
    /// `a=rtcp-mux` (RFC 5761): RTCP shares the RTP port.
    pub rtcp_mux: bool,
    /// The port of `a=rtcp:<port>` (RFC 3605).
    pub rtcp_attribute_port: Option<u16>,
}

impl SdpMedia {
    /// Where this stream's RTCP goes: the `a=rtcp` port, the RTP port under `a=rtcp-mux`, else
    /// the RTP port + 1 (RFC 3550 §11). `None` for a disabled stream or a non-RTP protocol.
    pub fn rtcp_port(&self) -> Option<u16> {
        if self.port == 0 || !self.protocol.is_rtp() {
            return None;
        }
        if let Some(port) = self.rtcp_attribute_port {
            return Some(port);
        }
        if self.rtcp_mux {
            Some(self.port)
        } else {
            self.port.checked_add(1)
        }
    }
}

/// What an SDP body says about keys and media (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdpSummary {
    /// The session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// The media sections, in order (at most [`MAX_MEDIA`]).
    pub media: Vec<SdpMedia>,
    /// `a=crypto` lines anywhere in the description.
    pub crypto_lines: u16,
    /// An `a=fingerprint` line anywhere.
    pub fingerprint: bool,
    /// An `a=key-mgmt` line anywhere.
    pub key_mgmt: bool,
    /// An `a=zrtp-hash` line anywhere (RFC 6189 §8.1): ZRTP will key the media in-band.
    pub zrtp_hash: bool,
    /// The first `a=setup` seen (session or media level).
    pub setup: Option<Setup>,
    /// [`MAX_SDP_LINES`] or [`MAX_MEDIA`] cut the description short.
    pub truncated: bool,
}

impl SdpSummary {
    /// SRTP keys travel in this SDP: any `a=crypto` (SDES) or `a=key-mgmt` (MIKEY) line.
    pub fn has_key_exchange(&self) -> bool {
        self.crypto_lines > 0 || self.key_mgmt
    }

    /// Address, RTP port and kind of each enabled media section with a usable address (the
    /// section's `c=`, else the session's; `0.0.0.0`/`::` hold addresses are skipped).
    pub fn media_endpoints(&self) -> impl Iterator<Item = (IpAddr, u16, MediaKindText)> + '_ {
        self.media.iter().filter_map(move |m| {
            let address = self.address_of(m)?;
            (m.port != 0).then_some((address, m.port, m.kind))
        })
    }

    /// Address, RTCP port and kind of each RTP media section whose RTCP is on its own port (see
    /// [`SdpMedia::rtcp_port`]; muxed RTCP is already covered by [`Self::media_endpoints`]).
    pub fn rtcp_endpoints(&self) -> impl Iterator<Item = (IpAddr, u16, MediaKindText)> + '_ {
        self.media.iter().filter_map(move |m| {
            let address = self.address_of(m)?;
            let port = m.rtcp_port().filter(|&p| p != m.port)?;
            Some((address, port, m.kind))
        })
    }

    fn address_of(&self, media: &SdpMedia) -> Option<IpAddr> {
        media
            .connection
            .or(self.connection)
            .filter(|a| !a.is_unspecified())
    }
}

/// Where the lines being read belong.
#[derive(Clone, Copy)]
enum Section {
    Session,
    Media(usize),
    /// A malformed `m=` line or one beyond [`MAX_MEDIA`]: its attributes count only in the
    /// summary.
    Unrecorded,
}

/// Reads an SDP body (see the module docs for what is lax and what is bounded).
pub fn parse_sdp(body: &[u8]) -> SdpSummary {
    parse_sdp_with(body, may_be_read_attribute)
}

/// [`parse_sdp`], with the test that lets an `a=` line through to [`read_attribute`] given:
/// the tests check that the real one drops no line that counts by comparing with letting all
/// through.
#[inline(always)]
fn parse_sdp_with(body: &[u8], may_be_read: impl Fn(&[u8]) -> bool) -> SdpSummary {
    let mut summary = SdpSummary::default();
    let mut section = Section::Session;
    for (index, raw) in lines(body).enumerate() {
        if index >= MAX_SDP_LINES {
            summary.truncated = true;
            break;
        }
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let [kind, b'=', value @ ..] = line else {
            continue;
        };
        // A line counts only when its value is UTF-8. Only the lines read below are checked:
        // most of an SDP (o=, t=, rtpmap, fmtp, candidates, …) is never looked at.
        let text = || std::str::from_utf8(value).ok();
        match kind {
            b'c' => {
                let Some(value) = text() else { continue };
                if let Some(address) = parse_connection(value) {
                    match section {
                        Section::Session => {
                            summary.connection.get_or_insert(address);
                        }
                        Section::Media(i) => {
                            if let Some(media) = summary.media.get_mut(i) {
                                media.connection.get_or_insert(address);
                            }
                        }
                        Section::Unrecorded => {}
                    }
                }
            }
            b'm' => {
                let Some(value) = text() else { continue };
                section = Section::Unrecorded;
                if summary.media.len() >= MAX_MEDIA {
                    summary.truncated = true;
                } else if let Some(media) = parse_media_line(value) {
                    section = Section::Media(summary.media.len());
                    summary.media.push(media);
                }
            }
            b'a' => {
                if !may_be_read(value) {
                    continue;
                }
                let Some(value) = text() else { continue };
                let media = match section {
                    Section::Media(i) => Some(i),
                    Section::Session | Section::Unrecorded => None,
                };
                read_attribute(value, &mut summary, media);
            }
            _ => {}
        }
    }
    summary
}

/// Whether an `a=` line's value may name an attribute [`read_attribute`] acts on: its name,
/// trimmed, starts with the first four letters of one of them. Exact for every value that
/// starts, after the whitespace `str::trim` strips, with an ASCII byte; any other start may be a
/// Unicode space and is let through. Lets the SDP's other attributes (rtpmap, fmtp, ssrc,
/// candidate, …) be passed over without checking them as UTF-8 or splitting them.
fn may_be_read_attribute(value: &[u8]) -> bool {
    let Some(start) = value
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '))
    else {
        return false;
    };
    let name = value.get(start..).unwrap_or_default();
    if name.first().is_some_and(|&b| b >= 0x80) {
        return true;
    }
    let Some(&[a, b, c, d]) = name.get(..4) else {
        // Shorter than every name read.
        return false;
    };
    // `| 0x20` lowercases letters and leaves '-' as it is; a byte it maps onto a letter by
    // accident only lets a line through to the exact comparison.
    let prefix = [a | 0x20, b | 0x20, c | 0x20, d | 0x20];
    matches!(
        &prefix,
        b"cryp" | b"fing" | b"key-" | b"zrtp" | b"setu" | b"rtcp"
    )
}

/// The lines of `body` split at LF, as `split(|&b| b == b'\n')` would, found with memchr.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let bytes = rest?;
        match memchr::memchr(b'\n', bytes) {
            Some(end) => {
                rest = bytes.get(end + 1..);
                bytes.get(..end)
            }
            None => rest.take(),
        }
    })
}

/// Applies one `a=` line to the summary and, when it is in a recorded media section, to the
/// section at `media_index`.
fn read_attribute(value: &str, summary: &mut SdpSummary, media_index: Option<usize>) {
    let media = media_index.and_then(|i| summary.media.get_mut(i));
    let (name, argument) = value.split_once(':').unwrap_or((value, ""));
    let name = name.trim();
    let eq = |s: &str| name.eq_ignore_ascii_case(s);
    if eq("crypto") {
        summary.crypto_lines = summary.crypto_lines.saturating_add(1);
        if let Some(m) = media {
            m.crypto_lines = m.crypto_lines.saturating_add(1);
        }
    } else if eq("fingerprint") {
        summary.fingerprint = true;
        if let Some(m) = media {
            m.fingerprint = true;
        }
    } else if eq("key-mgmt") {
        summary.key_mgmt = true;
        if let Some(m) = media {
            m.key_mgmt = true;
        }
    } else if eq("zrtp-hash") {
        summary.zrtp_hash = true;
    } else if eq("setup") {
        let setup = Setup::from_value(argument);
        if summary.setup.is_none() {
            summary.setup = setup;
        }
        if let Some(m) = media {
            m.setup = m.setup.or(setup);
        }
    } else if eq("rtcp-mux") {
        if let Some(m) = media {
            m.rtcp_mux = true;
        }
    } else if eq("rtcp") {
        if let Some(m) = media {
            let port = argument.split_ascii_whitespace().next().unwrap_or("");
            m.rtcp_attribute_port = port.parse().ok().filter(|&p| p != 0);
        }
    }
}

/// `c=IN IP4 <address>[/ttl[/count]]` or `c=IN IP6 <address>[/count]` (RFC 8866 §5.7). Host
/// names and other network types give `None`.
fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_ascii_whitespace();
    let (network, address_type, address) = (parts.next()?, parts.next()?, parts.next()?);
    if !network.eq_ignore_ascii_case("IN") {
        return None;
    }
    let address = address.split('/').next()?;
    if address_type.eq_ignore_ascii_case("IP4") {
        address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    } else if address_type.eq_ignore_ascii_case("IP6") {
        address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        None
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> …` (RFC 8866 §5.14).
fn parse_media_line(value: &str) -> Option<SdpMedia> {
    let mut parts = value.split_ascii_whitespace();
    let (kind, port, protocol) = (parts.next()?, parts.next()?, parts.next()?);
    let port = port.split('/').next()?.parse().ok()?;
    let kind = if kind.eq_ignore_ascii_case("audio") {
        MediaKindText::Audio
    } else if kind.eq_ignore_ascii_case("video") {
        MediaKindText::Video
    } else if kind.eq_ignore_ascii_case("application") {
        MediaKindText::Application
    } else {
        MediaKindText::Other
    };
    Some(SdpMedia {
        kind,
        port,
        connection: None,
        protocol: SdpProtocol::from_token(protocol),
        crypto_lines: 0,
        fingerprint: false,
        key_mgmt: false,
        setup: None,
        rtcp_mux: false,
        rtcp_attribute_port: None,
    })
}

/// The parser without its shortcuts, the reference the property tests compare it with for any
/// input: the start line read as it was before its fields were found byte by byte, every
/// header line looked at (not only those whose first letter can start a kept name) and every
/// SDP attribute read in full.
#[cfg(test)]
mod reference {
    use super::*;

    pub(super) fn parse(payload: &[u8]) -> Option<SipMessage<'_>> {
        super::parse_with(payload, parse_start_line, super::read_header_fields)
    }

    fn parse_start_line(line: &[u8]) -> Option<StartLine<'_>> {
        let line = std::str::from_utf8(line).ok()?;
        if let Some(status) = line.strip_prefix("SIP/2.0 ") {
            let (code, reason) = status.split_once(' ').unwrap_or((status, ""));
            return Some(StartLine::Response {
                code: status_code(code)?,
                reason: reason.trim(),
            });
        }
        let mut parts = line.split(' ');
        let method = parts.next()?;
        let uri = parts.next()?;
        let version = parts.next()?;
        if uri.is_empty()
            || !version.as_bytes().eq_ignore_ascii_case(VERSION)
            || parts.next().is_some()
        {
            return None;
        }
        Some(StartLine::Request { method, uri })
    }

    /// Every `a=` line read in full.
    pub(super) fn parse_sdp(body: &[u8]) -> SdpSummary {
        super::parse_sdp_with(body, |_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// RFC 4568 §4's example key line.
    const CRYPTO_LINE: &str =
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

    /// Joins lines with CRLF and adds the blank line and the body with its Content-Length.
    fn message(start_and_headers: &[&str], body: &str) -> Vec<u8> {
        let mut out = String::new();
        for line in start_and_headers {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        out.push_str(body);
        out.into_bytes()
    }

    fn sdp(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\r\n")).collect()
    }

    /// An SDES offer laid out like RFC 4568 §4's example (the addresses are documentation ones).
    fn offer_sdp() -> String {
        sdp(&[
            "v=0",
            "o=alice 2890844526 2890844526 IN IP4 192.0.2.10",
            "s=-",
            "c=IN IP4 192.0.2.10",
            "t=0 0",
            "m=audio 49170 RTP/SAVP 0 8 101",
            CRYPTO_LINE,
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32",
            "a=rtpmap:101 telephone-event/8000",
            "a=sendrecv",
        ])
    }

    fn invite(body: &str) -> Vec<u8> {
        message(
            &[
                "INVITE sip:bob@biloxi.example.com SIP/2.0",
                "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport",
                "Max-Forwards: 70",
                "To: Bob <sip:bob@biloxi.example.com>",
                "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
                "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
                "CSeq: 314159 INVITE",
                "Contact: <sip:alice@192.0.2.10:5060>",
                "Content-Type: application/sdp",
            ],
            body,
        )
    }

    #[test]
    fn invite_with_sdes_is_key_exchange() {
        let bytes = invite(&offer_sdp());
        assert!(looks_like_sip(&bytes));
        let msg = parse(&bytes).unwrap();
        assert_eq!(
            msg.start,
            StartLine::Request {
                method: "INVITE",
                uri: "sip:bob@biloxi.example.com"
            }
        );
        assert_eq!(msg.call_id, Some("a84b4c76e66710@pc33.atlanta.example.com"));
        assert_eq!(
            msg.cseq,
            Some(CSeq {
                number: 314159,
                method: "INVITE"
            })
        );
        assert!(msg.content_type_is_sdp);
        assert!(msg.complete);
        assert_eq!(msg.wire_len(), bytes.len());
        assert_eq!(msg.body, offer_sdp().as_bytes());
        let sdp = msg.sdp().unwrap();
        assert_eq!(
            sdp.connection,
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)))
        );
        assert_eq!(sdp.crypto_lines, 2);
        assert!(sdp.has_key_exchange());
        assert!(!sdp.fingerprint && !sdp.truncated);
        assert_eq!(sdp.media.len(), 1);
        let audio = sdp.media[0];
        assert_eq!(audio.kind, MediaKindText::Audio);
        assert_eq!(audio.port, 49170);
        assert_eq!(audio.protocol, SdpProtocol::RtpSavp);
        assert!(audio.protocol.is_srtp());
        assert_eq!(audio.crypto_lines, 2);
        assert_eq!(audio.rtcp_port(), Some(49171));
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(
            sdp.media_endpoints().collect::<Vec<_>>(),
            [(ip, 49170, MediaKindText::Audio)]
        );
        assert_eq!(
            sdp.rtcp_endpoints().collect::<Vec<_>>(),
            [(ip, 49171, MediaKindText::Audio)]
        );
    }

    #[test]
    fn ok_answer_with_media_level_connection() {
        let body = sdp(&[
            "v=0",
            "o=bob 2808844564 2808844564 IN IP4 198.51.100.20",
            "s=-",
            "c=IN IP4 198.51.100.20",
            "t=0 0",
            "m=audio 32416 RTP/SAVP 0",
            "c=IN IP4 198.51.100.99",
            "a=rtcp:32500",
            CRYPTO_LINE,
        ]);
        let bytes = message(
            &[
                "SIP/2.0 200 OK",
                "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
                "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
                "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
                "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
                "CSeq: 314159 INVITE",
                "Content-Type: application/sdp",
            ],
            &body,
        );
        let msg = parse(&bytes).unwrap();
        assert_eq!(
            msg.start,
            StartLine::Response {
                code: 200,
                reason: "OK"
            }
        );
        assert_eq!(msg.method(), Some("INVITE"));
        assert_eq!(msg.status_code(), Some(200));
        assert!(!msg.is_request());
        let sdp = msg.sdp().unwrap();
        assert!(sdp.has_key_exchange());
        let media_ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 99));
        assert_eq!(
            sdp.media_endpoints().collect::<Vec<_>>(),
            [(media_ip, 32416, MediaKindText::Audio)]
        );
        assert_eq!(
            sdp.rtcp_endpoints().collect::<Vec<_>>(),
            [(media_ip, 32500, MediaKindText::Audio)]
        );
    }

    #[test]
    fn compact_headers_and_odd_spacing() {
        let body = offer_sdp();
        let text = format!(
            "INVITE sips:bob@biloxi.example.com SIP/2.0\nv: SIP/2.0/TCP 192.0.2.10\n\
             I :  compact-id@host \nC:Application/SDP ; charset=utf-8\nL: {}\n\n{body}",
            body.len()
        );
        let msg = parse(text.as_bytes()).unwrap();
        assert_eq!(msg.call_id, Some("compact-id@host"));
        assert_eq!(msg.content_type, Some("Application/SDP ; charset=utf-8"));
        assert!(msg.content_type_is_sdp);
        assert_eq!(msg.content_length, Some(body.len()));
        assert!(msg.complete);
        assert_eq!(msg.sdp().unwrap().crypto_lines, 2);

        let long =
            "OPTIONS sip:x@example.com SIP/2.0\r\nCALL-id: upper\r\ncontent-LENGTH: 0\r\n\r\n";
        let msg = parse(long.as_bytes()).unwrap();
        assert_eq!(msg.call_id, Some("upper"));
        assert_eq!(msg.content_length, Some(0));
        assert!(msg.body.is_empty() && msg.complete);
        assert_eq!(msg.sdp(), None);
    }

    #[test]
    fn folded_and_excess_headers() {
        let mut text =
            String::from("BYE sip:bob@example.com SIP/2.0\r\nSubject: a\r\n  folded\r\n");
        for i in 0..MAX_HEADER_FIELDS {
            text.push_str(&format!("X-Pad-{i}: y\r\n"));
        }
        text.push_str("Call-ID: too-late\r\n\r\n");
        let msg = parse(text.as_bytes()).unwrap();
        assert_eq!(msg.call_id, None);
        assert!(msg.complete);
        assert_eq!(msg.header_len, text.len());
    }

    #[test]
    fn ipv6_and_several_media() {
        let body = sdp(&[
            "v=0",
            "o=- 1 1 IN IP6 2001:db8::10",
            "s=-",
            "c=IN IP6 2001:db8::10",
            "t=0 0",
            "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3B:4A:AD:B9:B1:3F:82:18:3B:54:02:12",
            "a=setup:actpass",
            "m=audio 50000 UDP/TLS/RTP/SAVPF 111",
            "a=rtcp-mux",
            "m=video 50002 UDP/TLS/RTP/SAVPF 96",
            "c=IN IP6 2001:db8::20",
            "a=fingerprint:sha-256 00:11",
            "m=application 50004 UDP/DTLS/SCTP webrtc-datachannel",
            "m=text 0 RTP/AVP 98",
            "m=image 50006 udptl t38",
        ]);
        let summary = parse_sdp(body.as_bytes());
        assert!(summary.fingerprint);
        assert!(!summary.has_key_exchange());
        assert_eq!(summary.setup, Some(Setup::ActPass));
        let kinds: Vec<_> = summary.media.iter().map(|m| (m.kind, m.protocol)).collect();
        assert_eq!(
            kinds,
            [
                (MediaKindText::Audio, SdpProtocol::DtlsSrtp),
                (MediaKindText::Video, SdpProtocol::DtlsSrtp),
                (MediaKindText::Application, SdpProtocol::DtlsSctp),
                (MediaKindText::Other, SdpProtocol::RtpAvp),
                (MediaKindText::Other, SdpProtocol::Other),
            ]
        );
        assert!(!summary.media[0].fingerprint && summary.media[1].fingerprint);
        let a: IpAddr = "2001:db8::10".parse().unwrap();
        let b = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20));
        assert_eq!(
            summary.media_endpoints().collect::<Vec<_>>(),
            [
                (a, 50000, MediaKindText::Audio),
                (b, 50002, MediaKindText::Video),
                (a, 50004, MediaKindText::Application),
                (a, 50006, MediaKindText::Other),
            ]
        );
        // Muxed audio has no separate RTCP endpoint; the video's goes to port + 1.
        assert_eq!(
            summary.rtcp_endpoints().collect::<Vec<_>>(),
            [(b, 50003, MediaKindText::Video)]
        );
    }

    #[test]
    fn mikey_is_key_exchange_and_hold_address_is_skipped() {
        let summary = parse_sdp(
            b"v=0\r\nc=IN IP4 0.0.0.0\r\na=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsA\r\n\
              m=audio 40000/2 RTP/SAVP 0\r\na=zrtp-hash:1.10 abcd\r\n",
        );
        assert!(summary.key_mgmt && summary.has_key_exchange() && summary.zrtp_hash);
        assert!(!summary.media[0].key_mgmt);
        assert_eq!(summary.media[0].port, 40000);
        assert_eq!(summary.media_endpoints().count(), 0);
    }

    #[test]
    fn multicast_ttl_and_bad_lines() {
        let summary = parse_sdp(
            b"v=0\nc=IN IP4 233.252.0.1/127\nx\n=\nc=IN IP4 host.example.com\n\
              m=audio notaport RTP/AVP 0\na=crypto:1 x\nm=audio 1 RTP/AVP\n\xff=\n",
        );
        assert_eq!(summary.connection, Some("233.252.0.1".parse().unwrap()));
        assert_eq!(summary.media.len(), 1);
        assert_eq!(summary.crypto_lines, 1); // counted, though its m= line was unreadable
        assert_eq!(summary.media[0].crypto_lines, 0);
    }

    #[test]
    fn media_and_line_bounds() {
        let mut body = String::from("v=0\r\nc=IN IP4 192.0.2.1\r\n");
        for i in 0..MAX_MEDIA + 3 {
            body.push_str(&format!(
                "m=audio {} RTP/SAVP 0\r\n{CRYPTO_LINE}\r\n",
                10000 + 2 * i
            ));
        }
        let summary = parse_sdp(body.as_bytes());
        assert_eq!(summary.media.len(), MAX_MEDIA);
        assert_eq!(usize::from(summary.crypto_lines), MAX_MEDIA + 3);
        assert!(summary.truncated);

        let mut body = "a=x\n".repeat(MAX_SDP_LINES);
        body.push_str(CRYPTO_LINE);
        let summary = parse_sdp(body.as_bytes());
        assert_eq!(summary.crypto_lines, 0);
        assert!(summary.truncated);
    }

    #[test]
    fn tcp_stream_with_two_messages_and_a_partial_one() {
        let first = invite(&offer_sdp());
        let second = message(&["ACK sip:bob@biloxi.example.com SIP/2.0", "i: x"], "");
        let mut stream = first.clone();
        stream.extend_from_slice(&second);
        let msg = parse(&stream).unwrap();
        assert!(msg.complete);
        assert_eq!(msg.wire_len(), first.len());
        let next = parse(&stream[msg.wire_len()..]).unwrap();
        assert_eq!(next.method(), Some("ACK"));
        assert_eq!(next.call_id, Some("x"));
        assert_eq!(next.wire_len(), second.len());

        // A first TCP segment that ends inside the body: its whole lines, not complete. The
        // cut falls 8 bytes into `a=rtpmap:101 telephone-event/8000`, which is left out.
        let cut = first.len() - 20;
        let msg = parse(&first[..cut]).unwrap();
        assert!(!msg.complete);
        assert_eq!(msg.content_length, Some(offer_sdp().len()));
        assert_eq!(msg.body.len(), offer_sdp().len() - 20 - (35 - 8));
        assert!(msg.body.ends_with(b"|2^20|1:32\r\n"));
        assert_eq!(msg.sdp().unwrap().crypto_lines, 2);
        // One that ends inside the headers.
        let msg = parse(&first[..100]).unwrap();
        assert!(!msg.complete && msg.body.is_empty());
        assert_eq!(msg.header_len, 100);
    }

    #[test]
    fn content_length_is_lax() {
        let text =
            b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999999999999999999999\r\n\r\nhi";
        let msg = parse(text).unwrap();
        assert_eq!(msg.content_length, Some(usize::MAX));
        assert_eq!(msg.body, b"");
        assert!(!msg.complete);
        // Without Content-Length the body is the rest of the datagram; SDP is sniffed by v=0.
        let text = b"INVITE sip:a@b SIP/2.0\r\nCall-ID: q\r\n\r\nv=0\r\na=crypto:1 x\r\n";
        let msg = parse(text).unwrap();
        assert!(msg.complete);
        assert_eq!(msg.sdp().unwrap().crypto_lines, 1);
        let text = b"INVITE sip:a@b SIP/2.0\r\nl: nonsense\r\nc: text/plain\r\n\r\nv=0\r\n";
        let msg = parse(text).unwrap();
        assert_eq!(msg.content_length, None);
        assert_eq!(msg.sdp(), None);
    }

    #[test]
    fn recognition() {
        for yes in [
            &b"SIP/2.0 100 Trying\r\n"[..],
            b"REGISTER sip:example.com SIP/2.0\r\n",
            b"INVITE SIP:bob@example.com SIP/2.0\r\n",
            b"MESSAGE tel:+14155550123 SIP/2.0\r\n",
            b"UPDATE sips:x",
        ] {
            assert!(looks_like_sip(yes), "{:?}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b""[..],
            b"SIP/2.0",
            b"HTTP/1.1 200 OK\r\n",
            b"GET / HTTP/1.1\r\n",
            b"INVITE http://x SIP/2.0\r\n",
            b"INVITEsip:x SIP/2.0\r\n",
            b"invite sip:x SIP/2.0\r\n",
            b"\x16\x03\x01\x02\x00",
            b"\r\n\r\n",
        ] {
            assert!(!looks_like_sip(no), "{:?}", String::from_utf8_lossy(no));
            assert_eq!(parse(no), None);
        }
        assert!(is_keepalive(b"\r\n\r\n") && is_keepalive(b"\r\n"));
        assert!(!is_keepalive(b"") && !is_keepalive(b"\r\n\r\n\r\n") && !is_keepalive(b"\r\nx"));
    }

    #[test]
    fn malformed_start_lines_are_rejected() {
        for line in [
            "SIP/2.0 20 OK\r\n",
            "SIP/2.0 2000 OK\r\n",
            "SIP/2.0 099 Odd\r\n",
            "SIP/2.0 700 Odd\r\n",
            "INVITE sip:x SIP/3.0\r\n",
            "INVITE sip:x\r\n",
            "INVITE sip:x SIP/2.0 extra\r\n",
            "INVITE sip:x SIP/2.0", // no line end
        ] {
            assert_eq!(parse(line.as_bytes()), None, "{line:?}");
        }
        let msg = parse(b"SIP/2.0 183 \r\n\r\n").unwrap();
        assert_eq!(
            msg.start,
            StartLine::Response {
                code: 183,
                reason: ""
            }
        );
    }

    /// Found by `every_truncation_is_handled`: a body cut inside a line read the cut value as
    /// another one. Only whole lines of a cut body are read, except a key line, whose presence
    /// alone counts.
    #[test]
    fn regression_cut_line_is_not_read_as_another_value() {
        let body = "v=0\r\nc=IN IP4 192.0.2.123\r\nm=audio 0 RTP/AVP 0\r\na=rtcp:53020\r\n";
        let wire = message(&["INVITE sip:a@b SIP/2.0", "c: application/sdp"], body);
        let cut_at = |text: &str| {
            let end = wire
                .windows(text.len())
                .position(|w| w == text.as_bytes())
                .unwrap();
            parse(&wire[..end + text.len()]).unwrap()
        };
        // `c=IN IP4 192.0.2.12`: not the session address.
        assert_eq!(parse_sdp(cut_at("192.0.2.12").body).connection, None);
        // `m=audio 0 RTP/A`: not a media section of protocol Other.
        assert!(parse_sdp(cut_at("RTP/A").body).media.is_empty());
        // `a=rtcp:5302`: not RTCP port 5302.
        let media = parse_sdp(cut_at("a=rtcp:5302").body).media;
        assert_eq!(media[0].rtcp_attribute_port, None);
        assert_eq!(media[0].protocol, SdpProtocol::RtpAvp);
        // A key line cut in the middle of the key still shows keys in clear.
        let wire = message(
            &["INVITE sip:a@b SIP/2.0", "c: application/sdp"],
            &sdp(&["v=0", CRYPTO_LINE]),
        );
        let msg = parse(&wire[..wire.len() - 10]).unwrap();
        assert!(!msg.complete && msg.sdp().unwrap().has_key_exchange());
    }

    /// `m=` protocol tokens and what [`SdpProtocol::from_token`] makes of them.
    const PROTOCOLS: [(&str, SdpProtocol); 7] = [
        ("RTP/AVP", SdpProtocol::RtpAvp),
        ("RTP/AVPF", SdpProtocol::RtpAvpf),
        ("RTP/SAVP", SdpProtocol::RtpSavp),
        ("RTP/SAVPF", SdpProtocol::RtpSavpf),
        ("UDP/TLS/RTP/SAVPF", SdpProtocol::DtlsSrtp),
        ("UDP/DTLS/SCTP", SdpProtocol::DtlsSctp),
        ("udptl", SdpProtocol::Other),
    ];
    const KINDS: [(&str, MediaKindText); 4] = [
        ("audio", MediaKindText::Audio),
        ("video", MediaKindText::Video),
        ("application", MediaKindText::Application),
        ("text", MediaKindText::Other),
    ];

    /// One generated `m=` section.
    #[derive(Debug, Clone)]
    struct MediaSpec {
        kind: usize,
        port: u16,
        protocol: usize,
        connection: Option<IpAddr>,
        crypto_lines: u8,
        fingerprint: bool,
        rtcp_mux: bool,
        rtcp_port: Option<u16>,
    }

    /// A generated SIP message carrying SDP: the one SIP/SDP generator of these tests.
    #[derive(Debug, Clone)]
    struct SipSpec {
        /// A request with this index into [`METHODS`], or a response with this code and reason.
        start: Result<usize, (u16, String)>,
        call_id: String,
        cseq: (u32, usize),
        compact: bool,
        connection: Option<IpAddr>,
        media: Vec<MediaSpec>,
    }

    fn connection_line(address: IpAddr) -> String {
        match address {
            IpAddr::V4(v4) => format!("c=IN IP4 {v4}\r\n"),
            IpAddr::V6(v6) => format!("c=IN IP6 {v6}\r\n"),
        }
    }

    impl SipSpec {
        fn body(&self) -> String {
            let mut body = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\n");
            if let Some(address) = self.connection {
                body.push_str(&connection_line(address));
            }
            body.push_str("t=0 0\r\n");
            for m in &self.media {
                let (kind, protocol) = (KINDS[m.kind].0, PROTOCOLS[m.protocol].0);
                body.push_str(&format!("m={kind} {} {protocol} 0 8\r\n", m.port));
                if let Some(address) = m.connection {
                    body.push_str(&connection_line(address));
                }
                for tag in 0..m.crypto_lines {
                    body.push_str(&format!("{CRYPTO_LINE}{tag}\r\n"));
                }
                if m.fingerprint {
                    body.push_str("a=fingerprint:sha-256 4A:AD:B9\r\n");
                }
                if m.rtcp_mux {
                    body.push_str("a=rtcp-mux\r\n");
                }
                if let Some(port) = m.rtcp_port {
                    body.push_str(&format!("a=rtcp:{port} IN IP4 192.0.2.9\r\n"));
                }
            }
            body
        }

        fn wire(&self) -> Vec<u8> {
            let start = match &self.start {
                Ok(method) => format!("{} sip:bob@example.com SIP/2.0", METHODS[*method]),
                Err((code, reason)) => format!("SIP/2.0 {code} {reason}"),
            };
            let (i, c, l) = if self.compact {
                ("i", "c", "l")
            } else {
                ("Call-ID", "Content-Type", "Content-Length")
            };
            let body = self.body();
            format!(
                "{start}\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n{i}: {}\r\nCSeq: {} {}\r\n\
                 {c}: application/sdp\r\n{l}: {}\r\n\r\n{body}",
                self.call_id,
                self.cseq.0,
                METHODS[self.cseq.1],
                body.len()
            )
            .into_bytes()
        }

        fn start_line(&self) -> StartLine<'_> {
            match &self.start {
                Ok(method) => StartLine::Request {
                    method: METHODS[*method],
                    uri: "sip:bob@example.com",
                },
                Err((code, reason)) => StartLine::Response {
                    code: *code,
                    reason: reason.as_str(),
                },
            }
        }

        /// What [`parse_sdp`] should make of the body.
        fn summary(&self) -> SdpSummary {
            let media: Vec<SdpMedia> = self
                .media
                .iter()
                .map(|m| SdpMedia {
                    kind: KINDS[m.kind].1,
                    port: m.port,
                    connection: m.connection,
                    protocol: PROTOCOLS[m.protocol].1,
                    crypto_lines: u16::from(m.crypto_lines),
                    fingerprint: m.fingerprint,
                    key_mgmt: false,
                    setup: None,
                    rtcp_mux: m.rtcp_mux,
                    rtcp_attribute_port: m.rtcp_port.filter(|&p| p != 0),
                })
                .collect();
            SdpSummary {
                connection: self.connection,
                crypto_lines: media.iter().map(|m| m.crypto_lines).sum(),
                fingerprint: media.iter().any(|m| m.fingerprint),
                media,
                ..SdpSummary::default()
            }
        }
    }

    fn any_address() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    fn any_sip() -> impl Strategy<Value = SipSpec> {
        let media = (
            0..KINDS.len(),
            any::<u16>(),
            0..PROTOCOLS.len(),
            proptest::option::of(any_address()),
            0u8..3,
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(any::<u16>()),
        )
            .prop_map(
                |(
                    kind,
                    port,
                    protocol,
                    connection,
                    crypto_lines,
                    fingerprint,
                    rtcp_mux,
                    rtcp_port,
                )| {
                    MediaSpec {
                        kind,
                        port,
                        protocol,
                        connection,
                        crypto_lines,
                        fingerprint,
                        rtcp_mux,
                        rtcp_port,
                    }
                },
            );
        (
            prop_oneof![
                (0..METHODS.len()).prop_map(Ok),
                (100u16..700, "([A-Za-z]{1,8}( [A-Za-z]{1,8})?)?").prop_map(Err),
            ],
            "[a-zA-Z0-9]{1,24}@[a-z]{1,10}",
            (any::<u32>(), 0..METHODS.len()),
            any::<bool>(),
            proptest::option::of(any_address()),
            proptest::collection::vec(media, 0..5),
        )
            .prop_map(
                |(start, call_id, cseq, compact, connection, media)| SipSpec {
                    start,
                    call_id,
                    cseq,
                    compact,
                    connection,
                    media,
                },
            )
    }

    proptest! {
        #[test]
        fn lines_are_the_splits_at_line_feeds(bytes in proptest::collection::vec(
            prop::sample::select(vec![b'\n', b'\r', b'a', b'=']), 0..40)
        ) {
            let ours: Vec<&[u8]> = lines(&bytes).collect();
            let split: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            prop_assert_eq!(ours, split);
        }

        #[test]
        fn parse_answers_as_the_reference_does_for_any_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            prop_assert_eq!(parse(&bytes), reference::parse(&bytes));
            prop_assert_eq!(parse_sdp(&bytes), reference::parse_sdp(&bytes));
        }

        /// SIP-shaped text with odd spacing, odd case, compact names, Unicode and ASCII spaces
        /// that `str::trim` strips, and bytes that are not UTF-8.
        #[test]
        fn parse_answers_as_the_reference_does_for_sip_like_text(
            start in prop::sample::select(vec![
                "INVITE sip:a@b SIP/2.0", "ACK sip:x  SIP/2.0", "BYE sip:x sip/2.0", "BYE sip:x SIP/2.0 x",
                "SIP/2.0 200 OK", "SIP/2.0 200", "SIP/2.0 2000 OK", "SIP/2.0 099 Low", "SIP/2.0 180  Ringing ",
                "OPTIONS  SIP/2.0", "REGISTER sips:r SIP/2.0",
            ]),
            lines in proptest::collection::vec(prop::sample::select(vec![
                "Call-ID: abc", "i:x", "\u{b}CALL-ID : y", "Content-Type: application/sdp", "c: Application/SDP;x=1",
                "content-type:text/plain", "Content-Length: 10", "l:0", "L: 999999999999999999999999", "CSeq: 7 INVITE",
                "cseq:x", "Contact: <sip:a>", "Via: SIP/2.0/UDP h", "\u{c}l: 3", " folded", "\tfolded", "\u{a0}i: nbsp",
                "Max-Forwards: 70", "X: \u{e9}", "", "v=0", "c=IN IP4 192.0.2.1", "c=IN IP6 ::1", "m=audio 4000 RTP/SAVP 0",
                "m=video 0 RTP/AVP 96", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x", "a= Crypto:1", "a=\u{b}crypto",
                "a=\u{a0}crypto", "a=\u{3000}fingerprint:sha-256 AB", "a=fingerprint:x", "a=key-mgmt:mikey x",
                "a=KEY\rmgmt", "a=zrtp-hash:1", "a=setup:actpass", "a=setup: ACTIVE ", "a=rtcp-mux", "a=rtcp:4001",
                "a=rtcp:0", "a=rtpmap:0 PCMU/8000", "a=sendrecv", "a=ssrc:1 cname:x", "a=candidate:1 1 udp 1 h 1 typ host",
                "a=cry", "a=rtc", "a=:crypto", "a=crypto\u{e9}",
            ]), 0..24),
            ends in proptest::collection::vec(prop::sample::select(vec!["\r\n", "\n", "\r\n\r\n"]), 24),
            cut in any::<prop::sample::Index>(),
            garbage in any::<u8>(),
        ) {
            let mut text = format!("{start}\r\n").into_bytes();
            for (line, end) in lines.iter().zip(&ends) {
                text.extend_from_slice(line.as_bytes());
                text.extend_from_slice(end.as_bytes());
            }
            for bytes in [text.clone(), text[..cut.index(text.len() + 1)].to_vec(), {
                let mut spoiled = text.clone();
                let at = cut.index(spoiled.len());
                spoiled[at] = garbage;
                spoiled
            }] {
                prop_assert_eq!(parse(&bytes), reference::parse(&bytes));
                prop_assert_eq!(parse_sdp(&bytes), reference::parse_sdp(&bytes));
                if let Some(message) = parse(&bytes) {
                    prop_assert_eq!(parse_sdp(message.body), reference::parse_sdp(message.body));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = looks_like_sip(&bytes);
            if let Some(msg) = parse(&bytes) {
                let _ = msg.sdp();
            }
            let summary = parse_sdp(&bytes);
            let _ = summary.media_endpoints().count() + summary.rtcp_endpoints().count();
        }

        #[test]
        fn arbitrary_text_after_a_request_line_never_panics(
            tail in "[ -~\r\n\t:;/=]{0,300}",
            prefix in prop::sample::select(vec![
                "INVITE sip:a@b SIP/2.0\r\n",
                "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n",
                "ACK sip:x SIP/2.0\nl: 5\n",
            ]),
        ) {
            let bytes = format!("{prefix}{tail}");
            if let Some(msg) = parse(bytes.as_bytes()) {
                prop_assert!(msg.wire_len() <= bytes.len());
                let _ = msg.sdp();
            }
            let _ = parse_sdp(tail.as_bytes());
        }

        #[test]
        fn generated_messages_parse_back(spec in any_sip()) {
            let bytes = spec.wire();
            let msg = parse(&bytes).unwrap();
            prop_assert_eq!(msg.start, spec.start_line());
            prop_assert_eq!(msg.call_id, Some(spec.call_id.as_str()));
            prop_assert_eq!(msg.cseq, Some(CSeq { number: spec.cseq.0, method: METHODS[spec.cseq.1] }));
            prop_assert_eq!(msg.content_type, Some("application/sdp"));
            prop_assert!(msg.complete && msg.content_type_is_sdp);
            prop_assert_eq!(msg.content_length, Some(spec.body().len()));
            let body = spec.body();
            prop_assert_eq!(msg.body, body.as_bytes());
            prop_assert_eq!(msg.wire_len(), bytes.len());
            let sdp = msg.sdp().unwrap();
            let want = spec.summary();
            prop_assert_eq!(&sdp, &want);
            prop_assert_eq!(sdp.has_key_exchange(), want.crypto_lines > 0);
            let endpoints: Vec<_> = sdp.media_endpoints().collect();
            let expected: Vec<_> = spec
                .media
                .iter()
                .filter_map(|m| {
                    let address = m.connection.or(spec.connection).filter(|a| !a.is_unspecified())?;
                    (m.port != 0).then_some((address, m.port, KINDS[m.kind].1))
                })
                .collect();
            prop_assert_eq!(endpoints, expected);
        }

        /// Every prefix (a first TCP segment, a datagram cut by the snaplen) parses to the
        /// same start line and to header and SDP fields that are absent or exactly what was
        /// built: a line cut short is never read as a different value.
        #[test]
        fn every_truncation_is_handled(spec in any_sip()) {
            let bytes = spec.wire();
            let full = parse(&bytes).unwrap();
            let full_sdp = full.sdp().unwrap();
            let start_line_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
            for cut in 0..bytes.len() {
                let partial = parse(&bytes[..cut]);
                if cut < start_line_len {
                    prop_assert_eq!(partial, None);
                    continue;
                }
                let partial = partial.unwrap();
                prop_assert_eq!(partial.start, full.start);
                prop_assert!(!partial.complete);
                prop_assert!(partial.wire_len() <= cut);
                prop_assert!(partial.call_id.is_none() || partial.call_id == full.call_id);
                prop_assert!(partial.cseq.is_none() || partial.cseq == full.cseq);
                prop_assert!(partial.content_length.is_none() || partial.content_length == full.content_length);
                // What the classifier reads (datagram.rs: parse_sdp of the body when the
                // Content-Type says SDP).
                if !partial.content_type_is_sdp {
                    continue;
                }
                let sdp = parse_sdp(partial.body);
                prop_assert!(sdp.connection.is_none() || sdp.connection == full_sdp.connection);
                prop_assert!(sdp.media.len() <= full_sdp.media.len());
                prop_assert!(sdp.crypto_lines <= full_sdp.crypto_lines);
                for (got, want) in sdp.media.iter().zip(&full_sdp.media) {
                    prop_assert_eq!((got.kind, got.port, got.protocol), (want.kind, want.port, want.protocol));
                    prop_assert!(got.connection.is_none() || got.connection == want.connection);
                    prop_assert!(got.rtcp_attribute_port.is_none() || got.rtcp_attribute_port == want.rtcp_attribute_port);
                    prop_assert!(got.crypto_lines <= want.crypto_lines);
                }
            }
        }
    }
}
