//! STUN and TURN recognition: RFC 8489 (STUN, successor of RFC 5389), classic RFC 3489 STUN,
//! TURN (RFC 8656) and TURN over TCP (RFC 6062).
//!
//! On a media 5-tuple STUN carries ICE connectivity checks and TURN relay control, and TURN also
//! *encapsulates* media: Send/Data indications carry it in a DATA attribute and ChannelData
//! messages carry it behind a 4-byte header. This module recognises all three so the caller can
//! label the packet and recurse into the relayed bytes (facts-apps §1.2, §1.3, §5).
//!
//! # How a STUN message is recognised
//!
//! A UDP datagram holds exactly one STUN message, so [`parse_header`] insists on the whole
//! payload: the top two bits of the type are zero (RFC 8489 §5, the demultiplexing rule of
//! RFC 7983), the length is a multiple of 4 and `20 + length` is the payload length.
//!
//! * With the magic cookie `0x2112A442` those checks plus the 32-bit cookie are strong enough,
//!   and they cost a handful of comparisons.
//! * Without the cookie (RFC 3489 clients, some MS-TURN and Zoom traffic) nothing fixed remains
//!   in the header, so — like nDPI's `is_stun()` — the type must be one of the few classic types
//!   and the attribute walk must end exactly at the end of the datagram. Only those packets pay
//!   for an attribute walk.
//!
//! # Laxness
//!
//! [`attributes`] is lax: it yields every well-formed attribute and stops at the first one that
//! does not fit, and [`Attributes::remaining`] tells the caller where it stopped. Nothing here
//! allocates or panics; every read goes through `get`/`split_*_checked`. FINGERPRINT checking
//! ([`fingerprint_matches`]) computes a CRC-32 over the message, so it is offered separately
//! for callers that want the stronger proof once per flow rather than on every packet.

use std::iter::FusedIterator;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The RFC 5389/8489 magic cookie at bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Type (2) · length (2) · cookie or first transaction-ID word (4) · transaction ID (12).
pub const HEADER_LEN: usize = 20;
/// FINGERPRINT is the CRC-32 of the message XOR this value ("STUN", RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

// Methods (RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1).
pub const METHOD_BINDING: u16 = 0x001;
pub const METHOD_ALLOCATE: u16 = 0x003;
pub const METHOD_REFRESH: u16 = 0x004;
pub const METHOD_SEND: u16 = 0x006;
pub const METHOD_DATA: u16 = 0x007;
pub const METHOD_CREATE_PERMISSION: u16 = 0x008;
pub const METHOD_CHANNEL_BIND: u16 = 0x009;
pub const METHOD_CONNECT: u16 = 0x00A;
pub const METHOD_CONNECTION_BIND: u16 = 0x00B;
pub const METHOD_CONNECTION_ATTEMPT: u16 = 0x00C;

/// The pre-RFC TURN Data Indication that MS-TURN still uses. Its class bits read as "error
/// response", so it is matched by full message type (facts-apps §1.3, nDPI's whitelist).
pub const LEGACY_DATA_INDICATION: u16 = 0x0115;

// Attributes (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1).
pub const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
pub const ATTR_USERNAME: u16 = 0x0006;
pub const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ATTR_ERROR_CODE: u16 = 0x0009;
pub const ATTR_CHANNEL_NUMBER: u16 = 0x000C;
pub const ATTR_LIFETIME: u16 = 0x000D;
pub const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
pub const ATTR_DATA: u16 = 0x0013;
pub const ATTR_REALM: u16 = 0x0014;
pub const ATTR_NONCE: u16 = 0x0015;
pub const ATTR_XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub const ATTR_REQUESTED_TRANSPORT: u16 = 0x0019;
pub const ATTR_MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
pub const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const ATTR_PRIORITY: u16 = 0x0024;
pub const ATTR_USE_CANDIDATE: u16 = 0x0025;
pub const ATTR_SOFTWARE: u16 = 0x8022;
pub const ATTR_FINGERPRINT: u16 = 0x8028;
pub const ATTR_ICE_CONTROLLED: u16 = 0x8029;
pub const ATTR_ICE_CONTROLLING: u16 = 0x802A;

/// TURN channel numbers valid since RFC 8656 §12; 0x5000–0xFFFF is reserved so that the first
/// byte of a ChannelData message (0x40–0x4F) stays clear of other protocols (RFC 9443).
const CHANNEL_NUMBERS: std::ops::RangeInclusive<u16> = 0x4000..=0x4FFF;
/// XOR-*-ADDRESS ports are XORed with the top half of the magic cookie (RFC 8489 §14.2).
const XOR_PORT_MASK: u16 = 0x2112;
const FINGERPRINT_ATTR_LEN: usize = 8;

/// The fixed header of a STUN message that [`parse_header`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StunHeader {
    /// The 14-bit message type (method and class interleaved, top two bits zero).
    pub message_type: u16,
    /// Length of the attributes in bytes (header excluded), a multiple of 4.
    pub length: u16,
    /// `true` for RFC 5389/8489 messages, `false` for classic RFC 3489 ones.
    pub has_magic_cookie: bool,
}

/// The class encoded in bits C1 (0x0100) and C0 (0x0010) of the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StunClass {
    Request,
    Indication,
    SuccessResponse,
    ErrorResponse,
}

impl StunHeader {
    /// The class bits of the message type (RFC 8489 §5).
    pub fn class(&self) -> StunClass {
        match self.message_type & 0x0110 {
            0x0000 => StunClass::Request,
            0x0010 => StunClass::Indication,
            0x0100 => StunClass::SuccessResponse,
            _ => StunClass::ErrorResponse,
        }
    }

    /// The 12-bit method: the type bits `M11..M7 C1 M6..M4 C0 M3..M0` with the class removed.
    pub fn method(&self) -> u16 {
        let t = self.message_type;
        (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
    }
}

/// Recognises a whole STUN message in a UDP payload (see the module docs for the rules).
pub fn parse_header(payload: &[u8]) -> Option<StunHeader> {
    let (header, attributes_bytes) = payload.split_first_chunk::<HEADER_LEN>()?;
    let [t0, t1, l0, l1, c0, c1, c2, c3, ..] = *header;
    let message_type = u16::from_be_bytes([t0, t1]);
    let length = u16::from_be_bytes([l0, l1]);
    if message_type & 0xC000 != 0
        || length % 4 != 0
        || usize::from(length) != attributes_bytes.len()
    {
        return None;
    }
    let has_magic_cookie = u32::from_be_bytes([c0, c1, c2, c3]) == MAGIC_COOKIE;
    if !has_magic_cookie {
        if !is_classic_message_type(message_type) {
            return None;
        }
        let mut walk = Attributes::over(attributes_bytes);
        walk.by_ref().for_each(drop);
        if !walk.remaining().is_empty() {
            return None;
        }
    }
    Some(StunHeader {
        message_type,
        length,
        has_magic_cookie,
    })
}

/// The message types a cookie-less packet may have to count as classic STUN: Binding, Shared
/// Secret, Allocate and Refresh (and the old TURN Send/Data types) of RFC 3489 and its TURN
/// drafts, as whitelisted by nDPI `is_stun()` (facts-apps §1.2). Anything else without the
/// cookie is too weak a signal to claim STUN.
pub fn is_classic_message_type(message_type: u16) -> bool {
    matches!(
        message_type,
        0x0001
            | 0x0101
            | 0x0111
            | 0x0002
            | 0x0102
            | 0x0112
            | 0x0003
            | 0x0103
            | 0x0113
            | 0x0004
            | 0x0104
            | 0x0114
            | 0x0115
            | 0x0006
            | 0x0106
            | 0x0116
    )
}

/// Iterator over the `(type, value)` attributes that follow the 20-byte header.
///
/// The walk covers the declared message length when it fits in `payload` (so trailing bytes,
/// e.g. the next message on a TCP stream, are not read as attributes) and whatever is present
/// otherwise (a truncated capture still yields its complete attributes). It stops at the first
/// attribute whose value does not fit; a missing final padding is forgiven.
pub fn attributes(payload: &[u8]) -> Attributes<'_> {
    let body = payload.get(HEADER_LEN..).unwrap_or_default();
    let declared_len = payload
        .get(2..)
        .and_then(|rest| rest.first_chunk::<2>())
        .map_or(0, |len| usize::from(u16::from_be_bytes(*len)));
    Attributes::over(body.get(..declared_len).unwrap_or(body))
}

/// See [`attributes`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Attributes<'a> {
    fn over(attribute_bytes: &'a [u8]) -> Self {
        Attributes {
            rest: attribute_bytes,
        }
    }

    /// The bytes not walked yet. After the iterator has returned `None` this is empty exactly
    /// when the walk ended on the end of the message.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (tlv_header, after_header) = self.rest.split_first_chunk::<4>()?;
        let [t0, t1, l0, l1] = *tlv_header;
        let value_len = usize::from(u16::from_be_bytes([l0, l1]));
        // On failure `rest` is left untouched, so the iterator keeps returning `None` and
        // `remaining()` points at the malformed attribute.
        let (value, after_value) = after_header.split_at_checked(value_len)?;
        let padding = value_len.wrapping_neg() % 4;
        self.rest = after_value.get(padding..).unwrap_or_default();
        Some((u16::from_be_bytes([t0, t1]), value))
    }
}

impl FusedIterator for Attributes<'_> {}

/// The value of the first attribute of `attribute_type`, if the walk reaches one.
pub fn find_attribute(payload: &[u8], attribute_type: u16) -> Option<&[u8]> {
    attributes(payload)
        .find(|&(found_type, _)| found_type == attribute_type)
        .map(|(_, value)| value)
}

/// TURN methods (RFC 8656 §17) and the TCP-relay methods of RFC 6062. A flow that carried one
/// of these talks to a TURN server, which is what licenses reading 0x40–0x4F datagrams on it
/// as ChannelData rather than QUIC short headers (facts-apps §1.1).
pub fn is_turn_method(method: u16) -> bool {
    matches!(
        method,
        METHOD_ALLOCATE
            | METHOD_REFRESH
            | METHOD_SEND
            | METHOD_DATA
            | METHOD_CREATE_PERMISSION
            | METHOD_CHANNEL_BIND
            | METHOD_CONNECT
            | METHOD_CONNECTION_BIND
            | METHOD_CONNECTION_ATTEMPT
    )
}

/// A TURN ChannelData message (RFC 8656 §12.4): channel number (0x4000–0x4FFF) · length of the
/// application data · data. Returns the channel and the data without padding. Bytes after the
/// data are allowed because UDP may carry the optional padding and a TCP buffer may hold the
/// next message. Callers should only try this on flows already known to be TURN: the check is
/// weak against QUIC short headers, which share the first byte range.
pub fn parse_channel_data(payload: &[u8]) -> Option<(u16, &[u8])> {
    let (header, rest) = payload.split_first_chunk::<4>()?;
    let [c0, c1, l0, l1] = *header;
    let channel = u16::from_be_bytes([c0, c1]);
    if !CHANNEL_NUMBERS.contains(&channel) {
        return None;
    }
    let data = rest.get(..usize::from(u16::from_be_bytes([l0, l1])))?;
    Some((channel, data))
}

/// The DATA attribute of a TURN Send or Data indication (or of an MS-TURN legacy Data
/// Indication, type 0x0115): the relayed datagram, for the caller to classify in turn.
pub fn data_attribute(payload: &[u8]) -> Option<&[u8]> {
    let header = parse_header(payload)?;
    let is_relay_indication = (header.class() == StunClass::Indication
        && matches!(header.method(), METHOD_SEND | METHOD_DATA))
        || header.message_type == LEGACY_DATA_INDICATION;
    if !is_relay_indication {
        return None;
    }
    find_attribute(payload, ATTR_DATA)
}

/// Decodes an XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS or XOR-RELAYED-ADDRESS `value` of the
/// message in `payload` (RFC 8489 §14.2): the port is XORed with 0x2112, an IPv4 address with
/// the magic cookie, an IPv6 address with the cookie followed by the transaction ID. These
/// addresses let a caller carry a flow's app label over to the peer flows it announces.
pub fn decode_xor_address(payload: &[u8], value: &[u8]) -> Option<SocketAddr> {
    let cookie_and_transaction = payload.get(4..)?.first_chunk::<16>()?;
    let (head, address) = value.split_first_chunk::<4>()?;
    let [_reserved, family, p0, p1] = *head;
    let port = u16::from_be_bytes([p0, p1]) ^ XOR_PORT_MASK;
    let ip = match family {
        0x01 => {
            let mut octets: [u8; 4] = address.try_into().ok()?;
            xor_in_place(&mut octets, cookie_and_transaction);
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        0x02 => {
            let mut octets: [u8; 16] = address.try_into().ok()?;
            xor_in_place(&mut octets, cookie_and_transaction);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn xor_in_place(target: &mut [u8], mask: &[u8]) {
    target.iter_mut().zip(mask).for_each(|(byte, m)| *byte ^= m);
}

/// Checks a trailing FINGERPRINT attribute (RFC 8489 §14.7): CRC-32 (ITU V.42) of the message
/// before it, XOR 0x5354554E. `None` when the message does not end with a FINGERPRINT (it is
/// optional), `Some(false)` when it is present but wrong. The cost is linear in the message
/// length, hence kept out of [`parse_header`].
pub fn fingerprint_matches(payload: &[u8]) -> Option<bool> {
    let split = payload
        .len()
        .checked_sub(FINGERPRINT_ATTR_LEN)
        .filter(|&at| at >= HEADER_LEN)?;
    let (covered, attribute) = payload.split_at_checked(split)?;
    let [t0, t1, l0, l1, v0, v1, v2, v3] = *attribute.first_chunk::<FINGERPRINT_ATTR_LEN>()?;
    if u16::from_be_bytes([t0, t1]) != ATTR_FINGERPRINT || u16::from_be_bytes([l0, l1]) != 4 {
        return None;
    }
    Some(crc32(covered) ^ FINGERPRINT_XOR == u32::from_be_bytes([v0, v1, v2, v3]))
}

/// Reflected CRC-32 with the ITU V.42 / Ethernet polynomial.
const CRC32_TABLE: [u32; 256] = super::crc::table(0xEDB8_8320);

fn crc32(bytes: &[u8]) -> u32 {
    super::crc::checksum(&CRC32_TABLE, bytes)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    /// RFC 5769 §2.1: sample request (ICE Binding with SOFTWARE, PRIORITY, ICE-CONTROLLED,
    /// USERNAME, MESSAGE-INTEGRITY, FINGERPRINT).
    fn rfc5769_request() -> Vec<u8> {
        hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
             80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
             00 24 00 04 6e 00 01 ff
             80 29 00 08 93 2f f9 b1 51 26 3b 36
             00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
             00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
             80 28 00 04 e5 7a 3b cf")
    }

    /// RFC 5769 §2.2: sample IPv4 response.
    fn rfc5769_ipv4_response() -> Vec<u8> {
        hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
             80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
             00 20 00 08 00 01 a1 47 e1 12 a6 43
             00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
             80 28 00 04 c0 7d 4c 96")
    }

    /// RFC 5769 §2.3: sample IPv6 response.
    fn rfc5769_ipv6_response() -> Vec<u8> {
        hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
             80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
             00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
             00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
             80 28 00 04 c8 fb 0b 4c")
    }

    fn message_type(method: u16, class: StunClass) -> u16 {
        let class_bits = match class {
            StunClass::Request => 0x0000,
            StunClass::Indication => 0x0010,
            StunClass::SuccessResponse => 0x0100,
            StunClass::ErrorResponse => 0x0110,
        };
        (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | class_bits
    }

    /// A STUN message: the one STUN generator of the tests (Zoom's STUN fingerprint and the
    /// classifier's tests use it too). Attributes are padded; without `cookie` the bytes
    /// where the cookie goes are `DE AD BE EF`; the transaction ID is `5A` × 12.
    pub(in crate::classify) fn build(
        message_type: u16,
        cookie: bool,
        attrs: &[(u16, Vec<u8>)],
    ) -> Vec<u8> {
        let mut body = Vec::new();
        for (attribute_type, value) in attrs {
            body.extend_from_slice(&attribute_type.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut message = message_type.to_be_bytes().to_vec();
        message.extend_from_slice(&(body.len() as u16).to_be_bytes());
        if cookie {
            message.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        } else {
            message.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        }
        message.extend_from_slice(&[0x5a; 12]);
        message.extend_from_slice(&body);
        message
    }

    #[test]
    fn rfc5769_request_parses() {
        let message = rfc5769_request();
        let header = parse_header(&message).unwrap();
        assert_eq!(
            header,
            StunHeader {
                message_type: 0x0001,
                length: 0x58,
                has_magic_cookie: true
            }
        );
        assert_eq!(header.class(), StunClass::Request);
        assert_eq!(header.method(), METHOD_BINDING);
        let types: Vec<u16> = attributes(&message).map(|(t, _)| t).collect();
        assert_eq!(
            types,
            [
                ATTR_SOFTWARE,
                ATTR_PRIORITY,
                ATTR_ICE_CONTROLLED,
                ATTR_USERNAME,
                ATTR_MESSAGE_INTEGRITY,
                ATTR_FINGERPRINT
            ]
        );
        assert_eq!(
            find_attribute(&message, ATTR_USERNAME),
            Some(&b"evtj:h6vY"[..])
        );
        assert_eq!(
            find_attribute(&message, ATTR_SOFTWARE),
            Some(&b"STUN test client"[..])
        );
        assert_eq!(fingerprint_matches(&message), Some(true));
        assert_eq!(data_attribute(&message), None);
    }

    #[test]
    fn rfc5769_responses_decode_xor_mapped_address() {
        let v4 = rfc5769_ipv4_response();
        let header = parse_header(&v4).unwrap();
        assert_eq!(header.class(), StunClass::SuccessResponse);
        assert_eq!(fingerprint_matches(&v4), Some(true));
        let value = find_attribute(&v4, ATTR_XOR_MAPPED_ADDRESS).unwrap();
        assert_eq!(
            decode_xor_address(&v4, value),
            Some("192.0.2.1:32853".parse().unwrap())
        );

        let v6 = rfc5769_ipv6_response();
        assert!(parse_header(&v6).is_some());
        assert_eq!(fingerprint_matches(&v6), Some(true));
        let value = find_attribute(&v6, ATTR_XOR_MAPPED_ADDRESS).unwrap();
        assert_eq!(
            decode_xor_address(&v6, value),
            Some(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
    }

    #[test]
    fn corrupted_fingerprint_is_reported() {
        let mut message = rfc5769_request();
        message[30] ^= 0x01; // inside SOFTWARE
        assert!(parse_header(&message).is_some());
        assert_eq!(fingerprint_matches(&message), Some(false));
        let no_fingerprint = build(0x0001, true, &[]);
        assert_eq!(fingerprint_matches(&no_fingerprint), None);
    }

    #[test]
    fn class_and_method_of_common_types() {
        let cases = [
            (0x0113, StunClass::ErrorResponse, METHOD_ALLOCATE),
            (0x0104, StunClass::SuccessResponse, METHOD_REFRESH),
            (0x0016, StunClass::Indication, METHOD_SEND),
            (0x0017, StunClass::Indication, METHOD_DATA),
            (0x0109, StunClass::SuccessResponse, METHOD_CHANNEL_BIND),
            (0x001C, StunClass::Indication, METHOD_CONNECTION_ATTEMPT),
            (0x0080, StunClass::Request, 0x040),
        ];
        for (message_type, class, method) in cases {
            let header = StunHeader {
                message_type,
                length: 0,
                has_magic_cookie: true,
            };
            assert_eq!((header.class(), header.method()), (class, method));
        }
        assert!(is_turn_method(METHOD_ALLOCATE) && is_turn_method(METHOD_CONNECTION_ATTEMPT));
        assert!(!is_turn_method(METHOD_BINDING) && !is_turn_method(0x00D));
    }

    #[test]
    fn classic_rfc3489_binding_request() {
        // RFC 3489 §11.1: Binding Request with a 128-bit transaction ID and CHANGE-REQUEST.
        let with_change_request = hex("00 01 00 08 a1 b2 c3 d4 e5 f6 07 18 29 3a 4b 5c 6d 7e 8f 90
             00 03 00 04 00 00 00 06");
        let header = parse_header(&with_change_request).unwrap();
        assert!(!header.has_magic_cookie);
        assert_eq!(header.method(), METHOD_BINDING);

        let empty = hex("00 01 00 00 a1 b2 c3 d4 e5 f6 07 18 29 3a 4b 5c 6d 7e 8f 90");
        assert!(parse_header(&empty).is_some());

        // Same bytes but a type outside the classic whitelist (WhatsApp's 0x0801).
        let mut unknown_type = with_change_request.clone();
        unknown_type[0..2].copy_from_slice(&[0x08, 0x01]);
        assert_eq!(parse_header(&unknown_type), None);

        // Attribute claiming 8 bytes in a 4-byte body: the walk does not end exactly.
        let mut bad_walk = with_change_request.clone();
        bad_walk[23] = 0x08;
        assert_eq!(parse_header(&bad_walk), None);
    }

    #[test]
    fn rejects_non_stun() {
        let good = rfc5769_request();
        assert_eq!(parse_header(&good[..good.len() - 4]), None);
        let mut top_bits = good.clone();
        top_bits[0] = 0x40;
        assert_eq!(parse_header(&top_bits), None);
        let mut odd_length = good.clone();
        odd_length.push(0);
        odd_length[3] = 0x59;
        assert_eq!(parse_header(&odd_length), None);
        assert_eq!(parse_header(&[]), None);
        assert_eq!(parse_header(&[0u8; 19]), None);
    }

    #[test]
    fn turn_send_indication_exposes_data() {
        let rtp = hex("80 6f 00 01 00 00 00 a0 11 22 33 44 de ad");
        let message = build(
            message_type(METHOD_SEND, StunClass::Indication),
            true,
            &[
                (ATTR_XOR_PEER_ADDRESS, hex("00 01 e5 4b e1 12 a6 43")),
                (ATTR_DATA, rtp.clone()),
            ],
        );
        assert_eq!(&message[..2], &[0x00, 0x16]);
        assert_eq!(data_attribute(&message), Some(&rtp[..]));
        let peer = find_attribute(&message, ATTR_XOR_PEER_ADDRESS).unwrap();
        assert_eq!(
            decode_xor_address(&message, peer),
            Some("192.0.2.1:50265".parse().unwrap())
        );

        let data_indication = build(0x0017, true, &[(ATTR_DATA, rtp.clone())]);
        assert_eq!(data_attribute(&data_indication), Some(&rtp[..]));
        let legacy = build(
            LEGACY_DATA_INDICATION,
            false,
            &[(ATTR_DATA, vec![1, 2, 3, 4])],
        );
        assert_eq!(data_attribute(&legacy), Some(&[1u8, 2, 3, 4][..]));
        let allocate = build(0x0003, true, &[(ATTR_DATA, rtp)]);
        assert_eq!(data_attribute(&allocate), None);
    }

    #[test]
    fn channel_data() {
        let message = hex("40 01 00 05 16 fe fd 00 00 00 00 00");
        assert_eq!(
            parse_channel_data(&message),
            Some((0x4001, &[0x16, 0xfe, 0xfd, 0x00, 0x00][..]))
        );
        assert_eq!(parse_channel_data(&message[..8]), None);
        assert_eq!(parse_channel_data(&hex("50 00 00 00")), None);
        assert_eq!(parse_channel_data(&hex("3f ff 00 00")), None);
        assert_eq!(
            parse_channel_data(&hex("4f ff 00 00")),
            Some((0x4fff, &[][..]))
        );
    }

    #[test]
    fn attribute_walk_stops_at_malformed() {
        let message = hex("00 01 00 10 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 00
             00 24 00 04 6e 00 01 ff 80 22 00 40 61 62 63 64");
        let mut walk = attributes(&message);
        assert_eq!(
            walk.next(),
            Some((ATTR_PRIORITY, &[0x6e, 0x00, 0x01, 0xff][..]))
        );
        assert_eq!(walk.next(), None);
        assert_eq!(walk.next(), None);
        assert_eq!(walk.remaining().len(), 8);
    }

    fn attribute_list() -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
        proptest::collection::vec(
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..24)),
            0..6,
        )
    }

    fn any_class() -> impl Strategy<Value = StunClass> {
        prop_oneof![
            Just(StunClass::Request),
            Just(StunClass::Indication),
            Just(StunClass::SuccessResponse),
            Just(StunClass::ErrorResponse),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_header(&bytes);
            let _ = attributes(&bytes).count();
            let _ = data_attribute(&bytes);
            let _ = parse_channel_data(&bytes);
            let _ = fingerprint_matches(&bytes);
            for (_, value) in attributes(&bytes) {
                let _ = decode_xor_address(&bytes, value);
            }
        }

        #[test]
        fn arbitrary_attributes_never_panic(
            head in proptest::collection::vec(any::<u8>(), 20),
            tail in proptest::collection::vec(any::<u8>(), 0..96),
        ) {
            let mut message = head;
            message[0] &= 0x3f;
            message[2..4].copy_from_slice(&(tail.len() as u16).to_be_bytes());
            message.extend_from_slice(&tail);
            let _ = parse_header(&message);
            for (_, value) in attributes(&message) {
                let _ = decode_xor_address(&message, value);
            }
        }

        #[test]
        fn built_message_round_trips(
            method in 0u16..0x1000,
            class in any_class(),
            attrs in attribute_list(),
        ) {
            let message_type = message_type(method, class);
            let message = build(message_type, true, &attrs);
            let header = parse_header(&message).unwrap();
            prop_assert_eq!(header.message_type, message_type);
            prop_assert_eq!(usize::from(header.length), message.len() - HEADER_LEN);
            prop_assert!(header.has_magic_cookie);
            prop_assert_eq!(header.method(), method);
            prop_assert_eq!(header.class(), class);
            let parsed: Vec<(u16, Vec<u8>)> =
                attributes(&message).map(|(t, v)| (t, v.to_vec())).collect();
            prop_assert_eq!(&parsed, &attrs);
        }

        #[test]
        fn every_truncation_is_handled(
            method in 0u16..0x1000,
            attrs in attribute_list(),
        ) {
            let message = build(message_type(method, StunClass::Request), true, &attrs);
            for cut in 0..message.len() {
                let prefix = &message[..cut];
                prop_assert_eq!(parse_header(prefix), None);
                let parsed: Vec<(u16, Vec<u8>)> =
                    attributes(prefix).map(|(t, v)| (t, v.to_vec())).collect();
                prop_assert!(parsed.len() <= attrs.len());
                prop_assert_eq!(&parsed[..], &attrs[..parsed.len()]);
            }
        }

        #[test]
        fn classic_messages_need_a_whitelisted_type_and_exact_walk(
            message_type in any::<u16>(),
            attrs in proptest::collection::vec(
                (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..6).prop_map(|v| {
                    let mut value = v;
                    value.resize(value.len().next_multiple_of(4), 0);
                    value
                })),
                0..4,
            ),
        ) {
            let message_type = message_type & 0x3fff;
            let message = build(message_type, false, &attrs);
            let parsed = parse_header(&message);
            prop_assert_eq!(parsed.is_some(), is_classic_message_type(message_type));
            for cut in 0..message.len() {
                prop_assert_eq!(parse_header(&message[..cut]), None);
            }
        }

        /// Past a valid header with the magic cookie, any attribute bytes: the attribute
        /// walk, the relay and address decoders and the FINGERPRINT check never panic.
        #[test]
        fn arbitrary_attributes_after_the_cookie_never_panic(
            message_type in 0u16..0x4000,
            transaction in any::<[u8; 12]>(),
            tail in proptest::collection::vec(any::<u8>(), 0..24).prop_map(|mut t| {
                t.truncate(t.len() / 4 * 4);
                t
            }),
            attrs in attribute_list(),
        ) {
            let mut message = build(message_type, true, &attrs);
            message[8..20].copy_from_slice(&transaction);
            message.extend_from_slice(&tail);
            let length = (message.len() - HEADER_LEN) as u16;
            message[2..4].copy_from_slice(&length.to_be_bytes());
            prop_assert!(parse_header(&message).is_some());
            let _ = data_attribute(&message);
            let _ = fingerprint_matches(&message);
            for (_, value) in attributes(&message) {
                let _ = decode_xor_address(&message, value);
            }
        }

        /// XOR-MAPPED/PEER/RELAYED-ADDRESS: any IPv4 or IPv6 address and port, masked with the
        /// cookie and this message's transaction ID, decodes back; a cut value does not.
        #[test]
        fn xor_addresses_round_trip(
            address in (any::<IpAddr>(), any::<u16>()).prop_map(SocketAddr::from),
            transaction in any::<[u8; 12]>(),
            attribute in prop::sample::select(vec![
                ATTR_XOR_MAPPED_ADDRESS, ATTR_XOR_PEER_ADDRESS, ATTR_XOR_RELAYED_ADDRESS,
            ]),
        ) {
            let mut mask = MAGIC_COOKIE.to_be_bytes().to_vec();
            mask.extend_from_slice(&transaction);
            let (family, octets) = match address.ip() {
                IpAddr::V4(v4) => (1u8, v4.octets().to_vec()),
                IpAddr::V6(v6) => (2u8, v6.octets().to_vec()),
            };
            let mut value = vec![0, family];
            value.extend_from_slice(&(address.port() ^ XOR_PORT_MASK).to_be_bytes());
            value.extend(octets.iter().zip(&mask).map(|(o, m)| o ^ m));
            let mut message = build(0x0101, true, &[(attribute, value.clone())]);
            message[8..20].copy_from_slice(&transaction);
            let found = find_attribute(&message, attribute).unwrap();
            prop_assert_eq!(found, &value[..]);
            prop_assert_eq!(decode_xor_address(&message, found), Some(address));
            for cut in 0..value.len() {
                prop_assert_eq!(decode_xor_address(&message, &value[..cut]), None);
            }
            for cut in 0..20 {
                prop_assert_eq!(decode_xor_address(&message[..cut], &value), None);
            }
        }

        /// A message ending in a correct FINGERPRINT verifies; any changed byte before it, or
        /// any prefix, never does.
        #[test]
        fn fingerprint_round_trips(
            method in 0u16..0x1000,
            class in any_class(),
            attrs in attribute_list(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut with_placeholder = attrs.clone();
            with_placeholder.push((ATTR_FINGERPRINT, vec![0; 4]));
            let mut message = build(message_type(method, class), true, &with_placeholder);
            let split = message.len() - 4;
            let crc = crc32(&message[..split - 4]) ^ FINGERPRINT_XOR;
            message[split..].copy_from_slice(&crc.to_be_bytes());
            prop_assert!(parse_header(&message).is_some());
            prop_assert_eq!(fingerprint_matches(&message), Some(true));
            let mut damaged = message.clone();
            damaged[flip.index(split - 4)] ^= 1 << bit;
            prop_assert_eq!(fingerprint_matches(&damaged), Some(false));
            for cut in 0..message.len() {
                prop_assert_ne!(fingerprint_matches(&message[..cut]), Some(true));
            }
        }

        #[test]
        fn channel_data_round_trips(
            channel in 0x4000u16..=0x4fff,
            data in proptest::collection::vec(any::<u8>(), 0..64),
            padding in 0usize..4,
        ) {
            let mut message = channel.to_be_bytes().to_vec();
            message.extend_from_slice(&(data.len() as u16).to_be_bytes());
            message.extend_from_slice(&data);
            message.extend(std::iter::repeat_n(0, padding));
            prop_assert_eq!(parse_channel_data(&message), Some((channel, &data[..])));
            for cut in 0..message.len() {
                let got = parse_channel_data(&message[..cut]);
                prop_assert!(got.is_none() || got == Some((channel, &data[..])));
            }
        }
    }
}
