//! STUN and TURN: headers, attributes, XOR addresses, FINGERPRINT, ChannelData, the DATA
//! attribute, and Zoom's STUN variant.
#![no_main]

use callaudit::classify::{stun, zoom};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    if let Some(header) = stun::parse_header(payload) {
        let _ = (header.class(), header.method());
        stun::is_turn_method(header.method());
    }
    let mut attributes = stun::attributes(payload);
    for (_, value) in attributes.by_ref() {
        stun::decode_xor_address(payload, value);
    }
    let _ = attributes.remaining();
    stun::find_attribute(payload, 0x0020);
    stun::data_attribute(payload);
    stun::fingerprint_matches(payload);
    stun::parse_channel_data(payload);
    zoom::is_zoom_stun(payload);
});
