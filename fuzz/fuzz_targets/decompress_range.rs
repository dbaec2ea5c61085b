//! Range decoding with arbitrary offsets on arbitrary frames (the first 16
//! bytes are the offset and length). A range decode checks only the chunks
//! it decodes, so damage elsewhere in the frame does not stop it; whenever
//! the whole frame decodes too, the range must be its slice.
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
        assert_eq!(part.len() as u64, len);
        if let Ok(whole) = z4ai::decompress(frame) {
            assert_eq!(&whole[off as usize..(off + len) as usize], &part[..]);
        }
    }
});
