//! SIP and SDP: the start line, headers, the body, media sections, addresses and keys.
#![no_main]

use callaudit::classify::sip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    sip::looks_like_sip(payload);
    sip::is_keepalive(payload);
    if let Some(message) = sip::parse(payload) {
        let _ = (
            message.is_request(),
            message.method(),
            message.status_code(),
        );
        let _ = message.wire_len();
        if let Some(sdp) = message.sdp() {
            summarise(&sdp);
        }
    }
    // The SDP parser on its own, for bodies the SIP parser never reaches.
    summarise(&sip::parse_sdp(payload));
});

fn summarise(sdp: &sip::SdpSummary) {
    sdp.has_key_exchange();
    sdp.media_endpoints().count();
    sdp.rtcp_endpoints().count();
}
