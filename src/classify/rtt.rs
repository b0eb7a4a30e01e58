//! Passive round-trip time: the smallest request → response delay of a flow, measured at the
//! capture point, so it is the round trip between the capture point and the server.
//!
//! A GeoIP country is only a claim. Light in fibre covers about 200 km per millisecond, so a
//! server that answers a TCP handshake in 2 ms is within a few hundred kilometres of the capture
//! point, whatever the database says. This module only measures; the policy decides what a
//! figure means for a given vantage point.
//!
//! # Which pairs are timed
//!
//! | request (client → server) | response (server → client) |
//! |---|---|
//! | TCP SYN | SYN/ACK |
//! | STUN Binding or Allocate request | success or error response with the same transaction ID |
//! | DTLS ClientHello (epoch 0) | the server's next DTLS handshake or alert record |
//! | QUIC client Initial (a known version) | the server's next long-header packet (Initial, Retry, Version Negotiation, …) |
//!
//! Only requests *to* the server count: a request from the server answered by the client times
//! the client's own processing, not a round trip.
//!
//! # Never too small
//!
//! An RTT that is too small would wrongly call a location implausible, so every sample is made
//! to err on the large side:
//!
//! * **Retransmissions** (a second SYN, a STUN request resent with the same transaction ID, a
//!   resent ClientHello or Initial): the *first* send time is kept. The response answers one of
//!   the copies, all sent at or after the first one, so the sample can only be too large. Timing
//!   from the last copy would be too small whenever the response answered an earlier copy
//!   (the ambiguity Karn's algorithm avoids by dropping such samples). Answers to the other
//!   copies may still arrive, so after a resent SYN, ClientHello or Initial that exchange is not
//!   timed again on the flow; STUN answers name their transaction, so only requests with an ID
//!   seen before on the flow are skipped.
//! * **One STUN transaction at a time**: a new request while one is outstanding (for up to
//!   [`MAX_SAMPLE_US`]) is not timed, since with interleaved retransmissions (ICE) the newest
//!   copy is not the first.
//! * A response must be of the right kind: a server's own STUN check or ClientHello is not the
//!   answer to the client's request, so it does not close the pair.
//! * Capture timestamps can be wrong (some reference captures jump by years or step back):
//!   samples that are zero or negative (coarse or reordered timestamps) or longer than
//!   [`MAX_SAMPLE_US`] are dropped, and the pair with them.
//!
//! What remains can still mislead: a middlebox that answers SYNs itself (SYN proxy,
//! transparent proxy, some firewalls) times the middlebox, not the server. UDP pairs, which
//! reach the server itself, are the stronger evidence.
//!
//! # Cost
//!
//! The tracker is a few integers per flow and allocates nothing. [`RttTracker::on_datagram`]
//! returns after one comparison on the first byte for anything that cannot be a timed message,
//! and a flow stops being measured after [`MAX_SAMPLES`] samples.

use super::stun;

/// A flow stops being measured after this many samples.
pub const MAX_SAMPLES: u8 = 8;

/// Samples longer than this (60 s) are clock errors, not round trips.
pub const MAX_SAMPLE_US: i64 = 60_000_000;

/// RFC 9000 §14.1: a client's Initial datagram is padded to at least 1200 bytes.
const QUIC_MIN_INITIAL_DATAGRAM: usize = 1200;
const QUIC_V1: u32 = 0x0000_0001;
/// RFC 9369: QUIC version 2, whose Initial long-header type is 1, not 0.
const QUIC_V2: u32 = 0x6b33_43cf;

const DTLS_RECORD_HEADER_LEN: usize = 13;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;

/// The request/response pairs timed; the value is the slot in [`RttTracker::sent_us`].
#[derive(Debug, Clone, Copy)]
enum Exchange {
    TcpHandshake = 0,
    Stun = 1,
    Dtls = 2,
    Quic = 3,
}

impl Exchange {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Per-flow passive minimum RTT. Feed it every packet of the flow in capture order.
#[derive(Debug, Clone, Copy, Default)]
pub struct RttTracker {
    /// Send time (µs) of the first copy of the outstanding request of each [`Exchange`]; only
    /// meaningful where `pending` has the exchange's bit.
    sent_us: [i64; 4],
    /// Exchanges with a request outstanding, by [`Exchange::bit`].
    pending: u8,
    /// Outstanding requests that were sent more than once.
    resent: u8,
    /// Exchanges no longer timed: their last request was resent, so more answers to its copies
    /// may still arrive and would make the next pair look short.
    retired: u8,
    /// The outstanding STUN request's ID (bytes 4–20: cookie and transaction ID, or classic
    /// STUN's 16-byte ID), folded to 64 bits; the response must echo it.
    stun_id: u64,
    /// A one-hash Bloom filter (one bit per ID) of the STUN requests seen. A request whose bit
    /// is set may be a later copy of a transaction that was not timed from its first copy, or
    /// reuse an ID already answered (WhatsApp does) and draw a late answer meant for the old
    /// transaction: it is not timed. False hits only cost samples.
    stun_seen: u64,
    min_us: Option<u32>,
    samples: u8,
}

impl RttTracker {
    /// TCP: SYN from the client at t, SYN/ACK from the server → one sample (SYN/ACK time − SYN
    /// time). With retransmitted SYNs the first SYN counts (see the module docs).
    pub fn on_tcp(&mut self, to_server: bool, syn: bool, ack: bool, time_us: i64) {
        if self.samples >= MAX_SAMPLES || !syn {
            return;
        }
        match (to_server, ack) {
            (true, false) => {
                self.request(Exchange::TcpHandshake, time_us);
            }
            (false, true) => self.response(Exchange::TcpHandshake, time_us),
            _ => {}
        }
    }

    /// UDP request/response pairs: STUN Binding/Allocate request → success/error response with
    /// the same transaction ID; DTLS ClientHello → the server's next DTLS handshake or alert
    /// record; QUIC client Initial → the server's next long-header packet. `payload` is the
    /// UDP payload as sent (not a TURN-relayed inner message).
    // Inlined: it runs for every datagram and nearly always returns at once, since only
    // handshakes give samples; the call cost as much as the check.
    #[inline]
    pub fn on_datagram(&mut self, to_server: bool, payload: &[u8], time_us: i64) {
        if self.samples >= MAX_SAMPLES {
            return;
        }
        let Some(&first) = payload.first() else {
            return;
        };
        if to_server {
            match first {
                0..=3 => self.stun_request(payload, time_us),
                CONTENT_HANDSHAKE if is_dtls_client_hello(payload) => {
                    self.request(Exchange::Dtls, time_us);
                }
                0xC0..=0xFF if is_quic_client_initial(payload) => {
                    self.request(Exchange::Quic, time_us);
                }
                _ => {}
            }
        } else {
            match first {
                0..=3 if self.is_pending(Exchange::Stun) => self.stun_response(payload, time_us),
                CONTENT_ALERT | CONTENT_HANDSHAKE
                    if self.is_pending(Exchange::Dtls) && is_dtls_server_reply(payload) =>
                {
                    self.response(Exchange::Dtls, time_us)
                }
                0x80..=0xFF
                    if self.is_pending(Exchange::Quic) && is_quic_server_long_header(payload) =>
                {
                    self.response(Exchange::Quic, time_us)
                }
                _ => {}
            }
        }
    }

    /// The smallest sample, in milliseconds.
    pub fn min_rtt_ms(&self) -> Option<f64> {
        self.min_us.map(|us| f64::from(us) / 1000.0)
    }

    fn is_pending(&self, exchange: Exchange) -> bool {
        self.pending & exchange.bit() != 0
    }

    /// True when a request of this kind is outstanding and could still be answered within
    /// [`MAX_SAMPLE_US`] of `time_us`.
    fn is_open(&self, exchange: Exchange, time_us: i64) -> bool {
        self.is_pending(exchange)
            && time_us
                .checked_sub(self.sent_us[exchange as usize])
                .is_some_and(|elapsed| (0..=MAX_SAMPLE_US).contains(&elapsed))
    }

    /// A request: a retransmission while one of this kind is open (the first send time stays),
    /// else the start of a new pair. Returns true when it started a pair.
    fn request(&mut self, exchange: Exchange, time_us: i64) -> bool {
        if self.retired & exchange.bit() != 0 {
            return false;
        }
        if self.is_open(exchange, time_us) {
            self.resent |= exchange.bit();
            return false;
        }
        self.pending |= exchange.bit();
        self.resent &= !exchange.bit();
        self.sent_us[exchange as usize] = time_us;
        true
    }

    /// A response: closes the outstanding pair of this kind, if any, and keeps the sample when
    /// it is believable.
    fn response(&mut self, exchange: Exchange, time_us: i64) {
        if !self.is_pending(exchange) {
            return;
        }
        self.pending &= !exchange.bit();
        let resent = self.resent & exchange.bit() != 0;
        // STUN answers name their transaction; other answers could belong to any copy. A
        // flow's TCP handshake is timed once: a SYN after it is a duplicate of the same
        // connection (webex.pcap) far more often than a reused port, and the SYN/ACK that
        // follows may be the server's own retransmission.
        if matches!(exchange, Exchange::TcpHandshake)
            || (resent && !matches!(exchange, Exchange::Stun))
        {
            self.retired |= exchange.bit();
        }
        let Some(elapsed) = time_us.checked_sub(self.sent_us[exchange as usize]) else {
            return;
        };
        if elapsed <= 0 || elapsed > MAX_SAMPLE_US {
            return;
        }
        // In range, so it fits: MAX_SAMPLE_US < u32::MAX.
        let Ok(elapsed) = u32::try_from(elapsed) else {
            return;
        };
        self.min_us = Some(self.min_us.map_or(elapsed, |min| min.min(elapsed)));
        self.samples += 1;
    }

    fn stun_request(&mut self, payload: &[u8], time_us: i64) {
        let Some(id) = timed_stun_message(payload, stun::StunClass::Request) else {
            return;
        };
        let open = self.is_open(Exchange::Stun, time_us);
        if open && id == self.stun_id {
            self.request(Exchange::Stun, time_us); // a retransmission
            return;
        }
        let bit = 1u64 << (id % 64);
        let seen = self.stun_seen & bit != 0;
        self.stun_seen |= bit;
        // One transaction at a time: another one's copies would interleave (ICE checks do) and
        // its later copies are not timed either, as they cannot tell when it was first sent.
        if !seen && !open && self.request(Exchange::Stun, time_us) {
            self.stun_id = id;
        }
    }

    fn stun_response(&mut self, payload: &[u8], time_us: i64) {
        let is_answer = [
            stun::StunClass::SuccessResponse,
            stun::StunClass::ErrorResponse,
        ]
        .into_iter()
        .any(|class| timed_stun_message(payload, class) == Some(self.stun_id));
        if is_answer {
            self.response(Exchange::Stun, time_us);
        }
    }
}

/// The ID (bytes 4–20, folded to 64 bits) of a Binding or Allocate message of `class`.
///
/// With the magic cookie only the header is checked, not the length: WhatsApp's requests and
/// Microsoft's TURN responses declare lengths that are not multiples of 4, which
/// [`stun::parse_header`] rightly refuses to call STUN on its own. Here a pair needs a request
/// *and* a response echoing its 96-bit random transaction ID, which no unrelated pair of
/// datagrams does. Classic (cookie-less) messages still need the strict check.
fn timed_stun_message(payload: &[u8], class: stun::StunClass) -> Option<u64> {
    let (fixed, _) = payload.split_first_chunk::<{ stun::HEADER_LEN }>()?;
    let [t0, t1, l0, l1, c0, c1, c2, c3, ..] = *fixed;
    let message_type = u16::from_be_bytes([t0, t1]);
    let header = if u32::from_be_bytes([c0, c1, c2, c3]) == stun::MAGIC_COOKIE {
        (message_type & 0xC000 == 0).then_some(stun::StunHeader {
            message_type,
            length: u16::from_be_bytes([l0, l1]),
            has_magic_cookie: true,
        })?
    } else {
        stun::parse_header(payload)?
    };
    let timed_method = matches!(
        header.method(),
        stun::METHOD_BINDING | stun::METHOD_ALLOCATE
    );
    if header.class() != class || !timed_method {
        return None;
    }
    let id = u128::from_be_bytes(*payload.get(4..)?.first_chunk::<16>()?);
    // Truncation keeps the low half on purpose: the fold mixes both halves.
    Some((id >> 64) as u64 ^ id as u64)
}

/// A DTLS record header: content type, version 0xFEFF (1.0), 0xFEFD (1.2) or 0xFEFC, epoch,
/// sequence number, length.
fn dtls_record_version_ok(payload: &[u8]) -> bool {
    matches!(payload.get(1..3), Some([0xFE, 0xFF | 0xFD | 0xFC]))
        && payload.len() > DTLS_RECORD_HEADER_LEN
}

/// A plaintext (epoch 0) DTLS handshake record that starts with a ClientHello.
fn is_dtls_client_hello(payload: &[u8]) -> bool {
    dtls_record_version_ok(payload)
        && payload.first() == Some(&CONTENT_HANDSHAKE)
        && payload.get(3..5) == Some(&[0, 0])
        && payload.get(DTLS_RECORD_HEADER_LEN) == Some(&HANDSHAKE_CLIENT_HELLO)
}

/// A DTLS handshake or alert record from the server that is not a ClientHello of its own
/// (when both ends try to be the DTLS client, the server's hello answers nothing).
fn is_dtls_server_reply(payload: &[u8]) -> bool {
    dtls_record_version_ok(payload) && !is_dtls_client_hello(payload)
}

/// The version field of a QUIC long header, when it is one this module knows the Initial
/// packet type of: 1, 2, IETF drafts 29–34, Google QUIC Q046/Q050/T050/T051, mvfst.
fn quic_version(payload: &[u8]) -> Option<u32> {
    let version = u32::from_be_bytes(*payload.get(1..)?.first_chunk::<4>()?);
    let known = matches!(
        version,
        QUIC_V1
            | QUIC_V2
            | 0xff00_001d..=0xff00_0022
            | 0x5130_3436 // Q046
            | 0x5130_3530 // Q050
            | 0x5430_3530 // T050
            | 0x5430_3531 // T051
            | 0xface_b001..=0xface_b002
    );
    known.then_some(version)
}

/// A client's first QUIC packet: long header with the fixed bit, a known version and the
/// Initial type; v1, v2 and draft Initials must also fill the 1200-byte minimum datagram.
fn is_quic_client_initial(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let Some(version) = quic_version(payload) else {
        return false;
    };
    let packet_type = (first >> 4) & 0b11;
    let (initial_type, min_len) = match version {
        QUIC_V2 => (1, QUIC_MIN_INITIAL_DATAGRAM),
        QUIC_V1 | 0xff00_001d..=0xff00_0022 => (0, QUIC_MIN_INITIAL_DATAGRAM),
        _ => (0, 0),
    };
    first & 0xC0 == 0xC0 && packet_type == initial_type && payload.len() >= min_len
}

/// A long-header packet from the server: Version Negotiation (version 0) or a packet of a
/// known version with the fixed bit. RTP (0x80–0xBF, fixed bit clear) never qualifies.
fn is_quic_server_long_header(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let version_negotiation = payload.get(1..5) == Some(&[0, 0, 0, 0]);
    first & 0x80 != 0
        && (version_negotiation || (first & 0x40 != 0 && quic_version(payload).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: i64 = 1000;
    /// A capture start time in µs (2024-05-14T10:00:00Z).
    const T0: i64 = 1_715_680_800_000_000;

    fn stun_message(message_type: u16, id: u8) -> Vec<u8> {
        let mut m = message_type.to_be_bytes().to_vec();
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[0x5a; 11]);
        m.push(id);
        m
    }

    fn dtls_record(content_type: u8, version: [u8; 2], epoch: u16, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, version[0], version[1]];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0; 6]);
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn dtls_client_hello() -> Vec<u8> {
        dtls_record(CONTENT_HANDSHAKE, [0xFE, 0xFD], 0, &[1, 0, 0, 40])
    }

    fn dtls_hello_verify_request() -> Vec<u8> {
        dtls_record(CONTENT_HANDSHAKE, [0xFE, 0xFF], 0, &[3, 0, 0, 35])
    }

    fn quic_long(first: u8, version: u32, len: usize) -> Vec<u8> {
        let mut p = vec![first];
        p.extend_from_slice(&version.to_be_bytes());
        p.extend_from_slice(&[8, 1, 2, 3, 4, 5, 6, 7, 8, 0]);
        p.resize(len, 0);
        p
    }

    fn tcp_handshake(tracker: &mut RttTracker, syn_at: i64, syn_ack_at: i64) {
        tracker.on_tcp(true, true, false, syn_at);
        tracker.on_tcp(false, true, true, syn_ack_at);
        tracker.on_tcp(true, false, true, syn_ack_at.saturating_add(50));
    }

    #[test]
    fn nothing_measured_is_none() {
        let mut t = RttTracker::default();
        t.on_tcp(true, true, false, T0);
        t.on_datagram(true, &[0x80, 0x6f, 0, 1], T0);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn tcp_handshake_gives_syn_to_syn_ack() {
        let mut t = RttTracker::default();
        tcp_handshake(&mut t, T0, T0 + 2 * MS);
        assert_eq!(t.min_rtt_ms(), Some(2.0));
    }

    #[test]
    fn retransmitted_syn_times_from_the_first_syn() {
        // The SYN/ACK at 1.03 s may answer the first SYN: timing from the retransmission
        // (30 ms) could be far too small, timing from the first SYN (1030 ms) cannot.
        let mut t = RttTracker::default();
        t.on_tcp(true, true, false, T0);
        t.on_tcp(true, true, false, T0 + 1000 * MS);
        t.on_tcp(false, true, true, T0 + 1030 * MS);
        assert_eq!(t.min_rtt_ms(), Some(1030.0));
    }

    #[test]
    fn retransmitted_syn_ack_is_not_a_second_sample() {
        let mut t = RttTracker::default();
        tcp_handshake(&mut t, T0, T0 + 150 * MS);
        t.on_tcp(false, true, true, T0 + 150 * MS + 1);
        assert_eq!(t.min_rtt_ms(), Some(150.0));
        assert_eq!(t.samples, 1);
    }

    #[test]
    fn syn_ack_before_syn_is_ignored() {
        let mut t = RttTracker::default();
        t.on_tcp(false, true, true, T0);
        t.on_tcp(true, true, false, T0 + 10);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn server_sent_syn_and_client_syn_ack_are_not_timed() {
        // The client's SYN/ACK follows the server's SYN after the client's own processing time.
        let mut t = RttTracker::default();
        t.on_tcp(false, true, false, T0);
        t.on_tcp(true, true, true, T0 + 30);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn negative_zero_and_absurd_samples_are_dropped() {
        let cases = [
            (T0, T0 - 5 * MS),                    // clock stepped back
            (T0, T0),                             // coarse timestamps
            (T0, T0 + 3 * 365 * 86_400_000 * MS), // jumped years
            (T0, T0 + 60_000 * MS + 1),           // just too long
            (i64::MIN, i64::MAX),                 // would overflow
            (i64::MAX, i64::MIN),
        ];
        for (syn, syn_ack) in cases {
            let mut t = RttTracker::default();
            tcp_handshake(&mut t, syn, syn_ack);
            assert_eq!(t.min_rtt_ms(), None, "{syn} → {syn_ack}");
        }
        let mut t = RttTracker::default();
        tcp_handshake(&mut t, T0, T0 + 60_000 * MS);
        assert_eq!(t.min_rtt_ms(), Some(60_000.0));
    }

    #[test]
    fn one_handshake_per_flow() {
        // webex.pcap: the SYN is resent after the SYN/ACK arrived, and a second SYN/ACK
        // follows 5.8 ms later; the first pair (10.4 ms) is the only one timed.
        let mut t = RttTracker::default();
        tcp_handshake(&mut t, T0, T0 + 10_365);
        tcp_handshake(&mut t, T0 + 69_582, T0 + 75_404);
        assert_eq!(t.min_rtt_ms(), Some(10.365));
    }

    #[test]
    fn minimum_over_several_exchanges() {
        let mut t = RttTracker::default();
        tcp_handshake(&mut t, T0, T0 + 42 * MS);
        t.on_datagram(true, &stun_message(0x0001, 1), T0 + 5000 * MS);
        t.on_datagram(false, &stun_message(0x0101, 1), T0 + 5017 * MS + 500);
        t.on_datagram(true, &stun_message(0x0001, 2), T0 + 9000 * MS);
        t.on_datagram(false, &stun_message(0x0101, 2), T0 + 9060 * MS);
        assert_eq!(t.min_rtt_ms(), Some(17.5));
    }

    #[test]
    fn stops_after_max_samples() {
        let mut t = RttTracker::default();
        for i in 0..MAX_SAMPLES {
            let at = T0 + i64::from(i) * 1000 * MS;
            t.on_datagram(true, &stun_message(0x0001, i), at);
            t.on_datagram(false, &stun_message(0x0101, i), at + 100 * MS);
        }
        assert_eq!(t.min_rtt_ms(), Some(100.0));
        tcp_handshake(&mut t, T0 + 99_000 * MS, T0 + 99_000 * MS + 5 * MS);
        t.on_datagram(true, &stun_message(0x0001, 99), T0);
        t.on_datagram(false, &stun_message(0x0101, 99), T0 + 1);
        assert_eq!(t.min_rtt_ms(), Some(100.0));
        assert_eq!(t.samples, MAX_SAMPLES);
    }

    #[test]
    fn stun_binding_request_and_success_response() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0001, 7), T0);
        t.on_datagram(false, &stun_message(0x0101, 7), T0 + 18 * MS);
        assert_eq!(t.min_rtt_ms(), Some(18.0));
    }

    #[test]
    fn stun_allocate_error_response_counts() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0003, 9), T0);
        t.on_datagram(false, &stun_message(0x0113, 9), T0 + 21 * MS);
        assert_eq!(t.min_rtt_ms(), Some(21.0));
    }

    #[test]
    fn stun_response_must_echo_the_transaction_id() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0001, 1), T0);
        t.on_datagram(false, &stun_message(0x0101, 2), T0 + MS);
        assert_eq!(t.min_rtt_ms(), None);
        t.on_datagram(false, &stun_message(0x0101, 1), T0 + 30 * MS);
        assert_eq!(t.min_rtt_ms(), Some(30.0));
    }

    #[test]
    fn stun_retransmission_times_from_the_first_send() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0001, 4), T0);
        t.on_datagram(true, &stun_message(0x0001, 4), T0 + 500 * MS);
        t.on_datagram(false, &stun_message(0x0101, 4), T0 + 510 * MS);
        assert_eq!(t.min_rtt_ms(), Some(510.0));
    }

    #[test]
    fn one_stun_transaction_at_a_time() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0001, 1), T0);
        t.on_datagram(true, &stun_message(0x0001, 2), T0 + 100 * MS);
        t.on_datagram(false, &stun_message(0x0101, 2), T0 + 101 * MS);
        assert_eq!(t.min_rtt_ms(), None);
        t.on_datagram(false, &stun_message(0x0101, 1), T0 + 125 * MS);
        assert_eq!(t.min_rtt_ms(), Some(125.0));
    }

    #[test]
    fn interleaved_stun_retransmissions_keep_the_first_send() {
        // stun_zoom.pcapng, port 53065: checks A and B are resent alternately. Following the
        // newest request would time B's answer from its third copy (43 ms) although it may
        // answer the first (344 ms); one transaction at a time gives A's 194 ms, as tshark does.
        let mut t = RttTracker::default();
        let (a, b) = (stun_message(0x0001, 0xA), stun_message(0x0001, 0xB));
        t.on_datagram(true, &a, T0);
        t.on_datagram(true, &b, T0 + 20 * MS);
        t.on_datagram(true, &a, T0 + 100 * MS);
        t.on_datagram(true, &b, T0 + 120 * MS);
        t.on_datagram(false, &stun_message(0x0101, 0xA), T0 + 194 * MS);
        t.on_datagram(true, &b, T0 + 321 * MS); // B's third copy: not a new transaction
        t.on_datagram(false, &stun_message(0x0101, 0xB), T0 + 364 * MS);
        assert_eq!(t.min_rtt_ms(), Some(194.0));
    }

    #[test]
    fn an_unanswered_stun_request_expires() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0001, 1), T0);
        t.on_datagram(true, &stun_message(0x0001, 2), T0 + 61_000 * MS);
        t.on_datagram(false, &stun_message(0x0101, 2), T0 + 61_020 * MS);
        assert_eq!(t.min_rtt_ms(), Some(20.0));
    }

    #[test]
    fn a_reused_stun_id_is_not_timed() {
        // whatsapp_voice_and_message.pcap sends a new Allocate with the ID just answered; a
        // late answer to the old one could close it early.
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0003, 1), T0);
        t.on_datagram(false, &stun_message(0x0103, 1), T0 + 228 * MS);
        t.on_datagram(true, &stun_message(0x0003, 1), T0 + 229 * MS);
        t.on_datagram(false, &stun_message(0x0103, 1), T0 + 250 * MS);
        assert_eq!(t.min_rtt_ms(), Some(228.0));
    }

    #[test]
    fn after_a_resent_syn_the_flow_is_not_timed_again() {
        // A second SYN/ACK (the answer to the resent SYN) could close a later pair early.
        let mut t = RttTracker::default();
        t.on_tcp(true, true, false, T0);
        t.on_tcp(true, true, false, T0 + 1000 * MS);
        t.on_tcp(false, true, true, T0 + 1030 * MS);
        t.on_tcp(true, true, false, T0 + 2000 * MS);
        t.on_tcp(false, true, true, T0 + 2001 * MS);
        assert_eq!(t.min_rtt_ms(), Some(1030.0));
    }

    #[test]
    fn stun_check_from_the_server_is_not_timed() {
        // ICE checks go both ways; the client's answer to the server's check is client time.
        let mut t = RttTracker::default();
        t.on_datagram(false, &stun_message(0x0001, 3), T0);
        t.on_datagram(true, &stun_message(0x0101, 3), T0 + 200);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn stun_indications_and_other_methods_are_not_timed() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0011, 5), T0); // Binding indication
        t.on_datagram(false, &stun_message(0x0101, 5), T0 + MS);
        t.on_datagram(true, &stun_message(0x0009, 6), T0); // ChannelBind request
        t.on_datagram(false, &stun_message(0x0109, 6), T0 + MS);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn unpadded_lengths_with_the_cookie_still_pair() {
        // Microsoft TURN (teams.pcap): an Allocate error response of length 167.
        let mut response = stun_message(0x0113, 2);
        response[2..4].copy_from_slice(&167u16.to_be_bytes());
        response.resize(stun::HEADER_LEN + 167, 0);
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0003, 2), T0);
        t.on_datagram(false, &response, T0 + 46 * MS);
        assert_eq!(t.min_rtt_ms(), Some(46.0));
    }

    #[test]
    fn rfc5769_request_and_response_pair() {
        use crate::classify::testing::hex;
        let request = hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
             80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
             00 24 00 04 6e 00 01 ff
             80 29 00 08 93 2f f9 b1 51 26 3b 36
             00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
             00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
             80 28 00 04 e5 7a 3b cf");
        let response = hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
             80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
             00 20 00 08 00 01 a1 47 e1 12 a6 43
             00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
             80 28 00 04 c0 7d 4c 96");
        let mut t = RttTracker::default();
        t.on_datagram(true, &request, T0);
        t.on_datagram(false, &response, T0 + 7_250);
        assert_eq!(t.min_rtt_ms(), Some(7.25));
    }

    #[test]
    fn dtls_client_hello_to_hello_verify_request_and_server_hello() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &dtls_client_hello(), T0);
        t.on_datagram(false, &dtls_hello_verify_request(), T0 + 40 * MS);
        t.on_datagram(true, &dtls_client_hello(), T0 + 41 * MS);
        let server_hello = dtls_record(CONTENT_HANDSHAKE, [0xFE, 0xFD], 0, &[2, 0, 0, 70]);
        t.on_datagram(false, &server_hello, T0 + 77 * MS);
        assert_eq!(t.min_rtt_ms(), Some(36.0));
        assert_eq!(t.samples, 2);
    }

    #[test]
    fn dtls_pair_ignores_other_server_datagrams() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &dtls_client_hello(), T0);
        // The server's own ICE check and an RTP packet arrive first: not answers.
        t.on_datagram(false, &stun_message(0x0001, 8), T0 + MS);
        t.on_datagram(
            false,
            &[0x80, 0x6f, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
            T0 + 2 * MS,
        );
        // Nor is a ClientHello of the server's own (both ends acting as DTLS client).
        t.on_datagram(false, &dtls_client_hello(), T0 + 3 * MS);
        assert_eq!(t.min_rtt_ms(), None);
        t.on_datagram(false, &dtls_hello_verify_request(), T0 + 90 * MS);
        assert_eq!(t.min_rtt_ms(), Some(90.0));
    }

    #[test]
    fn dtls_client_hello_from_the_server_is_not_timed() {
        let mut t = RttTracker::default();
        t.on_datagram(false, &dtls_client_hello(), T0);
        t.on_datagram(true, &dtls_hello_verify_request(), T0 + MS);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn dtls_retransmitted_client_hello_times_from_the_first() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &dtls_client_hello(), T0);
        t.on_datagram(true, &dtls_client_hello(), T0 + 1000 * MS);
        t.on_datagram(false, &dtls_hello_verify_request(), T0 + 1004 * MS);
        assert_eq!(t.min_rtt_ms(), Some(1004.0));
        // The second HelloVerifyRequest may answer the resent hello: not a sample for CH2.
        t.on_datagram(true, &dtls_client_hello(), T0 + 1005 * MS);
        t.on_datagram(false, &dtls_hello_verify_request(), T0 + 1009 * MS);
        assert_eq!(t.min_rtt_ms(), Some(1004.0));
    }

    #[test]
    fn quic_v1_initial_to_server_initial() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &quic_long(0xC3, QUIC_V1, 1250), T0);
        t.on_datagram(false, &quic_long(0xC1, QUIC_V1, 200), T0 + 33 * MS);
        assert_eq!(t.min_rtt_ms(), Some(33.0));
    }

    #[test]
    fn quic_v2_initial_has_type_one() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &quic_long(0xC3, QUIC_V2, 1250), T0); // type 0 is 0-RTT in v2
        t.on_datagram(false, &quic_long(0xD1, QUIC_V2, 200), T0 + MS);
        assert_eq!(t.min_rtt_ms(), None);
        t.on_datagram(true, &quic_long(0xD3, QUIC_V2, 1250), T0 + 10 * MS);
        t.on_datagram(false, &quic_long(0xD1, QUIC_V2, 200), T0 + 21 * MS);
        assert_eq!(t.min_rtt_ms(), Some(11.0));
    }

    #[test]
    fn quic_version_negotiation_is_an_answer() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &quic_long(0xC0, 0xff00_001d, 1200), T0);
        t.on_datagram(false, &quic_long(0x8A, 0, 40), T0 + 12 * MS);
        assert_eq!(t.min_rtt_ms(), Some(12.0));
    }

    #[test]
    fn quic_needs_a_padded_initial_of_a_known_version() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &quic_long(0xC3, QUIC_V1, 300), T0); // unpadded
        t.on_datagram(true, &quic_long(0xC3, 0x1234_5678, 1300), T0); // unknown version
        t.on_datagram(true, &quic_long(0xFF, 0x1000_0000, 1300), T0); // MS-TURN `FF 10`
        t.on_datagram(false, &quic_long(0xC1, QUIC_V1, 200), T0 + MS);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn rtp_from_the_server_does_not_answer_a_quic_initial() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &quic_long(0xC3, QUIC_V1, 1250), T0);
        t.on_datagram(false, &[0x80, 0x6f, 0, 1, 0, 0, 0, 1, 0, 0], T0 + MS);
        assert_eq!(t.min_rtt_ms(), None);
    }

    #[test]
    fn exchanges_interleave() {
        let mut t = RttTracker::default();
        t.on_datagram(true, &stun_message(0x0001, 1), T0);
        t.on_datagram(true, &dtls_client_hello(), T0 + MS);
        t.on_datagram(false, &dtls_hello_verify_request(), T0 + 60 * MS);
        t.on_datagram(false, &stun_message(0x0101, 1), T0 + 61 * MS);
        assert_eq!(t.min_rtt_ms(), Some(59.0));
        assert_eq!(t.samples, 2);
    }

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<RttTracker>() <= 64);
    }

    #[derive(Debug, Clone)]
    enum Event {
        Tcp(bool, bool, bool, i64),
        Datagram(bool, Vec<u8>, i64),
    }

    fn datagram() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            (0u16..0x4000, any::<u8>()).prop_map(|(t, id)| stun_message(t, id % 3)),
            Just(dtls_client_hello()),
            Just(dtls_hello_verify_request()),
            Just(quic_long(0xC3, QUIC_V1, 1200)),
            Just(quic_long(0xC1, QUIC_V1, 60)),
        ]
    }

    fn time() -> impl Strategy<Value = i64> {
        prop_oneof![any::<i64>(), (T0 - 100 * MS)..(T0 + 70_000 * MS)]
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (any::<bool>(), any::<bool>(), any::<bool>(), time())
                .prop_map(|(d, s, a, t)| Event::Tcp(d, s, a, t)),
            (any::<bool>(), datagram(), time()).prop_map(|(d, p, t)| Event::Datagram(d, p, t)),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_sequences_never_panic_and_stay_in_range(
            events in proptest::collection::vec(event(), 0..64)
        ) {
            let mut t = RttTracker::default();
            for e in events {
                match e {
                    Event::Tcp(d, s, a, at) => t.on_tcp(d, s, a, at),
                    Event::Datagram(d, p, at) => t.on_datagram(d, &p, at),
                }
                if let Some(ms) = t.min_rtt_ms() {
                    prop_assert!(ms > 0.0 && ms <= 60_000.0, "{ms}");
                }
                prop_assert!(t.samples <= MAX_SAMPLES);
            }
        }
    }
}
