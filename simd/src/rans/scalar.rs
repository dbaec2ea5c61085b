//! Scalar reference rANS coder: the specification of the stream layout.

use super::{order1_segment_len, Ctx, RansError, RansTables, HEADER_BYTES, RANS_L, STATES};

/// Appends the rANS stream coding `data` under `ctx` to `out`.
///
/// Panics if a `Ctx::Plane` context is not as long as `data`.
pub fn encode(
    data: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut Vec<u8>,
) -> Result<(), RansError> {
    let n = data.len();
    let bits = t.scale_bits();
    let mut x = [RANS_L; STATES];
    // Words in reverse decode order; reversed when written out.
    let mut words: Vec<u16> = Vec::with_capacity(n / 2 + 16);
    let mut put = |state: &mut u32, sym: u8, c: u8| -> Result<(), RansError> {
        let table = t.table_of(c);
        let f = u32::from(t.freqs(table)[usize::from(sym)]);
        if f == 0 {
            return Err(RansError::SymbolNotInTable);
        }
        let x_max = (1u32 << (31 - bits)) * f;
        if *state >= x_max {
            words.push(*state as u16);
            *state >>= 16;
        }
        let start = u32::from(t.cums(table)[usize::from(sym)]);
        *state = ((*state / f) << bits) + *state % f + start;
        Ok(())
    };
    match ctx {
        Ctx::Order0 => {
            for i in (0..n).rev() {
                put(&mut x[i % STATES], data[i], 0)?;
            }
        }
        Ctx::Plane(c) => {
            assert_eq!(c.len(), n, "context plane length differs from data");
            for i in (0..n).rev() {
                put(&mut x[i % STATES], data[i], c[i])?;
            }
        }
        Ctx::Order1 => {
            let q = order1_segment_len(n);
            for r in (0..q).rev() {
                for j in (0..STATES).rev() {
                    let i = j * q + r;
                    if i < n {
                        let c = if r == 0 { 0 } else { data[i - 1] };
                        put(&mut x[j], data[i], c)?;
                    }
                }
            }
        }
    }
    out.reserve(HEADER_BYTES + 2 * words.len());
    for s in x {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Ok(())
}

/// Decodes `out.len()` symbols from `stream` under `ctx`.
///
/// The whole stream must be consumed and the final states must equal the
/// encoder's initial ones, so truncation and most corruption are detected.
/// Panics if a `Ctx::Plane` context is not as long as `out`.
pub fn decode(
    stream: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut [u8],
) -> Result<(), RansError> {
    let n = out.len();
    let mut x = read_states(stream)?;
    let mut words = Words {
        data: stream,
        pos: HEADER_BYTES,
    };
    match ctx {
        Ctx::Order0 => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = step(&mut x[i % STATES], t, 0, &mut words)?;
            }
        }
        Ctx::Plane(c) => {
            assert_eq!(c.len(), n, "context plane length differs from output");
            for (i, o) in out.iter_mut().enumerate() {
                *o = step(&mut x[i % STATES], t, c[i], &mut words)?;
            }
        }
        Ctx::Order1 => {
            let q = order1_segment_len(n);
            for r in 0..q {
                for (j, state) in x.iter_mut().enumerate() {
                    let i = j * q + r;
                    if i < n {
                        let c = if r == 0 { 0 } else { out[i - 1] };
                        out[i] = step(state, t, c, &mut words)?;
                    }
                }
            }
        }
    }
    finish(&x, words.pos, stream.len())
}

/// Reads and range-checks the 32 initial decoder states.
pub fn read_states(stream: &[u8]) -> Result<[u32; STATES], RansError> {
    if stream.len() < HEADER_BYTES {
        return Err(RansError::Truncated);
    }
    let mut x = [0u32; STATES];
    for (j, s) in x.iter_mut().enumerate() {
        let b = &stream[4 * j..4 * j + 4];
        *s = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if !(RANS_L..1 << 31).contains(s) {
            return Err(RansError::Corrupt);
        }
    }
    Ok(x)
}

/// Checks the end-of-stream invariants: every word used, every state at `L`.
pub fn finish(x: &[u32; STATES], pos: usize, len: usize) -> Result<(), RansError> {
    if pos != len || x.iter().any(|&s| s != RANS_L) {
        return Err(RansError::Corrupt);
    }
    Ok(())
}

struct Words<'a> {
    data: &'a [u8],
    pos: usize,
}

#[inline]
fn step(x: &mut u32, t: &RansTables, c: u8, words: &mut Words<'_>) -> Result<u8, RansError> {
    let bits = t.scale_bits();
    let table = t.table_of(c);
    let slot = *x & ((1 << bits) - 1);
    let sym = t.slot_symbols()[(table << bits) + slot as usize];
    let f = u32::from(t.freqs(table)[usize::from(sym)]);
    let start = u32::from(t.cums(table)[usize::from(sym)]);
    *x = f * (*x >> bits) + slot - start;
    if *x < RANS_L {
        let p = words.pos;
        let w = words.data.get(p..p + 2).ok_or(RansError::Truncated)?;
        *x = (*x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
        words.pos = p + 2;
    }
    Ok(sym)
}
