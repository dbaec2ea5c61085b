//! The one-element-at-a-time search of [`super::scalar`] with a software
//! prefetch 1 KiB ahead, for the SSE2 level (AVX2 and AVX-512 have vector
//! searches: without `pmulld`, SSE2 would pay for the multiply with two
//! `pmuludq` and shuffles). Over data streamed from
//! memory the hardware prefetcher alone left the scalar loop at 45% of its
//! in-cache speed here (1.63 against 3.66 GiB/s, bf16).

use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};

use super::{scalar::element, shift, PREFETCH};

/// Bytes searched between rounds of prefetches: a multiple of every width.
const SPAN: usize = 512;

/// See [`super::scalar::find_cut`].
pub(crate) fn find_cut(data: &[u8], width: usize, warm: usize) -> Option<usize> {
    by_width!(width, find_w(data, warm))
}

fn find_w<const W: usize>(data: &[u8], warm: usize) -> Option<usize> {
    let n = data.len() / W;
    let warm = warm.min(n);
    let s = shift(W);
    let mut h = data[..warm * W]
        .chunks_exact(W)
        .fold(0u32, |h, e| (h << 1).wrapping_add(element::<W>(e)));
    let mut base = warm;
    for span in data[warm * W..n * W].chunks(SPAN) {
        for line in (0..SPAN).step_by(64) {
            let p = span.as_ptr().wrapping_add(PREFETCH + line);
            // SAFETY: a prefetch is only a hint (past the end it reads
            // nothing and cannot fault), and SSE is part of x86-64.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
        }
        let hit = span.chunks_exact(W).position(|e| {
            h = (h << 1).wrapping_add(element::<W>(e));
            h >> s == 0
        });
        if let Some(j) = hit {
            return Some(base + j);
        }
        base += SPAN / W;
    }
    None
}
