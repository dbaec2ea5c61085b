//! Compress arbitrary bytes under an arbitrary dtype and effort; decoding
//! must give them back exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai::{DType, Effort, Options};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let dtype = DType::ALL[usize::from(sel & 0x0F) % DType::ALL.len()];
    let effort = Effort::ALL[usize::from(sel >> 4) % 3];
    let opts = Options::new(dtype).effort(effort).chunk_size(4096);
    let blob = z4ai::compress(body, &opts).expect("compress never fails on valid options");
    assert_eq!(z4ai::decompress(&blob).expect("own frame decodes"), body);
});
