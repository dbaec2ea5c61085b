//! The shared driver of the vector context histograms: counting from
//! buffered indices.
//!
//! The reference loads a symbol and a context byte and shifts and ors them
//! into an index for every increment. The vector levels instead build the
//! indices of a block of [`BLOCK`] pairs with byte interleaves (symbol byte
//! low, context byte high: exactly the little-endian `u16` index
//! `ctx << 8 | sym`) into a small buffer, and this driver counts them with
//! scalar increments taking four indices from each `u64`: one load, a shift
//! and an increment per pair.
//!
//! Increments of one counter in quick succession wait for each other (each
//! load waits for the previous store), so a plane dominated by one pair
//! (padding, a mostly-zero residual plane, a constant exponent) would run
//! at a fraction of the speed. While building the indices, the vector code
//! also counts the pairs equal to a reference pair, which stays while it
//! makes up at least a quarter of each block and is otherwise replaced by
//! the first pair of the block just counted. A block made of the reference
//! pair alone is counted with one add; a block where it makes up at least a
//! quarter adds their number once and increments the counters of the other
//! pairs only (compacted without branches).

use super::{scalar, CTX_TABLE_LEN};

// The `u64` words are read as four little-endian `u16` indices.
const _: () = assert!(cfg!(target_endian = "little"));

/// Pairs per block: indices buffered before counting.
pub(crate) const BLOCK: usize = 128;

/// The index buffer of one block: `BLOCK` little-endian `u16` indices.
pub(crate) type Indices = [u64; BLOCK / 4];

/// Adds `counts[ctx[i] * 256 + data[i]] += 1` for every `i`, with the same
/// result and panics as [`scalar::context`].
///
/// `index_block(d, c, r, idx)` must write the `BLOCK` indices
/// `c[j] << 8 | d[j]` to `idx` (in any order) and return how many of them
/// equal the reference index `r`.
#[inline(always)]
pub(crate) fn context(
    data: &[u8],
    ctx: &[u8],
    counts: &mut [u32],
    index_block: impl Fn(&[u8; BLOCK], &[u8; BLOCK], u16, &mut Indices) -> usize,
) {
    assert_eq!(data.len(), ctx.len(), "data and context lengths differ");
    let table: &mut [u32; CTX_TABLE_LEN] = counts
        .try_into()
        .expect("context table must hold 65536 counts");
    let mut idx: Indices = [0; BLOCK / 4];
    let mut reference = 0u16;
    let mut d_blocks = data.chunks_exact(BLOCK);
    let mut c_blocks = ctx.chunks_exact(BLOCK);
    for (d, c) in (&mut d_blocks).zip(&mut c_blocks) {
        let d: &[u8; BLOCK] = d.try_into().expect("whole blocks");
        let c: &[u8; BLOCK] = c.try_into().expect("whole blocks");
        let same = index_block(d, c, reference, &mut idx);
        if same == BLOCK {
            table[usize::from(reference)] += BLOCK as u32;
        } else if same >= BLOCK / 4 {
            table[usize::from(reference)] += same as u32;
            count_others(table, &idx, reference);
        } else {
            reference = u16::from(c[0]) << 8 | u16::from(d[0]);
            for &w in &idx {
                table[(w & 0xFFFF) as usize] += 1;
                table[(w >> 16 & 0xFFFF) as usize] += 1;
                table[(w >> 32 & 0xFFFF) as usize] += 1;
                table[(w >> 48) as usize] += 1;
            }
        }
    }
    scalar::context(d_blocks.remainder(), c_blocks.remainder(), table);
}

/// Increments the counters of the indices in `idx` other than `reference`:
/// they are first compacted into a list (every index is written, the end
/// only advances past the others), so the reference's many occurrences
/// cost no branch and no chain of increments.
#[inline(always)]
fn count_others(table: &mut [u32; CTX_TABLE_LEN], idx: &Indices, reference: u16) {
    let mut rest = [0u16; BLOCK];
    let mut n = 0;
    for &w in idx {
        for k in 0..4 {
            let i = (w >> (16 * k)) as u16;
            rest[n] = i;
            n += usize::from(i != reference);
        }
    }
    for &i in &rest[..n] {
        table[usize::from(i)] += 1;
    }
}
