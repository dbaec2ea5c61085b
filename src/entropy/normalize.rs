//! Counts to frequencies summing to `2^bits`, minimising coded size.
//!
//! Start from `max(1, floor(c * M / total))` for every present symbol, then
//! hand out (or take back) the remaining units one at a time to the symbol
//! where that changes the coded size the least, measured as
//! `count * log2(f' / f)`. This is the greedy optimum for the cross-entropy
//! of the counts under the quantised distribution.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Cand {
    score: f64,
    sym: usize,
}
impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.score.total_cmp(&o.score) == Ordering::Equal && self.sym == o.sym
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    // Highest score first; ties broken by the lower symbol for determinism.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score.total_cmp(&o.score).then(o.sym.cmp(&self.sym))
    }
}

/// Normalises `counts` to frequencies summing to `2^bits`; every symbol with
/// a non-zero count gets a non-zero frequency. An empty histogram gives all
/// the mass to symbol 0. Requires `8 <= bits <= 15`.
pub fn normalize(counts: &[u32; 256], bits: u32) -> [u16; 256] {
    debug_assert!((8..=15).contains(&bits));
    let m = 1u64 << bits;
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let mut f = [0u16; 256];
    if total == 0 {
        f[0] = m as u16;
        return f;
    }
    let mut sum = 0u64;
    for s in 0..256 {
        let c = u64::from(counts[s]);
        if c > 0 {
            let v = (c * m / total).max(1);
            f[s] = v as u16;
            sum += v;
        }
    }
    if sum < m {
        // Gain of one more unit: c * log2((f + 1) / f).
        let mut heap: BinaryHeap<Cand> = (0..256)
            .filter(|&s| counts[s] > 0)
            .map(|s| Cand {
                score: gain(counts[s], f[s]),
                sym: s,
            })
            .collect();
        for _ in sum..m {
            let Cand { sym, .. } = heap.pop().expect("a present symbol");
            f[sym] += 1;
            heap.push(Cand {
                score: gain(counts[sym], f[sym]),
                sym,
            });
        }
    } else if sum > m {
        // Cost of one unit less: c * log2(f / (f - 1)); take the cheapest.
        let mut heap: BinaryHeap<Cand> = (0..256)
            .filter(|&s| f[s] > 1)
            .map(|s| Cand {
                score: -loss(counts[s], f[s]),
                sym: s,
            })
            .collect();
        for _ in m..sum {
            let Cand { sym, .. } = heap.pop().expect("some frequency above one");
            f[sym] -= 1;
            if f[sym] > 1 {
                heap.push(Cand {
                    score: -loss(counts[sym], f[sym]),
                    sym,
                });
            }
        }
    }
    f
}

fn gain(c: u32, f: u16) -> f64 {
    f64::from(c) * ((f64::from(f) + 1.0) / f64::from(f)).log2()
}

fn loss(c: u32, f: u16) -> f64 {
    f64::from(c) * (f64::from(f) / (f64::from(f) - 1.0)).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(counts: &[u32; 256], bits: u32) -> [u16; 256] {
        let f = normalize(counts, bits);
        assert_eq!(f.iter().map(|&x| u32::from(x)).sum::<u32>(), 1 << bits);
        for s in 0..256 {
            assert_eq!(counts[s] > 0, f[s] > 0, "symbol {s}");
        }
        f
    }

    #[test]
    fn sums_and_presence() {
        let mut c = [0u32; 256];
        assert_eq!(
            normalize(&c, 12)[0],
            4096,
            "empty histogram: all mass on symbol 0"
        );
        c[7] = 1;
        assert_eq!(check(&c, 12)[7], 4096);
        let all = [1u32; 256];
        assert!(check(&all, 8).iter().all(|&x| x == 1));
        let mut skew = [1u32; 256];
        skew[3] = 1_000_000;
        check(&skew, 10);
        let ramp: [u32; 256] = std::array::from_fn(|i| (i * i) as u32);
        check(&ramp, 15);
    }

    #[test]
    fn close_to_entropy() {
        let counts: [u32; 256] =
            std::array::from_fn(|i| if i < 40 { 1000 + 37 * i as u32 } else { 0 });
        let f = check(&counts, 14);
        let total: f64 = counts.iter().map(|&c| f64::from(c)).sum();
        let coded: f64 = (0..256)
            .filter(|&s| counts[s] > 0)
            .map(|s| f64::from(counts[s]) * (16384.0 / f64::from(f[s])).log2())
            .sum();
        let h = crate::entropy::entropy_bits(&counts);
        assert!(
            coded <= h * 1.0005 + 1.0,
            "coded {coded} vs entropy {h} over {total}"
        );
    }
}
