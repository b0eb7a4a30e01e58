//! ZRTP messages: the header, the message type and the CRC.
#![no_main]

use callaudit::classify::zrtp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    for packet in [zrtp::parse(payload), zrtp::parse_without_crc(payload)]
        .into_iter()
        .flatten()
    {
        packet.is_key_agreement();
        let _ = packet.message_name();
    }
    zrtp::crc_matches(payload);
});
