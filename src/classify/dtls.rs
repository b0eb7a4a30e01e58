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
//! Nothing here allocates or panics; all reads go through `get`/`split_*_checked`.

use std::iter::FusedIterator;

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
