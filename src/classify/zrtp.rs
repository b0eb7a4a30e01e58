//! ZRTP recognition (RFC 6189): the in-band Diffie-Hellman key agreement for SRTP that runs on
//! the media 5-tuple itself (first byte 16–19 in the RFC 7983 demultiplexing table).
//!
//! # Layout (RFC 6189 §5)
//!
//! ```text
//! 0     1     2     3
//! 0001 + 12 unused bits | sequence number (16)
//! magic cookie "ZRTP" = 0x5A525450
//! source identifier (SSRC)
//! message: preamble 0x505A · length (16, in 32-bit words, preamble and type included)
//!          · 8-character message type ("Hello   ", "Commit  ", …) · body
//! CRC (32)
//! ```
//!
//! # Strictness and cost
//!
//! The 32-bit cookie, the 16-bit preamble and an exact length (header + message + CRC must be
//! the whole datagram) already make a false positive essentially impossible. [`parse`] also
//! verifies the CRC-32C because ZRTP packets are rare (a dozen per call) and only datagrams that
//! passed those checks pay for it; [`parse_without_crc`] is there for callers that want to see
//! damaged packets as evidence too.
//!
//! The CRC is CRC-32C (Castagnoli, the SCTP checksum of RFC 4960 Appendix B) over the packet up
//! to the CRC field, stored like SCTP stores it: the standard CRC-32C value in little-endian byte
//! order. (RFC 6189 §5 defers to RFC 4960 for the algorithm; the byte order is that of GNU ZRTP's
//! `zrtpEndCksum` + `htonl` and of Wireshark's ZRTP dissector, which agree.)
//!
//! The low bits of the first byte are "not used" and ignored; any first byte 0x10–0x13 is
//! accepted, the ZRTP range of RFC 7983.
//!
//! Nothing here allocates or panics; all reads go through `get`/`split_*_checked`.

pub const MAGIC_COOKIE: u32 = 0x5A52_5450;
pub const MESSAGE_PREAMBLE: u16 = 0x505A;
const PACKET_HEADER_LEN: usize = 12;
const CRC_LEN: usize = 4;
/// Preamble and length (1 word) plus the 8-byte message type (2 words).
const MIN_MESSAGE_WORDS: usize = 3;

pub const HELLO: [u8; 8] = *b"Hello   ";
pub const HELLO_ACK: [u8; 8] = *b"HelloACK";
pub const COMMIT: [u8; 8] = *b"Commit  ";
pub const DH_PART1: [u8; 8] = *b"DHPart1 ";
pub const DH_PART2: [u8; 8] = *b"DHPart2 ";
pub const CONFIRM1: [u8; 8] = *b"Confirm1";
pub const CONFIRM2: [u8; 8] = *b"Confirm2";
pub const CONF2_ACK: [u8; 8] = *b"Conf2ACK";
pub const ERROR: [u8; 8] = *b"Error   ";
pub const ERROR_ACK: [u8; 8] = *b"ErrorACK";
pub const GO_CLEAR: [u8; 8] = *b"GoClear ";
pub const CLEAR_ACK: [u8; 8] = *b"ClearACK";
pub const SAS_RELAY: [u8; 8] = *b"SASrelay";
pub const RELAY_ACK: [u8; 8] = *b"RelayACK";
pub const PING: [u8; 8] = *b"Ping    ";
pub const PING_ACK: [u8; 8] = *b"PingACK ";

/// A recognised ZRTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZrtpPacket {
    pub sequence: u16,
    /// Source identifier: the SSRC of the media stream this ZRTP session keys.
    pub ssrc: u32,
    /// The 8-character message type, space padded (compare with [`HELLO`], [`COMMIT`], …).
    pub message_type: [u8; 8],
    /// Message length in 32-bit words (preamble, length and type included; header and CRC not).
    pub length_words: u16,
}

impl ZrtpPacket {
    /// `true` for the messages that establish the SRTP keys (RFC 6189 §4.1–§4.6): discovery
    /// (Hello, HelloACK — they negotiate the algorithms and carry the ZID and hash-chain
    /// commitment the key agreement is bound to), key agreement (Commit, DHPart1, DHPart2) and
    /// confirmation (Confirm1, Confirm2, Conf2ACK). Not key agreement: Error/ErrorACK,
    /// GoClear/ClearACK (switching SRTP off), Ping/PingACK, and SASrelay/RelayACK — a trusted
    /// PBX relaying the SAS after the keys exist (worth reporting on its own, since it means a
    /// MiTM endpoint holds the keys).
    pub fn is_key_agreement(&self) -> bool {
        matches!(
            self.message_type,
            HELLO | HELLO_ACK | COMMIT | DH_PART1 | DH_PART2 | CONFIRM1 | CONFIRM2 | CONF2_ACK
        )
    }

    /// The message type without its space padding, when it is ASCII text.
    pub fn message_name(&self) -> Option<&str> {
        std::str::from_utf8(&self.message_type)
            .ok()
            .map(str::trim_end)
    }
}

/// A ZRTP packet whose CRC-32C is correct (see the module docs).
pub fn parse(payload: &[u8]) -> Option<ZrtpPacket> {
    let packet = parse_without_crc(payload)?;
    crc_matches(payload).then_some(packet)
}

/// A ZRTP packet by its framing alone: first byte 0x10–0x13, magic cookie, message preamble,
/// a length of at least 3 words, and header + message + CRC filling the datagram exactly.
pub fn parse_without_crc(payload: &[u8]) -> Option<ZrtpPacket> {
    let (header, after_header) = payload.split_first_chunk::<PACKET_HEADER_LEN>()?;
    let [first, _unused, q0, q1, c0, c1, c2, c3, s0, s1, s2, s3] = *header;
    if first & 0xFC != 0x10 || u32::from_be_bytes([c0, c1, c2, c3]) != MAGIC_COOKIE {
        return None;
    }
    let (message_head, _) = after_header.split_first_chunk::<4>()?;
    let [p0, p1, l0, l1] = *message_head;
    let length_words = u16::from_be_bytes([l0, l1]);
    let message_len = usize::from(length_words) * 4;
    if u16::from_be_bytes([p0, p1]) != MESSAGE_PREAMBLE
        || usize::from(length_words) < MIN_MESSAGE_WORDS
        || PACKET_HEADER_LEN + message_len + CRC_LEN != payload.len()
    {
        return None;
    }
    let message_type = *after_header.get(4..)?.first_chunk::<8>()?;
    Some(ZrtpPacket {
        sequence: u16::from_be_bytes([q0, q1]),
        ssrc: u32::from_be_bytes([s0, s1, s2, s3]),
        message_type,
        length_words,
    })
}

/// `true` when the last four bytes hold the CRC-32C of everything before them.
pub fn crc_matches(payload: &[u8]) -> bool {
    payload
        .split_last_chunk::<CRC_LEN>()
        .is_some_and(|(covered, stored)| crc32c(covered).to_le_bytes() == *stored)
}

/// Reflected CRC-32C (Castagnoli polynomial 0x1EDC6F41).
const CRC32C_TABLE: [u32; 256] = super::crc::table(0x82F6_3B78);

fn crc32c(bytes: &[u8]) -> u32 {
    super::crc::checksum(&CRC32C_TABLE, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn build(sequence: u16, ssrc: u32, message_type: [u8; 8], body: &[u8]) -> Vec<u8> {
        assert_eq!(body.len() % 4, 0);
        let words = (MIN_MESSAGE_WORDS + body.len() / 4) as u16;
        let mut packet = vec![0x10, 0x00];
        packet.extend_from_slice(&sequence.to_be_bytes());
        packet.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(&MESSAGE_PREAMBLE.to_be_bytes());
        packet.extend_from_slice(&words.to_be_bytes());
        packet.extend_from_slice(&message_type);
        packet.extend_from_slice(body);
        let crc = crc32c(&packet);
        packet.extend_from_slice(&crc.to_le_bytes());
        packet
    }

    /// A Hello message laid out as in RFC 6189 §5.2: version "1.10", client identifier,
    /// H3, ZID, flags and counts (one each of S256, AES1, HS32, DH3k, B32), MAC.
    fn hello_body() -> Vec<u8> {
        let mut body = b"1.10".to_vec();
        body.extend_from_slice(b"callaudit test  ");
        body.extend_from_slice(&[0x33; 32]); // H3
        body.extend_from_slice(&[0x21; 12]); // ZID
        body.extend_from_slice(&[0x00, 0x01, 0x11, 0x11]); // S/M/P flags, hc, cc|ac, kc|sc
        body.extend_from_slice(b"S256AES1HS32DH3kB32 ");
        body.extend_from_slice(&[0x4d; 8]); // MAC
        body
    }

    #[test]
    fn crc32c_check_value() {
        // The standard CRC-32C check value (RFC 3720 Appendix B.4 style).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn hello_is_parsed_and_is_key_agreement() {
        let packet = build(1, 0xcafe_f00d, HELLO, &hello_body());
        assert_eq!(packet.len(), 12 + 27 * 4 + 4);
        assert_eq!(
            &packet[..8],
            &[0x10, 0x00, 0x00, 0x01, 0x5a, 0x52, 0x54, 0x50]
        );
        let parsed = parse(&packet).unwrap();
        assert_eq!(
            parsed,
            ZrtpPacket {
                sequence: 1,
                ssrc: 0xcafe_f00d,
                message_type: HELLO,
                length_words: 27
            }
        );
        assert!(parsed.is_key_agreement());
        assert_eq!(parsed.message_name(), Some("Hello"));
    }

    #[test]
    fn message_classes() {
        for message_type in [
            HELLO_ACK, COMMIT, DH_PART1, DH_PART2, CONFIRM1, CONFIRM2, CONF2_ACK,
        ] {
            let packet = build(9, 1, message_type, &[0; 8]);
            assert!(parse(&packet).unwrap().is_key_agreement());
        }
        for message_type in [
            ERROR, ERROR_ACK, GO_CLEAR, CLEAR_ACK, SAS_RELAY, RELAY_ACK, PING, PING_ACK,
        ] {
            let packet = build(9, 1, message_type, &[0; 8]);
            assert!(!parse(&packet).unwrap().is_key_agreement());
        }
    }

    #[test]
    fn corruption_is_caught_by_the_crc() {
        let mut packet = build(2, 7, COMMIT, &[0x42; 64]);
        packet[40] ^= 0x01;
        assert_eq!(parse(&packet), None);
        assert_eq!(
            parse_without_crc(&packet).map(|p| p.message_type),
            Some(COMMIT)
        );
    }

    #[test]
    fn rejects_non_zrtp() {
        let packet = build(3, 7, HELLO_ACK, &[]);
        for (offset, value) in [(0, 0x80), (0, 0x14), (4, 0x00), (12, 0x00), (15, 0x04)] {
            let mut broken = packet.clone();
            broken[offset] = value;
            assert_eq!(
                parse_without_crc(&broken),
                None,
                "byte {offset} = {value:#x}"
            );
        }
        let mut too_long = packet.clone();
        too_long.extend_from_slice(&[0; 4]);
        assert_eq!(parse_without_crc(&too_long), None);
        let mut short_length = packet;
        short_length[15] = 0x02;
        assert_eq!(parse_without_crc(&short_length), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse(&bytes);
            let _ = parse_without_crc(&bytes);
        }

        #[test]
        fn arbitrary_after_cookie_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..96)) {
            let mut packet = vec![0x10, 0, 0, 1, 0x5a, 0x52, 0x54, 0x50, 0, 0, 0, 1, 0x50, 0x5a];
            packet.extend_from_slice(&tail);
            let _ = parse(&packet);
        }

        #[test]
        fn built_packets_round_trip(
            sequence in any::<u16>(),
            ssrc in any::<u32>(),
            message_type in any::<[u8; 8]>(),
            words in proptest::collection::vec(any::<u32>(), 0..32),
        ) {
            let body: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
            let packet = build(sequence, ssrc, message_type, &body);
            let parsed = parse(&packet).unwrap();
            prop_assert_eq!(
                parsed,
                ZrtpPacket { sequence, ssrc, message_type, length_words: 3 + words.len() as u16 }
            );
            for cut in 0..packet.len() {
                prop_assert_eq!(parse(&packet[..cut]), None);
                prop_assert_eq!(parse_without_crc(&packet[..cut]), None);
            }
        }
    }
}
