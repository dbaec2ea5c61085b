//! Delta frames. Arbitrary bytes decoded against an arbitrary reference:
//! errors, never panics. A delta frame of the input's first half against
//! its second (dtype and effort from the first byte): decodes exactly with
//! its reference, asks for it when it is missing, rejects any other, and
//! with bytes flipped (positions taken from the input) either fails or
//! still decodes exactly, never to different bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai::{DType, Effort, Error, Options};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let (new, old) = body.split_at(body.len() / 2);
    if let Ok(out) = z4ai::decompress_delta(new, old) {
        assert_eq!(z4ai::decompressed_size(new).unwrap(), out.len() as u64);
    }
    let dtype = DType::ALL[usize::from(sel & 0x0F) % DType::ALL.len()];
    let effort = Effort::ALL[usize::from(sel >> 4) % 3];
    let opts = Options::new(dtype).effort(effort).chunk_size(4096);
    let frame = z4ai::compress_delta(new, old, &opts).expect("valid options never fail");
    assert_eq!(z4ai::decompress_delta(&frame, old).expect("own frame decodes"), new);
    assert!(matches!(
        z4ai::decompress(&frame),
        Err(Error::ReferenceRequired { .. })
    ));
    let mut other = old.to_vec();
    other.push(0);
    assert!(matches!(
        z4ai::decompress_delta(&frame, &other),
        Err(Error::ReferenceMismatch)
    ));
    let mut bad = frame.clone();
    for (i, &b) in body.iter().rev().take(3).enumerate() {
        let at = (usize::from(b) * 257 + i * 7919 + usize::from(sel)) % bad.len();
        bad[at] ^= 1 << (b % 8);
    }
    if let Ok(out) = z4ai::decompress_delta(&bad, old) {
        assert_eq!(out, new, "a damaged frame decoded to different bytes");
    }
});
