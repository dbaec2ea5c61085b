//! Dedup: content that repeats inside a block is stored once; later
//! occurrences become copies of the first.
//!
//! 1. Content-defined pieces: a rolling hash (shift and add a
//!    multiplicative hash of each element) advanced one element at a time
//!    (so repeats at any element-aligned offset cut at the same places)
//!    marks boundaries where its top bits are zero; pieces are 1 to 64 KiB,
//!    about 4 KiB on average. Fixed 8 MiB segments are cut independently,
//!    so the result does not depend on the thread count.
//! 2. Each piece is hashed (XXH3-64); the first occurrence of a (hash,
//!    length) pair is remembered, later ones are compared byte for byte.
//! 3. A match is extended forwards and backwards byte by byte, trimmed to
//!    whole elements, and kept when at least [`MIN_COPY`] bytes long.
//!
//! Copies point at *literal* bytes only (never at the target of another
//! copy) and their source ends before their target starts, so a decoder can
//! decode every chunk's literals in parallel and then apply all copies in
//! any order. The index holds one entry per piece (~4 KiB), so its memory is
//! bounded by the block size.

use std::collections::HashMap;

use rayon::prelude::*;
use z4ai_simd::cut::WINDOW;
use z4ai_simd::Kernels;

/// Shortest copy worth a reference.
pub const MIN_COPY: usize = 256;
const MIN_PIECE: usize = 1 << 10;
// The skip after a cut (see `cut`) needs a window of elements of the
// widest dtype to fit in a minimal piece.
const _: () = assert!(MIN_PIECE > WINDOW * 8);
const MAX_PIECE: usize = 64 << 10;
const SEGMENT: usize = 8 << 20;
/// Longest backward extension.
const MAX_BACK: usize = 32 << 10;

/// `len` bytes at `target` equal the bytes at `source` (offsets within the
/// block; `source + len <= target`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copy {
    /// Where the repeated bytes go.
    pub target: usize,
    /// Where their first occurrence is.
    pub source: usize,
    /// How many bytes.
    pub len: usize,
}

/// Piece boundaries (end offsets) of one segment of `width`-byte elements,
/// handed to `piece_end` in order as they are found (so the caller can hash
/// each piece while it is still in cache). The rolling hash and its cut
/// condition are [`z4ai_simd::cut`]'s.
fn cut(seg: &[u8], width: usize, k: &Kernels, mut piece_end: impl FnMut(usize)) {
    let n = seg.len() / width * width;
    let mut start = 0;
    // No cut falls within MIN_PIECE of the previous one, and the hash only
    // remembers its last WINDOW elements (each step shifts older ones out):
    // so it starts WINDOW - 1 elements before the first element that may
    // end a piece, and the cuts are exactly those of a scan over every
    // element.
    while start + MIN_PIECE <= n {
        let first = start + MIN_PIECE - width;
        let last = (start + MAX_PIECE).min(n);
        let hit = k.find_cut(&seg[first - (WINDOW - 1) * width..last], width, WINDOW - 1);
        let end = match hit {
            Some(j) => first + (j + 2 - WINDOW) * width,
            None if last == start + MAX_PIECE => last,
            None => break,
        };
        piece_end(end);
        start = end;
    }
    if start < seg.len() {
        piece_end(seg.len());
    }
}

/// Finds copies inside `data` (one block). Deterministic for any thread count.
pub fn find(data: &[u8], width: usize, k: &Kernels) -> Vec<Copy> {
    if data.len() < 2 * MIN_PIECE {
        return Vec::new();
    }
    let seg = SEGMENT / width * width;
    let pieces: Vec<(usize, usize, u64)> = data
        .par_chunks(seg)
        .enumerate()
        .flat_map_iter(|(si, s)| {
            let base = si * seg;
            let mut prev = 0;
            let mut out = Vec::with_capacity(s.len() / 4096 + 1);
            cut(s, width, k, |end| {
                out.push((base + prev, end - prev, k.xxh3_64(&s[prev..end])));
                prev = end;
            });
            out
        })
        .collect();
    let mut first: HashMap<(u64, usize), usize> = HashMap::with_capacity(pieces.len());
    // Recent literal pieces, so a backward extension can retire them.
    let mut recent: Vec<(u64, usize, usize)> = Vec::new();
    let mut copies: Vec<Copy> = Vec::new();
    let mut covered = 0usize;
    for &(start, len, h) in &pieces {
        if start < covered {
            continue;
        }
        let src = first.get(&(h, len)).copied();
        let Some(s) = src.filter(|&s| data[s..s + len] == data[start..start + len]) else {
            first.entry((h, len)).or_insert(start);
            recent.push((h, len, start));
            if recent.len() > 64 {
                recent.drain(..32);
            }
            continue;
        };
        // Limits: the source must stay on literal bytes and end before the
        // target; the target must not reach back into an earlier copy.
        let (lit_lo, lit_hi) = literal_span(&copies, s);
        let (mut src, mut tgt, mut n) = (s, start, len);
        while tgt > covered
            && src > lit_lo
            && start - tgt < MAX_BACK
            && data[src - 1] == data[tgt - 1]
        {
            src -= 1;
            tgt -= 1;
            n += 1;
        }
        let hi = lit_hi.min(tgt);
        while src + n < hi && tgt + n < data.len() && data[src + n] == data[tgt + n] {
            n += 1;
        }
        if src + n > tgt {
            n = tgt - src;
        }
        // Whole elements at element-aligned offsets.
        let skip = (width - tgt % width) % width;
        if n <= skip {
            continue;
        }
        let (src, tgt) = (src + skip, tgt + skip);
        let n = (n - skip) / width * width;
        if n < MIN_COPY {
            continue;
        }
        copies.push(Copy {
            target: tgt,
            source: src,
            len: n,
        });
        covered = tgt + n;
        // Literal pieces now covered by the target are no longer sources.
        recent.retain(|&(rh, rl, rs)| {
            let keep = rs + rl <= tgt;
            if !keep && first.get(&(rh, rl)) == Some(&rs) {
                first.remove(&(rh, rl));
            }
            keep
        });
    }
    copies
}

/// The literal span around `pos`: between the copy targets before and after it.
fn literal_span(copies: &[Copy], pos: usize) -> (usize, usize) {
    // Copies are sorted by target and do not overlap.
    let i = copies.partition_point(|c| c.target + c.len <= pos);
    let lo = if i == 0 {
        0
    } else {
        copies[i - 1].target + copies[i - 1].len
    };
    let hi = copies.get(i).map_or(usize::MAX, |c| c.target);
    (lo, hi)
}

/// Checks copies read from a frame against a block of `size` bytes: sorted,
/// disjoint targets inside the block, each source ending before its target
/// and lying on literal bytes only. Returns a reason on failure.
pub fn validate(copies: &[Copy], size: usize) -> Result<(), &'static str> {
    let mut end = 0usize;
    for c in copies {
        let t_end = c.target.checked_add(c.len).ok_or("copy overflows")?;
        if c.len == 0 || c.target < end || t_end > size {
            return Err("copy targets overlap or leave the block");
        }
        if c.source
            .checked_add(c.len)
            .is_none_or(|s_end| s_end > c.target)
        {
            return Err("copy source does not end before its target");
        }
        end = t_end;
    }
    for c in copies {
        let (lo, hi) = literal_span(copies, c.source);
        if c.source < lo || c.source + c.len > hi {
            return Err("copy source overlaps another copy's target");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    fn apply(data: &[u8], copies: &[Copy]) -> Vec<u8> {
        let mut out = vec![0u8; data.len()];
        let mut pos = 0;
        for c in copies {
            out[pos..c.target].copy_from_slice(&data[pos..c.target]);
            pos = c.target + c.len;
        }
        out[pos..].copy_from_slice(&data[pos..]);
        for c in copies {
            out.copy_within(c.source..c.source + c.len, c.target);
        }
        out
    }

    #[test]
    fn finds_unaligned_repeats_and_reconstructs() {
        let a = noise(300_000, 1);
        let b = noise(50_000, 2);
        let mut data = a.clone();
        data.extend_from_slice(&b);
        data.extend_from_slice(&a[1234..200_000]); // repeat at another offset
        data.extend_from_slice(&noise(10_000, 3));
        data.extend_from_slice(&b);
        for width in [1, 2] {
            let copies = find(&data, width, &Kernels::active());
            validate(&copies, data.len()).unwrap();
            let saved: usize = copies.iter().map(|c| c.len).sum();
            assert!(saved > 240_000, "width {width}: saved {saved}");
            assert_eq!(apply(&data, &copies), data);
        }
        assert!(find(&noise(500_000, 9), 2, &Kernels::active()).is_empty());
    }

    /// The rolling hash's value of one element (`W` bytes, little-endian),
    /// written out independently of the kernels.
    fn element_hash<const W: usize>(e: &[u8]) -> u32 {
        let mut b = [0u8; 8];
        b[..W].copy_from_slice(&e[..W]);
        let x = u64::from_le_bytes(b);
        ((x as u32 ^ (x >> 32) as u32) ^ 0x9E37_79B9).wrapping_mul(0x85EB_CA6B)
    }

    /// `cut` without the skip after each cut: the hash advanced over every
    /// element.
    fn cut_every_element(seg: &[u8], width: usize) -> Vec<usize> {
        let bits = 12 - width.trailing_zeros();
        let (mut ends, mut start, mut h) = (Vec::new(), 0, 0u32);
        let n = seg.len() / width * width;
        for i in (0..n).step_by(width) {
            let v = match width {
                1 => element_hash::<1>(&seg[i..]),
                2 => element_hash::<2>(&seg[i..]),
                4 => element_hash::<4>(&seg[i..]),
                _ => element_hash::<8>(&seg[i..]),
            };
            h = (h << 1).wrapping_add(v);
            let len = i + width - start;
            if (len >= MIN_PIECE && h >> (32 - bits) == 0) || len >= MAX_PIECE {
                ends.push(i + width);
                start = i + width;
            }
        }
        if start < seg.len() {
            ends.push(seg.len());
        }
        ends
    }

    #[test]
    fn skipping_after_a_cut_keeps_every_cut() {
        // Noise, long runs (MAX_PIECE cuts), low-entropy bytes, odd tails.
        let mut data = noise(400_003, 4);
        data.extend(vec![0u8; 150_000]);
        data.extend(noise(90_001, 5).iter().map(|b| b & 3));
        for width in [1, 2, 4, 8] {
            for len in [0, 1, 1023, 1024, 1025, 70_000, data.len()] {
                let seg = &data[..len];
                let want = cut_every_element(seg, width);
                for k in z4ai_simd::Isa::supported_levels()
                    .into_iter()
                    .filter_map(Kernels::for_isa)
                {
                    let mut got = Vec::new();
                    cut(seg, width, &k, |end| got.push(end));
                    assert_eq!(got, want, "{width} {len} {}", k.isa());
                }
            }
        }
    }

    #[test]
    fn validation_rejects_bad_copies() {
        let ok = [Copy {
            target: 100,
            source: 0,
            len: 50,
        }];
        assert!(validate(&ok, 200).is_ok());
        assert!(validate(
            &[Copy {
                target: 100,
                source: 60,
                len: 50
            }],
            200
        )
        .is_err());
        assert!(validate(
            &[Copy {
                target: 180,
                source: 0,
                len: 50
            }],
            200
        )
        .is_err());
        let chained = [
            Copy {
                target: 100,
                source: 0,
                len: 50,
            },
            Copy {
                target: 160,
                source: 110,
                len: 20,
            },
        ];
        assert!(validate(&chained, 200).is_err());
        assert!(validate(
            &[Copy {
                target: 10,
                source: usize::MAX,
                len: 5
            }],
            200
        )
        .is_err());
    }
}
