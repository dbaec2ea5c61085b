//! Deterministic test inputs shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use z4ai::DType;

/// xorshift64* generator: deterministic, no dependencies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Approximately N(0, std) (sum of uniforms).
    pub fn gauss(&mut self, std: f64) -> f64 {
        let s: f64 = (0..6)
            .map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64)
            .sum();
        (s - 3.0) * std * std::f64::consts::SQRT_2
    }
}

/// `n` elements of `dtype` that look like trained weights, as bytes.
pub fn weights(dtype: DType, n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut out = Vec::with_capacity(n * dtype.width());
    for _ in 0..n {
        let x = r.gauss(0.02);
        match dtype {
            DType::BF16 => out.extend_from_slice(&((x as f32).to_bits() >> 16).to_le_bytes()[..2]),
            DType::F16 => out.extend_from_slice(&f32_to_f16(x as f32).to_le_bytes()),
            DType::F32 => out.extend_from_slice(&(x as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&x.to_le_bytes()),
            DType::I8 | DType::U8 | DType::F8E4M3 | DType::F8E5M2 => {
                out.push((x * 3000.0) as i8 as u8)
            }
            DType::I16 => out.extend_from_slice(&((x * 30000.0) as i16).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&((x * 1e8) as i32).to_le_bytes()),
            DType::I64 => out.extend_from_slice(&((x * 1e15) as i64).to_le_bytes()),
            _ => out.push(r.next() as u8),
        }
    }
    out
}

/// Truncating f32 -> f16 bit conversion (good enough for test data).
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let e = ((b >> 23) & 0xFF) as i32 - 127 + 15;
    if e <= 0 {
        return sign;
    }
    if e >= 31 {
        return sign | 0x7C00;
    }
    sign | ((e as u16) << 10) | ((b >> 13) & 0x3FF) as u16
}

/// Special bit patterns: NaN payloads, signed zeros, subnormals, infinities.
pub fn specials(dtype: DType, n: usize) -> Vec<u8> {
    let pats: Vec<u64> = match dtype.width() {
        2 => vec![
            0x7FC1, 0xFFFF, 0x8000, 0x0000, 0x0001, 0x807F, 0x7F80, 0xFF80, 0x7C01, 0x3C00,
        ],
        4 => vec![
            0x7FC0_0001,
            0xFFFF_FFFF,
            0x8000_0000,
            0,
            1,
            0x807F_FFFF,
            0x7F80_0000,
            0xFF80_0000,
        ],
        8 => vec![
            0x7FF8_0000_0000_0001,
            u64::MAX,
            1 << 63,
            0,
            1,
            0x7FF0_0000_0000_0000,
        ],
        _ => vec![0x7F, 0xFF, 0x80, 0, 1, 0x79],
    };
    let w = dtype.width();
    (0..n)
        .flat_map(|i| pats[i % pats.len()].to_le_bytes()[..w].to_vec())
        .collect()
}

/// `rows x cols` quantized weights: codes in `[-qmax, qmax]` (roughly
/// Gaussian) times a per-row f32 scale, rounded into `dtype` (RNE).
pub fn quantized_rows(dtype: DType, rows: usize, cols: usize, qmax: i32, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut out = Vec::new();
    for row in 0..rows {
        let s = (0.02 * (1.0 + 0.1 * row as f64) / f64::from(qmax)) as f32;
        for _ in 0..cols {
            let q = (r.gauss(f64::from(qmax) / 2.5).round() as i32).clamp(-qmax, qmax);
            let x = q as f32 * s;
            match dtype {
                DType::BF16 => {
                    let u = x.to_bits();
                    let b = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) as u16;
                    out.extend_from_slice(&b.to_le_bytes());
                }
                DType::F16 => out.extend_from_slice(&f32_to_f16_rne(x).to_le_bytes()),
                _ => out.extend_from_slice(&x.to_le_bytes()),
            }
        }
    }
    out
}

/// f32 -> IEEE half bits, round to nearest even (normal and subnormal range).
pub fn f32_to_f16_rne(x: f32) -> u16 {
    let sign = if x.is_sign_negative() { 0x8000u16 } else { 0 };
    let a = f64::from(x.abs());
    if a >= 65520.0 {
        return sign | 0x7C00;
    }
    if a < 2f64.powi(-14) {
        return sign | (a * 2f64.powi(24)).round_ties_even() as u16;
    }
    let e = a.log2().floor() as i32;
    let m = (a / 2f64.powi(e) - 1.0) * 1024.0;
    let m = m.round_ties_even() as u32;
    let (e, m) = if m == 1024 { (e + 1, 0) } else { (e, m) };
    sign | (((e + 15) as u16) << 10) | m as u16
}

/// Runs the `z4ai` binary with `args` in `dir`.
pub fn run_cli(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_z4ai"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The stdout of a successful run; panics with its stderr otherwise.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `n` fp32 (or, with `fp64`, fp64) elements drawn from a codebook of `k`
/// N(0, 0.02) values (k-means weight clustering): a wide palette's input
/// when `k > 256`.
pub fn codebook(n: usize, k: usize, fp64: bool, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let book: Vec<f64> = (0..k).map(|_| r.gauss(0.02)).collect();
    (0..n)
        .flat_map(|_| {
            let v = book[(r.next() % k as u64) as usize];
            if fp64 {
                v.to_le_bytes().to_vec()
            } else {
                (v as f32).to_le_bytes().to_vec()
            }
        })
        .collect()
}

/// `z4` (an archive) with its index rewritten by `edit` and the footer
/// recomputed to match, so that only the index's own rules and the frames
/// it points at can tell the change.
pub fn with_index(z4: &[u8], edit: impl FnOnce(&mut z4ai::archive::format::Index)) -> Vec<u8> {
    use z4ai::archive::format::{footer, parse_footer};
    let f = parse_footer(&z4[z4.len() - 32..], z4.len() as u64).unwrap();
    let mut index = z4ai::Archive::from_bytes(z4.to_vec())
        .unwrap()
        .index()
        .clone();
    edit(&mut index);
    let bytes = index.to_bytes();
    let mut out = z4[..f.offset as usize].to_vec();
    out.extend_from_slice(&bytes);
    out.extend_from_slice(&footer(f.offset, &bytes, index.version()));
    out
}

/// Makes piece `pi` of file `fi` claim `len` bytes, keeping the index
/// consistent with itself: its frames' `raw_len` (and the reference slice
/// of a copy of the reference) say the same, the later pieces move and the file's size follows. Only
/// the frames (and the reference) can show the claim false.
pub fn claim_piece_len(index: &mut z4ai::archive::format::Index, fi: usize, pi: usize, len: u64) {
    let file = &mut index.files[fi];
    let old = file.pieces[pi].len;
    let grow = |v: u64| v.wrapping_add(len).wrapping_sub(old);
    for &fr in &file.pieces[pi].frames {
        let raw = &mut index.frames[fr as usize].raw_len;
        *raw = grow(*raw);
    }
    if file.pieces[pi].transform == z4ai::archive::format::TRANSFORM_REF_COPY {
        let r = file.pieces[pi].reference.as_mut().unwrap();
        r.len = grow(r.len);
    }
    file.pieces[pi].len = len;
    for p in &mut file.pieces[pi + 1..] {
        p.offset = grow(p.offset);
    }
    file.size = grow(file.size);
}
