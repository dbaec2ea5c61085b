//! Redundancy transforms: dedup, palette, quantization lattice, reduced
//! precision — chosen automatically, reported by `info`, exactly invertible.

mod common;

use std::io::Read;

use z4ai::{compress, decompress, decompress_range, frame_info, DType, Decoder, Effort, Options};

fn opts(dtype: DType) -> Options {
    Options::new(dtype).chunk_size(16 << 10)
}

fn ratio(data: &[u8], blob: &[u8]) -> f64 {
    data.len() as f64 / blob.len() as f64
}

fn round_trip(data: &[u8], o: &Options) -> Vec<u8> {
    let blob = compress(data, o).unwrap();
    assert_eq!(decompress(&blob).unwrap(), data);
    let mut out = Vec::new();
    Decoder::new(&blob[..])
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, data, "streaming decoder");
    blob
}

/// Unique tensors with repeats at element-aligned, chunk-unaligned offsets.
fn structured(dtype: DType) -> Vec<u8> {
    let e = common::weights(dtype, 40_000, 1);
    let l = common::weights(dtype, 9_000, 2);
    let mut v = e.clone();
    for i in 0..4 {
        v.extend_from_slice(&l);
        v.extend_from_slice(&common::weights(dtype, 3_001, 10 + i));
    }
    v.extend_from_slice(&e);
    v
}

#[test]
fn dedup_finds_repeats_and_ranges_read_through_copies() {
    for dtype in [DType::BF16, DType::F16, DType::F32, DType::Bytes] {
        let data = structured(dtype);
        let blob = round_trip(&data, &opts(dtype));
        let info = frame_info(&blob).unwrap();
        assert!(
            info.transforms.get("dedup").copied().unwrap_or(0) > 0,
            "{dtype}: {:?}",
            info.transforms
        );
        let dense = compress(&data, &opts(dtype).effort(Effort::Fast)).unwrap();
        assert!(
            ratio(&data, &blob) > 1.6 * ratio(&data, &dense),
            "{dtype}: dedup must pay"
        );
        // Ranges inside the second copy of `e` (the last bytes) and across chunks.
        let n = data.len() as u64;
        for (off, len) in [(n - 70_000, 50_000), (n - 1, 1), (12_345, 100_000), (0, n)] {
            let got = decompress_range(&blob, off, len).unwrap();
            assert_eq!(
                got,
                &data[off as usize..(off + len) as usize],
                "{dtype} range {off}+{len}"
            );
        }
    }
}

#[test]
fn lattice_for_per_row_and_group_scales_in_every_container() {
    for dtype in [DType::BF16, DType::F16, DType::F32] {
        for qmax in [7, 127] {
            let data = common::quantized_rows(dtype, 64, 512, qmax, 3);
            let blob = round_trip(&data, &opts(dtype));
            let info = frame_info(&blob).unwrap();
            let t = &info.transforms;
            assert!(
                t.contains_key("lattice") || t.contains_key("palette"),
                "{dtype} q{qmax}: {t:?}"
            );
            let plain = compress(&data, &opts(dtype).effort(Effort::Fast)).unwrap();
            assert!(blob.len() < plain.len(), "{dtype} q{qmax}");
        }
        // Group-wise scales (groups of 128 along a row).
        let data = common::quantized_rows(dtype, 256, 128, 7, 4);
        let blob = round_trip(&data, &opts(dtype));
        assert!(
            frame_info(&blob)
                .unwrap()
                .transforms
                .contains_key("lattice"),
            "{dtype} groups"
        );
    }
}

#[test]
fn palette_for_few_distinct_values() {
    let mut r = common::Rng(9);
    let data: Vec<u8> = (0..50_000)
        .flat_map(|_| ((r.next() % 200) as f32 * 1e-3 - 0.1).to_le_bytes())
        .collect();
    let blob = round_trip(&data, &Options::new(DType::F32));
    assert!(frame_info(&blob)
        .unwrap()
        .transforms
        .contains_key("palette"));
    // log2(200) = 7.64 bits of index per 32-bit element.
    assert!(ratio(&data, &blob) > 4.0, "{}", ratio(&data, &blob));
}

#[test]
fn wide_palette_for_hundreds_to_thousands_of_values() {
    let big = Options::new(DType::F32).chunk_size(1 << 20);
    for (dtype, data, o) in [
        (
            DType::F32,
            common::codebook(600_000, 3000, false, 4),
            big.clone(),
        ),
        (
            DType::F64,
            common::codebook(300_000, 40_000, true, 5),
            Options::new(DType::F64).chunk_size(1 << 20),
        ),
        (
            DType::F32,
            common::codebook(4096, 400, false, 6),
            opts(DType::F32),
        ),
    ] {
        let blob = round_trip(&data, &o);
        let info = frame_info(&blob).unwrap();
        assert!(
            info.transforms.get("palette16").copied().unwrap_or(0) > 0,
            "{dtype}: {:?}",
            info.transforms
        );
        let plain = compress(&data, &o.clone().effort(Effort::Fast)).unwrap();
        assert!(
            ratio(&data, &blob) > 1.5 * ratio(&data, &plain),
            "{dtype}: {} vs {}",
            ratio(&data, &blob),
            ratio(&data, &plain)
        );
        let n = data.len() as u64;
        for (off, len) in [(0, n), (n / 3, n / 3), (n - 5, 5)] {
            let got = decompress_range(&blob, off, len).unwrap();
            assert_eq!(got, &data[off as usize..(off + len) as usize]);
        }
    }
    // Repeated pieces: the dedup wrapper around a wide palette body.
    let a = common::codebook(100_000, 2000, false, 7);
    let mut rep = a.clone();
    rep.extend_from_slice(&common::codebook(30_000, 2000, false, 8));
    rep.extend_from_slice(&a[..200_000]);
    let blob = round_trip(&rep, &big);
    let t = frame_info(&blob).unwrap().transforms;
    assert!(
        t.contains_key("dedup") && t.contains_key("palette16"),
        "{t:?}"
    );
    // A 2-byte element is its own 16-bit index: never a wide palette.
    let half: Vec<u8> = common::codebook(300_000, 3000, false, 9)
        .chunks(4)
        .flat_map(|e| [e[2], e[3]])
        .collect();
    let blob = round_trip(&half, &Options::new(DType::BF16));
    assert!(!frame_info(&blob)
        .unwrap()
        .transforms
        .contains_key("palette16"));
}

#[test]
fn reduced_precision_costs_what_the_narrow_form_costs() {
    // fp32 holding bf16 values: low 16 bits zero -> two constant planes.
    let bf = common::weights(DType::BF16, 100_000, 5);
    let wide: Vec<u8> = bf.chunks(2).flat_map(|e| [0, 0, e[0], e[1]]).collect();
    let narrow = compress(&bf, &Options::new(DType::BF16)).unwrap();
    let widened = round_trip(&wide, &Options::new(DType::F32));
    assert!(
        widened.len() <= narrow.len() + narrow.len() / 50,
        "{} vs {}",
        widened.len(),
        narrow.len()
    );
}

#[test]
fn dense_data_takes_no_transform() {
    let data = common::weights(DType::BF16, 200_000, 6);
    let blob = compress(&data, &opts(DType::BF16)).unwrap();
    assert!(frame_info(&blob).unwrap().transforms.is_empty());
}

#[test]
fn transforms_are_deterministic_across_threads() {
    let data = structured(DType::BF16);
    let a = compress(&data, &opts(DType::BF16).threads(1)).unwrap();
    let b = compress(&data, &opts(DType::BF16).threads(3)).unwrap();
    assert!(a == b);
}
