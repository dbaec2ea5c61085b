//! The streaming decoder on arbitrary bytes agrees with the one-shot one.
#![no_main]
use std::io::Read;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let streamed = z4ai::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out).map_err(Into::into));
    if streamed.is_ok() {
        // Trailing bytes are allowed by both; contents must agree.
        assert_eq!(z4ai::decompress(data).expect("one-shot must accept it too"), out);
    }
});
