//! The shuffle-and-transpose plane kernel, written once for any vector of
//! 128-bit lanes with an in-lane byte shuffle (AVX2, AVX-512).
//!
//! A block is `16 * LANES` elements. For width `W`, lane `l` of vector `r`
//! (`r < W`) is loaded from the `r`-th 16 bytes of the `l`-th group of 16
//! elements, so every lane holds `16 / W` whole elements. An in-lane byte
//! shuffle groups each lane's bytes by plane (`W` units of `16 / W` bytes,
//! most significant byte first), and a `W x W` transpose of those units
//! across the `W` vectors (`unpack{lo,hi}` on 64-, 32- and 16-bit units)
//! leaves in vector `p` lane `l` the plane-`p` bytes of the `l`-th group of
//! 16 elements: one contiguous store per plane. No lane-crossing shuffle is
//! needed. Merge runs the same steps backwards (the transpose is its own
//! inverse).

/// A vector of `LANES` 128-bit lanes.
///
/// # Safety
///
/// Every method may execute instructions of the implementing ISA: callers
/// must have checked that the CPU supports it.
pub(crate) unsafe trait Lanes: Copy {
    const LANES: usize;
    /// Lane `l` from `p + l * stride` (16 bytes each).
    unsafe fn load_lanes(p: *const u8, stride: usize) -> Self;
    /// Lane `l` to `p + l * stride`.
    unsafe fn store_lanes(self, p: *mut u8, stride: usize);
    unsafe fn load(p: *const u8) -> Self;
    unsafe fn store(self, p: *mut u8);
    /// The 16-byte pattern in every lane.
    unsafe fn splat(m: &[u8; 16]) -> Self;
    /// In-lane byte shuffle (`pshufb`).
    unsafe fn shuffle(self, m: Self) -> Self;
    unsafe fn unpack(self, b: Self, unit_bits: u32, hi: bool) -> Self;
    /// Rotate every `8 * width`-bit element left by one.
    unsafe fn rotl1(self, width: usize) -> Self;
    /// Rotate every `8 * width`-bit element right by one.
    unsafe fn rotr1(self, width: usize) -> Self;
}

/// In-lane shuffle that groups the bytes of `16 / w` elements by plane.
const fn split_mask(w: usize) -> [u8; 16] {
    let mut m = [0u8; 16];
    let per = 16 / w;
    let mut p = 0;
    while p < w {
        let mut e = 0;
        while e < per {
            m[p * per + e] = (e * w + (w - 1 - p)) as u8;
            e += 1;
        }
        p += 1;
    }
    m
}

/// The inverse of [`split_mask`].
const fn merge_mask(w: usize) -> [u8; 16] {
    let mut m = [0u8; 16];
    let per = 16 / w;
    let mut e = 0;
    while e < per {
        let mut b = 0;
        while b < w {
            m[e * w + b] = ((w - 1 - b) * per + e) as u8;
            b += 1;
        }
        e += 1;
    }
    m
}

const MASKS: [[[u8; 16]; 2]; 4] = [
    [split_mask(2), merge_mask(2)],
    [split_mask(4), merge_mask(4)],
    [split_mask(8), merge_mask(8)],
    [[0; 16], [0; 16]],
];

fn mask_index(w: usize) -> usize {
    match w {
        2 => 0,
        4 => 1,
        _ => 2,
    }
}

/// The `W x W` transpose of `16 / W`-byte units within each lane.
#[inline(always)]
unsafe fn transpose<V: Lanes, const W: usize>(y: &mut [V; W]) {
    match W {
        2 => {
            let (a, b) = (y[0], y[1]);
            y[0] = a.unpack(b, 64, false);
            y[1] = a.unpack(b, 64, true);
        }
        4 => {
            let t0 = y[0].unpack(y[1], 32, false);
            let t1 = y[0].unpack(y[1], 32, true);
            let t2 = y[2].unpack(y[3], 32, false);
            let t3 = y[2].unpack(y[3], 32, true);
            y[0] = t0.unpack(t2, 64, false);
            y[1] = t0.unpack(t2, 64, true);
            y[2] = t1.unpack(t3, 64, false);
            y[3] = t1.unpack(t3, 64, true);
        }
        8 => {
            let mut s = [y[0]; 8];
            for k in 0..4 {
                s[2 * k] = y[2 * k].unpack(y[2 * k + 1], 16, false);
                s[2 * k + 1] = y[2 * k].unpack(y[2 * k + 1], 16, true);
            }
            // s[2k] has words 0..4 of the pair, s[2k+1] words 4..8.
            let mut t = [y[0]; 8];
            for h in 0..2 {
                // pairs (s0, s2) and (s4, s6) for h = 0; (s1, s3), (s5, s7) for h = 1
                for k in 0..2 {
                    let (a, b) = (s[4 * k + h], s[4 * k + h + 2]);
                    t[4 * k + 2 * h] = a.unpack(b, 32, false);
                    t[4 * k + 2 * h + 1] = a.unpack(b, 32, true);
                }
            }
            // t[0..4] hold words (0,1), (2,3), (4,5), (6,7) of y0..y3; t[4..8]
            // the same of y4..y7.
            for u in 0..4 {
                y[2 * u] = t[u].unpack(t[u + 4], 64, false);
                y[2 * u + 1] = t[u].unpack(t[u + 4], 64, true);
            }
        }
        _ => {}
    }
}

/// Splits the whole blocks of `src` into `dst`; returns the elements done.
///
/// # Safety
///
/// The CPU supports `V`'s ISA; `src.len() == dst.len()`, a multiple of `W`.
#[inline(always)]
pub(crate) unsafe fn split<V: Lanes, const W: usize, const ROT: bool>(
    src: &[u8],
    dst: &mut [u8],
) -> usize {
    let n = src.len() / W;
    let per = 16 * V::LANES;
    let blocks = n / per;
    let mask = V::splat(&MASKS[mask_index(W)][0]);
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    for b in 0..blocks {
        let mut y = [mask; W];
        for (r, v) in y.iter_mut().enumerate() {
            // Lane `l` of vector `r` is the 16 bytes at `b * per * W + 16 * r
            // + 16 * W * l`, inside block `b` (`per * W` bytes from `b * per *
            // W`), which `b < blocks` keeps inside `src`.
            let mut x = V::load_lanes(s.add(b * per * W + 16 * r), 16 * W);
            if ROT {
                x = x.rotl1(W);
            }
            *v = x.shuffle(mask);
        }
        transpose::<V, W>(&mut y);
        for (p, v) in y.iter().enumerate() {
            // Plane `p` elements `b * per .. (b + 1) * per`, inside `dst`.
            v.store(d.add(p * n + b * per));
        }
    }
    blocks * per
}

/// Merges the whole blocks of `planes` into `dst`; returns the elements
/// done.
///
/// # Safety
///
/// The CPU supports `V`'s ISA; `planes` holds `W` planes of
/// `dst.len() / W` bytes each.
#[inline(always)]
pub(crate) unsafe fn merge<V: Lanes, const W: usize, const ROT: bool>(
    planes: &[&[u8]],
    dst: &mut [u8],
) -> usize {
    let n = dst.len() / W;
    let per = 16 * V::LANES;
    let blocks = n / per;
    let mask = V::splat(&MASKS[mask_index(W)][1]);
    let s: [*const u8; W] = std::array::from_fn(|p| planes[p].as_ptr());
    let d = dst.as_mut_ptr();
    for b in 0..blocks {
        let mut y = [mask; W];
        for (p, v) in y.iter_mut().enumerate() {
            *v = V::load(s[p].add(b * per));
        }
        transpose::<V, W>(&mut y);
        for (r, v) in y.iter().enumerate() {
            let mut x = v.shuffle(mask);
            if ROT {
                x = x.rotr1(W);
            }
            x.store_lanes(d.add(b * per * W + 16 * r), 16 * W);
        }
    }
    blocks * per
}
