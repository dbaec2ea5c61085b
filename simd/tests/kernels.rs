//! Every dispatch level against the scalar reference, byte for byte, plus
//! round trips of the reference itself. Prints which levels ran.

use z4ai_simd::rans::{self, Ctx, FirstStream, PairStream, RansTables, SecondCtx, SecondStream};
use z4ai_simd::{Isa, Kernels};

/// Deterministic xorshift generator (no dev-dependency needed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Approximately N(0, 0.02) floats as bf16 / fp32 bit patterns.
    fn gauss_f32(&mut self) -> f32 {
        let mut s = 0.0f32;
        for _ in 0..4 {
            s += (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        s * 0.035
    }
}

/// Lengths around every plausible vector / unroll / state boundary.
fn interesting_lengths() -> Vec<usize> {
    let mut v: Vec<usize> = (0..=70).collect();
    for b in [96, 128, 255, 256, 511, 512, 1024, 2048, 4096, 65536] {
        v.extend([b - 1, b, b + 1, b + 31, b + 33]);
    }
    v.sort_unstable();
    v.dedup();
    v
}

fn patterns(rng: &mut Rng, n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let mut floats = Vec::with_capacity(n + 8);
    while floats.len() < n {
        floats.extend_from_slice(&rng.gauss_f32().to_le_bytes());
    }
    floats.truncate(n);
    let specials: Vec<u8> = [
        0x7F80_0000u32,
        0xFF80_0000,
        0x7FC0_0001,
        0x0000_0001,
        0x8000_0000,
    ]
    .iter()
    .flat_map(|v| v.to_le_bytes())
    .cycle()
    .take(n)
    .collect();
    vec![
        ("zeros", vec![0u8; n]),
        ("ff", vec![0xFFu8; n]),
        ("ramp", (0..n).map(|i| i as u8).collect()),
        ("random", rng.bytes(n)),
        ("floats", floats),
        (
            "one-exponent",
            (0..n)
                .map(|i| if i % 2 == 1 { 0x3C } else { rng.next() as u8 })
                .collect(),
        ),
        ("specials", specials),
    ]
}

fn levels() -> Vec<Kernels> {
    let ks: Vec<Kernels> = Isa::supported_levels()
        .into_iter()
        .flat_map(Kernels::forms)
        .collect();
    let names: Vec<&str> = ks.iter().map(|k| k.name()).collect();
    let skipped: Vec<&str> = Isa::ALL
        .iter()
        .filter(|i| !i.is_supported())
        .map(|i| i.name())
        .collect();
    eprintln!("kernel levels tested: {names:?}; not runnable here: {skipped:?}");
    ks
}

#[test]
fn planes_match_scalar_and_invert() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for k in levels() {
        for n in interesting_lengths() {
            for (name, data) in patterns(&mut rng, n * 8 + 8) {
                for width in [1, 2, 4, 8] {
                    for rotate in [false, true] {
                        for shift in [0, 1, 3] {
                            let len = (n * width).min(data.len() - shift);
                            let len = len - len % width;
                            let src = &data[shift..shift + len];
                            let mut want = vec![0u8; len];
                            scalar.split_planes(src, width, rotate, &mut want);
                            let mut got = vec![0u8; len];
                            k.split_planes(src, width, rotate, &mut got);
                            assert_eq!(
                                got,
                                want,
                                "split {} {name} n={n} w={width} rot={rotate}",
                                k.name()
                            );
                            let mut back = vec![0u8; len];
                            k.merge_planes(&got, width, rotate, &mut back);
                            assert_eq!(
                                back,
                                src,
                                "merge {} {name} n={n} w={width} rot={rotate}",
                                k.name()
                            );
                            // The same planes from separate buffers, each at
                            // its own misalignment.
                            let m = len / width;
                            let held: Vec<Vec<u8>> = (0..width)
                                .map(|p| {
                                    let mut v = vec![0xA5u8; p + 1];
                                    v.extend_from_slice(&got[p * m..(p + 1) * m]);
                                    v
                                })
                                .collect();
                            let parts: Vec<&[u8]> =
                                held.iter().enumerate().map(|(p, v)| &v[p + 1..]).collect();
                            let mut back = vec![0u8; len];
                            k.merge_planes_from(&parts, rotate, &mut back);
                            assert_eq!(
                                back,
                                src,
                                "merge_from {} {name} n={n} w={width} rot={rotate}",
                                k.name()
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn split_layout_is_as_specified() {
    // bf16 1.0 = 0x3F80: rotl1 = 0x7F00 -> exponent plane 0x7F, low plane 0x00.
    // bf16 -2.0 = 0xC000: rotl1 = 0x8001 -> 0x80, 0x01.
    let src = [0x80, 0x3F, 0x00, 0xC0];
    let mut dst = [0u8; 4];
    Kernels::scalar().split_planes(&src, 2, true, &mut dst);
    assert_eq!(dst, [0x7F, 0x80, 0x00, 0x01]);
    // fp32 1.0 = 0x3F800000 -> rotl1 0x7F000000: planes 7F,00,00,00.
    let mut d4 = [0u8; 4];
    Kernels::scalar().split_planes(&1.0f32.to_le_bytes(), 4, true, &mut d4);
    assert_eq!(d4, [0x7F, 0, 0, 0]);
}

/// Histogram lengths: every length to 300 (the context kernels count in
/// blocks of 128, the order-0 ones in words of 8), then the shared
/// boundaries further out.
fn hist_lengths() -> Vec<usize> {
    let mut v: Vec<usize> = (0..=300).collect();
    v.extend(interesting_lengths());
    for b in [383, 384, 385, 1023, 1025] {
        v.push(b);
    }
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn histograms_match_scalar() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(7);
    let levels = levels();
    for n in hist_lengths() {
        for (name, data) in patterns(&mut rng, n + 3) {
            for shift in [0, 1, 3] {
                let d = &data[shift..shift + n];
                // Counts are added onto tables that are not zero.
                let mut want0 = [5u32; 256];
                scalar.hist_order0(d, &mut want0);
                assert_eq!(want0.iter().map(|&c| (c - 5) as usize).sum::<usize>(), n);
                let ctx: Vec<u8> = d.iter().map(|&b| b.wrapping_mul(7) >> 2).collect();
                let mut want_ctx = vec![1u32; 65536];
                scalar.hist_context(d, &ctx, &mut want_ctx);
                let mut want_o1 = vec![2u32; 65536];
                scalar.hist_order1(d, &mut want_o1);
                for k in &levels {
                    let mut got = [5u32; 256];
                    k.hist_order0(d, &mut got);
                    assert_eq!(got, want0, "hist0 {} {name} n={n}", k.name());
                    let mut got = vec![1u32; 65536];
                    k.hist_context(d, &ctx, &mut got);
                    assert!(got == want_ctx, "hist ctx {} {name} n={n}", k.name());
                    let mut got = vec![2u32; 65536];
                    k.hist_order1(d, &mut got);
                    assert!(got == want_o1, "hist o1 {} {name} n={n}", k.name());
                }
            }
        }
    }
}

/// Constant runs (one counter hit by every pair) and runs broken by a single
/// different symbol or context byte at every position of the first blocks.
#[test]
fn context_histogram_runs_match_scalar() {
    let scalar = Kernels::scalar();
    let levels = levels();
    let n = 777;
    for (sym, c) in [(0u8, 0u8), (0xFF, 0x7C), (0x3C, 0xFF)] {
        let data = vec![sym; n];
        let ctx = vec![c; n];
        let mut cases = vec![(data.clone(), ctx.clone())];
        for p in 0..300 {
            let mut d = data.clone();
            d[p] ^= 1;
            cases.push((d, ctx.clone()));
            let mut x = ctx.clone();
            x[p] ^= 0x80;
            cases.push((data.clone(), x));
        }
        for (d, x) in &cases {
            for shift in [0, 5] {
                let (d, x) = (&d[shift..], &x[shift..]);
                let mut want = vec![3u32; 65536];
                scalar.hist_context(d, x, &mut want);
                let mut want_o1 = vec![0u32; 65536];
                scalar.hist_order1(d, &mut want_o1);
                let mut want0 = [9u32; 256];
                scalar.hist_order0(d, &mut want0);
                for k in &levels {
                    let mut got = vec![3u32; 65536];
                    k.hist_context(d, x, &mut got);
                    assert!(got == want, "hist ctx run {} sym={sym} ctx={c}", k.name());
                    let mut got = vec![0u32; 65536];
                    k.hist_order1(d, &mut got);
                    assert!(got == want_o1, "hist o1 run {} sym={sym}", k.name());
                    let mut got = [9u32; 256];
                    k.hist_order0(d, &mut got);
                    assert_eq!(got, want0, "hist0 run {} sym={sym}", k.name());
                }
            }
        }
    }
}

/// Blocks dominated by one pair to different degrees (exactly `k` of every
/// 128 pairs, `k` around the kernels' quarter threshold and up to all of
/// them), the dominant pair changing between blocks or not, and order-1
/// counts of mostly-zero planes.
#[test]
fn context_histogram_dominant_pairs_match_scalar() {
    let scalar = Kernels::scalar();
    let levels = levels();
    let mut rng = Rng(0xD0_3117);
    let shares = [0usize, 1, 16, 31, 32, 33, 64, 100, 127, 128];
    for round in 0..40 {
        let blocks = 24;
        let mut data = Vec::with_capacity(blocks * 128 + 77);
        let mut ctx = Vec::with_capacity(blocks * 128 + 77);
        let pairs = [(0u8, 0u8), (0x3C, 0x7F), (0xFF, 0x00)];
        for b in 0..blocks {
            let k = shares[(rng.next() as usize + b) % shares.len()];
            // Change the dominant pair in some rounds, keep it in others.
            let (sym, c) = pairs[if round % 2 == 0 {
                0
            } else {
                rng.next() as usize % 3
            }];
            let mut block: Vec<(u8, u8)> = (0..128)
                .map(|j| {
                    if j < k {
                        (sym, c)
                    } else {
                        // Any pair but the dominant one.
                        let x = rng.next();
                        let p = (x as u8, (x >> 8) as u8);
                        if p == (sym, c) {
                            (sym ^ 1, c)
                        } else {
                            p
                        }
                    }
                })
                .collect();
            // Shuffle so the dominant pairs sit anywhere, first lane included.
            for j in (1..128).rev() {
                block.swap(j, rng.next() as usize % (j + 1));
            }
            data.extend(block.iter().map(|p| p.0));
            ctx.extend(block.iter().map(|p| p.1));
        }
        data.extend(rng.bytes(77));
        ctx.extend(rng.bytes(77));
        for shift in [0, 3] {
            let (d, x) = (&data[shift..], &ctx[shift..]);
            let mut want = vec![7u32; 65536];
            scalar.hist_context(d, x, &mut want);
            for k in &levels {
                let mut got = vec![7u32; 65536];
                k.hist_context(d, x, &mut got);
                assert!(got == want, "hist ctx dominant {} round={round}", k.name());
            }
        }
    }
    for pct in [0u64, 1, 5, 20, 50, 80] {
        let plane: Vec<u8> = (0..5000)
            .map(|_| {
                let x = rng.next();
                if x % 100 < pct {
                    (x >> 32) as u8
                } else {
                    0
                }
            })
            .collect();
        let mut want = vec![0u32; 65536];
        scalar.hist_order1(&plane, &mut want);
        for k in &levels {
            let mut got = vec![0u32; 65536];
            k.hist_order1(&plane, &mut got);
            assert!(got == want, "hist o1 mostly-zero {} pct={pct}", k.name());
        }
    }
}

/// Normalises counts to `2^bits` crudely but validly (test helper only).
fn table_from(data: &[u8], bits: u32) -> [u16; 256] {
    let mut c = [0u64; 256];
    for &b in data {
        c[b as usize] += 1;
    }
    if data.is_empty() {
        c[0] = 1;
    }
    let total: u64 = c.iter().sum();
    let m = 1u64 << bits;
    let mut f = [0u16; 256];
    let mut sum = 0u64;
    for s in 0..256 {
        if c[s] > 0 {
            f[s] = ((c[s] * m / total).max(1)) as u16;
            sum += f[s] as u64;
        }
    }
    // Fix the sum on the most frequent symbol; shrink others if needed.
    let top = (0..256).max_by_key(|&s| f[s]).unwrap();
    while sum > m {
        let s = (0..256)
            .filter(|&s| f[s] > 1)
            .max_by_key(|&s| f[s])
            .unwrap();
        f[s] -= 1;
        sum -= 1;
    }
    f[top] += (m - sum) as u16;
    f
}

fn models_for(data: &[u8], ctx: &[u8], bits: u32) -> Vec<(&'static str, RansTables)> {
    let o0 = RansTables::new(bits, [0; 256], vec![table_from(data, bits)]).unwrap();
    // Two tables split by context parity, flipped for contexts of 128 and
    // up (so that a lookup confusing the map's halves is caught), context
    // 0 (where order-1 segments start) on table 1; each table covers all
    // symbols seen.
    let mut full = data.to_vec();
    full.extend_from_slice(ctx);
    full.push(0);
    let mut map = [0u8; 256];
    for (c, m) in map.iter_mut().enumerate() {
        *m = (1 ^ (c % 2) ^ (c / 128)) as u8;
    }
    let evens: Vec<u8> = full
        .iter()
        .copied()
        .filter(|b| b % 2 == 0)
        .chain(full.iter().copied())
        .collect();
    let t2 = RansTables::new(
        bits,
        map,
        vec![table_from(&full, bits), table_from(&evens, bits)],
    )
    .unwrap();
    vec![("o0", o0), ("two-tables", t2)]
}

#[test]
fn rans_matches_scalar_cross_matrix() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(42);
    for k in levels() {
        for n in interesting_lengths() {
            for (name, data) in patterns(&mut rng, n) {
                // Context bytes across 0..=255 (the data bytes, nibbles
                // swapped), not only the 16 low ones.
                let ctx: Vec<u8> = data.iter().map(|&b| b.rotate_right(4)).collect();
                for bits in [10, 12, 15] {
                    for (mname, t) in models_for(&data, &ctx, bits) {
                        for mode in [Ctx::Order0, Ctx::Order1, Ctx::Plane(&ctx)] {
                            if matches!(mode, Ctx::Order0) && mname != "o0" {
                                continue;
                            }
                            let label =
                                format!("{} {name} n={n} bits={bits} {mname} {mode:?}", k.name());
                            let label = &label[..label.len().min(120)];
                            let mut want = Vec::new();
                            scalar.rans_encode(&data, mode, &t, &mut want).unwrap();
                            let mut got = Vec::new();
                            k.rans_encode(&data, mode, &t, &mut got).unwrap();
                            assert_eq!(got, want, "encode {label}");
                            assert!(got.len() <= rans::max_stream_len(n));
                            let mut out = vec![0u8; n];
                            k.rans_decode(&want, mode, &t, &mut out).unwrap();
                            assert_eq!(out, data, "decode {label}");
                            let mut out2 = vec![0u8; n];
                            scalar.rans_decode(&got, mode, &t, &mut out2).unwrap();
                            assert_eq!(out2, data, "scalar decode of {label}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn rans_rejects_damaged_streams() {
    let mut rng = Rng(3);
    let data: Vec<u8> = (0..5000).map(|_| (rng.next() % 20) as u8).collect();
    let t = RansTables::new(12, [0; 256], vec![table_from(&data, 12)]).unwrap();
    let mut stream = Vec::new();
    Kernels::scalar()
        .rans_encode(&data, Ctx::Order0, &t, &mut stream)
        .unwrap();
    for k in levels() {
        let mut out = vec![0u8; data.len()];
        for cut in [0, 1, 127, 128, 129, stream.len() / 2, stream.len() - 1] {
            assert!(
                k.rans_decode(&stream[..cut], Ctx::Order0, &t, &mut out)
                    .is_err(),
                "cut {cut}"
            );
        }
        let mut longer = stream.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(k.rans_decode(&longer, Ctx::Order0, &t, &mut out).is_err());
        for byte in [0, 3, 200, stream.len() - 2] {
            let mut bad = stream.clone();
            bad[byte] ^= 0x10;
            // Must not panic; almost always an error (never trusted blindly:
            // the codec checks content hashes too).
            let _ = k.rans_decode(&bad, Ctx::Order0, &t, &mut out);
        }
        // A symbol outside the table is an encoder error, not a panic.
        let mut sink = Vec::new();
        assert!(k.rans_encode(&[200], Ctx::Order0, &t, &mut sink).is_err());
    }
}

#[test]
fn tables_are_validated() {
    let mut f = [0u16; 256];
    f[0] = 4095;
    assert!(RansTables::new(12, [0; 256], vec![f]).is_err());
    f[0] = 4096;
    assert!(RansTables::new(12, [0; 256], vec![f]).is_ok());
    assert!(RansTables::new(16, [0; 256], vec![f]).is_err());
    assert!(RansTables::new(12, [1; 256], vec![f]).is_err());
    assert!(RansTables::new(12, [0; 256], vec![]).is_err());
    assert!(RansTables::new(15, [0; 256], vec![[0u16; 256]; 33]).is_err());
}

/// Every decoder gives the reference's exact `Result` (and output on
/// success) for truncated, extended and corrupted streams of every context
/// mode, at cut points around the state header and the vector loops' guard
/// (a whole round of words, 64 bytes, before the end).
#[test]
fn rans_damaged_streams_match_scalar_every_mode() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(11);
    for n in [0usize, 1, 31, 32, 33, 100, 1000, 1025, 3000] {
        let data: Vec<u8> = (0..n).map(|_| (rng.next() % 24) as u8).collect();
        let ctx: Vec<u8> = data.iter().map(|&b| b >> 3).collect();
        for (mname, t) in models_for(&data, &ctx, 12) {
            for mode in [Ctx::Order0, Ctx::Order1, Ctx::Plane(&ctx)] {
                let mut stream = Vec::new();
                scalar.rans_encode(&data, mode, &t, &mut stream).unwrap();
                let len = stream.len();
                let mut cuts: Vec<usize> = (0..len.min(140)).collect();
                cuts.extend((len.saturating_sub(140)..len).step_by(1));
                cuts.extend((0..len).step_by(97));
                let mut damaged: Vec<Vec<u8>> =
                    cuts.iter().map(|&c| stream[..c].to_vec()).collect();
                let mut longer = stream.clone();
                longer.extend_from_slice(&[1, 2]);
                damaged.push(longer);
                for pos in (0..len)
                    .step_by(len / 40 + 1)
                    .chain([len.saturating_sub(1)])
                {
                    if pos < len {
                        let mut bad = stream.clone();
                        bad[pos] ^= 1 << (pos % 8);
                        damaged.push(bad);
                    }
                }
                for k in levels_quiet() {
                    for s in &damaged {
                        let mut want = vec![0u8; n];
                        let w = scalar.rans_decode(s, mode, &t, &mut want);
                        let mut got = vec![0u8; n];
                        let g = k.rans_decode(s, mode, &t, &mut got);
                        assert_eq!(
                            g,
                            w,
                            "{} n={n} {mname} {mode:?} len {} of {len}",
                            k.name(),
                            s.len()
                        );
                        if g.is_ok() {
                            assert_eq!(got, want);
                        }
                    }
                }
            }
        }
    }
}

/// A symbol with zero frequency anywhere (first, last, in a vector round or
/// in the scalar part) is `SymbolNotInTable` at every level, and the output
/// is left untouched.
#[test]
fn rans_encoders_reject_missing_symbols_every_mode() {
    let mut f = [0u16; 256];
    f[..16].fill(256);
    let t = RansTables::new(12, [0; 256], vec![f]).unwrap();
    for n in [1usize, 31, 32, 33, 64, 100, 2049] {
        for at in [0, n / 2, n - 1] {
            let mut data: Vec<u8> = (0..n).map(|i| (i % 16) as u8).collect();
            data[at] = 200;
            let ctx = vec![3u8; n];
            for mode in [Ctx::Order0, Ctx::Order1, Ctx::Plane(&ctx)] {
                for k in levels_quiet() {
                    let mut out = vec![9u8];
                    assert_eq!(
                        k.rans_encode(&data, mode, &t, &mut out),
                        Err(rans::RansError::SymbolNotInTable),
                        "{} n={n} at={at} {mode:?}",
                        k.name()
                    );
                    assert_eq!(out, [9]);
                }
            }
        }
    }
}

/// Long inputs: several order-1 blocks, many vector rounds, plane blocks
/// well past every unroll, with a model at the largest scale.
#[test]
fn long_inputs_match_scalar() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(5);
    let n = 200_003;
    let mut floats = Vec::with_capacity(n * 4);
    while floats.len() < n * 4 {
        floats.extend_from_slice(&rng.gauss_f32().to_le_bytes());
    }
    let mut planes = vec![0u8; floats.len()];
    scalar.split_planes(&floats, 4, true, &mut planes);
    let (hi, lo) = (&planes[..n], &planes[n..2 * n]);
    for k in levels_quiet() {
        for width in [2, 4, 8] {
            let len = floats.len() / width * width;
            let mut got = vec![0u8; len];
            k.split_planes(&floats[..len], width, true, &mut got);
            let mut want = vec![0u8; len];
            scalar.split_planes(&floats[..len], width, true, &mut want);
            assert!(got == want, "split {} w={width}", k.name());
            k.merge_planes(&want, width, true, &mut got);
            assert!(got[..] == floats[..len], "merge {} w={width}", k.name());
        }
        // The two-table model covers both planes (the order-0 one only `hi`).
        for (mname, t) in models_for(hi, lo, 15).into_iter().skip(1) {
            for (data, mode) in [(hi, Ctx::Order0), (hi, Ctx::Order1), (lo, Ctx::Plane(hi))] {
                let mut want = Vec::new();
                scalar.rans_encode(data, mode, &t, &mut want).unwrap();
                let mut got = Vec::new();
                k.rans_encode(data, mode, &t, &mut got).unwrap();
                assert!(got == want, "encode {} {mname} {mode:?}", k.name());
                let mut out = vec![0u8; n];
                k.rans_decode(&want, mode, &t, &mut out).unwrap();
                assert!(out == data, "decode {} {mname} {mode:?}", k.name());
            }
        }
    }
}

fn levels_quiet() -> Vec<Kernels> {
    Isa::supported_levels()
        .into_iter()
        .filter_map(Kernels::for_isa)
        .collect()
}

/// One stream of a pair decode.
fn ps<'a, C>(
    stream: &'a [u8],
    ctx: C,
    tables: &'a RansTables,
    out: &'a mut [u8],
) -> PairStream<'a, C> {
    PairStream {
        stream,
        ctx,
        tables,
        out,
    }
}

/// Two decodes in turn with the scalar reference: what a pair decode means.
fn pair_reference(a: FirstStream<'_>, b: SecondStream<'_>) -> Result<(), rans::RansError> {
    let s = Kernels::scalar();
    s.rans_decode(
        a.stream,
        a.ctx.map_or(Ctx::Order0, Ctx::Plane),
        a.tables,
        a.out,
    )?;
    let c = match b.ctx {
        SecondCtx::Order0 => Ctx::Order0,
        SecondCtx::Plane(c) => Ctx::Plane(c),
        SecondCtx::First => Ctx::Plane(a.out),
    };
    s.rans_decode(b.stream, c, b.tables, b.out)
}

/// A pair decode equals two decodes in turn at every level: every context
/// combination, lengths around the round and guard boundaries (also unequal
/// lengths), and damaged first or second streams (same `Result`, same
/// output on success).
#[test]
fn rans_pair_decode_matches_two_decodes() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(77);
    let ks = levels();
    let lens = [
        0usize, 1, 31, 32, 33, 63, 64, 65, 95, 100, 1000, 1025, 4096, 70_001,
    ];
    for &na in &lens {
        for nb in [na, na / 2 + 7] {
            let a: Vec<u8> = (0..na).map(|_| (rng.next() % 29) as u8).collect();
            let b: Vec<u8> = (0..nb).map(|_| (rng.next() % 200) as u8).collect();
            // Contexts on both sides of 128 (the permuted context lookup
            // takes the two halves of the map apart).
            let ext_a: Vec<u8> = (0..na).map(|_| (rng.next() % 5) as u8 * 63).collect();
            let ext_b: Vec<u8> = (0..nb).map(|_| (rng.next() % 7) as u8 * 42).collect();
            let ta = &models_for(&a, &ext_a, 12)[1].1;
            let tb = &models_for(&b, &ext_b, 11)[1].1;
            for first_ext in [false, true] {
                let ca = first_ext.then_some(&ext_a[..]);
                let mut sa = Vec::new();
                scalar
                    .rans_encode(&a, ca.map_or(Ctx::Order0, Ctx::Plane), ta, &mut sa)
                    .unwrap();
                for second in 0..3 {
                    if second == 2 && nb != na {
                        continue;
                    }
                    // The second stream's contexts: none, external, the first plane.
                    let (cb, enc_ctx) = match second {
                        0 => (SecondCtx::Order0, Ctx::Order0),
                        1 => (SecondCtx::Plane(&ext_b), Ctx::Plane(&ext_b)),
                        _ => (SecondCtx::First, Ctx::Plane(&a)),
                    };
                    let mut sb = Vec::new();
                    scalar.rans_encode(&b, enc_ctx, tb, &mut sb).unwrap();
                    let mut cases: Vec<(Vec<u8>, Vec<u8>)> = vec![(sa.clone(), sb.clone())];
                    for cut in [
                        0,
                        127,
                        128,
                        sa.len().saturating_sub(65),
                        sa.len().saturating_sub(1),
                    ] {
                        cases.push((sa[..cut.min(sa.len())].to_vec(), sb.clone()));
                    }
                    for cut in [130, sb.len().saturating_sub(64), sb.len().saturating_sub(2)] {
                        cases.push((sa.clone(), sb[..cut.min(sb.len())].to_vec()));
                    }
                    for pos in [0, 140, sb.len() / 2] {
                        if pos < sb.len() {
                            let mut bad = sb.clone();
                            bad[pos] ^= 0x41;
                            cases.push((sa.clone(), bad));
                        }
                    }
                    // Both damaged: the first stream's error wins even where
                    // the second one's header is bad (out-of-range state,
                    // short header) and its own damage is found only later.
                    let mut bad_head = sb.clone();
                    bad_head[3] = 0xFF;
                    for y in [bad_head, sb[..100.min(sb.len())].to_vec()] {
                        for cut in [sa.len().saturating_sub(65), sa.len().saturating_sub(1)] {
                            cases.push((sa[..cut].to_vec(), y.clone()));
                        }
                        let mut bad = sa.clone();
                        let last = bad.len() - 1;
                        bad[last] ^= 0x10;
                        cases.push((bad, y));
                    }
                    for k in &ks {
                        for (x, y) in &cases {
                            let (mut wa, mut wb) = (vec![0u8; na], vec![0u8; nb]);
                            let w = pair_reference(ps(x, ca, ta, &mut wa), ps(y, cb, tb, &mut wb));
                            let (mut ga, mut gb) = (vec![0u8; na], vec![0u8; nb]);
                            let g =
                                k.rans_decode_pair(ps(x, ca, ta, &mut ga), ps(y, cb, tb, &mut gb));
                            let label = format!(
                                "{} na={na} nb={nb} ext={first_ext} second={second} lens {} {}",
                                k.name(),
                                x.len(),
                                y.len()
                            );
                            assert_eq!(g, w, "{label}");
                            if g.is_ok() {
                                assert!(ga == wa && gb == wb, "{label}");
                            }
                        }
                        let (mut ga, mut gb) = (vec![0u8; na], vec![0u8; nb]);
                        k.rans_decode_pair(ps(&sa, ca, ta, &mut ga), ps(&sb, cb, tb, &mut gb))
                            .unwrap();
                        assert!(ga == a && gb == b, "{} round trip", k.name());
                    }
                }
            }
        }
    }
}

/// A stream that codes many symbols in few bytes (a nearly constant plane)
/// runs out of whole vector rounds' worth of words long before its
/// symbols: the kernels go on over a zero-padded copy of its last bytes
/// (a pair decoder over a padded copy of the whole stream). Every level,
/// single and paired (with itself whole, and either way round with a
/// dense stream), order-0 and under a context plane, matches the scalar
/// decoder on the whole stream and on every cut of its last 80 bytes
/// (`Truncated` where the scalar decoder says so).
#[test]
fn nearly_constant_planes_decode_like_the_reference() {
    let scalar = Kernels::scalar();
    let ks = levels();
    let mut rng = Rng(23);
    for n in [40usize, 4096, 70_001] {
        let data: Vec<u8> = (0..n)
            .map(|_| {
                if rng.next().is_multiple_of(400) {
                    (rng.next() % 3) as u8 + 1
                } else {
                    0
                }
            })
            .collect();
        let ctx: Vec<u8> = (0..n).map(|_| (rng.next() % 3) as u8 * 100).collect();
        let models = models_for(&data, &ctx, 12);
        let t = &models[1].1;
        let dense: Vec<u8> = (0..n).map(|_| (rng.next() % 200) as u8).collect();
        let dense_models = models_for(&dense, &ctx, 12);
        let td = &dense_models[1].1;
        for c in [None, Some(&ctx[..])] {
            let rc = c.map_or(Ctx::Order0, Ctx::Plane);
            let cb = c.map_or(SecondCtx::Order0, SecondCtx::Plane);
            let mut stream = Vec::new();
            scalar.rans_encode(&data, rc, t, &mut stream).unwrap();
            let mut dense_stream = Vec::new();
            scalar
                .rans_encode(&dense, rc, td, &mut dense_stream)
                .unwrap();
            for cut in stream.len().saturating_sub(80)..=stream.len() {
                let cs = &stream[..cut];
                let mut want = vec![0u8; n];
                let w = scalar.rans_decode(cs, rc, t, &mut want);
                assert_eq!(w.is_ok(), cut == stream.len(), "n={n} cut {cut}");
                for k in &ks {
                    let label = format!("{} n={n} ctx={} cut {cut}", k.name(), c.is_some());
                    let mut got = vec![0u8; n];
                    assert_eq!(k.rans_decode(cs, rc, t, &mut got), w, "{label}");
                    if w.is_ok() {
                        assert!(got == want, "{label}");
                    }
                    // Paired with itself whole: the second stream's error
                    // (or its output) is the single decode's.
                    let (mut ga, mut gb) = (vec![0u8; n], vec![0u8; n]);
                    let g = k.rans_decode_pair(ps(&stream, c, t, &mut ga), ps(cs, cb, t, &mut gb));
                    assert_eq!(g, w, "pair {label}");
                    if w.is_ok() {
                        assert!(ga == data && gb == want, "pair {label}");
                    }
                    // Beside a dense stream, first and then second: the
                    // result is the single decode's.
                    let (mut ga, mut gb) = (vec![0u8; n], vec![0u8; n]);
                    let g = k.rans_decode_pair(
                        ps(cs, c, t, &mut ga),
                        ps(&dense_stream, cb, td, &mut gb),
                    );
                    assert_eq!(g, w, "first beside dense {label}");
                    if w.is_ok() {
                        assert!(ga == want && gb == dense, "first beside dense {label}");
                    }
                    let (mut ga, mut gb) = (vec![0u8; n], vec![0u8; n]);
                    let g = k.rans_decode_pair(
                        ps(&dense_stream, c, td, &mut ga),
                        ps(cs, cb, t, &mut gb),
                    );
                    assert_eq!(g, w, "second beside dense {label}");
                    assert!(ga == dense, "second beside dense {label}");
                    if w.is_ok() {
                        assert!(gb == want, "second beside dense {label}");
                    }
                }
            }
        }
    }
}

/// One first-stream model paired with second-stream models whose context
/// maps differ (a kernel may keep per-pairing forms of the first model):
/// every pairing decodes exactly, in either order of use.
#[test]
fn rans_pair_decode_with_other_second_models() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(91);
    let n = 20_000;
    let a: Vec<u8> = (0..n).map(|_| (rng.next() % 23) as u8).collect();
    let b: Vec<u8> = (0..n).map(|_| (rng.next() % 150) as u8).collect();
    let ta = &models_for(&a, &a, 14)[0].1;
    let tbs: Vec<RansTables> = models_for(&b, &a, 12).into_iter().map(|m| m.1).collect();
    let mut sa = Vec::new();
    scalar.rans_encode(&a, Ctx::Order0, ta, &mut sa).unwrap();
    let sbs: Vec<Vec<u8>> = tbs
        .iter()
        .map(|tb| {
            let mut sb = Vec::new();
            scalar.rans_encode(&b, Ctx::Plane(&a), tb, &mut sb).unwrap();
            sb
        })
        .collect();
    for k in levels() {
        for order in [[0, 1, 0, 1], [1, 0, 1, 0]] {
            for i in order {
                let (mut ga, mut gb) = (vec![0u8; n], vec![0u8; n]);
                k.rans_decode_pair(
                    ps(&sa, None, ta, &mut ga),
                    ps(&sbs[i], SecondCtx::First, &tbs[i], &mut gb),
                )
                .unwrap();
                assert!(ga == a && gb == b, "{} second model {i}", k.name());
            }
        }
    }
}

/// The limits of the narrow (`u32`) decode entries, which models up to
/// scale 12 use: a symbol owning every slot of a scale-12 table (frequency
/// `2^12`), one owning all but one (the other symbol at frequency 1), and
/// the same data at scale 13, the first scale with wide entries only; as
/// single streams and as either stream of a pair.
#[test]
fn rans_narrow_entry_limits() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(12);
    let n = 3000;
    let first: Vec<u8> = (0..n).map(|_| (rng.next() % 3) as u8).collect();
    let tf = RansTables::new(12, [0; 256], vec![table_from(&first, 12)]).unwrap();
    let mut sf = Vec::new();
    scalar
        .rans_encode(&first, Ctx::Order0, &tf, &mut sf)
        .unwrap();
    let all7 = vec![7u8; n];
    let mostly7: Vec<u8> = (0..n).map(|i| if i % 97 == 5 { 9 } else { 7 }).collect();
    for bits in [12u32, 13] {
        let m = 1u16 << bits;
        let mut whole = [0u16; 256];
        whole[7] = m;
        let mut but_one = [0u16; 256];
        but_one[7] = m - 1;
        but_one[9] = 1;
        // Contexts 0 and 2 of the first stream pick `whole`, 1 `but_one`.
        let mut map = [0u8; 256];
        map[1] = 1;
        let t2 = RansTables::new(bits, map, vec![whole, but_one]).unwrap();
        let data2: Vec<u8> = first
            .iter()
            .zip(&mostly7)
            .map(|(&c, &d)| if c == 1 { d } else { 7 })
            .collect();
        let cases = [
            (
                &all7,
                RansTables::new(bits, [0; 256], vec![whole]).unwrap(),
                None,
            ),
            (
                &mostly7,
                RansTables::new(bits, [0; 256], vec![but_one]).unwrap(),
                None,
            ),
            (&data2, t2, Some(&first[..])),
        ];
        for (data, t, ctx) in &cases {
            let mode = ctx.map_or(Ctx::Order0, Ctx::Plane);
            let mut s = Vec::new();
            scalar.rans_encode(data, mode, t, &mut s).unwrap();
            for k in levels_quiet() {
                let label = format!("{} bits={bits} ctx={}", k.name(), ctx.is_some());
                let mut out = vec![0u8; n];
                k.rans_decode(&s, mode, t, &mut out).unwrap();
                assert!(out == **data, "decode {label}");
                // As the second stream (its contexts the first stream's
                // symbols, or none), and as the first.
                let (mut ga, mut gb) = (vec![0u8; n], vec![0u8; n]);
                let second = if ctx.is_some() {
                    SecondCtx::First
                } else {
                    SecondCtx::Order0
                };
                k.rans_decode_pair(ps(&sf, None, &tf, &mut ga), ps(&s, second, t, &mut gb))
                    .unwrap();
                assert!(ga == first && gb == **data, "pair second {label}");
                if ctx.is_none() {
                    k.rans_decode_pair(
                        ps(&s, None, t, &mut gb),
                        ps(&sf, SecondCtx::Order0, &tf, &mut ga),
                    )
                    .unwrap();
                    assert!(ga == first && gb == **data, "pair first {label}");
                }
            }
        }
    }
}

/// A hash taken while the buffer is written (advanced over growing
/// prefixes, in any steps, by any levels) equals the one-shot hash.
#[test]
fn xxh3_progress_matches_one_shot() {
    use z4ai_simd::checksum::Xxh3Progress;
    let mut rng = Rng(0xFEED);
    let big = rng.bytes(70_000);
    let ks = levels();
    for n in [
        0, 1, 240, 241, 1023, 1024, 1025, 2048, 2049, 5000, 65_536, 65_537, 70_000,
    ] {
        let buf = &big[..n];
        let want = Kernels::scalar().xxh3_64(buf);
        for (i, k) in ks.iter().enumerate() {
            for step in [1usize, 1000, 1024, 4096, 16_384, n.max(1)] {
                let mut st = Xxh3Progress::new(n);
                let mut ready = 0;
                while ready < n {
                    ready = (ready + step).min(n);
                    k.xxh3_advance(&mut st, buf, ready);
                }
                // Finish on this level and on another one.
                let other = &ks[(i + 1) % ks.len()];
                assert_eq!(
                    k.xxh3_finish(st.clone(), buf),
                    want,
                    "{} n={n} step={step}",
                    k.name()
                );
                assert_eq!(
                    other.xxh3_finish(st, buf),
                    want,
                    "{} then {} n={n}",
                    k.name(),
                    other.name()
                );
            }
        }
    }
}

#[test]
fn xxh3_64_and_128_match_scalar() {
    let mut rng = Rng(0x5EED_0FC0_FFEE);
    let big = rng.bytes((1 << 20) + 300);
    let mut lengths: Vec<usize> = (0..=300).collect();
    for b in [1024, 2048, 3072, 16384, 65536, 1 << 20] {
        for d in [1, 63, 64, 65] {
            lengths.extend([b - d, b, b + d]);
        }
    }
    let zeros = vec![0u8; 5000];
    let ones = vec![0xFFu8; 5000];
    for k in levels() {
        for &n in &lengths {
            for off in [0, 1, 7] {
                let d = &big[off..off + n];
                assert_eq!(
                    k.xxh3_64(d),
                    Kernels::scalar().xxh3_64(d),
                    "{} len {n} offset {off}",
                    k.name()
                );
                assert_eq!(
                    k.xxh3_128(d),
                    Kernels::scalar().xxh3_128(d),
                    "xxh3_128 {} len {n} offset {off}",
                    k.name()
                );
            }
        }
        for d in [&zeros[..], &ones[..]] {
            assert_eq!(k.xxh3_64(d), Kernels::scalar().xxh3_64(d), "{}", k.name());
            assert_eq!(k.xxh3_128(d), Kernels::scalar().xxh3_128(d), "{}", k.name());
        }
    }
    // The references are XXH3 itself: the empty input's published values
    // (XXH3-128: high half, then low half).
    assert_eq!(Kernels::scalar().xxh3_64(b""), 0x2D06_8005_38D3_94C2);
    assert_eq!(
        Kernels::scalar().xxh3_128(b""),
        0x99AA_06D3_0147_98D8_6001_C324_468D_497F
    );
}

/// Extreme models at every level: frequency-1 symbols (the encoder's
/// `rcp = 2^32 - 1` path), a dominant symbol, the smallest and largest
/// scales, and data that renormalises on nearly every symbol, on almost
/// none, or irregularly, so that every lane pattern of the vector
/// renormalisation (words taken, words written) occurs; lengths around the
/// round boundaries; and the reference's exact `Result` on truncated
/// streams of each.
#[test]
fn rans_extreme_models_match_scalar() {
    let scalar = Kernels::scalar();
    let mut rng = Rng(99);
    let mut models: Vec<(u32, RansTables)> = Vec::new();
    // Scale 1: two symbols, both of frequency 1.
    let mut f = [0u16; 256];
    f[..2].fill(1);
    models.push((1, RansTables::new(1, [0; 256], vec![f]).unwrap()));
    for bits in [9u32, 12, 15] {
        // Table 0: symbol 7 takes all but 255 slots, every other symbol 1.
        let mut dominant = [1u16; 256];
        dominant[7] = (1 << bits) - 255;
        // Table 1: flat.
        let flat = [(1u16 << bits) / 256; 256];
        let mut map = [0u8; 256];
        for (c, m) in map.iter_mut().enumerate() {
            *m = (c % 2) as u8;
        }
        models.push((
            bits,
            RansTables::new(bits, map, vec![dominant, flat]).unwrap(),
        ));
    }
    let ks = levels_quiet();
    for (bits, t) in &models {
        let alphabet = if *bits == 1 { 2 } else { 256 };
        for n in [1usize, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 4099] {
            let uniform: Vec<u8> = (0..n).map(|_| (rng.next() % alphabet) as u8).collect();
            let skewed: Vec<u8> = (0..n)
                .map(|_| match rng.next() % 16 {
                    0 => (rng.next() % alphabet) as u8,
                    _ => (7 % alphabet) as u8,
                })
                .collect();
            let ctx: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            for (dname, data) in [("uniform", &uniform), ("skewed", &skewed)] {
                // Every symbol is in every table, so any context works.
                for mode in [Ctx::Order0, Ctx::Order1, Ctx::Plane(&ctx)] {
                    let label = format!("bits={bits} {dname} n={n} {mode:?}");
                    let label = &label[..label.len().min(60)];
                    let mut want = Vec::new();
                    scalar.rans_encode(data, mode, t, &mut want).unwrap();
                    let mut cuts = vec![want.len()];
                    cuts.extend((want.len().saturating_sub(70)..want.len()).step_by(3));
                    for k in &ks {
                        let mut got = Vec::new();
                        k.rans_encode(data, mode, t, &mut got).unwrap();
                        assert!(got == want, "encode {} {label}", k.name());
                        for &cut in &cuts {
                            let s = &want[..cut];
                            let mut w = vec![0u8; n];
                            let wr = scalar.rans_decode(s, mode, t, &mut w);
                            let mut g = vec![0u8; n];
                            let gr = k.rans_decode(s, mode, t, &mut g);
                            assert_eq!(gr, wr, "decode {} {label} cut {cut}", k.name());
                            if gr.is_ok() {
                                assert!(g == *data && w == *data, "decode {} {label}", k.name());
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Data whose rolling hash cuts at chosen elements: each element picked
/// (by search) so that the hash after it does or does not end a piece.
fn crafted_cuts(rng: &mut Rng, width: usize, elems: usize) -> Vec<u8> {
    let s = z4ai_simd::cut::shift(width);
    let mask = if width == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let (mut h, mut out) = (0u32, Vec::with_capacity(elems * width));
    for _ in 0..elems {
        let want_cut = rng.next().is_multiple_of(5);
        let mut x = rng.next() & mask;
        for _ in 0..4096 {
            let next = (h << 1).wrapping_add(z4ai_simd::cut::element_hash(x));
            if (next >> s == 0) == want_cut {
                break;
            }
            x = rng.next() & mask;
        }
        h = (h << 1).wrapping_add(z4ai_simd::cut::element_hash(x));
        out.extend_from_slice(&x.to_le_bytes()[..width]);
    }
    out
}

#[test]
fn find_cut_matches_scalar() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let ks = levels();
    let scalar = Kernels::scalar();
    let mut cases = 0usize;
    let mut hits = 0usize;
    for width in [1usize, 2, 4, 8] {
        let mut inputs = patterns(&mut rng, 70_000);
        inputs.push(("crafted", crafted_cuts(&mut rng, width, 600)));
        for (name, data) in &inputs {
            let mut lens: Vec<usize> = (0..=80).chain([127, 128, 129, 200, 1000]).collect();
            lens.push(data.len());
            for elems in lens {
                for off in [0usize, 1, 3, 7] {
                    let Some(d) = data.get(off..(off + elems * width + width - 1).min(data.len()))
                    else {
                        continue;
                    };
                    for warm in [
                        0usize, 1, 7, 8, 9, 15, 16, 17, 31, 32, 63, 64, 100, 300, 600,
                    ] {
                        let want = scalar.find_cut(d, width, warm);
                        hits += usize::from(want.is_some());
                        cases += 1;
                        for k in &ks {
                            assert_eq!(
                                k.find_cut(d, width, warm),
                                want,
                                "find_cut[{}] {name} w{width} len {} off {off} warm {warm}",
                                k.name(),
                                d.len()
                            );
                        }
                    }
                }
            }
        }
        // Every cut of a long input, searched piece by piece as dedup does.
        let data = crafted_cuts(&mut rng, width, 3000);
        for k in &ks {
            // Restarting WINDOW - 1 elements before the next element that
            // may cut reproduces the hash of one scan over everything.
            let back = z4ai_simd::cut::WINDOW - 1;
            let cuts = |k: &Kernels| {
                let (mut start, mut out) = (0usize, Vec::new());
                while let Some(j) = k.find_cut(&data[start * width..], width, back) {
                    out.push(start + j);
                    start = start + j + 1 - back;
                }
                out
            };
            let (a, b) = (cuts(&scalar), cuts(k));
            assert!(
                a.len() > 20,
                "crafted data must cut often: w{width} {}",
                a.len()
            );
            assert_eq!(a, b, "find_cut[{}] w{width} cut sequence", k.name());
        }
    }
    assert!(hits > 1000, "too few cuts exercised: {hits} of {cases}");
}

#[test]
fn find_cut_scalar_is_the_rolling_hash() {
    // The reference against the definition written out: every element.
    let mut rng = Rng(99);
    for width in [1usize, 2, 4, 8] {
        let data = crafted_cuts(&mut rng, width, 500);
        let s = 20 + width.trailing_zeros();
        for warm in [0usize, 5, 31] {
            let mut h = 0u32;
            let mut want = None;
            for (i, e) in data.chunks_exact(width).enumerate() {
                let mut b = [0u8; 8];
                b[..width].copy_from_slice(e);
                let x = u64::from_le_bytes(b);
                let folded = x as u32 ^ (x >> 32) as u32;
                h = (h << 1).wrapping_add((folded ^ 0x9E37_79B9).wrapping_mul(0x85EB_CA6B));
                if i >= warm && h >> s == 0 {
                    want = Some(i);
                    break;
                }
            }
            assert!(want.is_some());
            assert_eq!(Kernels::scalar().find_cut(&data, width, warm), want);
        }
    }
}

/// Residual planes (high, low) and contexts of `n` two-byte words, a share
/// of about `escape_in` in 256 of them escaping: high byte non-zero, or
/// low byte 255.
fn escape_planes(rng: &mut Rng, n: usize, escape_in: u64) -> [Vec<u8>; 3] {
    let mut high = vec![0u8; n];
    let mut low = rng.bytes(n);
    for (h, l) in high.iter_mut().zip(&mut low) {
        let r = rng.next();
        if r % 256 < escape_in {
            if r & 0x100 != 0 {
                *h = 1 + (r >> 16) as u8 % 255;
            } else {
                *l = 255;
            }
        } else if *l == 255 {
            *l = 254;
        }
    }
    [high, low, rng.bytes(n)]
}

#[test]
fn escape_kernels_match_scalar_and_the_definition() {
    use z4ai_simd::escape::{ESCAPE, SLACK};
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    for k in levels() {
        for n in interesting_lengths() {
            for escape_in in [0, 16, 128, 256] {
                let [high, low, ctx] = escape_planes(&mut rng, n, escape_in);
                // The definition.
                let escapes: Vec<bool> = (0..n).map(|i| high[i] != 0 || low[i] == ESCAPE).collect();
                let escaped: Vec<usize> = (0..n).filter(|&i| escapes[i]).collect();
                let want_short: Vec<u8> = (0..n)
                    .map(|i| if escapes[i] { ESCAPE } else { low[i] })
                    .collect();
                let pick = |p: &[u8]| -> Vec<u8> { escaped.iter().map(|&i| p[i]).collect() };
                let (want_hi, want_lo, want_ctx) = (pick(&high), pick(&low), pick(&ctx));
                let m = escaped.len();
                let what = format!("{} n={n} escapes={m}", k.name());

                let mut short = rng.bytes(n);
                let [mut hi, mut lo, mut ec] = [0, 1, 2].map(|_| rng.bytes(n + SLACK));
                let got = k.escape_split(&high, &low, &ctx, &mut short, &mut hi, &mut lo, &mut ec);
                assert_eq!(got, m, "{what}");
                assert!(short == want_short, "{what}: short plane");
                assert!(
                    hi[..m] == want_hi && lo[..m] == want_lo,
                    "{what}: escaped bytes"
                );
                assert!(ec[..m] == want_ctx, "{what}: escaped contexts");

                for limit in [m, m + 1, m.saturating_sub(1)] {
                    let mut found = rng.bytes(limit + SLACK);
                    let r = k.escape_find(&short, &ctx, limit, &mut found);
                    if limit >= m {
                        assert_eq!(r, Some(m), "{what} limit {limit}");
                        assert!(found[..m] == want_ctx, "{what}: found contexts");
                    } else {
                        assert_eq!(r, None, "{what} limit {limit}");
                    }
                }

                let (mut h, mut l) = (rng.bytes(n), short.clone());
                k.escape_expand(&mut h, &mut l, &want_hi, &want_lo);
                assert!(h == high && l == low, "{what}: expanded planes");
            }
        }
    }
}
