//! Streaming Encoder / Decoder against the one-shot API.

mod common;

use std::io::{BufRead, Read, Write};

use z4ai::{compress, decompress, DType, Decoder, Encoder, Options};

fn small_blocks(dtype: DType) -> Options {
    Options {
        block_chunks: 2,
        ..Options::new(dtype).chunk_size(4096)
    }
}

#[test]
fn streaming_round_trips_both_ways() {
    for dtype in [DType::BF16, DType::F32, DType::Bytes] {
        for n in [0usize, 1, 5000, 40_000] {
            let data = common::weights(dtype, n, 4);
            let o = small_blocks(dtype);
            // Write in odd-sized pieces.
            let mut enc = Encoder::new(Vec::new(), &o).unwrap();
            for piece in data.chunks(777) {
                enc.write_all(piece).unwrap();
            }
            let frame = enc.finish().unwrap();
            assert_eq!(
                decompress(&frame).unwrap(),
                data,
                "one-shot decode of a streamed frame"
            );
            // Read in odd-sized pieces.
            for blob in [frame, compress(&data, &o).unwrap()] {
                let mut dec = Decoder::new(&blob[..]).unwrap();
                let mut out = Vec::new();
                let mut buf = [0u8; 1000];
                loop {
                    let k = dec.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..k]);
                }
                assert_eq!(out, data);
            }
        }
    }
}

/// `BufRead` hands out the decoder's own block buffer: partial consumes,
/// reads mixed in, and blocks of different sizes (a short last block)
/// give the content.
#[test]
fn streaming_decoder_reads_through_its_buffer() {
    let data = common::weights(DType::BF16, 40_000, 12);
    let blob = compress(&data, &small_blocks(DType::BF16)).unwrap();
    let mut dec = Decoder::new(&blob[..]).unwrap();
    let mut out = Vec::new();
    let mut turn = 0usize;
    loop {
        turn += 1;
        if turn.is_multiple_of(3) {
            let mut buf = [0u8; 333];
            let k = dec.read(&mut buf).unwrap();
            out.extend_from_slice(&buf[..k]);
            continue;
        }
        let got = dec.fill_buf().unwrap();
        if got.is_empty() {
            break;
        }
        let k = got.len().min(1 + turn * 1237 % 5000);
        out.extend_from_slice(&got[..k]);
        dec.consume(k);
    }
    assert!(out == data);
    assert!(dec.fill_buf().unwrap().is_empty());
}

#[test]
fn sized_encoder_matches_one_shot_frames() {
    for dtype in [DType::BF16, DType::F32, DType::Bytes] {
        // 0, one partial block, exactly two blocks, several blocks.
        for n in [0usize, 1, 3000, 4096, 50_000] {
            let data = common::weights(dtype, n, 6);
            let o = small_blocks(dtype);
            let mut enc = Encoder::with_size(Vec::new(), &o, data.len() as u64).unwrap();
            for piece in data.chunks(1013) {
                enc.write_all(piece).unwrap();
            }
            let frame = enc.finish().unwrap();
            assert_eq!(frame, compress(&data, &o).unwrap(), "{dtype:?} n={n}");
        }
    }
}

#[test]
fn sized_encoder_rejects_a_wrong_length() {
    let o = small_blocks(DType::Bytes);
    let mut short = Encoder::with_size(Vec::new(), &o, 10).unwrap();
    short.write_all(&[1; 9]).unwrap();
    assert!(short.finish().is_err(), "fewer bytes than promised");
    let mut long = Encoder::with_size(Vec::new(), &o, 10).unwrap();
    assert!(
        long.write_all(&[1; 11]).is_err(),
        "more bytes than promised"
    );
}

#[test]
fn streaming_decoder_reports_damage() {
    let data = common::weights(DType::BF16, 20_000, 8);
    let blob = compress(&data, &small_blocks(DType::BF16)).unwrap();
    for cut in [0, 10, 24, 30, blob.len() / 2, blob.len() - 1] {
        let mut out = Vec::new();
        let r = Decoder::new(&blob[..cut])
            .and_then(|mut d| d.read_to_end(&mut out).map_err(Into::into));
        assert!(r.is_err(), "cut at {cut} must fail");
    }
    let mut bad = blob.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let mut out = Vec::new();
    assert!(Decoder::new(&bad[..])
        .unwrap()
        .read_to_end(&mut out)
        .is_err());
}

#[test]
fn streaming_decoder_stays_failed_after_damage() {
    // Several blocks of different sizes; damage the first block's payload.
    let data = common::weights(DType::BF16, 30_000, 9);
    let blob = compress(&data, &small_blocks(DType::BF16)).unwrap();
    let mut bad = blob.clone();
    let at = 200;
    bad[at] ^= 0x10;
    let mut dec = Decoder::new(&bad[..]).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = Vec::new();
    let mut errors = 0;
    // A caller that retries after an error never gets bytes of a later
    // block, nor an end of stream that looks like success.
    for _ in 0..10 {
        match dec.read(&mut buf) {
            Ok(0) => panic!("end of stream after an error"),
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(_) => errors += 1,
        }
    }
    assert_eq!(errors, 10);
    assert!(got.is_empty());
}
