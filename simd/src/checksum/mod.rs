//! XXH3-64 (seed 0, default secret), the checksum of chunks, dedup pieces
//! and references, and XXH3-128, the checksum of archive pieces: inputs up
//! to 240 bytes go to `xxhash-rust`, and so do
//! long inputs at the scalar level (that crate is the reference); the SIMD
//! levels run the long-input loop — 64-byte stripes accumulated into eight
//! `u64` lanes, scrambled every 1 KiB block — in vector registers, then
//! finish with the same merge.
//!
//! Long-input algorithm (XXH3 specification): for each stripe `s` of a
//! block, lane `i` takes `d = read64(stripe, 8i)`, `k = d ^
//! read64(secret, 8s + 8i)`, then `acc[i ^ 1] += d` and `acc[i] +=
//! lo32(k) * hi32(k)`; after 16 stripes `acc[i] = (acc[i] ^ (acc[i] >> 47)
//! ^ read64(secret, 128 + 8i)) * PRIME32_1`. A last partial block takes
//! its whole stripes, then the input's last 64 bytes with the secret at
//! 121; the eight lanes are merged with the secret at 11.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

/// Longest input hashed by the short-input paths of XXH3.
pub const MID_SIZE_MAX: usize = 240;
const STRIPE: usize = 64;
const STRIPES_PER_BLOCK: usize = 16;
const BLOCK: usize = STRIPE * STRIPES_PER_BLOCK;
const SCRAMBLE_AT: usize = 128;
const LAST_STRIPE_AT: usize = 121;
const MERGE_AT: usize = 11;
/// Where XXH3-128's high half reads its merge keys: 64 + 11 bytes before
/// the secret's end.
const MERGE_HIGH_AT: usize = 192 - 64 - MERGE_AT;
/// The scramble multiplier.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const PRIME32_1: u64 = 0x9E37_79B1;
const PRIME32_2: u64 = 0x85EB_CA77;
const PRIME32_3: u64 = 0xC2B2_AE3D;
const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

/// The accumulator lanes before the first stripe.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const INITIAL_ACC: [u64; 8] = [
    PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1,
];

/// The default secret of the XXH3 specification (192 bytes).
const SECRET: [u8; 192] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
];

/// XXH3-64 of `data` (seed 0): the reference every level must match.
pub fn scalar(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}

/// XXH3-128 of `data` (seed 0): the reference every level must match.
pub fn scalar_128(data: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(data)
}

/// Eight `u64` accumulator lanes held in one ISA's vector registers.
///
/// # Safety
///
/// Implementations use instructions of one ISA level; callers must only
/// reach them from functions compiled for that level (`#[target_feature]`)
/// and only on CPUs that have it. `input` and `key` must point to 64
/// readable bytes.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) unsafe trait Lanes: Copy {
    /// The lanes set to `acc`.
    unsafe fn load(acc: &[u64; 8]) -> Self;
    /// Accumulates one stripe of input with its keys.
    unsafe fn stripe(self, input: *const u8, key: *const u8) -> Self;
    /// Scrambles the lanes with the keys at `key`.
    unsafe fn scramble(self, key: *const u8) -> Self;
    /// The lanes, in order.
    unsafe fn to_array(self) -> [u64; 8];
}

/// XXH3-64 of a buffer hashed while it is being written front to back:
/// [`crate::Kernels::xxh3_advance`] takes the whole 1 KiB blocks of the
/// part written so far (in cache, just after it was written), and
/// [`crate::Kernels::xxh3_finish`] the rest, giving
/// [`crate::Kernels::xxh3_64`] of the whole buffer. It only caches work:
/// a level that does not advance (scalar, NEON) hashes the whole buffer
/// when finishing, so any levels may be mixed.
#[derive(Clone, Debug)]
pub struct Xxh3Progress {
    acc: [u64; 8],
    blocks: usize,
    total: usize,
}

impl Xxh3Progress {
    /// Nothing taken yet of a buffer of `total` bytes.
    pub fn new(total: usize) -> Xxh3Progress {
        Xxh3Progress {
            acc: INITIAL_ACC,
            blocks: 0,
            total,
        }
    }

    /// Blocks the long-input loop scrambles: all whole ones but the last
    /// byte's (none for short inputs, which have another algorithm).
    fn scrambled_blocks(&self) -> usize {
        if self.total <= MID_SIZE_MAX {
            0
        } else {
            (self.total - 1) / BLOCK
        }
    }
}

/// Takes the scrambled blocks of `buf` (the whole buffer) that lie in its
/// first `ready` bytes and were not taken yet.
///
/// # Safety
///
/// As for [`hash_with`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) unsafe fn advance_with<L: Lanes>(st: &mut Xxh3Progress, buf: &[u8], ready: usize) {
    assert_eq!(buf.len(), st.total, "hashed buffer changed length");
    let upto = (ready.min(buf.len()) / BLOCK).min(st.scrambled_blocks());
    if upto <= st.blocks {
        return;
    }
    let (p, k) = (buf.as_ptr(), SECRET.as_ptr());
    let mut acc = L::load(&st.acc);
    for b in st.blocks..upto {
        for s in 0..STRIPES_PER_BLOCK {
            // SAFETY: stripe s of block b ends at (b + 1) * BLOCK <= ready
            // <= len; its keys end at 8 * 15 + 64 = 184 <= 192.
            acc = acc.stripe(p.add(b * BLOCK + s * STRIPE), k.add(s * 8));
        }
        // SAFETY: the scramble keys are the secret's last 64 bytes.
        acc = acc.scramble(k.add(SCRAMBLE_AT));
    }
    st.acc = acc.to_array();
    st.blocks = upto;
}

/// XXH3-64 of `buf`, using the blocks `st` has taken.
///
/// # Safety
///
/// As for [`hash_with`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) unsafe fn finish_with<L: Lanes>(st: Xxh3Progress, buf: &[u8]) -> u64 {
    if buf.len() <= MID_SIZE_MAX {
        return scalar(buf);
    }
    let len = buf.len() as u64;
    merge(
        final_acc::<L>(st, buf),
        MERGE_AT,
        len.wrapping_mul(PRIME64_1),
    )
}

/// XXH3-128 of `data` with the long-input loop run on `L`: the same
/// accumulation as XXH3-64, merged twice (the low half as XXH3-64 merges,
/// the high half with the secret at [`MERGE_HIGH_AT`] and another start).
///
/// # Safety
///
/// As for [`hash_with`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) unsafe fn hash128_with<L: Lanes>(data: &[u8]) -> u128 {
    if data.len() <= MID_SIZE_MAX {
        return scalar_128(data);
    }
    let len = data.len() as u64;
    let acc = final_acc::<L>(Xxh3Progress::new(data.len()), data);
    let low = merge(acc, MERGE_AT, len.wrapping_mul(PRIME64_1));
    let high = merge(acc, MERGE_HIGH_AT, !len.wrapping_mul(PRIME64_2));
    u128::from(high) << 64 | u128::from(low)
}

/// The accumulator lanes after every stripe of `buf` (longer than
/// [`MID_SIZE_MAX`]), using the blocks `st` has taken.
///
/// # Safety
///
/// As for [`hash_with`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
unsafe fn final_acc<L: Lanes>(mut st: Xxh3Progress, buf: &[u8]) -> [u64; 8] {
    advance_with::<L>(&mut st, buf, buf.len());
    let blocks = st.blocks;
    let tail_stripes = (buf.len() - 1 - blocks * BLOCK) / STRIPE;
    let (p, k) = (buf.as_ptr(), SECRET.as_ptr());
    let mut acc = L::load(&st.acc);
    for s in 0..tail_stripes {
        // SAFETY: these stripes end at or before len - 1; s < 16.
        acc = acc.stripe(p.add(blocks * BLOCK + s * STRIPE), k.add(s * 8));
    }
    // SAFETY: len > 240, so the last 64 bytes exist; keys end at 185.
    acc = acc.stripe(p.add(buf.len() - STRIPE), k.add(LAST_STRIPE_AT));
    acc.to_array()
}

/// XXH3-64 of `data` with the long-input loop run on `L`.
///
/// # Safety
///
/// The CPU must support the ISA of `L`, and the caller must be compiled
/// for it (this is inlined into each level's `#[target_feature]` entry).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) unsafe fn hash_with<L: Lanes>(data: &[u8]) -> u64 {
    finish_with::<L>(Xxh3Progress::new(data.len()), data)
}

/// [`crate::Kernels::xxh3_advance`] of the levels without a long-input
/// loop of their own: nothing (finishing hashes the whole buffer).
pub fn advance_none(_: &mut Xxh3Progress, _: &[u8], _: usize) {}

/// [`crate::Kernels::xxh3_finish`] of those levels: [`scalar`].
pub fn finish_scalar(_: Xxh3Progress, buf: &[u8]) -> u64 {
    scalar(buf)
}

/// A 64-bit hash of a long input from its final accumulator lanes: the
/// lanes mixed in pairs with the secret at `at`, summed from `start`.
fn merge(acc: [u64; 8], at: usize, start: u64) -> u64 {
    let key = |k: usize| u64::from_le_bytes(SECRET[at + k..at + k + 8].try_into().unwrap());
    let mut h = start;
    for i in 0..4 {
        let a = acc[2 * i] ^ key(16 * i);
        let b = acc[2 * i + 1] ^ key(16 * i + 8);
        let p = u128::from(a) * u128::from(b);
        h = h.wrapping_add(p as u64 ^ (p >> 64) as u64);
    }
    h ^= h >> 37;
    h = h.wrapping_mul(0x1656_6791_9E37_79F9);
    h ^ (h >> 32)
}
