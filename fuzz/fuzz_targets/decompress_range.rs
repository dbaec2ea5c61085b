//! Range decoding with arbitrary offsets on arbitrary frames.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let off = u64::from_le_bytes(data[..8].try_into().unwrap()) % (1 << 24);
    let len = u64::from_le_bytes(data[8..16].try_into().unwrap()) % (1 << 20);
    let frame = &data[16..];
    if let Ok(part) = z4ai::decompress_range(frame, off, len) {
        let whole = z4ai::decompress(frame).expect("range decoded, so the whole frame must");
        assert_eq!(&whole[off as usize..(off + len) as usize], &part[..]);
    }
});
