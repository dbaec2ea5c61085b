//! End-to-end codec benches: compress and decompress per dtype x effort at
//! 1 thread and all threads, with zstd-3 on the same bytes in the same group.
//!
//! `cargo bench --bench codec` (set `Z4AI_BENCH_MIB` to change the input
//! size, default 32). Inputs are synthetic N(0, 0.02) weights.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use z4ai::{DType, DecodeOptions, Effort, Options};

fn weights(dtype: DType, bytes: usize) -> Vec<u8> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = bytes / dtype.width();
    let mut out = Vec::with_capacity(bytes);
    for _ in 0..n {
        let g = ((0..6).map(|_| next()).sum::<f64>() - 3.0) * 0.02 * std::f64::consts::SQRT_2;
        match dtype {
            DType::BF16 => {
                out.extend_from_slice(&(((g as f32).to_bits() + 0x8000) >> 16).to_le_bytes()[..2])
            }
            DType::F32 => out.extend_from_slice(&(g as f32).to_le_bytes()),
            _ => out.extend_from_slice(&half_bits(g as f32).to_le_bytes()),
        }
    }
    out
}

fn half_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let e = ((b >> 23) & 0xFF) as i32 - 112;
    if e <= 0 {
        sign
    } else {
        sign | ((e as u16) << 10) | ((b >> 13) & 0x3FF) as u16
    }
}

fn codec(c: &mut Criterion) {
    let mib: usize = std::env::var("Z4AI_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let all = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut threads = vec![1];
    if all > 1 {
        threads.push(all);
    }
    for dtype in [DType::BF16, DType::F16, DType::F32] {
        let data = weights(dtype, mib << 20);
        let mut g = c.benchmark_group(format!("codec/{dtype}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(3));
        for &t in &threads {
            for effort in [Effort::Fast, Effort::Default] {
                let opts = Options::new(dtype).effort(effort).threads(t);
                let blob = z4ai::compress(&data, &opts).unwrap();
                let id = format!("{effort}/T{t}");
                g.bench_function(BenchmarkId::new("z4ai-compress", &id), |b| {
                    b.iter(|| z4ai::compress(&data, &opts).unwrap())
                });
                let mut out = vec![0u8; data.len()];
                let dopts = DecodeOptions {
                    threads: t,
                    isa: None,
                };
                g.bench_function(BenchmarkId::new("z4ai-decompress", &id), |b| {
                    b.iter(|| z4ai::decompress_into_with(&blob, &mut out, &dopts).unwrap())
                });
            }
        }
        let z = zstd::bulk::compress(&data, 3).unwrap();
        g.bench_function("zstd3-compress/T1", |b| {
            b.iter(|| zstd::bulk::compress(&data, 3).unwrap())
        });
        g.bench_function("zstd3-decompress/T1", |b| {
            b.iter(|| zstd::bulk::decompress(&z, data.len()).unwrap())
        });
        g.bench_function("memcpy", |b| b.iter(|| data.clone()));
        g.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
