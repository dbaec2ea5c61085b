//! Scalar reference of the escape kernels (see the module above).

use super::{check_split, ESCAPE, STEP};

const _: () = assert!(ESCAPE == 0xff, "escape_bytes tests for all ones");

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The top bit of each byte of `x` that is not zero.
#[inline(always)]
fn nonzero_bytes(x: u64) -> u64 {
    (((x & LOW7) + LOW7) | x) & HIGH
}

/// Bit `i` of the result: the top bit of byte `i` of `x` (all other bits
/// of `x` clear). The eight partial products land on distinct bits, so
/// nothing carries into the top byte.
#[inline(always)]
fn gather_flags(x: u64) -> u64 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Eight bytes as a little-endian word.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// The top bit of each byte of `x` that is [`ESCAPE`] (all ones: its
/// complement is zero).
#[inline(always)]
fn escape_bytes(x: u64) -> u64 {
    HIGH & !nonzero_bytes(!x)
}

/// `b` (at most [`STEP`] bytes) zero-padded to a step.
#[inline(always)]
fn padded(b: &[u8]) -> [u8; STEP] {
    let mut p = [0; STEP];
    p[..b.len()].copy_from_slice(b);
    p
}

/// Splits one step: the short symbols of residual bytes `h`, `l` into `s`;
/// returns the escape mask.
#[inline(always)]
fn split_step(h: &[u8; STEP], l: &[u8; STEP], s: &mut [u8; STEP]) -> u64 {
    let mut mask = 0;
    for (w, ((s, h), l)) in s
        .chunks_exact_mut(8)
        .zip(h.chunks_exact(8))
        .zip(l.chunks_exact(8))
        .enumerate()
    {
        let (hw, lw) = (word(h), word(l));
        let flags = nonzero_bytes(hw) | escape_bytes(lw);
        mask |= gather_flags(flags) << (8 * w);
        // An escaped byte becomes 0xff.
        s.copy_from_slice(&(lw | (flags >> 7).wrapping_mul(0xff)).to_le_bytes());
    }
    mask
}

/// The escape mask of one step of a short plane.
#[inline(always)]
fn escape_step(s: &[u8; STEP]) -> u64 {
    s.chunks_exact(8).enumerate().fold(0, |mask, (w, s)| {
        mask | gather_flags(escape_bytes(word(s))) << (8 * w)
    })
}

/// Calls `f(first element, step, escape mask)` for every step of the short
/// plane `short` (the last one zero-padded: padding never escapes).
#[inline(always)]
fn for_escape_steps(short: &[u8], mut f: impl FnMut(usize, u64)) {
    let (steps, last) = short.as_chunks::<STEP>();
    for (i, s) in steps.iter().enumerate() {
        f(i * STEP, escape_step(s));
    }
    if !last.is_empty() {
        f(short.len() - last.len(), escape_step(&padded(last)));
    }
}

/// Splits residual words of two bytes, given as planes `high` and `low`
/// (with a context byte each in `ctx`), into the short plane `short` (the
/// low byte where the word is below [`ESCAPE`], else [`ESCAPE`]) and, for
/// the escaped words in order, their high bytes, low bytes and context
/// bytes into `hi`, `lo` and `esc_ctx`; returns the number of escapes.
/// Bytes of `hi`, `lo` and `esc_ctx` past the escapes are unspecified.
///
/// Panics unless `low`, `ctx` and `short` are as long as `high` and the
/// outputs have room for every element plus [`SLACK`](super::SLACK).
pub fn split(
    high: &[u8],
    low: &[u8],
    ctx: &[u8],
    short: &mut [u8],
    hi: &mut [u8],
    lo: &mut [u8],
    esc_ctx: &mut [u8],
) -> usize {
    check_split(high, low, ctx, short, [hi, lo, esc_ctx]);
    let mut j = 0;
    for (((s, h), l), c) in short
        .chunks_mut(STEP)
        .zip(high.chunks(STEP))
        .zip(low.chunks(STEP))
        .zip(ctx.chunks(STEP))
    {
        let mut mask = match (s.try_into(), h.try_into(), l.try_into()) {
            (Ok(s), Ok(h), Ok(l)) => split_step(h, l, s),
            _ => {
                // The last, short step: padding bytes do not escape.
                let mut full = [0; STEP];
                let mask = split_step(&padded(h), &padded(l), &mut full);
                s.copy_from_slice(&full[..s.len()]);
                mask
            }
        };
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            hi[j] = h[i];
            lo[j] = l[i];
            esc_ctx[j] = c[i];
            j += 1;
            mask &= mask - 1;
        }
    }
    j
}

/// The context bytes (`ctx`, one per element) of the escapes of the short
/// plane `short`, in order, into `esc_ctx`: their number, or `None` when
/// there are more than `limit` (then `esc_ctx` holds some of them). Bytes
/// of `esc_ctx` past the escapes are unspecified.
///
/// Panics unless `ctx` is as long as `short` and `esc_ctx` has room for
/// `limit + SLACK` bytes.
pub fn find(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &mut [u8]) -> Option<usize> {
    super::check_find(short, ctx, limit, esc_ctx);
    let mut j = 0;
    let mut over = false;
    for_escape_steps(short, |at, mut mask| {
        if over || j + mask.count_ones() as usize > limit {
            over = true;
            return;
        }
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            esc_ctx[j] = ctx[at + i];
            j += 1;
            mask &= mask - 1;
        }
    });
    (!over).then_some(j)
}

/// Turns a short plane in `low` back into residual planes `high` and
/// `low`: where `low` holds [`ESCAPE`], the next bytes of `hi` and `lo`;
/// elsewhere `high` gets 0 and `low` keeps its byte.
///
/// Panics unless `high` is as long as `low` and `low` holds exactly
/// `hi.len() == lo.len()` escapes ([`find`] tells).
pub fn expand(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) {
    let placed = expand_counted(high, low, hi, lo);
    assert_eq!(
        placed,
        hi.len(),
        "escape expand: fewer escapes than escaped bytes"
    );
}

/// [`expand`] where `low` may hold fewer escapes than `hi` has bytes: the
/// number placed.
pub(crate) fn expand_counted(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) -> usize {
    super::check_expand(high, low, hi, lo);
    high.fill(0);
    let n = high.len();
    let mut j = 0;
    let (steps, last) = low.as_chunks_mut::<STEP>();
    let mut place = |at: usize, l: &mut [u8], mut mask: u64| {
        assert!(
            j + mask.count_ones() as usize <= hi.len(),
            "escape expand: more escapes than escaped bytes"
        );
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            high[at + i] = hi[j];
            l[i] = lo[j];
            j += 1;
            mask &= mask - 1;
        }
    };
    for (i, s) in steps.iter_mut().enumerate() {
        let mask = escape_step(s);
        place(i * STEP, s, mask);
    }
    if !last.is_empty() {
        let mask = escape_step(&padded(last));
        place(n - last.len(), last, mask);
    }
    j
}
