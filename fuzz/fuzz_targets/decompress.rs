//! Whole-frame decoding and `info` on arbitrary bytes: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = z4ai::decompressed_size(data);
    let _ = z4ai::frame_info(data);
    if let Ok(out) = z4ai::decompress(data) {
        // A frame that decodes must describe the same size.
        assert_eq!(z4ai::decompressed_size(data).unwrap(), out.len() as u64);
    }
});
