//! The policy language: TOML, groups, scopes, severities, allow-lists, networks, and the
//! line-and-column positions of its errors.
#![no_main]

use callaudit::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Err(error) = Policy::from_text(text, "fuzz.toml") {
        let _ = error.to_string();
    }
});
