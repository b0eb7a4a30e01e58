//! TLS over TCP: records split across segments, handshake reassembly, ClientHello (SNI, ALPN,
//! versions), ServerHello and certificates (X.509 names). Each piece of the input is one
//! segment; its first byte moves the segment's sequence number back or ahead of where the
//! stream expects it, for overlaps, gaps and retransmissions.
#![no_main]

use callaudit::classify::{tls, x509};
use callaudit_fuzz::pieces;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut stream = tls::TlsStream::new();
    stream.set_initial_sequence(1);
    let mut next = 1u32;
    for piece in pieces(bytes) {
        let Some((&shift, segment)) = piece.split_first() else {
            continue;
        };
        // 0 keeps the stream in order; others overlap (negative) or leave a gap.
        let seq = next.wrapping_add_signed(i32::from(shift as i8));
        stream.on_segment(seq, segment);
        next = seq.wrapping_add(segment.len() as u32);
        tls::looks_like_tls_record(segment);
    }
    let _ = (stream.client_hello(), stream.server_hello());
    let _ = (stream.handshake_types(), stream.is_not_tls());
    if let Some(names) = stream.certificate() {
        names.host_names().count();
    }
    // The certificate parser on its own, for inputs the stream never reaches.
    if let Some(names) = x509::parse_certificate(bytes) {
        names.host_names().count();
    }
});
