//! The CLI as a user runs it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use z4ai::DType;

#[test]
fn compress_decompress_info_verify_bench() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = common::weights(DType::BF16, 200_000, 3);
    std::fs::write(d.join("w.bin"), &data).unwrap();

    common::ok(&common::run_cli(
        &["compress", "--dtype", "bf16", "w.bin"],
        d,
    ));
    assert!(d.join("w.bin.z4").exists());
    assert_eq!(
        std::fs::read(d.join("w.bin")).unwrap(),
        data,
        "input must not change"
    );

    // Never clobbers without -f; one clear message and non-zero exit.
    let o = common::run_cli(&["compress", "--dtype", "bf16", "w.bin"], d);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    common::ok(&common::run_cli(
        &["compress", "--dtype", "bf16", "-e", "fast", "-f", "w.bin"],
        d,
    ));

    std::fs::rename(d.join("w.bin"), d.join("orig.bin")).unwrap();
    common::ok(&common::run_cli(&["decompress", "w.bin.z4"], d));
    assert_eq!(std::fs::read(d.join("w.bin")).unwrap(), data);
    assert!(
        !common::run_cli(&["decompress", "w.bin.z4"], d)
            .status
            .success(),
        "refuses to overwrite"
    );

    let info = common::ok(&common::run_cli(&["info", "w.bin.z4", "--json"], d));
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(v["dtype"], "bf16");
    assert_eq!(v["content_size"], data.len() as u64);
    assert!(v["planes"].as_array().unwrap().len() == 2);
    let text = common::ok(&common::run_cli(&["info", "w.bin.z4"], d));
    assert!(
        text.contains("ratio") && text.contains("plane 0:"),
        "{text}"
    );
    // A frame coded entirely by a transform has no plane lines.
    let pal: Vec<u8> = (0..12_000u32)
        .flat_map(|i| (f32::from(u16::try_from(i % 7).unwrap()) * 0.25).to_le_bytes())
        .collect();
    std::fs::write(d.join("pal.bin"), &pal).unwrap();
    common::ok(&common::run_cli(
        &["compress", "--dtype", "fp32", "pal.bin"],
        d,
    ));
    let text = common::ok(&common::run_cli(&["info", "pal.bin.z4"], d));
    assert!(
        text.contains("planes:      none") && !text.contains("plane 0:"),
        "{text}"
    );
    assert!(common::ok(&common::run_cli(&["verify", "w.bin.z4"], d)).contains("OK"));

    let bench = common::ok(&common::run_cli(
        &[
            "bench", "orig.bin", "--dtype", "bf16", "--repeat", "1", "-T", "1", "--json",
        ],
        d,
    ));
    let v: serde_json::Value = serde_json::from_str(&bench).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["verified"] == true));
    assert!(v["results"][1]["ratio"].as_f64().unwrap() > 1.4);
    // Compression timed both into a kept buffer and into a new `Vec`.
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["compress_mb_s"].as_f64().unwrap() > 0.0
            && r["compress_new_vec_mb_s"].as_f64().unwrap() > 0.0));
    // No temp files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn stdin_stdout_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = common::weights(DType::F32, 10_000, 4);
    let mut child = Command::new(env!("CARGO_BIN_EXE_z4ai"))
        .args(["compress", "--dtype", "fp32", "-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = data.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&feed).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    std::fs::write(d.join("x.z4"), &out.stdout).unwrap();
    let back = common::run_cli(&["decompress", "x.z4", "-o", "-"], d);
    assert!(back.status.success());
    assert_eq!(back.stdout, data);

    // Errors: one clear message, non-zero exit, nothing written.
    std::fs::write(d.join("junk.z4"), b"definitely not a frame").unwrap();
    let o = common::run_cli(&["decompress", "junk.z4"], d);
    assert!(!o.status.success());
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(msg.contains("z4ai:") && msg.contains("magic"), "{msg}");
    assert!(!d.join("junk").exists());
    let o = common::run_cli(&["decompress", "missing.z4"], d);
    assert!(!o.status.success());
    let o = common::run_cli(&["compress", "--dtype", "fp7", "x.z4"], d);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown dtype"));
    let o = common::run_cli(&["decompress", "noext"], d);
    assert!(!o.status.success());
}
