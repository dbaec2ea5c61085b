//! Palette: a chunk whose elements take at most 256 distinct values is
//! stored as a value table plus one byte index per element.
//!
//! The table is sorted by the rotated bit pattern (sign at the bottom), so a
//! value and its negation sit next to each other; indices are then
//! entropy-coded like any byte plane.

use std::collections::HashMap;

/// Largest palette.
pub const MAX_VALUES: usize = 256;

/// `(values, indices)` when `data` (whole elements of `width` 2, 4 or 8
/// bytes) has at most 256 distinct values; `values` holds the distinct
/// elements' bytes in table order.
pub fn build(data: &[u8], width: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    if !matches!(width, 2 | 4 | 8) || data.is_empty() || !data.len().is_multiple_of(width) {
        return None;
    }
    let word = |e: &[u8]| {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(e);
        u64::from_le_bytes(b)
    };
    let mut seen: HashMap<u64, u8> = HashMap::with_capacity(MAX_VALUES * 2);
    for e in data.chunks_exact(width) {
        let w = word(e);
        if !seen.contains_key(&w) {
            if seen.len() == MAX_VALUES {
                return None;
            }
            seen.insert(w, 0);
        }
    }
    let bits = 8 * width as u32;
    let rot = |w: u64| ((w << 1) | (w >> (bits - 1))) & (u64::MAX >> (64 - bits));
    let mut values: Vec<u64> = seen.keys().copied().collect();
    values.sort_unstable_by_key(|&w| rot(w));
    for (i, v) in values.iter().enumerate() {
        seen.insert(*v, i as u8);
    }
    let indices = data.chunks_exact(width).map(|e| seen[&word(e)]).collect();
    let table = values
        .iter()
        .flat_map(|v| v.to_le_bytes()[..width].to_vec())
        .collect();
    Some((table, indices))
}

/// Rebuilds the elements from a value table and indices; `None` when an
/// index is outside the table.
pub fn apply(values: &[u8], indices: &[u8], width: usize, out: &mut [u8]) -> Option<()> {
    let k = values.len() / width;
    if out.len() != indices.len() * width {
        return None;
    }
    for (o, &i) in out.chunks_exact_mut(width).zip(indices) {
        let i = usize::from(i);
        if i >= k {
            return None;
        }
        o.copy_from_slice(&values[i * width..(i + 1) * width]);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let data: Vec<u8> = (0..1000u32)
            .flat_map(|i| ((i % 37) as f32 * -0.5).to_le_bytes())
            .collect();
        let (values, idx) = build(&data, 4).unwrap();
        assert_eq!(values.len(), 37 * 4);
        let mut out = vec![0u8; data.len()];
        apply(&values, &idx, 4, &mut out).unwrap();
        assert_eq!(out, data);
        let many: Vec<u8> = (0..300u16).flat_map(|i| i.to_le_bytes()).collect();
        assert!(build(&many, 2).is_none());
        assert!(
            apply(&values[..8], &idx, 4, &mut out).is_none(),
            "index out of table"
        );
    }
}
