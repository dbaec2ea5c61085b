//! Checkpoint deltas: a chunk coded as its residual against the same bytes
//! of a reference (payload layout 5, see `docs/FORMAT.md`).
//!
//! Residual modes, chosen per chunk by entropy estimate (or trial at `max`):
//! * XOR of the words (ZipLLM's BitX);
//! * integer difference in the order-preserving integer domain of the float
//!   (for integers, the plain wrapping difference), zig-zagged so that small
//!   moves of either sign are small numbers.
//!
//! The residual words are split into byte planes (most significant first)
//! and each plane is coded with rANS under a *delta context* (see
//! [`contexts`]): the reference element's exponent while the more
//! significant residual bytes are zero, else the leading non-zero byte just
//! above. Small moves of a weight depend on its magnitude, which the
//! reference's exponent tells; unchanged elements cost a fraction of a bit.

use z4ai_simd::rans::Ctx;
use z4ai_simd::Kernels;

use crate::chunk::{self, CtxKind, EncodedChunk, ModelSel, PlaneCode};
use crate::dtype::DType;
use crate::entropy::{self, CostTable};
use crate::error::{Error, Result};
use crate::format::Reader;
use crate::options::Effort;

/// Payload layout: delta against the reference.
pub const LAYOUT_DELTA: u8 = 5;
const MODE_XOR: u8 = 0;
const MODE_SUB: u8 = 1;
const CTX_BITS: u32 = 12;

/// Replaces each `W`-byte little-endian word `x` of `out` by `f(x, y)`,
/// `y` the word at the same place in `b`; `W` is a constant so that every
/// load and store is a fixed-size move.
fn map_words<const W: usize>(out: &mut [u8], b: &[u8], f: impl Fn(u64, u64) -> u64) {
    let word = |e: &[u8]| {
        let mut x = [0u8; 8];
        x[..W].copy_from_slice(e);
        u64::from_le_bytes(x)
    };
    for (o, y) in out.chunks_exact_mut(W).zip(b.chunks_exact(W)) {
        let v = f(word(o), word(y));
        o.copy_from_slice(&v.to_le_bytes()[..W]);
    }
}

/// [`map_words`] for a run-time width of 1, 2, 4 or 8 bytes.
fn map_width(w: usize, out: &mut [u8], b: &[u8], f: impl Fn(u64, u64) -> u64) {
    match w {
        1 => map_words::<1>(out, b, f),
        2 => map_words::<2>(out, b, f),
        4 => map_words::<4>(out, b, f),
        _ => map_words::<8>(out, b, f),
    }
}

struct Domain {
    bits: u32,
    float: bool,
}

impl Domain {
    fn of(dtype: DType) -> Domain {
        Domain {
            bits: 8 * dtype.width() as u32,
            float: dtype.is_float(),
        }
    }
    fn mask(&self) -> u64 {
        u64::MAX >> (64 - self.bits)
    }
    fn sign(&self) -> u64 {
        1 << (self.bits - 1)
    }
    /// Order-preserving key of a float's bits (identity for integers).
    fn key(&self, u: u64) -> u64 {
        if !self.float {
            u
        } else if u & self.sign() != 0 {
            !u & self.mask()
        } else {
            u | self.sign()
        }
    }
    fn unkey(&self, k: u64) -> u64 {
        if !self.float {
            k
        } else if k & self.sign() != 0 {
            k & !self.sign()
        } else {
            !k & self.mask()
        }
    }
    fn residual(&self, mode: u8, new: u64, old: u64) -> u64 {
        if mode == MODE_XOR {
            return new ^ old;
        }
        let d = self.key(new).wrapping_sub(self.key(old)) & self.mask();
        let neg = if d & self.sign() != 0 { self.mask() } else { 0 };
        ((d << 1) & self.mask()) ^ neg
    }
    fn apply(&self, mode: u8, res: u64, old: u64) -> u64 {
        if mode == MODE_XOR {
            return res ^ old;
        }
        let d = (res >> 1) ^ if res & 1 == 1 { self.mask() } else { 0 };
        self.unkey(self.key(old).wrapping_add(d) & self.mask())
    }
}

/// The integer dtype of the residual words (no rotation in the split).
fn residual_dtype(width: usize) -> DType {
    match width {
        1 => DType::U8,
        2 => DType::I16,
        4 => DType::I32,
        _ => DType::I64,
    }
}

/// Delta contexts of plane `p` (residual planes are most significant first):
/// * every more significant residual byte zero: the reference's exponent
///   byte, capped at 127 (weights of magnitude >= 1 share one context);
/// * the plane just above holds the leading non-zero byte `b`:
///   `128 + min(b, 126)` (the size of the move shapes this byte);
/// * a non-zero byte two or more planes up: 255 (this byte is noise).
pub fn contexts(planes: &[u8], n: usize, p: usize, ref_exp: &[u8]) -> Vec<u8> {
    let mut ctx: Vec<u8> = ref_exp.iter().map(|&e| e.min(127)).collect();
    for q in 0..p {
        let plane = &planes[q * n..(q + 1) * n];
        for (c, &b) in ctx.iter_mut().zip(plane) {
            if *c >= 128 {
                *c = 255;
            } else if b != 0 {
                *c = 128 + b.min(126);
            }
        }
    }
    ctx
}

fn reference_exponents(reference: &[u8], dtype: DType, n: usize, k: &Kernels) -> Vec<u8> {
    let mut planes = chunk::split(&reference[..n * dtype.width()], dtype, k);
    planes.truncate(n);
    planes
}

/// Codes one plane under its delta contexts: `(code, estimated bits)`.
fn code_plane(plane: &[u8], ctx: &[u8], k: &Kernels, trial: bool) -> (PlaneCode, f64) {
    let n = plane.len();
    let mut o0 = [0u32; 256];
    k.hist_order0(plane, &mut o0);
    if o0.iter().filter(|&&c| c > 0).count() <= 1 {
        return (PlaneCode::Const(plane.first().copied().unwrap_or(0)), 16.0);
    }
    let mut hist = vec![0u32; 65536];
    k.hist_context(plane, ctx, &mut hist);
    let model = entropy::build_context_model(&hist, CTX_BITS, false);
    let mut ser = Vec::new();
    entropy::serialize_model(&model, &mut ser);
    let est = CostTable::new(&model).context(&hist) + 8.0 * (ser.len() + 7 + 128) as f64;
    if est >= 8.0 * n as f64 && !trial {
        return (PlaneCode::Raw, 8.0 * n as f64);
    }
    let mut stream = Vec::new();
    match k.rans_encode(plane, Ctx::Plane(ctx), &model, &mut stream) {
        Ok(()) if 7 + ser.len() + stream.len() < 1 + n => {
            let bits = 8.0 * (7 + ser.len() + stream.len()) as f64;
            (
                PlaneCode::Rans(CtxKind::Delta, ModelSel::Inline(model), stream),
                bits,
            )
        }
        _ => (PlaneCode::Raw, 8.0 * n as f64),
    }
}

fn residual_planes(
    raw: &[u8],
    reference: &[u8],
    dtype: DType,
    mode: u8,
    k: &Kernels,
) -> (Vec<u8>, Vec<u8>) {
    let w = dtype.width();
    let n = raw.len() / w;
    let dom = Domain::of(dtype);
    let mut res = raw.to_vec();
    map_width(w, &mut res[..n * w], reference, |a, b| {
        dom.residual(mode, a, b)
    });
    let planes = chunk::split(&res, residual_dtype(w), k);
    (res, planes)
}

/// Codes `raw` against the same-length prefix `reference`. Returns the
/// payload (layout 5) and its size, or `None` when the chunk is too short.
pub fn encode(
    raw: &[u8],
    reference: &[u8],
    dtype: DType,
    effort: Effort,
    k: &Kernels,
) -> Option<Vec<u8>> {
    let w = dtype.width();
    let n = raw.len() / w;
    if n == 0 || reference.len() < n * w {
        return None;
    }
    let ref_exp = reference_exponents(reference, dtype, n, k);
    let modes: &[u8] = if dtype == DType::Bytes {
        &[MODE_XOR]
    } else {
        &[MODE_SUB, MODE_XOR]
    };
    let trial = effort == Effort::Max;
    let mut best: Option<(f64, u8, Vec<u8>, EncodedChunk)> = None;
    for &mode in modes {
        let (res, planes) = residual_planes(raw, reference, dtype, mode, k);
        let mut bits = 0.0;
        let mut codes = Vec::with_capacity(w);
        for p in 0..w {
            let ctx = contexts(&planes, n, p, &ref_exp);
            let (code, b) = code_plane(&planes[p * n..(p + 1) * n], &ctx, k, trial);
            bits += b;
            codes.push(code);
        }
        if best.as_ref().is_none_or(|(bb, ..)| bits < *bb) {
            best = Some((bits, mode, res, EncodedChunk { planes, codes }));
        }
    }
    let (_, mode, res, enc) = best?;
    let mut out = vec![LAYOUT_DELTA, mode];
    let mut refs = Vec::new();
    chunk::write_chunk(&res, &enc, residual_dtype(w), &mut out, &mut refs);
    debug_assert!(refs.is_empty(), "delta residuals use inline models only");
    Some(out)
}

/// Decodes a layout-5 payload (after its layout byte) into `out` using the
/// same bytes of the reference.
pub fn decode(
    r: &mut Reader<'_>,
    dtype: DType,
    reference: &[u8],
    k: &Kernels,
    out: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let w = dtype.width();
    let n = out.len() / w;
    let reference = reference
        .get(..n * w)
        .ok_or_else(|| Error::corrupt("delta chunk reaches past the reference"))?;
    let mode = r.u8("delta mode")?;
    if mode > MODE_SUB || (dtype == DType::Bytes && mode != MODE_XOR) {
        return Err(Error::corrupt(format!("unknown delta mode {mode}")));
    }
    let ref_exp = reference_exponents(reference, dtype, n, k);
    let body = r.bytes(r.remaining(), "delta body")?;
    chunk::decode_chunk_with(
        body,
        residual_dtype(w),
        &[],
        k,
        out,
        scratch,
        Some(&ref_exp),
    )?;
    let dom = Domain::of(dtype);
    map_width(w, &mut out[..n * w], reference, |r, b| {
        dom.apply(mode, r, b)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residuals_invert() {
        for (dtype, vals) in [
            (
                DType::BF16,
                vec![0u64, 0x8000, 0x3F80, 0xBF80, 0x7FC1, 0xFFFF, 1],
            ),
            (
                DType::F32,
                vec![0, 0x8000_0000, 0x3F80_0000, 0xBF80_0001, u32::MAX as u64],
            ),
            (DType::I16, vec![0, 1, 0xFFFF, 0x8000, 0x7FFF]),
        ] {
            let dom = Domain::of(dtype);
            for &a in &vals {
                for &b in &vals {
                    for mode in [MODE_XOR, MODE_SUB] {
                        assert_eq!(
                            dom.apply(mode, dom.residual(mode, a, b), b),
                            a,
                            "{dtype} {a:#x} {b:#x}"
                        );
                    }
                }
            }
        }
        // One ULP up or down across zero is a tiny residual.
        let dom = Domain::of(DType::BF16);
        assert_eq!(dom.residual(MODE_SUB, 0x0001, 0x0000), 2);
        assert_eq!(dom.residual(MODE_SUB, 0x8000, 0x0000), 1);
    }
}
