//! Model deltas: safetensors archives coded against a reference (the
//! original file or its archive), typed errors for a missing, wrong or
//! corrupted reference or archive, checkpoint chains, and the CLI.

mod common;

use std::path::Path;

use z4ai::archive::{
    compress_bytes, compress_bytes_delta, Archive, ArchiveOptions, Chain, Coding, Reference,
    StepKind,
};
use z4ai::{frame_info, DType, Error, DEFAULT_CHUNK_SIZE, DEFAULT_DELTA_CHUNK_SIZE};

/// A safetensors file from `(name, dtype, shape, bytes)`, tensors in order.
fn st(ts: &[(&str, &str, Vec<u64>, Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![r#""__metadata__":{"format":"pt"}"#.to_string()];
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in ts {
        let b = data.len();
        data.extend_from_slice(bytes);
        let s: Vec<String> = shape.iter().map(u64::to_string).collect();
        entries.push(format!(
            r#""{name}":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{b},{}]}}"#,
            s.join(","),
            data.len()
        ));
    }
    let mut json = format!("{{{}}}", entries.join(",")).into_bytes();
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    out
}

/// `bytes` (bf16 or fp32) with every `every`-th element nudged by one ULP.
fn nudge(bytes: &[u8], width: usize, every: usize, seed: u64) -> Vec<u8> {
    let mut r = common::Rng(seed | 1);
    let mut out = bytes.to_vec();
    for e in out.chunks_exact_mut(width) {
        if (r.next() as usize).is_multiple_of(every) {
            e[0] ^= 1 + (r.next() % 3) as u8;
        }
    }
    out
}

fn bf16(n: usize, seed: u64) -> Vec<u8> {
    common::weights(DType::BF16, n, seed)
}

/// An old and a new checkpoint: `moved` changes a little, `same` is
/// unchanged, `gone` is deleted, `reshaped` keeps its bytes but not its
/// shape, `retyped` keeps its size but changes dtype, `added` is new.
fn pair() -> (Vec<u8>, Vec<u8>) {
    let moved = bf16(40_000, 1);
    let same = common::weights(DType::F32, 20_000, 2);
    let gone = bf16(5_000, 3);
    let reshaped = bf16(6_000, 4);
    let retyped = common::weights(DType::F32, 3_000, 5);
    let old = st(&[
        ("moved", "BF16", vec![200, 200], moved.clone()),
        ("same", "F32", vec![20_000], same.clone()),
        ("gone", "BF16", vec![5_000], gone),
        ("reshaped", "BF16", vec![60, 100], reshaped.clone()),
        ("retyped", "F32", vec![3_000], retyped.clone()),
        ("empty", "F32", vec![0], Vec::new()),
    ]);
    let new = st(&[
        ("added", "BF16", vec![1_000], bf16(1_000, 6)),
        ("moved", "BF16", vec![200, 200], nudge(&moved, 2, 20, 7)),
        ("same", "F32", vec![20_000], same),
        (
            "reshaped",
            "BF16",
            vec![100, 60],
            nudge(&reshaped, 2, 30, 8),
        ),
        ("retyped", "I32", vec![3_000], retyped),
        ("empty", "F32", vec![0], Vec::new()),
    ]);
    (old, new)
}

fn opts() -> ArchiveOptions {
    ArchiveOptions::default()
}

fn restore(a: &Archive) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    a.write_file(0, &mut out)?;
    Ok(out)
}

fn coding(a: &Archive, name: &str) -> Coding {
    a.tensor_info(name).unwrap().coding
}

#[test]
fn delta_tensors_take_the_delta_chunk_size() {
    let big = bf16(1_200_000, 21);
    let old = st(&[("w", "BF16", vec![1_200, 1_000], big.clone())]);
    let added = bf16(300_000, 22);
    let new = st(&[
        ("w", "BF16", vec![1_200, 1_000], nudge(&big, 2, 10, 23)),
        ("added", "BF16", vec![300_000], added),
    ]);
    let r = Reference::from_bytes(old.clone()).unwrap();
    let chunks = |o: &ArchiveOptions, name: &str| {
        let z4 = compress_bytes_delta(&new, "new.safetensors", &r, o).unwrap();
        let a = Archive::from_bytes(z4).unwrap();
        let frames = a.tensor_frames(name).unwrap();
        let info = frame_info(&frames[0]).unwrap();
        let a = a
            .with_reference(Reference::from_bytes(old.clone()).unwrap())
            .unwrap();
        assert_eq!(restore(&a).unwrap(), new);
        (info.chunk_size as usize, info.chunks.len())
    };
    assert_eq!(chunks(&opts(), "w"), (DEFAULT_DELTA_CHUNK_SIZE, 2));
    assert_eq!(chunks(&opts(), "added").0, DEFAULT_CHUNK_SIZE);
    let small = ArchiveOptions {
        delta_chunk_size: 1 << 20,
        ..opts()
    };
    assert_eq!(chunks(&small, "w"), (1 << 20, 3));
    // The builder's chunk size is every frame's.
    let every = opts().chunk_size(1 << 20);
    assert_eq!(chunks(&every, "w"), (1 << 20, 3));
    assert_eq!(chunks(&every, "added").0, 1 << 20);
}

#[test]
fn changed_unchanged_new_deleted_reshaped_round_trip() {
    let (old, new) = pair();
    let r = Reference::from_bytes(old.clone()).unwrap();
    let z4 = compress_bytes_delta(&new, "new.safetensors", &r, &opts()).unwrap();
    assert_eq!(&z4[..5], b"Z4AR\x02", "a delta archive is version 2");
    let a = Archive::from_bytes(z4.clone()).unwrap();
    assert_eq!(a.version(), 2);
    assert_eq!(a.needs_reference().unwrap().size, old.len() as u64);
    assert_eq!(coding(&a, "moved"), Coding::Delta);
    assert_eq!(coding(&a, "same"), Coding::SameAsReference);
    assert_eq!(coding(&a, "added"), Coding::Standalone);
    assert_eq!(coding(&a, "reshaped"), Coding::Standalone);
    assert_eq!(coding(&a, "retyped"), Coding::Standalone);
    assert_eq!(a.tensor_info("same").unwrap().compressed_size, 0);
    // Standalone pieces decode without the reference.
    let added = a.tensor("added").unwrap();
    let a = a
        .with_reference(Reference::from_bytes(old.clone()).unwrap())
        .unwrap();
    assert_eq!(restore(&a).unwrap(), new);
    assert_eq!(a.tensor("added").unwrap(), added);
    a.verify().unwrap();
    // The delta is much smaller than the standalone archive.
    let plain = compress_bytes(&new, "new.safetensors", &opts()).unwrap();
    assert_eq!(&plain[..5], b"Z4AR\x01", "no reference: version 1");
    assert!(
        z4.len() * 2 < plain.len(),
        "delta {} vs plain {}",
        z4.len(),
        plain.len()
    );
    // The same with the reference given as its own archive, in both roles.
    let old_z4 = compress_bytes(&old, "old.safetensors", &opts()).unwrap();
    let ra = Reference::from_archive(Archive::from_bytes(old_z4.clone()).unwrap()).unwrap();
    let z4b = compress_bytes_delta(&new, "new.safetensors", &ra, &opts()).unwrap();
    assert!(
        z4b == z4,
        "file and archive references give the same archive"
    );
    let ra = Reference::from_archive(Archive::from_bytes(old_z4).unwrap()).unwrap();
    let b = Archive::from_bytes(z4b)
        .unwrap()
        .with_reference(ra)
        .unwrap();
    assert_eq!(restore(&b).unwrap(), new);
    let plain = Archive::from_bytes(plain).unwrap();
    assert_eq!(b.tensor("same").unwrap(), plain.tensor("same").unwrap());
    assert_eq!(b.tensor("moved").unwrap(), plain.tensor("moved").unwrap());
}

#[test]
fn an_unchanged_checkpoint_costs_a_few_bytes_per_tensor() {
    let (old, _) = pair();
    let r = Reference::from_bytes(old.clone()).unwrap();
    let z4 = compress_bytes_delta(&old, "old.safetensors", &r, &opts()).unwrap();
    let a = Archive::from_bytes(z4.clone()).unwrap();
    let header = a.files()[0].compressed_size;
    // Index entry per tensor (~90 bytes with its name and shape) plus the
    // header frame; no tensor frames at all.
    assert!(
        (z4.len() as u64) < header + 6 * 120 + 200,
        "{} bytes, header frame {header}",
        z4.len()
    );
    let a = a.with_reference(r).unwrap();
    assert_eq!(restore(&a).unwrap(), old);
}

#[test]
fn missing_and_wrong_references_are_typed_errors() {
    let (old, new) = pair();
    let r = Reference::from_bytes(old.clone()).unwrap();
    let z4 = compress_bytes_delta(&new, "new.safetensors", &r, &opts()).unwrap();
    // Missing: a clear error, nothing decoded.
    let a = Archive::from_bytes(z4.clone()).unwrap();
    let e = restore(&a).unwrap_err();
    assert!(e.to_string().contains("needs its reference"), "{e}");
    assert!(
        matches!(
            e,
            Error::ReferenceRequired {
                what: "archive",
                ..
            }
        ),
        "{e}"
    );
    let e = a.tensor("moved").unwrap_err();
    assert!(e.to_string().contains("needs its reference"), "{e}");
    // Not wrapped as a damaged tensor: its own error and C code.
    assert!(matches!(e, Error::ReferenceRequired { .. }), "{e:?}");
    assert_eq!(e.code(), -17);
    // Wrong file (same size, one byte of `moved` differs): refused when
    // attached.
    let mut other = old.clone();
    let n = other.len();
    let data_start = 8 + u64::from_le_bytes(old[..8].try_into().unwrap()) as usize;
    other[data_start + 10] ^= 1;
    let e = Archive::from_bytes(z4.clone())
        .unwrap()
        .with_reference(Reference::from_bytes(other.clone()).unwrap())
        .err()
        .unwrap();
    assert!(matches!(e, Error::ReferenceMismatch), "{e}");
    // Wrong size.
    let e = Archive::from_bytes(z4.clone())
        .unwrap()
        .with_reference(Reference::from_bytes(old[..n - 8].to_vec()).unwrap())
        .err()
        .unwrap();
    assert!(matches!(e, Error::ReferenceMismatch), "{e}");
    // A wrong reference archive of the right size is attached (its hash is
    // not known without a full decode) but every piece that uses it fails.
    let wrong = compress_bytes(&other, "old.safetensors", &opts()).unwrap();
    let ra = Reference::from_archive(Archive::from_bytes(wrong).unwrap()).unwrap();
    let a = Archive::from_bytes(z4).unwrap().with_reference(ra).unwrap();
    let e = a.tensor("moved").unwrap_err();
    assert!(
        matches!(&e, Error::Tensor { source, .. } if matches!(**source, Error::ReferenceMismatch)),
        "{e}"
    );
    assert!(restore(&a).is_err());
}

/// A reference file is checked whole when attached and each slice again
/// when a piece uses it, so a file changed in between fails with
/// `ReferenceMismatch`; a reference in memory (which cannot change once
/// checked) restores without the per-slice checks.
#[test]
fn a_reference_file_changed_after_attaching_is_caught_per_piece() {
    let (old, new) = pair();
    let z4 = compress_bytes_delta(
        &new,
        "new.safetensors",
        &Reference::from_bytes(old.clone()).unwrap(),
        &opts(),
    )
    .unwrap();
    let a = Archive::from_bytes(z4.clone())
        .unwrap()
        .with_reference(Reference::from_bytes(old.clone()).unwrap())
        .unwrap();
    assert!(restore(&a).unwrap() == new);
    let dir = tempdir("changed-ref");
    let path = dir.join("old.safetensors");
    std::fs::write(&path, &old).unwrap();
    let a = Archive::from_bytes(z4)
        .unwrap()
        .with_reference(Reference::open(&path).unwrap())
        .unwrap();
    assert!(restore(&a).unwrap() == new);
    // One byte of the tensor `moved` changes on disk, the size does not.
    let data_start = 8 + u64::from_le_bytes(old[..8].try_into().unwrap()) as usize;
    let mut changed = old.clone();
    changed[data_start + 10] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let e = a.tensor("moved").unwrap_err();
    assert!(
        matches!(&e, Error::Tensor { source, .. } if matches!(**source, Error::ReferenceMismatch)),
        "{e}"
    );
    assert!(restore(&a).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupted_delta_archives_fail_and_never_decode_to_garbage() {
    let (old, new) = pair();
    let r = Reference::from_bytes(old.clone()).unwrap();
    let z4 = compress_bytes_delta(&new, "new.safetensors", &r, &opts()).unwrap();
    let step = (z4.len() / 397).max(1);
    let mut failures = 0;
    for pos in (0..z4.len()).step_by(step).chain(z4.len() - 40..z4.len()) {
        let mut bad = z4.clone();
        bad[pos] ^= 0x5A;
        let got = Archive::from_bytes(bad).and_then(|a| {
            let a = a.with_reference(Reference::from_bytes(old.clone())?)?;
            restore(&a)
        });
        match got {
            Ok(v) => assert_eq!(v, new, "flip at {pos} decoded to other bytes"),
            Err(_) => failures += 1,
        }
    }
    assert!(failures > 300, "{failures} flips detected");
    // Truncations.
    for n in [0, 7, 8, 40, z4.len() / 2, z4.len() - 33, z4.len() - 1] {
        assert!(Archive::from_bytes(z4[..n].to_vec()).is_err(), "prefix {n}");
    }
    // A version this build does not know.
    let mut v3 = z4.clone();
    let n = v3.len();
    v3[4] = 3;
    v3[n - 8] = 3;
    let e = Archive::from_bytes(v3).err().unwrap().to_string();
    assert!(e.contains("unsupported archive version 3"), "{e}");
}

#[test]
fn delta_archives_are_deterministic_and_batch_independent() {
    let (old, new) = pair();
    let r = Reference::from_bytes(old.clone()).unwrap();
    let a = compress_bytes_delta(&new, "n.safetensors", &r, &opts()).unwrap();
    let one = ArchiveOptions {
        threads: 1,
        batch_bytes: 10_000,
        ..opts()
    };
    let b = compress_bytes_delta(&new, "n.safetensors", &r, &one).unwrap();
    let c = Archive::from_bytes(b.clone())
        .unwrap()
        .with_reference(Reference::from_bytes(old.clone()).unwrap())
        .unwrap()
        .with_batch_bytes(5_000);
    assert_eq!(restore(&c).unwrap(), new);
    // Pieces larger than a batch are streamed (no content size in the
    // frame header), so compare at the same batch size.
    let many = ArchiveOptions {
        batch_bytes: 10_000,
        ..opts()
    };
    let r = Reference::from_bytes(old.clone()).unwrap();
    let m = compress_bytes_delta(&new, "n.safetensors", &r, &many).unwrap();
    assert!(m == b, "one thread and many write the same archive");
    let a1 = compress_bytes_delta(
        &new,
        "n.safetensors",
        &r,
        &ArchiveOptions {
            threads: 1,
            ..opts()
        },
    )
    .unwrap();
    assert!(a == a1, "one thread and many write the same archive");
}

fn checkpoints(n: usize) -> Vec<Vec<u8>> {
    let mut w1 = bf16(30_000, 11);
    let mut w2 = common::weights(DType::F32, 8_000, 12);
    let frozen = bf16(4_000, 13);
    (0..n)
        .map(|k| {
            if k > 0 {
                w1 = nudge(&w1, 2, 10, 100 + k as u64);
                w2 = nudge(&w2, 4, 3, 200 + k as u64);
            }
            let mut ts = vec![
                ("w1", "BF16", vec![300, 100], w1.clone()),
                ("frozen", "BF16", vec![4_000], frozen.clone()),
                ("w2", "F32", vec![8_000], w2.clone()),
            ];
            if k == 3 {
                ts.push(("late", "F32", vec![10], vec![7; 40]));
            }
            st(&ts)
        })
        .collect()
}

#[test]
fn chain_restores_every_step_bit_exact() {
    let dir = tempdir("chain");
    let cks = checkpoints(6);
    let chain_dir = dir.join("chain");
    let mut chain = Chain::open_or_create(&chain_dir, Some(2)).unwrap();
    for (k, c) in cks.iter().enumerate() {
        let p = dir.join(format!("ck{k}.safetensors"));
        std::fs::write(&p, c).unwrap();
        let (step, _) = chain.add(&p, &opts()).unwrap();
        let want = if k % 2 == 0 {
            StepKind::Key
        } else {
            StepKind::Delta
        };
        assert_eq!(step.kind, want);
        if want == StepKind::Delta {
            assert!(step.stored * 3 < step.size, "step {k}: {step:?}");
        }
    }
    let chain = Chain::open(&chain_dir).unwrap();
    assert_eq!(chain.steps().len(), 6);
    for (k, c) in cks.iter().enumerate() {
        let mut out = Vec::new();
        assert_eq!(chain.restore(k, &mut out).unwrap(), c.len() as u64);
        assert_eq!(&out, c, "step {k}");
        let a = chain.open_step(k).unwrap();
        if k % 2 == 1 {
            assert_eq!(coding(&a, "frozen"), Coding::SameAsReference);
        }
    }
    assert!(chain.restore(6, Vec::new()).is_err());
    // Another keyframe interval for an existing chain is refused.
    assert!(Chain::open_or_create(&chain_dir, Some(3)).is_err());
    // A damaged step archive: an error, never other bytes.
    let p3 = chain_dir.join("step-000003.z4");
    let good = std::fs::read(&p3).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x40;
    std::fs::write(&p3, &bad).unwrap();
    assert!(chain.restore(3, Vec::new()).is_err());
    // A delta step swapped for another step's archive: refused.
    std::fs::copy(chain_dir.join("step-000001.z4"), &p3).unwrap();
    assert!(chain.restore(3, Vec::new()).is_err());
    std::fs::write(&p3, &good).unwrap();
    // Manifests that lie are refused.
    let m = chain_dir.join("chain.json");
    let text = std::fs::read_to_string(&m).unwrap();
    for (from, to) in [
        ("step-000002.z4", "../x.z4"),
        ("\"key\"", "\"delta\""),
        ("\"keyframe_interval\": 2", "\"keyframe_interval\": 0"),
        ("z4ai-chain", "other"),
    ] {
        std::fs::write(&m, text.replacen(from, to, 1)).unwrap();
        assert!(Chain::open(&chain_dir).is_err(), "{from} -> {to}");
    }
    // Wrong hash in the manifest: the restored step does not match it.
    let h = &chain.steps()[4].hash;
    let hs = format!("{h:032x}");
    let flipped = format!("{:032x}", h ^ 1);
    std::fs::write(&m, text.replacen(&hs, &flipped, 1)).unwrap();
    let c = Chain::open(&chain_dir).unwrap();
    assert!(c.restore(4, Vec::new()).is_err());
    std::fs::write(&m, &text).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("z4ai-delta-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cli(args: &[&str], dir: &Path) -> std::process::Output {
    common::run_cli(args, dir)
}

#[test]
fn cli_delta_round_trips_and_refuses_without_the_reference() {
    let d = tempdir("cli");
    let (old, new) = pair();
    std::fs::write(d.join("old.safetensors"), &old).unwrap();
    std::fs::write(d.join("new.safetensors"), &new).unwrap();
    common::ok(&cli(
        &[
            "compress",
            "--reference",
            "old.safetensors",
            "new.safetensors",
        ],
        &d,
    ));
    let info = common::ok(&cli(&["info", "new.safetensors.z4"], &d));
    assert!(info.contains("version 2"), "{info}");
    assert!(info.contains("(same as reference)"), "{info}");
    let ls = common::ok(&cli(&["ls", "new.safetensors.z4"], &d));
    assert!(ls.contains("(delta)"), "{ls}");
    // Without the reference: an error, and no output file.
    let o = cli(
        &["decompress", "new.safetensors.z4", "-o", "x.safetensors"],
        &d,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs its reference"));
    assert!(!d.join("x.safetensors").exists());
    // The wrong reference: an error, no output.
    let o = cli(
        &[
            "decompress",
            "--reference",
            "new.safetensors",
            "new.safetensors.z4",
            "-o",
            "x.safetensors",
        ],
        &d,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("reference does not match"));
    assert!(!d.join("x.safetensors").exists());
    // With the original file, and with its archive, as the reference.
    common::ok(&cli(
        &[
            "decompress",
            "--reference",
            "old.safetensors",
            "new.safetensors.z4",
            "-o",
            "a.safetensors",
        ],
        &d,
    ));
    assert_eq!(std::fs::read(d.join("a.safetensors")).unwrap(), new);
    common::ok(&cli(&["compress", "old.safetensors"], &d));
    common::ok(&cli(
        &[
            "decompress",
            "--reference",
            "old.safetensors.z4",
            "new.safetensors.z4",
            "-o",
            "b.safetensors",
        ],
        &d,
    ));
    assert_eq!(std::fs::read(d.join("b.safetensors")).unwrap(), new);
    common::ok(&cli(
        &[
            "compress",
            "--reference",
            "old.safetensors.z4",
            "new.safetensors",
            "-o",
            "c.z4",
        ],
        &d,
    ));
    assert_eq!(
        std::fs::read(d.join("c.z4")).unwrap(),
        std::fs::read(d.join("new.safetensors.z4")).unwrap()
    );
    common::ok(&cli(
        &[
            "verify",
            "--reference",
            "old.safetensors",
            "new.safetensors.z4",
        ],
        &d,
    ));
    common::ok(&cli(
        &[
            "extract",
            "--reference",
            "old.safetensors",
            "new.safetensors.z4",
            "--tensor",
            "moved",
            "-o",
            "moved.bin",
        ],
        &d,
    ));
    assert_eq!(std::fs::read(d.join("moved.bin")).unwrap().len(), 80_000);
    // `bench --reference` on a model file times the delta archive that
    // `compress --reference` writes (smaller than the standalone one).
    let bench = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "bench",
            "new.safetensors",
            "-e",
            "default",
            "--repeat",
            "1",
            "-T",
            "1",
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&common::ok(&cli(&args, &d))).unwrap()
    };
    let delta = bench(&["--reference", "old.safetensors"]);
    let alone = bench(&[]);
    assert_eq!(delta["mode"], "delta-archive", "{delta}");
    assert_eq!(alone["mode"], "archive", "{alone}");
    let r = &delta["results"][0];
    assert_eq!(r["verified"], true, "{delta}");
    let stored = std::fs::metadata(d.join("new.safetensors.z4"))
        .unwrap()
        .len();
    assert_eq!(r["compressed_bytes"].as_u64(), Some(stored), "{delta}");
    assert!(stored < alone["results"][0]["compressed_bytes"].as_u64().unwrap());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cli_chain_add_restore_info() {
    let d = tempdir("clichain");
    let cks = checkpoints(5);
    for (k, c) in cks.iter().enumerate() {
        let name = format!("ck{k}.safetensors");
        std::fs::write(d.join(&name), c).unwrap();
        common::ok(&cli(
            &["chain", "add", "ch", &name, "--keyframe-interval", "2"],
            &d,
        ));
    }
    let info = common::ok(&cli(&["info", "ch"], &d));
    assert!(info.contains("steps:    5, keyframe every 2"), "{info}");
    assert_eq!(info.matches("\tdelta\t").count(), 2, "{info}");
    let json = common::ok(&cli(&["info", "--json", "ch"], &d));
    assert!(json.contains("\"kind\":\"key\""), "{json}");
    for (k, c) in cks.iter().enumerate() {
        let out = format!("r{k}.safetensors");
        common::ok(&cli(
            &[
                "chain",
                "restore",
                "ch",
                "--step",
                &k.to_string(),
                "-o",
                &out,
            ],
            &d,
        ));
        assert_eq!(&std::fs::read(d.join(&out)).unwrap(), c, "step {k}");
    }
    let o = cli(&["chain", "restore", "ch", "--step", "9", "-o", "x"], &d);
    assert!(!o.status.success());
    assert!(!d.join("x").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_delta_index_claiming_other_piece_sizes_fails_before_sizing_a_buffer() {
    let (old, new) = pair();
    let r = Reference::from_bytes(old.clone()).unwrap();
    let z4 = compress_bytes_delta(&new, "new.safetensors", &r, &opts()).unwrap();
    let index = Archive::from_bytes(z4.clone()).unwrap().index().clone();
    let mut restored_from = 0;
    for (pi, p) in index.files[0].pieces.iter().enumerate() {
        // 2^50 bytes cannot be allocated here: sizing a buffer from the
        // claim would abort the test.
        for claim in [1u64 << 50, p.len + 1, p.len.saturating_sub(1)] {
            if claim == p.len {
                continue;
            }
            let bad = common::with_index(&z4, |ix| common::claim_piece_len(ix, 0, pi, claim));
            for batch in [5_000, 1 << 20] {
                let got = Archive::from_bytes(bad.clone()).and_then(|a| {
                    let a = a.with_reference(Reference::from_bytes(old.clone())?)?;
                    restored_from += 1;
                    restore(&a.with_batch_bytes(batch))
                });
                assert!(got.is_err(), "piece {pi} claims {claim}, batch {batch}");
            }
        }
    }
    assert!(
        restored_from >= 20,
        "{restored_from} lies reached a restore"
    );
}
