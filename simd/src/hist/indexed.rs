//! The shared driver of the vector context histograms: counting from
//! buffered indices.
//!
//! The reference loads a symbol and a context byte and shifts and ors them
//! into an index for every increment. The vector levels instead build the
//! indices of a block of [`BLOCK`] pairs with byte interleaves (symbol byte
//! low, context byte high: exactly the little-endian `u16` index
//! `ctx << 8 | sym`) into a small buffer, and this driver counts them with
//! scalar increments taking four indices from each `u64`: one load, a shift
//! and an increment per pair. A block whose pairs are all the same (a
//! constant run: padding, a plane of zeros) is counted with one add instead
//! of [`BLOCK`] increments that would each wait on the previous one's store.

use super::{scalar, CTX_TABLE_LEN};

// The `u64` words are read as four little-endian `u16` indices.
const _: () = assert!(cfg!(target_endian = "little"));

/// Pairs per block: indices buffered before counting.
pub(crate) const BLOCK: usize = 128;

/// The index buffer of one block: `BLOCK` little-endian `u16` indices.
pub(crate) type Indices = [u64; BLOCK / 4];

/// Adds `counts[ctx[i] * 256 + data[i]] += 1` for every `i`, with the same
/// result and panics as [`scalar::context`]. `index_block(d, c, idx)` must
/// write the `BLOCK` indices `c[j] << 8 | d[j]` to `idx` (in any order) and
/// return whether all `(d[j], c[j])` pairs are equal.
#[inline(always)]
pub(crate) fn context(
    data: &[u8],
    ctx: &[u8],
    counts: &mut [u32],
    index_block: impl Fn(&[u8; BLOCK], &[u8; BLOCK], &mut Indices) -> bool,
) {
    assert_eq!(data.len(), ctx.len(), "data and context lengths differ");
    let table: &mut [u32; CTX_TABLE_LEN] = counts
        .try_into()
        .expect("context table must hold 65536 counts");
    let mut idx: Indices = [0; BLOCK / 4];
    let mut d_blocks = data.chunks_exact(BLOCK);
    let mut c_blocks = ctx.chunks_exact(BLOCK);
    for (d, c) in (&mut d_blocks).zip(&mut c_blocks) {
        let d: &[u8; BLOCK] = d.try_into().expect("whole blocks");
        let c: &[u8; BLOCK] = c.try_into().expect("whole blocks");
        if index_block(d, c, &mut idx) {
            table[usize::from(c[0]) << 8 | usize::from(d[0])] += BLOCK as u32;
        } else {
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
