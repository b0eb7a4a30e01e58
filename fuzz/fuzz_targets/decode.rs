//! The link-layer to transport decoder, for every supported link type: the first byte picks
//! the link type, the rest is the packet.
#![no_main]

use callaudit::capture::{CapturedPacket, LinkType, Timestamp};
use callaudit::decode::{decode, DecodeStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some((&pick, packet)) = bytes.split_first() else {
        return;
    };
    let link_type = LinkType::SUPPORTED[usize::from(pick) % LinkType::SUPPORTED.len()];
    let captured = CapturedPacket {
        number: 1,
        time: Timestamp::from_timeval(1_600_000_000, 0),
        data: packet,
        // Odd picks claim the packet was cut by a snaplen, which relaxes the length checks.
        original_len: packet.len() as u32 + u32::from(pick & 1) * 100,
    };
    let decoded = decode(link_type, &captured);
    DecodeStats::default().record(&decoded);
});
