//! The `z4ai` command-line tool.
//!
//! `compress`, `decompress`, `info`, `verify`, `bench`. `-` means stdin /
//! stdout. Outputs are written to a temporary file in the target directory
//! and renamed into place; an existing output is never replaced without
//! `--force`, and the input is never modified or deleted.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

mod archive_cmds;
use z4ai::archive::{self, Archive, Reference};
use z4ai::{DType, DecodeOptions, Effort, Isa, Options};

#[derive(Parser)]
#[command(name = "z4ai", version = version_line(), about = "Lossless compression for neural-network weights")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Makes glibc serve every thread from one malloc arena. With an arena per
/// worker thread, memory one worker frees is kept for that worker alone, so
/// the resident size grows to the sum of every arena's peak; one arena
/// reuses it (docs/ARCHIVE.md, "Peak memory": 150 → 100 MB on a 1.16 GB
/// model at 2 threads, no measurable CPU cost there: the coder allocates a
/// few buffers per 2 MiB chunk, not per value). In-memory one-shot
/// compression (`bench`) did measure slower with it, so `bench` keeps the
/// default arenas.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called in main before any other thread exists (argument
    // parsing starts none);
    // mallopt only sets an allocator parameter, and M_ARENA_MAX with 1 is
    // a documented, valid setting.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn version_line() -> &'static str {
    Box::leak(format!("{} (kernels: {})", z4ai::VERSION, Isa::active()).into_boxed_str())
}

#[derive(Subcommand)]
enum Cmd {
    /// Compress a file (or stdin) into a .z4 frame.
    Compress {
        /// Input file, or - for stdin.
        input: Option<PathBuf>,
        /// Output file (default: INPUT.z4; - for stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Element type: bf16 fp16 fp32 fp64 e4m3 e5m2 i8 u8 i16 i32 i64 bytes.
        #[arg(long, default_value = "bytes")]
        dtype: String,
        /// Effort: fast, default or max.
        #[arg(short, long, default_value = "default")]
        effort: String,
        /// Worker threads (0 = all cores).
        #[arg(short = 'T', long, default_value_t = 0)]
        threads: usize,
        /// Chunk size in bytes of every frame [default: 524288; 2097152 for
        /// a delta's frames].
        #[arg(long)]
        chunk_size: Option<usize>,
        /// Code the input as a delta against this file (a previous
        /// checkpoint or the base model; for a model file, its original or
        /// its .z4 archive).
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Overwrite an existing output.
        #[arg(short, long)]
        force: bool,
    },
    /// Decompress a .z4 frame.
    Decompress {
        /// Input file, or - for stdin.
        input: Option<PathBuf>,
        /// Output file (default: INPUT without .z4; - for stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Worker threads (0 = all cores).
        #[arg(short = 'T', long, default_value_t = 0)]
        threads: usize,
        /// The reference a delta frame or archive was made against (for an
        /// archive: the original file or its .z4 archive).
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Overwrite an existing output.
        #[arg(short, long)]
        force: bool,
    },
    /// Describe a frame, an archive or a chain folder.
    Info {
        /// The .z4 file (or a chain folder).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decode a frame fully and check every checksum; writes nothing.
    Verify {
        /// The .z4 file.
        file: PathBuf,
        /// The reference a delta archive was made against (file or archive).
        #[arg(long)]
        reference: Option<PathBuf>,
    },
    /// List the tensors of a .z4 model archive.
    Ls {
        /// The archive.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Extract one tensor (or one file) from a .z4 model archive.
    Extract {
        /// The archive.
        file: PathBuf,
        /// Tensor name.
        #[arg(long)]
        tensor: Option<String>,
        /// A whole file of the archive (its path inside a folder archive).
        #[arg(long)]
        file_path: Option<String>,
        /// Write the raw tensor bytes (or the file) here (- for stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write a one-tensor safetensors file here.
        #[arg(long)]
        safetensors: Option<PathBuf>,
        /// The reference a delta archive was made against (file or archive).
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Overwrite an existing output.
        #[arg(short, long)]
        force: bool,
    },
    /// Checkpoint chains: a folder of keyframes and deltas.
    Chain {
        #[command(subcommand)]
        cmd: ChainCmd,
    },
    /// Compress and decompress a file in memory and report ratio and speed.
    Bench {
        /// The input file: raw bytes, or a model file (safetensors, GGUF,
        /// PyTorch zip), which without --dtype is coded as `compress` codes
        /// it (an archive, each tensor with its own dtype).
        file: PathBuf,
        /// Element type of a raw input [default: bytes]; given for a model
        /// file, the whole file is coded as one buffer of this type.
        #[arg(long)]
        dtype: Option<String>,
        /// Effort: fast, default, max or all.
        #[arg(short, long, default_value = "all")]
        effort: String,
        /// Worker threads (0 = all cores).
        #[arg(short = 'T', long, default_value_t = 0)]
        threads: usize,
        /// Repetitions; the best time is reported.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Chunk size in bytes of every frame [default: 524288; 2097152 for
        /// a delta's frames].
        #[arg(long)]
        chunk_size: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Code FILE as a delta against this file: a model delta archive
        /// for a model file without --dtype (as `compress --reference`
        /// writes), else compress_delta / decompress_delta of the buffer.
        #[arg(long)]
        reference: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ChainCmd {
    /// Append a checkpoint: a keyframe every K steps, else a delta against
    /// the previous step. Creates the chain folder if needed.
    Add {
        /// The chain folder.
        dir: PathBuf,
        /// The checkpoint (a safetensors file).
        file: PathBuf,
        /// A keyframe every this many steps (new chains; default 8).
        #[arg(long)]
        keyframe_interval: Option<u32>,
        /// Effort: fast, default or max.
        #[arg(short, long, default_value = "default")]
        effort: String,
        /// Worker threads (0 = all cores).
        #[arg(short = 'T', long, default_value_t = 0)]
        threads: usize,
    },
    /// Restore one step byte for byte.
    Restore {
        /// The chain folder.
        dir: PathBuf,
        /// Step number (0 = the first checkpoint added).
        #[arg(long)]
        step: usize,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Worker threads (0 = all cores).
        #[arg(short = 'T', long, default_value_t = 0)]
        threads: usize,
        /// Overwrite an existing output.
        #[arg(short, long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `bench` measures the library in memory as a program linking it sees
    // it, with glibc's default arenas (one arena cost its compression about
    // 10% at one thread and 25% at two, `fast`); the file commands keep
    // their memory bound.
    if !matches!(cli.cmd, Cmd::Bench { .. }) {
        one_malloc_arena();
    }
    match run(cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("z4ai: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn run(cmd: Cmd) -> CliResult {
    match cmd {
        Cmd::Compress {
            input,
            output,
            dtype,
            effort,
            threads,
            chunk_size,
            reference,
            force,
        } => {
            if let Some(model) = input.as_deref().filter(|i| archive_cmds::is_model(i)) {
                return archive_cmds::compress(
                    model,
                    output,
                    &effort,
                    threads,
                    chunk_size,
                    reference.as_deref(),
                    force,
                );
            }
            let reference = reference.map(|r| read_input(&r)).transpose()?;
            let opts = with_chunk_size(
                Options {
                    dtype: dtype.parse()?,
                    effort: effort.parse()?,
                    threads,
                    ..Options::default()
                },
                chunk_size,
            );
            let input = input.unwrap_or_else(|| PathBuf::from("-"));
            let output = output.unwrap_or_else(|| default_compressed_name(&input));
            let data = read_input(&input)?;
            let t = Instant::now();
            let blob = match &reference {
                Some(r) => z4ai::compress_delta(&data, r, &opts)?,
                None => z4ai::compress(&data, &opts)?,
            };
            let secs = t.elapsed().as_secs_f64();
            write_output(&output, &blob, force)?;
            status(&format!(
                "{} -> {}: {} -> {} bytes, ratio {:.4}, {:.0} MB/s",
                input.display(),
                output.display(),
                data.len(),
                blob.len(),
                data.len() as f64 / blob.len().max(1) as f64,
                data.len() as f64 / 1e6 / secs.max(1e-9)
            ));
            Ok(())
        }
        Cmd::Decompress {
            input,
            output,
            threads,
            reference,
            force,
        } => {
            let input = input.unwrap_or_else(|| PathBuf::from("-"));
            if archive_cmds::is_archive(&input) {
                return archive_cmds::decompress(
                    &input,
                    output,
                    threads,
                    reference.as_deref(),
                    force,
                );
            }
            let output = match output {
                Some(o) => o,
                None => default_decompressed_name(&input)?,
            };
            let blob = read_input(&input)?;
            let data = match reference {
                Some(r) => z4ai::decompress_delta_with(
                    &blob,
                    &read_input(&r)?,
                    &DecodeOptions { threads, isa: None },
                )?,
                None => z4ai::decompress_with(&blob, &DecodeOptions { threads, isa: None })?,
            };
            write_output(&output, &data, force)?;
            status(&format!(
                "{} -> {}: {} bytes",
                input.display(),
                output.display(),
                data.len()
            ));
            Ok(())
        }
        Cmd::Info { file, json } => {
            if file.join(z4ai::archive::MANIFEST).is_file() {
                return archive_cmds::chain_info(&file, json);
            }
            if archive_cmds::is_archive(&file) {
                return archive_cmds::info(&file, json);
            }
            let blob = read_input(&file)?;
            let info = z4ai::frame_info(&blob)?;
            if json {
                println!("{}", info_json(&info));
            } else {
                print_info(&file, &info);
            }
            Ok(())
        }
        Cmd::Verify { file, reference } => {
            if archive_cmds::is_archive(&file) {
                return archive_cmds::verify(&file, reference.as_deref());
            }
            let blob = read_input(&file)?;
            let data = z4ai::decompress(&blob)?;
            println!(
                "{}: OK ({} bytes, all checksums match)",
                file.display(),
                data.len()
            );
            Ok(())
        }
        Cmd::Ls { file, json } => archive_cmds::ls(&file, json),
        Cmd::Extract {
            file,
            tensor,
            file_path,
            output,
            safetensors,
            reference,
            force,
        } => archive_cmds::extract(
            &file,
            tensor,
            file_path,
            output,
            safetensors,
            reference.as_deref(),
            force,
        ),
        Cmd::Chain { cmd } => match cmd {
            ChainCmd::Add {
                dir,
                file,
                keyframe_interval,
                effort,
                threads,
            } => archive_cmds::chain_add(&dir, &file, keyframe_interval, &effort, threads),
            ChainCmd::Restore {
                dir,
                step,
                output,
                threads,
                force,
            } => archive_cmds::chain_restore(&dir, step, &output, threads, force),
        },
        Cmd::Bench {
            file,
            dtype,
            effort,
            threads,
            repeat,
            chunk_size,
            json,
            reference,
        } => bench(
            &file,
            reference.as_deref(),
            dtype.as_deref(),
            &effort,
            threads,
            repeat.max(1),
            chunk_size,
            json,
        ),
    }
}

fn status(msg: &str) {
    if io::stderr().is_terminal() {
        eprintln!("{msg}");
    }
}

fn default_compressed_name(input: &Path) -> PathBuf {
    if input == Path::new("-") {
        return PathBuf::from("-");
    }
    let mut s = input.as_os_str().to_owned();
    s.push(".z4");
    PathBuf::from(s)
}

fn default_decompressed_name(input: &Path) -> CliResult<PathBuf> {
    if input == Path::new("-") {
        return Ok(PathBuf::from("-"));
    }
    match input.extension() {
        Some(e) if e == "z4" => Ok(input.with_extension("")),
        _ => Err(format!(
            "{}: no .z4 suffix; name the output with -o",
            input.display()
        )
        .into()),
    }
}

fn read_input(path: &Path) -> CliResult<Vec<u8>> {
    let mut data = Vec::new();
    if path == Path::new("-") {
        io::stdin().lock().read_to_end(&mut data)?;
    } else {
        let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bar = progress(f.metadata().map(|m| m.len()).unwrap_or(0), "reading");
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
            if let Some(b) = &bar {
                b.inc(n as u64);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }
    Ok(data)
}

fn progress(len: u64, what: &'static str) -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() || len < (64 << 20) {
        return None;
    }
    let b = indicatif::ProgressBar::new(len);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b.set_message(what);
    Some(b)
}

/// Writes `data` to `path` through a temporary file in the same directory,
/// renamed into place; refuses to replace an existing file without `force`.
fn write_output(path: &Path, data: &[u8], force: bool) -> CliResult {
    if path == Path::new("-") {
        let mut out = io::stdout().lock();
        out.write_all(data)?;
        out.flush()?;
        return Ok(());
    }
    if path.exists() && !force {
        return Err(format!(
            "{} already exists; use --force to overwrite",
            path.display()
        )
        .into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or("output has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.z4.tmp{}", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(format!("{}: {e}", path.display()).into());
    }
    Ok(())
}

fn print_info(file: &Path, info: &z4ai::FrameInfo) {
    println!("file:        {}", file.display());
    println!("dtype:       {}", info.dtype);
    println!("content:     {} bytes", info.content_size);
    println!("frame:       {} bytes", info.frame_size);
    println!("ratio:       {:.4}", info.ratio());
    println!("chunk size:  {} bytes", info.chunk_size);
    println!(
        "chunks:      {} in {} block(s)",
        info.chunks.len(),
        info.blocks
    );
    println!("kernels:     {}", Isa::active());
    let tf: Vec<String> = info
        .transforms
        .iter()
        .map(|(t, c)| format!("{t} x{c}"))
        .collect();
    println!(
        "transforms:  {}",
        if tf.is_empty() {
            "none".to_string()
        } else {
            tf.join(", ")
        }
    );
    // Chunks coded by a transform or stored code no planes of their own.
    if info.planes.iter().all(|s| s.methods.is_empty()) {
        println!("planes:      none (every chunk is coded by a transform or stored)");
    }
    for (p, s) in info.planes.iter().enumerate() {
        if s.methods.is_empty() {
            continue;
        }
        let methods: Vec<String> = s
            .methods
            .iter()
            .map(|(m, (c, b))| format!("{m} x{c} ({b} B)"))
            .collect();
        println!(
            "plane {p}:     {} [shared model in {} chunks]",
            methods.join(", "),
            s.shared_models
        );
    }
}

fn info_json(info: &z4ai::FrameInfo) -> String {
    let planes: Vec<serde_json::Value> = info
        .planes
        .iter()
        .enumerate()
        .map(|(p, s)| {
            let methods: serde_json::Map<String, serde_json::Value> = s
                .methods
                .iter()
                .map(|(m, (c, b))| (m.clone(), serde_json::json!({"chunks": c, "bytes": b})))
                .collect();
            serde_json::json!({"plane": p, "methods": methods, "shared_model_chunks": s.shared_models})
        })
        .collect();
    serde_json::json!({
        "dtype": info.dtype.name(),
        "content_size": info.content_size,
        "frame_size": info.frame_size,
        "ratio": info.ratio(),
        "chunk_size": info.chunk_size,
        "blocks": info.blocks,
        "chunks": info.chunks.len(),
        "isa": Isa::active().name(),
        "planes": planes,
        "transforms": info.transforms,
    })
    .to_string()
}

/// What `bench` times: the one-shot API on a raw buffer (with a delta
/// reference or not), or the archive writer and reader on a model file
/// (a model delta archive where a reference is given: its bytes, attached
/// as a [`Reference`] held in memory).
enum BenchMode {
    Buffer {
        dtype: DType,
        reference: Option<Vec<u8>>,
    },
    Model {
        format: archive::FileFormat,
        name: String,
        reference: Option<Vec<u8>>,
    },
}

/// One effort's round trip: frame or archive size, best compress and
/// decompress seconds, and whether the output matched.
struct Timing {
    size: usize,
    /// Into memory kept across runs (buffers; archives always get a new
    /// `Vec`).
    compress_s: f64,
    /// Into a new `Vec` each run (`compress`), where that differs.
    compress_vec_s: Option<f64>,
    decompress_s: f64,
    verified: bool,
}

/// `opts` with an explicit `--chunk-size` for plain and delta frames alike.
fn with_chunk_size(opts: Options, chunk_size: Option<usize>) -> Options {
    match chunk_size {
        Some(c) => opts.chunk_size(c),
        None => opts,
    }
}

/// The best of `repeat` timed runs of `f`, with the last run's result.
fn best_of<T>(repeat: usize, mut f: impl FnMut() -> z4ai::Result<T>) -> CliResult<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat {
        let t = Instant::now();
        last = Some(f()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok((best, last.expect("repeat >= 1")))
}

#[allow(clippy::too_many_arguments)] // one per CLI flag
fn bench(
    file: &Path,
    reference: Option<&Path>,
    dtype: Option<&str>,
    effort: &str,
    threads: usize,
    repeat: usize,
    chunk_size: Option<usize>,
    json: bool,
) -> CliResult {
    let data = read_input(file)?;
    // A model file without --dtype is benchmarked as `compress` codes it:
    // an archive, each tensor with its own dtype (against the reference's
    // tensors where one is given).
    let detected = match dtype {
        None if file != Path::new("-") => archive::detect(file)?,
        _ => archive::Detected::Other,
    };
    let reference = reference.map(read_input).transpose()?;
    let mode = match detected {
        archive::Detected::Model(format) => BenchMode::Model {
            format,
            name: archive::file_name(file),
            reference,
        },
        _ => BenchMode::Buffer {
            dtype: dtype.unwrap_or("bytes").parse()?,
            reference,
        },
    };
    let efforts: Vec<Effort> = if effort == "all" {
        Effort::ALL.to_vec()
    } else {
        vec![effort.parse()?]
    };
    let dopts = DecodeOptions { threads, isa: None };
    let mb = data.len() as f64 / 1e6;
    let mut results = Vec::new();
    for e in efforts {
        let t = match &mode {
            BenchMode::Buffer { dtype, reference } => {
                let opts = with_chunk_size(
                    Options {
                        dtype: *dtype,
                        effort: e,
                        threads,
                        ..Options::default()
                    },
                    chunk_size,
                );
                // Both directions write into buffers kept across runs, as a
                // caller compressing checkpoint after checkpoint does (the
                // first run maps them); `compress`, which returns a new `Vec`
                // and so maps fresh pages every call, is timed beside it.
                let mut dst = vec![0u8; z4ai::compress_bound(data.len(), &opts)];
                let (compress_s, n) = best_of(repeat, || match reference {
                    Some(r) => z4ai::compress_delta_into(&data, r, &mut dst, &opts),
                    None => z4ai::compress_into(&data, &mut dst, &opts),
                })?;
                let (compress_vec_s, _) = best_of(repeat, || match reference {
                    Some(r) => z4ai::compress_delta(&data, r, &opts),
                    None => z4ai::compress(&data, &opts),
                })?;
                let blob = &dst[..n];
                let mut out = vec![0u8; data.len()];
                let (decompress_s, _) = best_of(repeat, || match reference {
                    Some(r) => z4ai::decompress_delta_into_with(blob, r, &mut out, &dopts),
                    None => z4ai::decompress_into_with(blob, &mut out, &dopts),
                })?;
                Timing {
                    size: blob.len(),
                    compress_s,
                    compress_vec_s: Some(compress_vec_s),
                    decompress_s,
                    verified: out == data,
                }
            }
            BenchMode::Model {
                name, reference, ..
            } => {
                let opts = archive_cmds::archive_options(e, threads, chunk_size);
                // The reference is hashed in the first run and not again.
                let held = reference.clone().map(Reference::from_bytes).transpose()?;
                let (compress_s, blob) = best_of(repeat, || match &held {
                    Some(r) => archive::compress_bytes_delta(&data, name, r, &opts),
                    None => archive::compress_bytes(&data, name, &opts),
                })?;
                // Opened (its index parsed) once; each run restores the file.
                let size = blob.len();
                let mut a = Archive::from_bytes(blob)?.with_decode_options(dopts);
                if let Some(r) = held {
                    a = a.with_reference(r)?;
                }
                let mut out = Vec::with_capacity(data.len());
                let (decompress_s, _) = best_of(repeat, || {
                    out.clear();
                    a.write_file(0, &mut out)
                })?;
                Timing {
                    size,
                    compress_s,
                    compress_vec_s: None,
                    decompress_s,
                    verified: out == data,
                }
            }
        };
        if !t.verified {
            eprintln!("z4ai bench: ROUND TRIP MISMATCH at effort {e}");
        }
        results.push(serde_json::json!({
            "effort": e.name(),
            "compressed_bytes": t.size,
            "ratio": data.len() as f64 / t.size as f64,
            "compress_mb_s": mb / t.compress_s,
            "compress_new_vec_mb_s": t.compress_vec_s.map(|s| mb / s),
            "decompress_mb_s": mb / t.decompress_s,
            "verified": t.verified,
        }));
    }
    let threads_used = if threads == 0 {
        rayon_threads()
    } else {
        threads
    };
    let (what, dtype_name, mode_name) = match &mode {
        BenchMode::Buffer { dtype, .. } => (format!("dtype {dtype}"), dtype.name(), "buffer"),
        BenchMode::Model {
            format,
            reference: None,
            ..
        } => (
            format!(
                "{} model, archive (each tensor with its dtype)",
                format.name()
            ),
            "archive",
            "archive",
        ),
        BenchMode::Model { format, .. } => (
            format!(
                "{} model, delta archive (each tensor against the reference's)",
                format.name()
            ),
            "archive",
            "delta-archive",
        ),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "file": file.display().to_string(),
                "bytes": data.len(),
                "dtype": dtype_name,
                "mode": mode_name,
                "isa": Isa::active().name(),
                "threads": threads_used,
                "results": results,
            })
        );
    } else {
        println!(
            "{}: {} bytes, {what}, {threads_used} thread(s), kernels {}, best of {repeat}",
            file.display(),
            data.len(),
            Isa::active()
        );
        println!(
            "{:<8} {:>10} {:>14} {:>16} {:>20}",
            "effort", "ratio", "compress MB/s", "decompress MB/s", "compress->Vec MB/s"
        );
        for r in &results {
            let to_vec = match r["compress_new_vec_mb_s"].as_f64() {
                Some(v) => format!("{v:.0}"),
                None => "-".to_string(),
            };
            println!(
                "{:<8} {:>10.4} {:>14.0} {:>16.0} {:>20}{}",
                r["effort"].as_str().unwrap_or(""),
                r["ratio"].as_f64().unwrap_or(0.0),
                r["compress_mb_s"].as_f64().unwrap_or(0.0),
                r["decompress_mb_s"].as_f64().unwrap_or(0.0),
                to_vec,
                if r["verified"].as_bool() == Some(true) {
                    ""
                } else {
                    "  MISMATCH"
                }
            );
        }
    }
    if results
        .iter()
        .any(|r| r["verified"].as_bool() != Some(true))
    {
        return Err("round trip mismatch".into());
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
