//! TCP: TLS (handshake records are key exchange; SNI, ALPN and the server certificate are read),
//! STUN/TURN over TCP (RFC 8489 §6.2.2, with or without RFC 4571 framing), RTP/RTCP over TCP
//! (RFC 4571 framing), SIP over TCP and DNS over TCP.
//!
//! Each segment is looked at once, in capture order. TLS records are followed across segments by
//! [`tls::TlsStream`] (one per direction, bounded buffers); a flow whose first bytes are not TLS
//! stops being fed to it.

use super::*;

/// RFC 4571 framing: a 2-byte length before each message (ICE-TCP, RFC 6544).
const FRAMING_LEN: usize = 2;

impl Classifier<'_> {
    pub(super) fn classify_segment(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        packet: &DecodedPacket<'_>,
        at: PacketRef,
    ) -> Option<Role> {
        let Some(segment) = packet.tcp else {
            return Some(Role::Other);
        };
        let payload = packet.payload;
        if flow.dns_port {
            if let Some(message) = dns::strip_tcp_length(payload) {
                flow.protocols.insert(Protocol::Dns);
                if direction == Direction::ToClient {
                    dns::parse_response(message, |address, name| self.remember_name(address, name));
                }
            }
            return Some(Role::Other);
        }
        if payload.is_empty() {
            if segment.syn {
                if let Some(streams) = &mut flow.tls {
                    streams[direction.index()]
                        .set_initial_sequence(segment.sequence.wrapping_add(1));
                } else if !flow.not_tls {
                    let streams = flow.tls.get_or_insert_with(Default::default);
                    streams[direction.index()]
                        .set_initial_sequence(segment.sequence.wrapping_add(1));
                }
            }
            return Some(Role::Other);
        }
        if let Some(role) = self.stun_over_tcp(flow, direction, payload, at) {
            return Some(role);
        }
        if !flow.protocols.contains(Protocol::Tls) {
            if let Some(frame) =
                rfc4571_frame(payload).filter(|f| matches!(f.first(), Some(128..=191)))
            {
                flow.not_tls = true;
                self.drop_tls(flow);
                return self.rtp_or_rtcp(flow, direction, frame, at);
            }
        }
        if (flow.sip_port || flow.protocols.contains(Protocol::Sip)) && sip::looks_like_sip(payload)
        {
            flow.not_tls = true;
            self.drop_tls(flow);
            return Some(self.sip_message(flow, payload, at));
        }
        if flow.not_tls {
            return Some(Role::Other);
        }
        let streams = flow.tls.get_or_insert_with(Default::default);
        let stream = &mut streams[direction.index()];
        let before = stream.buffered_bytes();
        let summary = stream.on_segment(segment.sequence, payload);
        let after = stream.buffered_bytes();
        if !self.budget.charge(before, after) {
            stream.release_buffers();
            self.budget
                .released(after.saturating_sub(stream.buffered_bytes()));
        }
        if summary.not_tls {
            flow.not_tls = true;
            self.drop_tls(flow);
            return Some(Role::Other);
        }
        if summary.handshake {
            // Only handshake records can complete a hello or a certificate.
            if let Some(hello) = stream.server_hello() {
                flow.handshake.version = Some(hello.selected_version);
            }
            // Out of the flow while the flow takes what they found, then back.
            if let Some(streams) = flow.tls.take() {
                self.handshake_read(flow, streams[direction.index()].found(), at);
                flow.tls = Some(streams);
            }
        }
        if summary.application_data || summary.alert {
            // Records of an established session (a capture that began mid-connection) still
            // show the flow is TLS.
            flow.protocols.insert(Protocol::Tls);
        }
        Some(if summary.handshake || summary.change_cipher_spec {
            flow.protocols.insert(Protocol::Tls);
            Role::KeyExchange
        } else if summary.application_data && flow.app.is_some() {
            Role::Signaling
        } else {
            Role::Other
        })
    }

    /// STUN/TURN messages on TCP: only with the RFC 5389 magic cookie (classic STUN has too
    /// little structure to find in a byte stream), framed by RFC 4571 or not.
    fn stun_over_tcp(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Option<Role> {
        if flow.protocols.contains(Protocol::Tls) {
            return None;
        }
        for message in [Some(payload), rfc4571_frame(payload)]
            .into_iter()
            .flatten()
        {
            if let Some(header) = stun::parse_header(message).filter(|h| h.has_magic_cookie) {
                flow.not_tls = true;
                self.drop_tls(flow);
                return self.stun_message(flow, direction, message, header, at, false);
            }
        }
        if flow.protocols.contains(Protocol::Stun) {
            // Later segments of a STUN-over-TCP flow (TURN-TCP data, partial messages).
            return Some(Role::Other);
        }
        None
    }
}

/// The message inside one RFC 4571 frame (a 2-byte length, then the message) that fills the
/// whole segment.
fn rfc4571_frame(payload: &[u8]) -> Option<&[u8]> {
    let (length, message) = payload.split_first_chunk::<FRAMING_LEN>()?;
    (usize::from(u16::from_be_bytes(*length)) == message.len()).then_some(message)
}
