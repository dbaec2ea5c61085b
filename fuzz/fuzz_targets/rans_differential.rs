//! Every kernel level decodes arbitrary rANS streams exactly like the
//! scalar reference (same result, same bytes), and encodes identically.
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai_simd::rans::Ctx;
use z4ai_simd::{Isa, Kernels, RansTables};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]])) % 4096;
    let mode = data[2] % 3;
    // A model from the input's own byte counts.
    let body = &data[3..];
    let mut f = [0u16; 256];
    let mut total = 0u32;
    for &b in body.iter().take(4096) {
        if total < 4096 {
            f[usize::from(b)] += 1;
            total += 1;
        }
    }
    f[0] += (4096 - total) as u16;
    let Ok(t) = RansTables::new(12, [0; 256], vec![f]) else { return };
    let ctx: Vec<u8> = (0..n).map(|i| body.get(i).copied().unwrap_or(0)).collect();
    let c = match mode {
        0 => Ctx::Order0,
        1 => Ctx::Order1,
        _ => Ctx::Plane(&ctx),
    };
    let scalar = Kernels::scalar();
    let mut want = vec![0u8; n];
    let want_r = scalar.rans_decode(body, c, &t, &mut want);
    for isa in Isa::supported_levels() {
        let k = Kernels::for_isa(isa).unwrap();
        let mut got = vec![0u8; n];
        let got_r = k.rans_decode(body, c, &t, &mut got);
        assert_eq!(got_r, want_r, "{isa}");
        if got_r.is_ok() {
            assert_eq!(got, want, "{isa}");
        }
        let symbols: Vec<u8> = body.iter().copied().filter(|&b| f[usize::from(b)] > 0).take(n).collect();
        let cc: Vec<u8> = ctx[..symbols.len()].to_vec();
        let cm = match mode {
            0 => Ctx::Order0,
            1 => Ctx::Order1,
            _ => Ctx::Plane(&cc),
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ra = scalar.rans_encode(&symbols, cm, &t, &mut a);
        let rb = k.rans_encode(&symbols, cm, &t, &mut b);
        assert_eq!(ra, rb, "{isa}");
        assert_eq!(a, b, "{isa}");
    }
});
