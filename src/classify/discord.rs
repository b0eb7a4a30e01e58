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

    /// An IP discovery packet: request (type 1, no address) or response (type 2).
    fn ip_discovery(kind: u8, ssrc: u32, address: &str, port: u16) -> Vec<u8> {
        let mut packet = vec![0x00, kind, 0x00, 0x46];
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(address.as_bytes());
        packet.resize(ADDRESS_OFFSET + ADDRESS_LEN, 0);
        packet.extend_from_slice(&port.to_be_bytes());
        packet
    }

    #[test]
    fn builder_matches_the_captured_packets() {
        assert_eq!(ip_discovery(1, 0x24b18, "", 0xf1e2), hex(REQUEST));
        assert_eq!(
            ip_discovery(2, 0x24b18, "84.59.132.100", 0xfd45),
            hex(RESPONSE)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = is_discord_framing(&bytes);
        }

        /// Past the fixed `00 0k 00 46` header and at the exact length, anything goes.
        #[test]
        fn arbitrary_bytes_behind_the_header_never_panic(
            kind in 0u8..4,
            tail in proptest::collection::vec(any::<u8>(), 70),
        ) {
            let mut packet = vec![0x00, kind, 0x00, 0x46];
            packet.extend_from_slice(&tail);
            let _ = is_discord_framing(&packet);
        }

        /// Requests, responses with any printable address (IPv4, IPv6 or other text up to the
        /// full 64 bytes) and keep-alives are recognised; no prefix of one is, nor anything
        /// with a byte appended.
        #[test]
        fn generated_packets_round_trip_and_truncations_are_rejected(
            response in any::<bool>(),
            ssrc in any::<u32>(),
            address in prop_oneof![
                any::<std::net::IpAddr>().prop_map(|ip| ip.to_string()),
                "[!-~]{1,64}",
            ],
            port in any::<u16>(),
            keepalive in any::<[u8; 4]>(),
        ) {
            let packet = if response {
                ip_discovery(2, ssrc, &address, port)
            } else {
                ip_discovery(1, ssrc, "", port)
            };
            let mut alive = KEEPALIVE_MAGIC.to_vec();
            alive.extend_from_slice(&keepalive);
            for whole in [packet, alive] {
                prop_assert!(is_discord_framing(&whole));
                for cut in 0..whole.len() {
                    prop_assert!(!is_discord_framing(&whole[..cut]));
                }
                let mut longer = whole.clone();
                longer.push(0);
                prop_assert!(!is_discord_framing(&longer));
            }
        }
    }
}
