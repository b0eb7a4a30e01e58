//! QUIC Initial decryption, to read the client's TLS ClientHello (and so its SNI) from a QUIC
//! flow.
//!
//! # Why this works
//!
//! QUIC carries the TLS handshake in CRYPTO frames inside encrypted packets, but the Initial
//! packets are encrypted with keys derived only from the Destination Connection ID of the
//! client's first Initial, which is on the wire (RFC 9001 §5.2). Initial protection hides
//! nothing from an observer; it only stops off-path tampering. So a passive auditor can
//! remove it and read the ClientHello, exactly as Wireshark and nDPI do.
//!
//! # Steps (RFC 9001 §5, RFC 9000 §12, §17, §19)
//!
//! 1. **Keys** (RFC 9001 §5.2): `initial_secret = HKDF-Extract(salt, client's first DCID)`;
//!    `client_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)`; then
//!    HKDF-Expand-Label of the client secret with "quic key" (16 bytes), "quic iv" (12) and
//!    "quic hp" (16). HKDF-Expand-Label is TLS 1.3's (RFC 8446 §7.1), SHA-256. Per version:
//!    * QUIC v1 (RFC 9001 §5.2): salt `38762cf7f55934b34d179ae6a4c80cadccbb7f0a`;
//!    * QUIC v2 (RFC 9369 §3.3.1, §3.3.2): salt `0dede3def700a6db819381be6e269dcbf9bd2ed9`,
//!      labels "quicv2 key", "quicv2 iv", "quicv2 hp" ("client in" is unchanged); its
//!      Initial type bits are 0b01 (§3.2), which [`super::quic`] already translates;
//!    * drafts 29–32 (draft-ietf-quic-tls-29 §5.2): salt
//!      `afbfec289993d24c9e9786f19c6111e04390a899`, v1 labels; drafts 33–34 already use the v1
//!      salt. Older drafts and proprietary versions (Google Q0xx, mvfst) are not decrypted.
//! 2. **Header protection** (RFC 9001 §5.4.1–§5.4.3): a 16-byte sample taken 4 bytes after the
//!    start of the packet number is encrypted with AES-128-ECB under the hp key; the mask's
//!    first byte unmasks the low 4 bits of the first byte (long header), which give the packet
//!    number length (1–4), and the next bytes unmask the packet number.
//! 3. **Packet number** (RFC 9000 §17.1, Appendix A.3): the truncated number is expanded
//!    around the largest number decrypted so far in this flow (none: expected 0).
//! 4. **Payload** (RFC 9001 §5.3): AES-128-GCM; nonce = iv XOR the packet number, left-padded;
//!    associated data = the unprotected header up to the end of the packet number; the last
//!    16 bytes are the tag. A packet that fails authentication is skipped.
//! 5. **Frames** (RFC 9000 §12.4 lists what an Initial may carry): PADDING, PING, ACK
//!    (with or without ECN counts), CRYPTO (§19.6) and CONNECTION_CLOSE of type 0x1c are read;
//!    the walk stops at anything else (or at a frame that does not fit), keeping the CRYPTO
//!    data already seen.
//! 6. **Reassembly**: CRYPTO data is placed by offset into one buffer, so frames may come in
//!    any order, overlap, repeat, or be spread over several packets and datagrams (Chrome
//!    shuffles and splits them on purpose, and post-quantum key shares make ClientHellos of
//!    ~1.8 KB that need two Initial packets). The ClientHello is parsed by
//!    [`super::tls::parse_client_hello`] once the contiguous data from offset 0 covers the
//!    whole handshake message, whose length the 4-byte handshake header gives.
//!
//! Coalesced packets (RFC 9000 §12.2) are followed through each long header's Length field;
//! 0-RTT and Handshake packets among them are skipped, and so is anything after a packet that
//! does not parse (a short header, padding).
//!
//! # Which connection ID
//!
//! The keys come from the DCID of the client's *first* Initial and stay for the whole flow
//! (RFC 9001 §5.2): once the server has answered, the client's later Initials carry the
//! server's chosen connection ID but are still protected with the original keys. Two events
//! change the keys, and this module only sees the client's side of them:
//!
//! * a **Retry** (RFC 9000 §17.2.5.2, RFC 9001 §5.2): the client starts again with the DCID
//!   the server chose in the Retry, and Initial keys derived from it;
//! * **version negotiation** (RFC 9000 §6): the client starts again with another version,
//!   hence another salt.
//!
//! So when an Initial fails to decrypt with the flow's keys and its DCID or version differs
//! from theirs, keys derived from its own DCID and version are tried; if they work they
//! replace the flow's keys and the CRYPTO reassembly starts over (the client sends its
//! ClientHello again from offset 0). The packet number space is not reset by a Retry
//! (RFC 9000 §17.2.5.3), so the largest packet number is kept.
//!
//! # Bounds
//!
//! The classifier consults an [`InitialAssembler`] only for client→server long-header
//! datagrams of flows whose ClientHello is still unknown, so its cost is a few packets per
//! flow; a short-header packet never reaches it. Within that:
//!
//! * at most [`MAX_DATAGRAMS`] datagrams are read; after that without a ClientHello the
//!   assembler gives up;
//! * at most [`MAX_OPEN_ATTEMPTS`] packet decryptions (including the attempts with the keys
//!   of a new DCID), so a datagram full of tiny coalesced packets costs little;
//! * CRYPTO data beyond [`MAX_CRYPTO_LEN`] (64 KiB) is ignored, and a ClientHello announced
//!   longer than that is given up on; at most [`MAX_CRYPTO_RANGES`] separate received ranges
//!   are tracked (a gapped stream with more fragments than that is given up on);
//! * memory: one boxed state per flow, allocated at its first Initial, holding the keys, a
//!   scratch copy of the packet being decrypted and the CRYPTO buffer (the size of the
//!   ClientHello). It is freed as soon as the assembler is done (ClientHello found or given
//!   up); after that nothing is allocated and every call returns at once.
//!
//! Nothing here panics on any input: slices are taken with `get`/`split_*_checked`, lengths
//! are checked before use, and arithmetic on wire values is checked or saturating.
//!
//! # Limits
//!
//! * Only the client's Initials are read: the server's Initial (its ServerHello) is not.
//! * Only the first ClientHello of the flow: after a HelloRetryRequest the second one is not
//!   read (it names the same server).
//! * With Encrypted Client Hello the SNI read is the outer, public name.
//! * A capture that misses the client's first Initial may still succeed with a later one
//!   (the keys are then tried from that packet's DCID, which is right unless the server had
//!   already changed it).

use std::ops::Range;

use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::aes::Aes128;
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use super::quic::{self, LongPacket, QuicPacketType};
use super::tls::{self, ClientHello};

/// Datagrams read per flow before giving up without a ClientHello.
pub const MAX_DATAGRAMS: u32 = 8;
/// Packet decryptions tried per flow before giving up.
pub const MAX_OPEN_ATTEMPTS: u32 = 16;
/// CRYPTO stream bytes kept per flow: the largest ClientHello (handshake header included)
/// that is reassembled. Real ones are 0.3–2 KB.
pub const MAX_CRYPTO_LEN: usize = 64 * 1024;
/// Separate received ranges of the CRYPTO stream tracked at once.
pub const MAX_CRYPTO_RANGES: usize = 32;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

const LABEL_CLIENT_IN: &[u8] = b"client in";
#[cfg(test)]
const LABEL_SERVER_IN: &[u8] = b"server in";

/// The HKDF-Expand-Label labels of one version's packet protection keys.
struct KeyLabels {
    key: &'static [u8],
    iv: &'static [u8],
    hp: &'static [u8],
}

const LABELS_V1: KeyLabels = KeyLabels {
    key: b"quic key",
    iv: b"quic iv",
    hp: b"quic hp",
};
const LABELS_V2: KeyLabels = KeyLabels {
    key: b"quicv2 key",
    iv: b"quicv2 iv",
    hp: b"quicv2 hp",
};

const KEY_LEN: usize = 16;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;
/// The sample starts this far after the start of the packet number (RFC 9001 §5.4.2).
const SAMPLE_OFFSET: usize = 4;
const MAX_CONNECTION_ID_LEN: usize = 20;

const HANDSHAKE_HEADER_LEN: usize = 4;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;

// Frame types an Initial may carry (RFC 9000 §12.4, §19).
const FRAME_PADDING: u64 = 0x00;
const FRAME_PING: u64 = 0x01;
const FRAME_ACK: u64 = 0x02;
const FRAME_ACK_ECN: u64 = 0x03;
const FRAME_CRYPTO: u64 = 0x06;
const FRAME_CONNECTION_CLOSE: u64 = 0x1c;

/// Salt and labels of the versions whose Initials can be decrypted (see the module docs).
fn version_parameters(version: u32) -> Option<(&'static [u8; 20], &'static KeyLabels)> {
    match version {
        quic::VERSION_1 | 0xff00_0021 | 0xff00_0022 => Some((&SALT_V1, &LABELS_V1)),
        quic::VERSION_2 => Some((&SALT_V2, &LABELS_V2)),
        quic::VERSION_DRAFT_29..=0xff00_0020 => Some((&SALT_DRAFT_29, &LABELS_V1)),
        _ => None,
    }
}

/// Whether Initials of this version can be decrypted: v1, v2 and drafts 29–34.
pub fn is_decryptable_version(version: u32) -> bool {
    version_parameters(version).is_some()
}

/// The raw Initial key material of one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMaterial {
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
    hp: [u8; KEY_LEN],
}

/// Derives one direction's Initial keys (RFC 9001 §5.2; `direction_label` is "client in" or
/// "server in").
fn key_material(version: u32, dcid: &[u8], direction_label: &[u8]) -> Option<KeyMaterial> {
    let (salt, labels) = version_parameters(version)?;
    let initial = Hkdf::<Sha256>::new(Some(salt), dcid);
    let secret: [u8; 32] = expand_label(&initial, direction_label)?;
    let secret = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    Some(KeyMaterial {
        key: expand_label(&secret, labels.key)?,
        iv: expand_label(&secret, labels.iv)?,
        hp: expand_label(&secret, labels.hp)?,
    })
}

/// TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1): the info is the output
/// length (u16), the label prefixed with "tls13 " (u8 length) and an empty context (u8 0).
fn expand_label<const N: usize>(secret: &Hkdf<Sha256>, label: &[u8]) -> Option<[u8; N]> {
    const PREFIX: &[u8] = b"tls13 ";
    let mut info = [0u8; 64];
    let full_label_len = PREFIX.len() + label.len();
    let info_len = 2 + 1 + full_label_len + 1;
    let info = info.get_mut(..info_len)?;
    info[..2].copy_from_slice(&u16::try_from(N).ok()?.to_be_bytes());
    info[2] = u8::try_from(full_label_len).ok()?;
    info[3..3 + PREFIX.len()].copy_from_slice(PREFIX);
    info[3 + PREFIX.len()..3 + full_label_len].copy_from_slice(label);
    // The last byte, the empty context's length, is already 0.
    let mut out = [0u8; N];
    secret.expand(info, &mut out).ok()?;
    Some(out)
}

/// Ready-to-use AEAD and header-protection ciphers for one direction's Initials.
struct InitialKeys {
    packet: Aes128Gcm,
    iv: [u8; IV_LEN],
    header: Aes128,
}

impl InitialKeys {
    fn client(version: u32, dcid: &[u8]) -> Option<InitialKeys> {
        key_material(version, dcid, LABEL_CLIENT_IN).map(|m| InitialKeys::new(&m))
    }

    fn new(material: &KeyMaterial) -> InitialKeys {
        InitialKeys {
            packet: Aes128Gcm::new(&material.key.into()),
            iv: material.iv,
            header: Aes128::new(&material.hp.into()),
        }
    }

    /// AES-based header protection mask (RFC 9001 §5.4.3).
    fn header_mask(&self, sample: &[u8; SAMPLE_LEN]) -> [u8; SAMPLE_LEN] {
        let mut block = (*sample).into();
        self.header.encrypt_block(&mut block);
        block.into()
    }

    /// AEAD nonce: the IV XORed with the packet number, left-padded (RFC 9001 §5.3).
    fn nonce(&self, packet_number: u64) -> Nonce<Aes128Gcm> {
        let mut nonce = self.iv;
        for (byte, number_byte) in nonce[IV_LEN - 8..]
            .iter_mut()
            .zip(packet_number.to_be_bytes())
        {
            *byte ^= number_byte;
        }
        nonce.into()
    }
}

/// Expands a truncated packet number of `len` bytes around the largest one decrypted so far
/// (RFC 9000 Appendix A.3).
fn decode_packet_number(largest: Option<u64>, truncated: u64, len: usize) -> u64 {
    const MAX_PACKET_NUMBER: u64 = (1 << 62) - 1;
    let expected = largest.map_or(0, |largest| largest.saturating_add(1));
    let window = 1u64 << (8 * len.clamp(1, 4));
    let half_window = window / 2;
    let candidate = (expected & !(window - 1)) | truncated;
    if candidate.saturating_add(half_window) <= expected
        && candidate < (MAX_PACKET_NUMBER + 1).saturating_sub(window)
    {
        candidate + window
    } else if candidate > expected.saturating_add(half_window) && candidate >= window {
        candidate - window
    } else {
        candidate
    }
}

/// Removes header protection from an Initial packet (its exact bytes) and decrypts it into
/// `scratch`. Returns the packet number and where the plaintext frames are in `scratch`, or
/// `None` when the packet is too short or fails authentication.
fn open_packet(
    keys: &InitialKeys,
    packet: &[u8],
    number_offset: usize,
    largest: Option<u64>,
    scratch: &mut Vec<u8>,
) -> Option<(u64, Range<usize>)> {
    let sample = packet
        .get(number_offset.checked_add(SAMPLE_OFFSET)?..)?
        .first_chunk::<SAMPLE_LEN>()?;
    let mask = keys.header_mask(sample);
    scratch.clear();
    scratch.extend_from_slice(packet);

    let first = scratch.first_mut()?;
    *first ^= mask[0] & 0x0f; // long header: the low 4 bits are protected
    let number_len = usize::from(*first & 0x03) + 1;
    let header_len = number_offset + number_len;
    let mut truncated = 0u64;
    for (byte, mask_byte) in scratch
        .get_mut(number_offset..header_len)?
        .iter_mut()
        .zip(&mask[1..])
    {
        *byte ^= mask_byte;
        truncated = (truncated << 8) | u64::from(*byte);
    }
    let packet_number = decode_packet_number(largest, truncated, number_len);

    let tag_start = scratch.len().checked_sub(TAG_LEN)?;
    let ciphertext_len = tag_start.checked_sub(header_len)?;
    let (header, body) = scratch.split_at_mut_checked(header_len)?;
    let (ciphertext, tag) = body.split_at_mut_checked(ciphertext_len)?;
    let tag = Tag::<Aes128Gcm>::try_from(&*tag).ok()?;
    keys.packet
        .decrypt_inout_detached(&keys.nonce(packet_number), header, ciphertext.into(), &tag)
        .ok()?;
    Some((packet_number, header_len..tag_start))
}

/// Walks the frames of a decrypted Initial payload, handing each CRYPTO frame's offset and
/// data to `on_crypto`, which returns whether to go on. Stops at the first frame it cannot
/// read or that an Initial may not carry (RFC 9000 §12.4).
fn walk_frames(mut payload: &[u8], mut on_crypto: impl FnMut(u64, &[u8]) -> bool) {
    while let Some((frame_type, rest)) = quic::read_varint(payload) {
        let next = match frame_type {
            FRAME_PADDING => {
                let zeros = rest.iter().take_while(|&&byte| byte == 0).count();
                rest.get(zeros..)
            }
            FRAME_PING => Some(rest),
            FRAME_ACK | FRAME_ACK_ECN => skip_ack(rest, frame_type == FRAME_ACK_ECN),
            FRAME_CRYPTO => match crypto_frame(rest) {
                Some((offset, data, rest)) => {
                    if !on_crypto(offset, data) {
                        return;
                    }
                    Some(rest)
                }
                None => None,
            },
            FRAME_CONNECTION_CLOSE => skip_connection_close(rest),
            _ => None,
        };
        match next {
            Some(rest) => payload = rest,
            None => return,
        }
    }
}

/// ACK frame body (RFC 9000 §19.3): largest acknowledged, delay, range count, first range,
/// then (gap, length) pairs, then three ECN counts for type 0x03. Each pair takes at least two
/// bytes, so a huge range count ends at the end of the payload.
fn skip_ack(bytes: &[u8], ecn: bool) -> Option<&[u8]> {
    let (_largest, rest) = quic::read_varint(bytes)?;
    let (_delay, rest) = quic::read_varint(rest)?;
    let (range_count, rest) = quic::read_varint(rest)?;
    let (_first_range, mut rest) = quic::read_varint(rest)?;
    let mut remaining = range_count;
    while remaining > 0 {
        let (_gap, after_gap) = quic::read_varint(rest)?;
        let (_length, after_length) = quic::read_varint(after_gap)?;
        rest = after_length;
        remaining -= 1;
    }
    if ecn {
        for _ in 0..3 {
            rest = quic::read_varint(rest)?.1;
        }
    }
    Some(rest)
}

/// CRYPTO frame body (RFC 9000 §19.6): offset, length, data.
fn crypto_frame(bytes: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let (offset, rest) = quic::read_varint(bytes)?;
    let (length, rest) = quic::read_varint(rest)?;
    let (data, rest) = rest.split_at_checked(usize::try_from(length).ok()?)?;
    Some((offset, data, rest))
}

/// CONNECTION_CLOSE of type 0x1c (RFC 9000 §19.19): error code, frame type, reason phrase.
fn skip_connection_close(bytes: &[u8]) -> Option<&[u8]> {
    let (_error_code, rest) = quic::read_varint(bytes)?;
    let (_frame_type, rest) = quic::read_varint(rest)?;
    let (reason_len, rest) = quic::read_varint(rest)?;
    rest.get(usize::try_from(reason_len).ok()?..)
}

/// Where CRYPTO stream reassembly stands after new data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reassembly {
    NeedMore,
    /// The whole ClientHello message is in.
    Complete,
    /// The stream does not start with a ClientHello of a size we keep, or is too fragmented.
    Invalid,
}

/// The client's CRYPTO stream (Initial packet number space) from offset 0, placed by offset.
#[derive(Debug, Default)]
struct CryptoStream {
    data: Vec<u8>,
    /// Received byte ranges of `data`: sorted, disjoint and not adjacent.
    ranges: Vec<(usize, usize)>,
    /// Length of the ClientHello message, handshake header included, once that header is in.
    message_len: Option<usize>,
}

impl CryptoStream {
    fn clear(&mut self) {
        self.data.clear();
        self.ranges.clear();
        self.message_len = None;
    }

    fn insert(&mut self, offset: u64, bytes: &[u8]) -> Reassembly {
        let limit = self.message_len.unwrap_or(MAX_CRYPTO_LEN);
        let Some(start) = usize::try_from(offset).ok().filter(|&start| start < limit) else {
            // Beyond anything kept: cannot be part of the ClientHello.
            return Reassembly::NeedMore;
        };
        let end = start.saturating_add(bytes.len()).min(limit);
        let Some(bytes) = bytes.get(..end - start).filter(|b| !b.is_empty()) else {
            return Reassembly::NeedMore;
        };
        if self.data.len() < end {
            super::reserve_within(&mut self.data, end, limit);
            self.data.resize(end, 0);
        }
        if let Some(target) = self.data.get_mut(start..end) {
            target.copy_from_slice(bytes);
        }
        if !self.add_range(start, end) {
            return Reassembly::Invalid;
        }
        self.progress()
    }

    /// Records `start..end` as received, merging it with the ranges it touches.
    fn add_range(&mut self, start: usize, end: usize) -> bool {
        let mut merged = (start, end);
        self.ranges.retain(|&(s, e)| {
            let touches = s <= merged.1 && merged.0 <= e;
            if touches {
                merged = (merged.0.min(s), merged.1.max(e));
            }
            !touches
        });
        if self.ranges.len() >= MAX_CRYPTO_RANGES {
            return false;
        }
        let at = self.ranges.partition_point(|&(s, _)| s < merged.0);
        self.ranges.insert(at, merged);
        true
    }

    fn progress(&mut self) -> Reassembly {
        let contiguous = match self.ranges.first() {
            Some(&(0, end)) => end,
            _ => return Reassembly::NeedMore,
        };
        let message_len = match self.message_len {
            Some(len) => len,
            None => {
                let Some(header) = self
                    .data
                    .get(..contiguous)
                    .and_then(|d| d.first_chunk::<HANDSHAKE_HEADER_LEN>())
                else {
                    return Reassembly::NeedMore;
                };
                if header[0] != HANDSHAKE_CLIENT_HELLO {
                    return Reassembly::Invalid;
                }
                let body_len = u32::from_be_bytes([0, header[1], header[2], header[3]]);
                let len = HANDSHAKE_HEADER_LEN + body_len as usize;
                if len > MAX_CRYPTO_LEN {
                    return Reassembly::Invalid;
                }
                self.message_len = Some(len);
                len
            }
        };
        if contiguous >= message_len {
            Reassembly::Complete
        } else {
            Reassembly::NeedMore
        }
    }

    /// The ClientHello body (after the handshake header), once complete.
    fn client_hello_body(&self) -> Option<&[u8]> {
        self.data.get(HANDSHAKE_HEADER_LEN..self.message_len?)
    }
}

/// A connection ID kept inline (at most 20 bytes, RFC 9000 §17.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionId {
    bytes: [u8; MAX_CONNECTION_ID_LEN],
    len: usize,
}

impl ConnectionId {
    fn new(id: &[u8]) -> Option<ConnectionId> {
        let mut bytes = [0u8; MAX_CONNECTION_ID_LEN];
        bytes.get_mut(..id.len())?.copy_from_slice(id);
        Some(ConnectionId {
            bytes,
            len: id.len(),
        })
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// What one datagram or packet did.
enum Outcome {
    NeedMore,
    ClientHello(ClientHello),
    GiveUp,
}

/// The state of a flow that has shown a decryptable Initial.
struct Assembly {
    version: u32,
    dcid: ConnectionId,
    keys: InitialKeys,
    largest_packet_number: Option<u64>,
    open_attempts: u32,
    crypto: CryptoStream,
    /// The packet being decrypted: a copy, because the caller's bytes are shared.
    scratch: Vec<u8>,
}

impl Assembly {
    fn new(version: u32, dcid: &[u8]) -> Option<Assembly> {
        Some(Assembly {
            version,
            dcid: ConnectionId::new(dcid)?,
            keys: InitialKeys::client(version, dcid)?,
            largest_packet_number: None,
            open_attempts: 0,
            crypto: CryptoStream::default(),
            scratch: Vec::new(),
        })
    }

    fn read_initial(
        &mut self,
        packet: &[u8],
        layout: &LongPacket<'_>,
        number_offset: usize,
    ) -> Outcome {
        let (version, dcid) = (layout.header.version, layout.destination_cid);
        if self.open_attempts >= MAX_OPEN_ATTEMPTS {
            return Outcome::GiveUp;
        }
        self.open_attempts += 1;
        let mut opened = open_packet(
            &self.keys,
            packet,
            number_offset,
            self.largest_packet_number,
            &mut self.scratch,
        );
        if opened.is_none()
            && (version != self.version || dcid != self.dcid.as_slice())
            && self.open_attempts < MAX_OPEN_ATTEMPTS
        {
            // After a Retry or version negotiation (see the module docs).
            if let (Some(keys), Some(new_dcid)) =
                (InitialKeys::client(version, dcid), ConnectionId::new(dcid))
            {
                self.open_attempts += 1;
                opened = open_packet(
                    &keys,
                    packet,
                    number_offset,
                    self.largest_packet_number,
                    &mut self.scratch,
                );
                if opened.is_some() {
                    self.keys = keys;
                    self.version = version;
                    self.dcid = new_dcid;
                    self.crypto.clear();
                }
            }
        }
        let Some((packet_number, plaintext)) = opened else {
            return Outcome::NeedMore;
        };
        self.largest_packet_number = Some(
            self.largest_packet_number
                .map_or(packet_number, |largest| largest.max(packet_number)),
        );
        let Some(frames) = self.scratch.get(plaintext) else {
            return Outcome::NeedMore;
        };
        let crypto = &mut self.crypto;
        let mut state = Reassembly::NeedMore;
        walk_frames(frames, |offset, data| {
            state = crypto.insert(offset, data);
            state == Reassembly::NeedMore
        });
        match state {
            Reassembly::NeedMore => Outcome::NeedMore,
            Reassembly::Invalid => Outcome::GiveUp,
            Reassembly::Complete => {
                match crypto.client_hello_body().and_then(tls::parse_client_hello) {
                    Some(hello) => Outcome::ClientHello(hello),
                    None => Outcome::GiveUp,
                }
            }
        }
    }
}

/// Reads one QUIC flow's ClientHello out of the client's Initial packets (see the module
/// docs). Feed it the flow's client→server datagrams that start with a long header, until
/// [`InitialAssembler::is_done`].
#[derive(Default)]
pub struct InitialAssembler {
    datagrams: u32,
    done: bool,
    /// Allocated at the first decryptable Initial, freed when done.
    assembly: Option<Box<Assembly>>,
}

impl InitialAssembler {
    /// Feed one client→server UDP datagram. Returns the ClientHello once complete (once).
    pub fn on_client_datagram(&mut self, payload: &[u8]) -> Option<ClientHello> {
        if self.done {
            return None;
        }
        self.datagrams += 1;
        match self.read_datagram(payload) {
            Outcome::ClientHello(hello) => {
                self.finish();
                Some(hello)
            }
            Outcome::GiveUp => {
                self.finish();
                None
            }
            Outcome::NeedMore => {
                if self.datagrams >= MAX_DATAGRAMS {
                    self.finish();
                }
                None
            }
        }
    }

    /// Gave up or finished: the caller stops feeding.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes allocated for the flow's Initials right now: the CRYPTO buffer (at most
    /// [`MAX_CRYPTO_LEN`]), its range list and the copy of the packet being decrypted.
    pub fn buffered_bytes(&self) -> usize {
        self.assembly.as_ref().map_or(0, |assembly| {
            let ranges = assembly.crypto.ranges.capacity() * std::mem::size_of::<(usize, usize)>();
            assembly
                .crypto
                .data
                .capacity()
                .saturating_add(ranges)
                .saturating_add(assembly.scratch.capacity())
        })
    }

    /// Stops reading (as [`MAX_DATAGRAMS`] would) and frees the buffers, for a capture over its
    /// reassembly budget.
    pub fn give_up(&mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        self.assembly = None;
    }

    /// Reads every coalesced Initial of the datagram (RFC 9000 §12.2).
    fn read_datagram(&mut self, datagram: &[u8]) -> Outcome {
        let mut rest = datagram;
        while let Some(layout) = quic::parse_long_packet(rest) {
            let Some((packet, next)) = rest.split_at_checked(layout.packet_len) else {
                break;
            };
            rest = next;
            let Some(number_offset) = layout.packet_number_offset else {
                continue;
            };
            if layout.header.packet_type != QuicPacketType::Initial {
                continue;
            }
            let assembly = match &mut self.assembly {
                Some(assembly) => assembly,
                None => {
                    // The first Initial: its DCID keys the flow (RFC 9001 §5.2).
                    let Some(assembly) =
                        Assembly::new(layout.header.version, layout.destination_cid)
                    else {
                        continue; // a version we cannot decrypt
                    };
                    self.assembly.insert(Box::new(assembly))
                }
            };
            match assembly.read_initial(packet, &layout, number_offset) {
                Outcome::NeedMore => {}
                done => return done,
            }
        }
        Outcome::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    /// The client's first DCID in RFC 9001 Appendix A and RFC 9369 Appendix A.
    const RFC_DCID: &str = "8394c8f03e515708";

    /// RFC 9001 Appendix A.2: the protected client Initial, a 1200-byte datagram.
    const RFC9001_CLIENT_INITIAL: &str = "
        c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
        d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
        1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
        8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
        30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
        457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
        4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
        4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
        485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
        059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
        7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
        9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
        be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
        68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
        c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
        f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
        291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
        25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
        14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
        ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
        e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
        c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
        203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
        cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
        fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
        a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
        90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
        162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
        40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
        6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
        8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
        be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
        54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
        760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
        f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
        056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
        7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
        e221af44860018ab0856972e194cd934";

    /// RFC 9369 Appendix A.2: the same client Initial under QUIC v2.
    const RFC9369_CLIENT_INITIAL: &str = "
        d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
        dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
        9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
        250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
        12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
        cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
        18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
        12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
        d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
        6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
        bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
        636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
        ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
        16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
        4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
        fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
        8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
        14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
        9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
        abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
        80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
        848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
        d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
        c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
        7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
        f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
        10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
        3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
        06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
        8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
        34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
        e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
        5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
        8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
        d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
        6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
        9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
        a18b2faa745b6fe189cf772a9f84cbfc";

    fn rfc9001_packet() -> Vec<u8> {
        hex(RFC9001_CLIENT_INITIAL)
    }

    /// The decrypted payload of the RFC 9001 A.2 packet: one CRYPTO frame (offset 0, 241
    /// bytes: the ClientHello for example.com), then PADDING to 1162 bytes.
    fn rfc9001_plaintext() -> Vec<u8> {
        let keys = InitialKeys::client(quic::VERSION_1, &hex(RFC_DCID)).unwrap();
        let mut scratch = Vec::new();
        let (number, range) =
            open_packet(&keys, &rfc9001_packet(), 18, None, &mut scratch).unwrap();
        assert_eq!(number, 2);
        scratch[range].to_vec()
    }

    fn encode_varint(value: u64) -> Vec<u8> {
        match value {
            0..=0x3f => vec![value as u8],
            0x40..=0x3fff => ((value as u16) | 0x4000).to_be_bytes().to_vec(),
            0x4000..=0x3fff_ffff => ((value as u32) | 0x8000_0000).to_be_bytes().to_vec(),
            _ => (value | 0xc000_0000_0000_0000).to_be_bytes().to_vec(),
        }
    }

    fn crypto_frame_bytes(offset: usize, data: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x06];
        frame.extend(encode_varint(offset as u64));
        frame.extend(encode_varint(data.len() as u64));
        frame.extend_from_slice(data);
        frame
    }

    /// Protects an Initial as a client does (RFC 9001 §5.3, §5.4): the inverse of
    /// `open_packet`. `key_dcid` picks the keys, `dcid` is what the header carries.
    fn seal_initial(
        version: u32,
        key_dcid: &[u8],
        dcid: &[u8],
        packet_number: u64,
        number_len: usize,
        frames: &[u8],
    ) -> Vec<u8> {
        let keys = InitialKeys::client(version, key_dcid).unwrap();
        let type_bits = if version == quic::VERSION_2 {
            0b01
        } else {
            0b00
        };
        let mut packet = vec![0xc0 | (type_bits << 4) | (number_len as u8 - 1)];
        packet.extend(version.to_be_bytes());
        packet.push(dcid.len() as u8);
        packet.extend_from_slice(dcid);
        packet.push(0); // no SCID
        packet.push(0); // no token
        let mut payload = frames.to_vec();
        // The header-protection sample needs 4 + 16 bytes after the packet number's start.
        payload.resize(payload.len().max(4), 0);
        let length = number_len + payload.len() + TAG_LEN;
        packet.extend(((length as u16) | 0x4000).to_be_bytes());
        let number_offset = packet.len();
        packet.extend_from_slice(&packet_number.to_be_bytes()[8 - number_len..]);
        let tag = keys
            .packet
            .encrypt_inout_detached(
                &keys.nonce(packet_number),
                &packet,
                payload.as_mut_slice().into(),
            )
            .unwrap();
        packet.extend(payload);
        packet.extend_from_slice(&tag);
        let sample: [u8; 16] = packet[number_offset + 4..number_offset + 20]
            .try_into()
            .unwrap();
        let mask = keys.header_mask(&sample);
        packet[0] ^= mask[0] & 0x0f;
        for i in 0..number_len {
            packet[number_offset + i] ^= mask[1 + i];
        }
        packet
    }

    /// A TLS 1.3 ClientHello message (handshake header included) naming `sni`, with a
    /// key_share extension of `key_share_len` bytes (post-quantum shares are ~1.2 KB).
    fn client_hello_message(sni: &str, key_share_len: usize) -> Vec<u8> {
        let mut server_name = vec![0x00]; // host_name
        server_name.extend((sni.len() as u16).to_be_bytes());
        server_name.extend_from_slice(sni.as_bytes());
        let mut server_name_ext = (server_name.len() as u16).to_be_bytes().to_vec();
        server_name_ext.extend(server_name);

        let mut extensions = Vec::new();
        for (ext_type, data) in [
            (0x0000u16, server_name_ext),
            (0x0033, vec![0x42; key_share_len]),
        ] {
            extensions.extend(ext_type.to_be_bytes());
            extensions.extend((data.len() as u16).to_be_bytes());
            extensions.extend(data);
        }
        let mut body = hex("0303");
        body.extend([0x11; 32]); // random
        body.extend(hex("00 0002 1301 01 00")); // session ID, cipher suites, compression
        body.extend((extensions.len() as u16).to_be_bytes());
        body.extend(extensions);
        let mut message = vec![0x01];
        message.extend(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend(body);
        message
    }

    fn sni_of(hello: Option<ClientHello>) -> Option<String> {
        hello.and_then(|hello| hello.sni)
    }

    #[test]
    fn rfc_key_derivation() {
        let dcid = hex(RFC_DCID);
        // RFC 9001 Appendix A.1.
        let client = key_material(quic::VERSION_1, &dcid, LABEL_CLIENT_IN).unwrap();
        assert_eq!(client.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(client.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(client.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let server = key_material(quic::VERSION_1, &dcid, LABEL_SERVER_IN).unwrap();
        assert_eq!(server.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(server.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(server.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
        // RFC 9369 Appendix A.1.
        let client = key_material(quic::VERSION_2, &dcid, LABEL_CLIENT_IN).unwrap();
        assert_eq!(client.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(client.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(client.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
        let server = key_material(quic::VERSION_2, &dcid, LABEL_SERVER_IN).unwrap();
        assert_eq!(server.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
        assert_eq!(server.iv.to_vec(), hex("dd13c276499c0249d3310652"));
        assert_eq!(server.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
        // Unknown versions have no keys.
        assert!(key_material(0xff00_001c, &dcid, LABEL_CLIENT_IN).is_none());
        assert!(is_decryptable_version(quic::VERSION_DRAFT_29));
        assert!(!is_decryptable_version(0x5130_3530));
    }

    #[test]
    fn rfc9001_client_initial_yields_client_hello() {
        let mut assembler = InitialAssembler::default();
        let hello = assembler.on_client_datagram(&rfc9001_packet()).unwrap();
        assert_eq!(hello.sni.as_deref(), Some("example.com"));
        assert_eq!(hello.alpn, vec!["alpn".to_string()]);
        assert_eq!(hello.max_version(), 0x0304);
        assert!(assembler.is_done());
        assert!(assembler.assembly.is_none(), "state freed once done");
        // Once only.
        assert_eq!(assembler.on_client_datagram(&rfc9001_packet()), None);
    }

    #[test]
    fn rfc9369_v2_client_initial_yields_client_hello() {
        let packet = hex(RFC9369_CLIENT_INITIAL);
        assert_eq!(packet.len(), 1200);
        let mut assembler = InitialAssembler::default();
        let hello = assembler.on_client_datagram(&packet);
        assert_eq!(sni_of(hello).as_deref(), Some("example.com"));
        // The v2 packet's plaintext is A.2's: same frames, other keys.
        let keys = InitialKeys::client(quic::VERSION_2, &hex(RFC_DCID)).unwrap();
        let mut scratch = Vec::new();
        let (number, range) = open_packet(&keys, &packet, 18, None, &mut scratch).unwrap();
        assert_eq!(number, 2);
        assert_eq!(scratch[range].to_vec(), rfc9001_plaintext());
    }

    #[test]
    fn sealing_reproduces_the_rfc_packets() {
        // Checks the test helper itself against the RFCs, byte for byte.
        let dcid = hex(RFC_DCID);
        let plaintext = rfc9001_plaintext();
        assert_eq!(plaintext.len(), 1162);
        assert_eq!(&plaintext[..4], &hex("060040f1")[..]);
        assert!(plaintext[4 + 241..].iter().all(|&b| b == 0));
        let sealed = seal_initial(quic::VERSION_1, &dcid, &dcid, 2, 4, &plaintext);
        assert_eq!(sealed, rfc9001_packet());
        let sealed = seal_initial(quic::VERSION_2, &dcid, &dcid, 2, 4, &plaintext);
        assert_eq!(sealed, hex(RFC9369_CLIENT_INITIAL));
    }

    #[test]
    fn client_hello_split_across_two_packets_and_datagrams() {
        let hello = client_hello_message("meet.google.com", 1600);
        assert!(hello.len() > 1600);
        let original_dcid = hex("0011223344556677");
        let server_chosen = hex("a1a2a3a4a5a6a7a8a9");
        let first = seal_initial(
            quic::VERSION_1,
            &original_dcid,
            &original_dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hello[..1100]),
        );
        // The second Initial carries the server's chosen DCID but the original keys.
        let second = seal_initial(
            quic::VERSION_1,
            &original_dcid,
            &server_chosen,
            1,
            1,
            &crypto_frame_bytes(1100, &hello[1100..]),
        );
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&first), None);
        assert!(!assembler.is_done());
        let got = assembler.on_client_datagram(&second);
        assert_eq!(sni_of(got).as_deref(), Some("meet.google.com"));
        assert!(assembler.is_done());

        // The same two datagrams in the other order.
        let mut assembler = InitialAssembler::default();
        let first_again = seal_initial(
            quic::VERSION_1,
            &original_dcid,
            &original_dcid,
            1,
            1,
            &crypto_frame_bytes(1100, &hello[1100..]),
        );
        let second_again = seal_initial(
            quic::VERSION_1,
            &original_dcid,
            &server_chosen,
            0,
            1,
            &crypto_frame_bytes(0, &hello[..1100]),
        );
        assert_eq!(assembler.on_client_datagram(&first_again), None);
        let got = assembler.on_client_datagram(&second_again);
        assert_eq!(sni_of(got).as_deref(), Some("meet.google.com"));
    }

    #[test]
    fn coalesced_initials_in_one_datagram() {
        let hello = client_hello_message("teams.microsoft.com", 1400);
        let dcid = hex("0102030405060708");
        let mut datagram = seal_initial(
            quic::VERSION_2,
            &dcid,
            &dcid,
            0,
            2,
            &crypto_frame_bytes(0, &hello[..700]),
        );
        // A 0-RTT packet (v2 type bits 0b10) between the two Initials is skipped.
        let mut zero_rtt = hex("e0 6b3343cf 08 0102030405060708 00 4020");
        zero_rtt.resize(zero_rtt.len() + 32, 0x77);
        datagram.extend(zero_rtt);
        datagram.extend(seal_initial(
            quic::VERSION_2,
            &dcid,
            &dcid,
            1,
            2,
            &crypto_frame_bytes(700, &hello[700..]),
        ));
        datagram.extend([0u8; 40]); // trailing padding, not a packet
        let mut assembler = InitialAssembler::default();
        let got = assembler.on_client_datagram(&datagram);
        assert_eq!(sni_of(got).as_deref(), Some("teams.microsoft.com"));
    }

    #[test]
    fn crypto_frames_out_of_order_with_other_frames() {
        let hello = client_hello_message("webex.com", 300);
        let chunks: Vec<(usize, &[u8])> = hello
            .chunks(37)
            .enumerate()
            .map(|(i, chunk)| (i * 37, chunk))
            .collect();
        let mut frames = Vec::new();
        for (i, (offset, chunk)) in chunks.iter().rev().enumerate() {
            frames.extend(crypto_frame_bytes(*offset, chunk));
            match i % 5 {
                0 => frames.push(0x01),                             // PING
                1 => frames.extend([0u8; 7]),                       // PADDING
                2 => frames.extend(hex("02 05 00 01 02 00 01")),    // ACK, one more range
                3 => frames.extend(hex("03 05 00 00 05 01 02 03")), // ACK with ECN counts
                _ => frames.extend(hex("1c 00 00 03 616263")),      // CONNECTION_CLOSE
            }
        }
        // A duplicate, overlapping frame too.
        frames.extend(crypto_frame_bytes(10, &hello[10..90]));
        let dcid = hex("99");
        let packet = seal_initial(quic::VERSION_1, &dcid, &dcid, 0, 4, &frames);
        let mut assembler = InitialAssembler::default();
        let got = assembler.on_client_datagram(&packet);
        assert_eq!(sni_of(got).as_deref(), Some("webex.com"));
    }

    #[test]
    fn frames_after_an_unknown_frame_are_not_read() {
        let hello = client_hello_message("example.org", 10);
        let mut frames = crypto_frame_bytes(0, &hello[..20]);
        frames.push(0x08); // STREAM: not allowed in an Initial
        frames.extend(crypto_frame_bytes(20, &hello[20..]));
        let dcid = hex("0102030405060708");
        let packet = seal_initial(quic::VERSION_1, &dcid, &dcid, 0, 1, &frames);
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&packet), None);
        assert!(!assembler.is_done());
        // The rest arriving later completes it.
        let packet = seal_initial(
            quic::VERSION_1,
            &dcid,
            &dcid,
            1,
            1,
            &crypto_frame_bytes(20, &hello[20..]),
        );
        let got = assembler.on_client_datagram(&packet);
        assert_eq!(sni_of(got).as_deref(), Some("example.org"));
    }

    #[test]
    fn retry_switches_to_the_new_dcid() {
        let hello = client_hello_message("zoom.us", 900);
        let first_dcid = hex("0102030405060708");
        let retry_scid = hex("f0f1f2f3f4f5f6f7f8f9");
        let before_retry = seal_initial(
            quic::VERSION_1,
            &first_dcid,
            &first_dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hello[..500]),
        );
        // After the Retry, the whole ClientHello again, under keys from the Retry's SCID.
        let after_retry = seal_initial(
            quic::VERSION_1,
            &retry_scid,
            &retry_scid,
            1,
            1,
            &crypto_frame_bytes(0, &hello),
        );
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&before_retry), None);
        let got = assembler.on_client_datagram(&after_retry);
        assert_eq!(sni_of(got).as_deref(), Some("zoom.us"));
    }

    #[test]
    fn version_negotiation_switches_keys() {
        let hello = client_hello_message("example.net", 100);
        let dcid = hex("0102030405060708");
        let draft = seal_initial(
            quic::VERSION_DRAFT_29,
            &dcid,
            &dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hello[..50]),
        );
        let v1 = seal_initial(
            quic::VERSION_1,
            &dcid,
            &dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hello),
        );
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&draft), None);
        assert_eq!(
            assembler.assembly.as_ref().unwrap().version,
            quic::VERSION_DRAFT_29
        );
        let got = assembler.on_client_datagram(&v1);
        assert_eq!(sni_of(got).as_deref(), Some("example.net"));
    }

    #[test]
    fn draft29_initial() {
        let hello = client_hello_message("quic.draft29.example", 1000);
        let dcid = hex("c0ffee");
        let packet = seal_initial(
            quic::VERSION_DRAFT_29,
            &dcid,
            &dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hello),
        );
        let mut assembler = InitialAssembler::default();
        let got = assembler.on_client_datagram(&packet);
        assert_eq!(sni_of(got).as_deref(), Some("quic.draft29.example"));
    }

    #[test]
    fn tampered_packet_is_skipped() {
        let mut tampered = rfc9001_packet();
        tampered[600] ^= 0x01;
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&tampered), None);
        assert!(!assembler.is_done());
        let got = assembler.on_client_datagram(&rfc9001_packet());
        assert_eq!(sni_of(got).as_deref(), Some("example.com"));
    }

    #[test]
    fn gives_up_after_max_datagrams() {
        let mut tampered = rfc9001_packet();
        tampered[1199] ^= 0x01;
        let mut assembler = InitialAssembler::default();
        for _ in 0..MAX_DATAGRAMS {
            assert!(!assembler.is_done());
            assert_eq!(assembler.on_client_datagram(&tampered), None);
        }
        assert!(assembler.is_done());
        assert!(assembler.assembly.is_none());
        assert_eq!(assembler.on_client_datagram(&rfc9001_packet()), None);
    }

    #[test]
    fn gives_up_after_max_open_attempts() {
        // One datagram of many tiny coalesced Initials that all fail authentication.
        let dcid = hex("0102030405060708");
        let mut packet = seal_initial(quic::VERSION_1, &dcid, &dcid, 0, 1, &[0x01]);
        let last = packet.len() - 1;
        packet[last] ^= 0x01;
        let datagram = packet.repeat(40);
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&datagram), None);
        assert!(assembler.is_done());
    }

    #[test]
    fn stream_not_starting_with_a_client_hello_gives_up() {
        let dcid = hex("0102030405060708");
        // A ServerHello-type message at offset 0.
        let packet = seal_initial(
            quic::VERSION_1,
            &dcid,
            &dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hex("02000004 03030000")),
        );
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&packet), None);
        assert!(assembler.is_done());
    }

    #[test]
    fn oversized_client_hello_gives_up() {
        let dcid = hex("0102030405060708");
        // Announces a 65,536-byte body: more than MAX_CRYPTO_LEN with its header.
        let packet = seal_initial(
            quic::VERSION_1,
            &dcid,
            &dcid,
            0,
            1,
            &crypto_frame_bytes(0, &hex("01010000 0303")),
        );
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&packet), None);
        assert!(assembler.is_done());
    }

    #[test]
    fn crypto_data_beyond_the_bound_is_ignored() {
        let hello = client_hello_message("example.com", 50);
        let mut frames = crypto_frame_bytes(MAX_CRYPTO_LEN, &[1, 2, 3]);
        frames.extend(crypto_frame_bytes(usize::MAX >> 2, &[1]));
        frames.extend(crypto_frame_bytes(0, &hello));
        let dcid = hex("0102030405060708");
        let packet = seal_initial(quic::VERSION_1, &dcid, &dcid, 0, 1, &frames);
        let mut assembler = InitialAssembler::default();
        let got = assembler.on_client_datagram(&packet);
        assert_eq!(sni_of(got).as_deref(), Some("example.com"));
    }

    #[test]
    fn too_many_fragments_gives_up() {
        let mut frames = Vec::new();
        for i in 0..=MAX_CRYPTO_RANGES {
            frames.extend(crypto_frame_bytes(2 + 2 * i, &[0xaa]));
        }
        let dcid = hex("0102030405060708");
        let packet = seal_initial(quic::VERSION_1, &dcid, &dcid, 0, 1, &frames);
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&packet), None);
        assert!(assembler.is_done());
    }

    #[test]
    fn undecryptable_versions_are_ignored() {
        // Draft-28 uses another salt: not decrypted, no state kept.
        let mut packet = rfc9001_packet();
        packet[1..5].copy_from_slice(&0xff00_001cu32.to_be_bytes());
        let mut assembler = InitialAssembler::default();
        assert_eq!(assembler.on_client_datagram(&packet), None);
        assert!(assembler.assembly.is_none());
        assert!(!assembler.is_done());
    }

    #[test]
    fn every_truncation_of_the_rfc9001_packet() {
        let packet = rfc9001_packet();
        for cut in 0..packet.len() {
            let mut assembler = InitialAssembler::default();
            assert_eq!(
                assembler.on_client_datagram(&packet[..cut]),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn packet_number_decoding() {
        // RFC 9000 Appendix A.3's example.
        assert_eq!(
            decode_packet_number(Some(0xa82f_30ea), 0x9b32, 2),
            0xa82f_9b32
        );
        assert_eq!(decode_packet_number(None, 2, 4), 2);
        assert_eq!(decode_packet_number(None, 0xff, 1), 0xff);
        assert_eq!(decode_packet_number(Some(0xfe), 0x01, 1), 0x101);
        assert_eq!(decode_packet_number(Some(0x101), 0xff, 1), 0xff);
        assert_eq!(
            decode_packet_number(Some(u64::MAX), 0, 1),
            0xffff_ffff_ffff_ff00
        );
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            datagrams in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..1400), 0..12)
        ) {
            let mut assembler = InitialAssembler::default();
            for datagram in &datagrams {
                let _ = assembler.on_client_datagram(datagram);
            }
            if datagrams.len() >= MAX_DATAGRAMS as usize {
                prop_assert!(assembler.is_done());
            }
        }

        #[test]
        fn arbitrary_bytes_after_a_long_header_never_panic(
            first in 0xc0u8..=0xff,
            version in prop_oneof![
                Just(quic::VERSION_1), Just(quic::VERSION_2), Just(quic::VERSION_DRAFT_29)
            ],
            tail in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut datagram = vec![first];
            datagram.extend(version.to_be_bytes());
            datagram.extend(tail);
            let mut assembler = InitialAssembler::default();
            let _ = assembler.on_client_datagram(&datagram);
        }

        #[test]
        fn authenticated_garbage_frames_never_panic(
            frames in proptest::collection::vec(any::<u8>(), 0..800),
            prefix in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            // Frames that decrypt fine but are nonsense: the parser past the AEAD.
            let dcid = hex("0102030405060708");
            let mut payload = prefix;
            payload.extend(frames);
            let packet = seal_initial(quic::VERSION_1, &dcid, &dcid, 0, 1, &payload);
            let mut assembler = InitialAssembler::default();
            let _ = assembler.on_client_datagram(&packet);
        }

        #[test]
        fn mutated_rfc_packet_never_panics(at in 0usize..1200, flip in 1u8..=255) {
            let mut packet = rfc9001_packet();
            packet[at] ^= flip;
            let mut assembler = InitialAssembler::default();
            let got = sni_of(assembler.on_client_datagram(&packet));
            // Header protection and the AEAD leave no way to a different answer.
            prop_assert!(got.is_none() || got.as_deref() == Some("example.com"));
        }

        /// A ClientHello from the TLS tests' generator (any SNI, ALPN, supported_versions,
        /// padding), protected for any decryptable version, DCID and packet number, in one
        /// Initial or split over two (coalesced in one datagram or sent in two), reads back
        /// exactly. No prefix of a datagram yields a hello.
        #[test]
        fn generated_initial_round_trips(
            spec in crate::classify::tls::tests::hello_spec(),
            version in prop_oneof![
                Just(quic::VERSION_1), Just(quic::VERSION_2), Just(quic::VERSION_DRAFT_29)
            ],
            dcid in proptest::collection::vec(any::<u8>(), 0..=20),
            number_len in 1usize..=4,
            packet_number in any::<u32>(),
            split in any::<prop::sample::Index>(),
            coalesce in any::<bool>(),
        ) {
            let body = crate::classify::tls::tests::client_hello_body(&spec);
            let mut hello = vec![HANDSHAKE_CLIENT_HELLO];
            hello.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            hello.extend_from_slice(&body);
            // The first packet's number decodes around 0: keep it inside the window.
            let packet_number = u64::from(packet_number) % (1 << (8 * number_len - 1));
            let split = split.index(hello.len() + 1);
            let first = seal_initial(
                version, &dcid, &dcid, packet_number, number_len, &crypto_frame_bytes(0, &hello[..split]),
            );
            let second = seal_initial(
                version, &dcid, &dcid, packet_number + 1, number_len,
                &crypto_frame_bytes(split, &hello[split..]),
            );
            let datagrams = if split == hello.len() {
                vec![first.clone()]
            } else if coalesce {
                vec![[first.clone(), second].concat()]
            } else {
                vec![first.clone(), second]
            };
            let mut assembler = InitialAssembler::default();
            let mut got = None;
            for datagram in &datagrams {
                prop_assert!(got.is_none());
                got = assembler.on_client_datagram(datagram);
            }
            prop_assert_eq!(got, Some(crate::classify::tls::tests::expected(&spec)));
            prop_assert!(assembler.is_done());
            // Cuts inside the first packet fail its Length check before any decryption; past
            // it (coalesced) each cut decrypts the first packet, so those are sampled.
            let datagram = &datagrams[0];
            for cut in (0..datagram.len()).filter(|&cut| cut < first.len() || cut % 61 == 0) {
                let mut assembler = InitialAssembler::default();
                prop_assert_eq!(assembler.on_client_datagram(&datagram[..cut]), None, "cut {}", cut);
            }
        }

        #[test]
        fn any_fragmentation_reassembles(
            key_share_len in 0usize..2500,
            mut cuts in proptest::collection::vec(1usize..4000, 0..10),
            order_seed in any::<u64>(),
            packets in 1usize..=6,
        ) {
            let hello = client_hello_message("fragmented.example", key_share_len);
            cuts.retain(|&cut| cut < hello.len());
            cuts.push(0);
            cuts.push(hello.len());
            cuts.sort_unstable();
            cuts.dedup();
            let mut pieces: Vec<(usize, &[u8])> = cuts
                .windows(2)
                .map(|w| (w[0], &hello[w[0]..w[1]]))
                .collect();
            // A deterministic shuffle from the seed.
            let mut state = order_seed | 1;
            for i in (1..pieces.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                pieces.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let dcid = hex("0a0b0c0d0e0f1011");
            let mut assembler = InitialAssembler::default();
            let mut got = None;
            for packet_number in 0..packets {
                let frames: Vec<u8> = pieces
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % packets == packet_number)
                    .flat_map(|(_, (offset, data))| crypto_frame_bytes(*offset, data))
                    .collect();
                let packet =
                    seal_initial(quic::VERSION_1, &dcid, &dcid, packet_number as u64, 2, &frames);
                if let Some(hello) = assembler.on_client_datagram(&packet) {
                    prop_assert!(got.is_none());
                    got = Some(hello);
                }
            }
            let sni = sni_of(got);
            prop_assert_eq!(sni.as_deref(), Some("fragmented.example"));
        }
    }
}
