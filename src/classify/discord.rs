//! Discord's voice IP discovery (facts-apps §Discord; nDPI `src/lib/protocols/discord.c`; the
//! discortp crate's `IpDiscovery` packet).
//!
//! Before sending media, Discord's native client asks its voice server for its public address
//! with a 74-byte UDP packet: type (2: `00 01` request, `00 02` response), length (2: `00 46`,
//! 70), SSRC (4), address (64 bytes, NUL-terminated ASCII, empty in the request) and port (2).
//! Discord also sends 8-byte keep-alives starting `13 37 CA FE`. Both are Discord's own framing;
//! the media that follows is RTP with Discord's own encryption.

/// Length of an IP discovery packet.
const IP_DISCOVERY_LEN: usize = 74;
const ADDRESS_OFFSET: usize = 8;
const ADDRESS_LEN: usize = 64;
const KEEPALIVE_MAGIC: [u8; 4] = [0x13, 0x37, 0xCA, 0xFE];

/// True for an IP discovery request or response, or a keep-alive.
pub fn is_discord_framing(payload: &[u8]) -> bool {
    is_ip_discovery(payload) || (payload.len() == 8 && payload.starts_with(&KEEPALIVE_MAGIC))
}

fn is_ip_discovery(payload: &[u8]) -> bool {
    if payload.len() != IP_DISCOVERY_LEN {
        return false;
    }
    let Some(&[0x00, kind, 0x00, 0x46]) = payload.first_chunk::<4>() else {
        return false;
    };
    if !matches!(kind, 0x01 | 0x02) {
        return false;
    }
    // The address is printable ASCII followed by NULs (all NULs in a request).
    let Some(address) = payload.get(ADDRESS_OFFSET..ADDRESS_OFFSET + ADDRESS_LEN) else {
        return false;
    };
    let text_len = address.iter().position(|&b| b == 0).unwrap_or(ADDRESS_LEN);
    address[..text_len].iter().all(|b| b.is_ascii_graphic())
        && address[text_len..].iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    /// From nDPI's discord.pcap, frames 35 and 36 (request, and response carrying the
    /// client's public address "84.59.132.100").
    const REQUEST: &str = "0001004600024b1800000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000f1e2";
    const RESPONSE: &str = "0002004600024b1838342e35392e3133322e313030000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000fd45";

    #[test]
    fn real_ip_discovery_packets_are_recognised() {
        assert!(is_discord_framing(&hex(REQUEST)));
        assert!(is_discord_framing(&hex(RESPONSE)));
        assert!(is_discord_framing(&[0x13, 0x37, 0xCA, 0xFE, 0, 0, 0, 1]));
    }

    #[test]
    fn lookalikes_are_not() {
        let mut wrong_type = hex(REQUEST);
        wrong_type[1] = 3;
        assert!(!is_discord_framing(&wrong_type));
        let mut binary_address = hex(RESPONSE);
        binary_address[ADDRESS_OFFSET] = 0x01;
        assert!(!is_discord_framing(&binary_address));
        let mut text_after_nul = hex(RESPONSE);
        text_after_nul[ADDRESS_OFFSET + 40] = b'x';
        assert!(!is_discord_framing(&text_after_nul));
        assert!(!is_discord_framing(&hex(REQUEST)[..73]));
        assert!(!is_discord_framing(&[0x13, 0x37, 0xCA, 0xFE, 0, 0, 0]));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = is_discord_framing(&bytes);
        }
    }
}
