//! The app catalog: TOML entries, their validation, and merging over the embedded catalog.
#![no_main]

use callaudit::classify::app::AppCatalog;
use callaudit_fuzz::data;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(extra) = AppCatalog::parse(text) {
        let mut catalog = data().catalog.clone();
        catalog.merge(extra);
    }
});
