//! Portable order-0 histogram with more independent counters than the
//! reference: eight sub-tables fed from one `u64` load per eight bytes.
//!
//! Eight tables keep a run of equal bytes (a constant plane, a dominant
//! exponent) from serialising on one counter's store-to-load chain for
//! longer than every eighth byte, and the wide load replaces eight byte
//! loads. Measured at 5-15% over the reference on x86 (docs/KERNELS.md);
//! the `sse2` level uses it.

/// Sub-tables: byte `j` of every 8-byte word goes to table `j`.
const TABLES: usize = 8;

/// Counts per sub-table row: 256 plus padding, so that no two tables start
/// a multiple of 4 KiB apart. Unpadded, tables `j` and `j + 4` would, and a
/// load from one then waits on a store to the other at the same symbol
/// (4K aliasing in the memory disambiguation); on a bf16 exponent plane this
/// cost about 25% in some runs.
const STRIDE: usize = 272;

/// Adds the order-0 counts of `data` to `counts`; same result as
/// [`super::scalar::order0`].
pub fn order0(data: &[u8], counts: &mut [u32; 256]) {
    let mut sub = [[0u32; STRIDE]; TABLES];
    let mut words = data.chunks_exact(TABLES);
    for w in &mut words {
        // Byte order is irrelevant: every byte is counted once.
        let x = u64::from_ne_bytes(w.try_into().expect("chunks of 8 bytes"));
        sub[0][(x & 0xFF) as usize] += 1;
        sub[1][(x >> 8 & 0xFF) as usize] += 1;
        sub[2][(x >> 16 & 0xFF) as usize] += 1;
        sub[3][(x >> 24 & 0xFF) as usize] += 1;
        sub[4][(x >> 32 & 0xFF) as usize] += 1;
        sub[5][(x >> 40 & 0xFF) as usize] += 1;
        sub[6][(x >> 48 & 0xFF) as usize] += 1;
        sub[7][(x >> 56) as usize] += 1;
    }
    for &b in words.remainder() {
        sub[0][usize::from(b)] += 1;
    }
    for (s, c) in counts.iter_mut().enumerate() {
        *c += sub.iter().map(|t| t[s]).sum::<u32>();
    }
}
