//! Kernel benchmarks: every kernel at every ISA level this CPU supports
//! (`Kernels::for_isa`), sizes across the cache levels, and a memcpy row as
//! the ceiling. Throughput is bytes of the unsplit buffer for planes and
//! symbols (one byte each) for histograms and rANS.
//!
//! Run: `cargo bench --bench kernels` (add a filter such as `rans/` or
//! `planes/split` to narrow it). Results are summarised in docs/KERNELS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use z4ai_simd::rans::{Ctx, PairStream, RansTables, SecondCtx};
use z4ai_simd::{Isa, Kernels};

const KIB: usize = 1024;
const PLANE_SIZES: [usize; 3] = [64 * KIB, 1024 * KIB, 32 * 1024 * KIB];
const CODER_SIZES: [usize; 2] = [64 * KIB, 1024 * KIB];

fn levels() -> Vec<Kernels> {
    Isa::supported_levels()
        .into_iter()
        .filter_map(Kernels::for_isa)
        .collect()
}

/// Deterministic approximately N(0, 0.02) fp32 weights, as bytes.
fn weights(bytes: usize) -> Vec<u8> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut v = Vec::with_capacity(bytes + 4);
    while v.len() < bytes {
        let mut g = 0.0f32;
        for _ in 0..4 {
            g += (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        v.extend_from_slice(&(g * 0.035).to_le_bytes());
    }
    v.truncate(bytes);
    v
}

/// The planes of bf16 weights: (exponent plane, mantissa plane).
fn bf16_planes(n: usize) -> (Vec<u8>, Vec<u8>) {
    let f = weights(4 * n);
    // bf16 = top half of each fp32.
    let bf: Vec<u8> = f.chunks_exact(4).flat_map(|c| [c[2], c[3]]).collect();
    let mut planes = vec![0u8; 2 * n];
    Kernels::scalar().split_planes(&bf, 2, true, &mut planes);
    let lo = planes.split_off(n);
    (planes, lo)
}

fn normalize(counts: &[u32], bits: u32) -> [u16; 256] {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum::<u64>().max(1);
    let m = 1u64 << bits;
    let mut f = [0u16; 256];
    let mut sum = 0u64;
    for s in 0..256 {
        if counts[s] > 0 {
            f[s] = (u64::from(counts[s]) * m / total).max(1) as u16;
            sum += u64::from(f[s]);
        }
    }
    if sum == 0 {
        f[0] = m as u16;
        return f;
    }
    while sum > m {
        let s = (0..256)
            .filter(|&s| f[s] > 1)
            .max_by_key(|&s| f[s])
            .unwrap();
        f[s] -= 1;
        sum -= 1;
    }
    let top = (0..256).max_by_key(|&s| f[s]).unwrap();
    f[top] += (m - sum) as u16;
    f
}

/// A context model with one table per context seen (plus table 0 for the rest).
fn ctx_model(data: &[u8], ctx: &[u8], bits: u32) -> RansTables {
    let mut counts = vec![0u32; 65536];
    for (&d, &c) in data.iter().zip(ctx) {
        counts[usize::from(c) << 8 | usize::from(d)] += 1;
    }
    let mut all = [0u32; 256];
    for &d in data {
        all[usize::from(d)] += 1;
    }
    let mut tables = vec![normalize(&all, bits)];
    let mut map = [0u8; 256];
    for c in 1..256 {
        let row = &counts[c * 256..c * 256 + 256];
        if row.iter().any(|&n| n > 0) && tables.len() < 64 {
            map[c] = tables.len() as u8;
            // Every symbol stays codable: add the global counts at low weight.
            let mixed: Vec<u32> = row
                .iter()
                .zip(&all)
                .map(|(&r, &a)| r * 64 + u32::from(a > 0))
                .collect();
            tables.push(normalize(&mixed, bits));
        }
    }
    RansTables::new(bits, map, tables).unwrap()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10)
}

fn bench_planes(c: &mut Criterion) {
    for &size in &PLANE_SIZES {
        let src = weights(size);
        let mut dst = vec![0u8; size];
        let mut g = c.benchmark_group(format!("memcpy/{}KiB", size / KIB));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("memcpy", |b| {
            b.iter(|| dst.copy_from_slice(black_box(&src)))
        });
        g.finish();
        for width in [2usize, 4, 8] {
            for (op, split) in [("split", true), ("merge", false)] {
                let mut g = c.benchmark_group(format!("planes/{op}/w{width}/{}KiB", size / KIB));
                g.throughput(Throughput::Bytes(size as u64));
                for k in levels() {
                    g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                        b.iter(|| {
                            if split {
                                k.split_planes(black_box(&src), width, true, &mut dst)
                            } else {
                                k.merge_planes(black_box(&src), width, true, &mut dst)
                            }
                        })
                    });
                }
                g.finish();
            }
        }
    }
}

/// Uniform random bytes (a plane with no structure: every context row used).
fn uniform(n: usize) -> Vec<u8> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn bench_hist(c: &mut Criterion) {
    for &size in &CODER_SIZES {
        let (hi, lo) = bf16_planes(size);
        let rand = uniform(size);
        let rand_ctx: Vec<u8> = uniform(size + 1).split_off(1);
        // A mostly-zero plane (a checkpoint-delta residual's top plane): 95%
        // zeros, the rest uniform.
        let zero95: Vec<u8> = uniform(size)
            .iter()
            .zip(uniform(size + 7).split_off(7))
            .map(|(&b, r)| if r < 13 { b } else { 0 })
            .collect();
        let mut g = c.benchmark_group(format!("hist/order0/{}KiB", size / KIB));
        g.throughput(Throughput::Bytes(size as u64));
        for k in levels() {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| {
                    let mut h = [0u32; 256];
                    k.hist_order0(black_box(&lo), &mut h);
                    h
                })
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("hist/order0-exp/{}KiB", size / KIB));
        g.throughput(Throughput::Bytes(size as u64));
        for k in levels() {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| {
                    let mut h = [0u32; 256];
                    k.hist_order0(black_box(&hi), &mut h);
                    h
                })
            });
        }
        g.finish();
        // Order-1 of the bf16 exponent plane (the engine's plane-0 model), of
        // a uniform random plane and of a mostly-zero plane.
        for (name, plane) in [
            ("order1", &hi),
            ("order1-rand", &rand),
            ("order1-zero95", &zero95),
        ] {
            let mut g = c.benchmark_group(format!("hist/{name}/{}KiB", size / KIB));
            g.throughput(Throughput::Bytes(size as u64));
            let mut h = vec![0u32; 65536];
            for k in levels() {
                g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                    b.iter(|| k.hist_order1(black_box(plane), &mut h))
                });
            }
            g.finish();
        }
        // Cross-plane: the bf16 low plane under the exponent plane, and
        // uniform random bytes under uniform random contexts.
        for (name, plane, ctx) in [("plane", &lo, &hi), ("plane-rand", &rand, &rand_ctx)] {
            let mut g = c.benchmark_group(format!("hist/{name}/{}KiB", size / KIB));
            g.throughput(Throughput::Bytes(size as u64));
            let mut h = vec![0u32; 65536];
            for k in levels() {
                g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                    b.iter(|| k.hist_context(black_box(plane), black_box(ctx), &mut h))
                });
            }
            g.finish();
        }
    }
}

fn bench_rans(c: &mut Criterion) {
    for &size in &CODER_SIZES {
        let (hi, lo) = bf16_planes(size);
        let mut all = [0u32; 256];
        for &d in &hi {
            all[usize::from(d)] += 1;
        }
        let o0 = RansTables::new(14, [0; 256], vec![normalize(&all, 14)]).unwrap();
        // The engine's order-0 scale (shared and inline models).
        let o0_12 = RansTables::new(12, [0; 256], vec![normalize(&all, 12)]).unwrap();
        let prev: Vec<u8> = std::iter::once(0)
            .chain(hi.iter().copied())
            .take(size)
            .collect();
        let o1 = ctx_model(&hi, &prev, 12);
        let plane = ctx_model(&lo, &hi, 12);
        // The same context models at scale 10: a quarter of the decode
        // table, the size the checkpoint-delta plane 0 uses.
        let o1_10 = ctx_model(&hi, &prev, 10);
        let plane_10 = ctx_model(&lo, &hi, 10);
        let cases: [(&str, &[u8], Ctx<'_>, &RansTables); 6] = [
            ("o0", &hi, Ctx::Order0, &o0),
            ("o0-12", &hi, Ctx::Order0, &o0_12),
            ("o1", &hi, Ctx::Order1, &o1),
            ("o1-10", &hi, Ctx::Order1, &o1_10),
            ("plane", &lo, Ctx::Plane(&hi), &plane),
            ("plane-10", &lo, Ctx::Plane(&hi), &plane_10),
        ];
        for (name, data, ctx, t) in cases {
            let mut stream = Vec::new();
            Kernels::scalar()
                .rans_encode(data, ctx, t, &mut stream)
                .unwrap();
            let mut g = c.benchmark_group(format!("rans/{name}/encode/{}KiB", size / KIB));
            g.throughput(Throughput::Bytes(size as u64));
            for k in levels() {
                g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                    let mut out = Vec::with_capacity(stream.len() + 64);
                    b.iter(|| {
                        out.clear();
                        k.rans_encode(black_box(data), ctx, t, &mut out).unwrap();
                    })
                });
            }
            g.finish();
            let mut g = c.benchmark_group(format!("rans/{name}/decode/{}KiB", size / KIB));
            g.throughput(Throughput::Bytes(size as u64));
            let mut out = vec![0u8; size];
            for k in levels() {
                g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                    b.iter(|| k.rans_decode(black_box(&stream), ctx, t, &mut out).unwrap())
                });
            }
            g.finish();
        }
        bench_pairs(c, size, &hi, &o0_12, &lo, &plane);
    }
}

/// Pair decodes (`Kernels::rans_decode_pair`), as the chunk decoder runs
/// them: two chunks' exponent planes under order-0 models (`pair-o0`), one
/// chunk's exponent plane with its mantissa plane under the exponent
/// contexts (`pair-plane`), and two planes under the contexts of a third
/// (`pair-ctx`, a delta chunk's residual planes 0 and 1). Throughput
/// counts the symbols of both streams.
fn bench_pairs(
    c: &mut Criterion,
    size: usize,
    hi: &[u8],
    o0: &RansTables,
    lo: &[u8],
    plane: &RansTables,
) {
    let encode = |data: &[u8], ctx: Ctx<'_>, t: &RansTables| {
        let mut stream = Vec::new();
        Kernels::scalar()
            .rans_encode(data, ctx, t, &mut stream)
            .unwrap();
        stream
    };
    let first = encode(hi, Ctx::Order0, o0);
    let on_hi = encode(lo, Ctx::Plane(hi), plane);
    // (name, first stream, its contexts and model, second stream, ...).
    let cases = [
        ("pair-o0", &first, None, o0, &first, SecondCtx::Order0, o0),
        (
            "pair-plane",
            &first,
            None,
            o0,
            &on_hi,
            SecondCtx::First,
            plane,
        ),
        // Two streams under the same known plane, as residual planes 0 and
        // 1 of a bf16 checkpoint delta decode (the same stream twice).
        (
            "pair-ctx",
            &on_hi,
            Some(hi),
            plane,
            &on_hi,
            SecondCtx::Plane(hi),
            plane,
        ),
    ];
    for (name, first, first_ctx, first_t, second, second_ctx, second_t) in cases {
        let mut g = c.benchmark_group(format!("rans/{name}/decode/{}KiB", size / KIB));
        g.throughput(Throughput::Bytes(2 * size as u64));
        let (mut oa, mut ob) = (vec![0u8; size], vec![0u8; size]);
        // Every form of each level: the AVX-512 forms differ in the pair
        // decoder.
        for k in levels().into_iter().flat_map(|k| Kernels::forms(k.isa())) {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| {
                    k.rans_decode_pair(
                        PairStream {
                            stream: black_box(first),
                            ctx: first_ctx,
                            tables: first_t,
                            out: &mut oa,
                        },
                        PairStream {
                            stream: black_box(second),
                            ctx: second_ctx,
                            tables: second_t,
                            out: &mut ob,
                        },
                    )
                    .unwrap()
                })
            });
        }
        g.finish();
    }
}

fn bench_checksum(c: &mut Criterion) {
    for &size in &CODER_SIZES {
        let data = weights(size);
        let mut g = c.benchmark_group(format!("xxh3/{}KiB", size / KIB));
        g.throughput(Throughput::Bytes(size as u64));
        for k in levels() {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| k.xxh3_64(black_box(&data)))
            });
        }
        g.finish();
    }
}

/// Every content-defined cut of the buffer, each search restarting
/// `WINDOW - 1` elements before the element after the previous cut (as
/// dedup does).
fn all_cuts(k: &Kernels, data: &[u8], width: usize) -> usize {
    let back = z4ai_simd::cut::WINDOW - 1;
    let (mut start, mut cuts) = (0usize, 0usize);
    while let Some(j) = k.find_cut(&data[start * width..], width, back) {
        cuts += 1;
        start += j + 1 - back;
    }
    cuts
}

fn bench_cut(c: &mut Criterion) {
    // Every width in cache, and bf16's width from memory.
    let rows = [(1, KIB), (2, KIB), (4, KIB), (8, KIB), (2, 32 * KIB)];
    for (width, kib) in rows {
        let size = kib * KIB;
        let data = weights(size);
        let mut g = c.benchmark_group(format!("cut/w{width}/{}KiB", size / KIB));
        g.throughput(Throughput::Bytes(size as u64));
        for k in levels() {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| all_cuts(&k, black_box(&data), width))
            });
        }
        g.finish();
    }
}

/// The escape kernels of the short delta form on 1 Mi residual words
/// (1 MiB planes), one in `escape_in` of 256 escaping: split (encoding),
/// find and expand (decoding). Throughput in words.
fn bench_escape(c: &mut Criterion) {
    use z4ai_simd::escape::SLACK;
    let n = 1 << 20;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for escape_in in [12, 64] {
        let mut high = vec![0u8; n];
        let mut low = vec![0u8; n];
        let ctx: Vec<u8> = (0..n).map(|_| 110 + (next() % 16) as u8).collect();
        for (h, l) in high.iter_mut().zip(&mut low) {
            let r = next();
            *l = (r % 255) as u8;
            if (r >> 8) % 256 < escape_in {
                *h = 1 + (r >> 16) as u8 % 4;
            }
        }
        let scalar = Kernels::scalar();
        let mut short = vec![0u8; n];
        let [mut hi, mut lo, mut ec] = [0, 1, 2].map(|_| vec![0u8; n + SLACK]);
        let m = scalar.escape_split(&high, &low, &ctx, &mut short, &mut hi, &mut lo, &mut ec);
        let name = format!("escape/{}pct", escape_in * 100 / 256);
        let mut g = c.benchmark_group(format!("{name}/split"));
        g.throughput(Throughput::Elements(n as u64));
        for k in levels().into_iter().flat_map(|k| Kernels::forms(k.isa())) {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| k.escape_split(&high, &low, &ctx, &mut short, &mut hi, &mut lo, &mut ec))
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("{name}/find+expand"));
        g.throughput(Throughput::Elements(n as u64));
        let (mut h, mut l) = (vec![0u8; n], short.clone());
        for k in levels().into_iter().flat_map(|k| Kernels::forms(k.isa())) {
            g.bench_function(BenchmarkId::from_parameter(k.name()), |b| {
                b.iter(|| {
                    l.copy_from_slice(&short);
                    assert_eq!(k.escape_find(&l, &ctx, m, &mut ec), Some(m));
                    k.escape_expand(&mut h, &mut l, &hi[..m], &lo[..m]);
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = kernels;
    config = config();
    targets = bench_planes, bench_hist, bench_rans, bench_checksum, bench_cut, bench_escape
}
criterion_main!(kernels);
