//! RTP and RTCP recognition (RFC 3550), with rtcp-mux demultiplexing (RFC 5761), the RFC 3551
//! static payload types and SRTP/SRTCP framing (RFC 3711, RFC 7714).
//!
//! Media is what the auditor counts, and RTP is also the easiest protocol to mistake: any
//! encrypted datagram whose first byte is 0x80–0xBF has a "version 2" header. So recognition is
//! split in two:
//!
//! 1. [`parse_rtp`] / [`parse_rtcp`] check one packet's header for internal consistency. They are
//!    necessary, not sufficient.
//! 2. [`RtpStreamTracker`] confirms RTP only after several packets of one stream agree (same
//!    SSRC, same payload type, sequence numbers advancing). Random bytes repeat a 32-bit SSRC
//!    with probability 2⁻³², so they never get confirmed.
//!
//! # RTP vs RTCP on one port
//!
//! With rtcp-mux, RTCP packet types 192–223 occupy the second byte where RTP has marker and
//! payload type; RFC 5761 §4 forbids RTP payload types 64–95 for that reason. [`parse_rtp`]
//! rejects 72–95 (the second byte of RTCP 200–223 with any marker value), [`parse_rtcp`] wants
//! 200–207 (SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR) as the first packet type.
//!
//! # SRTP and SRTCP
//!
//! SRTP keeps the RTP header in the clear, so [`parse_rtp`] works on it unchanged; its padding
//! byte however is encrypted and followed by the authentication tag, so the padding check only
//! rejects impossible values (zero, or longer than the payload) and errs towards accepting.
//!
//! SRTCP encrypts everything after the first 8 bytes of a compound packet and appends
//! `E‖SRTCP index` (4 bytes) and a tag (10 bytes for the HMAC-SHA1 profiles; for AEAD-GCM the
//! 16-byte tag precedes the index), see RFC 3711 §3.4 and RFC 7714 §9. So the length walk of
//! [`parse_rtcp`] can only see the first packet of an encrypted compound packet; the rest must
//! end in a plausible SRTCP trailer, see [`parse_rtcp`].
//!
//! Nothing here allocates or panics; all reads go through `get`/`split_*_checked`.

/// RTP fixed header: V/P/X/CC · M/PT · sequence (2) · timestamp (4) · SSRC (4).
pub const FIXED_HEADER_LEN: usize = 12;
/// RFC 5761 §4: payload types whose second byte (with M set) would read as RTCP 200–223.
const RTCP_COLLIDING_PAYLOAD_TYPES: std::ops::RangeInclusive<u8> = 72..=95;
/// Packet types a compound RTCP packet may start with: SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR.
const FIRST_RTCP_PACKET_TYPES: std::ops::RangeInclusive<u8> = 200..=207;
const SRTCP_INDEX_LEN: usize = 4;
/// The longest SRTCP authentication tag in use (AEAD-GCM, RFC 7714).
const MAX_SRTCP_TAG_LEN: usize = 16;
/// HMAC-SHA1 tag of SRTCP: 80 bits for both the _80 and _32 profiles (RFC 5764 §4.1.2).
const SRTCP_HMAC_SHA1_TAG_LEN: usize = 10;

pub const RTCP_SR: u8 = 200;
pub const RTCP_RR: u8 = 201;
pub const RTCP_SDES: u8 = 202;
pub const RTCP_BYE: u8 = 203;
pub const RTCP_APP: u8 = 204;
pub const RTCP_RTPFB: u8 = 205;
pub const RTCP_PSFB: u8 = 206;
pub const RTCP_XR: u8 = 207;

/// The fields of an RTP header that classification needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Fixed header, CSRC list and header extension: where the (S)RTP payload starts.
    pub header_len: usize,
}

/// Checks one RTP packet: version 2; fixed header, CSRC list and header extension (if X) fit;
/// payload type outside the rtcp-mux collision range 72–95; if P is set, the last byte is a
/// padding count between 1 and the bytes after the header.
pub fn parse_rtp(payload: &[u8]) -> Option<RtpHeader> {
    let (fixed, after_fixed) = payload.split_first_chunk::<FIXED_HEADER_LEN>()?;
    let [b0, b1, q0, q1, t0, t1, t2, t3, s0, s1, s2, s3] = *fixed;
    if b0 >> 6 != 2 {
        return None;
    }
    let payload_type = b1 & 0x7F;
    if RTCP_COLLIDING_PAYLOAD_TYPES.contains(&payload_type) {
        return None;
    }
    let csrc_len = usize::from(b0 & 0x0F) * 4;
    let after_csrc = after_fixed.get(csrc_len..)?;
    let mut header_len = FIXED_HEADER_LEN + csrc_len;
    if b0 & 0x10 != 0 {
        let [_, _, w0, w1] = *after_csrc.first_chunk::<4>()?;
        header_len += 4 + usize::from(u16::from_be_bytes([w0, w1])) * 4;
        if header_len > payload.len() {
            return None;
        }
    }
    if b0 & 0x20 != 0 {
        let padding = usize::from(*payload.last()?);
        if padding == 0 || padding > payload.len() - header_len {
            return None;
        }
    }
    Some(RtpHeader {
        marker: b1 & 0x80 != 0,
        payload_type,
        sequence: u16::from_be_bytes([q0, q1]),
        timestamp: u32::from_be_bytes([t0, t1, t2, t3]),
        ssrc: u32::from_be_bytes([s0, s1, s2, s3]),
        header_len,
    })
}

/// The header extension of an RTP packet (RFC 3550 §5.3.1): the 16-bit profile (`0xBEDE`
/// one-byte elements, `0x100x` two-byte elements, RFC 8285; vendor values such as WhatsApp's
/// `0xDEBE`) and the extension data. `None` when X is not set or the packet is not RTP.
pub fn header_extension(payload: &[u8]) -> Option<(u16, &[u8])> {
    let header = parse_rtp(payload)?;
    let (&first, _) = payload.split_first()?;
    if first & 0x10 == 0 {
        return None;
    }
    let extension_start = FIXED_HEADER_LEN + usize::from(first & 0x0F) * 4;
    let extension = payload.get(extension_start..header.header_len)?;
    let (profile, data) = extension.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*profile), data.get(2..)?))
}

/// RTCP packet types (RFC 5761 §4: 192–223 is the range that can collide with RTP).
pub fn is_rtcp_packet_type(second_byte: u8) -> bool {
    (192..=223).contains(&second_byte)
}

/// What [`parse_rtcp`] learnt from a (compound) RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtcpInfo {
    pub first_packet_type: u8,
    /// Packets walked in the clear; for encrypted SRTCP this is normally 1.
    pub packets: u16,
}

/// Walks a compound RTCP packet by its length fields. The first packet must be version 2, type
/// 200–207, and fit; following packets must be version 2, type 192–223, and fit. Where the walk
/// stops, the rest must be one of:
///
/// * nothing: plain RTCP;
/// * 4–20 bytes: an SRTCP trailer (E‖index, plus a tag of up to 16 bytes) after packets that
///   are all in the clear (unencrypted SRTCP, or a single-packet encrypted one);
/// * more than 20 bytes: encrypted SRTCP, whose later packets are ciphertext. Then the E flag
///   must be set where one of the profiles puts it: 14 bytes from the end (HMAC-SHA1, 10-byte
///   tag) or 4 bytes from the end (AEAD-GCM). An MKI is not allowed for (WebRTC never uses one).
pub fn parse_rtcp(payload: &[u8]) -> Option<RtcpInfo> {
    let (first_len, first_packet_type) = rtcp_packet_len(payload)?;
    if !FIRST_RTCP_PACKET_TYPES.contains(&first_packet_type) {
        return None;
    }
    let mut packets: u16 = 1;
    let mut rest = payload.get(first_len..)?;
    while let Some((len, _)) = rtcp_packet_len(rest) {
        rest = rest.get(len..)?;
        packets = packets.saturating_add(1);
    }
    let unwalked = rest.len();
    let srtcp_e_flag_at = |from_end: usize| {
        payload
            .len()
            .checked_sub(from_end)
            .and_then(|at| payload.get(at))
            .is_some_and(|&byte| byte & 0x80 != 0)
    };
    let plausible = unwalked == 0
        || (SRTCP_INDEX_LEN..=SRTCP_INDEX_LEN + MAX_SRTCP_TAG_LEN).contains(&unwalked)
        || (unwalked > SRTCP_INDEX_LEN + MAX_SRTCP_TAG_LEN
            && (srtcp_e_flag_at(SRTCP_INDEX_LEN + SRTCP_HMAC_SHA1_TAG_LEN)
                || srtcp_e_flag_at(SRTCP_INDEX_LEN)));
    plausible.then_some(RtcpInfo {
        first_packet_type,
        packets,
    })
}

/// Length in bytes and type of the RTCP packet at the start of `bytes`, if its header is valid
/// and it fits.
fn rtcp_packet_len(bytes: &[u8]) -> Option<(usize, u8)> {
    let [b0, packet_type, l0, l1] = *bytes.first_chunk::<4>()?;
    if b0 >> 6 != 2 || !is_rtcp_packet_type(packet_type) {
        return None;
    }
    let len = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
    (len <= bytes.len()).then_some((len, packet_type))
}

/// The media type of an RFC 3551 static payload type. 0–18 are audio (1 and 2 are reserved,
/// 13 is comfort noise), 25–34 video (33, MPEG-2 TS, can carry both and is counted as video).
/// Dynamic types 96–127 depend on the SDP, so they are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// See [`MediaKind`].
pub fn static_media_kind(payload_type: u8) -> Option<MediaKind> {
    match payload_type {
        0..=18 => Some(MediaKind::Audio),
        25..=34 => Some(MediaKind::Video),
        _ => None,
    }
}

/// The tracker's judgement on one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtpVerdict {
    /// The packet belongs to a stream seen with consistent SSRC, payload type and sequence.
    Confirmed,
    /// A valid RTP header whose stream has not been confirmed (yet).
    Candidate,
    /// Not an RTP packet.
    NotRtp,
}

/// Packets of one stream, in order, needed before it is confirmed.
const PACKETS_TO_CONFIRM: u8 = 3;
/// A forward step larger than this restarts a candidate stream (it is a new stream, a
/// restart, or not RTP at all).
const MAX_SEQUENCE_STEP: u16 = 100;
/// A packet this far behind the newest one counts as reordered or duplicated, not as a reset.
const MAX_REORDER_DISTANCE: u16 = 100;
const STREAM_SLOTS: usize = 3;

/// Confirms RTP over several packets of one flow direction.
///
/// # Rule
///
/// The tracker follows up to three SSRCs (audio, video and retransmission streams share one
/// 5-tuple under BUNDLE), most recently seen first. For each it keeps the last sequence number,
/// the payload type and how many packets advanced in order.
///
/// * A stream is **confirmed** by its third in-order packet: three packets with the same SSRC
///   and payload type, each advancing the sequence number by 1..=100 (modulo 2¹⁶).
/// * Before that its packets are **candidates**. A duplicate or a packet up to 100 behind
///   (reordering) is tolerated without counting; a larger jump or a payload-type change restarts
///   the count at 1.
/// * Once confirmed, every packet with that SSRC is `Confirmed`, whatever its payload type:
///   one SSRC legitimately switches between e.g. Opus, telephone-event and comfort noise.
/// * A new SSRC takes a free slot, else replaces the least recently seen *unconfirmed* stream,
///   and only when all three are confirmed the least recently seen confirmed one — so stray
///   packets cannot un-confirm the live streams of a call; at worst they evict a stream that
///   has gone quiet, which re-confirms after three packets if it comes back.
///
/// The tracker is 24 bytes, `Copy`, and does no allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpStreamTracker {
    /// Most recently seen first; `in_order_packets == 0` marks a free slot.
    streams: [StreamState; STREAM_SLOTS],
}

const _: () = assert!(std::mem::size_of::<RtpStreamTracker>() <= 32);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StreamState {
    ssrc: u32,
    last_sequence: u16,
    payload_type: u8,
    /// 0 = free slot, 1..PACKETS_TO_CONFIRM = candidate, PACKETS_TO_CONFIRM = confirmed.
    in_order_packets: u8,
}

impl StreamState {
    fn start(header: &RtpHeader) -> Self {
        StreamState {
            ssrc: header.ssrc,
            last_sequence: header.sequence,
            payload_type: header.payload_type,
            in_order_packets: 1,
        }
    }

    fn is_used(&self) -> bool {
        self.in_order_packets > 0
    }

    fn is_confirmed(&self) -> bool {
        self.in_order_packets >= PACKETS_TO_CONFIRM
    }

    fn verdict(&self) -> RtpVerdict {
        if self.is_confirmed() {
            RtpVerdict::Confirmed
        } else {
            RtpVerdict::Candidate
        }
    }

    /// Updates the stream with a packet of its SSRC.
    fn advance(&mut self, header: &RtpHeader) -> RtpVerdict {
        let step = header.sequence.wrapping_sub(self.last_sequence);
        if self.is_confirmed() {
            if (1..0x8000).contains(&step) {
                self.last_sequence = header.sequence;
            }
            return RtpVerdict::Confirmed;
        }
        let is_late = step == 0 || step > u16::MAX - MAX_REORDER_DISTANCE;
        if header.payload_type != self.payload_type {
            *self = StreamState::start(header);
        } else if (1..=MAX_SEQUENCE_STEP).contains(&step) {
            self.in_order_packets += 1;
            self.last_sequence = header.sequence;
        } else if !is_late {
            *self = StreamState::start(header);
        }
        self.verdict()
    }
}

impl RtpStreamTracker {
    /// Feeds one packet header of this flow direction; see the type docs for the rule.
    pub fn observe(&mut self, header: &RtpHeader) -> RtpVerdict {
        // Only reachable with a hand-made header: parse_rtp never returns these.
        if header.payload_type > 0x7F || RTCP_COLLIDING_PAYLOAD_TYPES.contains(&header.payload_type)
        {
            return RtpVerdict::NotRtp;
        }
        let known = self
            .streams
            .iter()
            .position(|stream| stream.is_used() && stream.ssrc == header.ssrc);
        let (index, verdict) = match known {
            Some(index) => {
                let verdict = self
                    .streams
                    .get_mut(index)
                    .map_or(RtpVerdict::Candidate, |stream| stream.advance(header));
                (index, verdict)
            }
            None => {
                let index = self.slot_for_new_stream();
                if let Some(stream) = self.streams.get_mut(index) {
                    *stream = StreamState::start(header);
                }
                (index, RtpVerdict::Candidate)
            }
        };
        // Move the stream to the front so the back holds the least recently seen.
        if let Some(recent_first) = self.streams.get_mut(..=index) {
            recent_first.rotate_right(1);
        }
        verdict
    }

    /// Parses `payload` as RTP and observes it; `NotRtp` when the header is invalid.
    pub fn observe_payload(&mut self, payload: &[u8]) -> RtpVerdict {
        parse_rtp(payload).map_or(RtpVerdict::NotRtp, |header| self.observe(&header))
    }

    /// `true` once any stream of this direction has been confirmed.
    pub fn has_confirmed_stream(&self) -> bool {
        self.streams.iter().any(StreamState::is_confirmed)
    }

    fn slot_for_new_stream(&self) -> usize {
        self.streams
            .iter()
            .rposition(|stream| !stream.is_confirmed())
            .unwrap_or(STREAM_SLOTS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    fn rtp(payload_type: u8, sequence: u16, ssrc: u32) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type,
            sequence,
            timestamp: 0,
            ssrc,
            header_len: FIXED_HEADER_LEN,
        }
    }

    #[test]
    fn opus_packet_with_one_byte_extension() {
        // WebRTC Opus (PT 111) with a one-byte-header extension (audio level, RFC 6464),
        // followed by 4 bytes of SRTP payload and a 10-byte tag.
        let packet = hex("90 6f 1a 2b 00 01 e2 40 de ad be ef
             be de 00 01 10 ff 00 00
             01 02 03 04 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9");
        let header = parse_rtp(&packet).unwrap();
        assert_eq!(
            header,
            RtpHeader {
                marker: false,
                payload_type: 111,
                sequence: 0x1a2b,
                timestamp: 123_456,
                ssrc: 0xdead_beef,
                header_len: 20
            }
        );
        assert_eq!(
            header_extension(&packet),
            Some((0xbede, &[0x10, 0xff, 0, 0][..]))
        );
        assert_eq!(static_media_kind(header.payload_type), None);
    }

    #[test]
    fn pcmu_with_csrcs_and_padding() {
        // PT 0 with marker, two CSRCs, 3 payload bytes + 3 bytes of padding (count 3).
        let packet = hex("a2 80 00 07 00 00 00 a0 11 22 33 44 00 00 00 01 00 00 00 02
             ff ff ff 00 00 03");
        let header = parse_rtp(&packet).unwrap();
        assert!(header.marker);
        assert_eq!(header.header_len, 20);
        assert_eq!(
            static_media_kind(header.payload_type),
            Some(MediaKind::Audio)
        );
        assert_eq!(header_extension(&packet), None);
        let mut bad_padding = packet.clone();
        *bad_padding.last_mut().unwrap() = 0;
        assert_eq!(parse_rtp(&bad_padding), None);
        *bad_padding.last_mut().unwrap() = 7;
        assert_eq!(parse_rtp(&bad_padding), None);
    }

    #[test]
    fn rejects_non_rtp() {
        assert_eq!(parse_rtp(&hex("40 6f 00 01 00 00 00 00 00 00 00 01")), None);
        // RTCP RR under rtcp-mux: second byte 201 = M + PT 73.
        assert_eq!(parse_rtp(&hex("81 c9 00 07 00 00 00 01 00 00 00 00")), None);
        assert_eq!(parse_rtp(&hex("80 6f 00 01 00 00 00 00 00 00 00")), None);
        // CSRC count 2 but no room for them.
        assert_eq!(
            parse_rtp(&hex("82 6f 00 01 00 00 00 00 00 00 00 01 00 00")),
            None
        );
        // Extension length pointing past the end.
        assert_eq!(
            parse_rtp(&hex(
                "90 6f 00 01 00 00 00 00 00 00 00 01 be de 00 02 00 00 00 00"
            )),
            None
        );
    }

    #[test]
    fn static_payload_types() {
        assert_eq!(static_media_kind(8), Some(MediaKind::Audio));
        assert_eq!(static_media_kind(18), Some(MediaKind::Audio));
        assert_eq!(static_media_kind(19), None);
        assert_eq!(static_media_kind(26), Some(MediaKind::Video));
        assert_eq!(static_media_kind(34), Some(MediaKind::Video));
        assert_eq!(static_media_kind(96), None);
    }

    /// RFC 3550 compound packet: RR with one report block, then SDES with a CNAME.
    fn receiver_report_and_sdes() -> Vec<u8> {
        hex("81 c9 00 07 11 22 33 44
             55 66 77 88 00 00 00 00 00 00 10 00 00 00 00 05 00 00 00 00 00 00 00 00
             81 ca 00 03 11 22 33 44 01 04 61 62 63 64")
    }

    #[test]
    fn plain_compound_rtcp() {
        let mut packet = receiver_report_and_sdes();
        packet.extend_from_slice(&[0, 0]); // SDES item list end + padding to 32 bits
        assert_eq!(
            parse_rtcp(&packet),
            Some(RtcpInfo {
                first_packet_type: RTCP_RR,
                packets: 2
            })
        );
        assert!(parse_rtp(&packet).is_none());
        // One stray byte is neither RTCP nor an SRTCP trailer.
        packet.push(0);
        assert_eq!(parse_rtcp(&packet), None);
    }

    #[test]
    fn srtcp_layouts() {
        // Single sender report, encrypted, with E‖index and an 80-bit tag.
        let mut single = hex("80 c8 00 06 11 22 33 44");
        single.extend_from_slice(&[0x5a; 20]);
        single.extend_from_slice(&hex("80 00 00 01"));
        single.extend_from_slice(&[0xa0; 10]);
        assert_eq!(parse_rtcp(&single).map(|info| info.packets), Some(1));

        // Encrypted compound SR + SDES: only the first header is readable.
        let mut compound = hex("80 c8 00 06 11 22 33 44");
        compound.extend_from_slice(&[0x00; 24 + 16]);
        let mut hmac = compound.clone();
        hmac.extend_from_slice(&hex("80 00 00 2a"));
        hmac.extend_from_slice(&[0x00; 10]);
        assert_eq!(
            parse_rtcp(&hmac).map(|info| info.first_packet_type),
            Some(RTCP_SR)
        );
        let mut gcm = compound.clone();
        gcm.extend_from_slice(&[0x00; 16]);
        gcm.extend_from_slice(&hex("80 00 00 2a"));
        assert!(parse_rtcp(&gcm).is_some());
        // Same sizes but the E flag clear at both positions: not SRTCP.
        let mut clear_e = compound;
        clear_e.extend_from_slice(&[0x00; 20]);
        assert_eq!(parse_rtcp(&clear_e), None);
    }

    #[test]
    fn rejects_non_rtcp() {
        // First packet type 192 (historic FIR) is not accepted as the start of a compound.
        assert_eq!(parse_rtcp(&hex("80 c0 00 01 00 00 00 00")), None);
        // Length past the end.
        assert_eq!(parse_rtcp(&hex("80 c8 00 06 11 22 33 44")), None);
        // RTP.
        assert_eq!(
            parse_rtcp(&hex("80 6f 00 01 00 00 00 00 00 00 00 01")),
            None
        );
        assert!(is_rtcp_packet_type(200) && is_rtcp_packet_type(223));
        assert!(!is_rtcp_packet_type(191) && !is_rtcp_packet_type(224));
    }

    #[test]
    fn tracker_confirms_after_three_in_order_packets() {
        let mut tracker = RtpStreamTracker::default();
        assert_eq!(tracker.observe(&rtp(111, 65534, 7)), RtpVerdict::Candidate);
        assert_eq!(tracker.observe(&rtp(111, 65535, 7)), RtpVerdict::Candidate);
        assert!(!tracker.has_confirmed_stream());
        // Wraps around.
        assert_eq!(tracker.observe(&rtp(111, 0, 7)), RtpVerdict::Confirmed);
        assert!(tracker.has_confirmed_stream());
        // Telephone-event on the same SSRC stays confirmed.
        assert_eq!(tracker.observe(&rtp(126, 1, 7)), RtpVerdict::Confirmed);
    }

    #[test]
    fn tracker_tolerates_reordering_and_duplicates() {
        let mut tracker = RtpStreamTracker::default();
        tracker.observe(&rtp(96, 10, 1));
        assert_eq!(tracker.observe(&rtp(96, 12, 1)), RtpVerdict::Candidate);
        assert_eq!(tracker.observe(&rtp(96, 11, 1)), RtpVerdict::Candidate); // late
        assert_eq!(tracker.observe(&rtp(96, 12, 1)), RtpVerdict::Candidate); // duplicate
        assert_eq!(tracker.observe(&rtp(96, 13, 1)), RtpVerdict::Confirmed);
    }

    #[test]
    fn tracker_restarts_on_jumps_and_payload_type_changes() {
        let mut tracker = RtpStreamTracker::default();
        tracker.observe(&rtp(96, 10, 1));
        tracker.observe(&rtp(96, 11, 1));
        assert_eq!(tracker.observe(&rtp(96, 5000, 1)), RtpVerdict::Candidate);
        assert_eq!(tracker.observe(&rtp(97, 5001, 1)), RtpVerdict::Candidate);
        assert_eq!(tracker.observe(&rtp(97, 5002, 1)), RtpVerdict::Candidate);
        assert_eq!(tracker.observe(&rtp(97, 5003, 1)), RtpVerdict::Confirmed);
    }

    #[test]
    fn tracker_keeps_confirmed_streams_across_new_ssrcs() {
        let mut tracker = RtpStreamTracker::default();
        for sequence in 0..3 {
            tracker.observe(&rtp(111, sequence, 0xa0d10));
            tracker.observe(&rtp(96, sequence + 500, 0x71de0));
        }
        // Interleaved audio and video are both confirmed.
        assert_eq!(
            tracker.observe(&rtp(111, 3, 0xa0d10)),
            RtpVerdict::Confirmed
        );
        assert_eq!(
            tracker.observe(&rtp(96, 503, 0x71de0)),
            RtpVerdict::Confirmed
        );
        // A burst of stray packets with fresh SSRCs churns only the free slot.
        for stray in 0..50u32 {
            assert_eq!(
                tracker.observe(&rtp(100, 9, 0xbad0 + stray)),
                RtpVerdict::Candidate
            );
        }
        assert_eq!(
            tracker.observe(&rtp(111, 4, 0xa0d10)),
            RtpVerdict::Confirmed
        );
        assert_eq!(
            tracker.observe(&rtp(96, 504, 0x71de0)),
            RtpVerdict::Confirmed
        );
        // A new stream can still confirm next to the two live ones.
        for sequence in 0..2 {
            tracker.observe(&rtp(97, sequence, 0x47));
        }
        assert_eq!(tracker.observe(&rtp(97, 2, 0x47)), RtpVerdict::Confirmed);
        assert_eq!(
            tracker.observe(&rtp(111, 5, 0xa0d10)),
            RtpVerdict::Confirmed
        );
    }

    #[test]
    fn tracker_never_confirms_random_bytes() {
        // xorshift64: deterministic pseudo-random datagrams in the RTP first-byte range.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut tracker = RtpStreamTracker::default();
        let mut candidates = 0;
        for _ in 0..200_000 {
            let mut packet = [0u8; 48];
            for chunk in packet.chunks_mut(8) {
                chunk.copy_from_slice(&next().to_le_bytes());
            }
            packet[0] = 0x80 | (packet[0] & 0x3f);
            match tracker.observe_payload(&packet) {
                RtpVerdict::Confirmed => panic!("random bytes confirmed as RTP"),
                RtpVerdict::Candidate => candidates += 1,
                RtpVerdict::NotRtp => {}
            }
        }
        assert!(candidates > 0);
    }

    #[test]
    fn tracker_is_small() {
        assert!(std::mem::size_of::<RtpStreamTracker>() <= 32);
        assert_eq!(
            RtpStreamTracker::default().observe(&rtp(80, 1, 1)),
            RtpVerdict::NotRtp
        );
    }

    #[derive(Debug, Clone)]
    struct BuiltRtp {
        marker: bool,
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        csrcs: Vec<u32>,
        extension: Option<(u16, Vec<u32>)>,
        body: Vec<u8>,
        padding: u8,
    }

    impl BuiltRtp {
        fn serialise(&self) -> Vec<u8> {
            let mut packet = vec![
                0x80 | (u8::from(self.padding > 0) << 5)
                    | (u8::from(self.extension.is_some()) << 4)
                    | self.csrcs.len() as u8,
                (u8::from(self.marker) << 7) | self.payload_type,
            ];
            packet.extend_from_slice(&self.sequence.to_be_bytes());
            packet.extend_from_slice(&self.timestamp.to_be_bytes());
            packet.extend_from_slice(&self.ssrc.to_be_bytes());
            for csrc in &self.csrcs {
                packet.extend_from_slice(&csrc.to_be_bytes());
            }
            if let Some((profile, words)) = &self.extension {
                packet.extend_from_slice(&profile.to_be_bytes());
                packet.extend_from_slice(&(words.len() as u16).to_be_bytes());
                for word in words {
                    packet.extend_from_slice(&word.to_be_bytes());
                }
            }
            packet.extend_from_slice(&self.body);
            if self.padding > 0 {
                packet.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
                packet.push(self.padding);
            }
            packet
        }

        fn header_len(&self) -> usize {
            12 + 4 * self.csrcs.len() + self.extension.as_ref().map_or(0, |(_, w)| 4 + 4 * w.len())
        }
    }

    fn any_rtp() -> impl Strategy<Value = BuiltRtp> {
        (
            any::<bool>(),
            prop_oneof![0u8..72, 96u8..128],
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u32>(), 0..4),
            proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u32>(), 0..4))),
            proptest::collection::vec(any::<u8>(), 0..40),
            prop_oneof![Just(0u8), 1u8..8],
        )
            .prop_map(
                |(
                    marker,
                    payload_type,
                    sequence,
                    timestamp,
                    ssrc,
                    csrcs,
                    extension,
                    body,
                    padding,
                )| {
                    BuiltRtp {
                        marker,
                        payload_type,
                        sequence,
                        timestamp,
                        ssrc,
                        csrcs,
                        extension,
                        body,
                        padding,
                    }
                },
            )
    }

    fn any_rtcp_packet() -> impl Strategy<Value = (u8, u8, Vec<u32>)> {
        (
            200u8..=207,
            0u8..32,
            proptest::collection::vec(any::<u32>(), 0..8),
        )
    }

    fn serialise_rtcp(packets: &[(u8, u8, Vec<u32>)]) -> Vec<u8> {
        let mut compound = Vec::new();
        for (packet_type, count, words) in packets {
            compound.push(0x80 | count);
            compound.push(*packet_type);
            compound.extend_from_slice(&(words.len() as u16).to_be_bytes());
            for word in words {
                compound.extend_from_slice(&word.to_be_bytes());
            }
        }
        compound
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = parse_rtp(&bytes);
            let _ = header_extension(&bytes);
            let _ = parse_rtcp(&bytes);
            let mut tracker = RtpStreamTracker::default();
            let _ = tracker.observe_payload(&bytes);
        }

        /// Version 2 with any flags, CSRC count and payload type, then anything (a quarter of
        /// all encrypted datagrams look like this): RTP and RTCP parsing never panic, and a
        /// header that parses lies inside the packet.
        #[test]
        fn arbitrary_version_2_packets_never_panic(
            first in 0x80u8..=0xbf,
            bytes in proptest::collection::vec(any::<u8>(), 0..96),
        ) {
            let packet = [vec![first], bytes].concat();
            if let Some(header) = parse_rtp(&packet) {
                prop_assert!(header.header_len <= packet.len());
                prop_assert!(!RTCP_COLLIDING_PAYLOAD_TYPES.contains(&header.payload_type));
            }
            let _ = header_extension(&packet);
            if let Some(info) = parse_rtcp(&packet) {
                prop_assert!(FIRST_RTCP_PACKET_TYPES.contains(&info.first_packet_type));
            }
        }

        #[test]
        fn arbitrary_headers_never_panic_the_tracker(
            headers in proptest::collection::vec(
                (any::<bool>(), 0u8..128, any::<u16>(), any::<u32>(), 0u32..4),
                0..64,
            ),
        ) {
            let mut tracker = RtpStreamTracker::default();
            for (marker, payload_type, sequence, timestamp, ssrc) in headers {
                let header = RtpHeader { marker, payload_type, sequence, timestamp, ssrc, header_len: 12 };
                let _ = tracker.observe(&header);
            }
        }

        #[test]
        fn built_rtp_round_trips(built in any_rtp()) {
            let packet = built.serialise();
            let header = parse_rtp(&packet).unwrap();
            prop_assert_eq!(
                header,
                RtpHeader {
                    marker: built.marker,
                    payload_type: built.payload_type,
                    sequence: built.sequence,
                    timestamp: built.timestamp,
                    ssrc: built.ssrc,
                    header_len: built.header_len(),
                }
            );
            if let Some((profile, words)) = &built.extension {
                let (got_profile, data) = header_extension(&packet).unwrap();
                prop_assert_eq!(got_profile, *profile);
                let want: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
                prop_assert_eq!(data, &want[..]);
            } else {
                prop_assert_eq!(header_extension(&packet), None);
            }
        }

        #[test]
        fn every_rtp_truncation_is_handled(built in any_rtp()) {
            let packet = built.serialise();
            let full = parse_rtp(&packet).unwrap();
            for cut in 0..packet.len() {
                let got = parse_rtp(&packet[..cut]);
                prop_assert!(got.is_none() || got == Some(full));
                if cut < built.header_len() {
                    prop_assert!(got.is_none());
                }
            }
        }

        #[test]
        fn built_rtcp_round_trips(packets in proptest::collection::vec(any_rtcp_packet(), 1..5)) {
            let compound = serialise_rtcp(&packets);
            prop_assert_eq!(
                parse_rtcp(&compound),
                Some(RtcpInfo { first_packet_type: packets[0].0, packets: packets.len() as u16 })
            );
        }

        #[test]
        fn every_rtcp_truncation_is_handled(packets in proptest::collection::vec(any_rtcp_packet(), 1..5)) {
            let compound = serialise_rtcp(&packets);
            let first_len = 4 + 4 * packets[0].2.len();
            for cut in 0..compound.len() {
                let got = parse_rtcp(&compound[..cut]);
                if cut < first_len {
                    prop_assert_eq!(got, None);
                }
                if let Some(info) = got {
                    prop_assert_eq!(info.first_packet_type, packets[0].0);
                    prop_assert!(usize::from(info.packets) < packets.len());
                }
            }
        }

        #[test]
        fn one_stream_confirms_on_the_third_packet(
            ssrc in any::<u32>(),
            payload_type in prop_oneof![0u8..72, 96u8..128],
            start in any::<u16>(),
            steps in proptest::collection::vec(1u16..=100, 2..10),
        ) {
            let mut tracker = RtpStreamTracker::default();
            let mut sequence = start;
            prop_assert_eq!(tracker.observe(&rtp(payload_type, sequence, ssrc)), RtpVerdict::Candidate);
            for (index, step) in steps.iter().enumerate() {
                sequence = sequence.wrapping_add(*step);
                let expected = if index == 0 { RtpVerdict::Candidate } else { RtpVerdict::Confirmed };
                prop_assert_eq!(tracker.observe(&rtp(payload_type, sequence, ssrc)), expected);
            }
        }
    }
}
