//! What it costs to map fresh memory before writing it, the way a decoder's
//! output buffer is mapped: 4 KiB pages faulted one by one, 4 KiB pages
//! mapped in one `MADV_POPULATE_WRITE` call, and 2 MiB pages
//! (`MADV_HUGEPAGE` first), each on memory freed just before and on memory
//! left free for a while (`PAUSE_MS`), which a VM may have handed back to
//! its host (docs/BENCHMARKS.md, "Fresh memory").
//!
//! ```text
//! cargo run --release --example fresh_pages -- [MIB=256] [PAUSE_MS=3000] [ROUNDS=5]
//! ```
//!
//! Prints milliseconds per MB to map and write each fresh region. Linux
//! only (elsewhere it says so and exits).

#[cfg(target_os = "linux")]
fn main() {
    use std::time::{Duration, Instant};

    let arg = |i: usize, d: u64| -> u64 {
        std::env::args()
            .nth(i)
            .map_or(d, |s| s.parse().expect("a number"))
    };
    let (mib, pause, rounds) = (arg(1, 256) as usize, arg(2, 3000), arg(3, 5));
    let len = mib << 20;
    const HUGE: usize = 2 << 20;

    // Maps `len` bytes (2 MiB-aligned inside a slightly larger mapping),
    // applies the advice, writes every byte, unmaps; ms per MB.
    let once = |huge: bool, populate: bool| -> f64 {
        #[allow(unsafe_code)]
        // SAFETY: an anonymous private mapping of `len + HUGE` bytes, used
        // only inside this closure: the aligned range `a .. a + len` lies
        // within it, and it is unmapped before returning.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len + HUGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED, "mmap failed");
            let a = (p as usize).next_multiple_of(HUGE) as *mut u8;
            let t = Instant::now();
            if huge {
                libc::madvise(a.cast(), len, libc::MADV_HUGEPAGE);
            }
            if populate {
                libc::madvise(a.cast(), len, libc::MADV_POPULATE_WRITE);
            }
            std::ptr::write_bytes(a, 1, len);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            libc::munmap(p, len + HUGE);
            ms / (len as f64 / 1e6)
        }
    };
    println!("{mib} MiB regions, {rounds} rounds; ms per MB to map and write");
    for wait in [0, pause] {
        for (name, huge, populate) in [
            ("4 KiB pages, faulted", false, false),
            ("4 KiB pages, populated", false, true),
            ("2 MiB pages", true, true),
        ] {
            let mut v: Vec<f64> = (0..rounds)
                .map(|_| {
                    std::thread::sleep(Duration::from_millis(wait));
                    once(huge, populate)
                })
                .collect();
            v.sort_by(f64::total_cmp);
            let all: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
            println!(
                "pause {wait:>5} ms  {name:<24} median {:.3}  [{}]",
                v[v.len() / 2],
                all.join(" ")
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("fresh_pages measures Linux madvise calls; nothing to do here");
}
