//! The archive reader on arbitrary bytes (errors, never panics), also with
//! an archive attached as its own reference (the delta path); the
//! safetensors writer on arbitrary bytes (a file it accepts restores byte
//! for byte), also as a delta of the input's second half against its first.
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
    if let Ok(z4) = compress_bytes(data, "fuzz.safetensors", &ArchiveOptions::default()) {
        let a = Archive::from_bytes(z4).expect("own archive opens");
        let mut out = Vec::new();
        a.write_file(0, &mut out).expect("own archive decodes");
        assert_eq!(out, data);
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
