//! The archive reader on arbitrary bytes (errors, never panics; batched
//! and streamed), also with an archive attached as its own reference (the
//! delta path); the safetensors and GGUF writers on arbitrary bytes (a
//! file they accept restores byte for byte, and tiny batches write the
//! same archive), also as a delta of the input's second half against its
//! first.
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai::archive::{compress_bytes, compress_bytes_delta, Archive, ArchiveOptions, Reference};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Archive::from_bytes(data.to_vec()) {
        let _ = a.metadata();
        for t in a.tensors() {
            if t.raw_size <= 1 << 24 {
                if let Ok(v) = a.tensor(&t.name) {
                    assert_eq!(v.len() as u64, t.raw_size);
                }
            }
        }
        let _ = a.verify();
        // Tiny batches: every piece goes through the streaming decoders
        // (GGUF splits field by field, in windows of a few blocks).
        let a = a.with_batch_bytes(64);
        let _ = a.verify();
        if a.needs_reference().is_some() {
            let own = Archive::from_bytes(data.to_vec()).and_then(Reference::from_archive);
            if let Ok(with) = own.and_then(|r| a.with_reference(r)) {
                for t in with.tensors() {
                    if t.raw_size <= 1 << 24 {
                        let _ = with.tensor(&t.name);
                    }
                }
                let _ = with.verify();
            }
        }
    }
    for name in ["fuzz.safetensors", "fuzz.gguf"] {
        if let Ok(z4) = compress_bytes(data, name, &ArchiveOptions::default()) {
            // Streaming every piece in tiny windows writes the same bytes.
            let tiny = ArchiveOptions {
                batch_bytes: 64,
                ..ArchiveOptions::default()
            };
            assert_eq!(compress_bytes(data, name, &tiny).expect("streamed"), z4);
            let a = Archive::from_bytes(z4).expect("own archive opens");
            let mut out = Vec::new();
            a.write_file(0, &mut out).expect("own archive decodes");
            assert_eq!(out, data);
        }
    }
    let (old, new) = data.split_at(data.len() / 2);
    let reference = Reference::from_bytes(old.to_vec()).expect("a reference in memory");
    if let Ok(z4) = compress_bytes_delta(new, "new.safetensors", &reference, &ArchiveOptions::default()) {
        let a = Archive::from_bytes(z4)
            .expect("own delta archive opens")
            .with_reference(reference)
            .expect("own reference matches");
        let mut out = Vec::new();
        a.write_file(0, &mut out).expect("own delta archive decodes");
        assert_eq!(out, new);
    }
});
