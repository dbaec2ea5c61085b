//! Golden frames pin the format: each `tests/golden/NAME.z4` must decode to
//! `NAME.bin`, and compressing `NAME.bin` with the case's options must give
//! the same bytes (encoder determinism). Golden error frames must fail with
//! the listed error. Frames in `tests/golden/legacy/` were written by an
//! older encoder (same format version): they must still decode to their
//! `.bin`, but today's encoder may write them differently. Regenerate with `Z4AI_BLESS=1 cargo test --release --test golden -- --test-threads=1`
//! only for a deliberate change, and say why in the commit.

mod common;

use std::path::PathBuf;

use z4ai::{compress, compress_delta, decompress, decompress_delta, DType, Effort, Error, Options};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn bless() -> bool {
    std::env::var_os("Z4AI_BLESS").is_some()
}

fn cases() -> Vec<(&'static str, Vec<u8>, Options)> {
    let o = |d: DType, e: Effort| Options::new(d).effort(e).chunk_size(4096);
    let mut bf = common::weights(DType::BF16, 3000, 1);
    bf.push(0x5A); // odd tail
    vec![
        ("bf16-default", bf, o(DType::BF16, Effort::Default)),
        (
            "fp32-fast",
            common::weights(DType::F32, 1500, 2),
            o(DType::F32, Effort::Fast),
        ),
        (
            "fp16-max-specials",
            common::specials(DType::F16, 900),
            o(DType::F16, Effort::Max),
        ),
        (
            "bytes-ramp",
            (0..5000u32).map(|i| (i / 3) as u8).collect(),
            o(DType::Bytes, Effort::Default),
        ),
        ("empty", Vec::new(), o(DType::BF16, Effort::Default)),
        ("bf16-dedup", repeated(), o(DType::BF16, Effort::Default)),
        (
            "fp32-palette",
            palette_values(),
            o(DType::F32, Effort::Default),
        ),
        (
            "fp32-palette16",
            common::codebook(3000, 500, false, 11),
            o(DType::F32, Effort::Default),
        ),
        (
            "fp32-lattice",
            common::quantized_rows(DType::F32, 16, 256, 7, 5),
            o(DType::F32, Effort::Default),
        ),
        (
            "bf16-lattice",
            common::quantized_rows(DType::BF16, 16, 256, 127, 6),
            o(DType::BF16, Effort::Default),
        ),
    ]
}

#[test]
fn golden_frames_decode_and_encode_identically() {
    for (name, data, opts) in cases() {
        let bin = dir().join(format!("{name}.bin"));
        let z4 = dir().join(format!("{name}.z4"));
        if bless() {
            std::fs::write(&bin, &data).unwrap();
            std::fs::write(&z4, compress(&data, &opts).unwrap()).unwrap();
        }
        let want = std::fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let frame = std::fs::read(&z4).unwrap();
        assert_eq!(
            decompress(&frame).unwrap(),
            want,
            "{name}: golden frame no longer decodes"
        );
        assert_eq!(want, data, "{name}: generator changed");
        assert!(
            compress(&want, &opts).unwrap() == frame,
            "{name}: encoder output changed"
        );
    }
}

/// Unique data with a repeat at an unaligned offset (dedup layout).
fn repeated() -> Vec<u8> {
    let a = common::weights(DType::BF16, 24_000, 31);
    let mut v = a.clone();
    v.extend_from_slice(&common::weights(DType::BF16, 701, 32));
    v.extend_from_slice(&a[10..44_000]);
    v
}

/// Checkpoint deltas (layout 5): `(name, new, reference, options)`. Each
/// is pinned as `NAME.bin` (the new data), `NAME.ref` (the reference) and
/// `NAME.z4` (the delta frame). Chunks of 4096 elements and a shorter last
/// one: the first coded under delta contexts (for bf16, in the short
/// form), the second as a small chunk (its residual planes coded as a
/// plain chunk's); one bf16 chunk long enough for the short plane to be
/// coded in halves, and one fp32 chunk long enough for residual planes 2
/// and 3 to be.
fn delta_cases() -> Vec<(&'static str, Vec<u8>, Vec<u8>, Options)> {
    let o = |d: DType| {
        Options::new(d)
            .effort(Effort::Default)
            .chunk_size(4096 * d.width())
    };
    let pair = |d: DType, n: usize, seed: u64| {
        let old = common::weights(d, n, seed);
        (moved(&old, d.width(), seed + 1), old)
    };
    let (bf_new, bf_old) = pair(DType::BF16, 6000, 41);
    let (f_new, f_old) = pair(DType::F32, 6000, 43);
    let (s_new, s_old) = pair(DType::BF16, 34000, 47);
    let (h_new, h_old) = pair(DType::F32, 32768, 53);
    vec![
        ("bf16-delta", bf_new, bf_old, o(DType::BF16)),
        ("fp32-delta", f_new, f_old, o(DType::F32)),
        // One chunk in the short form, its short plane in halves.
        (
            "bf16-delta-short",
            s_new,
            s_old,
            Options::new(DType::BF16).chunk_size(128 << 10),
        ),
        // One fp32 chunk with residual planes 2 and 3 in halves (version 5).
        (
            "fp32-delta-halves",
            h_new,
            h_old,
            Options::new(DType::F32).chunk_size(128 << 10),
        ),
    ]
}

/// `old` with two elements in five moved by 1 to 3 units of their low bits
/// (a few ULPs) and one in eight by about 2^(8 * width - 8), so that every
/// residual plane is entropy coded.
fn moved(old: &[u8], width: usize, seed: u64) -> Vec<u8> {
    let mut r = common::Rng(seed);
    let mut new = old.to_vec();
    for e in new.chunks_exact_mut(width) {
        let step = match r.next() % 40 {
            0..=15 => 1 + r.next() % 3,
            16..=20 => 1 << (8 * width as u64 - 10 + r.next() % 4),
            _ => 0,
        };
        if step > 0 {
            let up = r.next().is_multiple_of(2);
            let mut w = [0u8; 8];
            w[..width].copy_from_slice(e);
            let v = u64::from_le_bytes(w);
            let v = if up {
                v.wrapping_add(step)
            } else {
                v.wrapping_sub(step)
            };
            e.copy_from_slice(&v.to_le_bytes()[..width]);
        }
    }
    new
}

#[test]
fn golden_delta_frames_decode_and_encode_identically() {
    for (name, data, reference, opts) in delta_cases() {
        let path = |ext: &str| dir().join(format!("{name}.{ext}"));
        if bless() {
            std::fs::write(path("bin"), &data).unwrap();
            std::fs::write(path("ref"), &reference).unwrap();
            let frame = compress_delta(&data, &reference, &opts).unwrap();
            std::fs::write(path("z4"), frame).unwrap();
        }
        let want = std::fs::read(path("bin")).unwrap();
        let old = std::fs::read(path("ref")).unwrap();
        let frame = std::fs::read(path("z4")).unwrap();
        assert_eq!(
            decompress_delta(&frame, &old).unwrap(),
            want,
            "{name}: golden delta frame no longer decodes"
        );
        assert!(
            want == data && old == reference,
            "{name}: generator changed"
        );
        assert!(
            frame.len() < want.len() * 2 / 3,
            "{name}: the frame does not code the residual ({} of {} bytes)",
            frame.len(),
            want.len()
        );
        let mut other = old.clone();
        other[7] ^= 1;
        assert!(
            matches!(
                decompress_delta(&frame, &other),
                Err(Error::ReferenceMismatch)
            ),
            "{name}: decoded against the wrong reference"
        );
        assert!(
            compress_delta(&want, &old, &opts).unwrap() == frame,
            "{name}: encoder output changed"
        );
    }
}

/// Legacy frames decode to their `.bin`; a delta frame (one with a `.ref`
/// beside it) against that reference.
#[test]
fn legacy_golden_frames_decode() {
    let dir = dir().join("legacy");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let z4 = e.unwrap().path();
        if z4.extension().is_some_and(|x| x == "z4") {
            let want = std::fs::read(z4.with_extension("bin")).unwrap();
            let frame = std::fs::read(&z4).unwrap();
            let got = match std::fs::read(z4.with_extension("ref")) {
                Ok(reference) => decompress_delta(&frame, &reference),
                Err(_) => decompress(&frame),
            };
            assert_eq!(got.unwrap(), want, "{}", z4.display());
            n += 1;
        }
    }
    assert!(n > 0, "no legacy frames in {}", dir.display());
}

/// fp32 values from a table of 40 (palette layout).
fn palette_values() -> Vec<u8> {
    let mut r = common::Rng(77);
    (0..3000)
        .flat_map(|_| ((r.next() % 40) as f32 * 0.015625 - 0.3).to_le_bytes())
        .collect()
}

fn error_cases(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut bad_magic = good.to_vec();
    bad_magic[0] = b'X';
    let mut bad_version = good.to_vec();
    bad_version[4] = 0x7F;
    let truncated = good[..good.len() - 1].to_vec();
    let mut flipped = good.to_vec();
    let at = good.len() - 40;
    flipped[at] ^= 0x08;
    let mut header = good.to_vec();
    header[12] ^= 0x01;
    vec![
        ("bad-magic", bad_magic),
        ("bad-version", bad_version),
        ("truncated", truncated),
        ("payload-bit", flipped),
        ("header-bit", header),
    ]
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::BadMagic => "BadMagic",
        Error::UnsupportedVersion(_) => "UnsupportedVersion",
        Error::Truncated { .. } => "Truncated",
        Error::Corrupt(_) => "Corrupt",
        Error::ChecksumMismatch { .. } => "ChecksumMismatch",
        _ => "other",
    }
}

#[test]
fn golden_errors() {
    let list = dir().join("errors.txt");
    if bless() {
        // Cut from the frame today's encoder writes (the test that blesses
        // `bf16-default.z4` may not have run yet).
        let (_, data, opts) = cases().into_iter().find(|c| c.0 == "bf16-default").unwrap();
        let good = compress(&data, &opts).unwrap();
        let mut txt = String::new();
        for (name, bytes) in error_cases(&good) {
            std::fs::write(dir().join(format!("error-{name}.z4")), &bytes).unwrap();
            txt += &format!("{name} {}\n", kind(&decompress(&bytes).unwrap_err()));
        }
        std::fs::write(&list, txt).unwrap();
    }
    let txt = std::fs::read_to_string(&list).unwrap();
    assert!(txt.lines().count() >= 5);
    for line in txt.lines() {
        let (name, want) = line.split_once(' ').unwrap();
        let bytes = std::fs::read(dir().join(format!("error-{name}.z4"))).unwrap();
        let err = decompress(&bytes).expect_err(name);
        assert_eq!(kind(&err), want, "{name}: {err}");
    }
}
