//! QUIC long-header recognition: QUIC v1 (RFC 9000 §17.2), QUIC v2 (RFC 9369) and the IETF
//! drafts (`0xff0000xx`, draft-29 being the one still seen).
//!
//! Long-header packets are the ones that carry the TLS 1.3 handshake (Initial, Handshake), so
//! they are where QUIC key exchange shows up on the wire; short-header packets are 1-RTT
//! application data. This module reads the version-independent framing (RFC 8999) and the
//! per-version type bits. Removing header protection and decrypting client Initials, to read
//! the ClientHello's SNI, is [`super::quic_initial`]'s job; [`parse_long_packet`] gives it the
//! layout (connection IDs, packet number offset, packet length) it starts from.
//!
//! # Checks
//!
//! * Header form bit set; version known (v1, v2, drafts) or 0 (version negotiation).
//! * Fixed bit set, except in version negotiation, where RFC 9000 §17.2.1 leaves it unused.
//! * DCID and SCID at most 20 bytes (RFC 9000 §17.2) and present.
//! * Initial: the token length and token fit. Initial, 0-RTT and Handshake: the Length field
//!   fits in the datagram (coalesced packets may follow) and is at least 20, because header
//!   protection samples 16 bytes starting 4 bytes after the packet number (RFC 9001 §5.4.2).
//! * Retry: room for the 16-byte integrity tag. Version negotiation: a non-empty list of whole
//!   4-byte versions.
//!
//! Type bits differ between versions: v1 and the drafts use Initial 0b00, 0-RTT 0b01,
//! Handshake 0b10, Retry 0b11; v2 rotates them to Initial 0b01, 0-RTT 0b10, Handshake 0b11,
//! Retry 0b00 (RFC 9369 §3.2) — so the version is read before the type.
//!
//! Other long-header dialects (Google Q0xx/T05x, Facebook mvfst `0xfaceb00x`, forced-negotiation
//! versions `0x?a?a?a?a`) are not accepted: their type bits are not pinned down by a document
//! we can cite, and an unknown version is better reported as unknown than guessed.
//!
//! Nothing here allocates or panics; all reads go through `get`/`split_*_checked`.

pub const VERSION_NEGOTIATION: u32 = 0x0000_0000;
pub const VERSION_1: u32 = 0x0000_0001;
pub const VERSION_2: u32 = 0x6b33_43cf;
pub const VERSION_DRAFT_29: u32 = 0xff00_001d;
const DRAFT_VERSION_PREFIX: u32 = 0xff00_0000;

const HEADER_FORM_BIT: u8 = 0x80;
const FIXED_BIT: u8 = 0x40;
const MAX_CONNECTION_ID_LEN: u8 = 20;
const RETRY_INTEGRITY_TAG_LEN: usize = 16;
/// Packet number (4, assumed by the sampler) + header-protection sample (16): RFC 9001 §5.4.2.
const MIN_PROTECTED_LEN: u64 = 20;

/// Long-header packet types, already translated from the version-specific type bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuicPacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    VersionNegotiation,
}

/// A recognised long header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuicLongHeader {
    pub version: u32,
    pub packet_type: QuicPacketType,
}

impl QuicLongHeader {
    /// Initial and Handshake packets carry the TLS handshake in CRYPTO frames (RFC 9001 §4).
    pub fn is_key_exchange(&self) -> bool {
        matches!(
            self.packet_type,
            QuicPacketType::Initial | QuicPacketType::Handshake
        )
    }
}

/// v1, v2 and the IETF drafts `0xff000000`–`0xff0000ff`.
pub fn is_supported_version(version: u32) -> bool {
    matches!(version, VERSION_1 | VERSION_2) || version & 0xffff_ff00 == DRAFT_VERSION_PREFIX
}

/// Recognises a QUIC long-header packet at the start of `payload` (see the module docs).
pub fn parse_long_header(payload: &[u8]) -> Option<QuicLongHeader> {
    parse_long_packet(payload).map(|packet| packet.header)
}

/// The destination and source connection IDs of a long-header packet. The client's first DCID
/// is the input of the Initial key derivation (RFC 9001 §5.2), so a caller that decrypts
/// Initials to read the SNI starts here.
pub fn connection_ids(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    parse_long_packet(payload).map(|packet| (packet.destination_cid, packet.source_cid))
}

/// Bytes taken by this long-header packet: up to the end of its Length for Initial, 0-RTT and
/// Handshake (another packet may be coalesced after it, RFC 9000 §12.2), the whole datagram for
/// Retry and version negotiation.
pub fn long_packet_len(payload: &[u8]) -> Option<usize> {
    parse_long_packet(payload).map(|packet| packet.packet_len)
}

/// The layout of one long-header packet at the start of a datagram, as far as it can be read
/// without keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPacket<'a> {
    pub header: QuicLongHeader,
    pub destination_cid: &'a [u8],
    pub source_cid: &'a [u8],
    /// Where the (still protected) packet number starts: Initial, 0-RTT and Handshake only.
    /// Header protection samples 16 bytes from 4 bytes after it (RFC 9001 §5.4.2).
    pub packet_number_offset: Option<usize>,
    /// Bytes taken by the packet, as [`long_packet_len`] gives them; never more than the
    /// datagram.
    pub packet_len: usize,
}

/// Reads the long-header packet at the start of `payload` (see the module docs for the checks).
pub fn parse_long_packet(payload: &[u8]) -> Option<LongPacket<'_>> {
    let (&first, after_first) = payload.split_first()?;
    if first & HEADER_FORM_BIT == 0 {
        return None;
    }
    let (version_bytes, after_version) = after_first.split_first_chunk::<4>()?;
    let version = u32::from_be_bytes(*version_bytes);
    let (destination_cid, after_dcid) = connection_id(after_version)?;
    let (source_cid, after_scid) = connection_id(after_dcid)?;

    if version == VERSION_NEGOTIATION {
        let versions_fit = !after_scid.is_empty() && after_scid.len() % 4 == 0;
        return versions_fit.then_some(LongPacket {
            header: QuicLongHeader {
                version,
                packet_type: QuicPacketType::VersionNegotiation,
            },
            destination_cid,
            source_cid,
            packet_number_offset: None,
            packet_len: payload.len(),
        });
    }
    if first & FIXED_BIT == 0 || !is_supported_version(version) {
        return None;
    }
    let packet_type = packet_type(version, (first >> 4) & 0b11);
    let (packet_number_offset, packet_len) = match packet_type {
        QuicPacketType::Retry => {
            if after_scid.len() < RETRY_INTEGRITY_TAG_LEN {
                return None;
            }
            (None, payload.len())
        }
        QuicPacketType::Initial => {
            let (token_len, after_token_len) = read_varint(after_scid)?;
            let after_token = after_token_len.get(usize::try_from(token_len).ok()?..)?;
            let (number_offset, end) = protected_packet_bounds(payload, after_token)?;
            (Some(number_offset), end)
        }
        QuicPacketType::ZeroRtt | QuicPacketType::Handshake => {
            let (number_offset, end) = protected_packet_bounds(payload, after_scid)?;
            (Some(number_offset), end)
        }
        QuicPacketType::VersionNegotiation => return None,
    };
    Some(LongPacket {
        header: QuicLongHeader {
            version,
            packet_type,
        },
        destination_cid,
        source_cid,
        packet_number_offset,
        packet_len,
    })
}

fn packet_type(version: u32, type_bits: u8) -> QuicPacketType {
    match (version == VERSION_2, type_bits) {
        (false, 0b00) | (true, 0b01) => QuicPacketType::Initial,
        (false, 0b01) | (true, 0b10) => QuicPacketType::ZeroRtt,
        (false, 0b10) | (true, 0b11) => QuicPacketType::Handshake,
        _ => QuicPacketType::Retry,
    }
}

/// Reads the Length varint at `at_length` (a suffix of `payload`) and returns where the packet
/// number starts and where the packet ends, if the length is plausible and fits.
fn protected_packet_bounds(payload: &[u8], at_length: &[u8]) -> Option<(usize, usize)> {
    let (length, after_length) = read_varint(at_length)?;
    if length < MIN_PROTECTED_LEN {
        return None;
    }
    let length = usize::try_from(length).ok()?;
    if length > after_length.len() {
        return None;
    }
    let header_len = payload.len() - after_length.len();
    Some((header_len, header_len + length))
}

fn connection_id(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    if len > MAX_CONNECTION_ID_LEN {
        return None;
    }
    rest.split_at_checked(usize::from(len))
}

/// A QUIC variable-length integer (RFC 9000 §16): the two top bits give its size, 1–8 bytes.
/// Returns the value and the bytes after it.
pub fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, _) = bytes.split_first()?;
    let (encoded, rest) = bytes.split_at_checked(1 << (first >> 6))?;
    let value = encoded
        .iter()
        .skip(1)
        .fold(u64::from(first & 0x3f), |value, &byte| {
            (value << 8) | u64::from(byte)
        });
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    /// RFC 9001 Appendix A.2: the client Initial's header (DCID 8394c8f03e515708, Length
    /// 1182), padded with protected bytes to its 1200-byte datagram.
    fn rfc9001_client_initial() -> Vec<u8> {
        let mut packet = hex("c0 00000001 08 8394c8f03e515708 00 00 449e 00000002");
        packet.resize(1200, 0xa5);
        packet
    }

    #[test]
    fn rfc9001_client_initial_is_key_exchange() {
        let packet = rfc9001_client_initial();
        let header = parse_long_header(&packet).unwrap();
        assert_eq!(
            header,
            QuicLongHeader {
                version: VERSION_1,
                packet_type: QuicPacketType::Initial
            }
        );
        assert!(header.is_key_exchange());
        assert_eq!(long_packet_len(&packet), Some(1200));
        // The packet number follows the 2-byte Length 0x449e.
        let layout = parse_long_packet(&packet).unwrap();
        assert_eq!(layout.packet_number_offset, Some(18));
        assert_eq!(layout.packet_len, 1200);
        assert_eq!(
            connection_ids(&packet),
            Some((&hex("8394c8f03e515708")[..], &[][..]))
        );
        // One byte short of the Length.
        assert_eq!(parse_long_header(&packet[..1199]), None);
    }

    #[test]
    fn rfc9001_server_initial_with_coalesced_handshake() {
        // RFC 9001 A.3 header (SCID f067a5502a4262b5, Length 117), then a Handshake packet.
        let mut datagram = hex("c1 00000001 00 08 f067a5502a4262b5 00 4075 0001");
        datagram.resize(18 + 117, 0x5c);
        let handshake_start = datagram.len();
        datagram.extend_from_slice(&hex("e0 00000001 00 08 f067a5502a4262b5 40 20"));
        datagram.resize(datagram.len() + 32, 0x3c);
        assert_eq!(long_packet_len(&datagram), Some(handshake_start));
        let handshake = parse_long_header(&datagram[handshake_start..]).unwrap();
        assert_eq!(handshake.packet_type, QuicPacketType::Handshake);
        assert!(handshake.is_key_exchange());
    }

    #[test]
    fn rfc9001_retry() {
        // RFC 9001 Appendix A.4, complete.
        let packet =
            hex("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba");
        let header = parse_long_header(&packet).unwrap();
        assert_eq!(header.packet_type, QuicPacketType::Retry);
        assert!(!header.is_key_exchange());
    }

    #[test]
    fn rfc9369_v2_type_bits() {
        // RFC 9369 Appendix A.2 client Initial header: type bits 0b01 mean Initial in v2.
        let mut initial = hex("d3 6b3343cf 08 8394c8f03e515708 00 00 449e 00000002");
        initial.resize(1200, 0);
        assert_eq!(
            parse_long_header(&initial),
            Some(QuicLongHeader {
                version: VERSION_2,
                packet_type: QuicPacketType::Initial
            })
        );
        // RFC 9369 Appendix A.4 Retry: type bits 0b00.
        let retry = hex("cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6");
        assert_eq!(
            parse_long_header(&retry).map(|h| h.packet_type),
            Some(QuicPacketType::Retry)
        );
        // The same first byte 0xd3 under v1 is 0-RTT.
        let mut zero_rtt = initial.clone();
        zero_rtt[1..5].copy_from_slice(&VERSION_1.to_be_bytes());
        zero_rtt.remove(15); // 0-RTT has no token length
        assert_eq!(
            parse_long_header(&zero_rtt).map(|h| h.packet_type),
            Some(QuicPacketType::ZeroRtt)
        );
    }

    #[test]
    fn draft29_and_version_negotiation() {
        let mut draft = hex("c3 ff00001d 08 0001020304050607 08 1011121314151617 00 4020");
        draft.resize(draft.len() + 32, 0);
        assert_eq!(
            parse_long_header(&draft).map(|h| h.version),
            Some(VERSION_DRAFT_29)
        );
        // Version negotiation: the fixed bit may be clear; lists v1 and draft-29.
        let negotiation =
            hex("80 00000000 08 1011121314151617 08 0001020304050607 00000001 ff00001d");
        let header = parse_long_header(&negotiation).unwrap();
        assert_eq!(header.packet_type, QuicPacketType::VersionNegotiation);
        assert!(!header.is_key_exchange());
        assert_eq!(
            parse_long_header(&negotiation[..negotiation.len() - 2]),
            None
        );
    }

    #[test]
    fn rejects_non_quic() {
        let packet = rfc9001_client_initial();
        let mut short_header = packet.clone();
        short_header[0] = 0x40;
        assert_eq!(parse_long_header(&short_header), None);
        let mut no_fixed_bit = packet.clone();
        no_fixed_bit[0] = 0x80;
        assert_eq!(parse_long_header(&no_fixed_bit), None);
        let mut unknown_version = packet.clone();
        unknown_version[1..5].copy_from_slice(&0x5130_3530u32.to_be_bytes());
        assert_eq!(parse_long_header(&unknown_version), None);
        let mut long_cid = packet.clone();
        long_cid[5] = 21;
        assert_eq!(parse_long_header(&long_cid), None);
        let mut tiny_length = packet;
        tiny_length[16..18].copy_from_slice(&[0x40, 0x10]);
        assert_eq!(parse_long_header(&tiny_length), None);
        assert_eq!(parse_long_header(&[0xc0]), None);
    }

    #[test]
    fn varints() {
        // RFC 9000 §A.1 examples.
        assert_eq!(
            read_varint(&hex("c2197c5eff14e88c")).map(|v| v.0),
            Some(151_288_809_941_952_652)
        );
        assert_eq!(
            read_varint(&hex("9d7f3e7d")).map(|v| v.0),
            Some(494_878_333)
        );
        assert_eq!(read_varint(&hex("7bbd")).map(|v| v.0), Some(15_293));
        assert_eq!(read_varint(&hex("25")).map(|v| v.0), Some(37));
        assert_eq!(read_varint(&hex("9d7f3e")), None);
    }

    fn encode_varint(value: u64) -> Vec<u8> {
        match value {
            0..=0x3f => vec![value as u8],
            0x40..=0x3fff => ((value as u16) | 0x4000).to_be_bytes().to_vec(),
            0x4000..=0x3fff_ffff => ((value as u32) | 0x8000_0000).to_be_bytes().to_vec(),
            _ => (value | 0xc000_0000_0000_0000).to_be_bytes().to_vec(),
        }
    }

    #[derive(Debug, Clone)]
    struct BuiltPacket {
        version: u32,
        packet_type: QuicPacketType,
        destination_cid: Vec<u8>,
        source_cid: Vec<u8>,
        token: Vec<u8>,
        protected: Vec<u8>,
    }

    impl BuiltPacket {
        fn serialise(&self) -> Vec<u8> {
            let type_bits = match (self.version == VERSION_2, self.packet_type) {
                (false, QuicPacketType::Initial) | (true, QuicPacketType::Retry) => 0b00,
                (false, QuicPacketType::ZeroRtt) | (true, QuicPacketType::Initial) => 0b01,
                (false, QuicPacketType::Handshake) | (true, QuicPacketType::ZeroRtt) => 0b10,
                _ => 0b11,
            };
            let mut packet = vec![0xc0 | (type_bits << 4) | 0x01];
            packet.extend_from_slice(&self.version.to_be_bytes());
            packet.push(self.destination_cid.len() as u8);
            packet.extend_from_slice(&self.destination_cid);
            packet.push(self.source_cid.len() as u8);
            packet.extend_from_slice(&self.source_cid);
            match self.packet_type {
                QuicPacketType::Retry => {
                    packet.extend_from_slice(&self.token);
                    packet.extend_from_slice(&[0x7a; 16]);
                    return packet;
                }
                QuicPacketType::Initial => {
                    packet.extend(encode_varint(self.token.len() as u64));
                    packet.extend_from_slice(&self.token);
                }
                _ => {}
            }
            packet.extend(encode_varint(self.protected.len() as u64));
            packet.extend_from_slice(&self.protected);
            packet
        }
    }

    fn any_packet() -> impl Strategy<Value = BuiltPacket> {
        (
            prop_oneof![
                Just(VERSION_1),
                Just(VERSION_2),
                Just(VERSION_DRAFT_29),
                0xff00_0000u32..=0xff00_00ff
            ],
            prop_oneof![
                Just(QuicPacketType::Initial),
                Just(QuicPacketType::ZeroRtt),
                Just(QuicPacketType::Handshake),
                Just(QuicPacketType::Retry)
            ],
            proptest::collection::vec(any::<u8>(), 0..=20),
            proptest::collection::vec(any::<u8>(), 0..=20),
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(any::<u8>(), 20..100),
        )
            .prop_map(
                |(version, packet_type, destination_cid, source_cid, token, protected)| {
                    BuiltPacket {
                        version,
                        packet_type,
                        destination_cid,
                        source_cid,
                        token,
                        protected,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_long_header(&bytes);
            let _ = connection_ids(&bytes);
            let _ = long_packet_len(&bytes);
        }

        #[test]
        fn arbitrary_after_version_never_panics(
            first in 0xc0u8..=0xff,
            version in prop_oneof![Just(VERSION_1), Just(VERSION_2), Just(0u32)],
            tail in proptest::collection::vec(any::<u8>(), 0..96),
        ) {
            let mut packet = vec![first];
            packet.extend_from_slice(&version.to_be_bytes());
            packet.extend_from_slice(&tail);
            let _ = parse_long_header(&packet);
            let _ = long_packet_len(&packet);
        }

        /// RFC 9000 §16: every value up to 2^62 − 1 in its shortest encoding or any longer
        /// one reads back with the bytes after it; every prefix of the encoding reads nothing.
        #[test]
        fn varints_round_trip_and_truncate(
            value in prop_oneof![0u64..0x40, 0u64..0x4000, 0u64..0x4000_0000, 0u64..(1 << 62)],
            widen in 0u32..4,
            trailing in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let shortest = encode_varint(value).len().trailing_zeros();
            let log_len = shortest.max(widen);
            let len = 1usize << log_len;
            let mut encoded = value.to_be_bytes()[8 - len..].to_vec();
            encoded[0] |= (log_len as u8) << 6;
            prop_assert_eq!(read_varint(&encoded), Some((value, &[][..])));
            let mut with_tail = encoded.clone();
            with_tail.extend_from_slice(&trailing);
            prop_assert_eq!(read_varint(&with_tail), Some((value, &trailing[..])));
            for cut in 0..encoded.len() {
                prop_assert_eq!(read_varint(&encoded[..cut]), None);
            }
        }

        /// Version Negotiation (RFC 9000 §17.2.1): any first byte with the form bit, any
        /// connection IDs, a non-empty list of versions. A cut list (not a multiple of four
        /// bytes, or empty) is not one.
        #[test]
        fn version_negotiation_round_trips(
            first in 0x80u8..=0xff,
            destination_cid in proptest::collection::vec(any::<u8>(), 0..=20),
            source_cid in proptest::collection::vec(any::<u8>(), 0..=20),
            versions in proptest::collection::vec(any::<u32>(), 1..6),
        ) {
            let mut packet = vec![first, 0, 0, 0, 0];
            packet.push(destination_cid.len() as u8);
            packet.extend_from_slice(&destination_cid);
            packet.push(source_cid.len() as u8);
            packet.extend_from_slice(&source_cid);
            let versions_at = packet.len();
            for version in &versions {
                packet.extend_from_slice(&version.to_be_bytes());
            }
            let layout = parse_long_packet(&packet).unwrap();
            prop_assert_eq!(
                layout.header,
                QuicLongHeader { version: VERSION_NEGOTIATION, packet_type: QuicPacketType::VersionNegotiation }
            );
            prop_assert!(!layout.header.is_key_exchange());
            prop_assert_eq!((layout.destination_cid, layout.source_cid), (&destination_cid[..], &source_cid[..]));
            prop_assert_eq!((layout.packet_number_offset, layout.packet_len), (None, packet.len()));
            for cut in 0..packet.len() {
                let got = parse_long_header(&packet[..cut]);
                let whole_versions = cut > versions_at && (cut - versions_at) % 4 == 0;
                prop_assert_eq!(got.is_some(), whole_versions, "cut {}", cut);
            }
        }

        #[test]
        fn built_packets_round_trip(built in any_packet(), trailing in 0usize..8) {
            let mut datagram = built.serialise();
            let packet_len = datagram.len();
            datagram.extend(std::iter::repeat_n(0u8, trailing));
            let expected = QuicLongHeader { version: built.version, packet_type: built.packet_type };
            prop_assert_eq!(parse_long_header(&datagram), Some(expected));
            prop_assert_eq!(
                connection_ids(&datagram),
                Some((&built.destination_cid[..], &built.source_cid[..]))
            );
            if built.packet_type != QuicPacketType::Retry {
                prop_assert_eq!(long_packet_len(&datagram), Some(packet_len));
                // The packet number is where the protected bytes start.
                let layout = parse_long_packet(&datagram).unwrap();
                prop_assert_eq!(
                    layout.packet_number_offset,
                    Some(packet_len - built.protected.len())
                );
            }
        }

        #[test]
        fn every_truncation_is_handled(built in any_packet()) {
            let packet = built.serialise();
            let expected = QuicLongHeader { version: built.version, packet_type: built.packet_type };
            for cut in 0..packet.len() {
                let got = parse_long_header(&packet[..cut]);
                prop_assert!(got.is_none() || got == Some(expected));
                if built.packet_type != QuicPacketType::Retry {
                    prop_assert_eq!(got, None);
                }
            }
        }
    }
}
