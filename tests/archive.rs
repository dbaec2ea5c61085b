//! Model archives: safetensors files and folders in, byte-identical files
//! out, per-tensor access, dedup, malformed inputs, corrupted archives,
//! the CLI.

mod common;

use std::path::{Path, PathBuf};

use z4ai::archive::{compress_bytes, compress_path, Archive, ArchiveKind, ArchiveOptions};
use z4ai::{DType, Error};

/// One tensor for the test writer.
struct T {
    name: String,
    dtype: &'static str,
    shape: Vec<u64>,
    data: Vec<u8>,
}

fn t(name: &str, dtype: &'static str, shape: &[u64], data: Vec<u8>) -> T {
    T {
        name: name.into(),
        dtype,
        shape: shape.to_vec(),
        data,
    }
}

/// A tiny safetensors writer: tensors laid out in order with `gap` bytes
/// of filler before each, `tail` bytes after the last, the header padded
/// with `pad` spaces.
fn safetensors(
    ts: &[T],
    metadata: Option<&[(&str, &str)]>,
    gap: usize,
    tail: usize,
    pad: usize,
) -> Vec<u8> {
    let mut entries = Vec::new();
    if let Some(m) = metadata {
        let kv: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
        entries.push(format!("\"__metadata__\":{{{}}}", kv.join(",")));
    }
    let mut data = Vec::new();
    for (i, x) in ts.iter().enumerate() {
        data.extend((0..gap).map(|k| (k * 7 + i) as u8));
        let b = data.len();
        data.extend_from_slice(&x.data);
        let shape: Vec<String> = x.shape.iter().map(u64::to_string).collect();
        entries.push(format!(
            "\"{}\":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            x.name,
            x.dtype,
            shape.join(","),
            b,
            data.len()
        ));
    }
    data.extend((0..tail).map(|k| (k * 13) as u8));
    let mut json = format!("{{{}}}", entries.join(",")).into_bytes();
    json.extend(vec![b' '; pad]);
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    out
}

fn every_dtype() -> Vec<T> {
    let w = |d: DType, n: usize, s: u64| common::weights(d, n, s);
    vec![
        t("bf16", "BF16", &[64, 50], w(DType::BF16, 3200, 1)),
        t("f16", "F16", &[3000], w(DType::F16, 3000, 2)),
        t("f32", "F32", &[10, 100], w(DType::F32, 1000, 3)),
        t("f64", "F64", &[500], w(DType::F64, 500, 4)),
        t("e4m3", "F8_E4M3", &[4000], w(DType::F8E4M3, 4000, 5)),
        t("e5m2", "F8_E5M2", &[4000], w(DType::F8E5M2, 4000, 6)),
        t("e8m0", "F8_E8M0", &[100], w(DType::U8, 100, 7)),
        t("i8", "I8", &[1000], w(DType::I8, 1000, 8)),
        t("u8", "U8", &[1000], w(DType::U8, 1000, 9)),
        t(
            "bool",
            "BOOL",
            &[37],
            (0..37).map(|i| (i % 3 == 0) as u8).collect(),
        ),
        t("i16", "I16", &[700], w(DType::I16, 700, 10)),
        t("u16", "U16", &[700], w(DType::I16, 700, 11)),
        t("i32", "I32", &[300], w(DType::I32, 300, 12)),
        t("u32", "U32", &[300], w(DType::I32, 300, 13)),
        t("i64", "I64", &[2, 150], w(DType::I64, 300, 14)),
        t("u64", "U64", &[150], w(DType::I64, 150, 15)),
        t("c64", "C64", &[100], w(DType::F32, 200, 16)),
        t("f4", "F4", &[10], vec![0x12; 5]),
        t("scalar", "F32", &[], 1.5f32.to_le_bytes().to_vec()),
        t("empty", "BF16", &[0, 4], Vec::new()),
        t("empty2", "F32", &[0], Vec::new()),
    ]
}

fn opts() -> ArchiveOptions {
    ArchiveOptions::default()
}

fn restore(a: &Archive, fi: usize) -> Vec<u8> {
    let mut out = Vec::new();
    a.write_file(fi, &mut out).unwrap();
    out
}

#[test]
fn tensors_with_repeats_inside_restore() {
    // A tensor whose second half repeats its first (from element 3 on) is
    // coded with in-chunk copies (layout 4); the archive checks its pieces
    // itself, so its decoder skips the frames' chunk hashes, and the copies
    // must still be applied before the piece is checked.
    let a = common::weights(DType::BF16, 30_000, 31);
    let mut rep = a.clone();
    rep.extend_from_slice(&a[6..]);
    rep.extend_from_slice(&a[..6]);
    let ts = vec![
        t("rep", "BF16", &[60_000], rep.clone()),
        t("b", "F32", &[1000], common::weights(DType::F32, 1000, 32)),
    ];
    let file = safetensors(&ts, None, 0, 0, 0);
    let z4 = compress_bytes(&file, "m.safetensors", &opts()).unwrap();
    let a = Archive::from_bytes(z4).unwrap();
    let frames = a.tensor_frames("rep").unwrap();
    let info = z4ai::frame_info(&frames[0]).unwrap();
    assert!(
        info.transforms.contains_key("dedup"),
        "{:?}",
        info.transforms
    );
    assert_eq!(a.tensor("rep").unwrap(), rep);
    assert_eq!(restore(&a, 0), file);
}

#[test]
fn every_dtype_round_trips_with_gaps_padding_and_metadata() {
    let ts = every_dtype();
    for (gap, tail, pad) in [(0, 0, 0), (3, 5, 7), (64, 1000, 1)] {
        let file = safetensors(&ts, Some(&[("format", "pt"), ("k", "v")]), gap, tail, pad);
        let z4 = compress_bytes(&file, "m.safetensors", &opts()).unwrap();
        assert_eq!(&z4[..4], b"Z4AR");
        let a = Archive::from_bytes(z4).unwrap();
        assert_eq!(a.kind(), ArchiveKind::File);
        assert_eq!(restore(&a, 0), file, "gap {gap} tail {tail} pad {pad}");
        let list = a.tensors();
        assert_eq!(list.len(), ts.len());
        for x in &ts {
            assert_eq!(a.tensor(&x.name).unwrap(), x.data, "{}", x.name);
            let info = list.iter().find(|i| i.name == x.name).unwrap();
            assert_eq!(info.dtype, x.dtype);
            assert_eq!(info.shape, x.shape);
            assert_eq!(info.raw_size, x.data.len() as u64);
            let mut buf = vec![0xAAu8; x.data.len() + 3];
            assert_eq!(a.tensor_into(&x.name, &mut buf).unwrap(), x.data.len());
            assert_eq!(&buf[..x.data.len()], &x.data[..]);
        }
        let md = a.metadata().unwrap();
        assert_eq!(md.get("format").map(String::as_str), Some("pt"));
        assert_eq!(md.len(), 2);
        a.verify().unwrap();
        // Too small a buffer, unknown names: typed errors.
        assert!(matches!(
            a.tensor_into("f32", &mut [0u8; 3]),
            Err(Error::BufferTooSmall { .. })
        ));
        assert!(a.tensor("nope").is_err());
    }
}

#[test]
fn no_metadata_and_no_tensors() {
    let file = safetensors(&[], None, 0, 0, 6);
    let a = Archive::from_bytes(compress_bytes(&file, "e.safetensors", &opts()).unwrap()).unwrap();
    assert_eq!(restore(&a, 0), file);
    assert!(a.tensors().is_empty());
    assert!(a.metadata().unwrap().is_empty());
}

#[test]
fn tied_tensors_are_stored_once() {
    let emb = common::weights(DType::BF16, 50_000, 42);
    let other = common::weights(DType::BF16, 50_000, 44);
    let ts = vec![
        t("embed", "BF16", &[500, 100], emb.clone()),
        t("mid", "BF16", &[500, 100], other.clone()),
        t("lm_head", "BF16", &[500, 100], emb.clone()),
    ];
    let file = safetensors(&ts, None, 0, 0, 0);
    let untied = safetensors(&ts[..2], None, 0, 0, 0);
    let z4 = compress_bytes(&file, "m.safetensors", &opts()).unwrap();
    let z4_untied = compress_bytes(&untied, "m.safetensors", &opts()).unwrap();
    assert!(
        z4.len() < z4_untied.len() + 1000,
        "tied copy must cost only an index entry: {} vs {}",
        z4.len(),
        z4_untied.len()
    );
    let a = Archive::from_bytes(z4).unwrap();
    assert_eq!(restore(&a, 0), file);
    assert_eq!(a.tensor("lm_head").unwrap(), emb);
    let list = a.tensors();
    assert!(
        !list[0].deduplicated && !list[1].deduplicated && list[2].deduplicated,
        "{list:?}"
    );
    // Same hash, different bytes cannot happen in a test; same bytes in
    // different batches (tiny batches) still dedup.
    let small = ArchiveOptions {
        batch_bytes: 4096,
        ..opts()
    };
    let z4b = compress_bytes(&file, "m.safetensors", &small).unwrap();
    let b = Archive::from_bytes(z4b.clone()).unwrap();
    assert!(b.tensors()[2].deduplicated);
    assert_eq!(restore(&b, 0), file);
    // Batching and streaming do not change what the archive decodes to,
    // and one thread writes the same bytes as many.
    let one = ArchiveOptions {
        threads: 1,
        batch_bytes: 4096,
        ..opts()
    };
    assert_eq!(compress_bytes(&file, "m.safetensors", &one).unwrap(), z4b);
}

#[test]
fn big_tensors_stream_in_bounded_batches() {
    let big = common::weights(DType::F32, 300_000, 5);
    let ts = vec![
        t("a", "F32", &[300_000], big.clone()),
        t("b", "F32", &[1000], common::weights(DType::F32, 1000, 6)),
        t("c", "F32", &[300_000], big.clone()),
    ];
    let file = safetensors(&ts, None, 5, 100_000, 3);
    let o = ArchiveOptions {
        batch_bytes: 64 << 10,
        chunk_size: 64 << 10,
        ..opts()
    };
    let z4 = compress_bytes(&file, "m.safetensors", &o).unwrap();
    let a = Archive::from_bytes(z4).unwrap().with_batch_bytes(64 << 10);
    assert_eq!(restore(&a, 0), file);
    assert_eq!(a.tensor("c").unwrap(), big);
    assert!(a.tensors()[2].deduplicated);
}

#[test]
fn streamed_pieces_make_the_same_archive_as_batched_ones() {
    // Tensors and regions larger than 1000-byte batches are streamed
    // through the encoder in windows; the archive must be byte for byte
    // the one whole pieces coded in memory give (frames record their size
    // either way), at 4 KiB chunks (many blocks) and the default.
    let big = common::weights(DType::BF16, 150_000, 7);
    let ts = vec![
        t("a", "BF16", &[150_000], big.clone()),
        t("b", "F32", &[1000], common::weights(DType::F32, 1000, 8)),
        t(
            "c",
            "F32",
            &[70_001],
            common::weights(DType::F32, 70_001, 9),
        ),
        t("d", "BF16", &[150_000], big),
        t("e", "I8", &[5], vec![1, 2, 3, 4, 5]),
    ];
    let file = safetensors(&ts, None, 5, 100_000, 3);
    for chunk_size in [4096, z4ai::DEFAULT_CHUNK_SIZE] {
        let whole = ArchiveOptions {
            chunk_size,
            ..opts()
        };
        let z4 = compress_bytes(&file, "m.safetensors", &whole).unwrap();
        for (batch_bytes, threads) in [(1000, 1), (1000, 0), (100_000, 0)] {
            let o = ArchiveOptions {
                batch_bytes,
                threads,
                ..whole.clone()
            };
            let z4s = compress_bytes(&file, "m.safetensors", &o).unwrap();
            assert!(
                z4s == z4,
                "chunk {chunk_size} batch {batch_bytes}: archives differ"
            );
        }
        assert!(
            Archive::from_bytes(z4.clone()).unwrap().tensors()[3].deduplicated,
            "d repeats a"
        );
        for batch in [1, 1000, 1 << 30] {
            let a = Archive::from_bytes(z4.clone())
                .unwrap()
                .with_batch_bytes(batch);
            assert_eq!(restore(&a, 0), file, "batch {batch}");
        }
    }
}

fn malformed(file: &[u8]) -> String {
    match compress_bytes(file, "bad.safetensors", &opts()) {
        Err(e @ Error::Malformed { .. }) => e.to_string(),
        Err(e) => panic!("expected Malformed, got {e:?}"),
        Ok(_) => panic!("malformed input accepted"),
    }
}

fn with_json(json: &str, data_len: usize) -> Vec<u8> {
    let mut f = (json.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(json.as_bytes());
    f.extend(vec![0u8; data_len]);
    f
}

#[test]
fn malformed_safetensors_are_named() {
    let e = malformed(&with_json("{\"a\":{\"dtype\":\"F32\"", 0));
    assert!(e.contains("JSON"), "{e}");
    let e = malformed(&with_json(
        r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
        8,
    ));
    assert!(e.contains("outside"), "{e}");
    let e = malformed(&with_json(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        12,
    ));
    assert!(e.contains("overlap"), "{e}");
    let e = malformed(&with_json(
        r#"{"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#,
        8,
    ));
    assert!(e.contains("unknown dtype 'Q9'"), "{e}");
    let e = malformed(&with_json(
        r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
        8,
    ));
    assert!(e.contains("needs"), "{e}");
    let e = malformed(&with_json(
        r#"{"a":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,8]}}"#,
        8,
    ));
    assert!(e.contains("overflow"), "{e}");
    let e = malformed(&with_json(r#"["not an object"]"#, 0));
    assert!(e.contains("not a JSON object"), "{e}");
    let e = malformed(&with_json(r#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, 8));
    assert!(e.contains("missing dtype"), "{e}");
    // Header length beyond the file.
    let mut f = with_json(r#"{}"#, 0);
    f[..8].copy_from_slice(&1000u64.to_le_bytes());
    let e = malformed(&f);
    assert!(e.contains("past the end"), "{e}");
    let e = malformed(b"abc");
    assert!(e.contains("too short"), "{e}");
}

#[test]
fn corrupted_archives_give_typed_errors() {
    let ts = vec![
        t("w1", "BF16", &[4000], common::weights(DType::BF16, 4000, 1)),
        t("w2", "F32", &[2000], common::weights(DType::F32, 2000, 2)),
    ];
    let file = safetensors(&ts, None, 0, 0, 0);
    let z4 = compress_bytes(&file, "m.safetensors", &opts()).unwrap();
    let a = Archive::from_bytes(z4.clone()).unwrap();
    let w2 = a.index().frames[a.index().files[0].pieces[2].frames[0] as usize];
    // A flipped bit inside w2's frame: w1 still decodes, w2 names itself.
    let mut bad = z4.clone();
    bad[(w2.offset + w2.len / 2) as usize] ^= 0x10;
    let b = Archive::from_bytes(bad).unwrap();
    assert_eq!(b.tensor("w1").unwrap(), ts[0].data);
    match b.tensor("w2") {
        Err(Error::Tensor { name, .. }) => assert_eq!(name, "w2"),
        other => panic!("expected a tensor error, got {other:?}"),
    }
    assert!(matches!(b.verify(), Err(Error::Tensor { .. })));
    // Every truncation and every single-byte change of the index/footer is
    // rejected or decodes correctly; nothing panics.
    for n in 0..z4.len() {
        let _ = Archive::from_bytes(z4[..n].to_vec()).map(|a| a.verify());
    }
    let idx_start = z4.len() - 32 - 200;
    for i in idx_start..z4.len() {
        let mut c = z4.clone();
        c[i] ^= 0x41;
        if let Ok(a) = Archive::from_bytes(c) {
            if let Ok(n) = a.verify() {
                assert_eq!(n, file.len() as u64);
            }
        }
    }
    assert!(matches!(
        Archive::from_bytes(b"Z4AI not an archive at all, really no".to_vec()),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn cli_round_trips_a_safetensors_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ts = every_dtype();
    let file = safetensors(&ts, Some(&[("format", "pt")]), 2, 3, 4);
    // Detected by content, not by name.
    std::fs::write(d.join("model.weights"), &file).unwrap();
    common::ok(&common::run_cli(&["compress", "model.weights"], d));
    let z4 = d.join("model.weights.z4");
    assert_eq!(&std::fs::read(&z4).unwrap()[..4], b"Z4AR");
    assert!(!common::run_cli(&["compress", "model.weights"], d)
        .status
        .success());
    common::ok(&common::run_cli(
        &["compress", "-f", "-e", "fast", "model.weights"],
        d,
    ));

    // `bench` codes a model file as `compress` does: the archive it times
    // is the one just written, byte for byte the same size. With --dtype
    // it is one buffer instead.
    let bench = |args: &[&str]| -> serde_json::Value {
        let mut a = vec![
            "bench",
            "model.weights",
            "-e",
            "fast",
            "--repeat",
            "1",
            "--json",
        ];
        a.extend_from_slice(args);
        serde_json::from_str(&common::ok(&common::run_cli(&a, d))).unwrap()
    };
    let v = bench(&[]);
    assert_eq!(v["mode"], "archive", "{v}");
    assert_eq!(v["results"][0]["verified"], true);
    let archived = std::fs::metadata(&z4).unwrap().len();
    assert_eq!(v["results"][0]["compressed_bytes"], archived);
    let v = bench(&["--dtype", "bytes"]);
    assert_eq!(v["mode"], "buffer", "{v}");
    assert_eq!(v["results"][0]["verified"], true);
    assert_ne!(v["results"][0]["compressed_bytes"], archived);

    let ls = common::ok(&common::run_cli(&["ls", "model.weights.z4"], d));
    assert!(ls.contains("bf16\tBF16\t[64, 50]"), "{ls}");
    let info = common::ok(&common::run_cli(&["info", "--json", "model.weights.z4"], d));
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(v["tensors"].as_array().unwrap().len(), ts.len());
    assert_eq!(v["metadata"]["format"], "pt");
    assert!(v["tensors"][0]["frames"][0]["planes"].is_array());
    common::ok(&common::run_cli(&["info", "model.weights.z4"], d));
    assert!(common::ok(&common::run_cli(&["verify", "model.weights.z4"], d)).contains("OK"));

    common::ok(&common::run_cli(
        &[
            "extract",
            "model.weights.z4",
            "--tensor",
            "f32",
            "-o",
            "f32.bin",
        ],
        d,
    ));
    assert_eq!(std::fs::read(d.join("f32.bin")).unwrap(), ts[2].data);
    common::ok(&common::run_cli(
        &[
            "extract",
            "model.weights.z4",
            "--tensor",
            "bf16",
            "--safetensors",
            "one.safetensors",
        ],
        d,
    ));
    let one = std::fs::read(d.join("one.safetensors")).unwrap();
    let a1 =
        Archive::from_bytes(compress_bytes(&one, "one.safetensors", &opts()).unwrap()).unwrap();
    assert_eq!(a1.tensor("bf16").unwrap(), ts[0].data);
    assert_eq!(a1.tensors()[0].shape, vec![64, 50]);
    assert!(!common::run_cli(
        &["extract", "model.weights.z4", "--tensor", "nope", "-o", "x"],
        d
    )
    .status
    .success());
    assert!(!d.join("x").exists());

    std::fs::rename(d.join("model.weights"), d.join("orig")).unwrap();
    common::ok(&common::run_cli(&["decompress", "model.weights.z4"], d));
    assert_eq!(std::fs::read(d.join("model.weights")).unwrap(), file);
    assert!(!common::run_cli(&["decompress", "model.weights.z4"], d)
        .status
        .success());
}

#[test]
fn cli_refuses_malformed_input_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.safetensors"),
        with_json(
            r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            8,
        ),
    )
    .unwrap();
    let o = common::run_cli(&["compress", "bad.safetensors"], d);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("safetensors header") && err.contains("'a'"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "nothing written: {left:?}");
}

/// A sharded model folder: two shards, the index JSON, config and
/// tokenizer files, a tied tensor across shards, a nested folder.
fn model_dir(d: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let emb = common::weights(DType::BF16, 40_000, 77);
    let s1 = safetensors(
        &[
            t("model.embed", "BF16", &[400, 100], emb.clone()),
            t(
                "model.l0.w",
                "BF16",
                &[100, 100],
                common::weights(DType::BF16, 10_000, 1),
            ),
        ],
        Some(&[("format", "pt")]),
        0,
        0,
        5,
    );
    let s2 = safetensors(
        &[
            t(
                "model.l1.w",
                "BF16",
                &[100, 100],
                common::weights(DType::BF16, 10_000, 2),
            ),
            t("lm_head", "BF16", &[400, 100], emb),
        ],
        Some(&[("format", "pt")]),
        0,
        0,
        0,
    );
    let files = vec![
        (PathBuf::from("model-00001-of-00002.safetensors"), s1),
        (PathBuf::from("model-00002-of-00002.safetensors"), s2),
        (
            PathBuf::from("model.safetensors.index.json"),
            br#"{"metadata":{"total_size":120000},"weight_map":{"model.embed":"model-00001-of-00002.safetensors"}}"#.to_vec(),
        ),
        (PathBuf::from("config.json"), br#"{"hidden_size": 100}"#.to_vec()),
        (PathBuf::from("tokenizer/tokenizer.json"), vec![b'x'; 5000]),
        (PathBuf::from("empty.txt"), Vec::new()),
    ];
    for (p, b) in &files {
        let p = d.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b).unwrap();
    }
    files
}

#[test]
fn model_folder_round_trips_with_cross_shard_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("model");
    let files = model_dir(&src);
    let mut z4 = Vec::new();
    let stats = compress_path(&src, &mut z4, &opts()).unwrap();
    assert_eq!(stats.files, files.len());
    assert_eq!(
        stats.deduplicated, 1,
        "lm_head ties model.embed across shards"
    );
    let a = Archive::from_bytes(z4).unwrap();
    assert_eq!(a.kind(), ArchiveKind::Dir);
    for (p, b) in &files {
        let mut out = Vec::new();
        a.write_file_by_path(p.to_str().unwrap(), &mut out).unwrap();
        assert_eq!(&out, b, "{}", p.display());
    }
    assert_eq!(
        a.tensor("lm_head").unwrap(),
        a.tensor("model.embed").unwrap()
    );
    assert_eq!(a.metadata().unwrap()["format"], "pt");

    // CLI: folder -> model.z4 -> folder, byte for byte.
    let d = dir.path();
    common::ok(&common::run_cli(&["compress", "model"], d));
    assert!(d.join("model.z4").exists());
    common::ok(&common::run_cli(&["verify", "model.z4"], d));
    let ls = common::ok(&common::run_cli(&["ls", "model.z4"], d));
    assert!(
        ls.contains("model-00002-of-00002.safetensors:lm_head"),
        "{ls}"
    );
    common::ok(&common::run_cli(
        &["decompress", "model.z4", "-o", "restored"],
        d,
    ));
    for (p, b) in &files {
        assert_eq!(&std::fs::read(d.join("restored").join(p)).unwrap(), b);
    }
    assert!(
        !common::run_cli(&["decompress", "model.z4", "-o", "restored"], d)
            .status
            .success()
    );
    common::ok(&common::run_cli(
        &["decompress", "model.z4", "-o", "restored", "--force"],
        d,
    ));
    common::ok(&common::run_cli(
        &[
            "extract",
            "model.z4",
            "--file-path",
            "config.json",
            "-o",
            "c.json",
        ],
        d,
    ));
    assert_eq!(std::fs::read(d.join("c.json")).unwrap(), files[3].1);
}

#[test]
fn extraction_reads_little_more_than_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    let ts: Vec<T> = (0..20)
        .map(|i| {
            t(
                &format!("layer{i}"),
                "BF16",
                &[100_000],
                common::weights(DType::BF16, 100_000, i + 1),
            )
        })
        .collect();
    let file = safetensors(&ts, None, 0, 0, 0);
    let p = dir.path().join("m.safetensors");
    std::fs::write(&p, &file).unwrap();
    let out = dir.path().join("m.z4");
    compress_path(&p, std::fs::File::create(&out).unwrap(), &opts()).unwrap();
    let a = Archive::open(&out).unwrap();
    let opened = a.bytes_read();
    let info = a.tensor_info("layer7").unwrap();
    assert_eq!(a.tensor("layer7").unwrap(), ts[7].data);
    let read = a.bytes_read() - opened;
    assert_eq!(
        read, info.compressed_size,
        "one positioned read of the frame"
    );
    assert!(opened < 4096, "footer + index only: {opened}");
}

/// The real corpus, when present.
#[test]
fn real_weights_round_trip() {
    let root = std::env::var_os("Z4AI_REAL_WEIGHTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/real-weights"));
    if !root.exists() {
        println!(
            "SKIPPED: no real corpus at {} (set Z4AI_REAL_WEIGHTS)",
            root.display()
        );
        return;
    }
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|e| e == "safetensors" || e == "gguf")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    // Unoptimised builds code slowly: only the small files there.
    let limit: u64 = if cfg!(debug_assertions) {
        8 << 20
    } else {
        300 << 20
    };
    let mut tested = 0;
    for p in files {
        let len = std::fs::metadata(&p).unwrap().len();
        if len > limit {
            continue;
        }
        let mut z4 = Vec::new();
        compress_path(&p, &mut z4, &opts()).unwrap();
        let a = Archive::from_bytes(z4).unwrap();
        assert_eq!(
            restore(&a, 0),
            std::fs::read(&p).unwrap(),
            "{}",
            p.display()
        );
        println!("{}: {} -> {}", p.display(), len, a.archive_size());
        tested += 1;
    }
    println!("real corpus: {tested} file(s) round-tripped");
}

fn proc_read_bytes() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((get("rchar:")?, get("read_bytes:")?))
}

/// One tensor out of a >= 100 MB archive of a real model: bytes read and
/// time against a full restore. Set `Z4AI_EXTRACT_ARCHIVE` to measure an
/// existing archive; otherwise the largest real file is archived first.
/// Meaningful in release builds (`cargo test --release --test archive
/// real_extract -- --nocapture`).
#[test]
fn real_extract_one_tensor() {
    let archive = match std::env::var_os("Z4AI_EXTRACT_ARCHIVE") {
        Some(p) => PathBuf::from(p),
        None => {
            let root = std::env::var_os("Z4AI_REAL_WEIGHTS")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/work/real-weights"));
            if cfg!(debug_assertions) || !root.exists() {
                println!("SKIPPED: needs a release build and the real corpus");
                return;
            }
            let mut best: Option<(u64, PathBuf)> = None;
            for sub in ["packages", "derived"] {
                for e in std::fs::read_dir(root.join(sub)).into_iter().flatten() {
                    let p = e.unwrap().path();
                    let len = std::fs::metadata(&p).unwrap().len();
                    if !matches!(&best, Some(b) if len <= b.0) {
                        best = Some((len, p));
                    }
                }
            }
            let (_, src) = best.expect("a corpus file");
            let out = std::env::temp_dir().join(format!("z4ai-extract-{}.z4", std::process::id()));
            compress_path(&src, std::fs::File::create(&out).unwrap(), &opts()).unwrap();
            out
        }
    };
    let a = Archive::open(&archive).unwrap();
    let size = a.archive_size();
    let ts = a.tensors();
    // The largest tensor of at most 2% of the archive: a layer's weight,
    // not the one embedding that is most of a small model.
    let big = ts
        .iter()
        .filter(|t| t.compressed_size <= size / 50)
        .max_by_key(|t| t.compressed_size)
        .unwrap()
        .clone();
    let before = proc_read_bytes();
    let r0 = a.bytes_read();
    let t0 = std::time::Instant::now();
    let data = a.tensor(&big.name).unwrap();
    let one = t0.elapsed().as_secs_f64();
    let read = a.bytes_read() - r0;
    let after = proc_read_bytes();
    assert_eq!(data.len() as u64, big.raw_size);
    let t1 = std::time::Instant::now();
    let total = a.verify().unwrap();
    let full = t1.elapsed().as_secs_f64();
    println!(
        "archive {} ({size} bytes, {} tensors): tensor '{}' raw {} compressed {}; \
         positioned reads {read} bytes ({:.3}x compressed); /proc rchar/read_bytes delta {:?}; \
         extract {:.4}s vs full decode of {total} bytes {:.3}s ({:.2}%)",
        archive.display(),
        ts.len(),
        big.name,
        big.raw_size,
        big.compressed_size,
        read as f64 / big.compressed_size as f64,
        before.zip(after).map(|(b, a)| (a.0 - b.0, a.1 - b.1)),
        one,
        full,
        100.0 * one / full
    );
    assert!(read < 2 * big.compressed_size);
    if std::env::var_os("Z4AI_EXTRACT_ARCHIVE").is_none() {
        let _ = std::fs::remove_file(&archive);
    }
}

/// Tensors by number reach every file of a folder archive, also a name two
/// shards share (`tensor_into` by name finds only the first); an archive
/// read through a `ReadAt` source gives the same bytes.
#[test]
fn tensors_by_number_and_from_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("model");
    std::fs::create_dir_all(&src).unwrap();
    let a_bytes = common::weights(DType::F32, 300, 5);
    let b_bytes = common::weights(DType::F32, 300, 6);
    for (file, data) in [("a.safetensors", &a_bytes), ("b.safetensors", &b_bytes)] {
        let st = safetensors(&[t("w", "F32", &[300], data.clone())], None, 0, 0, 0);
        std::fs::write(src.join(file), st).unwrap();
    }
    let mut z4 = Vec::new();
    compress_path(&src, &mut z4, &opts()).unwrap();
    let a = Archive::from_source(Box::new(z4.clone())).unwrap();
    let list = a.tensors();
    assert_eq!(list.len(), 2);
    let mut buf = vec![0u8; 1200];
    for (i, want) in [&a_bytes, &b_bytes].into_iter().enumerate() {
        assert_eq!(a.tensor_into_at(i, &mut buf).unwrap(), 1200);
        assert_eq!(&buf, want, "tensor {i} of {}", list[i].file);
    }
    assert_eq!(a.tensor("w").unwrap(), a_bytes);
    assert!(a.tensor_into_at(2, &mut buf).is_err());
    assert!(matches!(
        a.tensor_into_at(0, &mut buf[..1199]),
        Err(z4ai::Error::BufferTooSmall { .. })
    ));
}

#[test]
fn an_index_claiming_other_piece_sizes_is_rejected_before_any_buffer_is_sized() {
    // Streamed pieces (larger than a batch), batched ones and a tied one.
    let big = common::weights(DType::F32, 30_000, 5);
    let ts = vec![
        t("a", "F32", &[30_000], big.clone()),
        t("b", "BF16", &[1000], common::weights(DType::BF16, 1000, 6)),
        t("c", "F32", &[30_000], big),
    ];
    let file = safetensors(&ts, None, 5, 10_000, 3);
    let o = ArchiveOptions {
        batch_bytes: 16 << 10,
        chunk_size: 16 << 10,
        ..opts()
    };
    let z4 = compress_bytes(&file, "m.safetensors", &o).unwrap();
    let index = Archive::from_bytes(z4.clone()).unwrap().index().clone();
    let pieces = index.files[0].pieces.len();
    let mut restored_from = 0;
    for (pi, p) in index.files[0].pieces.iter().enumerate() {
        let len = p.len;
        // 2^50 bytes cannot be allocated here: sizing a buffer from the
        // claim would abort the test.
        for claim in [1u64 << 50, len + 1, len.saturating_sub(1)] {
            if claim == len {
                continue;
            }
            let bad = common::with_index(&z4, |ix| common::claim_piece_len(ix, 0, pi, claim));
            // A tied frame's other piece now disagrees: rejected on opening.
            if Archive::from_bytes(bad.clone()).is_err() {
                continue;
            }
            restored_from += 1;
            for batch in [16 << 10, 1 << 20] {
                let a = Archive::from_bytes(bad.clone())
                    .unwrap()
                    .with_batch_bytes(batch);
                let mut out = Vec::new();
                assert!(
                    a.write_file(0, &mut out).is_err(),
                    "piece {pi} claims {claim}"
                );
                assert!(a.verify().is_err(), "piece {pi} claims {claim}");
                if let Some(t) = &a.index().files[0].pieces[pi].tensor {
                    assert!(a.tensor(&t.name).is_err(), "{} claims {claim}", t.name);
                }
            }
        }
    }
    assert!(
        restored_from >= 2 * pieces,
        "{restored_from} lies reached a restore"
    );
}
