//! The main job end to end: write a weights file, compress it to `.z4` at
//! every effort, decompress it back, verify it byte for byte, and print the
//! ratio and speed.
//!
//! `cargo run --release --example demo [FILE --dtype DT]` — without a file,
//! 64 MiB of N(0, 0.02) bf16 weights (with a repeated tensor) are generated.

use std::time::Instant;

use z4ai::{DType, Effort, Isa, Options};

fn synthetic(bytes: usize) -> Vec<u8> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = bytes / 2;
    let mut out = Vec::with_capacity(bytes);
    for _ in 0..n {
        let g = ((0..6).map(|_| uniform()).sum::<f64>() - 3.0) * 0.02 * std::f64::consts::SQRT_2;
        let u = (g as f32).to_bits();
        out.extend_from_slice(&(((u + 0x7FFF + ((u >> 16) & 1)) >> 16) as u16).to_le_bytes());
    }
    // A tied embedding: the first 4 MiB again at the end.
    let tied = out[..4 << 20].to_vec();
    out.extend_from_slice(&tied);
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::env::temp_dir().join(format!("z4ai-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (path, dtype) = match args.as_slice() {
        [file, flag, dt] if flag == "--dtype" => {
            (std::path::PathBuf::from(file), dt.parse::<DType>()?)
        }
        [] => {
            let p = dir.join("weights-bf16.bin");
            std::fs::write(&p, synthetic(60 << 20))?;
            (p, DType::BF16)
        }
        _ => return Err("usage: demo [FILE --dtype DT]".into()),
    };
    let data = std::fs::read(&path)?;
    let mb = data.len() as f64 / 1e6;
    println!(
        "{}: {:.1} MB of {dtype}, kernels {}, {} threads",
        path.display(),
        mb,
        Isa::active(),
        rayon_threads()
    );
    println!(
        "{:<8} {:>8} {:>14} {:>16}  round trip",
        "effort", "ratio", "compress MB/s", "decompress MB/s"
    );
    for effort in Effort::ALL {
        let z4 = dir.join(format!("weights.{effort}.z4"));
        let t = Instant::now();
        let blob = z4ai::compress(&data, &Options::new(dtype).effort(effort))?;
        std::fs::write(&z4, &blob)?;
        let c = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = z4ai::decompress(&std::fs::read(&z4)?)?;
        let d = t.elapsed().as_secs_f64();
        let ok = back == data;
        println!(
            "{:<8} {:>8.4} {:>14.0} {:>16.0}  {}",
            effort.name(),
            data.len() as f64 / blob.len() as f64,
            mb / c,
            mb / d,
            if ok { "exact" } else { "MISMATCH" }
        );
        if !ok {
            return Err("round trip mismatch".into());
        }
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
