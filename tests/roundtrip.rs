//! Round trips for every dtype, effort, length and pattern.

mod common;

use common::{specials, weights, Rng};
use z4ai::{
    compress, decompress, decompress_into, decompress_range, decompressed_size, DType, Effort,
    Error, Options,
};

fn opts(dtype: DType, effort: Effort) -> Options {
    Options::new(dtype).effort(effort).chunk_size(4096)
}

fn check(data: &[u8], o: &Options) -> Vec<u8> {
    let blob = compress(data, o).unwrap();
    assert_eq!(
        decompress(&blob).unwrap(),
        data,
        "{:?} len {}",
        o.dtype,
        data.len()
    );
    assert_eq!(decompressed_size(&blob).unwrap(), data.len() as u64);
    blob
}

#[test]
fn every_dtype_effort_and_tail() {
    for dtype in DType::ALL {
        for effort in Effort::ALL {
            let o = opts(dtype, effort);
            for n in [0usize, 1, 2, 3, 7, 100, 2047, 2048, 2049, 6000] {
                let mut data = weights(dtype, n, n as u64 + 11);
                // A length that is not a whole number of elements keeps its tail.
                data.extend_from_slice(&[0xAB, 0xCD, 0xEF][..(n % 3).min(dtype.width() - 1)]);
                check(&data, &o);
                check(&specials(dtype, n), &o);
            }
        }
    }
}

#[test]
fn patterns_compress_as_expected() {
    let o = opts(DType::BF16, Effort::Default);
    let zeros = vec![0u8; 100_000];
    assert!(check(&zeros, &o).len() < 2000, "zeros should be tiny");
    let mut r = Rng(5);
    let random: Vec<u8> = (0..100_000).map(|_| r.next() as u8).collect();
    let blob = check(&random, &o);
    assert!(
        blob.len() <= random.len() + random.len() / 100 + 200,
        "random must not expand much"
    );
    let ramp: Vec<u8> = (0..100_000u32).map(|i| (i / 7) as u8).collect();
    assert!(check(&ramp, &Options::new(DType::Bytes)).len() < 20_000);
}

#[test]
fn dense_weights_beat_raw_and_fast_is_not_better_than_default() {
    let data = weights(DType::BF16, 1 << 18, 1);
    let fast = compress(&data, &Options::new(DType::BF16).effort(Effort::Fast)).unwrap();
    let def = compress(&data, &Options::new(DType::BF16)).unwrap();
    let max = compress(&data, &Options::new(DType::BF16).effort(Effort::Max)).unwrap();
    assert!((data.len() as f64 / def.len() as f64) > 1.4);
    assert!(def.len() <= fast.len());
    assert!(max.len() <= def.len() + 64);
    for b in [&fast, &def, &max] {
        assert_eq!(decompress(b).unwrap(), data);
    }
}

#[test]
fn default_stores_mantissa_planes_that_coding_would_barely_shrink() {
    let methods = |blob: &[u8], p: usize| {
        let info = z4ai::frame_info(blob).unwrap();
        info.planes[p].methods.keys().cloned().collect::<Vec<_>>()
    };
    // Dense bf16 weights: the mantissa byte saves ~1% under its exponent,
    // below `default`'s minimum; `max` codes it.
    let dense = weights(DType::BF16, 1 << 19, 2);
    let def = check(&dense, &Options::new(DType::BF16));
    let max = check(&dense, &Options::new(DType::BF16).effort(Effort::Max));
    assert_eq!(methods(&def, 1), ["raw"]);
    assert!(methods(&max, 1).iter().all(|m| m.starts_with("rans")));
    assert!(methods(&def, 0).iter().all(|m| m.starts_with("rans")));
    assert!(max.len() < def.len());
    // Three mantissa bits cleared: the plane saves far more, and is coded.
    let coarse: Vec<u8> = dense
        .chunks_exact(2)
        .flat_map(|e| [e[0] & 0xF8, e[1]])
        .collect();
    let def = check(&coarse, &Options::new(DType::BF16));
    assert!(methods(&def, 1).iter().all(|m| m.starts_with("rans")));
}

#[test]
fn a_small_lone_chunk_takes_no_shared_models_below_max() {
    // Mantissas with three bits cleared depend on the exponent: in a
    // large chunk plane 1 is coded under plane 0's contexts.
    let coarse = |n: usize| -> Vec<u8> {
        weights(DType::BF16, n, 5)
            .chunks_exact(2)
            .flat_map(|e| [e[0] & 0xF8, e[1]])
            .collect()
    };
    let shared = |blob: &[u8]| -> u64 {
        let info = z4ai::frame_info(blob).unwrap();
        info.planes.iter().map(|p| p.shared_models).sum()
    };
    let o = |e: Effort| Options::new(DType::BF16).effort(e);
    assert!(shared(&check(&coarse(100_000), &o(Effort::Default))) > 0);
    let small = coarse(4000);
    assert_eq!(shared(&check(&small, &o(Effort::Default))), 0);
    assert!(shared(&check(&small, &o(Effort::Max))) > 0);
}

#[test]
fn decompress_into_and_ranges() {
    let data = weights(DType::F32, 20_000, 3);
    let blob = compress(&data, &opts(DType::F32, Effort::Default)).unwrap();
    let mut out = vec![0u8; data.len() + 10];
    assert_eq!(decompress_into(&blob, &mut out).unwrap(), data.len());
    assert_eq!(&out[..data.len()], &data[..]);
    let mut short = vec![0u8; data.len() - 1];
    assert!(matches!(
        decompress_into(&blob, &mut short),
        Err(z4ai::Error::BufferTooSmall { .. })
    ));
    for (off, len) in [
        (0u64, 0u64),
        (0, 1),
        (4095, 2),
        (4096, 4096),
        (100, 30_000),
        (79_999, 1),
        (0, 80_000),
    ] {
        let got = decompress_range(&blob, off, len).unwrap();
        assert_eq!(
            got,
            &data[off as usize..(off + len) as usize],
            "range {off}+{len}"
        );
    }
    assert!(matches!(
        decompress_range(&blob, 79_999, 2),
        Err(z4ai::Error::OutOfRange { .. })
    ));
    assert!(decompress_range(&blob, u64::MAX, 2).is_err());
}

#[test]
fn multiple_blocks() {
    let data = weights(DType::BF16, 50_000, 9);
    let o = Options {
        block_chunks: 3,
        ..opts(DType::BF16, Effort::Default)
    };
    let blob = check(&data, &o);
    assert!(z4ai::frame_info(&blob).unwrap().blocks > 1);
}

#[test]
fn frame_parts_are_the_frame() {
    let data = weights(DType::BF16, 50_000, 11);
    for threads in [1, 2] {
        let o = Options {
            block_chunks: 3,
            threads,
            ..opts(DType::BF16, Effort::Default)
        };
        let blob = compress(&data, &o).unwrap();
        let parts = z4ai::compress_parts(&data, &o).unwrap();
        assert_eq!(parts.len(), blob.len());
        assert_eq!(parts.parts().collect::<Vec<_>>().concat(), blob);
        let mut dst = vec![0xAAu8; blob.len() + 7];
        assert_eq!(parts.copy_to(&mut dst, threads), Some(blob.len()));
        assert_eq!(&dst[..blob.len()], &blob[..]);
        assert!(dst[blob.len()..].iter().all(|&b| b == 0xAA));
        let mut short = vec![0u8; blob.len() - 1];
        assert_eq!(parts.copy_to(&mut short, threads), None);
        assert!(short.iter().all(|&b| b == 0));
        assert_eq!(parts.into_vec(), blob);
        let reference = weights(DType::BF16, 50_000, 12);
        let delta = z4ai::compress_delta(&data, &reference, &o).unwrap();
        let dparts = z4ai::compress_delta_parts(&data, &reference, &o).unwrap();
        assert_eq!(dparts.into_vec(), delta);
    }
}

#[test]
fn compress_into_writes_the_frame_or_says_how_much_it_needs() {
    let mut r = Rng(21);
    let noise: Vec<u8> = (0..70_001).map(|_| r.next() as u8).collect();
    let inputs = [
        (weights(DType::BF16, 50_000, 11), DType::BF16),
        (weights(DType::F32, 20_000, 13), DType::F32),
        // Incompressible, with a tail: the frame is as large as it gets.
        (noise, DType::Bytes),
        (Vec::new(), DType::BF16),
    ];
    for (data, dtype) in &inputs {
        for effort in [Effort::Fast, Effort::Default, Effort::Max] {
            for threads in [1, 2] {
                let o = Options {
                    block_chunks: 3,
                    threads,
                    ..opts(*dtype, effort)
                };
                let blob = compress(data, &o).unwrap();
                // compress_bound always suffices; what is not the frame
                // stays untouched.
                let bound = z4ai::compress_bound(data.len(), &o);
                let mut dst = vec![0xAAu8; bound + 7];
                assert_eq!(z4ai::compress_into(data, &mut dst, &o).unwrap(), blob.len());
                assert_eq!(&dst[..blob.len()], &blob[..]);
                assert!(dst[blob.len()..].iter().all(|&b| b == 0xAA));
                // Exactly the frame's size suffices too.
                let mut exact = vec![0u8; blob.len()];
                assert_eq!(
                    z4ai::compress_into(data, &mut exact, &o).unwrap(),
                    blob.len()
                );
                assert_eq!(exact, blob);
                // One byte less: an error that gives the size needed.
                let mut short = vec![0u8; blob.len() - 1];
                match z4ai::compress_into(data, &mut short, &o) {
                    Err(Error::BufferTooSmall { needed, got }) => {
                        assert_eq!((needed, got), (blob.len() as u64, short.len() as u64));
                    }
                    other => panic!("{dtype:?} {effort:?}: {other:?}"),
                }
                // The delta variant writes the frame compress_delta returns.
                let reference = weights(*dtype, data.len() / dtype.width().max(1), 12);
                let reference = &reference[..reference.len().min(data.len())];
                let delta = z4ai::compress_delta(data, reference, &o).unwrap();
                let mut ddst = vec![0u8; z4ai::compress_bound(data.len(), &o)];
                let n = z4ai::compress_delta_into(data, reference, &mut ddst, &o).unwrap();
                assert_eq!(&ddst[..n], &delta[..]);
            }
        }
    }
}

#[test]
fn options_are_validated() {
    let data = vec![0u8; 10];
    assert!(compress(&data, &Options::new(DType::BF16).chunk_size(10)).is_err());
    assert!(compress(&data, &Options::new(DType::BF16).chunk_size(1 << 30)).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..9000), d in 0usize..12, e in 0usize..3) {
            let o = opts(DType::ALL[d], Effort::ALL[e]);
            let blob = compress(&data, &o).unwrap();
            prop_assert_eq!(decompress(&blob).unwrap(), data);
        }
    }
}

/// Neighbouring chunks are decoded in pairs at one thread (and at two on
/// frames of 8 chunks or more): chunks whose plane 0 is order-0 rANS
/// alone, next to chunks that are constant, stored, random or coded
/// otherwise, a short last chunk, and single-plane data, at every level.
#[test]
fn paired_chunks_decode_like_single_ones() {
    let mut r = Rng(17);
    let mut bf16 = Vec::new();
    for kind in 0..11 {
        let chunk: Vec<u8> = match kind % 4 {
            0 | 3 => weights(DType::BF16, 2048, kind),
            1 => vec![0u8; 4096],
            _ => (0..4096).map(|_| r.next() as u8).collect(),
        };
        bf16.extend_from_slice(&chunk);
    }
    bf16.truncate(bf16.len() - 1000);
    let bytes: Vec<u8> = (0..30_000).map(|_| (r.gauss(12.0) as i64) as u8).collect();
    let inputs = [
        (DType::BF16, bf16),
        (DType::U8, bytes),
        (DType::F32, weights(DType::F32, 9000, 3)),
        (DType::F16, weights(DType::F16, 20_000, 4)),
    ];
    for (dtype, data) in inputs {
        for effort in [Effort::Fast, Effort::Default] {
            let blob = compress(&data, &opts(dtype, effort)).unwrap();
            for isa in z4ai::Isa::supported_levels() {
                for threads in [1, 2] {
                    let d = z4ai::DecodeOptions {
                        threads,
                        isa: Some(isa),
                    };
                    let back = z4ai::decompress_with(&blob, &d).unwrap();
                    assert!(back == data, "{dtype} {effort} {isa} threads {threads}");
                }
            }
        }
    }
}

/// A block of one chunk pays for a shared model's whole table, so it
/// chooses the chunk's own model where that costs no more: `default` is
/// then no larger than `fast` (with the shared model's table left out of
/// its cost, it took the shared model and came out a byte larger).
#[test]
fn one_chunk_pays_for_its_shared_models() {
    let mut r = Rng(9);
    let data: Vec<u8> = (0..48 << 10)
        .map(|_| {
            let v = r.next();
            (v as u8).min((v >> 8) as u8)
        })
        .collect();
    // The default chunk size: one chunk.
    let fast = check(&data, &Options::new(DType::U8).effort(Effort::Fast));
    let def = check(&data, &Options::new(DType::U8));
    assert!(def.len() <= fast.len(), "{} > {}", def.len(), fast.len());
}
