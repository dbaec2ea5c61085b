//! The Rust side of the C-API overhead measurement (`scripts/capi_bench.sh`).
//!
//! Generates `MiB` MiB of synthetic bf16 weights (N(0, 0.02)), compresses
//! them, writes the frame to `FRAME` (for `examples/c/bench_decompress.c`),
//! then times `decompress_into_with` into one reused buffer with `THREADS`
//! workers and prints the median of `RUNS` runs (after one warm-up).
//!
//! ```text
//! cargo run --release --example capi_bench -- FRAME THREADS RUNS [MiB]
//! ```

use std::time::Instant;

use z4ai::{compress, decompress_into_with, DType, DecodeOptions, Options};

/// xorshift64*, the same generator as the C bench and the tests.
fn next(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Approximately N(0, std): a sum of six uniforms.
fn gauss(s: &mut u64, std: f64) -> f64 {
    let sum: f64 = (0..6)
        .map(|_| (next(s) >> 11) as f64 / (1u64 << 53) as f64)
        .sum();
    (sum - 3.0) * std * std::f64::consts::SQRT_2
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: capi_bench FRAME THREADS RUNS [MiB]");
        std::process::exit(2);
    }
    let threads: usize = args[1].parse()?;
    let runs: usize = args[2].parse()?;
    let mib: usize = args.get(3).map_or(Ok(256), |s| s.parse())?;

    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..mib << 19)
        .flat_map(|_| (((gauss(&mut s, 0.02) as f32).to_bits() >> 16) as u16).to_le_bytes())
        .collect();
    let frame = compress(&data, &Options::new(DType::BF16))?;
    std::fs::write(&args[0], &frame)?;

    let opts = DecodeOptions { threads, isa: None };
    let mut out = vec![0u8; data.len()];
    decompress_into_with(&frame, &mut out, &opts)?; // warm-up, faults the pages in
    assert!(out == data, "round trip failed");
    let times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            decompress_into_with(&frame, &mut out, &opts).expect("decode");
            t.elapsed().as_secs_f64()
        })
        .collect();
    let t = median(times);
    println!(
        "rust decompress_into: {} MiB bf16, ratio {:.3}, threads {threads}, median of {runs}: {:.1} ms, {:.2} GB/s",
        mib,
        data.len() as f64 / frame.len() as f64,
        t * 1e3,
        data.len() as f64 / t / 1e9
    );
    Ok(())
}
