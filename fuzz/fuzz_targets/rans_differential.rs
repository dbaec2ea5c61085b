//! Every kernel level decodes arbitrary rANS streams exactly like the
//! scalar reference (same result, same bytes), and encodes identically; a
//! pair decode of two streams cut from the input gives what two scalar
//! decodes in turn give.
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai_simd::rans::{Ctx, PairStream, SecondCtx};
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
    // Pair decode: two streams the scalar encoder makes from the body's
    // symbols (so that the vector loops run), one of them damaged where the
    // input's last bytes say. The first stream is order-0 or under the
    // plane; the second one, under a two-table model (contexts by parity,
    // tables with the same symbols), is order-0, under its own plane or
    // under the first stream's symbols.
    let Some(m) = (0..256).max_by_key(|&s| f[s]) else { return };
    let mut f2 = f;
    if let Some(small) = (0..256).filter(|&s| s != m && f[s] > 0).min_by_key(|&s| f[s]) {
        let give = f2[m] / 2;
        f2[m] -= give;
        f2[small] += give;
    }
    let map: [u8; 256] = std::array::from_fn(|c| (c % 2) as u8);
    let Ok(t2) = RansTables::new(12, map, vec![f, f2]) else { return };
    let syms_a: Vec<u8> = body.iter().copied().filter(|&b| f[usize::from(b)] > 0).take(n).collect();
    let na = syms_a.len();
    let nb = if mode == 2 { na } else { (na / 2 + usize::from(data[1] % 64)).min(na) };
    let syms_b: Vec<u8> = syms_a.iter().rev().copied().take(nb).collect();
    let ctx_a = &ctx[..na];
    let ctx_b: Vec<u8> = ctx.iter().rev().copied().take(nb).collect();
    let ca = (data[2] & 4 != 0).then_some(ctx_a);
    let (cb, enc_b) = match mode {
        0 => (SecondCtx::Order0, Ctx::Order0),
        1 => (SecondCtx::Plane(&ctx_b), Ctx::Plane(&ctx_b)),
        _ => (SecondCtx::First, Ctx::Plane(&syms_a)),
    };
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    scalar.rans_encode(&syms_a, ca.map_or(Ctx::Order0, Ctx::Plane), &t, &mut sa).unwrap();
    scalar.rans_encode(&syms_b, enc_b, &t2, &mut sb).unwrap();
    let tail = &data[data.len() - 3..];
    let pos = usize::from(u16::from_le_bytes([tail[0], tail[1]]));
    let target = if tail[2] & 1 == 0 { &mut sa } else { &mut sb };
    match tail[2] >> 1 & 3 {
        0 => {}
        1 => target.truncate(pos % (target.len() + 1)),
        _ => {
            let l = target.len();
            target[pos % l] ^= tail[2] | 1;
        }
    }
    let (mut wa, mut wb) = (vec![0u8; na], vec![0u8; nb]);
    let want_r = scalar
        .rans_decode(&sa, ca.map_or(Ctx::Order0, Ctx::Plane), &t, &mut wa)
        .and_then(|()| {
            let c = cb.bytes(&wa).map_or(Ctx::Order0, Ctx::Plane);
            scalar.rans_decode(&sb, c, &t2, &mut wb)
        });
    if tail[2] >> 1 & 3 == 0 {
        assert!(want_r.is_ok() && wa == syms_a && wb == syms_b);
    }
    for isa in Isa::supported_levels() {
        let k = Kernels::for_isa(isa).unwrap();
        let (mut ga, mut gb) = (vec![0u8; na], vec![0u8; nb]);
        let got_r = k.rans_decode_pair(
            PairStream {
                stream: &sa,
                ctx: ca,
                tables: &t,
                out: &mut ga,
            },
            PairStream {
                stream: &sb,
                ctx: cb,
                tables: &t2,
                out: &mut gb,
            },
        );
        assert_eq!(got_r, want_r, "pair {isa}");
        if got_r.is_ok() {
            assert!(ga == wa && gb == wb, "pair {isa}");
        }
    }
});
