//! Checkpoint deltas: bit-exact, reference-checked, and small when few
//! weights move.

mod common;

use z4ai::{
    compress, compress_delta, decompress, decompress_delta, frame_info, DType, Effort, Error,
    Options,
};

/// `base` with about `percent`% of bf16 elements moved by 1..=3 ULP.
fn moved(base: &[u8], percent: u64, seed: u64) -> Vec<u8> {
    let mut r = common::Rng(seed);
    let mut out = base.to_vec();
    for e in out.chunks_exact_mut(2) {
        if r.next() % 100 < percent {
            let v = u16::from_le_bytes([e[0], e[1]]);
            let step = 1 + (r.next() % 3) as u16;
            let w = if r.next().is_multiple_of(2) {
                v.wrapping_add(step)
            } else {
                v.wrapping_sub(step)
            };
            e.copy_from_slice(&w.to_le_bytes());
        }
    }
    out
}

#[test]
fn round_trips_and_is_small_for_small_changes() {
    let base = common::weights(DType::BF16, 300_000, 1);
    for (p, min_ratio) in [(0, 200.0), (1, 60.0), (5, 25.0), (20, 9.0)] {
        let new = moved(&base, p, p + 7);
        for effort in Effort::ALL {
            let o = Options::new(DType::BF16).effort(effort);
            let blob = compress_delta(&new, &base, &o).unwrap();
            assert_eq!(
                decompress_delta(&blob, &base).unwrap(),
                new,
                "p={p} {effort}"
            );
            let ratio = new.len() as f64 / blob.len() as f64;
            assert!(ratio > min_ratio, "p={p} {effort}: ratio {ratio}");
        }
    }
}

#[test]
fn every_dtype_and_mismatched_lengths() {
    for dtype in [
        DType::F32,
        DType::F16,
        DType::F64,
        DType::I8,
        DType::I32,
        DType::Bytes,
    ] {
        let base = common::weights(dtype, 20_000, 2);
        let mut new = common::weights(dtype, 20_000, 2);
        new[100] ^= 0x5A;
        let o = Options::new(dtype).chunk_size(8192);
        // Same length, shorter reference, longer input with an odd tail.
        let mut longer = new.clone();
        longer.extend_from_slice(&common::weights(DType::Bytes, 9_999, 9));
        for (n, r) in [
            (&new[..], &base[..]),
            (&new[..], &base[..7000]),
            (&longer[..], &base[..]),
        ] {
            let blob = compress_delta(n, r, &o).unwrap();
            assert_eq!(decompress_delta(&blob, r).unwrap(), n, "{dtype}");
        }
    }
}

#[test]
fn wrong_or_missing_reference_is_refused() {
    let base = common::weights(DType::BF16, 50_000, 3);
    let new = moved(&base, 5, 4);
    let blob = compress_delta(&new, &base, &Options::new(DType::BF16)).unwrap();
    assert!(matches!(decompress(&blob), Err(Error::InvalidOption(_))));
    let mut other = base.clone();
    other[0] ^= 1;
    assert!(matches!(
        decompress_delta(&blob, &other),
        Err(Error::ReferenceMismatch)
    ));
    assert!(matches!(
        decompress_delta(&blob, &base[..base.len() - 2]),
        Err(Error::ReferenceMismatch)
    ));
    assert!(frame_info(&blob).unwrap().transforms.contains_key("delta"));
    // A plain frame decodes with or without a reference.
    let plain = compress(&new, &Options::new(DType::BF16)).unwrap();
    assert_eq!(decompress_delta(&plain, &base).unwrap(), new);
}

#[test]
fn unrelated_reference_costs_little_more_than_standalone() {
    let a = common::weights(DType::BF16, 200_000, 5);
    let b = common::weights(DType::BF16, 200_000, 6);
    let o = Options::new(DType::BF16);
    let d = compress_delta(&b, &a, &o).unwrap();
    let s = compress(&b, &o).unwrap();
    assert!(
        d.len() <= s.len() + s.len() / 100 + 100,
        "{} vs {}",
        d.len(),
        s.len()
    );
}

#[test]
fn damaged_delta_frames_fail_cleanly() {
    let base = common::weights(DType::BF16, 3000, 8);
    let new = moved(&base, 20, 9);
    let blob = compress_delta(&new, &base, &Options::new(DType::BF16).chunk_size(4096)).unwrap();
    for cut in 0..blob.len() {
        assert!(decompress_delta(&blob[..cut], &base).is_err());
    }
    let mut bad = blob.clone();
    for i in 0..blob.len() {
        for bit in 0..8 {
            bad[i] ^= 1 << bit;
            if let Ok(out) = decompress_delta(&bad, &base) {
                assert_eq!(out, new, "flip {i}:{bit}");
            }
            bad[i] ^= 1 << bit;
        }
    }
}
