//! Zoom's native UDP protocol: SFU ("outer") header, media encapsulation ("ZME", "inner") and
//! the classic-STUN and P2P set-up fingerprints.
//!
//! Zoom publishes no specification. The layouts come from third-party reverse engineering,
//! collected with sources and confidence tags in `docs/design/facts-zoom.md` (§2.3–2.7):
//! ntop nDPI `src/lib/protocols/zoom.c` (2024), Princeton-Cabernet `zoom-analysis`
//! (Michel et al., IMC '22: `wireshark/zoom.lua`, `src/lib/zoom.cc`), and the
//! RTC-Measurement-Project Lua dissector (2025, type-0x07 wrapper). Every rule below was also
//! checked against the public captures named there.
//!
//! # Layers
//!
//! * **Server mode** (UDP port 8801–8810 on the Zoom side; the caller checks the port):
//!   `[SFU header][ZME][RTP or RTCP]`. The SFU header has two generations:
//!   * *Generation B* (2021–2025): 8 bytes — type, u16 sequence, u32 cookie, direction byte
//!     (`0x00`/`0x01` towards Zoom, `0x04`/`0x05` from Zoom), ZME at offset 8.
//!   * *Generation A* (2019–2020 clients): the single type byte `0x05`, ZME at offset 1.
//! * **P2P mode**: the ZME starts at offset 0 (no SFU header, no well-known port).
//!
//! # How a type-5 packet is read
//!
//! The two generations are not self-describing, so [`parse_server_mode`] tries readings from
//! the most to the least specific and takes the first that fits:
//!
//! 1. Generation B with a *strong* ZME match: a known media ZME type whose RTP/RTCP header at
//!    the documented offset has version 2 (or the filler's `0x03e8` marker).
//! 2. Generation A with a strong ZME match.
//! 3. Generation B with a well-formed outer header (direction byte in `{0,1,4,5}` and room for
//!    the 15-byte ZME header): the packet is Zoom, the kind may be unknown → `Media { Other }`.
//! 4. Generation A with a known ZME type and the `01 00` bytes that follow it in media
//!    packets (or a known session-control type).
//!
//! ZME types `0x0a`, `0x0c` and `0x0d` without the screen-share subtype `0x1e` carry cleartext
//! session control (ASCII key names such as `bw_level_video`), not media, so they are reported
//! as `Control { sfu_type: 0x05 }` rather than as media: an auditor counting media packets to
//! a server should not count signaling.
//!
//! The 2025 type-`0x07` wrapper (`07 04 <token:4> 00 <real ZME>`) is unwrapped once: the real
//! ZME starts 7 bytes into the wrapper.
//!
//! Media kinds are decided by the ZME type, never by the RTP payload type (Zoom reuses PT 98
//! for audio and video). A kind other than `Other`/`Filler` is only reported when the RTP or
//! RTCP header is where the table says: the headers are cleartext (only payloads are
//! encrypted), so this check is cheap and removes most false positives.
//!
//! Everything here is allocation-free and panic-free on arbitrary input: all reads go through
//! `slice::get`.

/// What a Zoom UDP packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZoomPacket {
    /// A type-5 packet that carries (or most likely carries) media.
    Media { kind: ZoomMediaKind },
    /// Connection set-up, keep-alive or session control; `sfu_type` is the first byte
    /// (`0x05` for ZME session-control messages inside type-5 packets).
    Control { sfu_type: u8 },
}

/// The media carried in a ZME, from its type byte (facts-zoom §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZoomMediaKind {
    Audio,
    Video,
    ScreenShare,
    Rtcp,
    /// Bandwidth-probing packets of one repeated byte (ZME `0x15`).
    Filler,
    /// A well-formed Zoom media frame whose content could not be identified.
    Other,
}

/// SFU type byte of a media/control frame that carries a ZME.
pub const SFU_MEDIA: u8 = 0x05;

const ZME_AUDIO: u8 = 0x0f;
const ZME_VIDEO: u8 = 0x10;
const ZME_SERVER_SHARE: u8 = 0x0d;
const ZME_P2P_SHARE: u8 = 0x1e;
const ZME_FILLER: u8 = 0x15;
const ZME_WRAPPER: u8 = 0x07;
const ZME_UNKNOWN_RTP: u8 = 0x01;
const ZME_P2P_SETUP: u8 = 0x1f;
const ZME_TIMESTAMP: u8 = 0x20;
const ZME_CONTROL_SHORT: u8 = 0x0a;
const ZME_CONTROL: u8 = 0x0c;

/// Length of the common ZME header (type, two unknown u32, u16 sequence, u32 timestamp).
const ZME_HEADER_LEN: usize = 15;
/// Length of the Generation B SFU header.
const SFU_HEADER_LEN: usize = 8;
/// Where the real ZME starts inside a type-0x07 wrapper (§2.5).
const WRAPPER_INNER_OFFSET: usize = 7;
/// Minimum RTP header (RFC 3550 §5.1) and RTCP header (§6.4.1 common part) lengths.
const RTP_MIN_LEN: usize = 12;
const RTCP_MIN_LEN: usize = 8;

/// Classifies a UDP payload on a Zoom server port (8801–8810). Returns `None` for anything
/// that does not match a documented Zoom layout.
pub fn parse_server_mode(payload: &[u8]) -> Option<ZoomPacket> {
    let sfu_type = *payload.first()?;
    match sfu_type {
        0x01 | 0x02 => {
            is_first_packet_signature(payload).then_some(ZoomPacket::Control { sfu_type })
        }
        // Keep-alives: count (1–4), timestamp (5–8), cookie (9–12), continue flag (13).
        // The smallest ones seen (2019) are 13 bytes long.
        0x03 | 0x04 => (payload.len() >= 13).then_some(ZoomPacket::Control { sfu_type }),
        // unknown (1–4), cookie (5–8), continue flag (9), then TLVs.
        0x07 => (payload.len() >= 10).then_some(ZoomPacket::Control { sfu_type }),
        SFU_MEDIA => parse_media_frame(payload),
        _ => None,
    }
}

/// The strong first-packet signatures nDPI relies on: the client's `01 00 02|03` hello and the
/// server's `02 00 01|02|03` reply, longer than 8 bytes.
pub fn is_first_packet_signature(payload: &[u8]) -> bool {
    if payload.len() <= 8 {
        return false;
    }
    matches!(
        payload.get(..3),
        Some([0x01, 0x00, 0x02 | 0x03]) | Some([0x02, 0x00, 0x01..=0x03])
    )
}

/// Classifies a P2P-mode payload (ZME at offset 0). Only strong matches count, because P2P
/// flows have no well-known port to narrow the search.
///
/// Only the ZME types seen in P2P calls (facts-zoom §2.6) are accepted: type `0x01` (RTP at
/// +26) is left out because STUN Binding messages start with `01 01`/`01 03` and, with
/// attributes, often have a version-2-looking byte at offset 26.
pub fn parse_p2p(payload: &[u8]) -> Option<ZoomPacket> {
    let p2p_type = matches!(
        payload.first(),
        Some(&(ZME_AUDIO | ZME_VIDEO | ZME_P2P_SHARE | ZME_FILLER | 0x21..=0x23))
    );
    if !p2p_type {
        return None;
    }
    zme_media_kind(payload, false).map(|kind| ZoomPacket::Media { kind })
}

/// A Zoom P2P connection set-up packet (facts-zoom §2.6, nDPI's rule): `1f 02 01`, longer
/// than 36 bytes, ending in four zero bytes. The packet carries the peer's IP address in
/// ASCII, so callers may want to flag it as an address leak.
pub fn is_p2p_setup(payload: &[u8]) -> bool {
    payload.len() > 36
        && payload.get(..3) == Some(&[ZME_P2P_SETUP, 0x02, 0x01][..])
        && payload.get(payload.len().saturating_sub(4)..) == Some(&[0, 0, 0, 0][..])
}

/// Zoom's STUN fingerprint: a STUN message (classic RFC 3489 or RFC 5389 framing) with the
/// vendor attribute `0x0101` or `0x0103` (nDPI's rule; Zoom sends `0x0101` with the ASCII
/// value `1234567890123456789\0`). The magic cookie is not required: Zoom uses classic STUN.
pub fn is_zoom_stun(payload: &[u8]) -> bool {
    const STUN_HEADER_LEN: usize = 20;
    // A STUN message carries few attributes; the bound keeps hostile input cheap.
    const MAX_ATTRIBUTES: usize = 32;
    let (Some(msg_type), Some(msg_len)) = (be16(payload, 0), be16(payload, 2)) else {
        return false;
    };
    // The two top bits of a STUN message type are zero; attributes are 4-byte aligned.
    if msg_type & 0xc000 != 0 || msg_len % 4 != 0 {
        return false;
    }
    if STUN_HEADER_LEN + usize::from(msg_len) != payload.len() {
        return false;
    }
    let mut offset = STUN_HEADER_LEN;
    for _ in 0..MAX_ATTRIBUTES {
        let (Some(attr_type), Some(attr_len)) = (
            be16(payload, offset),
            be16(payload, offset.saturating_add(2)),
        ) else {
            return false;
        };
        if attr_type == 0x0101 || attr_type == 0x0103 {
            return true;
        }
        let padded = usize::from(attr_len).next_multiple_of(4);
        offset = offset.saturating_add(4).saturating_add(padded);
        if offset >= payload.len() {
            return false;
        }
    }
    false
}

fn parse_media_frame(payload: &[u8]) -> Option<ZoomPacket> {
    let gen_b = payload
        .get(SFU_HEADER_LEN..)
        .filter(|_| matches!(payload.get(7), Some(0x00 | 0x01 | 0x04 | 0x05)));
    let gen_a = payload.get(1..)?;

    if let Some(kind) = gen_b.and_then(|zme| zme_media_kind(zme, true)) {
        return Some(ZoomPacket::Media { kind });
    }
    if let Some(kind) = zme_media_kind(gen_a, true) {
        return Some(ZoomPacket::Media { kind });
    }
    if let Some(zme) = gen_b.filter(|zme| zme.len() >= ZME_HEADER_LEN) {
        // A well-formed outer header is Zoom even when the ZME type is new to us.
        return Some(zme_control(zme, true).unwrap_or(ZoomPacket::Media {
            kind: ZoomMediaKind::Other,
        }));
    }
    // Generation A has no outer header to vouch for the packet, so require a known ZME type
    // plus the `01 00` that follows it in every 2019-era media packet, or a control type.
    let zme_type = *gen_a.first()?;
    if let Some(control) = zme_control(gen_a, true) {
        return Some(control);
    }
    if is_known_media_type(zme_type) && gen_a.get(1..3) == Some(&[0x01, 0x00][..]) {
        return Some(ZoomPacket::Media {
            kind: ZoomMediaKind::Other,
        });
    }
    None
}

/// A ZME that carries session control rather than media (see the module docs).
fn zme_control(zme: &[u8], allow_wrapper: bool) -> Option<ZoomPacket> {
    let control = ZoomPacket::Control {
        sfu_type: SFU_MEDIA,
    };
    match *zme.first()? {
        ZME_CONTROL_SHORT | ZME_CONTROL => Some(control),
        ZME_SERVER_SHARE if zme.get(7) != Some(&ZME_P2P_SHARE) => Some(control),
        ZME_WRAPPER if allow_wrapper => zme_control(zme.get(WRAPPER_INNER_OFFSET..)?, false),
        _ => None,
    }
}

fn is_known_media_type(zme_type: u8) -> bool {
    matches!(
        zme_type,
        ZME_AUDIO | ZME_VIDEO | ZME_SERVER_SHARE | ZME_P2P_SHARE | 0x21
            ..=0x23 | ZME_FILLER | ZME_UNKNOWN_RTP | ZME_TIMESTAMP | ZME_WRAPPER
    )
}

/// The strong ZME check: a known media type with RTP/RTCP at the documented offset
/// (facts-zoom §2.4), or the filler marker. `allow_wrapper` permits one level of the
/// type-0x07 wrapper (never nested, so hostile input cannot recurse).
fn zme_media_kind(zme: &[u8], allow_wrapper: bool) -> Option<ZoomMediaKind> {
    let kind = match *zme.first()? {
        ZME_AUDIO => rtp_at(zme, 19).then_some(ZoomMediaKind::Audio)?,
        ZME_VIDEO => {
            // ZME[20] == 2 announces frame number and packets-in-frame before the RTP header.
            let offset = if zme.get(20) == Some(&0x02) { 24 } else { 20 };
            rtp_at(zme, offset).then_some(ZoomMediaKind::Video)?
        }
        ZME_SERVER_SHARE => (zme.get(7) == Some(&ZME_P2P_SHARE) && rtp_at(zme, 27))
            .then_some(ZoomMediaKind::ScreenShare)?,
        ZME_P2P_SHARE => rtp_at(zme, 20).then_some(ZoomMediaKind::ScreenShare)?,
        0x21..=0x23 => rtcp_at(zme, 16).then_some(ZoomMediaKind::Rtcp)?,
        // u16 1000 at 22–23 marks filler (RTC-Measurement-Project dissector).
        ZME_FILLER => (be16(zme, 22) == Some(0x03e8)).then_some(ZoomMediaKind::Filler)?,
        ZME_UNKNOWN_RTP => rtp_at(zme, 26).then_some(ZoomMediaKind::Other)?,
        ZME_WRAPPER if allow_wrapper => zme_media_kind(zme.get(WRAPPER_INNER_OFFSET..)?, false)?,
        _ => return None,
    };
    Some(kind)
}

/// RTP version 2 at `offset` with a full fixed header behind it.
fn rtp_at(buf: &[u8], offset: usize) -> bool {
    match buf.get(offset..) {
        Some(rtp @ [first, ..]) => rtp.len() >= RTP_MIN_LEN && first >> 6 == 2,
        _ => false,
    }
}

/// RTCP version 2 at `offset` with a packet type in 192–223 (RFC 3550, RFC 4585, RFC 5760).
fn rtcp_at(buf: &[u8], offset: usize) -> bool {
    match buf.get(offset..) {
        Some(rtcp @ [first, packet_type, ..]) => {
            rtcp.len() >= RTCP_MIN_LEN && first >> 6 == 2 && (192..=223).contains(packet_type)
        }
        _ => false,
    }
}

fn be16(buf: &[u8], offset: usize) -> Option<u16> {
    let bytes = buf.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    fn media(kind: ZoomMediaKind) -> Option<ZoomPacket> {
        Some(ZoomPacket::Media { kind })
    }

    fn control(sfu_type: u8) -> Option<ZoomPacket> {
        Some(ZoomPacket::Control { sfu_type })
    }

    /// facts-zoom §2.4 worked example (Princeton `zoom_srv_video_buf`), RTP header completed
    /// from the same capture.
    const SRV_VIDEO: &str = "05 0007 00fe5132 04
        10 0100fb90 16180c03 0005 696592aa 000000000002 3318 05
        90621e23f3e79e3001000801bede0001";

    // Real packets from Princeton `zoom_test.pcap` (2021, Generation B), cut after the RTP
    // fixed header where long.
    const SRV_AUDIO: &str = "05000200fe5130040f0100fb90101104030000696592b40001003d9063d70d01bdc80001000802bede00015064";
    const SRV_CONTROL_0D: &str =
        "05000400fe5131040d92f00000020000000100000000000d01797b24f414c548a48185";
    const CLI_CONTROL_0C: &str = "05000300fe5132000c01797b24f414c548a48185e5433f25dbd7010004";
    const CLI_HELLO: &str = "01000328447853e4b0fb023b4f147d25f18fac00000000000000020572cffb";
    const SRV_REPLY: &str = "02000328447853e4b0fb023b4f147d25f18fac00fe51320572cffb00000000";
    const KEEPALIVE: &str = "0300000001696591ba00fe513000";

    // Real packets from nDPI `zoom.pcap` (2019, Generation A).
    const GEN_A_RTCP: &str =
        "05220100fb90091000000000000000000080c8000601000402e13779d7e7ec12da0000091000000005000000b5";
    const GEN_A_FILLER: &str =
        "0515010000000000000033010dff0000762a8da600000003e8000000000101010101010101";
    const GEN_A_CONTROL: &str = "050a06000000000000000000000000";
    const GEN_A_CONTROL_0D: &str = "050d01218e9c3928c44b2fa9027072822e56f601000401030000000001";
    // Same capture, a 2023 Generation B packet carried in GTP: ZME type 0x15 without the
    // filler marker (it holds `bw_level_audio` control text), so "Zoom, content unknown".
    const GEN_B_15_CONTROL: &str =
        "050f4f00272ec90415010000000000000035010201001f5a4e000000e605030000000000000000ff00000002";

    // nDPI zoom.pcap: Zoom's classic STUN binding request.
    const ZOOM_STUN: &str =
        "00010018c15dae63585d14392e582c260403bf30010100143132333435363738393031323334353637383900";

    #[test]
    fn worked_example_is_video() {
        assert_eq!(
            parse_server_mode(&hex(SRV_VIDEO)),
            media(ZoomMediaKind::Video)
        );
    }

    #[test]
    fn real_generation_b_packets() {
        assert_eq!(
            parse_server_mode(&hex(SRV_AUDIO)),
            media(ZoomMediaKind::Audio)
        );
        assert_eq!(parse_server_mode(&hex(SRV_CONTROL_0D)), control(5));
        assert_eq!(parse_server_mode(&hex(CLI_CONTROL_0C)), control(5));
        assert_eq!(parse_server_mode(&hex(CLI_HELLO)), control(1));
        assert_eq!(parse_server_mode(&hex(SRV_REPLY)), control(2));
        assert_eq!(parse_server_mode(&hex(KEEPALIVE)), control(3));
        assert_eq!(
            parse_server_mode(&hex(GEN_B_15_CONTROL)),
            media(ZoomMediaKind::Other)
        );
        // The 2019 filler ZME behind a Generation B header.
        let mut filler = hex("05 0f50 00272ec9 04");
        filler.extend_from_slice(&hex(GEN_A_FILLER)[1..]);
        assert_eq!(parse_server_mode(&filler), media(ZoomMediaKind::Filler));
        assert!(is_first_packet_signature(&hex(CLI_HELLO)));
        assert!(is_first_packet_signature(&hex(SRV_REPLY)));
        assert!(!is_first_packet_signature(&hex(KEEPALIVE)));
    }

    #[test]
    fn real_generation_a_packets() {
        assert_eq!(
            parse_server_mode(&hex(GEN_A_RTCP)),
            media(ZoomMediaKind::Rtcp)
        );
        assert_eq!(
            parse_server_mode(&hex(GEN_A_FILLER)),
            media(ZoomMediaKind::Filler)
        );
        assert_eq!(parse_server_mode(&hex(GEN_A_CONTROL)), control(5));
        assert_eq!(parse_server_mode(&hex(GEN_A_CONTROL_0D)), control(5));
    }

    #[test]
    fn type7_wrapper_is_unwrapped() {
        // §2.5: `05 | seq | cookie | 05 | 07 04 <token> 00 | real ZME`.
        let audio_zme = &hex(SRV_AUDIO)[8..];
        let mut packet = hex("05 0010 00aabbcc 05 07 04 11223344 00");
        packet.extend_from_slice(audio_zme);
        assert_eq!(parse_server_mode(&packet), media(ZoomMediaKind::Audio));
    }

    #[test]
    fn video_without_frame_info_uses_offset_20() {
        let mut zme = vec![ZME_VIDEO];
        zme.extend_from_slice(&[0x01, 0x00]);
        zme.resize(20, 0);
        zme.extend_from_slice(&[0x90, 0x62]);
        zme.resize(40, 0);
        assert_eq!(parse_p2p(&zme), media(ZoomMediaKind::Video));
    }

    #[test]
    fn p2p_media_and_setup() {
        // P2P = the server packet without its 8-byte SFU header.
        assert_eq!(parse_p2p(&hex(SRV_VIDEO)[8..]), media(ZoomMediaKind::Video));
        assert_eq!(parse_p2p(&hex(SRV_AUDIO)[8..]), media(ZoomMediaKind::Audio));
        assert_eq!(parse_p2p(&hex(SRV_CONTROL_0D)[8..]), None);
        let mut setup = hex("1f0201000800010004000000000000000000000000000000");
        setup.extend_from_slice(&13u32.to_be_bytes());
        setup.extend_from_slice(b"192.168.1.226");
        setup.extend_from_slice(&36u32.to_be_bytes());
        setup.extend_from_slice(b"0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0");
        setup.extend_from_slice(&[0; 4]);
        assert!(is_p2p_setup(&setup));
        assert!(!is_p2p_setup(&setup[..setup.len() - 1]));
        assert!(!is_p2p_setup(&setup[..36]));
    }

    #[test]
    fn stun_fingerprint() {
        let stun = hex(ZOOM_STUN);
        assert!(is_zoom_stun(&stun));
        assert!(!is_zoom_stun(&stun[..stun.len() - 4]));
        // A plain binding request with SOFTWARE (0x8022) instead.
        let mut other = stun.clone();
        other[20..22].copy_from_slice(&[0x80, 0x22]);
        assert!(!is_zoom_stun(&other));
    }

    #[test]
    fn rejects_foreign_traffic() {
        assert_eq!(parse_server_mode(&[]), None);
        assert_eq!(parse_server_mode(&hex("16feff0000000000000000")), None);
        assert_eq!(parse_server_mode(&hex("0100010000")), None);
        assert_eq!(parse_server_mode(&hex("05")), None);
        // Type 5 with a bad direction byte and no Generation A pattern.
        assert_eq!(
            parse_server_mode(&hex("05 0000 00000000 77 0f 0000000000")),
            None
        );
        assert_eq!(parse_p2p(&hex("0f0100")), None);
        // A STUN Binding success response is not a P2P ZME of type 0x01.
        let mut stun = hex("0101002c2112a442092d7333917218496a2bdcdf");
        stun.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x90, 0x00]);
        stun.resize(64, 0x90);
        assert_eq!(parse_p2p(&stun), None);
    }

    /// A generated Generation B or P2P media packet: known kind, RTP/RTCP at the offset.
    fn build_zme(kind: ZoomMediaKind, filler: &[u8]) -> Vec<u8> {
        let (zme_type, offset, subtype) = match kind {
            ZoomMediaKind::Audio => (ZME_AUDIO, 19, None),
            ZoomMediaKind::Video => (ZME_VIDEO, 24, Some((20, 0x02))),
            ZoomMediaKind::ScreenShare => (ZME_SERVER_SHARE, 27, Some((7, ZME_P2P_SHARE))),
            ZoomMediaKind::Rtcp => (0x21, 16, None),
            ZoomMediaKind::Filler => (ZME_FILLER, 22, None),
            ZoomMediaKind::Other => (ZME_UNKNOWN_RTP, 26, None),
        };
        let mut zme = vec![zme_type, 0x01, 0x00];
        zme.resize(offset, 0);
        if let Some((at, value)) = subtype {
            zme[at] = value;
        }
        match kind {
            ZoomMediaKind::Filler => zme.extend_from_slice(&[0x03, 0xe8]),
            ZoomMediaKind::Rtcp => zme.extend_from_slice(&[0x80, 200, 0, 6]),
            _ => zme.extend_from_slice(&[0x90, 0x62, 0, 1]),
        }
        zme.extend_from_slice(&[0; 12]);
        zme.extend_from_slice(filler);
        zme
    }

    fn any_kind() -> impl Strategy<Value = ZoomMediaKind> {
        prop_oneof![
            Just(ZoomMediaKind::Audio),
            Just(ZoomMediaKind::Video),
            Just(ZoomMediaKind::ScreenShare),
            Just(ZoomMediaKind::Rtcp),
            Just(ZoomMediaKind::Filler),
            Just(ZoomMediaKind::Other),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_server_mode(&bytes);
            let _ = parse_p2p(&bytes);
            let _ = is_p2p_setup(&bytes);
            let _ = is_zoom_stun(&bytes);
            let _ = is_first_packet_signature(&bytes);
        }

        #[test]
        fn type5_arbitrary_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut packet = vec![SFU_MEDIA];
            packet.extend_from_slice(&tail);
            let _ = parse_server_mode(&packet);
        }

        /// Server-mode control packets: the first-packet hellos, keep-alives and type 7, with
        /// any bytes after their fixed part, are control of their type; a prefix below the
        /// minimum size is nothing.
        #[test]
        fn generated_control_packets_round_trip(
            head in prop::sample::select(vec![
                (vec![0x01u8, 0x00, 0x02], 9usize),
                (vec![0x01, 0x00, 0x03], 9),
                (vec![0x02, 0x00, 0x01], 9),
                (vec![0x02, 0x00, 0x02], 9),
                (vec![0x02, 0x00, 0x03], 9),
                (vec![0x03], 13),
                (vec![0x04], 13),
                (vec![0x07], 10),
            ]),
            tail in proptest::collection::vec(any::<u8>(), 12..48),
        ) {
            let (fixed, minimum) = head;
            let mut packet = fixed.clone();
            packet.extend_from_slice(&tail);
            prop_assert_eq!(parse_server_mode(&packet), control(fixed[0]));
            prop_assert_eq!(is_first_packet_signature(&packet), fixed[0] <= 0x02);
            for cut in 0..packet.len() {
                let expected = if cut < minimum { None } else { control(fixed[0]) };
                prop_assert_eq!(parse_server_mode(&packet[..cut]), expected, "cut {}", cut);
            }
        }

        /// Zoom's STUN fingerprint: a classic or RFC 5389 STUN message (from the STUN tests'
        /// builder) with attribute 0x0101 or 0x0103 anywhere among others; without it, or cut
        /// short, it is not.
        #[test]
        fn generated_zoom_stun_round_trips(
            message_type in prop::sample::select(vec![0x0001u16, 0x0101, 0x0003, 0x0103]),
            cookie in any::<bool>(),
            zoom_attribute in prop_oneof![Just(0x0101u16), Just(0x0103)],
            others in proptest::collection::vec(
                (any::<u16>().prop_filter("not Zoom's", |t| *t != 0x0101 && *t != 0x0103),
                 proptest::collection::vec(any::<u8>(), 0..12)),
                0..6,
            ),
            at in any::<prop::sample::Index>(),
        ) {
            let mut attrs = others.clone();
            attrs.insert(at.index(attrs.len() + 1), (zoom_attribute, b"1234567890123456789\0".to_vec()));
            let message = crate::classify::stun::tests::build(message_type, cookie, &attrs);
            prop_assert!(is_zoom_stun(&message));
            for cut in 0..message.len() {
                prop_assert!(!is_zoom_stun(&message[..cut]), "cut {}", cut);
            }
            let without = crate::classify::stun::tests::build(message_type, cookie, &others);
            prop_assert!(!is_zoom_stun(&without));
        }

        #[test]
        fn generated_media_round_trips(
            kind in any_kind(),
            seq in any::<u16>(),
            cookie in any::<u32>(),
            dir in prop_oneof![Just(0u8), Just(4u8)],
            filler in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            let zme = build_zme(kind, &filler);
            // The builder uses the server-mode share type 0x0d and the 0x01 type, which P2P
            // mode does not accept.
            let p2p_expected = match kind {
                ZoomMediaKind::ScreenShare | ZoomMediaKind::Other => None,
                _ => media(kind),
            };
            prop_assert_eq!(parse_p2p(&zme), p2p_expected);
            let mut packet = vec![SFU_MEDIA];
            packet.extend_from_slice(&seq.to_be_bytes());
            packet.extend_from_slice(&cookie.to_be_bytes());
            packet.push(dir);
            packet.extend_from_slice(&zme);
            prop_assert_eq!(parse_server_mode(&packet), media(kind));
            // Every truncation is handled: no panic, and at worst the frame is reported as
            // Zoom of unknown content, never as another media kind.
            for cut in 0..packet.len() {
                let result = parse_server_mode(&packet[..cut]);
                prop_assert!(
                    result.is_none()
                        || result == media(kind)
                        || result == media(ZoomMediaKind::Other)
                        || result == control(SFU_MEDIA),
                    "cut {} gave {:?}", cut, result
                );
                let p2p = parse_p2p(&zme[..cut.min(zme.len())]);
                prop_assert!(p2p.is_none() || p2p == p2p_expected);
            }
        }
    }
}
