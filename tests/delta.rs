//! Checkpoint deltas: bit-exact, reference-checked, and small when few
//! weights move.

mod common;

use std::io::Read;

use z4ai::{
    compress, compress_bound, compress_delta, compress_delta_into, decompress, decompress_delta,
    decompress_range, frame_info, DType, Decoder, Effort, Error, Options, DEFAULT_CHUNK_SIZE,
    DEFAULT_DELTA_CHUNK_SIZE,
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
fn delta_frames_have_their_own_chunk_size() {
    let base = common::weights(DType::BF16, 1_500_000, 3);
    let new = moved(&base, 20, 4);
    let chunk = |blob: &[u8]| frame_info(blob).unwrap().chunk_size as usize;
    let o = Options::new(DType::BF16);
    assert_eq!(chunk(&compress(&new, &o).unwrap()), DEFAULT_CHUNK_SIZE);
    let blob = compress_delta(&new, &base, &o).unwrap();
    assert_eq!(chunk(&blob), DEFAULT_DELTA_CHUNK_SIZE);
    assert_eq!(frame_info(&blob).unwrap().chunks.len(), 2);
    assert_eq!(decompress_delta(&blob, &base).unwrap(), new);
    // The builder's chunk size is every frame's; the delta one is its own.
    let o = Options::new(DType::BF16).chunk_size(64 << 10);
    assert_eq!(chunk(&compress_delta(&new, &base, &o).unwrap()), 64 << 10);
    let o = o.delta_chunk_size(1 << 20);
    assert_eq!(chunk(&compress(&new, &o).unwrap()), 64 << 10);
    assert_eq!(chunk(&compress_delta(&new, &base, &o).unwrap()), 1 << 20);
    let bad = Options::new(DType::BF16).delta_chunk_size(1000);
    assert!(matches!(
        compress_delta(&new, &base, &bad),
        Err(Error::InvalidOption(_))
    ));
}

#[test]
fn compress_bound_holds_for_delta_frames() {
    // Noise against an unrelated reference: every chunk stored, so the
    // frame is as long as the layout makes it. Delta chunks smaller than
    // the plain ones, and ones that do not divide a plain block, make
    // more chunks or blocks than the plain layout would.
    let mut r = common::Rng(11);
    let new: Vec<u8> = (0..(3 << 20) + 999).map(|_| r.next() as u8).collect();
    let old: Vec<u8> = (0..new.len()).map(|_| r.next() as u8).collect();
    for (plain, delta, block_chunks) in [
        (DEFAULT_CHUNK_SIZE, DEFAULT_DELTA_CHUNK_SIZE, 128),
        (1 << 20, 4096, 4),
        (64 << 10, (96 << 10) + 2, 5),
        (8192, 3 << 20, 1),
    ] {
        let o = Options {
            dtype: DType::BF16,
            chunk_size: plain,
            delta_chunk_size: delta,
            block_chunks,
            ..Options::default()
        };
        let mut out = vec![0u8; compress_bound(new.len(), &o)];
        let n = compress_delta_into(&new, &old, &mut out, &o)
            .unwrap_or_else(|e| panic!("{plain} {delta} {block_chunks}: {e}"));
        assert_eq!(decompress_delta(&out[..n], &old).unwrap(), new);
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
    // Without a reference: its own error (and C code), from every decoder.
    let e = decompress(&blob).unwrap_err();
    assert!(
        matches!(e, Error::ReferenceRequired { what: "frame", .. }),
        "{e}"
    );
    assert_eq!(e.code(), -17);
    assert!(e.to_string().contains("needs its reference"), "{e}");
    assert!(
        e.to_string().contains(&format!("{} bytes", base.len())),
        "{e}"
    );
    assert!(matches!(
        decompress_range(&blob, 0, 10),
        Err(Error::ReferenceRequired { .. })
    ));
    assert!(matches!(
        z4ai::decompress_into(&blob, &mut vec![0; new.len()]),
        Err(Error::ReferenceRequired { .. })
    ));
    assert!(matches!(
        Decoder::new(&blob[..]).map(|_| ()),
        Err(Error::ReferenceRequired { .. })
    ));
    // A delta header cut inside its reference extension is refused as such
    // by the streaming decoder.
    assert!(matches!(
        Decoder::new(&blob[..30]).map(|_| ()),
        Err(Error::ReferenceRequired { .. })
    ));
    let mut sink = Vec::new();
    assert!(
        Decoder::new(&compress(&new, &Options::new(DType::BF16)).unwrap()[..])
            .unwrap()
            .read_to_end(&mut sink)
            .is_ok()
    );
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

/// `new` = `old` with every element changed by `f` (bf16 words).
fn map_bf16(old: &[u8], f: impl Fn(u16) -> u16) -> Vec<u8> {
    old.chunks_exact(2)
        .flat_map(|e| f(u16::from_le_bytes([e[0], e[1]])).to_le_bytes())
        .collect()
}

#[test]
fn residual_mode_follows_the_data_and_info_shows_it() {
    // Whole chunks of 65536 bytes: a shorter last one would be a small
    // chunk, whose planes are coded as a plain chunk's (see below).
    let base = common::weights(DType::BF16, 196_608, 11);
    // One mantissa bit flipped everywhere: XOR is a constant, the
    // difference is +-64 by the bit's value and the sign.
    let flipped = map_bf16(&base, |v| v ^ 0x0040);
    // One ULP up in value: the difference is a constant per sign, XOR
    // follows the carries.
    let up = map_bf16(&base, |v| if v & 0x8000 == 0 { v + 1 } else { v - 1 });
    // Small chunks are estimated whole, large ones from a sample.
    let cases = [(&flipped, "delta-xor"), (&up, "delta-diff")];
    for ((new, mode), cs) in cases.into_iter().flat_map(|c| [(c, 65536), (c, 1 << 20)]) {
        for effort in Effort::ALL {
            let o = Options::new(DType::BF16).effort(effort).chunk_size(cs);
            let blob = compress_delta(new, &base, &o).unwrap();
            assert_eq!(decompress_delta(&blob, &base).unwrap(), *new);
            let info = frame_info(&blob).unwrap();
            let chunks = info.chunks.len() as u64;
            assert_eq!(info.transforms.get("delta"), Some(&chunks), "{effort}");
            // Every word is small: the short form (one constant symbol
            // per element, no escapes) where chosen, which `max` leaves
            // for the planes, as small.
            let short = format!("{mode}-short");
            let count = |m: &str| info.transforms.get(m).copied().unwrap_or(0);
            assert_eq!(
                count(mode) + count(&short),
                chunks,
                "{mode} {effort}: {info:?}"
            );
            // Residual planes report their real methods (const, raw or
            // rans-delta; in the short form named as its planes), never an
            // empty name.
            assert_eq!(info.planes.len(), if count(mode) > 0 { 2 } else { 3 });
            for p in &info.planes {
                let n: u64 = p.methods.values().map(|m| m.0).sum();
                assert_eq!(n, chunks, "{info:?}");
                assert!(
                    p.methods.keys().all(|m| {
                        let m = m.split_once(':').map_or(m.as_str(), |(_, m)| m);
                        ["const", "rans-delta", "raw"].contains(&m)
                    }),
                    "{info:?}"
                );
            }
        }
    }
}

/// A chunk of under 4096 elements (a small tensor) takes the residual mode
/// whose planes read fewer bits at order 0 and codes them as a plain
/// chunk's planes, without delta contexts; the frames decode.
#[test]
fn small_chunks_choose_their_mode_and_code_plainly() {
    let base = common::weights(DType::BF16, 3000, 21);
    let flipped = map_bf16(&base, |v| v ^ 0x0040);
    let up = map_bf16(&base, |v| if v & 0x8000 == 0 { v + 1 } else { v - 1 });
    for (new, mode) in [(&flipped, "delta-xor"), (&up, "delta-diff")] {
        for effort in [Effort::Fast, Effort::Default] {
            let o = Options::new(DType::BF16).effort(effort);
            let blob = compress_delta(new, &base, &o).unwrap();
            assert_eq!(decompress_delta(&blob, &base).unwrap(), *new);
            let info = frame_info(&blob).unwrap();
            assert_eq!(info.transforms.get(mode), Some(&1), "{effort}: {info:?}");
            for p in &info.planes {
                assert!(
                    p.methods.keys().all(|m| !m.starts_with("rans-delta")),
                    "{effort}: {info:?}"
                );
            }
        }
    }
}

#[test]
fn sampled_mode_choice_matches_trial_on_drifting_weights() {
    // Weights of both signs drifting by a few ULPs (a training step): the
    // difference wins. A default-effort chunk (sampled choice) and a
    // max-effort chunk (both modes coded) pick the same mode.
    let base = common::weights(DType::F32, 400_000, 12);
    let mut r = common::Rng(13);
    let new: Vec<u8> = base
        .chunks_exact(4)
        .flat_map(|e| {
            let v = f32::from_le_bytes(e.try_into().unwrap());
            let step = (r.next() % 2001) as f32 - 1000.0;
            (v + v * step * 1e-6).to_le_bytes()
        })
        .collect();
    let mode = |effort| {
        let blob = compress_delta(&new, &base, &Options::new(DType::F32).effort(effort)).unwrap();
        assert_eq!(decompress_delta(&blob, &base).unwrap(), new);
        let t = frame_info(&blob).unwrap().transforms;
        ["delta-xor", "delta-diff"]
            .into_iter()
            .filter(|m| t.contains_key(*m))
            .collect::<Vec<_>>()
    };
    assert_eq!(mode(Effort::Default), ["delta-diff"]);
    assert_eq!(mode(Effort::Default), mode(Effort::Max));
}
