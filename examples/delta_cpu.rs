//! CPU time of `compress_delta` and `decompress_delta_into_with` at one
//! thread: the run time of every thread of the process (Linux
//! `/proc/self/task/*/schedstat`), so that other load on a shared machine
//! counts less than in wall-clock MB/s. Prints the frame size and the
//! median MB/s (of the new buffer) in both directions; checks the round
//! trip.
//!
//! ```text
//! cargo run --release --example delta_cpu -- OLD.bin NEW.bin bf16 7
//! ```

/// Nanoseconds every thread of this process has run so far.
fn cpu_ns() -> u64 {
    let mut t = 0;
    for e in std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux only)") {
        let p = e.expect("task entry").path().join("schedstat");
        if let Ok(s) = std::fs::read_to_string(p) {
            t += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    t
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        eprintln!("usage: delta_cpu OLD NEW DTYPE REPEATS");
        std::process::exit(2);
    }
    let old = std::fs::read(&a[1]).expect("read OLD");
    let new = std::fs::read(&a[2]).expect("read NEW");
    let dtype: z4ai::DType = a[3].parse().expect("dtype");
    let reps: usize = a[4].parse::<usize>().expect("repeats").max(1);
    let opts = z4ai::Options {
        dtype,
        threads: 1,
        ..Default::default()
    };
    let dopts = z4ai::DecodeOptions {
        threads: 1,
        isa: None,
    };
    // One untimed round to warm the pools and the page cache.
    let mut blob = z4ai::compress_delta(&new, &old, &opts).expect("compress");
    let mut out = vec![0u8; new.len()];
    z4ai::decompress_delta_into_with(&blob, &old, &mut out, &dopts).expect("decompress");
    let (mut c, mut d) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = cpu_ns();
        blob = z4ai::compress_delta(&new, &old, &opts).expect("compress");
        c.push((cpu_ns() - t) as f64);
        let t = cpu_ns();
        z4ai::decompress_delta_into_with(&blob, &old, &mut out, &dopts).expect("decompress");
        d.push((cpu_ns() - t) as f64);
    }
    assert!(out == new, "round trip mismatch");
    let mb = new.len() as f64 / 1e6;
    println!(
        "{}: {} -> {} bytes, CPU MB/s compress {:.0} decompress {:.0} (median of {reps})",
        a[2],
        new.len(),
        blob.len(),
        mb / (median(&mut c) / 1e9),
        mb / (median(&mut d) / 1e9)
    );
}
