//! Short delta residuals (bf16 words that mostly move a few units). The
//! input seeds a reference of 20000 bf16 words and the moves of a new
//! checkpoint against it (most within +-3, some far, as the input says),
//! so that the encoder takes the short form; the frame decodes exactly,
//! and with bytes flipped (positions taken from the input) either fails or
//! still decodes exactly, never to different bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai::{DType, Effort, Options};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    if body.is_empty() {
        return;
    }
    let n = 20_000;
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(sel);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut old = Vec::with_capacity(2 * n);
    let mut new = Vec::with_capacity(2 * n);
    for i in 0..n {
        let w = 0x3c00u16 | (next() as u16 & 0x03ff) | ((next() as u16 & 1) << 15);
        let b = body[i % body.len()];
        // Input bytes below 32 move far, the rest by -3..=3.
        let d = if b < 32 {
            (u16::from(b) << 6) | 0x3f
        } else {
            u16::from(b % 7)
        };
        old.extend_from_slice(&w.to_le_bytes());
        new.extend_from_slice(&w.wrapping_add(d).wrapping_sub(3).to_le_bytes());
    }
    let effort = Effort::ALL[usize::from(sel >> 4) % 3];
    let opts = Options::new(DType::BF16).effort(effort);
    let frame = z4ai::compress_delta(&new, &old, &opts).expect("valid options never fail");
    assert_eq!(
        z4ai::decompress_delta(&frame, &old).expect("own frame decodes"),
        new
    );
    let mut bad = frame.clone();
    for (i, &b) in body.iter().take(4).enumerate() {
        let at = (usize::from(b) * 131 + i * 7919 + usize::from(sel)) % bad.len();
        bad[at] ^= 1 << (b % 8);
    }
    if let Ok(out) = z4ai::decompress_delta(&bad, &old) {
        assert_eq!(out, new, "a damaged frame decoded to different bytes");
    }
});
