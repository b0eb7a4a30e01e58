//! DTLS: records, the DTLS 1.3 unified header, handshake headers and messages, and handshake
//! reassembly across datagrams (each piece of the input is one datagram).
#![no_main]

use callaudit::classify::dtls;
use callaudit_fuzz::pieces;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut handshake = dtls::DtlsHandshake::new();
    for datagram in pieces(bytes) {
        dtls::looks_like_dtls(datagram);
        dtls::parse_unified_header(datagram);
        let mut records = dtls::records(datagram);
        for record in records.by_ref() {
            dtls::handshake_header(&record);
            for message in dtls::handshake_messages(&record) {
                let _ = message;
            }
        }
        let _ = records.remaining();
        handshake.on_datagram(datagram);
    }
});
