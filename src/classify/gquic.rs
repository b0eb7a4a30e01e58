//! Google QUIC (gQUIC, versions Q001–Q046, recognised for Q050 too): the pre-IETF QUIC that
//! Chrome and Google's servers spoke from 2013 until about 2021.
//!
//! # Sources
//!
//! * "QUIC Wire Layout Specification" (Chromium, Hamilton et al.,
//!   <https://docs.google.com/document/d/1WJvyZflAO2pq77yOLbp9NsGjC1CHetAXV8I0fQe-B_U>) and
//!   draft-hamilton-quic-transport-protocol / draft-tsvwg-quic-protocol: the public header,
//!   the frame types (STREAM `1fdooo ss`, ACK `01ntllmm`, STOP_WAITING 0x06, PING 0x07,
//!   PADDING 0x00) and stream 1 as the crypto stream.
//! * "QUIC Crypto" (Langley, Chang,
//!   <https://docs.google.com/document/d/1g5nIXAIkN_Y-7XJW5K45IblHd_L2f5LTaDUDwvZ5L6g>): the
//!   handshake messages (CHLO, REJ, SHLO) as a tag, a u16 entry count, two bytes of padding,
//!   then `count` × (tag, u32 end offset), then the values; all little-endian. `SNI` is the
//!   server name, `UAID` the user agent, `PAD` padding.
//! * Chromium's `quic_versions.h` change log for what each version changed (Q033 diversification
//!   nonce, Q034 no private flags, Q036 perspective in the null-encryption hash, Q039 big-endian
//!   framing, Q044–Q046 IETF-invariant long headers, Q048/Q050 CRYPTO frames and encrypted
//!   Initials) and its `NullDecrypter` for the 12-byte FNV-1a-128 hash that unencrypted packets
//!   carry.
//! * nDPI's `src/lib/protocols/quic.c` (the fixed offsets of the CHLO in Q024–Q043 and Q046
//!   client packets, the byte order switch at Q039) and the capture `quic.pcap` that ships
//!   with it (Q024, Q025, Q030, Q033), whose every clear packet this module's hash check
//!   verifies.
//!
//! # Layouts
//!
//! **Public header** (≤ Q043): `flags | [CID] | [version] | [nonce] | packet number`, then the
//! payload. Flags: 0x01 version present (client, until the server has answered), 0x02 public
//! reset, 0x04 diversification nonce (32 bytes, server only, from Q033; before Q033, 0x0C were
//! the CID length: 0x0C = 8 bytes, 0x08 = 4, 0x04 = 1), 0x08 8-byte CID present (from Q033),
//! 0x30 packet number length (1, 2, 4, 6 bytes), 0x40 multipath (never used), 0x80 must be 0.
//!
//! **Long header** (Q046): `0b11tt00pp | version | DCIL<<4 ∣ SCIL | DCID | SCID | packet number`
//! with CID lengths encoded as 0 or length − 3 and a clear `pp + 1`-byte packet number; no
//! token, no length field. Chrome's Initial is `C3 "Q046" 50 <8-byte DCID> <4-byte PN>`.
//! Q046 short headers (1-RTT, always encrypted) are not read.
//!
//! **Q050** uses the IETF long header (RFC 8999) with token and length, but its Initial is
//! encrypted with a salt of its own and its handshake is in CRYPTO frames: its header is
//! recognised (the flow is QUIC) but no frames are read and no SNI is extracted.
//!
//! Until the keys are set up, packets are *null-encrypted*: the payload is a 12-byte hash
//! (FNV-1a-128 of header ‖ plaintext [‖ "Client"/"Server" from Q036], its low 96 bits stored as
//! u64 then u32) followed by the frames in clear; before Q034 a private-flags byte precedes the
//! frames. Frame fields are little-endian before Q039, big-endian from Q039 (crypto handshake
//! messages stay little-endian).
//!
//! # Semantics for the classifier
//!
//! * A flow in which [`is_gquic_client_packet`] fires (a client packet with a version-flagged
//!   gQUIC header) on UDP port 443 gets protocol "quic"; its version is then known, and the
//!   flow's other packets are read with [`parse_header`]. The check (flags, 8-byte CID, a
//!   `Q0dd` tag at a fixed offset) is specific enough to be trusted on other ports when a CHLO
//!   is also read: quic.pcap has a Q033 flow to port 6121 that nDPI labels QUIC.
//! * A flow whose client never sends a version-flagged packet in the capture (it started
//!   before the capture did) is not recognised: short public headers carry no version and
//!   look like any other bytes (nDPI labels such a flow in quic.pcap by port only).
//! * **Key exchange**: gQUIC packets that carry the crypto handshake (CHLO, REJ, and the
//!   ACKs/continuations that go with them) are sent null-encrypted; [`is_key_exchange`]
//!   says so when the null-encryption hash verifies. SHLO travels under the initial
//!   (CHLO-derived) keys and cannot be told from data without them; it is not flagged.
//! * **SNI**: [`client_hello_sni`] reads the `SNI` tag of a clear CHLO in a version-flagged
//!   client packet (the first one, as nDPI does); [`handshake_message`] plus
//!   [`HandshakeMessage::sni`] reads it from any clear packet of a flow of known version (for
//!   instance the second CHLO, after the server's REJ, which has no version flag).
//!
//! # Bounds
//!
//! Nothing here panics on any input (every read is `get`/`split_*_checked`, arithmetic on
//! wire values is checked), and nothing allocates until an SNI is found (only the returned
//! `String`). At most [`MAX_FRAMES`] frames are walked per packet and at most [`MAX_TAGS`]
//! tag entries read per message; hostnames are at most [`MAX_HOSTNAME_LEN`] bytes. The hash
//! check costs one pass over the packet (a 128-bit multiply per byte) and is meant for the
//! handful of handshake packets of a flow.

/// Tag entries read from one handshake message (Chrome's CHLO has about 25).
pub const MAX_TAGS: usize = 128;
/// Frames walked in one packet before giving up on finding the crypto stream.
pub const MAX_FRAMES: usize = 16;
/// Longest SNI accepted (a DNS name).
pub const MAX_HOSTNAME_LEN: usize = 253;
/// The null-encryption hash that precedes the frames of an unencrypted packet.
pub const NULL_HASH_LEN: usize = 12;

/// Handshake message tags (QUIC Crypto): client hello, rejection, server hello.
pub const TAG_CHLO: [u8; 4] = *b"CHLO";
pub const TAG_REJ: [u8; 4] = *b"REJ\0";
pub const TAG_SHLO: [u8; 4] = *b"SHLO";
const TAG_SNI: [u8; 4] = *b"SNI\0";

const FLAG_VERSION: u8 = 0x01;
const FLAG_RESET: u8 = 0x02;
const FLAG_NONCE: u8 = 0x04;
const FLAG_CID: u8 = 0x08;
const FLAG_OLD_CID_LEN: u8 = 0x0c;
const FLAG_PACKET_NUMBER_LEN: u8 = 0x30;
const FLAG_MULTIPATH: u8 = 0x40;
const FLAG_UNUSED: u8 = 0x80;

const LONG_FORM: u8 = 0x80;
const LONG_FIXED: u8 = 0x40;

const CID_LEN: usize = 8;
const DIVERSIFICATION_NONCE_LEN: usize = 32;
/// The crypto handshake stream.
const CRYPTO_STREAM: u64 = 1;

const FNV_OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const FNV_PRIME: u128 = 0x0000000001000000000000000000013b;

/// Which header layout a packet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GquicLayout {
    /// The gQUIC public header (Q043 and older).
    PublicHeader,
    /// The Q046 long header (IETF-invariant form, clear packet number, no length).
    LongQ046,
    /// The IETF long header of Q050 (encrypted Initial; frames not readable).
    LongQ050,
}

/// A recognised gQUIC packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GquicHeader {
    /// The version tag as a big-endian number: `"Q025"` is `0x5130_3235`.
    pub version: u32,
    /// The decimal version number: 25 for Q025.
    pub version_number: u8,
    pub layout: GquicLayout,
    /// Where the payload starts (after the packet number): the null-encryption hash of a
    /// clear packet, or the ciphertext. For Q050, where the packet number is protected, where
    /// the packet number starts.
    pub payload_offset: usize,
    /// Where the frames start if the packet is null-encrypted (after the hash and, before
    /// Q034, the private flags). `None` when the frames are never in clear (Q050).
    pub frames_offset: Option<usize>,
}

impl GquicHeader {
    /// Frame fields are big-endian from Q039 on.
    fn big_endian(&self) -> bool {
        self.version_number >= 39
    }
}

/// A handshake message found at the start of the crypto stream data in a clear packet. It
/// holds as much of the message as this packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeMessage<'a> {
    /// The message tag: [`TAG_CHLO`], [`TAG_REJ`], [`TAG_SHLO`], ….
    pub tag: [u8; 4],
    /// The message, from its tag to the end of the STREAM frame.
    bytes: &'a [u8],
}

impl<'a> HandshakeMessage<'a> {
    /// The value of `tag`, if its entry is among the first [`MAX_TAGS`] and the value lies
    /// within this packet. Entries must have non-decreasing end offsets.
    pub fn value(&self, tag: [u8; 4]) -> Option<&'a [u8]> {
        let (_, rest) = self.bytes.split_first_chunk::<4>()?;
        let (count, rest) = rest.split_first_chunk::<2>()?;
        let count = usize::from(u16::from_le_bytes(*count));
        if count > MAX_TAGS {
            return None;
        }
        let (_padding, rest) = rest.split_first_chunk::<2>()?;
        let (table, values) = rest.split_at_checked(count.checked_mul(8)?)?;
        let mut start = 0usize;
        for entry in table.chunks_exact(8) {
            let end = usize::try_from(u32::from_le_bytes(entry[4..8].try_into().ok()?)).ok()?;
            if end < start {
                return None;
            }
            if entry[..4] == tag {
                return values.get(start..end);
            }
            start = end;
        }
        None
    }

    /// The `SNI` value as a lowercase hostname, if it is one (letters, digits, '-', '_', '.',
    /// 1–[`MAX_HOSTNAME_LEN`] bytes).
    pub fn sni(&self) -> Option<String> {
        hostname(self.value(TAG_SNI)?)
    }
}

/// Parses the header of a client packet with the version flag set (see the module docs):
/// the public header with an 8-byte CID and version Q001–Q043, the Q046 long header, or the
/// Q050 long header.
pub fn parse_public_header(payload: &[u8]) -> Option<GquicHeader> {
    let &first = payload.first()?;
    if first & LONG_FORM != 0 {
        return parse_long_header(payload);
    }
    if first & (FLAG_VERSION | FLAG_RESET | FLAG_MULTIPATH) != FLAG_VERSION || first & FLAG_CID == 0
    {
        return None;
    }
    let version = u32::from_be_bytes(*payload.get(1 + CID_LEN..)?.first_chunk::<4>()?);
    let number = version_number(version)?;
    if !(1..=43).contains(&number) {
        return None;
    }
    // Before Q033 the client's 8-byte CID was 0x0C; from Q033 it is 0x08, and 0x04 (the
    // diversification nonce) is server-only.
    let cid_bits = first & FLAG_OLD_CID_LEN;
    if (number < 33 && cid_bits != FLAG_OLD_CID_LEN) || (number >= 33 && cid_bits != FLAG_CID) {
        return None;
    }
    public_header_layout(payload, first, version, number, 1 + CID_LEN + 4)
}

/// Cheap check: a client packet whose header [`parse_public_header`] accepts.
pub fn is_gquic_client_packet(payload: &[u8]) -> bool {
    parse_public_header(payload).is_some()
}

/// Parses the header of any regular packet (either direction, with or without the version
/// flag) of a flow whose gQUIC `version` is known. Public resets, version negotiation packets
/// that do not look like a regular packet, and Q046/Q050 short headers give `None`.
pub fn parse_header(payload: &[u8], version: u32) -> Option<GquicHeader> {
    let number = version_number(version)?;
    let &first = payload.first()?;
    if first & LONG_FORM != 0 {
        return parse_long_header(payload).filter(|header| header.version == version);
    }
    if number > 43 || first & (FLAG_RESET | FLAG_MULTIPATH | FLAG_UNUSED) != 0 {
        return None;
    }
    let cid_len = if number < 33 {
        match first & FLAG_OLD_CID_LEN {
            0x0c => 8,
            0x08 => 4,
            0x04 => 1,
            _ => 0,
        }
    } else if first & FLAG_CID != 0 {
        CID_LEN
    } else {
        0
    };
    let mut offset = 1 + cid_len;
    if first & FLAG_VERSION != 0 {
        let tag = payload.get(offset..)?.first_chunk::<4>()?;
        if u32::from_be_bytes(*tag) != version {
            return None;
        }
        offset += 4;
    }
    if number >= 33 && first & FLAG_NONCE != 0 {
        offset += DIVERSIFICATION_NONCE_LEN;
    }
    public_header_layout(payload, first, version, number, offset)
}

/// Whether this packet of a flow of `version` is part of the clear handshake: its header
/// parses and its null-encryption hash verifies (see the module docs).
pub fn is_key_exchange(payload: &[u8], version: u32) -> bool {
    parse_header(payload, version).is_some_and(|header| is_null_encrypted(payload, &header))
}

/// Whether the payload after `header` is null-encrypted: its first 12 bytes are the FNV-1a-128
/// hash of header and plaintext (with or without the "Client"/"Server" perspective label of
/// Q036 and later). Both byte orders of the stored hash are accepted, since no capture of
/// Q039+ could confirm which one Chromium wrote there.
pub fn is_null_encrypted(payload: &[u8], header: &GquicHeader) -> bool {
    if header.frames_offset.is_none() {
        return false;
    }
    let Some((associated, rest)) = payload.split_at_checked(header.payload_offset) else {
        return false;
    };
    let Some((stored, plaintext)) = rest.split_first_chunk::<NULL_HASH_LEN>() else {
        return false;
    };
    let little = u128::from(u64::from_le_bytes(
        stored[..8].try_into().unwrap_or_default(),
    )) | u128::from(u32::from_le_bytes(
        stored[8..].try_into().unwrap_or_default(),
    )) << 64;
    let big = u128::from(u64::from_be_bytes(
        stored[..8].try_into().unwrap_or_default(),
    )) | u128::from(u32::from_be_bytes(
        stored[8..].try_into().unwrap_or_default(),
    )) << 64;
    let mask = (1u128 << 96) - 1;
    let state = fnv1a(fnv1a(FNV_OFFSET, associated), plaintext);
    let labels: &[&[u8]] = if header.version_number >= 36 {
        &[b"Client", b"Server", b""]
    } else {
        &[b""]
    };
    labels.iter().any(|label| {
        let hash = fnv1a(state, label) & mask;
        hash == little || hash == big
    })
}

/// The handshake message at the start of the crypto stream (stream 1) in this packet, if the
/// frames are in clear and the stream data starts with a message tag (four bytes of
/// uppercase letters, digits or NULs). A continuation of a message split over packets does
/// not start with a tag and gives `None`. The hash is not checked here: the frame structure
/// is (see [`is_key_exchange`] for that).
pub fn handshake_message<'a>(
    payload: &'a [u8],
    header: &GquicHeader,
) -> Option<HandshakeMessage<'a>> {
    let data = crypto_stream_data(payload, header)?;
    let tag = *data.first_chunk::<4>()?;
    let is_tag_char = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == 0;
    if !tag.iter().all(is_tag_char) || tag[0] == 0 {
        return None;
    }
    Some(HandshakeMessage { tag, bytes: data })
}

/// The SNI of the clear CHLO in a version-flagged client packet (Q001–Q043 and Q046), as a
/// lowercase hostname.
pub fn client_hello_sni(payload: &[u8]) -> Option<String> {
    let header = parse_public_header(payload)?;
    let message = handshake_message(payload, &header)?;
    if message.tag != TAG_CHLO {
        return None;
    }
    message.sni()
}

/// The decimal number of a `Q0dd` version tag.
fn version_number(version: u32) -> Option<u8> {
    let [q, zero, tens, units] = version.to_be_bytes();
    if q != b'Q' || zero != b'0' || !tens.is_ascii_digit() || !units.is_ascii_digit() {
        return None;
    }
    Some((tens - b'0') * 10 + (units - b'0'))
}

/// Finishes a public header whose packet number starts at `offset`.
fn public_header_layout(
    payload: &[u8],
    first: u8,
    version: u32,
    number: u8,
    offset: usize,
) -> Option<GquicHeader> {
    let packet_number_len = match first & FLAG_PACKET_NUMBER_LEN {
        0x00 => 1,
        0x10 => 2,
        0x20 => 4,
        _ => 6,
    };
    let payload_offset = offset + packet_number_len;
    // Private flags (entropy) byte until Q033.
    let frames_offset = payload_offset + NULL_HASH_LEN + usize::from(number <= 33);
    if payload.len() < frames_offset {
        return None;
    }
    Some(GquicHeader {
        version,
        version_number: number,
        layout: GquicLayout::PublicHeader,
        payload_offset,
        frames_offset: Some(frames_offset),
    })
}

/// The Q046 and Q050 long headers.
fn parse_long_header(payload: &[u8]) -> Option<GquicHeader> {
    let (&first, rest) = payload.split_first()?;
    if first & (LONG_FORM | LONG_FIXED) != LONG_FORM | LONG_FIXED {
        return None;
    }
    let (version_tag, rest) = rest.split_first_chunk::<4>()?;
    let version = u32::from_be_bytes(*version_tag);
    let number = version_number(version)?;
    let packet_type = (first >> 4) & 0b11;
    match number {
        46 => {
            // Initial, 0-RTT, Handshake; no Retry in Q046. Bits 0x0c are reserved (zero).
            if packet_type == 0b11 || first & 0x0c != 0 {
                return None;
            }
            let (&lengths, rest) = rest.split_first()?;
            let cid_len = |nibble: u8| {
                if nibble == 0 {
                    0
                } else {
                    usize::from(nibble) + 3
                }
            };
            let cids = cid_len(lengths >> 4) + cid_len(lengths & 0x0f);
            if cids == 0 {
                return None;
            }
            let packet_number_len = usize::from(first & 0b11) + 1;
            let payload_offset = payload.len() - rest.len() + cids + packet_number_len;
            let frames_offset = payload_offset + NULL_HASH_LEN;
            if payload.len() < frames_offset {
                return None;
            }
            Some(GquicHeader {
                version,
                version_number: number,
                layout: GquicLayout::LongQ046,
                payload_offset,
                frames_offset: Some(frames_offset),
            })
        }
        50 => {
            // IETF invariants: length-prefixed CIDs (at most 20 bytes); Initial has a token.
            if packet_type == 0b11 {
                return None;
            }
            let (dcid, rest) = length_prefixed(rest, 20)?;
            let (_scid, mut rest) = length_prefixed(rest, 20)?;
            if dcid.is_empty() && packet_type == 0b00 {
                return None;
            }
            if packet_type == 0b00 {
                let (token_len, after) = read_varint(rest)?;
                rest = after.get(usize::try_from(token_len).ok()?..)?;
            }
            let (length, after_length) = read_varint(rest)?;
            // Packet number (1–4) plus a 16-byte header-protection sample at least.
            if length < 20 || length > after_length.len() as u64 {
                return None;
            }
            Some(GquicHeader {
                version,
                version_number: number,
                layout: GquicLayout::LongQ050,
                payload_offset: payload.len() - after_length.len(),
                frames_offset: None,
            })
        }
        _ => None,
    }
}

fn length_prefixed(bytes: &[u8], max: usize) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    if usize::from(len) > max {
        return None;
    }
    rest.split_at_checked(usize::from(len))
}

/// RFC 9000 §16 variable-length integer.
fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let &first = bytes.first()?;
    let len = 1usize << (first >> 6);
    let (value, rest) = bytes.split_at_checked(len)?;
    let value = value
        .iter()
        .skip(1)
        .fold(u64::from(first & 0x3f), |acc, &b| acc << 8 | u64::from(b));
    Some((value, rest))
}

fn fnv1a(mut hash: u128, bytes: &[u8]) -> u128 {
    for &b in bytes {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// A little- or big-endian unsigned integer of 1–8 bytes, and the rest.
fn read_uint(bytes: &[u8], len: usize, big_endian: bool) -> Option<(u64, &[u8])> {
    let (field, rest) = bytes.split_at_checked(len)?;
    let fold = |acc: u64, &b: &u8| acc << 8 | u64::from(b);
    let value = if big_endian {
        field.iter().fold(0, fold)
    } else {
        field.iter().rev().fold(0, fold)
    };
    Some((value, rest))
}

/// 1, 2, 4 or 6 bytes, as the two-bit length fields of the public header and ACK frames say.
fn two_bit_len(bits: u8) -> usize {
    match bits & 0b11 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 6,
    }
}

/// Walks the clear frames of a packet to the first STREAM frame of the crypto stream and
/// returns its data. Frames that may precede it in a handshake packet (PADDING ends the
/// packet; PING, STOP_WAITING, ACK, STREAM of other streams) are skipped; anything else
/// stops the walk.
fn crypto_stream_data<'a>(payload: &'a [u8], header: &GquicHeader) -> Option<&'a [u8]> {
    let mut frames = payload.get(header.frames_offset?..)?;
    let big_endian = header.big_endian();
    let packet_number_len = match header.layout {
        GquicLayout::PublicHeader => two_bit_len(payload.first()? >> 4),
        GquicLayout::LongQ046 => usize::from(payload.first()? & 0b11) + 1,
        GquicLayout::LongQ050 => return None,
    };
    for _ in 0..MAX_FRAMES {
        let (&frame_type, rest) = frames.split_first()?;
        if frame_type & 0x80 != 0 {
            // STREAM: 1 f d ooo ss.
            let id_len = usize::from(frame_type & 0b11) + 1;
            let offset_len = match (frame_type >> 2) & 0b111 {
                0 => 0,
                n => usize::from(n) + 1,
            };
            let (stream_id, rest) = read_uint(rest, id_len, big_endian)?;
            let (_offset, rest) = read_uint(rest, offset_len, big_endian)?;
            let (data, rest) = if frame_type & 0x20 != 0 {
                let (len, rest) = read_uint(rest, 2, big_endian)?;
                rest.split_at_checked(usize::try_from(len).ok()?)?
            } else {
                (rest, &rest[rest.len()..])
            };
            if stream_id == CRYPTO_STREAM {
                return Some(data);
            }
            frames = rest;
        } else if frame_type & 0xc0 == 0x40 {
            frames = skip_ack(frame_type, rest, header.version_number)?;
        } else {
            frames = match frame_type {
                // PING.
                0x07 => rest,
                // STOP_WAITING: [entropy before Q034] least-unacked delta.
                0x06 => rest.get(usize::from(header.version_number < 34) + packet_number_len..)?,
                // PADDING runs to the end of the packet; others do not precede the CHLO.
                _ => return None,
            };
        }
    }
    None
}

/// Skips the body of an ACK frame (type byte `01ntllmm` already read). Before Q034: entropy,
/// largest observed, delta time, timestamps, then (n) NACK ranges and revived packets. From
/// Q034: largest acked, delta time, (n) block count, first block, blocks, timestamps.
fn skip_ack(frame_type: u8, body: &[u8], version_number: u8) -> Option<&[u8]> {
    let largest_len = two_bit_len(frame_type >> 2);
    let block_len = two_bit_len(frame_type);
    let has_more = frame_type & 0x20 != 0;
    if version_number < 34 {
        let rest = body.get(1 + largest_len + 2..)?;
        let rest = skip_timestamps(rest)?;
        if !has_more {
            return Some(rest);
        }
        let (&ranges, rest) = rest.split_first()?;
        let rest = rest.get(usize::from(ranges) * (block_len + 1)..)?;
        let (&revived, rest) = rest.split_first()?;
        rest.get(usize::from(revived) * largest_len..)
    } else {
        let mut rest = body.get(largest_len + 2..)?;
        let mut blocks = 0usize;
        if has_more {
            let (&count, after) = rest.split_first()?;
            blocks = usize::from(count);
            rest = after;
        }
        let rest = rest.get(block_len + blocks * (1 + block_len)..)?;
        skip_timestamps(rest)
    }
}

/// Number of timestamps (1 byte), then (delta 1, time 4) and (delta 1, time 2) for the others.
fn skip_timestamps(bytes: &[u8]) -> Option<&[u8]> {
    let (&count, rest) = bytes.split_first()?;
    match count {
        0 => Some(rest),
        n => rest.get(5 + (usize::from(n) - 1) * 3..),
    }
}

/// A lowercase copy of `bytes` if it is a hostname.
fn hostname(bytes: &[u8]) -> Option<String> {
    let valid = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if bytes.is_empty() || bytes.len() > MAX_HOSTNAME_LEN || !bytes.iter().all(valid) {
        return None;
    }
    let name = std::str::from_utf8(bytes).ok()?;
    Some(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    const Q025: u32 = 0x5130_3235;
    const Q033: u32 = 0x5130_3333;

    /// Bytes from hex runs: each part's bytes repeated `count` times (the captured CHLOs are
    /// mostly `PAD` filler, '-' bytes, and trailing zeros).
    fn runs(parts: &[(&str, usize)]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|&(text, count)| hex(text).repeat(count))
            .collect()
    }

    /// quic.pcap frame 424: Chrome 49's first CHLO (Q025) to fonts.gstatic.com, 1350 bytes.
    fn q025_chlo() -> Vec<u8> {
        runs(&[
            (
                "0d2a3a34ef449f46a65130323501f140f734a17ab9d86a9fcc4501a001140543484c4f0f0000005041440027\
                 040000534e490038040000564552003c040000434353004c0400004d53504350040000554149447004000054\
                 4349447404000050444d4478040000535242467c0400004943534c8004000053434c5384040000434f505488\
                 040000495254548c04000043464357900400005346435794040000",
                1,
            ),
            ("2d", 1063),
            (
                "666f6e74732e677374617469632e636f6d513032357b26e9e7e45c71ff01e8816092921ae864000000436872\
                 6f6d652f34392e302e323632332e3837204c696e7578207838365f36340000000058353039000010001e0000\
                 000100000046495844360301000000f000000060",
                1,
            ),
            ("00", 20),
        ])
    }

    /// quic.pcap frame 414: a Q033 CHLO (flags 0x09: the Q033 CID bit) without SNI.
    fn q033_chlo_without_sni() -> Vec<u8> {
        runs(&[
            (
                "09fadeb0e557e692a05130333301da93cceca77d08f6aebdf08200a001140543484c4f0d000000504144004c\
                 040000564552005004000043435300600400004d5350436404000050444d44680400004943534c6c04000043\
                 54494d740400004e4f4e509404000053434c53980400004353435498040000434f50549c04000043464357a0\
                 04000053464357a4040000",
                1,
            ),
            ("2d", 1100),
            (
                "513033337b26e9e7e45c71ff01e8816092921ae86400000058353039580200004b12225700000000d2fb5bd7\
                 651673275fabaa63c9b739e9496d60ec10a0dab7c2d35b172cd3241d0100000046495844004000000040",
                1,
            ),
            ("00", 21),
        ])
    }

    /// quic.pcap frame 434: the client's second CHLO (Q025, after the server's REJ) to
    /// www.youtube.com: no version flag, and an ACK and a STOP_WAITING before the STREAM
    /// frame, which continues stream 1 at offset 1024.
    fn q025_second_chlo() -> Vec<u8> {
        runs(&[
            (
                "0ca496390773712ca903f738ce20e14db6a3c84aed4600400001f30e01008c320100060002a4010004000443\
                 484c4f18000000504144000f010000534e49001e01000053544b0090010000534e4f00c801000056455200cc\
                 01000043435300dc0100004e4f4e43fc0100004d535043000200004145414404020000554149442402000053\
                 43494434020000544349443802000050444d443c02000053524246400200004943534c440200005055425364\
                 02000053434c53680200004b4558536c020000434f5054700200004343525488020000495254548c02000043\
                 4554563003000043464357340300005346435738030000",
                1,
            ),
            ("2d", 271),
            (
                "7777772e796f75747562652e636f6dd6a59b65a28618c36ee27d0815de6abe8513cdf49c32b40ceb61792a5c\
                 a8cbf82bd772a7cf5b6281f77466a36b4f040ac6c8741373de3ac49c7572d82a3b3cab2884b8ecb56bb0b8ce\
                 0eb77ee52d1c96201fbaa427934f5425fdd94ad112354263d7560111be2fb71b653ec081a6a1144d7e0dcf71\
                 a94adad16dd93466e67246ba487318c091cc796dc1ede547dee10b5eb74a27e40ba5b8f86f4f6d0d0fd73494\
                 e66ac68a72a7074109513032357b26e9e7e45c71ff01e8816092921ae8573489f478e2d2da1a28a5b63e0ac2\
                 0221a14e362fcd67ce6c61f6cdbffcf31964000000434332304368726f6d652f34392e302e323632332e3837\
                 204c696e7578207838365f3634ee3135acc8c70e7508f87dd8da33ca310000000058353039000010001e0000\
                 00852c509f6500e7f8efbe033df49f92fe55a6d9d954c3ed6cc1afcab50bf341720100000043323535464958\
                 4455ef5e4d21c5f565e2631a827d71855f400b7b90a9ae79eb70d0010030c75f4f86a92dd43a6d4b6b611197\
                 04748540094bd87b7c9b02b21272c65b365f8f215feaf98cbef5bd72a45c6bdfaa38beb00c0bf8fa328be893\
                 fdc17e538fb87e5c5d5d864774df605aad8825717d98f3a613617f855a3abc80b13ceb12c8591031b48ad2e0\
                 1d7d36cc636efe8e4dd6151f71c9626f2e26b45547e1e0c44561e6f0882352e1ca63e34c225caf6fbc556821\
                 ea70330502239e4d00b93c7cb21b1848430000f000000060",
                1,
            ),
            ("00", 284),
        ])
    }

    /// quic.pcap frame 438: the server's null-encrypted ACK-only packet (Q025, flags 0x0C).
    fn q025_server_ack() -> Vec<u8> {
        hex("0ca496390773712ca903ca33c76c8f3325042c49e53400400201112601004ff1ffff060002")
    }

    /// quic.pcap frame 2, first 64 bytes: a version-flagged Q024 client packet that is already
    /// encrypted (0-RTT after a cached server config).
    fn q024_encrypted_prefix() -> Vec<u8> {
        hex(
            "0db2de5df14f5545eb51303234029dc6e403de096348b85050e7cb45b5073611b285503d6f6bb8c3\
             5456f44e120990a9c9c30965c710088c204dfca027feaefc",
        )
    }

    /// A handshake message per QUIC Crypto: tag, u16 count, u16 padding, entries, values.
    fn message(tag: &[u8; 4], entries: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut out = tag.to_vec();
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        let mut end = 0u32;
        for (tag, value) in entries {
            end += value.len() as u32;
            out.extend_from_slice(*tag);
            out.extend_from_slice(&end.to_le_bytes());
        }
        for (_, value) in entries {
            out.extend_from_slice(value);
        }
        out
    }

    /// A STREAM frame on stream 1 at offset 0 with a 2-byte data length.
    fn stream_frame(data: &[u8], big_endian: bool) -> Vec<u8> {
        let mut out = vec![0xa0, 0x01];
        let len = data.len() as u16;
        out.extend_from_slice(&if big_endian {
            len.to_be_bytes()
        } else {
            len.to_le_bytes()
        });
        out.extend_from_slice(data);
        out
    }

    /// A null-encrypted packet: `header`, the hash (with the client label from Q036) stored
    /// little-endian, `frames`.
    fn null_encrypted(header: &[u8], frames: &[u8], client_label: bool) -> Vec<u8> {
        let mut state = fnv1a(fnv1a(FNV_OFFSET, header), frames);
        if client_label {
            state = fnv1a(state, b"Client");
        }
        let mut out = header.to_vec();
        out.extend_from_slice(&(state as u64).to_le_bytes());
        out.extend_from_slice(&((state >> 64) as u32).to_le_bytes());
        out.extend_from_slice(frames);
        out
    }

    fn chlo_with_sni(sni: &[u8]) -> Vec<u8> {
        message(
            b"CHLO",
            &[
                (b"PAD\0", &[b'-'; 40]),
                (b"SNI\0", sni),
                (b"VER\0", b"Q043"),
                (b"UAID", b"Chrome/70"),
            ],
        )
    }

    /// A Q043 client packet: flags 0x09 (version, CID, 1-byte packet number), big-endian
    /// frames, no private flags, hash with the "Client" label.
    fn q043_packet(frames: &[u8]) -> Vec<u8> {
        null_encrypted(&hex("09 0102030405060708 51303433 01"), frames, true)
    }

    #[test]
    fn captured_q025_first_chlo() {
        let packet = q025_chlo();
        let header = parse_public_header(&packet).unwrap();
        assert_eq!(
            header,
            GquicHeader {
                version: Q025,
                version_number: 25,
                layout: GquicLayout::PublicHeader,
                payload_offset: 14,
                frames_offset: Some(27),
            }
        );
        assert!(is_gquic_client_packet(&packet));
        assert_eq!(
            client_hello_sni(&packet).as_deref(),
            Some("fonts.gstatic.com")
        );
        assert!(is_null_encrypted(&packet, &header));
        assert!(is_key_exchange(&packet, Q025));
        let chlo = handshake_message(&packet, &header).unwrap();
        assert_eq!(chlo.tag, TAG_CHLO);
        assert_eq!(chlo.value(*b"VER\0"), Some(&b"Q025"[..]));
        assert_eq!(
            chlo.value(*b"UAID"),
            Some(&b"Chrome/49.0.2623.87 Linux x86_64"[..])
        );
        assert_eq!(parse_header(&packet, Q025), Some(header));
    }

    #[test]
    fn captured_q033_chlo_without_sni() {
        let packet = q033_chlo_without_sni();
        let header = parse_public_header(&packet).unwrap();
        assert_eq!((header.version, header.version_number), (Q033, 33));
        // Q033 still has the private flags byte.
        assert_eq!(header.frames_offset, Some(27));
        assert_eq!(handshake_message(&packet, &header).unwrap().tag, TAG_CHLO);
        assert_eq!(client_hello_sni(&packet), None);
        assert!(is_key_exchange(&packet, Q033));
    }

    #[test]
    fn captured_second_chlo_after_ack_and_stop_waiting() {
        let packet = q025_second_chlo();
        assert!(!is_gquic_client_packet(&packet), "no version flag");
        assert_eq!(client_hello_sni(&packet), None);
        let header = parse_header(&packet, Q025).unwrap();
        assert_eq!(header.frames_offset, Some(23));
        let chlo = handshake_message(&packet, &header).unwrap();
        assert_eq!(chlo.tag, TAG_CHLO);
        assert_eq!(chlo.sni().as_deref(), Some("www.youtube.com"));
        assert!(is_key_exchange(&packet, Q025));
    }

    #[test]
    fn captured_server_ack_is_key_exchange_without_message() {
        let packet = q025_server_ack();
        assert!(!is_gquic_client_packet(&packet));
        let header = parse_header(&packet, Q025).unwrap();
        assert!(is_key_exchange(&packet, Q025));
        assert_eq!(handshake_message(&packet, &header), None);
        // The wrong version changes the layout (no private flags): the hash still covers the
        // same bytes, but version Q033 reads flags 0x0C as CID + nonce and fails.
        assert!(!is_key_exchange(&packet, Q033));
    }

    #[test]
    fn captured_encrypted_client_packet_is_gquic_but_not_key_exchange() {
        let packet = q024_encrypted_prefix();
        assert!(is_gquic_client_packet(&packet));
        assert_eq!(parse_public_header(&packet).unwrap().version, 0x5130_3234);
        assert_eq!(client_hello_sni(&packet), None);
        assert!(!is_key_exchange(&packet, 0x5130_3234));
    }

    #[test]
    fn synthetic_q043_big_endian_with_client_label() {
        let packet = q043_packet(&stream_frame(&chlo_with_sni(b"Mail.Example.COM"), true));
        let header = parse_public_header(&packet).unwrap();
        assert_eq!(header.version_number, 43);
        assert_eq!(header.frames_offset, Some(26), "no private flags from Q034");
        assert_eq!(
            client_hello_sni(&packet).as_deref(),
            Some("mail.example.com")
        );
        assert!(is_key_exchange(&packet, 0x5130_3433));
        // A little-endian length would not fit: the frame is read big-endian.
        let little = q043_packet(&stream_frame(&chlo_with_sni(b"a.example"), false));
        assert_eq!(client_hello_sni(&little), None);
    }

    #[test]
    fn synthetic_q043_new_ack_and_ping_before_stream() {
        // ACK 0x65: n (blocks), ll = 01 (2 bytes), mm = 01 (2 bytes): largest 2, delay 2,
        // 1 block, first block 2, (gap 1 + block 2), 1 timestamp (1 + 4).
        let mut frames = hex("65 0005 0000 01 0003 01 0002 01 00 00000000 07 06 01");
        frames.extend(stream_frame(&chlo_with_sni(b"example.org"), true));
        let packet = q043_packet(&frames);
        assert_eq!(client_hello_sni(&packet).as_deref(), Some("example.org"));
    }

    #[test]
    fn synthetic_other_stream_before_crypto_stream() {
        // Stream 3, 2-byte offset, data length 2, then stream 1.
        let mut frames = hex("a4 03 0000 0002 abcd");
        frames.extend(stream_frame(&chlo_with_sni(b"example.net"), true));
        let packet = q043_packet(&frames);
        assert_eq!(client_hello_sni(&packet).as_deref(), Some("example.net"));
    }

    #[test]
    fn synthetic_q046_long_header() {
        let header = hex("c3 51303436 50 0102030405060708 00000001");
        let frames = stream_frame(&chlo_with_sni(b"www.google.com"), true);
        let packet = null_encrypted(&header, &frames, true);
        let parsed = parse_public_header(&packet).unwrap();
        assert_eq!(parsed.layout, GquicLayout::LongQ046);
        assert_eq!(
            (parsed.payload_offset, parsed.frames_offset),
            (18, Some(30))
        );
        assert_eq!(client_hello_sni(&packet).as_deref(), Some("www.google.com"));
        assert!(is_key_exchange(&packet, 0x5130_3436));
        assert!(!is_key_exchange(&packet, Q025));
    }

    #[test]
    fn synthetic_q050_header_recognised_without_sni() {
        let mut packet = hex("c3 51303530 08 0102030405060708 00 00 4050");
        packet.resize(packet.len() + 0x50, 0x5a);
        let header = parse_public_header(&packet).unwrap();
        assert_eq!(header.layout, GquicLayout::LongQ050);
        assert_eq!(header.frames_offset, None);
        assert!(is_gquic_client_packet(&packet));
        assert_eq!(client_hello_sni(&packet), None);
        assert!(!is_key_exchange(&packet, 0x5130_3530));
        // Length beyond the datagram.
        packet.truncate(packet.len() - 1);
        assert!(!is_gquic_client_packet(&packet));
    }

    #[test]
    fn sni_must_be_a_hostname() {
        for bad in [&b""[..], b"exa mple.com", b"ex\0ample", b"caf\xc3\xa9.fr"] {
            let packet = q043_packet(&stream_frame(&chlo_with_sni(bad), true));
            assert_eq!(client_hello_sni(&packet), None, "{bad:?}");
        }
        let long = vec![b'a'; MAX_HOSTNAME_LEN + 1];
        let packet = q043_packet(&stream_frame(&chlo_with_sni(&long), true));
        assert_eq!(client_hello_sni(&packet), None);
    }

    #[test]
    fn tag_table_bounds() {
        // Too many tags.
        let mut chlo = chlo_with_sni(b"example.com");
        chlo[4..6].copy_from_slice(&((MAX_TAGS + 1) as u16).to_le_bytes());
        let packet = q043_packet(&stream_frame(&chlo, true));
        assert_eq!(client_hello_sni(&packet), None);
        // Decreasing end offsets.
        let mut chlo = chlo_with_sni(b"example.com");
        chlo[12..16].copy_from_slice(&1000u32.to_le_bytes());
        let packet = q043_packet(&stream_frame(&chlo, true));
        assert_eq!(client_hello_sni(&packet), None);
        // Not a CHLO.
        let rej = message(b"REJ\0", &[(b"SNI\0", b"example.com")]);
        let packet = q043_packet(&stream_frame(&rej, true));
        assert_eq!(client_hello_sni(&packet), None);
        let header = parse_public_header(&packet).unwrap();
        let message = handshake_message(&packet, &header).unwrap();
        assert_eq!(message.tag, TAG_REJ);
        assert_eq!(message.sni().as_deref(), Some("example.com"));
    }

    #[test]
    fn rejects_other_protocols_and_bad_flags() {
        let chlo = q025_chlo();
        for (index, value) in [
            (0, 0x0f),
            (0, 0x8d),
            (0, 0x4d),
            (0, 0x09),
            (9, b'T'),
            (12, b'x'),
        ] {
            let mut packet = chlo.clone();
            packet[index] = value;
            assert!(
                !is_gquic_client_packet(&packet),
                "byte {index} = {value:#x}"
            );
        }
        let others = [
            // STUN binding request.
            hex("0001 0000 2112a442 000102030405060708090a0b"),
            // RTP.
            hex("80 6f 0001 00000000 12345678 0102030405060708090a0b0c0d0e0f"),
            // DTLS 1.2 ClientHello record.
            hex("16 fefd 0000 000000000000 0100 01 0000f4 0000 000000 0000f4 fefd 00112233"),
            // QUIC v1 Initial (RFC 9001 A.2).
            hex("c0 00000001 08 8394c8f03e515708 00 00 449e 00000002 0102030405060708"),
            // gQUIC version negotiation (server): versions right after the CID.
            hex("09 0102030405060708 51303235 51303330"),
        ];
        for packet in &others {
            assert!(!is_gquic_client_packet(packet), "{packet:02x?}");
            assert_eq!(client_hello_sni(packet), None);
        }
    }

    #[test]
    fn reset_packet_is_not_a_regular_packet() {
        let packet = hex("0e 0102030405060708 5052535400000000000000000000000000");
        assert_eq!(parse_header(&packet, Q025), None);
        assert!(!is_key_exchange(&packet, Q025));
    }

    fn exercise(bytes: &[u8]) {
        let _ = is_gquic_client_packet(bytes);
        let _ = client_hello_sni(bytes);
        for version in [Q025, Q033, 0x5130_3433, 0x5130_3436, 0x5130_3530, 1] {
            let _ = is_key_exchange(bytes, version);
            if let Some(header) = parse_header(bytes, version) {
                if let Some(message) = handshake_message(bytes, &header) {
                    let _ = message.sni();
                    let _ = message.value(*b"UAID");
                }
            }
        }
    }

    #[test]
    fn every_truncation_of_captured_packets_is_handled() {
        for packet in [
            q025_chlo(),
            q033_chlo_without_sni(),
            q025_second_chlo(),
            q025_server_ack(),
        ] {
            for len in 0..packet.len() {
                let cut = &packet[..len];
                exercise(cut);
                // A cut CHLO never yields a partial name, nor passes the hash.
                if let Some(name) = client_hello_sni(cut) {
                    assert_eq!(name, "fonts.gstatic.com");
                }
                assert!(!is_key_exchange(cut, Q025));
            }
        }
    }

    /// A generated clear client packet: the one gQUIC generator of these tests.
    #[derive(Debug, Clone)]
    struct ChloSpec {
        /// 1–43 (public header) or 46 (long header).
        version_number: u8,
        /// Public header: the two packet-number length bits; Q046: length − 1.
        packet_number_bits: u8,
        cid: [u8; 8],
        /// From Q036 the hash may include the "Client" label.
        client_label: bool,
        ping_first: bool,
        sni: String,
        /// Other tag entries, and where among them the SNI goes.
        others: Vec<([u8; 4], Vec<u8>)>,
        sni_at: prop::sample::Index,
    }

    impl ChloSpec {
        fn version(&self) -> u32 {
            let n = self.version_number;
            u32::from_be_bytes([b'Q', b'0', b'0' + n / 10, b'0' + n % 10])
        }

        fn entries(&self) -> Vec<([u8; 4], Vec<u8>)> {
            let mut entries = self.others.clone();
            entries.insert(
                self.sni_at.index(entries.len() + 1),
                (TAG_SNI, self.sni.clone().into_bytes()),
            );
            entries
        }

        fn packet(&self) -> Vec<u8> {
            let number = self.version_number;
            let mut header = Vec::new();
            if number == 46 {
                header.push(0xc0 | (self.packet_number_bits & 0b11));
                header.extend_from_slice(&self.version().to_be_bytes());
                header.push(0x50);
                header.extend_from_slice(&self.cid);
                header.extend(std::iter::repeat_n(
                    0x01,
                    usize::from(self.packet_number_bits & 0b11) + 1,
                ));
            } else {
                let cid_bits = if number < 33 {
                    FLAG_OLD_CID_LEN
                } else {
                    FLAG_CID
                };
                header.push(FLAG_VERSION | cid_bits | ((self.packet_number_bits & 0b11) << 4));
                header.extend_from_slice(&self.cid);
                header.extend_from_slice(&self.version().to_be_bytes());
                header.extend(std::iter::repeat_n(
                    0x01,
                    two_bit_len(self.packet_number_bits),
                ));
            }
            let mut plaintext = Vec::new();
            if number <= 33 {
                plaintext.push(0); // private flags
            }
            if self.ping_first {
                plaintext.push(0x07);
            }
            let entries = self.entries();
            let borrowed: Vec<(&[u8; 4], &[u8])> =
                entries.iter().map(|(t, v)| (t, &v[..])).collect();
            plaintext.extend(stream_frame(&message(b"CHLO", &borrowed), number >= 39));
            null_encrypted(&header, &plaintext, self.client_label && number >= 36)
        }
    }

    fn any_chlo() -> impl Strategy<Value = ChloSpec> {
        (
            prop_oneof![1u8..=43, Just(46u8)],
            0u8..4,
            any::<[u8; 8]>(),
            any::<bool>(),
            any::<bool>(),
            "[A-Za-z0-9_-]{1,20}(\\.[A-Za-z0-9-]{1,20}){0,3}",
            proptest::collection::vec(
                (
                    prop::sample::select(vec![*b"PAD\0", *b"VER\0", *b"UAID", *b"AEAD", *b"KEXS"]),
                    proptest::collection::vec(any::<u8>(), 0..40),
                ),
                0..4,
            ),
            any::<prop::sample::Index>(),
        )
            .prop_map(
                |(
                    version_number,
                    packet_number_bits,
                    cid,
                    client_label,
                    ping_first,
                    sni,
                    others,
                    sni_at,
                )| {
                    ChloSpec {
                        version_number,
                        packet_number_bits,
                        cid,
                        client_label,
                        ping_first,
                        sni,
                        others,
                        sni_at,
                    }
                },
            )
    }

    proptest! {
        /// A clear CHLO of any version, header layout, packet-number length, byte order and
        /// hash label reads back: header, key exchange, every tag value, the SNI lowercased.
        /// No prefix of it yields another name or passes the hash.
        #[test]
        fn generated_chlo_round_trips(spec in any_chlo()) {
            let packet = spec.packet();
            let version = spec.version();
            let header = parse_public_header(&packet).unwrap();
            prop_assert_eq!(header.version, version);
            prop_assert_eq!(header.version_number, spec.version_number);
            let layout = if spec.version_number == 46 { GquicLayout::LongQ046 } else { GquicLayout::PublicHeader };
            prop_assert_eq!(header.layout, layout);
            prop_assert_eq!(parse_header(&packet, version), Some(header));
            prop_assert!(is_gquic_client_packet(&packet));
            prop_assert!(is_key_exchange(&packet, version));
            let chlo = handshake_message(&packet, &header).unwrap();
            prop_assert_eq!(chlo.tag, TAG_CHLO);
            // The first entry of a repeated tag is the one read.
            for (tag, value) in spec.entries() {
                let first = spec.entries().into_iter().find(|(t, _)| *t == tag).unwrap().1;
                prop_assert_eq!(chlo.value(tag), Some(&first[..]));
                let _ = value;
            }
            let sni = spec.sni.to_ascii_lowercase();
            prop_assert_eq!(client_hello_sni(&packet), Some(sni.clone()));
            for cut in 0..packet.len() {
                let prefix = &packet[..cut];
                let got = client_hello_sni(prefix);
                prop_assert!(got.is_none() || got.as_deref() == Some(sni.as_str()), "cut {}: {:?}", cut, got);
                prop_assert!(!is_key_exchange(prefix, version));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            exercise(&bytes);
        }

        #[test]
        fn arbitrary_bytes_behind_a_gquic_header_never_panic(
            first in prop::sample::select(vec![0x09u8, 0x0d, 0x19, 0x29, 0x39, 0xc3, 0xd3]),
            version in prop::sample::select(vec![&b"Q025"[..], b"Q033", b"Q043", b"Q046", b"Q050"]),
            tail in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut packet = vec![first];
            if first & 0x80 != 0 {
                packet.extend_from_slice(version);
                packet.push(0x50);
                packet.extend_from_slice(&[1; 8]);
            } else {
                packet.extend_from_slice(&[1; 8]);
                packet.extend_from_slice(version);
            }
            packet.extend_from_slice(&tail);
            exercise(&packet);
        }

        #[test]
        fn corrupted_captured_chlo_never_panics(
            edits in proptest::collection::vec((0usize..1350, any::<u8>()), 1..8),
        ) {
            let mut packet = q025_chlo();
            for (index, value) in edits {
                packet[index] = value;
            }
            exercise(&packet);
            if let Some(name) = client_hello_sni(&packet) {
                prop_assert!(name.len() <= MAX_HOSTNAME_LEN);
                prop_assert!(name.bytes().all(|b| !b.is_ascii_uppercase()));
            }
        }
    }
}
