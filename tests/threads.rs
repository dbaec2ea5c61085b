//! The same input and options give the same frame at any thread count and
//! any kernel level; every level decodes every other level's frames.

mod common;

use z4ai::{compress, decompress_with, DType, DecodeOptions, Effort, Isa, Options};

#[test]
fn identical_frames_across_threads_and_isas() {
    let levels = Isa::supported_levels();
    eprintln!(
        "levels tested: {:?}",
        levels.iter().map(|i| i.name()).collect::<Vec<_>>()
    );
    for dtype in [DType::BF16, DType::F16, DType::F32, DType::F64, DType::I8] {
        let data = common::weights(dtype, 70_000, 77);
        for effort in Effort::ALL {
            let base = Options::new(dtype).effort(effort).chunk_size(16 << 10);
            let want = compress(&data, &base.clone().threads(1).isa(Isa::Scalar)).unwrap();
            for threads in [1, 2, 3] {
                for &isa in &levels {
                    let got = compress(&data, &base.clone().threads(threads).isa(isa)).unwrap();
                    assert!(
                        got == want,
                        "{dtype} {effort} threads={threads} isa={isa} differs"
                    );
                    let back = decompress_with(
                        &want,
                        &DecodeOptions {
                            threads,
                            isa: Some(isa),
                        },
                    )
                    .unwrap();
                    assert!(
                        back == data,
                        "{dtype} {effort} decode threads={threads} isa={isa}"
                    );
                }
            }
        }
    }
}

/// `fast` counts planes of 128 KiB and more from a sample
/// (`chunk::sampled_order0`): the same frame at every level and thread
/// count there too, with rare exponents (Gaussian tails) the sample misses.
#[test]
fn identical_sampled_fast_frames_across_threads_and_isas() {
    let levels = Isa::supported_levels();
    for (dtype, n) in [
        (DType::BF16, 700_000),
        (DType::F32, 300_000),
        (DType::I8, 1 << 20),
    ] {
        let data = common::weights(dtype, n, 5);
        let base = Options::new(dtype).effort(Effort::Fast);
        let want = compress(&data, &base.clone().threads(1).isa(Isa::Scalar)).unwrap();
        for threads in [1, 2] {
            for &isa in &levels {
                let got = compress(&data, &base.clone().threads(threads).isa(isa)).unwrap();
                assert!(got == want, "{dtype} threads={threads} isa={isa} differs");
            }
        }
        let back = decompress_with(&want, &DecodeOptions::default()).unwrap();
        assert!(back == data, "{dtype} round trip");
    }
}
