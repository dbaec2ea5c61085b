//! GGUF and zip (PyTorch) files in model archives: byte-identical restore,
//! per-tensor access, every quantized block split, malformed GGUF headers,
//! truncated inputs and archives, stored and compressed zip members.

mod common;

use std::path::PathBuf;

use common::Rng;
use z4ai::archive::{compress_bytes, compress_path, Archive, ArchiveOptions, FileFormat};
use z4ai::{DType, Error};

fn opts() -> ArchiveOptions {
    ArchiveOptions::default()
}

fn restore(a: &Archive) -> Vec<u8> {
    let mut out = Vec::new();
    a.write_file(0, &mut out).unwrap();
    out
}

// ---------------------------------------------------------------- GGUF

/// A metadata value for the test writer.
#[derive(Clone)]
enum V {
    U8(u8),
    U32(u32),
    I64(i64),
    F32(f32),
    Bool(bool),
    Str(String),
    /// Element type and elements (all of that type).
    Arr(u32, Vec<V>),
}

impl V {
    fn type_id(&self) -> u32 {
        match self {
            V::U8(_) => 0,
            V::U32(_) => 4,
            V::F32(_) => 6,
            V::Bool(_) => 7,
            V::Str(_) => 8,
            V::Arr(..) => 9,
            V::I64(_) => 11,
        }
    }

    fn put(&self, o: &mut Vec<u8>) {
        match self {
            V::U8(x) => o.push(*x),
            V::U32(x) => o.extend_from_slice(&x.to_le_bytes()),
            V::I64(x) => o.extend_from_slice(&x.to_le_bytes()),
            V::F32(x) => o.extend_from_slice(&x.to_le_bytes()),
            V::Bool(x) => o.push(u8::from(*x)),
            V::Str(s) => put_str(o, s),
            V::Arr(t, items) => {
                o.extend_from_slice(&t.to_le_bytes());
                o.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for i in items {
                    i.put(o);
                }
            }
        }
    }
}

fn put_str(o: &mut Vec<u8>, s: &str) {
    o.extend_from_slice(&(s.len() as u64).to_le_bytes());
    o.extend_from_slice(s.as_bytes());
}

/// One tensor for the GGUF writer.
#[derive(Clone)]
struct GT {
    name: String,
    dims: Vec<u64>,
    ggml: u32,
    data: Vec<u8>,
}

/// ggml types with their (name, block elements, block bytes, split
/// fields) as the archive reports them.
const QUANT: &[(u32, &str, u64, usize, usize)] = &[
    (2, "Q4_0", 32, 18, 2),
    (3, "Q4_1", 32, 20, 3),
    (6, "Q5_0", 32, 22, 3),
    (7, "Q5_1", 32, 24, 4),
    (8, "Q8_0", 32, 34, 2),
    (10, "Q2_K", 256, 84, 4),
    (11, "Q3_K", 256, 110, 4),
    (12, "Q4_K", 256, 144, 4),
    (13, "Q5_K", 256, 176, 5),
    (14, "Q6_K", 256, 210, 4),
    (15, "Q8_K", 256, 292, 3),
    // Known sizes without a split: coded as bytes.
    (20, "IQ4_NL", 32, 18, 1),
    (23, "IQ4_XS", 256, 136, 1),
];

/// Random quantized blocks whose fp16 scale fields look like scales.
fn blocks(ggml: u32, n: usize, seed: u64) -> Vec<u8> {
    let &(_, _, _, size, _) = QUANT.iter().find(|q| q.0 == ggml).unwrap();
    let mut r = Rng(seed | 1);
    let mut out = Vec::with_capacity(n * size);
    for _ in 0..n {
        for _ in 0..size {
            out.push(r.next() as u8);
        }
    }
    out
}

/// A GGUF v`version` file: header, metadata, tensor infos, padding to
/// `align`, then the tensors in order, each padded to `align`.
fn gguf(version: u32, kv: &[(&str, V)], ts: &[GT], align: usize) -> Vec<u8> {
    let mut o = b"GGUF".to_vec();
    o.extend_from_slice(&version.to_le_bytes());
    o.extend_from_slice(&(ts.len() as u64).to_le_bytes());
    o.extend_from_slice(&(kv.len() as u64).to_le_bytes());
    for (k, v) in kv {
        put_str(&mut o, k);
        o.extend_from_slice(&v.type_id().to_le_bytes());
        v.put(&mut o);
    }
    let mut off = 0usize;
    let mut offsets = Vec::new();
    for t in ts {
        put_str(&mut o, &t.name);
        o.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            o.extend_from_slice(&d.to_le_bytes());
        }
        o.extend_from_slice(&t.ggml.to_le_bytes());
        o.extend_from_slice(&(off as u64).to_le_bytes());
        offsets.push(off);
        off = (off + t.data.len()).next_multiple_of(align);
    }
    while !o.len().is_multiple_of(align) {
        o.push(0);
    }
    let start = o.len();
    for (t, at) in ts.iter().zip(offsets) {
        o.resize(start + at, 0);
        o.extend_from_slice(&t.data);
    }
    o.resize(start + off, 0);
    o
}

fn gt(name: &str, dims: &[u64], ggml: u32, data: Vec<u8>) -> GT {
    GT {
        name: name.into(),
        dims: dims.to_vec(),
        ggml,
        data,
    }
}

/// Metadata like a real model's: strings, numbers, a token list, nested
/// arrays.
fn metadata() -> Vec<(&'static str, V)> {
    vec![
        ("general.architecture", V::Str("llama".into())),
        ("general.name", V::Str("tiny test".into())),
        ("llama.context_length", V::U32(2048)),
        ("llama.rope.freq_base", V::F32(10000.0)),
        ("general.quantization_version", V::U32(2)),
        ("general.flag", V::Bool(true)),
        ("general.i64", V::I64(-5)),
        ("general.u8", V::U8(7)),
        (
            "tokenizer.ggml.tokens",
            V::Arr(8, (0..300).map(|i| V::Str(format!("tok{i}"))).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            V::Arr(6, (0..300).map(|i| V::F32(i as f32)).collect()),
        ),
        (
            "nested",
            V::Arr(
                9,
                vec![V::Arr(4, vec![V::U32(1), V::U32(2)]), V::Arr(4, vec![])],
            ),
        ),
    ]
}

/// Every float and quantized type: F32, F16, BF16, F64, I8..I64, every
/// split type, two unsplit quantized types.
fn every_type() -> Vec<GT> {
    let w = |d: DType, n: usize, s: u64| common::weights(d, n, s);
    let mut ts = vec![
        gt("norm.f32", &[640], 0, w(DType::F32, 640, 1)),
        gt("w.f16", &[64, 10], 1, w(DType::F16, 640, 2)),
        gt("w.bf16", &[32, 3], 30, w(DType::BF16, 96, 3)),
        gt("w.f64", &[7], 28, w(DType::F64, 7, 4)),
        gt("w.i8", &[33], 24, w(DType::I8, 33, 5)),
        gt("w.i16", &[9], 25, w(DType::I16, 9, 6)),
        gt("w.i32", &[5], 26, w(DType::I32, 5, 7)),
        gt("w.i64", &[3], 27, w(DType::I64, 3, 8)),
        gt("empty", &[0, 256], 12, Vec::new()),
    ];
    for (k, &(id, name, blk, _, _)) in QUANT.iter().enumerate() {
        let n = 3 + k;
        ts.push(gt(
            &format!("blk.{k}.{name}"),
            &[blk * 2, n as u64],
            id,
            blocks(id, 2 * n, 100 + k as u64),
        ));
    }
    ts
}

#[test]
fn gguf_round_trips_with_per_tensor_access() {
    let ts = every_type();
    for (version, align) in [(3, 32), (2, 32), (3, 64)] {
        let mut kv = metadata();
        if align != 32 {
            kv.push(("general.alignment", V::U32(align as u32)));
        }
        let file = gguf(version, &kv, &ts, align);
        let z4 = compress_bytes(&file, "m.gguf", &opts()).unwrap();
        let a = Archive::from_bytes(z4).unwrap();
        assert_eq!(a.files()[0].format, FileFormat::Gguf);
        assert_eq!(restore(&a), file, "v{version} align {align}");
        let list = a.tensors();
        assert_eq!(list.len(), ts.len());
        for t in &ts {
            assert_eq!(a.tensor(&t.name).unwrap(), t.data, "{}", t.name);
            let info = list.iter().find(|i| i.name == t.name).unwrap();
            assert_eq!(info.shape, t.dims, "{}", t.name);
            assert_eq!(info.raw_size, t.data.len() as u64);
            if let Some(q) = QUANT.iter().find(|q| q.0 == t.ggml && !t.data.is_empty()) {
                assert_eq!(info.dtype, q.1);
                // Split types code one frame per block field.
                assert_eq!(a.tensor_frames(&t.name).unwrap().len(), q.4, "{}", t.name);
            }
        }
        assert_eq!(a.tensor_info("norm.f32").unwrap().dtype, "F32");
        assert_eq!(a.tensor_info("w.bf16").unwrap().dtype, "BF16");
        assert_eq!(a.verify().unwrap(), file.len() as u64);
    }
}

#[test]
fn every_split_type_round_trips_random_blocks() {
    for &(id, name, blk, size, fields) in QUANT {
        for n in [1usize, 2, 7, 100] {
            let data = blocks(id, n, id as u64 * 1000 + n as u64);
            assert_eq!(data.len(), n * size);
            let ts = vec![gt("q", &[blk * n as u64], id, data.clone())];
            let file = gguf(3, &[], &ts, 32);
            let z4 = compress_bytes(&file, "q.gguf", &opts()).unwrap();
            let a = Archive::from_bytes(z4).unwrap();
            assert_eq!(a.tensor("q").unwrap(), data, "{name} x{n}");
            assert_eq!(a.tensor_frames("q").unwrap().len(), fields, "{name}");
            assert_eq!(restore(&a), file, "{name} x{n}");
        }
    }
}

#[test]
fn split_tensors_stream_in_windows_byte_identical() {
    // Tensors of every split type, larger than the batch: with 1000-byte
    // batches each is streamed field by field in windows of a few blocks
    // (and its fields in 4 KiB chunks), and must come out as the same
    // archive as when split whole in memory.
    let mut ts = every_type();
    for (k, &(id, name, blk, _, _)) in QUANT.iter().enumerate() {
        let n = 300 + 7 * k;
        ts.push(gt(
            &format!("big.{k}.{name}"),
            &[blk * n as u64],
            id,
            blocks(id, n, 500 + k as u64),
        ));
    }
    let file = gguf(3, &metadata(), &ts, 32);
    for chunk_size in [4096, z4ai::DEFAULT_CHUNK_SIZE] {
        let whole = ArchiveOptions {
            chunk_size,
            ..opts()
        };
        let windowed = ArchiveOptions {
            batch_bytes: 1000,
            threads: 1,
            ..whole.clone()
        };
        let z4 = compress_bytes(&file, "m.gguf", &whole).unwrap();
        let z4w = compress_bytes(&file, "m.gguf", &windowed).unwrap();
        assert!(
            z4 == z4w,
            "chunk size {chunk_size}: streamed archive differs"
        );
        // The reader streams the split pieces back the same way.
        for batch in [1, 1000, 5000, 1 << 30] {
            let a = Archive::from_bytes(z4.clone())
                .unwrap()
                .with_batch_bytes(batch);
            assert_eq!(restore(&a), file, "batch {batch}");
        }
    }
}

#[test]
fn streamed_split_pieces_report_damage() {
    let ts = vec![gt("q", &[32 * 400], 8, blocks(8, 400, 9))];
    let file = gguf(3, &[], &ts, 32);
    let z4 = compress_bytes(&file, "q.gguf", &opts()).unwrap();
    let a = Archive::from_bytes(z4.clone()).unwrap();
    let index = a.index();
    let piece = index.files[0]
        .pieces
        .iter()
        .find(|p| p.tensor.is_some())
        .unwrap();
    assert_eq!(piece.frames.len(), 2, "Q8_0: d and qs");
    for f in piece.frames.iter().map(|&i| index.frames[i as usize]) {
        for at in [f.offset + 20, f.offset + f.len / 2, f.offset + f.len - 3] {
            let mut bad = z4.clone();
            bad[at as usize] ^= 0x10;
            let a = Archive::from_bytes(bad).unwrap().with_batch_bytes(100);
            let mut out = Vec::new();
            let r = a.write_file(0, &mut out);
            assert!(r.is_err(), "damage at {at} not reported");
        }
    }
}

#[test]
fn unknown_ggml_types_are_kept_as_bytes() {
    let ts = vec![
        gt("known", &[4], 0, common::weights(DType::F32, 4, 1)),
        gt("mystery", &[64], 200, vec![9u8; 40]),
    ];
    let file = gguf(3, &[], &ts, 32);
    let a = Archive::from_bytes(compress_bytes(&file, "m.gguf", &opts()).unwrap()).unwrap();
    assert_eq!(restore(&a), file);
    let names: Vec<String> = a.tensors().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["known"]);
}

fn malformed(file: &[u8]) -> String {
    match compress_bytes(file, "bad.gguf", &opts()) {
        Err(e @ Error::Malformed { what, .. }) => {
            assert_eq!(what, "GGUF header");
            e.to_string()
        }
        Err(e) => panic!("expected Malformed, got {e:?}"),
        Ok(_) => panic!("malformed input accepted"),
    }
}

/// The bytes of a small valid GGUF with `kv` and one F32 tensor, and the
/// offset where the tensor infos start.
fn small(kv: &[(&str, V)]) -> Vec<u8> {
    gguf(3, kv, &[gt("t", &[4], 0, vec![0u8; 16])], 32)
}

#[test]
fn malformed_gguf_headers_are_named() {
    let ok = small(&[("a", V::U32(1))]);
    // Header: magic, version, counts.
    let e = malformed(b"GGUX\x03\x00\x00\x00");
    assert!(e.contains("magic"), "{e}");
    let mut f = ok.clone();
    f[4] = 1;
    assert!(malformed(&f).contains("version 1"));
    f[4] = 4;
    assert!(malformed(&f).contains("version 4"));
    let mut f = ok.clone();
    f[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(malformed(&f).contains("tensors cannot fit"));
    let mut f = ok.clone();
    f[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(malformed(&f).contains("key/value pairs cannot fit"));
    assert!(malformed(b"GGUF\x03\x00").contains("past the end"));
    // Key length beyond the file.
    let mut f = ok.clone();
    f[24..32].copy_from_slice(&(1u64 << 50).to_le_bytes());
    assert!(malformed(&f).contains("exceeds"), "{}", malformed(&f));
    // Unknown value type (after the 8-byte key length and the key "a").
    let mut f = ok.clone();
    f[33..37].copy_from_slice(&13u32.to_le_bytes());
    assert!(malformed(&f).contains("unknown value type 13"));
    // A string value with an absurd length.
    let f = small(&[("s", V::Str("abc".into()))]);
    let mut g = f.clone();
    g[37..45].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
    assert!(malformed(&g).contains("exceeds"));
    // Arrays: absurd count, unknown element type, nesting too deep.
    let f = small(&[("arr", V::Arr(4, vec![V::U32(1)]))]);
    let mut g = f.clone();
    g[43..51].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(malformed(&g).contains("cannot fit"), "{}", malformed(&g));
    let mut g = f.clone();
    g[39..43].copy_from_slice(&77u32.to_le_bytes());
    assert!(malformed(&g).contains("unknown array element type 77"));
    let mut deep = V::Arr(4, vec![]);
    for _ in 0..9 {
        deep = V::Arr(9, vec![deep]);
    }
    assert!(malformed(&small(&[("deep", deep)])).contains("nested"));
    // Alignment: zero, not a power of two, not an unsigned integer.
    for v in [V::U32(0), V::U32(24), V::F32(32.0)] {
        let e = malformed(&small(&[("general.alignment", v)]));
        assert!(e.contains("general.alignment"), "{e}");
    }
    // Tensor infos.
    let t = |dims: &[u64], ggml: u32, len: usize| gt("x", dims, ggml, vec![1u8; len]);
    let e = malformed(&gguf(3, &[], &[t(&[1, 1, 1, 1, 1], 0, 4)], 32));
    assert!(e.contains("5 dimensions"), "{e}");
    let e = malformed(&gguf(3, &[], &[t(&[33], 2, 18)], 32));
    assert!(e.contains("whole Q4_0 blocks"), "{e}");
    let e = malformed(&gguf(3, &[], &[t(&[u64::MAX, 3], 0, 4)], 32));
    assert!(e.contains("overflows"), "{e}");
    let e = malformed(&gguf(3, &[], &[t(&[1 << 40], 0, 4)], 32));
    assert!(e.contains("past the end"), "{e}");
    let e = malformed(&gguf(
        3,
        &[],
        &[t(&[4], 0, 16), gt("x", &[4], 0, vec![0u8; 16])],
        32,
    ));
    assert!(e.contains("twice"), "{e}");
    // Offsets: out of range, overflowing, overlapping.
    let two = gguf(
        3,
        &[],
        &[
            gt("a", &[8], 0, vec![1u8; 32]),
            gt("b", &[8], 0, vec![2u8; 32]),
        ],
        32,
    );
    // The second tensor info's offset is the last 8 bytes before padding:
    // find it by its value (32).
    let infos_end = two.len() - 64;
    let at = (0..infos_end - 8)
        .rev()
        .find(|&i| two[i..i + 8] == 32u64.to_le_bytes())
        .unwrap();
    let mut g = two.clone();
    g[at..at + 8].copy_from_slice(&16u64.to_le_bytes());
    assert!(malformed(&g).contains("overlap"));
    g[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(malformed(&g).contains("overflows"));
    g[at..at + 8].copy_from_slice(&1000u64.to_le_bytes());
    assert!(malformed(&g).contains("past the end"));
    // Non-UTF-8 tensor name.
    let mut g = two.clone();
    let name_at = (0..g.len())
        .find(|&i| g[i..].starts_with(b"\x01\0\0\0\0\0\0\0a"))
        .unwrap();
    g[name_at + 8] = 0xFF;
    assert!(malformed(&g).contains("UTF-8"));
}

#[test]
fn truncated_gguf_files_and_archives() {
    let ts = vec![
        gt("a", &[64], 0, common::weights(DType::F32, 64, 1)),
        gt("q", &[256 * 2], 12, blocks(12, 2, 2)),
        gt("r", &[32 * 3], 8, blocks(8, 3, 3)),
    ];
    let file = gguf(3, &metadata(), &ts, 32);
    // A cut file is refused or restored exactly (a cut in the data section
    // of the last tensor must be refused: it runs past the end).
    for n in 0..file.len() {
        match compress_bytes(&file[..n], "m.gguf", &opts()) {
            Ok(z4) => {
                let a = Archive::from_bytes(z4).unwrap();
                assert_eq!(restore(&a), &file[..n]);
            }
            Err(Error::Malformed { what, .. }) => assert_eq!(what, "GGUF header"),
            Err(e) => panic!("cut at {n}: {e:?}"),
        }
    }
    // A cut or damaged archive errors or decodes correctly; never panics.
    let z4 = compress_bytes(&file, "m.gguf", &opts()).unwrap();
    for n in 0..z4.len() {
        if let Ok(a) = Archive::from_bytes(z4[..n].to_vec()) {
            if let Ok(k) = a.verify() {
                assert_eq!(k, file.len() as u64);
            }
        }
    }
    for i in (0..z4.len()).step_by(7) {
        let mut c = z4.clone();
        c[i] ^= 0x24;
        if let Ok(a) = Archive::from_bytes(c) {
            for t in &ts {
                if let Ok(v) = a.tensor(&t.name) {
                    assert_eq!(v, t.data);
                }
            }
            if let Ok(k) = a.verify() {
                assert_eq!(k, file.len() as u64);
            }
        }
    }
}

#[test]
fn gguf_is_detected_by_content_and_name() {
    let file = small(&[]);
    // By content under any name.
    let a = Archive::from_bytes(compress_bytes(&file, "model.bin", &opts()).unwrap()).unwrap();
    assert_eq!(a.files()[0].format, FileFormat::Gguf);
    assert_eq!(a.tensor("t").unwrap(), vec![0u8; 16]);
    // A .gguf name without the magic is a malformed header.
    assert!(malformed(b"not gguf at all").contains("magic"));
}

// ----------------------------------------------------------------- zip

/// A zip member for the test writer.
struct M {
    name: String,
    data: Vec<u8>,
    /// 0 stored; anything else is written as given (not really compressed:
    /// the archive never inflates).
    method: u16,
}

fn m(name: &str, data: Vec<u8>, method: u16) -> M {
    M {
        name: name.into(),
        data,
        method,
    }
}

/// A zip file as `torch.save` writes it: members padded (extra field) so
/// data starts on 64 bytes, central directory, end record; `zip64` adds a
/// zip64 end record and locator and 0xFFFFFFFF sizes with zip64 extras.
fn zip(ms: &[M], zip64: bool) -> Vec<u8> {
    let le16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_le_bytes());
    let le32 = |o: &mut Vec<u8>, v: u32| o.extend_from_slice(&v.to_le_bytes());
    let mut o = Vec::new();
    let mut locals = Vec::new();
    for x in ms {
        let at = o.len();
        locals.push(at);
        let pad = (64 - (at + 30 + x.name.len() + 4) % 64) % 64;
        le32(&mut o, 0x0403_4b50);
        le16(&mut o, 20);
        le16(&mut o, 0);
        le16(&mut o, x.method);
        le32(&mut o, 0);
        le32(&mut o, crc32(&x.data));
        le32(&mut o, x.data.len() as u32);
        le32(&mut o, x.data.len() as u32);
        le16(&mut o, x.name.len() as u16);
        le16(&mut o, (4 + pad) as u16);
        o.extend_from_slice(x.name.as_bytes());
        le16(&mut o, 0xFAFB);
        le16(&mut o, pad as u16);
        o.extend(vec![b'Z'; pad]);
        o.extend_from_slice(&x.data);
    }
    let cd = o.len();
    for (x, &at) in ms.iter().zip(&locals) {
        le32(&mut o, 0x0201_4b50);
        le16(&mut o, 45);
        le16(&mut o, 45);
        le16(&mut o, 0);
        le16(&mut o, x.method);
        le32(&mut o, 0);
        le32(&mut o, crc32(&x.data));
        let big = if zip64 { u32::MAX } else { x.data.len() as u32 };
        let off = if zip64 { u32::MAX } else { at as u32 };
        le32(&mut o, big);
        le32(&mut o, big);
        le16(&mut o, x.name.len() as u16);
        le16(&mut o, if zip64 { 28 } else { 0 });
        le16(&mut o, 0);
        le16(&mut o, 0);
        le16(&mut o, 0);
        le32(&mut o, 0);
        le32(&mut o, off);
        o.extend_from_slice(x.name.as_bytes());
        if zip64 {
            le16(&mut o, 1);
            le16(&mut o, 24);
            o.extend_from_slice(&(x.data.len() as u64).to_le_bytes());
            o.extend_from_slice(&(x.data.len() as u64).to_le_bytes());
            o.extend_from_slice(&(at as u64).to_le_bytes());
        }
    }
    let cd_len = o.len() - cd;
    if zip64 {
        let rec = o.len();
        le32(&mut o, 0x0606_4b50);
        o.extend_from_slice(&44u64.to_le_bytes());
        le16(&mut o, 45);
        le16(&mut o, 45);
        le32(&mut o, 0);
        le32(&mut o, 0);
        o.extend_from_slice(&(ms.len() as u64).to_le_bytes());
        o.extend_from_slice(&(ms.len() as u64).to_le_bytes());
        o.extend_from_slice(&(cd_len as u64).to_le_bytes());
        o.extend_from_slice(&(cd as u64).to_le_bytes());
        le32(&mut o, 0x0706_4b50);
        le32(&mut o, 0);
        o.extend_from_slice(&(rec as u64).to_le_bytes());
        le32(&mut o, 1);
    }
    le32(&mut o, 0x0605_4b50);
    le16(&mut o, 0);
    le16(&mut o, 0);
    let n = if zip64 { 0xFFFF } else { ms.len() as u16 };
    le16(&mut o, n);
    le16(&mut o, n);
    le32(&mut o, if zip64 { u32::MAX } else { cd_len as u32 });
    le32(&mut o, if zip64 { u32::MAX } else { cd as u32 });
    le16(&mut o, 0);
    o
}

/// CRC-32 (IEEE), bitwise: the archive does not check it, but the test
/// files should be real zips.
fn crc32(d: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in d {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A protocol-2 pickle fragment naming storages the way `torch.save`
/// does: the first with literals, the rest with memo gets.
fn pickle(storages: &[(&str, &str)]) -> Vec<u8> {
    let mut p = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(".to_vec();
    let mut memo: Vec<(String, u8)> = Vec::new();
    let mut next = 2u8;
    for (class, key) in storages {
        p.extend_from_slice(b"(");
        if next == 2 {
            p.extend_from_slice(b"X\x07\x00\x00\x00storageq\x02");
            next = 3;
        } else {
            p.extend_from_slice(b"h\x02");
        }
        match memo.iter().find(|(c, _)| c == class) {
            Some((_, i)) => p.extend_from_slice(&[b'h', *i]),
            None => {
                p.extend_from_slice(format!("ctorch\n{class}\nq").as_bytes());
                p.push(next);
                memo.push((class.to_string(), next));
                next += 1;
            }
        }
        p.push(b'X');
        p.extend_from_slice(&(key.len() as u32).to_le_bytes());
        p.extend_from_slice(key.as_bytes());
        p.extend_from_slice(b"X\x03\x00\x00\x00cpuK\x04tQ");
    }
    p.extend_from_slice(b"u.");
    p
}

fn torch_zip(zip64: bool) -> (Vec<u8>, Vec<M>) {
    let w = |d: DType, n: usize, s: u64| common::weights(d, n, s);
    let ms = vec![
        m(
            "archive/data.pkl",
            pickle(&[
                ("FloatStorage", "0"),
                ("HalfStorage", "1"),
                ("FloatStorage", "2"),
                ("LongStorage", "3"),
            ]),
            0,
        ),
        m("archive/data/0", w(DType::F32, 1000, 1), 0),
        m("archive/data/1", w(DType::F16, 999, 2), 0),
        m("archive/data/2", w(DType::F32, 10, 3), 0),
        m("archive/data/3", w(DType::I64, 5, 4), 0),
        // Odd length for its class: coded as bytes.
        m("archive/data/4", vec![1, 2, 3], 0),
        m("archive/deflated", b"pretend this is deflate".to_vec(), 8),
        m("archive/version", b"3\n".to_vec(), 0),
    ];
    (zip(&ms, zip64), ms)
}

#[test]
fn torch_zip_round_trips_with_dtypes_from_the_pickle() {
    for zip64 in [false, true] {
        let (file, ms) = torch_zip(zip64);
        let z4 = compress_bytes(&file, "model.pt", &opts()).unwrap();
        let a = Archive::from_bytes(z4).unwrap();
        assert_eq!(a.files()[0].format, FileFormat::Zip);
        assert_eq!(restore(&a), file, "zip64 {zip64}");
        for x in &ms {
            if x.method == 0 {
                assert_eq!(a.tensor(&x.name).unwrap(), x.data, "{}", x.name);
            } else {
                assert!(a.tensor(&x.name).is_err());
            }
        }
        let dtype = |n: &str| a.tensor_info(n).unwrap().dtype;
        assert_eq!(dtype("archive/data/0"), "F32");
        assert_eq!(dtype("archive/data/1"), "F16");
        assert_eq!(dtype("archive/data/2"), "F32");
        assert_eq!(dtype("archive/data/3"), "I64");
        assert_eq!(dtype("archive/data/4"), "bytes");
        assert_eq!(dtype("archive/data.pkl"), "bytes");
        assert_eq!(a.tensor_info("archive/data/0").unwrap().shape, [1000]);
    }
}

#[test]
fn broken_zips_are_kept_as_bytes() {
    let (file, _) = torch_zip(false);
    // No end record, a directory pointing outside the file, cut files,
    // single damaged bytes: compressed as bytes or as a zip, always
    // restored exactly.
    let mut cases = vec![file[..file.len() - 22].to_vec()];
    let mut g = file.clone();
    let n = g.len();
    g[n - 6..n - 2].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(g);
    for cut in (0..file.len()).step_by(97) {
        cases.push(file[..cut].to_vec());
    }
    let cd = file.len() - 22 - 8 * 46 - 120;
    for i in (cd..file.len()).step_by(3) {
        let mut g = file.clone();
        g[i] ^= 0x5A;
        cases.push(g);
    }
    for c in cases {
        let z4 = compress_bytes(&c, "model.bin", &opts()).unwrap();
        let a = Archive::from_bytes(z4).unwrap();
        assert_eq!(restore(&a), c);
        for t in a.tensors() {
            let v = a.tensor(&t.name).unwrap();
            assert_eq!(&c[t.offset as usize..][..v.len()], &v[..]);
        }
    }
}

// ----------------------------------------------------------- real files

/// The real Gemma 3 270M Q4_K_M GGUF (`Z4AI_GGUF`, default
/// /work/gguf/gemma3-270m-q4_k_m.gguf) and easyocr's english_g2.pth
/// (`Z4AI_PTH`), when present: round trip, per-tensor spot checks, ratios.
#[test]
fn real_gguf_and_pth() {
    let files = [
        std::env::var_os("Z4AI_GGUF")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/work/gguf/gemma3-270m-q4_k_m.gguf".into()),
        std::env::var_os("Z4AI_PTH")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/work/gguf/english_g2.pth".into()),
    ];
    for p in files {
        if !p.exists() || cfg!(debug_assertions) {
            println!("SKIPPED: {} (absent, or a debug build)", p.display());
            continue;
        }
        let orig = std::fs::read(&p).unwrap();
        let mut z4 = Vec::new();
        let st = compress_path(&p, &mut z4, &opts()).unwrap();
        let a = Archive::from_bytes(z4).unwrap();
        assert_eq!(restore(&a), orig);
        let mut by_type: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for t in a.tensors() {
            let e = by_type.entry(t.dtype.clone()).or_default();
            e.0 += t.raw_size;
            e.1 += t.compressed_size;
        }
        for t in a.tensors().iter().step_by(17) {
            let v = a.tensor(&t.name).unwrap();
            assert_eq!(&orig[t.offset as usize..][..v.len()], &v[..], "{}", t.name);
        }
        println!(
            "{}: {} -> {} bytes, ratio {:.4}, {} tensors",
            p.display(),
            orig.len(),
            st.archive_bytes,
            orig.len() as f64 / st.archive_bytes as f64,
            st.tensors
        );
        for (d, (raw, z)) in by_type {
            println!("  {d:8} {raw:>11} -> {z:>11}  {:.4}", raw as f64 / z as f64);
        }
    }
}

/// Writes small GGUF and zip files (and their archives) as fuzz seeds
/// into `$Z4AI_FUZZ_SEEDS` when it is set, e.g.
/// `Z4AI_FUZZ_SEEDS=fuzz/corpus/archive cargo test --test gguf_zip seeds`.
#[test]
fn fuzz_seeds() {
    let Some(dir) = std::env::var_os("Z4AI_FUZZ_SEEDS").map(PathBuf::from) else {
        println!("SKIPPED: set Z4AI_FUZZ_SEEDS to write fuzz seeds");
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let few: Vec<GT> = every_type().into_iter().step_by(3).collect();
    let seeds = [
        ("gguf-every-type", gguf(3, &metadata()[..4], &few, 32)),
        (
            "gguf-align64",
            gguf(
                3,
                &[("general.alignment", V::U32(64))],
                &[gt("t", &[4], 0, vec![0u8; 16])],
                64,
            ),
        ),
        ("zip-torch", torch_zip(false).0),
        ("zip64-torch", torch_zip(true).0),
    ];
    for (name, file) in seeds {
        let z4 = compress_bytes(&file, "seed", &opts()).unwrap();
        std::fs::write(dir.join(name), &file).unwrap();
        std::fs::write(dir.join(format!("{name}.z4")), z4).unwrap();
    }
}
