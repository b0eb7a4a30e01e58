//! RTP and RTCP: headers, header extensions, RTCP compound packets, and stream validation
//! over several packets (each piece of the input is one packet).
#![no_main]

use callaudit::classify::rtp;
use callaudit_fuzz::pieces;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut tracker = rtp::RtpStreamTracker::default();
    for packet in pieces(bytes) {
        if let Some(header) = rtp::parse_rtp(packet) {
            rtp::static_media_kind(header.payload_type);
            tracker.observe(&header);
        }
        rtp::header_extension(packet);
        rtp::parse_rtcp(packet);
        if let Some(&second) = packet.get(1) {
            rtp::is_rtcp_packet_type(second);
        }
        tracker.observe_payload(packet);
    }
    tracker.has_confirmed_stream();
});
