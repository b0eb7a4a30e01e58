//! QUIC and Google QUIC: long headers, connection IDs, varints, packet lengths, Initial
//! decryption and CRYPTO-frame reassembly into a ClientHello (each piece of the input is one
//! client datagram), Google QUIC public headers and CHLO.
#![no_main]

use callaudit::classify::{gquic, quic, quic_initial};
use callaudit_fuzz::pieces;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut initial = quic_initial::InitialAssembler::default();
    for datagram in pieces(bytes) {
        if let Some(header) = quic::parse_long_header(datagram) {
            header.is_key_exchange();
            quic::is_supported_version(header.version);
            gquic::is_key_exchange(datagram, header.version);
            if let Some(gquic_header) = gquic::parse_header(datagram, header.version) {
                gquic::is_null_encrypted(datagram, &gquic_header);
            }
        }
        quic::connection_ids(datagram);
        quic::long_packet_len(datagram);
        quic::parse_long_packet(datagram);
        quic::read_varint(datagram);
        gquic::parse_public_header(datagram);
        gquic::is_gquic_client_packet(datagram);
        gquic::client_hello_sni(datagram);
        if !initial.is_done() {
            initial.on_client_datagram(datagram);
        }
    }
});
