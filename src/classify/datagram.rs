//! UDP: first-byte demultiplexing (RFC 7983, updated by RFC 9443) into the dissectors, and what
//! each datagram tells about its flow.
//!
//! | first byte | protocol |
//! |---|---|
//! | 0–3 | STUN/TURN (signaling); TURN Send/Data indications are opened |
//! | 16–19 | ZRTP (key exchange) |
//! | 20–63 | DTLS (handshake and ChangeCipherSpec = key exchange) |
//! | 64–79 | TURN ChannelData, on flows that used TURN (the relayed payload decides) |
//! | 128–191 | RTP/RTCP (media, once validated) |
//! | 192–255 | QUIC long header (Initial/Handshake = key exchange); Microsoft's multiplexed TURN `FF 10` |
//!
//! Before that table: DNS on port 53, SIP on port 5060 or by its start line, Zoom's own
//! protocol on ports 8801–8810 (its control types 0x01–0x03 share STUN's range, so strict STUN is
//! tried first), and Discord's IP discovery.

use super::*;

/// Microsoft's multiplexed TURN header (MS-TURN §2.2.3, facts-apps §1.3): `FF 10`, a length of
/// the rest, an 8-byte session id, then the STUN or media payload.
const MS_TURN_HEADER_LEN: usize = 12;

impl Classifier<'_> {
    pub(super) fn classify_datagram(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Option<Role> {
        if flow.dns_port {
            if dns::looks_like_dns(payload) {
                flow.protocols.insert(Protocol::Dns);
                if direction == Direction::ToClient {
                    dns::parse_response(payload, |address, name| self.remember_name(address, name));
                }
            }
            return Some(Role::Other);
        }
        if (flow.sip_port || flow.protocols.contains(Protocol::Sip)) && sip::looks_like_sip(payload)
        {
            return Some(self.sip_message(flow, payload, at));
        }
        if flow.zoom_port && stun::parse_header(payload).is_none() {
            if let Some(packet) = zoom::parse_server_mode(payload) {
                return Some(self.zoom_packet(flow, packet, at));
            }
        }
        if let Some(role) = self.gquic_datagram(flow, direction, payload, at) {
            return Some(role);
        }
        if discord::is_discord_framing(payload) {
            self.offer_framing(flow, "discord", at.number);
            return Some(Role::Signaling);
        }
        if zoom::is_p2p_setup(payload) {
            flow.zoom_p2p = true;
            flow.protocols.insert(Protocol::Zoom);
            self.offer_framing(flow, "zoom", at.number);
            return Some(Role::Signaling);
        }
        if let Some(packet) = zoom::parse_p2p(payload).filter(is_identified_media) {
            if flow.zoom_p2p {
                return Some(self.zoom_packet(flow, packet, at));
            }
            // Peer-to-peer Zoom media has no outer header and no fixed port; a capture may miss
            // the `1f 02 01` set-up. Two media packets whose RTP sits exactly where the Zoom
            // media header says (facts-zoom §2.6) decide it; the first waits for the second.
            match flow.zoom_p2p_pending.take() {
                Some(first) => {
                    flow.zoom_p2p = true;
                    let role = self.zoom_packet(flow, packet, at);
                    flow.roles.add(role, 1, first);
                    if let Some(app) = flow
                        .app
                        .as_mut()
                        .filter(|m| m.kind == EvidenceKind::Framing)
                    {
                        app.packet = Some(first.number);
                    }
                    return Some(role);
                }
                None => {
                    flow.zoom_p2p_pending = Some(at);
                    return None;
                }
            }
        }
        self.demultiplex(flow, direction, payload, at, true)
    }

    fn framing_app(&self, framing: &str) -> Option<AppId> {
        self.catalog.match_framing(framing)
    }

    /// Attribution by a proprietary framing (a dissector id such as `zoom`) seen in a packet.
    /// Runs for every Zoom packet, so it returns at once when the flow already has evidence
    /// as strong (the usual case after the first packet) instead of looking up and allocating.
    fn offer_framing(&self, flow: &mut FlowClass, framing: &str, packet: u64) {
        if !evidence::would_win(flow.app.as_ref(), EvidenceKind::Framing) {
            return;
        }
        if let Some(app) = self.framing_app(framing) {
            self.offer(
                flow,
                app,
                EvidenceKind::Framing,
                framing.into(),
                Some(packet),
            );
        }
    }

    fn zoom_packet(&self, flow: &mut FlowClass, packet: zoom::ZoomPacket, at: PacketRef) -> Role {
        flow.protocols.insert(Protocol::Zoom);
        self.offer_framing(flow, "zoom", at.number);
        match packet {
            zoom::ZoomPacket::Media { kind } => {
                match kind {
                    zoom::ZoomMediaKind::Audio => flow.media_kinds.insert(MediaKind::Audio),
                    zoom::ZoomMediaKind::Video => flow.media_kinds.insert(MediaKind::Video),
                    zoom::ZoomMediaKind::ScreenShare => {
                        flow.media_kinds.insert(MediaKind::ScreenShare)
                    }
                    _ => {}
                }
                Role::Media
            }
            zoom::ZoomPacket::Control { .. } => Role::Signaling,
        }
    }

    /// A SIP message: key exchange when its SDP carries keys (`a=crypto`, `a=key-mgmt`), which
    /// anyone on the path can read; signaling otherwise. Its SDP media addresses are announced
    /// for the RTP flows that follow.
    pub(super) fn sip_message(&self, flow: &mut FlowClass, payload: &[u8], at: PacketRef) -> Role {
        let Some(message) = sip::parse(payload) else {
            return Role::Other;
        };
        flow.protocols.insert(Protocol::Sip);
        if !message.content_type_is_sdp {
            return Role::Signaling;
        }
        let sdp = sip::parse_sdp(message.body);
        for (ip, port, kind) in sdp.media_endpoints() {
            let kind = match kind {
                sip::MediaKindText::Audio => Some(MediaKind::Audio),
                sip::MediaKindText::Video => Some(MediaKind::Video),
                _ => None,
            };
            flow.announce(AnnouncedAddress {
                ip,
                port,
                how: Announced::SdpMedia(kind),
                packet: at.number,
            });
        }
        if sdp.has_key_exchange() {
            flow.keys_in_clear.get_or_insert(at);
            Role::KeyExchange
        } else {
            Role::Signaling
        }
    }

    /// RFC 7983 / RFC 9443 first-byte demultiplexing of one datagram, or of the payload a TURN
    /// relay carries (`top_level` false: relayed payloads are not opened again).
    pub(super) fn demultiplex(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
        top_level: bool,
    ) -> Option<Role> {
        let Some(&first_byte) = payload.first() else {
            return Some(Role::Other);
        };
        match first_byte {
            0..=3 => match stun::parse_header(payload) {
                Some(header) => self.stun_message(flow, direction, payload, header, at, top_level),
                None => Some(Role::Other),
            },
            16..=19 => match zrtp::parse(payload) {
                Some(_) => {
                    flow.protocols.insert(Protocol::Zrtp);
                    Some(Role::KeyExchange)
                }
                None => Some(Role::Other),
            },
            20..=63 => Some(self.dtls_datagram(flow, direction, payload, at)),
            64..=79 if top_level && flow.turn_seen => match stun::parse_channel_data(payload) {
                Some((_channel, data)) => self.demultiplex(flow, direction, data, at, false),
                None => Some(Role::Other),
            },
            128..=191 => self.rtp_or_rtcp(flow, direction, payload, at),
            0xFF if top_level && payload.get(1) == Some(&0x10) => {
                match payload.get(MS_TURN_HEADER_LEN..) {
                    Some(inner) if ms_turn_length_matches(payload) => {
                        flow.turn_seen = true;
                        flow.protocols.insert(Protocol::Turn);
                        self.demultiplex(flow, direction, inner, at, false)
                    }
                    _ => Some(Role::Other),
                }
            }
            192..=255 => Some(self.quic_datagram(flow, direction, payload, at)),
            _ => Some(Role::Other),
        }
    }

    /// A STUN/TURN message: signaling, with the app evidence and addresses its attributes carry.
    pub(super) fn stun_message(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        header: stun::StunHeader,
        at: PacketRef,
        top_level: bool,
    ) -> Option<Role> {
        flow.protocols.insert(Protocol::Stun);
        // Evidence strings are built only when they can win: most STUN packets of a flow
        // repeat what its first ones proved, and formatting their evidence was a twentieth of the
        // instructions on flow-dense traffic.
        let attribute_wins =
            |flow: &FlowClass| evidence::would_win(flow.app.as_ref(), EvidenceKind::StunAttribute);
        if zoom::is_zoom_stun(payload) {
            flow.protocols.insert(Protocol::Zoom);
            if let Some(app) = self.framing_app("zoom").filter(|_| attribute_wins(flow)) {
                self.offer(
                    flow,
                    app,
                    EvidenceKind::StunAttribute,
                    "zoom 0x0101".into(),
                    Some(at.number),
                );
            }
        }
        if let Some(app) = self
            .catalog
            .match_stun_message_type(header.message_type)
            .filter(|_| attribute_wins(flow))
        {
            let detail = format!("{} type 0x{:04x}", self.app_id(app), header.message_type);
            self.offer(
                flow,
                app,
                EvidenceKind::StunAttribute,
                detail,
                Some(at.number),
            );
        }
        for (attribute, value) in stun::attributes(payload) {
            match attribute {
                stun::ATTR_REALM => self.stun_text(flow, value, EvidenceKind::StunRealm, at),
                stun::ATTR_SOFTWARE => self.stun_text(flow, value, EvidenceKind::StunSoftware, at),
                stun::ATTR_XOR_PEER_ADDRESS | stun::ATTR_XOR_RELAYED_ADDRESS => {
                    if let Some(address) = stun::decode_xor_address(payload, value) {
                        flow.announce(AnnouncedAddress {
                            ip: address.ip(),
                            port: address.port(),
                            how: if attribute == stun::ATTR_XOR_PEER_ADDRESS {
                                Announced::StunPeer
                            } else {
                                Announced::StunRelayed
                            },
                            packet: at.number,
                        });
                    }
                }
                _ => {
                    if let Some(app) = self
                        .catalog
                        .match_stun_attribute(attribute)
                        .filter(|_| attribute_wins(flow))
                    {
                        let detail = format!("{} 0x{attribute:04x}", self.app_id(app));
                        self.offer(
                            flow,
                            app,
                            EvidenceKind::StunAttribute,
                            detail,
                            Some(at.number),
                        );
                    }
                }
            }
        }
        if stun::is_turn_method(header.method()) {
            flow.turn_seen = true;
            flow.protocols.insert(Protocol::Turn);
            if top_level {
                if let Some(data) = stun::data_attribute(payload) {
                    return self.demultiplex(flow, direction, data, at, false);
                }
            }
        }
        Some(Role::Signaling)
    }

    /// REALM or SOFTWARE text matched against the catalog.
    fn stun_text(&self, flow: &mut FlowClass, value: &[u8], kind: EvidenceKind, at: PacketRef) {
        if !evidence::would_win(flow.app.as_ref(), kind) {
            return;
        }
        let Ok(text) = std::str::from_utf8(value) else {
            return;
        };
        let text = text.trim_matches(|c: char| c == '"' || c.is_whitespace() || c == '\0');
        let app = match kind {
            EvidenceKind::StunRealm => self.catalog.match_stun_realm(text),
            _ => self.catalog.match_stun_software(text),
        };
        if let Some(app) = app {
            let detail: String = text.chars().take(64).collect();
            self.offer(flow, app, kind, detail, Some(at.number));
        }
    }

    /// DTLS records: handshake and ChangeCipherSpec are key exchange, alerts signaling. The
    /// handshake is read (SNI, certificate, SRTP profile) until it is complete.
    fn dtls_datagram(
        &self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Role {
        // A DTLS 1.3 unified header has too little structure to trust on its own (GTP-U, for
        // one, starts with 0x30): it only continues a flow that began with a DTLS handshake.
        let unified = payload.first().is_some_and(|&b| dtls::is_unified_header(b));
        if !dtls::looks_like_dtls(payload) || (unified && !flow.protocols.contains(Protocol::Dtls))
        {
            return Role::Other;
        }
        flow.protocols.insert(Protocol::Dtls);
        let mut role = Role::Other;
        for record in dtls::records(payload) {
            match record.content_type {
                dtls::HANDSHAKE | dtls::CHANGE_CIPHER_SPEC => role = Role::KeyExchange,
                // An alert is control traffic of the session: signaling for a conferencing app's
                // flow, like TLS application data, and `other` for an unknown one.
                dtls::ALERT if role == Role::Other && flow.app.is_some() => role = Role::Signaling,
                _ => {}
            }
        }
        if role == Role::KeyExchange {
            self.read_dtls_handshake(flow, direction, payload, at);
        }
        role
    }

    fn read_dtls_handshake(
        &self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) {
        let readers = flow.dtls.get_or_insert_with(Default::default);
        let reader = &mut readers[direction.index()];
        if reader.is_done() {
            return;
        }
        let before = reader.buffered_bytes();
        reader.on_datagram(payload);
        let after = reader.buffered_bytes();
        if !self.budget.charge(before, after) {
            reader.give_up();
            self.budget.released(after);
        }
        let profile = reader.server_hello().and_then(|hello| hello.srtp_profile);
        if let Some(hello) = reader.server_hello() {
            flow.handshake.version = Some(hello.version);
        }
        if profile.is_some() {
            flow.handshake.srtp_profile = profile;
        }
        // Out of the flow while the flow takes what they found, then back.
        if let Some(readers) = flow.dtls.take() {
            self.handshake_read(flow, readers[direction.index()].found(), at);
            flow.dtls = Some(readers);
        }
    }

    /// Google QUIC (pre-IETF, versions Q0xx): recognised from the client's public header, whose
    /// first byte falls outside RFC 7983's ranges. Its unencrypted handshake packets (CHLO, REJ)
    /// are key exchange; the CHLO's SNI tag names the server.
    fn gquic_datagram(
        &self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Option<Role> {
        if flow.gquic.is_none() {
            if direction != Direction::ToServer || flow.protocols.contains(Protocol::Quic) {
                return None;
            }
            let header = gquic::parse_public_header(payload)?;
            flow.gquic = Some((header.version, GQUIC_HANDSHAKE_PACKETS));
            flow.protocols.insert(Protocol::Quic);
        }
        let (version, budget) = flow.gquic.as_mut()?;
        if *budget == 0 {
            return Some(Role::Other);
        }
        *budget -= 1;
        let version = *version;
        if direction == Direction::ToServer && !flow.has_sni() {
            if let Some(sni) = gquic::client_hello_sni(payload) {
                self.server_name_seen(flow, &sni, at.number);
            }
        }
        Some(if gquic::is_key_exchange(payload, version) {
            Role::KeyExchange
        } else {
            Role::Other
        })
    }

    /// A QUIC long-header packet: Initial and Handshake are key exchange. The client's Initials
    /// are decrypted (RFC 9001 §5) until their ClientHello gives the server name.
    fn quic_datagram(
        &self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Role {
        let Some(header) = quic::parse_long_header(payload) else {
            return Role::Other;
        };
        flow.protocols.insert(Protocol::Quic);
        if direction == Direction::ToServer && !flow.has_sni() {
            let assembler = flow.quic.get_or_insert_with(Default::default);
            if !assembler.is_done() {
                let before = assembler.buffered_bytes();
                let hello = assembler.on_client_datagram(payload);
                let after = assembler.buffered_bytes();
                if !self.budget.charge(before, after) {
                    assembler.give_up();
                    self.budget.released(after);
                }
                if let Some(hello) = hello {
                    let found = HandshakeFound {
                        sni: hello.sni.as_deref(),
                        alpn: Some(&hello.alpn),
                        certificate: None,
                    };
                    self.handshake_read(flow, found, at);
                }
            }
        }
        if header.is_key_exchange() {
            Role::KeyExchange
        } else {
            Role::Other
        }
    }

    pub(super) fn rtp_or_rtcp(
        &mut self,
        flow: &mut FlowClass,
        direction: Direction,
        payload: &[u8],
        at: PacketRef,
    ) -> Option<Role> {
        if payload.get(1).is_some_and(|&b| rtp::is_rtcp_packet_type(b)) {
            return match rtp::parse_rtcp(payload) {
                Some(_) => {
                    flow.protocols.insert(Protocol::Rtcp);
                    Some(Role::Media)
                }
                None => Some(Role::Other),
            };
        }
        let Some(header) = rtp::parse_rtp(payload) else {
            return Some(Role::Other);
        };
        let d = direction.index();
        match flow.rtp[d].observe(&header) {
            rtp::RtpVerdict::Confirmed => {
                flow.protocols.insert(Protocol::Rtp);
                match rtp::static_media_kind(header.payload_type) {
                    Some(rtp::MediaKind::Audio) => flow.media_kinds.insert(MediaKind::Audio),
                    Some(rtp::MediaKind::Video) => flow.media_kinds.insert(MediaKind::Video),
                    None => {}
                }
                if let Some(pending) = &mut flow.pending_rtp {
                    if let Some(stream) = pending[d].take(header.ssrc) {
                        flow.roles.add(Role::Media, stream.count, stream.first);
                    }
                    if pending.iter().all(PendingRtp::is_empty) {
                        flow.pending_rtp = None;
                    }
                }
                Some(Role::Media)
            }
            rtp::RtpVerdict::Candidate => {
                let pending = flow.pending_rtp.get_or_insert_with(Box::default);
                if let Some(stale) = pending[d].add(header.ssrc, at) {
                    flow.roles.add(Role::Other, stale.count, stale.first);
                }
                None
            }
            rtp::RtpVerdict::NotRtp => Some(Role::Other),
        }
    }
}

/// Zoom media whose kind the dissector could confirm from the RTP/RTCP header inside it.
fn is_identified_media(packet: &zoom::ZoomPacket) -> bool {
    matches!(
        packet,
        zoom::ZoomPacket::Media {
            kind: zoom::ZoomMediaKind::Audio
                | zoom::ZoomMediaKind::Video
                | zoom::ZoomMediaKind::ScreenShare
                | zoom::ZoomMediaKind::Rtcp
        }
    )
}

/// The MS-TURN length field counts the bytes after the 4-byte type/length prefix.
fn ms_turn_length_matches(payload: &[u8]) -> bool {
    match payload.get(2..4) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])) + 4 == payload.len(),
        _ => false,
    }
}

/// RTP candidates of one stream not yet confirmed (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingStream {
    ssrc: u32,
    pub(super) count: u64,
    pub(super) first: PacketRef,
}

/// Pending RTP candidates of one flow direction, per SSRC. Three slots, like the tracker's three
/// streams: bundled audio, video and retransmission share one 5-tuple.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PendingRtp {
    slots: [Option<PendingStream>; 3],
}

impl PendingRtp {
    /// Holds one more candidate of `ssrc`. When every slot is taken by another stream, the
    /// stream held longest is given up and returned: its packets were not RTP after all.
    fn add(&mut self, ssrc: u32, at: PacketRef) -> Option<PendingStream> {
        if let Some(stream) = self.slots.iter_mut().flatten().find(|s| s.ssrc == ssrc) {
            stream.count += 1;
            return None;
        }
        let new = PendingStream {
            ssrc,
            count: 1,
            first: at,
        };
        if let Some(free) = self.slots.iter_mut().find(|slot| slot.is_none()) {
            *free = Some(new);
            return None;
        }
        let oldest = self
            .slots
            .iter_mut()
            .min_by_key(|slot| slot.map_or(0, |s| s.first.number))?;
        oldest.replace(new)
    }

    fn take(&mut self, ssrc: u32) -> Option<PendingStream> {
        self.slots
            .iter_mut()
            .find(|slot| slot.is_some_and(|s| s.ssrc == ssrc))
            .and_then(Option::take)
    }

    fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    pub(super) fn drain(&mut self) -> impl Iterator<Item = PendingStream> + '_ {
        self.slots.iter_mut().filter_map(Option::take)
    }

    /// Streams held: at most the three slots, however many SSRCs the flow shows.
    #[cfg(test)]
    pub(super) fn streams(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}
