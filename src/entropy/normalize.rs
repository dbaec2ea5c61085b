//! Counts to frequencies summing to `2^bits`, minimising coded size.
//!
//! Start from `max(1, floor(c * M / total))` for every present symbol, then
//! hand out (or take back) the remaining units one at a time to the symbol
//! where that changes the coded size the least, measured as
//! `count * log2(f' / f)`. This is the greedy optimum for the cross-entropy
//! of the counts under the quantised distribution.

use std::sync::OnceLock;

/// The symbols with a score, highest first: a tournament tree over the 256
/// symbols, each inner node holding the winner of its two subtrees (the
/// higher score, the lower symbol on a tie). Picks exactly as a max-heap
/// of `(score, reversed symbol)` pops, with one comparison per tree level
/// per update and no moves.
struct Tournament {
    /// Scores by symbol as [`order_key`]s; `key[NONE]` is below every
    /// real score (indices past `NONE` unused: a masked index needs no
    /// bounds check).
    key: [i64; 512],
    /// `win[i]`: the winning symbol under node `i` (leaves at `256 + s`),
    /// or [`NONE`].
    win: [u16; 512],
}

/// No symbol (an empty subtree): it loses to every symbol.
const NONE: u16 = 256;

/// An integer that orders as `f64::total_cmp` orders the floats.
#[inline(always)]
fn order_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

impl Tournament {
    /// The symbols `s` with `score[s]` given (finite), all competing.
    fn new(scores: impl Iterator<Item = (usize, f64)>) -> Tournament {
        let mut t = Tournament {
            key: [order_key(f64::NEG_INFINITY); 512],
            win: [NONE; 512],
        };
        for (s, v) in scores {
            t.key[s] = order_key(v);
            t.win[256 + s] = s as u16;
        }
        for i in (1..256).rev() {
            let (a, b) = (t.win[2 * i], t.win[2 * i + 1]);
            // A tie goes to the left subtree's winner, the lower symbol.
            let right = t.key[usize::from(b) & 511] > t.key[usize::from(a) & 511];
            t.win[i] = if right { b } else { a };
        }
        t
    }

    /// The symbol with the highest score (the lowest such on a tie).
    fn top(&self) -> Option<usize> {
        (self.win[1] != NONE).then_some(usize::from(self.win[1]))
    }

    /// Gives symbol `s` a new (finite) score, or takes it out with `None`.
    /// The path's winner and its key are carried up in registers: each
    /// level reads only the sibling, which no earlier level wrote, so the
    /// levels do not wait on each other's stores.
    #[inline(always)]
    fn set(&mut self, s: usize, score: Option<f64>) {
        let s = s & 255;
        let (mut cur, mut ck) = match score {
            Some(v) => {
                self.key[s] = order_key(v);
                (s as u16, self.key[s])
            }
            None => (NONE, self.key[usize::from(NONE)]),
        };
        let mut node = 256 + s;
        self.win[node] = cur;
        while node > 1 {
            let sib = self.win[node ^ 1];
            let sk = self.key[usize::from(sib) & 511];
            // The sibling is the left subtree (lower symbols, wins ties)
            // when this node is a right child.
            let take = sk > ck || (node & 1 == 1 && sk == ck);
            if take {
                cur = sib;
                ck = sk;
            }
            node >>= 1;
            self.win[node] = cur;
        }
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
    if sum < m && !one_unit_each(counts, &mut f, (m - sum) as usize) {
        // Gain of one more unit: c * log2((f + 1) / f).
        let mut t = Tournament::new(
            (0..256)
                .filter(|&s| counts[s] > 0)
                .map(|s| (s, gain(counts[s], f[s]))),
        );
        for _ in sum..m {
            let sym = t.top().expect("a present symbol");
            f[sym] += 1;
            t.set(sym, Some(gain(counts[sym], f[sym])));
        }
    } else if sum > m {
        // Cost of one unit less: c * log2(f / (f - 1)); take the cheapest.
        let mut t = Tournament::new(
            (0..256)
                .filter(|&s| f[s] > 1)
                .map(|s| (s, -loss(counts[s], f[s]))),
        );
        for _ in m..sum {
            let sym = t.top().expect("some frequency above one");
            f[sym] -= 1;
            t.set(sym, (f[sym] > 1).then(|| -loss(counts[sym], f[sym])));
        }
    }
    f
}

/// The common case of handing out `k` (> 0) units, tried first: when the
/// `k` best first units (by gain, the lower symbol on a tie) all beat the
/// second unit of each of their symbols, the greedy gives exactly those
/// `k` symbols one unit each (a symbol's gains fall with its frequency, so
/// no other unit can enter the best `k`). Then this adds them to `f` and
/// returns true; otherwise it leaves `f` alone and returns false.
/// Requires `k` below the number of present symbols (true of the deficit:
/// flooring loses less than one unit per symbol).
fn one_unit_each(counts: &[u32; 256], f: &mut [u16; 256], k: usize) -> bool {
    let mut items = [(0i64, 0u16); 256];
    let mut n = 0;
    for s in 0..256 {
        if counts[s] > 0 {
            items[n] = (order_key(gain(counts[s], f[s])), s as u16);
            n += 1;
        }
    }
    if k == 0 || k >= n {
        return false;
    }
    let items = &mut items[..n];
    // Best first: the higher gain, then the lower symbol.
    items.select_nth_unstable_by(k - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let (kth_key, kth_sym) = items[k - 1];
    let best = &items[..k];
    let second_loses = |&(_, s): &(i64, u16)| {
        let g2 = order_key(gain(counts[usize::from(s)], f[usize::from(s)] + 1));
        g2 < kth_key || (g2 == kth_key && s > kth_sym)
    };
    if !best.iter().all(second_loses) {
        return false;
    }
    for &(_, s) in best {
        f[usize::from(s)] += 1;
    }
    true
}

/// Frequencies below this have their step logarithms tabulated (every
/// frequency of a 12-bit model).
const TABULATED: usize = 4097;

/// `log2((f + 1) / f)` and `log2(f / (f - 1))` for `f < TABULATED`,
/// computed by the same expressions as [`gain`] and [`loss`] use above
/// the table, so that a score is the same number either way (the choice
/// between near-equal scores, and with it the model, depends on it).
struct StepLogs {
    up: Vec<f64>,
    down: Vec<f64>,
}

fn step_logs() -> &'static StepLogs {
    static LOGS: OnceLock<StepLogs> = OnceLock::new();
    LOGS.get_or_init(|| StepLogs {
        up: (0..TABULATED).map(|f| up_log(f as u16)).collect(),
        down: (0..TABULATED).map(|f| down_log(f as u16)).collect(),
    })
}

fn up_log(f: u16) -> f64 {
    ((f64::from(f) + 1.0) / f64::from(f)).log2()
}

fn down_log(f: u16) -> f64 {
    (f64::from(f) / (f64::from(f) - 1.0)).log2()
}

fn gain(c: u32, f: u16) -> f64 {
    let l = match step_logs().up.get(usize::from(f)) {
        Some(&l) => l,
        None => up_log(f),
    };
    f64::from(c) * l
}

fn loss(c: u32, f: u16) -> f64 {
    let l = match step_logs().down.get(usize::from(f)) {
        Some(&l) => l,
        None => down_log(f),
    };
    f64::from(c) * l
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

    /// The greedy as first written, with a binary heap: the tournament
    /// must pick the same symbol at every step, so that models (and frames)
    /// do not change.
    fn heap_normalize(counts: &[u32; 256], bits: u32) -> [u16; 256] {
        use std::cmp::Ordering;
        use std::collections::BinaryHeap;
        struct Cand(f64, usize);
        impl PartialEq for Cand {
            fn eq(&self, o: &Self) -> bool {
                self.cmp(o) == Ordering::Equal
            }
        }
        impl Eq for Cand {}
        impl PartialOrd for Cand {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for Cand {
            fn cmp(&self, o: &Self) -> Ordering {
                self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
            }
        }
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
                f[s] = (c * m / total).max(1) as u16;
                sum += u64::from(f[s]);
            }
        }
        let up = |c: u32, f: u16| f64::from(c) * ((f64::from(f) + 1.0) / f64::from(f)).log2();
        let down = |c: u32, f: u16| f64::from(c) * (f64::from(f) / (f64::from(f) - 1.0)).log2();
        if sum < m {
            let mut h: BinaryHeap<Cand> = (0..256)
                .filter(|&s| counts[s] > 0)
                .map(|s| Cand(up(counts[s], f[s]), s))
                .collect();
            for _ in sum..m {
                let Cand(_, s) = h.pop().unwrap();
                f[s] += 1;
                h.push(Cand(up(counts[s], f[s]), s));
            }
        } else if sum > m {
            let mut h: BinaryHeap<Cand> = (0..256)
                .filter(|&s| f[s] > 1)
                .map(|s| Cand(-down(counts[s], f[s]), s))
                .collect();
            for _ in m..sum {
                let Cand(_, s) = h.pop().unwrap();
                f[s] -= 1;
                if f[s] > 1 {
                    h.push(Cand(-down(counts[s], f[s]), s));
                }
            }
        }
        f
    }

    #[test]
    fn same_as_the_heap_greedy() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut deficit = 0;
        let mut surplus = 0;
        let (mut fast, mut slow) = (0, 0);
        for round in 0..10_000 {
            // Half the rounds: a few symbols whose counts are small
            // multiples of powers of two, where a symbol's second unit
            // sometimes beats another's first (the slow path).
            let few = round % 2 == 1;
            let present = if few {
                4 + next() % 12
            } else {
                1 + next() % 256
            };
            let skew = next() % 4;
            let mut counts = [0u32; 256];
            for _ in 0..present {
                let s = (next() % 256) as usize;
                counts[s] = match skew {
                    _ if few => (1 + (next() % 3) as u32) << (next() % 14),
                    // Equal counts: ties everywhere, broken by symbol.
                    0 => 3,
                    1 => 1 + (next() % 8) as u32,
                    2 => 1 + (next() % 100_000) as u32,
                    _ => 1 << (next() % 24),
                };
            }
            let bits = if few {
                12
            } else {
                [8, 10, 12, 13, 15][round / 2 % 5]
            };
            let sum: u64 = (0..256)
                .filter(|&s| counts[s] > 0)
                .map(|s| {
                    let t: u64 = counts.iter().map(|&c| u64::from(c)).sum();
                    (u64::from(counts[s]) << bits) / t
                })
                .map(|v| v.max(1))
                .sum();
            deficit += usize::from(sum < 1 << bits);
            if sum < 1 << bits {
                // Both ways of handing out the deficit are exercised.
                let mut f = [0u16; 256];
                let t: u64 = counts.iter().map(|&c| u64::from(c)).sum();
                for s in 0..256 {
                    if counts[s] > 0 {
                        f[s] = ((u64::from(counts[s]) << bits) / t).max(1) as u16;
                    }
                }
                let k = (1usize << bits) - f.iter().map(|&x| usize::from(x)).sum::<usize>();
                if one_unit_each(&counts, &mut f, k) {
                    fast += 1;
                } else {
                    slow += 1;
                }
            }
            surplus += usize::from(sum > 1 << bits);
            assert_eq!(
                check(&counts, bits),
                heap_normalize(&counts, bits),
                "round {round}"
            );
        }
        assert!(deficit > 100 && surplus > 100, "{deficit} {surplus}");
        assert!(fast > 100 && slow > 20, "{fast} {slow}");
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
