//! DNS responses: header checks, names with compression pointers, CNAME chains, A/AAAA
//! answers, and the two-byte length prefix of DNS over TCP.
#![no_main]

use callaudit::classify::dns;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    dns::looks_like_dns(payload);
    let mut answers = 0usize;
    dns::parse_response(payload, |_, name| answers += name.len());
    if let Some(message) = dns::strip_tcp_length(payload) {
        dns::parse_response(message, |_, name| answers += name.len());
    }
    let mut name = dns::NameBuf::default();
    dns::read_name(payload, 12, &mut name);
});
