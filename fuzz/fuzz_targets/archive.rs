//! The archive reader on arbitrary bytes (errors, never panics), and the
//! safetensors writer on arbitrary bytes (a file it accepts restores byte
//! for byte).
#![no_main]
use libfuzzer_sys::fuzz_target;
use z4ai::archive::{compress_bytes, Archive, ArchiveOptions};

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
    }
    if let Ok(z4) = compress_bytes(data, "fuzz.safetensors", &ArchiveOptions::default()) {
        let a = Archive::from_bytes(z4).expect("own archive opens");
        let mut out = Vec::new();
        a.write_file(0, &mut out).expect("own archive decodes");
        assert_eq!(out, data);
    }
});
