//! DTLS record recognition: DTLS 1.0/1.2 (RFC 4347, RFC 6347) and DTLS 1.3 (RFC 9147).
//!
//! DTLS carries the key exchange of WebRTC media (DTLS-SRTP, RFC 5764): the auditor needs to know
//! which datagrams of a media 5-tuple are handshake (ClientHello, ServerHello, Certificate, …)
//! and which are encrypted records. This module reads only the cleartext framing; it never
//! decrypts.
//!
//! # Layout (facts-apps §1.4)
//!
//! * Plaintext-header record, 13 bytes (RFC 6347 §4.1): content type (1) · version (2) ·
//!   epoch (2) · sequence number (6) · length (2), then `length` bytes of fragment. A datagram
//!   may carry several records back to back, so [`records`] walks them.
//! * DTLS 1.3 unified header (RFC 9147 §4): first byte `0b001CSLEE`. Its sequence number is
//!   encrypted and the connection ID length is negotiated, not written, so such a record can be
//!   recognised ([`parse_unified_header`]) but not walked past: [`records`] stops there.
//! * Handshake header inside an epoch-0 handshake record, 12 bytes (RFC 6347 §4.2.2): msg_type ·
//!   length (3) · message_seq (2) · fragment_offset (3) · fragment_length (3). In epoch > 0
//!   the handshake (DTLS 1.2 Finished) is encrypted, so [`handshake_type`] answers `None`.
//!
//! # Strictness
//!
//! Content type 20–26, one of the four versions seen in the wild (including OpenSSL's
//! pre-standard `0x0100`, which nDPI also accepts) and a non-empty fragment that fits: together
//! a 1-in-tens-of-thousands chance for random bytes, at the cost of five comparisons.
//!
//! The tls12_cid content type (25, RFC 9146) puts a connection ID of negotiated length before
//! the length field, so it cannot be delimited from the record alone: it is yielded as the last
//! record with `fragment` holding everything after the sequence number (CID, length,
//! ciphertext).
//!
//! Nothing in the record functions allocates or panics; all reads go through
//! `get`/`split_*_checked`.
//!
//! # Handshake contents ([`DtlsHandshake`])
//!
//! One [`DtlsHandshake`] per direction of a media 5-tuple reads what the cleartext part of
//! the handshake says: the ClientHello's SNI, ALPN and offered use_srtp profiles (RFC 5764
//! §4.1.1), the ServerHello's version, cipher suite and selected SRTP profile, the names in the
//! leaf certificate of the Certificate message ([`super::x509`]; WebRTC sends one in each
//! direction), and every handshake message type seen.
//!
//! * **Reassembly.** A handshake message may be split into fragments (fragment_offset,
//!   fragment_length) across records and datagrams, and fragments may arrive out of order,
//!   overlap, or be retransmitted with a different split after a PMTU change. A message sent
//!   whole in one fragment, the common case, is parsed in place without copying. Otherwise the
//!   fragments of ClientHello, ServerHello and Certificate are copied into a buffer per
//!   message, whose covered ranges are tracked (at most [`MAX_FRAGMENT_RANGES`] disjoint runs);
//!   the message is parsed once its needed prefix is covered. Fragments of another
//!   `message_seq` than the one being assembled are ignored unless newer, which restarts the
//!   assembly (a ClientHello resent with a cookie after HelloVerifyRequest).
//! * **Bounds.** Hellos up to [`MAX_HELLO_LEN`](super::tls::MAX_HELLO_LEN) (16 KiB); of a
//!   Certificate only the list header and the leaf, at most
//!   [`MAX_CERTIFICATE_LEN`](super::tls::MAX_CERTIFICATE_LEN) (64 KiB), are stored; the chain
//!   behind the leaf is never copied. At most three buffers exist at once, each freed when its
//!   message is parsed or abandoned. After [`MAX_HANDSHAKE_DATAGRAMS`] datagrams the reader
//!   stops.
//! * **End.** The cleartext handshake of a direction ends at its first record of epoch > 0
//!   (DTLS ≤ 1.2: change_cipher_spec is followed by the encrypted Finished, then application
//!   data) or DTLS 1.3 unified header, and at a ServerHello selecting DTLS 1.3: DTLS 1.3
//!   (RFC 9147 §5) encrypts everything after the ServerHello, certificates included, so for
//!   DTLS 1.3 only the hellos are read. [`DtlsHandshake::is_done`] then tells the caller to
//!   stop feeding.

use std::iter::FusedIterator;
use std::sync::Arc;

use super::tls::{self, HandshakeTypes, MAX_CERTIFICATE_LEN, MAX_HELLO_LEN};
use super::x509::{self, CertificateNames};
use super::HandshakeFound;

pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const HEARTBEAT: u8 = 24;
/// RFC 9146 record with a connection ID (see the module docs for why it ends the walk).
pub const TLS12_CID: u8 = 25;
/// DTLS 1.3 ACK (RFC 9147 §7).
pub const ACK: u8 = 26;

pub const VERSION_DTLS_1_0: u16 = 0xFEFF;
/// DTLS 1.2, also the legacy record version of DTLS 1.3 plaintext records.
pub const VERSION_DTLS_1_2: u16 = 0xFEFD;
pub const VERSION_DTLS_1_3: u16 = 0xFEFC;
/// OpenSSL's pre-RFC 4347 "DTLS1_BAD_VER", still accepted by nDPI.
pub const VERSION_DTLS_BAD_VER: u16 = 0x0100;

// Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2, RFC 8446 §4).
pub const HELLO_REQUEST: u8 = 0;
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const HELLO_VERIFY_REQUEST: u8 = 3;
pub const NEW_SESSION_TICKET: u8 = 4;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const CERTIFICATE: u8 = 11;
pub const SERVER_KEY_EXCHANGE: u8 = 12;
pub const CERTIFICATE_REQUEST: u8 = 13;
pub const SERVER_HELLO_DONE: u8 = 14;
pub const CERTIFICATE_VERIFY: u8 = 15;
pub const CLIENT_KEY_EXCHANGE: u8 = 16;
pub const FINISHED: u8 = 20;
pub const KEY_UPDATE: u8 = 24;

/// use_srtp extension type (RFC 5764 §4.1.1).
pub const EXT_USE_SRTP: u16 = 14;
// SRTP protection profiles (IANA "DTLS-SRTP Protection Profiles": RFC 5764 §4.1.2, RFC 7714
// §14.2, RFC 8723 §6).
pub const SRTP_AES128_CM_HMAC_SHA1_80: u16 = 0x0001;
pub const SRTP_AES128_CM_HMAC_SHA1_32: u16 = 0x0002;
pub const SRTP_NULL_HMAC_SHA1_80: u16 = 0x0005;
pub const SRTP_NULL_HMAC_SHA1_32: u16 = 0x0006;
pub const SRTP_AEAD_AES_128_GCM: u16 = 0x0007;
pub const SRTP_AEAD_AES_256_GCM: u16 = 0x0008;
pub const DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM: u16 = 0x0009;
pub const DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM: u16 = 0x000A;

/// The registered name of an SRTP protection profile; `None` for values this module does not
/// know (print them in hex).
pub fn srtp_profile_name(profile: u16) -> Option<&'static str> {
    Some(match profile {
        SRTP_AES128_CM_HMAC_SHA1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
        SRTP_AES128_CM_HMAC_SHA1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
        SRTP_NULL_HMAC_SHA1_80 => "SRTP_NULL_HMAC_SHA1_80",
        SRTP_NULL_HMAC_SHA1_32 => "SRTP_NULL_HMAC_SHA1_32",
        SRTP_AEAD_AES_128_GCM => "SRTP_AEAD_AES_128_GCM",
        SRTP_AEAD_AES_256_GCM => "SRTP_AEAD_AES_256_GCM",
        DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM => "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM",
        DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM => "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM",
        _ => return None,
    })
}

/// Disjoint byte runs tracked per reassembled message; more fragmentation than this (real
/// stacks send a handful of fragments per message) abandons the message.
pub const MAX_FRAGMENT_RANGES: usize = 16;
/// Datagrams with DTLS records read per direction before [`DtlsHandshake`] stops; a handshake
/// with retransmissions takes a dozen or so.
pub const MAX_HANDSHAKE_DATAGRAMS: u32 = 64;
/// Profiles kept from a ClientHello's use_srtp (browsers offer 2–4).
const MAX_SRTP_PROFILES: usize = 16;
/// TLS 1.2 / DTLS 1.2 Certificate body: list length (3), first certificate's length (3).
const CERTIFICATE_LIST_HEADER_LEN: usize = 6;

pub const RECORD_HEADER_LEN: usize = 13;
pub const HANDSHAKE_HEADER_LEN: usize = 12;
/// Content type (1) · version (2) · epoch (2) · sequence number (6): where a tls12_cid record's
/// connection ID starts.
const CID_RECORD_PREFIX_LEN: usize = 11;
/// RFC 9147 §4.2.3: record-number encryption samples 16 bytes of ciphertext, so receivers reject
/// shorter records. A unified-header record therefore carries at least this much.
const MIN_UNIFIED_CIPHERTEXT_LEN: usize = 16;

/// One record with a plaintext (DTLS ≤ 1.2 style) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtlsRecord<'a> {
    pub content_type: u8,
    pub version: u16,
    pub epoch: u16,
    /// The 48-bit record sequence number.
    pub sequence: u64,
    pub fragment: &'a [u8],
}

/// Content types 20–26 (IANA TLS ContentType registry as used by DTLS).
pub fn is_content_type(content_type: u8) -> bool {
    (CHANGE_CIPHER_SPEC..=ACK).contains(&content_type)
}

/// The record versions accepted (see [`VERSION_DTLS_BAD_VER`] for the odd one).
pub fn is_dtls_version(version: u16) -> bool {
    matches!(
        version,
        VERSION_DTLS_1_0 | VERSION_DTLS_1_2 | VERSION_DTLS_1_3 | VERSION_DTLS_BAD_VER
    )
}

/// `0b001xxxxx`: a DTLS 1.3 unified header (RFC 9147 §4; RFC 9443 keeps 32–63 for DTLS).
pub fn is_unified_header(first_byte: u8) -> bool {
    first_byte & 0xE0 == 0x20
}

/// Iterator over the records of one datagram; see [`records`].
#[derive(Debug, Clone)]
pub struct DtlsRecords<'a> {
    rest: &'a [u8],
}

impl<'a> DtlsRecords<'a> {
    /// The bytes not walked yet: after the iterator has returned `None`, empty exactly when the
    /// datagram consisted of whole plaintext-header records (or ended with a tls12_cid record).
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for DtlsRecords<'a> {
    type Item = DtlsRecord<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        // On failure `rest` is kept, so the iterator stays exhausted and `remaining()` shows
        // where it stopped (a malformed record or a unified header).
        let (record, rest) = parse_record(self.rest)?;
        self.rest = rest;
        Some(record)
    }
}

impl FusedIterator for DtlsRecords<'_> {}

/// Walks the plaintext-header records of a datagram, stopping at the first malformed one or at
/// a DTLS 1.3 unified header.
pub fn records(payload: &[u8]) -> DtlsRecords<'_> {
    DtlsRecords { rest: payload }
}

fn parse_record(bytes: &[u8]) -> Option<(DtlsRecord<'_>, &[u8])> {
    let (header, after_header) = bytes.split_first_chunk::<RECORD_HEADER_LEN>()?;
    let [content_type, v0, v1, e0, e1, s0, s1, s2, s3, s4, s5, l0, l1] = *header;
    let version = u16::from_be_bytes([v0, v1]);
    if !is_content_type(content_type) || !is_dtls_version(version) {
        return None;
    }
    let epoch = u16::from_be_bytes([e0, e1]);
    let sequence = u64::from_be_bytes([0, 0, s0, s1, s2, s3, s4, s5]);
    let (fragment, rest) = if content_type == TLS12_CID {
        (bytes.get(CID_RECORD_PREFIX_LEN..)?, &[][..])
    } else {
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        if length == 0 {
            return None;
        }
        after_header.split_at_checked(length)?
    };
    let record = DtlsRecord {
        content_type,
        version,
        epoch,
        sequence,
        fragment,
    };
    Some((record, rest))
}

/// The cleartext part of a DTLS 1.3 unified header (RFC 9147 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnifiedHeader {
    /// C bit: a connection ID of negotiated (unknown to us) length follows the first byte.
    pub has_connection_id: bool,
    /// 1 or 2 (S bit); the sequence number itself is encrypted.
    pub sequence_number_len: u8,
    /// The record length when the L bit is set and no connection ID hides its position.
    pub length: Option<u16>,
    /// The two low bits of the epoch (EE).
    pub epoch_low_bits: u8,
}

/// Recognises a DTLS 1.3 unified header and checks that the datagram can hold the record: with
/// the L bit, the length must be at least the 16-byte minimum ciphertext and fit; without it the
/// record runs to the end of the datagram, which must hold that minimum. With a connection ID
/// only the minimum size can be checked, because the CID length is not on the wire.
pub fn parse_unified_header(payload: &[u8]) -> Option<UnifiedHeader> {
    let (&first, _) = payload.split_first()?;
    if !is_unified_header(first) {
        return None;
    }
    let has_connection_id = first & 0x10 != 0;
    let sequence_number_len: u8 = if first & 0x08 != 0 { 2 } else { 1 };
    let has_length = first & 0x04 != 0;
    let epoch_low_bits = first & 0x03;
    let length_field_len = if has_length { 2 } else { 0 };
    let fixed_len = 1 + usize::from(sequence_number_len) + length_field_len;
    if payload.len() < fixed_len + MIN_UNIFIED_CIPHERTEXT_LEN {
        return None;
    }
    let length = if has_length && !has_connection_id {
        let length_offset = 1 + usize::from(sequence_number_len);
        let length = u16::from_be_bytes(*payload.get(length_offset..)?.first_chunk::<2>()?);
        let fits = usize::from(length) <= payload.len() - fixed_len;
        if usize::from(length) < MIN_UNIFIED_CIPHERTEXT_LEN || !fits {
            return None;
        }
        Some(length)
    } else {
        None
    };
    Some(UnifiedHeader {
        has_connection_id,
        sequence_number_len,
        length,
        epoch_low_bits,
    })
}

/// `true` when the datagram starts with a valid plaintext-header record or a plausible DTLS 1.3
/// unified header. Only the first record is checked: that is enough to tell DTLS from the other
/// protocols sharing a 5-tuple, and keeps the per-packet cost constant.
pub fn looks_like_dtls(payload: &[u8]) -> bool {
    match payload.first() {
        Some(&first) if is_unified_header(first) => parse_unified_header(payload).is_some(),
        Some(_) => parse_record(payload).is_some(),
        None => false,
    }
}

/// The first handshake message header of a cleartext (epoch 0) handshake record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandshakeHeader<'a> {
    pub msg_type: u8,
    /// Length of the whole (unfragmented) message.
    pub length: u32,
    pub message_seq: u16,
    pub fragment_offset: u32,
    /// This fragment of the message body (`fragment_length` bytes).
    pub body: &'a [u8],
}

/// Reads the 12-byte DTLS handshake header of an epoch-0 handshake record. The fragment must lie
/// inside the message (`offset + fragment_length <= length`) and inside the record, which rejects
/// encrypted bytes that happen to sit in an epoch-0 record.
pub fn handshake_header<'a>(record: &DtlsRecord<'a>) -> Option<HandshakeHeader<'a>> {
    if record.content_type != HANDSHAKE || record.epoch != 0 {
        return None;
    }
    let (header, after_header) = record
        .fragment
        .split_first_chunk::<HANDSHAKE_HEADER_LEN>()?;
    let [msg_type, l0, l1, l2, q0, q1, o0, o1, o2, f0, f1, f2] = *header;
    let length = u32::from_be_bytes([0, l0, l1, l2]);
    let fragment_offset = u32::from_be_bytes([0, o0, o1, o2]);
    let fragment_length = u32::from_be_bytes([0, f0, f1, f2]);
    // Each term is below 2^24, so the sum cannot overflow.
    if fragment_offset + fragment_length > length {
        return None;
    }
    let body = after_header.get(..usize::try_from(fragment_length).ok()?)?;
    Some(HandshakeHeader {
        msg_type,
        length,
        message_seq: u16::from_be_bytes([q0, q1]),
        fragment_offset,
        body,
    })
}

/// Iterator over the handshake fragments of one record; see [`handshake_messages`].
#[derive(Debug, Clone)]
pub struct HandshakeMessages<'a> {
    record: DtlsRecord<'a>,
}

impl<'a> Iterator for HandshakeMessages<'a> {
    type Item = HandshakeHeader<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let header = handshake_header(&self.record)?;
        let consumed = HANDSHAKE_HEADER_LEN.saturating_add(header.body.len());
        self.record.fragment = self.record.fragment.get(consumed..).unwrap_or(&[]);
        Some(header)
    }
}

impl FusedIterator for HandshakeMessages<'_> {}

/// Every handshake fragment of an epoch-0 handshake record (a record may hold several
/// messages back to back, e.g. ServerHello, Certificate and ServerHelloDone), stopping at the
/// first malformed one. Empty for other records.
pub fn handshake_messages<'a>(record: &DtlsRecord<'a>) -> HandshakeMessages<'a> {
    HandshakeMessages { record: *record }
}

/// What the auditor keeps from a DTLS ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DtlsClientHello {
    /// client_version (`0xFEFD` DTLS 1.2, `0xFEFF` DTLS 1.0; DTLS 1.3 offers itself in
    /// `supported_versions`).
    pub version: u16,
    /// server_name, lowercased (WebRTC clients send none).
    pub sni: Option<String>,
    /// ALPN protocol IDs (`webrtc`, `c-webrtc` per RFC 8833).
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    /// use_srtp profiles offered, in the client's order ([`srtp_profile_name`]); empty without
    /// use_srtp.
    pub srtp_profiles: Vec<u16>,
}

/// What the auditor keeps from a DTLS ServerHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtlsServerHello {
    /// From supported_versions when present (DTLS 1.3), else server_version.
    pub version: u16,
    pub cipher_suite: u16,
    /// The SRTP profile the server selected in use_srtp; `None` without use_srtp (then the
    /// DTLS session does not key SRTP).
    pub srtp_profile: Option<u16>,
}

/// A handshake message being reassembled from fragments.
#[derive(Debug)]
struct Reassembly {
    msg_type: u8,
    message_seq: u16,
    /// Length of the whole message.
    length: u32,
    /// Bytes needed from offset 0: the whole hello; for a Certificate, the list header and leaf
    /// (bounded until the leaf's length is read).
    target: usize,
    leaf_known: bool,
    /// Grows to the furthest byte written, at most `target`.
    data: Vec<u8>,
    /// Sorted, disjoint, non-adjacent covered runs `[start, end)`.
    ranges: [(usize, usize); MAX_FRAGMENT_RANGES],
    range_count: usize,
}

impl Reassembly {
    fn new(msg_type: u8, message_seq: u16, length: u32) -> Self {
        let length_usize = length as usize;
        let target = if msg_type == CERTIFICATE {
            length_usize.min(CERTIFICATE_LIST_HEADER_LEN.saturating_add(MAX_CERTIFICATE_LEN))
        } else {
            length_usize
        };
        Self {
            msg_type,
            message_seq,
            length,
            target,
            leaf_known: false,
            data: Vec::new(),
            ranges: [(0, 0); MAX_FRAGMENT_RANGES],
            range_count: 0,
        }
    }

    /// Adds a fragment; `false` when the message must be abandoned (too fragmented, or a
    /// Certificate whose leaf is too long or does not fit the message).
    fn add(&mut self, offset: usize, body: &[u8]) -> bool {
        let end = offset.saturating_add(body.len()).min(self.target);
        if offset < end {
            let wanted = body.get(..end - offset).unwrap_or(&[]);
            if self.data.len() < end {
                super::reserve_within(&mut self.data, end, self.target);
                self.data.resize(end, 0);
            }
            if let Some(slot) = self.data.get_mut(offset..end) {
                slot.copy_from_slice(wanted);
            }
            if !self.cover(offset, end) {
                return false;
            }
        }
        if self.msg_type == CERTIFICATE && !self.leaf_known {
            if let (Some(&[a, b, c]), true) = (
                self.data.get(3..CERTIFICATE_LIST_HEADER_LEN),
                self.covered() >= CERTIFICATE_LIST_HEADER_LEN,
            ) {
                let leaf_len = u32::from_be_bytes([0, a, b, c]) as usize;
                let leaf_end = CERTIFICATE_LIST_HEADER_LEN.saturating_add(leaf_len);
                if leaf_len > MAX_CERTIFICATE_LEN || leaf_end > self.length as usize {
                    return false;
                }
                self.leaf_known = true;
                self.target = leaf_end;
                self.data.truncate(leaf_end);
            }
        }
        true
    }

    /// Records `[start, end)` as covered, merging runs; `false` when there are too many runs.
    fn cover(&mut self, start: usize, end: usize) -> bool {
        let (mut start, mut end) = (start, end);
        let mut kept = [(0usize, 0usize); MAX_FRAGMENT_RANGES];
        let mut count = 0;
        let mut placed = false;
        for &(run_start, run_end) in self.ranges.iter().take(self.range_count) {
            if run_end < start || run_start > end {
                // Disjoint and not adjacent: keep in order, placing the new run before the
                // first run after it.
                if run_start > end && !placed {
                    let Some(slot) = kept.get_mut(count) else {
                        return false;
                    };
                    *slot = (start, end);
                    count += 1;
                    placed = true;
                }
                let Some(slot) = kept.get_mut(count) else {
                    return false;
                };
                *slot = (run_start, run_end);
                count += 1;
            } else {
                start = start.min(run_start);
                end = end.max(run_end);
            }
        }
        if !placed {
            let Some(slot) = kept.get_mut(count) else {
                return false;
            };
            *slot = (start, end);
            count += 1;
        }
        self.ranges = kept;
        self.range_count = count;
        true
    }

    /// Bytes covered contiguously from offset 0.
    fn covered(&self) -> usize {
        match self.ranges.first() {
            Some(&(0, end)) if self.range_count > 0 => end,
            _ => 0,
        }
    }

    fn is_complete(&self) -> bool {
        self.covered() >= self.target
    }
}

/// Reads the cleartext handshake of one DTLS direction; see the module docs.
#[derive(Debug, Default)]
pub struct DtlsHandshake {
    handshake_types: HandshakeTypes,
    /// Types whose message was parsed or abandoned.
    finished: HandshakeTypes,
    client_hello: Option<DtlsClientHello>,
    server_hello: Option<DtlsServerHello>,
    certificate: Option<Arc<CertificateNames>>,
    /// At most one per type of ClientHello, ServerHello and Certificate.
    pending: Vec<Reassembly>,
    datagrams: u32,
    done: bool,
}

impl DtlsHandshake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one datagram of this direction (not needed once [`Self::is_done`]; ignored then).
    /// Datagrams without DTLS records are ignored.
    pub fn on_datagram(&mut self, payload: &[u8]) {
        if self.done {
            return;
        }
        let mut walk = records(payload);
        let mut any = false;
        for record in walk.by_ref() {
            any = true;
            if record.epoch != 0 {
                self.finish();
                return;
            }
            for message in handshake_messages(&record) {
                self.on_fragment(&message);
                if self.done {
                    return;
                }
            }
        }
        if walk
            .remaining()
            .first()
            .copied()
            .is_some_and(is_unified_header)
        {
            self.finish();
            return;
        }
        if any {
            self.datagrams = self.datagrams.saturating_add(1);
            if self.datagrams >= MAX_HANDSHAKE_DATAGRAMS {
                self.finish();
            }
        }
    }

    /// The first ClientHello of this direction that could be parsed.
    pub fn client_hello(&self) -> Option<&DtlsClientHello> {
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

    pub fn server_hello(&self) -> Option<&DtlsServerHello> {
        self.server_hello.as_ref()
    }

    /// The names in the leaf certificate this direction sent (the DTLS server's on the server
    /// side; WebRTC clients send one too). Never available for DTLS 1.3.
    pub fn certificate(&self) -> Option<&CertificateNames> {
        self.certificate.as_deref()
    }

    /// Every handshake message type seen in clear in this direction.
    pub fn handshake_types(&self) -> HandshakeTypes {
        self.handshake_types
    }

    /// The cleartext handshake of this direction is over (or a bound was reached); further
    /// datagrams are ignored, so the caller may stop feeding them.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes allocated for reassembling fragmented messages right now: at most one buffer per
    /// ClientHello, ServerHello and Certificate, of at most [`MAX_HELLO_LEN`], [`MAX_HELLO_LEN`]
    /// and [`MAX_CERTIFICATE_LEN`] plus 6 bytes of data. Capacities, so what the allocator holds.
    pub fn buffered_bytes(&self) -> usize {
        self.pending
            .iter()
            .map(|pending| pending.data.capacity())
            .fold(0, usize::saturating_add)
    }

    /// Stops reading (as [`MAX_HANDSHAKE_DATAGRAMS`] would) and frees the buffers, for a capture
    /// over its reassembly budget; what was read stays.
    pub fn give_up(&mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        // Frees any half-reassembled message.
        self.pending = Vec::new();
    }

    fn on_fragment(&mut self, fragment: &HandshakeHeader) {
        let msg_type = fragment.msg_type;
        if tls::handshake_type_name(msg_type) == "Unknown" {
            return;
        }
        self.handshake_types.insert(msg_type);
        let wanted = matches!(msg_type, CLIENT_HELLO | SERVER_HELLO | CERTIFICATE);
        if !wanted || self.finished.contains(msg_type) {
            return;
        }
        let offset = fragment.fragment_offset as usize;
        let length = fragment.length as usize;
        if msg_type != CERTIFICATE && length > MAX_HELLO_LEN {
            self.finished.insert(msg_type);
            return;
        }
        if offset == 0 && fragment.body.len() == length {
            // The whole message in one fragment: parse in place.
            self.pending.retain(|pending| pending.msg_type != msg_type);
            self.finish_message(msg_type, fragment.body);
            return;
        }
        let index = match self
            .pending
            .iter()
            .position(|pending| pending.msg_type == msg_type)
        {
            Some(index) => {
                let Some(pending) = self.pending.get_mut(index) else {
                    return;
                };
                if pending.message_seq == fragment.message_seq {
                    if pending.length != fragment.length {
                        return; // inconsistent fragment; keep what we have
                    }
                } else if fragment.message_seq > pending.message_seq {
                    *pending = Reassembly::new(msg_type, fragment.message_seq, fragment.length);
                } else {
                    return;
                }
                index
            }
            None => {
                self.pending.push(Reassembly::new(
                    msg_type,
                    fragment.message_seq,
                    fragment.length,
                ));
                self.pending.len() - 1
            }
        };
        let Some(pending) = self.pending.get_mut(index) else {
            return;
        };
        if !pending.add(offset, fragment.body) {
            self.pending.swap_remove(index);
            self.finished.insert(msg_type);
            return;
        }
        if pending.is_complete() {
            let message = std::mem::take(&mut pending.data);
            self.pending.swap_remove(index);
            self.finish_message(msg_type, &message);
        }
    }

    fn finish_message(&mut self, msg_type: u8, message: &[u8]) {
        self.finished.insert(msg_type);
        match msg_type {
            CLIENT_HELLO => self.client_hello = parse_client_hello(message),
            SERVER_HELLO => {
                self.server_hello = parse_server_hello(message);
                if self
                    .server_hello
                    .is_some_and(|hello| hello.version == VERSION_DTLS_1_3)
                {
                    // DTLS 1.3 encrypts the rest of the handshake.
                    self.finish();
                }
            }
            CERTIFICATE => {
                self.certificate = message
                    .get(CERTIFICATE_LIST_HEADER_LEN..)
                    .and_then(x509::read_certificate);
            }
            _ => {}
        }
    }
}

/// Parses a DTLS ClientHello body (after the 12-byte handshake header), with use_srtp.
pub fn parse_client_hello(handshake_body: &[u8]) -> Option<DtlsClientHello> {
    let mut srtp_profiles = Vec::new();
    let hello = tls::parse_client_hello_with(handshake_body, true, |ext_type, data| {
        if ext_type == EXT_USE_SRTP && srtp_profiles.is_empty() {
            srtp_profiles = read_srtp_profiles(data, MAX_SRTP_PROFILES);
        }
    })?;
    Some(DtlsClientHello {
        version: hello.legacy_version,
        sni: hello.sni,
        alpn: hello.alpn,
        supported_versions: hello.supported_versions,
        srtp_profiles,
    })
}

/// Parses a DTLS ServerHello body (after the 12-byte handshake header), with use_srtp.
pub fn parse_server_hello(handshake_body: &[u8]) -> Option<DtlsServerHello> {
    let mut srtp_profile = None;
    let hello = tls::parse_server_hello_with(handshake_body, |ext_type, data| {
        if ext_type == EXT_USE_SRTP && srtp_profile.is_none() {
            srtp_profile = read_srtp_profiles(data, 1).first().copied();
        }
    })?;
    Some(DtlsServerHello {
        version: hello.selected_version,
        cipher_suite: hello.cipher_suite,
        srtp_profile,
    })
}

/// `UseSRTPData`: `SRTPProtectionProfiles<2..2^16-1>` (u16 each), then an MKI we ignore.
/// Lax: a truncated list yields the profiles that fit.
fn read_srtp_profiles(data: &[u8], limit: usize) -> Vec<u16> {
    let Some((&[hi, lo], rest)) = data.split_first_chunk::<2>() else {
        return Vec::new();
    };
    let declared = usize::from(u16::from_be_bytes([hi, lo]));
    let list = rest.get(..declared).unwrap_or(rest);
    list.chunks_exact(2)
        .take(limit)
        .filter_map(|pair| <[u8; 2]>::try_from(pair).ok())
        .map(u16::from_be_bytes)
        .collect()
}

/// The msg_type of the first handshake message in an epoch-0 handshake record; `None` for other
/// records, including epoch > 0 handshake records, which are encrypted (DTLS 1.2 Finished).
pub fn handshake_type(record: &DtlsRecord) -> Option<u8> {
    handshake_header(record).map(|header| header.msg_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    /// nDPI stun_dtls_rtp.pcapng frame 3: Chrome's ClientHello to a Google Meet media server
    /// (use_srtp offering 0x0001, 0x0008, 0x0007; no SNI, no ALPN).
    const MEET_CLIENT_HELLO: &str = "16feff00000000000000000090010000840000000000000084fefd4bf46b94af3b20dcb7ca52337eef1b8b3b149996c9b35800d1e92a7fa8ab407d00000016c02bc02fcca9cca8c009c013c00ac014009c002f00350100004400170000ff01000100000a00080006001d00170018000b0002010000230000000d00140012040308040401050308050501080606010201000e0009000600010008000700";
    /// Frame 4: the server's flight in one datagram: ServerHello (use_srtp 0x0008),
    /// Certificate (self-signed `CN=hangouts`), ServerKeyExchange, CertificateRequest,
    /// ServerHelloDone, each in its own record.
    const MEET_SERVER_FLIGHT: &str = "16fefd00000000000000000050020000440000000000000044fefd638a06259c856f925ea407bdb332638c1caf299dfb70fa9512b619c8cefae58000c02f00001c00170000ff01000100000b0002010000230000000e0005000200080016fefd000000000000000102bd0b0002b100010000000002b10002ae0002ab308202a73082018fa003020102020900bcbaa3acd3d877fb300d06092a864886f70d01010b050030133111300f06035504030c0868616e676f757473301e170d3232313133303137333531385a170d3233313230313137333531385a30133111300f06035504030c0868616e676f75747330820122300d06092a864886f70d01010105000382010f003082010a0282010100ab5cb12d5e24a8d1dd90049e179c60ede05e72866413d1c42f70b22a79d5e6deeda18352e0e78685b7106cc3cd48348e9e69476ea75cc3a64426e42088354f2e521846cffab5e0f546b87de6e3f10a58bf79ac17a1f43ef391b02ddf073eeff54dfd4a91d1fb6d39c8e6080dc49cef5089fb3af3c45cb0313ce87b2374426ace0277b93e3b3d584266e76197ca632de39f3210fa1e79e8481e72f8c8f6d0ed5fe49a9c901af5cf4cf32ccaf5891b006092415e61696ef206fb6d5c3d7b405eb8836c0ceb98f4837b9327b52bb729de30086dd08e2c73c682abb021bb02675b085a90bded68a37acba736abdf0e933d04094790eb4d78ed7ff2b26c48d2f7d2df0203010001300d06092a864886f70d01010b050003820101002d15c7be609ddf02b290e1f2991da17bc3a2a7da4a20c990a1299fc7afc9aaaf88b24361e01796bc3cf87f041f9a0c331aee4e0866e7808e1d9afd8f90d182a6c0fe2c316ae12998f283b968a1c07667ddfe067803494acd127c8fc8e08df597928f9b0f2dd38ab4242f78a849f89a6a2a8ce5f7cb70d4b9a613de9df60c1bf1fe8995dfe10ff64f8e9de8b9c5a13b252f0c3834f083930858e0c3f0c6b6d749cd9901309ca1ee47f1e18ac77c5d8760e3b21b8e0154b4ac53e9ad17cce3cb8fac943c800bd1abc72064a6f20d6b6b51daeb87d1f7a5de479a66310f4707fa1990ece79a68e9edcf557f6c5c1640abd0af69b14a1ea0be600e583f753570a92b16fefd000000000000000201340c000128000200000000012803001d209b415659f0aac556e91c7b54083dd6764fde9130d6412c96f13c9b19a80cfa1e08040100910deec6a41bafb3a15b7bf76e68f9d1ce2f93bb13b568eac15ec719e1d8dab3e5026a602311b994d3bc7bb91af9b8ca59a99236ecd951e7fefe024ac1ae1eab7244feba8eec77951957b1f244a154c4ad988e4ad2d47ce43452a9ed17c1dbb2d583aa427861f2b046c757c57c74f92cd61025f37e03f67d8fb71683c1f86f7a1580f61424df7f080944545f9117f94fc81d030111c2558a709c95b033243bb4ccc3be10449516dd3f155a307126d8a59edfaab0e3aa1fce15c8e544753176e99e551b13f62762d7382f9fd36120a3f4fde9c47c1a9b40ea70236d9c754f1f34a20908fa1e6128880f2fdc78b61e0dcea2634f539f6111d18ecaba1996e5e29b16fefd000000000000000300250d00001900030000000000190201400012040308040401050308050501080606010201000016fefd0000000000000004000c0e0000000004000000000000";
    /// Frame 6: the client's Certificate (`CN=WebRTC`), ClientKeyExchange, CertificateVerify,
    /// ChangeCipherSpec and the encrypted Finished (epoch 1).
    const MEET_CLIENT_FLIGHT: &str = "16fefd0000000000000001012b0b00011f000100000000011f00011c000119308201153081bca003020102020852e7da4252156951300a06082a8648ce3d0403023011310f300d06035504030c06576562525443301e170d3232313230313134303532355a170d3233303130313134303532355a3011310f300d06035504030c065765625254433059301306072a8648ce3d020106082a8648ce3d03010703420004dfeecc78187fdfe3d1d1b0f680fdca59b9cc8ed72fcfdd00905b7b7cf28d64cd4918021c24d6e05b85786878dde78bba0830f9ff9788676e58af88ca799bcbaf300a06082a8648ce3d040302034800304502201f3cc46359888bf50ce313883d429eab1533203995ffb0931a0e4601e40ddf12022100c721fb5f9df6697d194d74961635558f476843a73328597fdd27524567ae705316fefd0000000000000002002d100000210002000000000021200926311b3a40183533a16b1aa74e9adc6227f661a09cc89c341522678fc5be6a16fefd000000000000000300570f00004b000300000000004b040300473045022100c7b541ea6cde2ae7931f0f0aeaf387f48c2ff28839f5199d22e38a8527d48ad702200ef45f62c3389c30be59faec56b9a0c4b65871bce873a6eafce9a7f576bc435f14fefd000000000000000400010116fefd000100000000000000300001000000000000f7e79f73e3ef64a758776de5c7a199fff991058fd88389481dc109374285de43b9fce98b97aefa49";
    /// nDPI dtls_certificate_fragments.pcap frames 4 and 5: ServerHello and a 1547-byte
    /// Certificate split 1308 + 239 across two datagrams (leaf CN is a TeletexString).
    const OPERA_FLIGHT_1: &str = "16feff00000000000000010042020000360001000000000036feff7b1bc9c8b5d63ebb8e1cbe4c2bb63526c9c4012d00b49fa23d29f8609da636c200003500000eff0100010000230000000f00010116feff000000000000000205280b00060b000200000000051c00060800060530820601308203e9a0030201020202010e300d06092a864886f70d01010b050030818a310b3009060355040613024e4f310d300b060355040813044f736c6f310d300b060355040713044f736c6f311b3019060355040a13124f7065726120536f6674776172652041534131123010060355040b13094f70657261204d6178311530130603550403130c4f70657261204d6178204341311530130603550429130c4f70657261204d6178204341301e170d3139303432353039353830365a170d3139303532353039353830365a3077310b3009060355040613024e4f310d300b060355040813044f736c6f310d300b060355040713044f736c6f311b3019060355040a13124f7065726120536f6674776172652041534131123010060355040b13094f70657261204d617831193017060355040314102a2e6f706572612d6d696e692e6e657430820122300d06092a864886f70d01010105000382010f003082010a0282010100e44f33e1ef57db97fd8343535864259422abd0a93b38cb2fec26ce4fe6c649c2fe5cedeffd90837a9bcae296e62072dc967168f3b9da80f0c48b2296678e933e0c87c0e71f24f1df68480fef8888beb8f405ea62c1ac1e4f0b238ee269433ab9bd44bbc3110e015f21d803b01fe23980554ba8614b8e10826059dd65514074447ba8d6c90b4a0caa285ed9d1314dbd77cc5d2c74ebba3b3416d9c9e37eddf8389a77213eb27b9a8abc9034dae92d234867fa6ae9ec336a5e2ed0d35efd69528904caa990575c02fcf067981d3bfeeb0d3173102a32226f292ee8b6cbd445bfbb02112bf417c3e5ca45c15c62f9265020b89ba33c2ecc5257c7e708ca980857650203010001a38201813082017d30090603551d1304023000301106096086480186f8420101040403020640302b06096086480186f842010d041e161c4f70657261204d617820536572766572204365727469666963617465301d0603551d0e04160414e8091c79d5cc64a24b12abe3c7e436bd74f86d213081bf0603551d230481b73081b48014b2a3cb39e5d900a9f6076893469917305f60e0cca18190a4818d30818a310b3009060355040613024e4f310d300b060355040813044f736c6f310d300b060355040713044f736c6f311b3019060355040a13124f7065726120536f6674776172652041534131123010060355040b13094f70657261204d6178311530130603550403130c4f70657261204d6178204341311530130603550429130c4f70657261204d6178204341820900cd2927019af4a3eb30130603551d25040c300a06082b06010505070301300b0603551d0f0404030205a0302d0603551d110426302482102a2e73616d73756e676d61782e636f6d82102a2e6f706572612d6d696e692e6e6574300d06092a864886f70d01010b050003820201002cc4c6b3b7dee63f387cf6e80a167fa0721a8dfbc83073faa00abdb83a0ac2c656dc02e6e837d1b0355cb31012e9f317f95f6b946e9ce1524370f036b781c386f56454ea36eb0f559c458e89bced0c9a7eed60e07269ab766dfe9ca3869eaa8a2b4385df1f85e18ced1f364852c529c577e601d5a4d17d841167da48caaa2098d0bd98919316d16ce9c263b355052c9d97b3a9f944931280a7437404ba3482830a784b998dbd0c7a6212a1b8945de8afab73d2c86a6d6e7c3b8f3ee857f6a96af23999cf3c5eb90262614555068a5d07a91219f5c7a3d3e3dfd66a51c5553ba355e15cd5b06b3c0897cfad02720e769afb0c9b640cd99763244ac0ea3a68401641e71e113c8d8772f0204dae9e721984b7";
    const OPERA_FLIGHT_2: &str = "16feff000000000000000300fb0b00060b000200051c0000ef199670f2717feb322e6e64afc245920e455780255ae61566a2910e4497358db00e8e0947293b6e92b796e37f1d97d3a23dfa56244c531a06cce21d35042d74b0d9f48ea5e6bcaf54fe4056f7ec7cb0a6f6c640c6386d2d846008f6bea17ecc0d7ff5a4e200f5272ab6360ef64eeb535f8442ccd2eb2b900541dbceacc90c4e7e4abd0561d5740a11ce52c1f9a6a156466624318d64c73dd608316a2d9cf73825e0308e1d9473783947d8b637652998e88ce3bf0c8d95625f4961bd5bc550ef23f8cb0a95f44b6d2a95e32ddf77fabdeb5c8148169ccda30d230fa7a3c0464e559a68e0c15b99dc06c1dcc77adb4fe816feff0000000000000004000c0e0000000003000000000000";
    /// nDPI stun_zoom.pcapng frames 38 and 39: the Zoom web client's 164-byte ClientHello split
    /// 139 + 25 (ALPN `webrtc`, `c-webrtc`; four SRTP profiles).
    const ZOOM_CLIENT_HELLO_1: &str = "16feff00000000000000030097010000a4000000000000008bfefd8c5ea109bd60671d3e4578d3008a8e049ea3838242f4229c1ec163f93efdc9d300000010c02bc02fcca9cca8c00ac009c013c0140100006a00170000ff01000100000a00080006001d00170018000b000201000010001200100677656272746308632d776562727463000d0020001e0403050306030203080408050806040105010601020104020502";
    const ZOOM_CLIENT_HELLO_2: &str = "16feff00000000000000040025010000a4000000008b00001906020202001c00024000000e000b0008000700080001000200";
    /// nDPI dtls.pcap frame 8: a DTLS 1.3 ServerHello (supported_versions 0xFEFC).
    const DTLS13_SERVER_HELLO: &str = "16fefd00000000000000000083020000770000000000000077fefdcf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c00130100004f002b0002fefc002c00450043200103508e696274f267b049cd7dbbc20047a9d79be0fdb9bcaf3d1024286d1f581301cd0b21169620027f66e3eeed04050ef3a331df1e806a51ace304cfda5f1096f3";

    /// A DTLS 1.2 ClientHello as WebRTC sends it first: empty cookie, one cipher suite,
    /// use_srtp (14) offering SRTP_AES128_CM_HMAC_SHA1_80 (RFC 5764 §4.1.1).
    fn client_hello() -> Vec<u8> {
        hex("16 fe ff 0000 000000000000 0041
             01 000035 0000 000000 000035
             fe fd
             0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
             00
             00
             0002 c02b
             01 00
             0009 000e 0005 0002 0001 00")
    }

    /// HelloVerifyRequest (RFC 6347 §4.2.1): server_version and a 20-byte cookie.
    fn hello_verify_request() -> Vec<u8> {
        hex("16 fe ff 0000 000000000000 0023
             03 000017 0000 000000 000017
             fe ff 14 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3")
    }

    /// A client's last flight in one datagram: ChangeCipherSpec, then the encrypted Finished
    /// in epoch 1 (AES-GCM: 8-byte explicit nonce + 24 bytes + 16-byte tag = 48 bytes).
    fn change_cipher_spec_and_finished() -> Vec<u8> {
        let mut datagram = hex("14 fe fd 0000 000000000003 0001 01
                                16 fe fd 0001 000000000000 0030");
        datagram.extend_from_slice(&[0xa5; 48]);
        datagram
    }

    #[test]
    fn client_hello_is_a_handshake() {
        let datagram = client_hello();
        assert!(looks_like_dtls(&datagram));
        let all: Vec<DtlsRecord> = records(&datagram).collect();
        assert_eq!(all.len(), 1);
        let record = all[0];
        assert_eq!(
            (
                record.content_type,
                record.version,
                record.epoch,
                record.sequence
            ),
            (HANDSHAKE, VERSION_DTLS_1_0, 0, 0)
        );
        assert_eq!(record.fragment.len(), 0x41);
        assert_eq!(handshake_type(&record), Some(CLIENT_HELLO));
        let header = handshake_header(&record).unwrap();
        assert_eq!((header.length, header.message_seq), (0x35, 0));
        assert_eq!(&header.body[..2], &[0xfe, 0xfd]);
        let mut walk = records(&datagram);
        walk.by_ref().for_each(drop);
        assert!(walk.remaining().is_empty());
    }

    #[test]
    fn hello_verify_request_is_recognised() {
        let datagram = hello_verify_request();
        let record = records(&datagram).next().unwrap();
        assert_eq!(handshake_type(&record), Some(HELLO_VERIFY_REQUEST));
    }

    #[test]
    fn several_records_per_datagram() {
        let datagram = change_cipher_spec_and_finished();
        assert!(looks_like_dtls(&datagram));
        let mut walk = records(&datagram);
        let ccs = walk.next().unwrap();
        assert_eq!(
            (ccs.content_type, ccs.sequence, ccs.fragment),
            (CHANGE_CIPHER_SPEC, 3, &[1u8][..])
        );
        let finished = walk.next().unwrap();
        assert_eq!((finished.content_type, finished.epoch), (HANDSHAKE, 1));
        assert_eq!(
            handshake_type(&finished),
            None,
            "epoch 1 handshake is encrypted"
        );
        assert_eq!(walk.next(), None);
        assert!(walk.remaining().is_empty());
    }

    #[test]
    fn application_data_and_alert() {
        let mut datagram = hex("17 fe fd 0001 00000000002a 0020");
        datagram.extend_from_slice(&[0x11; 32]);
        let record = records(&datagram).next().unwrap();
        assert_eq!(
            (record.content_type, record.sequence),
            (APPLICATION_DATA, 42)
        );
        assert_eq!(handshake_type(&record), None);
        let alert = hex("15 fe fd 0000 000000000001 0002 02 28");
        assert!(looks_like_dtls(&alert));
    }

    #[test]
    fn dtls13_unified_header() {
        // 0b0010_1111: no CID, 16-bit sequence, length present, epoch bits 3.
        let mut datagram = hex("2f 12 34 0020");
        datagram.extend_from_slice(&[0x77; 32]);
        assert!(looks_like_dtls(&datagram));
        assert_eq!(records(&datagram).next(), None);
        assert_eq!(
            parse_unified_header(&datagram),
            Some(UnifiedHeader {
                has_connection_id: false,
                sequence_number_len: 2,
                length: Some(32),
                epoch_low_bits: 3
            })
        );
        // Length larger than the datagram.
        let mut too_long = datagram.clone();
        too_long[3] = 0x40;
        assert!(!looks_like_dtls(&too_long));
        // Shorter than the minimum ciphertext.
        assert!(!looks_like_dtls(&hex("23 01 aa bb cc")));
        // Without L the record runs to the end of the datagram.
        let mut no_length = vec![0x22, 0x07];
        no_length.extend_from_slice(&[0x55; 20]);
        assert_eq!(parse_unified_header(&no_length).unwrap().length, None);
    }

    #[test]
    fn tls12_cid_record_ends_the_walk() {
        let datagram =
            hex("19 fe fd 0001 000000000005 c1c2c3c4 0011 00112233445566778899aabbccddeeff00");
        let record = records(&datagram).next().unwrap();
        assert_eq!(record.content_type, TLS12_CID);
        assert_eq!(&record.fragment[..4], &[0xc1, 0xc2, 0xc3, 0xc4]);
        assert!(looks_like_dtls(&datagram));
    }

    #[test]
    fn rejects_non_dtls() {
        let hello = client_hello();
        let mut tls = hello.clone();
        tls[1..3].copy_from_slice(&[0x03, 0x03]);
        assert!(!looks_like_dtls(&tls));
        let mut empty_record = hex("17 fe fd 0001 000000000001 0000");
        assert!(!looks_like_dtls(&empty_record));
        empty_record.push(0);
        assert!(!looks_like_dtls(&empty_record));
        assert!(!looks_like_dtls(&hello[..hello.len() - 1]));
        let mut bad_type = hello.clone();
        bad_type[0] = 0x1b;
        assert!(!looks_like_dtls(&bad_type));
        assert!(!looks_like_dtls(&[]));
        // Handshake header claiming a fragment past the message length.
        let mut bad_fragment = hello;
        bad_fragment[24] = 0x45;
        let record = records(&bad_fragment).next().unwrap();
        assert_eq!(handshake_type(&record), None);
    }

    // ---- DtlsHandshake ----

    fn feed(handshake: &mut DtlsHandshake, datagrams: &[&str]) {
        for datagram in datagrams {
            handshake.on_datagram(&hex(datagram));
        }
    }

    fn type_names(handshake: &DtlsHandshake) -> Vec<&'static str> {
        handshake.handshake_types().names().collect()
    }

    #[test]
    fn real_meet_handshake() {
        let mut client = DtlsHandshake::new();
        feed(&mut client, &[MEET_CLIENT_HELLO]);
        let hello = client.client_hello().unwrap();
        assert_eq!(
            (hello.version, hello.sni.as_deref(), hello.alpn.len()),
            (VERSION_DTLS_1_2, None, 0)
        );
        assert_eq!(
            hello.srtp_profiles,
            [
                SRTP_AES128_CM_HMAC_SHA1_80,
                SRTP_AEAD_AES_256_GCM,
                SRTP_AEAD_AES_128_GCM
            ]
        );
        assert!(!client.is_done());

        let mut server = DtlsHandshake::new();
        feed(&mut server, &[MEET_SERVER_FLIGHT]);
        assert_eq!(
            server.server_hello(),
            Some(&DtlsServerHello {
                version: VERSION_DTLS_1_2,
                cipher_suite: 0xc02f,
                srtp_profile: Some(SRTP_AEAD_AES_256_GCM)
            })
        );
        let names = server.certificate().unwrap();
        assert_eq!(names.subject_cn.as_deref(), Some("hangouts"));
        assert!(names.self_issued && names.dns_names.is_empty());
        assert_eq!(
            type_names(&server),
            [
                "ServerHello",
                "Certificate",
                "ServerKeyExchange",
                "CertificateRequest",
                "ServerHelloDone"
            ]
        );
        assert!(!server.is_done());

        // The client's second flight ends in epoch 1: done, with the client's certificate.
        feed(&mut client, &[MEET_CLIENT_FLIGHT]);
        assert!(client.is_done());
        assert_eq!(
            client.certificate().unwrap().subject_cn.as_deref(),
            Some("WebRTC")
        );
        assert_eq!(
            type_names(&client),
            [
                "ClientHello",
                "Certificate",
                "CertificateVerify",
                "ClientKeyExchange"
            ]
        );
        assert_eq!(
            srtp_profile_name(SRTP_AEAD_AES_256_GCM),
            Some("SRTP_AEAD_AES_256_GCM")
        );
        assert_eq!(srtp_profile_name(0x0003), None);
    }

    #[test]
    fn real_fragmented_certificate_in_either_order() {
        for order in [
            [OPERA_FLIGHT_1, OPERA_FLIGHT_2],
            [OPERA_FLIGHT_2, OPERA_FLIGHT_1],
        ] {
            let mut server = DtlsHandshake::new();
            feed(&mut server, &order[..1]);
            assert!(server.certificate().is_none());
            feed(&mut server, &order[1..]);
            let names = server.certificate().unwrap();
            assert_eq!(names.subject_cn.as_deref(), Some("*.opera-mini.net"));
            assert_eq!(names.subject_org.as_deref(), Some("Opera Software ASA"));
            assert_eq!(names.issuer_cn.as_deref(), Some("Opera Max CA"));
            assert_eq!(names.dns_names, ["*.samsungmax.com", "*.opera-mini.net"]);
            assert!(server.pending.is_empty(), "the buffer is freed");
            assert_eq!(server.server_hello().unwrap().srtp_profile, None);
        }
    }

    #[test]
    fn real_fragmented_client_hello() {
        for order in [
            [ZOOM_CLIENT_HELLO_1, ZOOM_CLIENT_HELLO_2],
            [ZOOM_CLIENT_HELLO_2, ZOOM_CLIENT_HELLO_1],
        ] {
            let mut client = DtlsHandshake::new();
            // A duplicate of a fragment changes nothing.
            feed(&mut client, &[order[0], order[0]]);
            assert!(client.client_hello().is_none());
            feed(&mut client, &order[1..]);
            let hello = client.client_hello().unwrap();
            assert_eq!(hello.alpn, ["webrtc", "c-webrtc"]);
            assert_eq!(hello.srtp_profiles, [7, 8, 1, 2]);
        }
    }

    #[test]
    fn dtls13_server_hello_ends_the_handshake() {
        let mut server = DtlsHandshake::new();
        feed(&mut server, &[DTLS13_SERVER_HELLO]);
        assert_eq!(server.server_hello().unwrap().version, VERSION_DTLS_1_3);
        assert!(server.is_done());
        // A unified-header record also ends it.
        let mut other = DtlsHandshake::new();
        let mut datagram = hex("2f 12 34 0020");
        datagram.extend_from_slice(&[0x77; 32]);
        other.on_datagram(&datagram);
        assert!(other.is_done() && other.handshake_types().is_empty());
    }

    #[test]
    fn datagram_limit() {
        let mut client = DtlsHandshake::new();
        let datagram = hello_verify_request();
        for _ in 0..MAX_HANDSHAKE_DATAGRAMS {
            assert!(!client.is_done());
            client.on_datagram(&datagram);
        }
        assert!(client.is_done());
        // Not DTLS: not counted.
        let mut other = DtlsHandshake::new();
        for _ in 0..2 * MAX_HANDSHAKE_DATAGRAMS {
            other.on_datagram(b"\x00\x01 not dtls");
        }
        assert!(!other.is_done());
    }

    #[test]
    fn too_fragmented_message_is_abandoned() {
        let body = certificate_body(&hex(super::x509::samples::HANGOUTS_DER));
        let mut server = DtlsHandshake::new();
        // One-byte fragments at every other offset: disjoint runs beyond the bound.
        for offset in (0..2 * MAX_FRAGMENT_RANGES + 2).map(|i| i * 2) {
            let fragment = handshake_fragment(CERTIFICATE, 1, &body, offset, 1);
            server.on_datagram(&record(&fragment));
        }
        assert!(server.pending.is_empty());
        // Abandoned for good: even the whole message is not read again.
        let whole = handshake_fragment(CERTIFICATE, 1, &body, 0, body.len());
        server.on_datagram(&record(&whole));
        assert!(server.certificate().is_none());
    }

    /// A Certificate body (RFC 5246 §7.4.2) whose list holds `leaf` and a fake intermediate.
    fn certificate_body(leaf: &[u8]) -> Vec<u8> {
        let intermediate = vec![0x30; 700];
        let mut list = Vec::new();
        for der in [leaf, &intermediate[..]] {
            list.extend_from_slice(&(der.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(der);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        body
    }

    /// One handshake fragment (12-byte header + bytes `offset..offset + len` of `body`).
    fn handshake_fragment(
        msg_type: u8,
        message_seq: u16,
        body: &[u8],
        offset: usize,
        len: usize,
    ) -> Vec<u8> {
        let mut out = vec![msg_type];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&message_seq.to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&body[offset..offset + len]);
        out
    }

    fn record(fragment: &[u8]) -> Vec<u8> {
        serialise(&[(HANDSHAKE, VERSION_DTLS_1_2, 0, 1, fragment.to_vec())])
    }

    /// A DTLS ClientHello body with use_srtp and ALPN, padded to `padding` extra bytes.
    fn client_hello_body(profiles: &[u16], padding: usize) -> Vec<u8> {
        let mut body = hex("fefd");
        body.extend_from_slice(&[0x42; 32]);
        body.extend_from_slice(&hex("00 00 0002 c02b 01 00"));
        let mut exts = Vec::new();
        let mut srtp = ((profiles.len() * 2) as u16).to_be_bytes().to_vec();
        for p in profiles {
            srtp.extend_from_slice(&p.to_be_bytes());
        }
        srtp.push(0);
        for (ext_type, data) in [
            (EXT_USE_SRTP, srtp),
            (16, hex("0007 06 776562727463")),
            (21, vec![0; padding]),
        ] {
            exts.extend_from_slice(&ext_type.to_be_bytes());
            exts.extend_from_slice(&(data.len() as u16).to_be_bytes());
            exts.extend_from_slice(&data);
        }
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        body
    }

    proptest! {
        #[test]
        fn generated_fragmented_handshake_round_trips(
            fragment_len in 1usize..1500,
            second_fragment_len in 1usize..1500,
            per_datagram in 1usize..5,
            profiles in proptest::collection::vec(any::<u16>(), 1..6),
            padding in 0usize..3000,
            shuffle in any::<prop::sample::Index>(),
            retransmit in any::<bool>(),
        ) {
            let leaf = hex(super::x509::samples::CLOUD_ZOOM_DER);
            let certificate = certificate_body(&leaf);
            let hello = client_hello_body(&profiles, padding);
            // A flight split into fragments, optionally followed by a retransmission split
            // differently (PMTU change), records packed into datagrams, datagrams rotated.
            let mut fragments = Vec::new();
            let splits: &[usize] = if retransmit {
                &[fragment_len, second_fragment_len]
            } else {
                &[fragment_len]
            };
            for &split in splits {
                for (msg_type, seq, body) in [(CLIENT_HELLO, 0u16, &hello), (CERTIFICATE, 1, &certificate)] {
                    let mut offset = 0;
                    while offset < body.len() {
                        let len = split.min(body.len() - offset);
                        fragments.push(handshake_fragment(msg_type, seq, body, offset, len));
                        offset += len;
                    }
                }
            }
            // Stay below the datagram bound: tiny fragments are packed more densely.
            let per_datagram = per_datagram.max(fragments.len().div_ceil(60));
            let mut datagrams: Vec<Vec<u8>> = fragments
                .chunks(per_datagram)
                .map(|group| group.iter().flat_map(|f| record(f)).collect())
                .collect();
            let rotate = shuffle.index(datagrams.len());
            datagrams.rotate_left(rotate);
            let mut handshake = DtlsHandshake::new();
            for datagram in &datagrams {
                handshake.on_datagram(datagram);
                prop_assert!(handshake.pending.len() <= 2);
                for pending in &handshake.pending {
                    prop_assert!(pending.data.len() <= pending.target);
                }
            }
            let want_hello = parse_client_hello(&hello).unwrap();
            prop_assert_eq!(handshake.client_hello(), Some(&want_hello));
            prop_assert_eq!(&want_hello.srtp_profiles, &profiles);
            let want_names = super::x509::parse_certificate(&leaf);
            prop_assert_eq!(handshake.certificate(), want_names.as_ref());
            prop_assert!(handshake.pending.is_empty());
        }

        #[test]
        fn arbitrary_fragments_never_panic_and_stay_bounded(
            fragments in proptest::collection::vec(
                (prop_oneof![Just(CLIENT_HELLO), Just(SERVER_HELLO), Just(CERTIFICATE), any::<u8>()],
                 0u16..3, 0usize..70_000, 0usize..70_000, proptest::collection::vec(any::<u8>(), 0..64)),
                0..40),
        ) {
            let mut handshake = DtlsHandshake::new();
            for (msg_type, seq, length, offset, bytes) in fragments {
                let length = length.max(bytes.len());
                let offset = offset.min(length - bytes.len());
                let mut fragment = vec![msg_type];
                fragment.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
                fragment.extend_from_slice(&seq.to_be_bytes());
                fragment.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
                fragment.extend_from_slice(&(bytes.len() as u32).to_be_bytes()[1..]);
                fragment.extend_from_slice(&bytes);
                handshake.on_datagram(&record(&fragment));
                prop_assert!(handshake.pending.len() <= 3);
                for pending in &handshake.pending {
                    prop_assert!(pending.data.len() <= pending.target);
                    prop_assert!(pending.target <= CERTIFICATE_LIST_HEADER_LEN + MAX_CERTIFICATE_LEN);
                }
            }
        }

        #[test]
        fn arbitrary_datagrams_never_panic(
            datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
        ) {
            let mut handshake = DtlsHandshake::new();
            for datagram in &datagrams {
                handshake.on_datagram(datagram);
            }
        }

        #[test]
        fn truncated_real_datagrams(cut in any::<prop::sample::Index>(), which in 0usize..4) {
            let datagram = hex([MEET_SERVER_FLIGHT, OPERA_FLIGHT_1, ZOOM_CLIENT_HELLO_1, MEET_CLIENT_FLIGHT][which]);
            let cut = cut.index(datagram.len() + 1);
            let mut handshake = DtlsHandshake::new();
            handshake.on_datagram(&datagram[..cut]);
            if let Some(names) = handshake.certificate() {
                prop_assert!(names.subject_cn.is_some());
            }
        }
    }

    /// A DTLS ServerHello body: `version` in the legacy field, or DTLS 1.2 there and
    /// `version` in supported_versions; use_srtp with `profile` when given.
    fn server_hello_body(
        version: u16,
        in_extension: bool,
        cipher: u16,
        session: &[u8],
        profile: Option<u16>,
    ) -> Vec<u8> {
        let mut body = if in_extension {
            VERSION_DTLS_1_2
        } else {
            version
        }
        .to_be_bytes()
        .to_vec();
        body.extend_from_slice(&[0x24; 32]);
        body.push(session.len() as u8);
        body.extend_from_slice(session);
        body.extend_from_slice(&cipher.to_be_bytes());
        body.push(0);
        let mut exts = Vec::new();
        let mut extension = |ext_type: u16, data: &[u8]| {
            exts.extend_from_slice(&ext_type.to_be_bytes());
            exts.extend_from_slice(&(data.len() as u16).to_be_bytes());
            exts.extend_from_slice(data);
        };
        if let Some(profile) = profile {
            let mut data = hex("0002");
            data.extend_from_slice(&profile.to_be_bytes());
            data.push(0); // no MKI
            extension(EXT_USE_SRTP, &data);
        }
        if in_extension {
            extension(43, &version.to_be_bytes());
        }
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        body
    }

    proptest! {
        /// A ServerHello with any version (legacy field or supported_versions), cipher,
        /// session ID and SRTP profile reads back, alone and through the handshake reader
        /// fragmented at any size; a DTLS 1.3 one ends the cleartext handshake. A prefix of
        /// the body reads as no hello or as a hello with the fields it holds, and fragments
        /// that do not cover the message give no hello.
        #[test]
        fn generated_server_hello_round_trips(
            version in prop_oneof![Just(VERSION_DTLS_1_0), Just(VERSION_DTLS_1_2), Just(VERSION_DTLS_1_3)],
            in_extension in any::<bool>(),
            cipher in any::<u16>(),
            session in proptest::collection::vec(any::<u8>(), 0..=32),
            profile in proptest::option::of(any::<u16>()),
            fragment_len in 1usize..120,
        ) {
            let body = server_hello_body(version, in_extension, cipher, &session, profile);
            let want = DtlsServerHello { version, cipher_suite: cipher, srtp_profile: profile };
            prop_assert_eq!(parse_server_hello(&body), Some(want));
            let legacy = if in_extension { VERSION_DTLS_1_2 } else { version };
            for cut in 0..body.len() {
                if let Some(partial) = parse_server_hello(&body[..cut]) {
                    prop_assert_eq!(partial.cipher_suite, cipher);
                    prop_assert!(partial.version == version || partial.version == legacy);
                    prop_assert!(partial.srtp_profile.is_none() || partial.srtp_profile == profile);
                }
            }
            let records: Vec<Vec<u8>> = (0..body.len())
                .step_by(fragment_len)
                .map(|offset| {
                    let len = fragment_len.min(body.len() - offset);
                    record(&handshake_fragment(SERVER_HELLO, 0, &body, offset, len))
                })
                .collect();
            // Stay below the reader's datagram bound: tiny fragments share datagrams.
            let fragments: Vec<Vec<u8>> =
                records.chunks(records.len().div_ceil(32)).map(|group| group.concat()).collect();
            let mut handshake = DtlsHandshake::new();
            for (i, datagram) in fragments.iter().enumerate() {
                prop_assert_eq!(handshake.server_hello(), None, "before fragment {}", i);
                handshake.on_datagram(datagram);
            }
            prop_assert_eq!(handshake.server_hello(), Some(&want));
            prop_assert_eq!(handshake.is_done(), version == VERSION_DTLS_1_3);
            prop_assert!(handshake.handshake_types().contains(SERVER_HELLO));
        }

        /// A generated DTLS ClientHello body: every prefix reads as no hello or as a hello
        /// whose fields are (prefixes of) the full one's.
        #[test]
        fn truncated_client_hello_is_handled(
            profiles in proptest::collection::vec(any::<u16>(), 0..6),
            padding in 0usize..64,
        ) {
            let body = client_hello_body(&profiles, padding);
            let full = parse_client_hello(&body).unwrap();
            prop_assert_eq!(&full.srtp_profiles, &profiles);
            prop_assert_eq!(&full.alpn, &vec!["webrtc".to_string()]);
            for cut in 0..body.len() {
                if let Some(partial) = parse_client_hello(&body[..cut]) {
                    prop_assert_eq!(partial.version, full.version);
                    prop_assert!(full.srtp_profiles.starts_with(&partial.srtp_profiles));
                    prop_assert!(full.alpn.starts_with(&partial.alpn));
                    prop_assert_eq!(partial.sni, None);
                }
                let mut handshake = DtlsHandshake::new();
                handshake.on_datagram(&record(&handshake_fragment(CLIENT_HELLO, 0, &body[..cut], 0, cut)));
                let got = handshake.client_hello();
                prop_assert!(got.is_none() || got.map(|h| h.version) == Some(full.version));
            }
        }

        /// A DTLS 1.3 unified header (RFC 9147 §4) with any flags, sequence number and
        /// ciphertext of at least 16 bytes reads back; cuts below the minimum, or short of the
        /// length field, do not.
        #[test]
        fn unified_header_round_trips(
            has_connection_id in any::<bool>(),
            long_sequence in any::<bool>(),
            has_length in any::<bool>(),
            epoch_low_bits in 0u8..4,
            connection_id in proptest::collection::vec(any::<u8>(), 0..8),
            sequence in any::<u16>(),
            ciphertext in proptest::collection::vec(any::<u8>(), 16..80),
        ) {
            let first = 0x20
                | (u8::from(has_connection_id) << 4)
                | (u8::from(long_sequence) << 3)
                | (u8::from(has_length) << 2)
                | epoch_low_bits;
            let mut record = vec![first];
            if has_connection_id {
                record.extend_from_slice(&connection_id);
            }
            let sequence_number_len: u8 = if long_sequence { 2 } else { 1 };
            record.extend_from_slice(&sequence.to_be_bytes()[2 - usize::from(sequence_number_len)..]);
            if has_length {
                record.extend_from_slice(&(ciphertext.len() as u16).to_be_bytes());
            }
            record.extend_from_slice(&ciphertext);
            let want = UnifiedHeader {
                has_connection_id,
                sequence_number_len,
                length: (has_length && !has_connection_id).then_some(ciphertext.len() as u16),
                epoch_low_bits,
            };
            prop_assert_eq!(parse_unified_header(&record), Some(want));
            prop_assert!(looks_like_dtls(&record));
            prop_assert_eq!(records(&record).count(), 0);
            let fixed = 1 + usize::from(sequence_number_len) + if has_length { 2 } else { 0 };
            for cut in 0..record.len() {
                let got = parse_unified_header(&record[..cut]);
                prop_assert!(got.is_none() || got == Some(want));
                if cut < fixed + MIN_UNIFIED_CIPHERTEXT_LEN || want.length.is_some() {
                    prop_assert_eq!(got, None, "cut {}", cut);
                }
            }
        }
    }

    fn any_record() -> impl Strategy<Value = (u8, u16, u16, u64, Vec<u8>)> {
        (
            prop_oneof![20u8..=24, Just(ACK)],
            prop_oneof![
                Just(VERSION_DTLS_1_0),
                Just(VERSION_DTLS_1_2),
                Just(VERSION_DTLS_1_3),
                Just(VERSION_DTLS_BAD_VER)
            ],
            any::<u16>(),
            0u64..(1 << 48),
            proptest::collection::vec(any::<u8>(), 1..48),
        )
    }

    fn serialise(records: &[(u8, u16, u16, u64, Vec<u8>)]) -> Vec<u8> {
        let mut datagram = Vec::new();
        for (content_type, version, epoch, sequence, fragment) in records {
            datagram.push(*content_type);
            datagram.extend_from_slice(&version.to_be_bytes());
            datagram.extend_from_slice(&epoch.to_be_bytes());
            datagram.extend_from_slice(&sequence.to_be_bytes()[2..]);
            datagram.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
            datagram.extend_from_slice(fragment);
        }
        datagram
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = looks_like_dtls(&bytes);
            let _ = parse_unified_header(&bytes);
            for record in records(&bytes) {
                let _ = handshake_header(&record);
                let _ = handshake_type(&record);
            }
        }

        #[test]
        fn arbitrary_handshake_fragments_never_panic(
            epoch in 0u16..2,
            fragment in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let datagram = serialise(&[(HANDSHAKE, VERSION_DTLS_1_2, epoch, 0, fragment)]);
            let record = records(&datagram).next().unwrap();
            let _ = handshake_type(&record);
        }

        #[test]
        fn built_records_round_trip(built in proptest::collection::vec(any_record(), 1..4)) {
            let datagram = serialise(&built);
            prop_assert!(looks_like_dtls(&datagram));
            let parsed: Vec<(u8, u16, u16, u64, Vec<u8>)> = records(&datagram)
                .map(|r| (r.content_type, r.version, r.epoch, r.sequence, r.fragment.to_vec()))
                .collect();
            prop_assert_eq!(&parsed, &built);
        }

        #[test]
        fn every_truncation_yields_a_prefix(built in proptest::collection::vec(any_record(), 1..4)) {
            let datagram = serialise(&built);
            let first_len = RECORD_HEADER_LEN + built[0].4.len();
            for cut in 0..datagram.len() {
                let prefix = &datagram[..cut];
                let parsed: Vec<(u8, u16, u16, u64, Vec<u8>)> = records(prefix)
                    .map(|r| (r.content_type, r.version, r.epoch, r.sequence, r.fragment.to_vec()))
                    .collect();
                prop_assert!(parsed.len() < built.len());
                prop_assert_eq!(&parsed[..], &built[..parsed.len()]);
                prop_assert_eq!(looks_like_dtls(prefix), cut >= first_len);
            }
        }

        #[test]
        fn handshake_header_round_trips(
            msg_type in any::<u8>(),
            message_seq in any::<u16>(),
            body in proptest::collection::vec(any::<u8>(), 0..40),
            extra_length in 0u32..100,
        ) {
            let length = body.len() as u32 + extra_length;
            let mut fragment = vec![msg_type];
            fragment.extend_from_slice(&length.to_be_bytes()[1..]);
            fragment.extend_from_slice(&message_seq.to_be_bytes());
            fragment.extend_from_slice(&[0, 0, 0]);
            fragment.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            fragment.extend_from_slice(&body);
            let datagram = serialise(&[(HANDSHAKE, VERSION_DTLS_1_2, 0, 7, fragment)]);
            let record = records(&datagram).next().unwrap();
            let header = handshake_header(&record).unwrap();
            prop_assert_eq!(
                (header.msg_type, header.length, header.message_seq, header.fragment_offset),
                (msg_type, length, message_seq, 0)
            );
            prop_assert_eq!(header.body, &body[..]);
        }
    }
}
