//! Zoom's own framing (server mode and P2P), Zoom's first-packet signature, and Discord's
//! framing, which the same demultiplexing step tells apart.
#![no_main]

use callaudit::classify::{discord, zoom};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    zoom::parse_server_mode(payload);
    zoom::parse_p2p(payload);
    zoom::is_first_packet_signature(payload);
    zoom::is_p2p_setup(payload);
    discord::is_discord_framing(payload);
});
