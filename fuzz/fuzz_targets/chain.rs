//! A checkpoint chain's manifest (`chain.json`) on arbitrary bytes: opening
//! the chain gives a typed error or steps that restoring reports as errors
//! (the folder holds no archives), never a panic.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use z4ai::archive::Chain;

/// One folder per fuzzing process, holding only the manifest.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("z4ai-fuzz-chain-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temporary folder");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    std::fs::write(d.join("chain.json"), data).expect("write the manifest");
    if let Ok(chain) = Chain::open(d) {
        assert!(chain.keyframe_interval() >= 1);
        for k in 0..chain.steps().len().min(4) {
            assert!(
                chain.restore(k, std::io::sink()).is_err(),
                "step {k} has no archive"
            );
            assert!(chain.open_step(k).is_err());
        }
    }
});
