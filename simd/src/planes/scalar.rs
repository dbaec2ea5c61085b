//! Scalar reference for plane split and merge: the specification.

use super::{check_args, check_merge_args};

/// Splits `src` (elements of `width` bytes) into `width` byte planes in `dst`,
/// rotating each element left by one bit first when `rotate` is set.
pub fn split(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
    check_args(src, width, dst);
    let n = src.len() / width;
    let r = rotate as u32;
    match width {
        1 => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s.rotate_left(r);
            }
        }
        2 => {
            let (hi, lo) = dst.split_at_mut(n);
            for (i, e) in src.chunks_exact(2).enumerate() {
                let w = u16::from_le_bytes([e[0], e[1]]).rotate_left(r);
                hi[i] = (w >> 8) as u8;
                lo[i] = w as u8;
            }
        }
        4 => {
            for (i, e) in src.chunks_exact(4).enumerate() {
                let w = u32::from_le_bytes([e[0], e[1], e[2], e[3]]).rotate_left(r);
                for p in 0..4 {
                    dst[p * n + i] = (w >> (8 * (3 - p))) as u8;
                }
            }
        }
        _ => {
            for (i, e) in src.chunks_exact(8).enumerate() {
                let w = u64::from_le_bytes(e.try_into().unwrap()).rotate_left(r);
                for p in 0..8 {
                    dst[p * n + i] = (w >> (8 * (7 - p))) as u8;
                }
            }
        }
    }
}

/// Inverse of [`split`]: gathers `width` planes from `src` back into elements.
pub fn merge(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
    check_args(src, width, dst);
    merge_from(&super::plane_slices(src, width)[..width], rotate, dst);
}

/// [`merge`] from planes held anywhere: `planes[p]` is plane `p` (most
/// significant byte first), each `dst.len() / planes.len()` bytes.
pub fn merge_from(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) {
    check_merge_args(planes, dst);
    let r = rotate as u32;
    match planes {
        [one] => {
            for (d, &s) in dst.iter_mut().zip(*one) {
                *d = s.rotate_right(r);
            }
        }
        [hi, lo] => {
            for (i, e) in dst.chunks_exact_mut(2).enumerate() {
                let w = (u16::from(hi[i]) << 8 | u16::from(lo[i])).rotate_right(r);
                e.copy_from_slice(&w.to_le_bytes());
            }
        }
        [_, _, _, _] => {
            for (i, e) in dst.chunks_exact_mut(4).enumerate() {
                let mut w = 0u32;
                for plane in planes {
                    w = w << 8 | u32::from(plane[i]);
                }
                e.copy_from_slice(&w.rotate_right(r).to_le_bytes());
            }
        }
        _ => {
            for (i, e) in dst.chunks_exact_mut(8).enumerate() {
                let mut w = 0u64;
                for plane in planes {
                    w = w << 8 | u64::from(plane[i]);
                }
                e.copy_from_slice(&w.rotate_right(r).to_le_bytes());
            }
        }
    }
}
