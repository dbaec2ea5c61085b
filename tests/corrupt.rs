//! Damaged frames: every truncation and every bit flip of small frames must
//! give a typed error (or, at worst, the exact original); absurd declared
//! sizes must be rejected before any large allocation.

mod common;

use xxhash_rust::xxh3::xxh3_64;
use z4ai::{
    compress, decompress, decompress_with, decompressed_size, frame_info, DType, DecodeOptions,
    Decoder, Effort, Error, Options,
};

fn small_frames() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    for (dtype, effort, n) in [
        (DType::BF16, Effort::Default, 3000),
        (DType::F32, Effort::Fast, 1200),
        (DType::F16, Effort::Max, 2500),
    ] {
        let data = common::weights(dtype, n, 21);
        let blob = compress(&data, &Options::new(dtype).effort(effort).chunk_size(4096)).unwrap();
        v.push((data, blob));
    }
    // Transform layouts: dedup, lattice, palette.
    let a = common::weights(DType::BF16, 4000, 5);
    let mut rep = a.clone();
    rep.extend_from_slice(&a[6..]);
    let q = common::quantized_rows(DType::F32, 8, 128, 7, 2);
    for (dtype, data) in [(DType::BF16, rep), (DType::F32, q)] {
        let blob = compress(&data, &Options::new(dtype).chunk_size(4096)).unwrap();
        v.push((data, blob));
    }
    // Wide palette (layout 6): 400 values in one 4 KiB fp32 chunk.
    let wide = common::codebook(1024, 400, false, 3);
    let blob = compress(&wide, &Options::new(DType::F32).chunk_size(4096)).unwrap();
    assert!(frame_info(&blob)
        .unwrap()
        .transforms
        .contains_key("palette16"));
    v.push((wide, blob));
    let zeros = vec![0u8; 5000];
    v.push((
        zeros.clone(),
        compress(&zeros, &Options::new(DType::BF16).chunk_size(4096)).unwrap(),
    ));
    v
}

#[test]
fn every_truncation_fails_cleanly() {
    for (_, blob) in small_frames() {
        for cut in 0..blob.len() {
            assert!(
                decompress(&blob[..cut]).is_err(),
                "truncated at {cut} of {}",
                blob.len()
            );
        }
    }
}

#[test]
fn every_bit_flip_is_detected() {
    for (data, blob) in small_frames() {
        let mut bad = blob.clone();
        for byte in 0..blob.len() {
            for bit in 0..8 {
                bad[byte] ^= 1 << bit;
                match decompress(&bad) {
                    Err(_) => {}
                    Ok(out) => assert!(out == data, "flip {byte}:{bit} decoded to wrong data"),
                }
                let _ = frame_info(&bad);
                bad[byte] ^= 1 << bit;
            }
        }
    }
}

/// At one thread neighbouring chunks decode in pairs
/// (`chunk::decode_chunk_pair`): damage to either chunk of a pair, or to
/// a short last chunk, is found there too.
#[test]
fn every_bit_flip_of_paired_chunks_is_detected() {
    let data = common::weights(DType::BF16, 11_000, 8);
    let blob = compress(
        &data,
        &Options::new(DType::BF16)
            .effort(Effort::Fast)
            .chunk_size(4096),
    )
    .unwrap();
    let one = DecodeOptions {
        threads: 1,
        isa: None,
    };
    let mut bad = blob.clone();
    for byte in 0..blob.len() {
        for bit in 0..8 {
            bad[byte] ^= 1 << bit;
            match decompress_with(&bad, &one) {
                Err(_) => {}
                Ok(out) => assert!(out == data, "flip {byte}:{bit} decoded to wrong data"),
            }
            bad[byte] ^= 1 << bit;
        }
    }
}

fn rechecksum_header(h: &mut [u8]) {
    let c = xxh3_64(&h[..20]) as u32;
    h[20..24].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn specific_errors() {
    let data = common::weights(DType::BF16, 3000, 2);
    let blob = compress(&data, &Options::new(DType::BF16).chunk_size(4096)).unwrap();
    assert!(matches!(
        decompress(b"nope, not a frame at all"),
        Err(Error::BadMagic)
    ));
    assert!(matches!(decompress(&[]), Err(Error::Truncated { .. })));
    let mut v = blob.clone();
    v[4] = z4ai::format::frame::VERSION + 1;
    rechecksum_header(&mut v);
    assert!(matches!(decompress(&v), Err(Error::UnsupportedVersion(6))));
    let mut v = blob.clone();
    v[7] = 1;
    rechecksum_header(&mut v);
    assert!(matches!(decompress(&v), Err(Error::Corrupt(_))));
    let mut v = blob.clone();
    v[10] ^= 1;
    assert!(matches!(
        decompress(&v),
        Err(Error::ChecksumMismatch { .. })
    ));
    // A payload bit flip is caught by the chunk hash (or the decoder).
    let mut v = blob.clone();
    let last = v.len() - 30;
    v[last] ^= 0x40;
    assert!(decompress(&v).is_err());
}

#[test]
fn absurd_sizes_are_rejected_without_allocating() {
    let data = vec![7u8; 100];
    let blob = compress(&data, &Options::new(DType::Bytes).chunk_size(4096)).unwrap();
    assert!(blob.len() < 100);
    // Claim an exabyte of content: the scan must refuse before allocating.
    let mut v = blob.clone();
    v[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    rechecksum_header(&mut v);
    assert!(decompressed_size(&v).is_err());
    assert!(decompress(&v).is_err());
    // A block claiming 2^16 chunks in a tiny frame is truncated, not allocated.
    let mut v = blob.clone();
    v[25..29].copy_from_slice(&(1u32 << 16).to_le_bytes());
    assert!(matches!(decompress(&v), Err(Error::Truncated { .. })));
    let mut v = blob.clone();
    v[25..29].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decompress(&v), Err(Error::Corrupt(_))));
    // Same through the streaming decoder.
    let mut out = Vec::new();
    let r = Decoder::new(&v[..])
        .and_then(|mut d| std::io::Read::read_to_end(&mut d, &mut out).map_err(Into::into));
    assert!(r.is_err());
}

#[test]
fn wide_palette_tables_and_sizes_are_checked() {
    let data = common::codebook(1024, 400, false, 3);
    let blob = compress(&data, &Options::new(DType::F32).chunk_size(4096)).unwrap();
    // One chunk, no shared models: its payload starts after the 24-byte
    // header, the 9-byte block head, one 16-byte table entry and a check.
    let at = 24 + 9 + 16 + 4;
    assert_eq!(blob[at], 6, "layout byte");
    let count = |v: &[u8]| u32::from(v[at + 1] & 0x7F) | u32::from(v[at + 2]) << 7;
    assert!(count(&blob) > 256 && count(&blob) <= 400);
    let set_count = |c: u32| {
        let mut v = blob.clone();
        v[at + 1] = (c & 0x7F) as u8 | 0x80;
        v[at + 2] = (c >> 7) as u8;
        v
    };
    // Too small for a wide palette, more values than elements, and a
    // count that does not match the table's sub-payload.
    for c in [200, 256, 1025, 16383, count(&blob) + 1, count(&blob) - 1] {
        let r = decompress(&set_count(c));
        assert!(matches!(r, Err(Error::Corrupt(_))), "count {c}: {r:?}");
    }
    // The layout on a 2-byte dtype, where it does not exist.
    let bf = common::weights(DType::BF16, 2048, 4);
    let fast = Options::new(DType::BF16)
        .chunk_size(4096)
        .effort(Effort::Fast);
    let mut v = compress(&bf, &fast).unwrap();
    assert_eq!(v[at], 1);
    v[at] = 6;
    assert!(matches!(decompress(&v), Err(Error::Corrupt(_))));
}
