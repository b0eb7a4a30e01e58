//! A whole audit of a capture file: the pcap reader (or libpcap for pcapng), decoding, flows,
//! every dissector, GeoIP, policy and the JSON report.
#![no_main]

use callaudit::audit::Auditor;
use callaudit_fuzz::data;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let data = data();
    // The readers take a path; one file per fuzzing process, rewritten for each input.
    let path = std::env::temp_dir().join(format!("callaudit-fuzz-{}.pcap", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let mut auditor = Auditor::new(&data.geo, &data.policy, &data.catalog);
    if auditor.audit_file(&path, None).is_ok() {
        let report = auditor.finish();
        serde_json::to_vec(&report).expect("a report always serialises");
    }
});
