//! The C consumer: compiles `tests/c/roundtrip.c` and `examples/c/example.c`
//! against the checked-in `include/z4ai.h`, links them to the library that
//! `cargo test` just built (static archive and shared object), and runs
//! them; checks that the header is what cbindgen generates from
//! `src/capi/`; checks the header under a C++ compiler.
//!
//! The library is found next to this test executable: integration tests
//! live in `<target>/<profile>/deps/`, and `cargo test` builds the package's
//! lib target with every crate type (`libz4ai.a`, `libz4ai.so`) into that
//! same `deps/` directory before it builds the tests. (Only `cargo build`
//! copies them up to `<target>/<profile>/`, so the copies there may be
//! stale; they are used only when `deps/` has none.)
//!
//! Environment: `CC` picks the C compiler (default `cc`), `CXX` the C++ one
//! (default `c++`, skipped when absent), `CBINDGEN` the cbindgen binary
//! (default `cbindgen`); set `Z4AI_REQUIRE_CBINDGEN=1` (CI) to turn a
//! missing cbindgen into a failure instead of a skipped check.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/<profile>`, from this executable's own path.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let mut dir = exe
        .parent()
        .expect("test executable has a parent")
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

fn static_lib_name() -> &'static str {
    if cfg!(windows) {
        "z4ai.lib"
    } else {
        "libz4ai.a"
    }
}

/// The directory holding the libraries this test run was built against:
/// the executable's own directory (`deps/`), else the profile directory.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let own = exe.parent().expect("test executable has a parent");
    if own.join(static_lib_name()).is_file() {
        own.to_path_buf()
    } else {
        profile_dir()
    }
}

fn static_lib() -> PathBuf {
    let p = lib_dir().join(static_lib_name());
    assert!(
        p.is_file(),
        "{} not found: the lib target's staticlib should be built by `cargo test` \
         (crate-type in Cargo.toml)",
        p.display()
    );
    p
}

/// System libraries a Rust staticlib needs (`rustc --print native-static-libs`).
fn native_static_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm"]
    } else {
        &[
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
    }
}

fn compiler(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh directory under the target dir (removed first), for binaries.
fn scratch(name: &str) -> PathBuf {
    let d = profile_dir().join("c_api_test").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{cmd:?}\n{text}",
        out.status
    );
    text
}

/// Compiles `source` with the header, linked as `link` says.
fn build_c(source: &Path, exe: &Path, link: &[String]) {
    let cc = compiler("CC", "cc");
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-std=c99",
        "-O1",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
    ])
    .arg("-I")
    .arg(root().join("include"))
    .arg(source)
    .args(link)
    .arg("-o")
    .arg(exe);
    run_ok(&mut cmd, &format!("compiling {}", source.display()));
}

fn static_link() -> Vec<String> {
    let mut v = vec![static_lib().display().to_string()];
    v.extend(native_static_libs().iter().map(|s| s.to_string()));
    v
}

fn shared_link() -> Vec<String> {
    let dir = lib_dir();
    let so = dir.join(if cfg!(target_os = "macos") {
        "libz4ai.dylib"
    } else {
        "libz4ai.so"
    });
    assert!(
        so.is_file(),
        "{} not found (cdylib crate type)",
        so.display()
    );
    vec![
        format!("-L{}", dir.display()),
        "-lz4ai".into(),
        format!("-Wl,-rpath,{}", dir.display()),
        "-lpthread".into(),
    ]
}

/// A command running a compiled consumer. Cargo puts `<target>/<profile>`
/// on the loader path, where a stale libz4ai.so from an earlier
/// `cargo build` may sit; the consumer must load the library it was linked
/// against (its rpath).
fn consumer(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env_remove("LD_LIBRARY_PATH")
        .env_remove("DYLD_LIBRARY_PATH");
    cmd
}

fn run_consumer(exe: &Path, simd: Option<&str>) {
    let mut cmd = consumer(exe);
    match simd {
        Some(level) => cmd.env("Z4AI_SIMD", level),
        None => cmd.env_remove("Z4AI_SIMD"),
    };
    let out = run_ok(&mut cmd, &format!("{} (Z4AI_SIMD={simd:?})", exe.display()));
    eprintln!("{}: {}", exe.display(), out.trim());
}

#[test]
fn c_roundtrip_static() {
    let dir = scratch("static");
    let exe = dir.join("roundtrip");
    build_c(&root().join("tests/c/roundtrip.c"), &exe, &static_link());
    run_consumer(&exe, None);
    run_consumer(&exe, Some("scalar"));
}

#[test]
fn c_roundtrip_shared() {
    let dir = scratch("shared");
    let exe = dir.join("roundtrip");
    build_c(&root().join("tests/c/roundtrip.c"), &exe, &shared_link());
    run_consumer(&exe, None);
}

/// The loader path: `tests/c/archive.c` writes a small safetensors model,
/// the library archives it, and the C program lists and decodes its
/// tensors through the archive API (static and shared library).
#[test]
fn c_archive_access() {
    for (name, link) in [
        ("archive-static", static_link()),
        ("archive-shared", shared_link()),
    ] {
        let dir = scratch(name);
        let exe = dir.join("archive");
        build_c(&root().join("tests/c/archive.c"), &exe, &link);
        let model = dir.join("model.safetensors");
        run_ok(
            consumer(&exe).arg("write").arg(&model),
            "tests/c/archive.c write",
        );
        let z4 = dir.join("model.safetensors.z4");
        let out = std::fs::File::create(&z4).unwrap();
        let opts = z4ai::ArchiveOptions {
            chunk_size: 4096,
            ..Default::default()
        };
        z4ai::archive::compress_path(&model, out, &opts).unwrap();
        let text = run_ok(
            consumer(&exe).arg("check").arg(&z4),
            "tests/c/archive.c check",
        );
        eprintln!("{name}: {}", text.trim());
    }
}

#[test]
fn c_example_builds_and_runs() {
    let dir = scratch("example");
    let exe = dir.join("example");
    build_c(&root().join("examples/c/example.c"), &exe, &static_link());
    let out = run_ok(&mut consumer(&exe), "examples/c/example.c");
    assert!(out.contains("round trip ok"), "{out}");
}

#[test]
fn header_compiles_as_cpp() {
    let cxx = compiler("CXX", "c++");
    if !have(&cxx) {
        eprintln!("SKIPPED header_compiles_as_cpp: no C++ compiler ({cxx})");
        return;
    }
    let dir = scratch("cpp");
    let src = dir.join("use.cpp");
    std::fs::write(
        &src,
        "#include <z4ai.h>\nint main() { z4ai_params *p = z4ai_params_new();\n\
         int64_t r = z4ai_params_set_dtype(p, Z4AI_DTYPE_BF16);\n\
         z4ai_params_free(p); return r == 0 ? 0 : 1; }\n",
    )
    .unwrap();
    let mut cmd = Command::new(&cxx);
    cmd.args(["-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root().join("include"))
        .arg(&src)
        .args(static_link())
        .arg("-o")
        .arg(dir.join("use"));
    run_ok(&mut cmd, "compiling the header as C++");
    run_ok(&mut consumer(&dir.join("use")), "the C++ consumer");
}

/// The checked-in header must be exactly what cbindgen generates now.
#[test]
fn header_matches_cbindgen() {
    let cbindgen = compiler("CBINDGEN", "cbindgen");
    if !have(&cbindgen) {
        let msg = format!(
            "cbindgen not found ({cbindgen}); install it with `cargo install cbindgen --locked` \
             to check include/z4ai.h for drift"
        );
        assert!(std::env::var_os("Z4AI_REQUIRE_CBINDGEN").is_none(), "{msg}");
        eprintln!("SKIPPED header_matches_cbindgen: {msg}");
        return;
    }
    let dir = scratch("cbindgen");
    let fresh = dir.join("z4ai.h");
    let mut cmd = Command::new(&cbindgen);
    cmd.current_dir(root())
        .args(["-q", "--config", "cbindgen.toml", "--output"])
        .arg(&fresh)
        .arg("src/capi/mod.rs");
    run_ok(&mut cmd, "cbindgen");
    let want = std::fs::read_to_string(&fresh).unwrap();
    let have = std::fs::read_to_string(root().join("include/z4ai.h")).unwrap();
    if want != have {
        let first = want
            .lines()
            .zip(have.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(have.lines().count()));
        panic!(
            "include/z4ai.h is out of date with src/capi/ (first difference at line {}).\n\
             Regenerate it with:\n  cbindgen --config cbindgen.toml --output include/z4ai.h src/capi/mod.rs\n\
             generated: {:?}\nchecked in: {:?}",
            first + 1,
            want.lines().nth(first),
            have.lines().nth(first)
        );
    }
}

/// Every function the header declares is exported by the shared object,
/// and the other way round.
#[test]
fn header_declares_every_export() {
    let header = std::fs::read_to_string(root().join("include/z4ai.h")).unwrap();
    let mut declared: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains("z4ai_") && l.contains('('))
        .filter_map(|l| {
            let name_end = l.find('(')?;
            let start = l[..name_end].rfind(|c: char| !(c.is_alphanumeric() || c == '_'))? + 1;
            Some(l[start..name_end].to_string())
        })
        .collect();
    declared.sort();
    assert!(declared.len() >= 16, "{declared:?}");
    let lib = std::fs::read(static_lib()).unwrap();
    for name in &declared {
        let needle = name.as_bytes();
        assert!(
            lib.windows(needle.len()).any(|w| w == needle),
            "{name} is declared in z4ai.h but not in the library"
        );
    }
    if have("nm") && cfg!(target_os = "linux") {
        let so = lib_dir().join("libz4ai.so");
        let out = run_ok(
            Command::new("nm").args(["-D", "--defined-only"]).arg(&so),
            "nm",
        );
        let mut exported: Vec<String> = out
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .filter(|s| s.starts_with("z4ai_"))
            .map(str::to_string)
            .collect();
        exported.sort();
        assert_eq!(exported, declared, "exports of libz4ai.so vs z4ai.h");
    }
}

/// `scripts/gen-pc.sh` writes a z4ai.pc that compiles and links the example.
#[test]
fn pkg_config_file_links_the_example() {
    if !have("pkg-config") || !cfg!(target_os = "linux") {
        eprintln!("SKIPPED pkg_config_file_links_the_example: no pkg-config");
        return;
    }
    let dir = scratch("pkgconfig");
    run_ok(
        Command::new("bash")
            .arg(root().join("scripts/gen-pc.sh"))
            .arg(&dir),
        "scripts/gen-pc.sh",
    );
    // The .pc file describes the build tree; point its libdir at the
    // profile directory this test was built in.
    let pc = std::fs::read_to_string(dir.join("z4ai.pc")).unwrap();
    let libdir = lib_dir().display().to_string();
    let pc: String = pc
        .lines()
        .map(|l| {
            if l.starts_with("libdir=") {
                format!("libdir={libdir}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("z4ai.pc"), pc).unwrap();
    let flags = run_ok(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", &dir)
            .args(["--cflags", "--libs", "z4ai"]),
        "pkg-config",
    );
    let mut link: Vec<String> = flags.split_whitespace().map(str::to_string).collect();
    link.push(format!("-Wl,-rpath,{libdir}"));
    let exe = dir.join("example");
    build_c(&root().join("examples/c/example.c"), &exe, &link);
    let out = run_ok(&mut consumer(&exe), "example linked via pkg-config");
    assert!(out.contains("round trip ok"), "{out}");
}
