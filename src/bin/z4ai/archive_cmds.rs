//! Model files: `compress`/`decompress`/`info`/`verify` on safetensors,
//! GGUF, PyTorch zip files, model folders and `.z4` archives, plus `ls`
//! and `extract`. Inputs are recognised by content (see
//! `z4ai::archive::detect`). Outputs are written to a temporary file (or
//! folder) next to the target and renamed into place; an existing output
//! is replaced only with `--force`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use z4ai::archive::{
    self, Archive, ArchiveKind, ArchiveOptions, Chain, Coding, Detected, Reference,
};
use z4ai::{DecodeOptions, Effort};

use super::{status, CliResult};

/// Whether `compress` should build an archive from `input`.
pub fn is_model(input: &Path) -> bool {
    input != Path::new("-")
        && matches!(
            archive::detect(input),
            Ok(Detected::Model(_) | Detected::Dir)
        )
}

/// Whether `input` is a `.z4` archive (rather than a frame).
pub fn is_archive(input: &Path) -> bool {
    input != Path::new("-") && matches!(archive::detect(input), Ok(Detected::Archive))
}

fn tmp_name(path: &Path) -> CliResult<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or("output has no file name")?
        .to_string_lossy();
    Ok(dir.join(format!(".{name}.z4.tmp{}", std::process::id())))
}

fn refuse_existing(path: &Path, force: bool) -> CliResult {
    if path.symlink_metadata().is_ok() && !force {
        return Err(format!(
            "{} already exists; use --force to overwrite",
            path.display()
        )
        .into());
    }
    Ok(())
}

/// Runs `f` on a temporary file next to `path`, then renames it into
/// place. On failure the temporary file is removed and `path` untouched.
fn write_file_atomic(
    path: &Path,
    force: bool,
    f: impl FnOnce(&mut dyn Write) -> CliResult,
) -> CliResult {
    if path == Path::new("-") {
        let mut w = BufWriter::with_capacity(1 << 20, io::stdout().lock());
        f(&mut w)?;
        w.flush()?;
        return Ok(());
    }
    refuse_existing(path, force)?;
    let tmp = tmp_name(path)?;
    let result = (|| -> CliResult {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        if path.is_dir() {
            return Err(format!("{} is a directory", path.display()).into());
        }
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(format!("{}: {e}", path.display()).into());
    }
    Ok(())
}

/// Runs `f` on a temporary folder next to `path`, then renames it into
/// place (removing an existing `path` first when `force` is given).
fn write_dir_atomic(path: &Path, force: bool, f: impl FnOnce(&Path) -> CliResult) -> CliResult {
    refuse_existing(path, force)?;
    let tmp = tmp_name(path)?;
    let result = (|| -> CliResult {
        fs::create_dir(&tmp)?;
        f(&tmp)?;
        match path.symlink_metadata() {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path)?,
            Ok(_) => fs::remove_file(path)?,
            Err(_) => {}
        }
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!("{}: {e}", path.display()).into());
    }
    Ok(())
}

fn default_archive_name(input: &Path) -> CliResult<PathBuf> {
    let name = input
        .file_name()
        .ok_or_else(|| format!("{}: name the output with -o", input.display()))?;
    let mut n = name.to_owned();
    n.push(".z4");
    Ok(input.with_file_name(n))
}

/// Archive options; an explicit `--chunk-size` for plain and delta frames
/// alike.
pub fn archive_options(
    effort: Effort,
    threads: usize,
    chunk_size: Option<usize>,
) -> ArchiveOptions {
    let opts = ArchiveOptions {
        effort,
        threads,
        ..ArchiveOptions::default()
    };
    match chunk_size {
        Some(c) => opts.chunk_size(c),
        None => opts,
    }
}

/// `z4ai compress MODEL|DIR`.
pub fn compress(
    input: &Path,
    output: Option<PathBuf>,
    effort: &str,
    threads: usize,
    chunk_size: Option<usize>,
    reference: Option<&Path>,
    force: bool,
) -> CliResult {
    let opts = archive_options(effort.parse()?, threads, chunk_size);
    let output = match output {
        Some(o) => o,
        None => default_archive_name(input)?,
    };
    let t = Instant::now();
    let mut stats = None;
    let reference = reference.map(open_reference).transpose()?;
    write_file_atomic(&output, force, |w| {
        stats = Some(match &reference {
            Some(r) => archive::compress_path_delta(input, r, w, &opts)?,
            None => archive::compress_path(input, w, &opts)?,
        });
        Ok(())
    })?;
    let s = stats.unwrap_or_default();
    let secs = t.elapsed().as_secs_f64();
    let delta = if reference.is_some() {
        format!(", {} delta, {} unchanged", s.delta, s.unchanged)
    } else {
        String::new()
    };
    status(&format!(
        "{} -> {}: {} file(s), {} tensors ({} deduplicated{delta}), {} -> {} bytes, ratio {:.4}, {:.0} MB/s",
        input.display(),
        output.display(),
        s.files,
        s.tensors,
        s.deduplicated,
        s.raw_bytes,
        s.archive_bytes,
        s.raw_bytes as f64 / s.archive_bytes.max(1) as f64,
        s.raw_bytes as f64 / 1e6 / secs.max(1e-9)
    ));
    Ok(())
}

fn open_reference(path: &Path) -> CliResult<Reference> {
    Ok(Reference::open(path).map_err(|e| format!("reference {}: {e}", path.display()))?)
}

/// Opens an archive, with its reference attached when one is given.
fn open_with(path: &Path, threads: usize, reference: Option<&Path>) -> CliResult<Archive> {
    let mut a = Archive::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(r) = reference {
        a = a
            .with_reference(open_reference(r)?)
            .map_err(|e| format!("{}: reference {}: {e}", path.display(), r.display()))?;
    }
    Ok(a.with_decode_options(DecodeOptions { threads, isa: None }))
}

fn open(path: &Path, threads: usize) -> CliResult<Archive> {
    open_with(path, threads, None)
}

/// `z4ai decompress ARCHIVE [--reference OLD]`.
pub fn decompress(
    input: &Path,
    output: Option<PathBuf>,
    threads: usize,
    reference: Option<&Path>,
    force: bool,
) -> CliResult {
    let a = open_with(input, threads, reference)?;
    let output = match output {
        Some(o) => o,
        None => match input.extension() {
            Some(e) if e == "z4" => input.with_extension(""),
            _ => {
                return Err(format!(
                    "{}: no .z4 suffix; name the output with -o",
                    input.display()
                )
                .into())
            }
        },
    };
    let mut total = 0u64;
    match a.kind() {
        ArchiveKind::File => write_file_atomic(&output, force, |w| {
            total = a.write_file(0, w)?;
            Ok(())
        })?,
        ArchiveKind::Dir => write_dir_atomic(&output, force, |dir| {
            for (fi, f) in a.files().iter().enumerate() {
                let p = dir.join(&f.path);
                if let Some(parent) = p.parent() {
                    fs::create_dir_all(parent)?;
                }
                let mut w = BufWriter::with_capacity(1 << 20, File::create(&p)?);
                total += a.write_file(fi, &mut w)?;
                w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            }
            Ok(())
        })?,
    }
    status(&format!(
        "{} -> {}: {total} bytes",
        input.display(),
        output.display()
    ));
    Ok(())
}

/// `z4ai verify ARCHIVE [--reference OLD]`.
pub fn verify(file: &Path, reference: Option<&Path>) -> CliResult {
    let a = open_with(file, 0, reference)?;
    let n = a.verify().map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "{}: OK ({} file(s), {} tensors, {n} bytes, all checksums match)",
        file.display(),
        a.files().len(),
        a.tensors().len()
    );
    Ok(())
}

fn coding_note(c: Coding) -> &'static str {
    match c {
        Coding::Standalone => "",
        Coding::Delta => "\t(delta)",
        Coding::SameAsReference => "\t(same as reference)",
    }
}

fn shape_str(shape: &[u64]) -> String {
    let s: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!("[{}]", s.join(", "))
}

/// `z4ai ls ARCHIVE`.
pub fn ls(file: &Path, json: bool) -> CliResult {
    let a = open(file, 0)?;
    let ts = a.tensors();
    if json {
        let v: Vec<serde_json::Value> = ts
            .iter()
            .map(|t| {
                serde_json::json!({
                    "file": t.file, "name": t.name, "dtype": t.dtype, "shape": t.shape,
                    "raw_size": t.raw_size, "compressed_size": t.compressed_size,
                    "deduplicated": t.deduplicated, "coding": t.coding.name(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let dir = a.kind() == ArchiveKind::Dir;
    let mut out = io::stdout().lock();
    for t in &ts {
        let name = if dir {
            format!("{}:{}", t.file, t.name)
        } else {
            t.name.clone()
        };
        writeln!(
            out,
            "{name}\t{}\t{}\t{}\t{}{}{}",
            t.dtype,
            shape_str(&t.shape),
            t.raw_size,
            t.compressed_size,
            if t.deduplicated { "\t(dedup)" } else { "" },
            coding_note(t.coding)
        )?;
    }
    Ok(())
}

/// `z4ai extract ARCHIVE --tensor NAME [-o out.bin | --safetensors out.safetensors]`,
/// or `--file PATH -o out` for a whole file of the archive.
pub fn extract(
    file: &Path,
    tensor: Option<String>,
    path_in_archive: Option<String>,
    output: Option<PathBuf>,
    safetensors: Option<PathBuf>,
    reference: Option<&Path>,
    force: bool,
) -> CliResult {
    let a = open_with(file, 0, reference)?;
    if let Some(p) = path_in_archive {
        let out = output.ok_or("name the output with -o")?;
        return write_file_atomic(&out, force, |w| {
            a.write_file_by_path(&p, w)?;
            Ok(())
        });
    }
    let name = tensor.ok_or("name the tensor with --tensor (or a file with --file)")?;
    let info = a.tensor_info(&name)?;
    let data = a.tensor(&name)?;
    match (output, safetensors) {
        (Some(o), None) => write_file_atomic(&o, force, |w| Ok(w.write_all(&data)?)),
        (None, Some(s)) => {
            let mut header = serde_json::Map::new();
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": info.dtype, "shape": info.shape, "data_offsets": [0, data.len()]}),
            );
            let mut json = serde_json::Value::Object(header).to_string().into_bytes();
            while json.len() & 7 != 0 {
                json.push(b' ');
            }
            write_file_atomic(&s, force, |w| {
                w.write_all(&(json.len() as u64).to_le_bytes())?;
                w.write_all(&json)?;
                w.write_all(&data)?;
                Ok(())
            })
        }
        _ => Err("name the output with either -o FILE or --safetensors FILE".into()),
    }
}

fn reference_json(a: &Archive) -> serde_json::Value {
    match a.needs_reference() {
        Some(r) => serde_json::json!({"size": r.size, "xxh3_128": format!("{:032x}", r.hash)}),
        None => serde_json::Value::Null,
    }
}

/// `z4ai info ARCHIVE [--json]`.
pub fn info(file: &Path, json: bool) -> CliResult {
    let a = open(file, 0)?;
    let files = a.files();
    let ts = a.tensors();
    let raw: u64 = files.iter().map(|f| f.size).sum();
    let size = a.archive_size();
    let mut tensors = Vec::with_capacity(ts.len());
    for t in &ts {
        let mut frames = Vec::new();
        for blob in a.tensor_frames(&t.name)? {
            let fi = z4ai::frame_info(&blob).map_err(|e| format!("tensor '{}': {e}", t.name))?;
            let planes: Vec<serde_json::Value> = fi
                .planes
                .iter()
                .enumerate()
                .map(|(p, s)| {
                    let m: serde_json::Map<String, serde_json::Value> = s
                        .methods
                        .iter()
                        .map(|(m, (c, b))| {
                            (m.clone(), serde_json::json!({"chunks": c, "bytes": b}))
                        })
                        .collect();
                    serde_json::json!({"plane": p, "methods": m})
                })
                .collect();
            frames.push(serde_json::json!({
                "dtype": fi.dtype.name(), "content_size": fi.content_size,
                "frame_size": fi.frame_size, "chunks": fi.chunks.len(), "planes": planes,
                "transforms": fi.transforms,
            }));
        }
        tensors.push(serde_json::json!({
            "file": t.file, "name": t.name, "dtype": t.dtype, "shape": t.shape,
            "raw_size": t.raw_size, "compressed_size": t.compressed_size,
            "ratio": t.ratio(), "deduplicated": t.deduplicated, "coding": t.coding.name(),
            "frames": frames,
        }));
    }
    if json {
        let fl: Vec<serde_json::Value> = files
            .iter()
            .map(|f| {
                serde_json::json!({"path": f.path, "format": f.format.name(), "size": f.size,
                "tensors": f.tensors, "compressed_size": f.compressed_size})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "archive": file.display().to_string(),
                "kind": if a.kind() == ArchiveKind::Dir { "dir" } else { "file" },
                "raw_size": raw, "archive_size": size,
                "ratio": raw as f64 / size.max(1) as f64,
                "version": a.version(),
                "reference": reference_json(&a),
                "metadata": a.metadata()?,
                "files": fl, "tensors": tensors,
            })
        );
        return Ok(());
    }
    let mut out = io::stdout().lock();
    writeln!(out, "archive:  {}", file.display())?;
    writeln!(
        out,
        "content:  {raw} bytes in {} file(s), {} tensors",
        files.len(),
        ts.len()
    )?;
    writeln!(
        out,
        "archive:  {size} bytes, ratio {:.4}, version {}",
        raw as f64 / size.max(1) as f64,
        a.version()
    )?;
    if let Some(r) = a.needs_reference() {
        let n = |c: Coding| ts.iter().filter(|t| t.coding == c).count();
        writeln!(
            out,
            "delta:    against a {}-byte reference (xxh3-128 {:032x}); {} delta, {} same as reference, {} standalone tensors",
            r.size,
            r.hash,
            n(Coding::Delta),
            n(Coding::SameAsReference),
            n(Coding::Standalone)
        )?;
    }
    for f in &files {
        writeln!(
            out,
            "file {}: {}, {} bytes, {} tensors, {} bytes compressed",
            f.path,
            f.format.name(),
            f.size,
            f.tensors,
            f.compressed_size
        )?;
    }
    for t in &tensors {
        let methods: Vec<String> = t["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|fr| fr["planes"].as_array().cloned().unwrap_or_default())
            .map(|p| {
                let ms: Vec<String> = p["methods"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                format!("p{}:{}", p["plane"], ms.join("+"))
            })
            .collect();
        writeln!(
            out,
            "{}\t{}\t{}\t{} -> {}\t{:.3}{}{}\t{}",
            t["name"].as_str().unwrap_or(""),
            t["dtype"].as_str().unwrap_or(""),
            t["shape"],
            t["raw_size"],
            t["compressed_size"],
            t["ratio"].as_f64().unwrap_or(0.0),
            if t["deduplicated"].as_bool() == Some(true) {
                " (dedup)"
            } else {
                ""
            },
            match t["coding"].as_str() {
                Some("delta") => " (delta)",
                Some("same") => " (same as reference)",
                _ => "",
            },
            methods.join(" ")
        )?;
    }
    Ok(())
}

/// `z4ai chain add DIR FILE [--keyframe-interval K]`.
pub fn chain_add(
    dir: &Path,
    file: &Path,
    keyframe_interval: Option<u32>,
    effort: &str,
    threads: usize,
) -> CliResult {
    let opts = ArchiveOptions {
        effort: effort.parse()?,
        threads,
        ..ArchiveOptions::default()
    };
    let t = Instant::now();
    let mut chain = Chain::open_or_create(dir, keyframe_interval)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let (step, stats) = chain
        .add(file, &opts)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    status(&format!(
        "{} -> {}/{}: step {} ({}), {} -> {} bytes, ratio {:.4} ({} delta, {} unchanged tensors), {:.2} s",
        file.display(),
        dir.display(),
        step.archive,
        chain.steps().len() - 1,
        step.kind.name(),
        step.size,
        step.stored,
        step.ratio(),
        stats.delta,
        stats.unchanged,
        t.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `z4ai chain restore DIR --step K -o OUT`.
pub fn chain_restore(
    dir: &Path,
    step: usize,
    output: &Path,
    threads: usize,
    force: bool,
) -> CliResult {
    let chain = Chain::open(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .with_decode_options(DecodeOptions { threads, isa: None });
    let mut n = 0;
    write_file_atomic(output, force, |w| {
        n = chain.restore(step, w)?;
        Ok(())
    })?;
    status(&format!(
        "{} step {step} -> {}: {n} bytes",
        dir.display(),
        output.display()
    ));
    Ok(())
}

/// `z4ai info CHAIN_DIR [--json]`.
pub fn chain_info(dir: &Path, json: bool) -> CliResult {
    let chain = Chain::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let steps = chain.steps();
    let raw: u64 = steps.iter().map(|s| s.size).sum();
    let stored: u64 = steps.iter().map(|s| s.stored).sum();
    if json {
        let v: Vec<serde_json::Value> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({"step": i, "kind": s.kind.name(), "archive": s.archive,
                "source": s.source, "raw_size": s.size, "stored_size": s.stored, "ratio": s.ratio()})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"chain": dir.display().to_string(),
            "keyframe_interval": chain.keyframe_interval(), "raw_size": raw,
            "stored_size": stored, "ratio": raw as f64 / stored.max(1) as f64, "steps": v})
        );
        return Ok(());
    }
    let mut out = io::stdout().lock();
    writeln!(out, "chain:    {}", dir.display())?;
    writeln!(
        out,
        "steps:    {}, keyframe every {}; {raw} -> {stored} bytes, ratio {:.4}",
        steps.len(),
        chain.keyframe_interval(),
        raw as f64 / stored.max(1) as f64
    )?;
    writeln!(out, "step\tkind\traw\tstored\tratio\tsource")?;
    for (i, s) in steps.iter().enumerate() {
        writeln!(
            out,
            "{i}\t{}\t{}\t{}\t{:.3}\t{}",
            s.kind.name(),
            s.size,
            s.stored,
            s.ratio(),
            s.source
        )?;
    }
    Ok(())
}
