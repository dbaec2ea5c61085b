//! Building an archive: plan every file's pieces, then code them in
//! bounded batches (read, hash, dedup, compress in parallel, write in
//! order). A piece larger than a batch or than one engine block never sits
//! in memory whole: it is hashed in windows, then each of its frames (one
//! per GGUF block field for a split) is streamed through a sized encoder
//! that holds one block. Memory is about one batch of input and its frames
//! plus one block's working set, however large the model or a tensor is
//! (docs/ARCHIVE.md, "Peak memory"); the archive is the same whichever path
//! a piece takes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use super::format::{self, ArchiveKind, FileEntry, FileFormat, FrameRef, Index, Piece, RefSlice};
use super::reference::{RefTensor, Reference};
use super::source::{FileSource, ReadAt};
use super::{gguf, plan_spans, ArchiveOptions, ArchiveStats, Span, ARCHIVE_BLOCK_CHUNKS};
use crate::dtype::DType;
use crate::engine::FrameParts;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::stream::Encoder;

/// Bytes read at a time when hashing, comparing or streaming a big piece.
const STEP: usize = 1 << 20;

/// One input file.
struct Input<'a> {
    path: String,
    src: Box<dyn ReadAt + 'a>,
    format: FileFormat,
    spans: Vec<Span>,
}

/// The name a single-file archive records for the file at `path`: its
/// file name (`model` when the path has none).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned())
}

/// Compresses a model file or a directory at `input` into an archive
/// written to `out`. Files are read with positioned reads, never whole.
pub fn compress_path<W: Write>(
    input: &Path,
    out: W,
    opts: &ArchiveOptions,
) -> Result<ArchiveStats> {
    let meta = fs::metadata(input)?;
    let mut inputs = Vec::new();
    let kind = if meta.is_dir() {
        let mut rel = Vec::new();
        walk(input, "", &mut rel)?;
        for r in rel {
            let src = FileSource::new(File::open(input.join(&r))?)?;
            inputs.push(plan_input(r, Box::new(src))?);
        }
        ArchiveKind::Dir
    } else {
        let src = FileSource::new(File::open(input)?)?;
        inputs.push(plan_input(file_name(input), Box::new(src))?);
        ArchiveKind::File
    };
    run(kind, inputs, out, opts, None)
}

/// Compresses the model file at `input` as a delta against `reference` (a
/// previous checkpoint or the base model; its original file or its
/// archive) into an archive of version 2. Each tensor whose name, dtype
/// and shape match a reference tensor is stored as a delta frame against
/// it, or without a frame when its bytes are identical; every other piece
/// is coded standalone. Folders are not supported.
pub fn compress_path_delta<W: Write>(
    input: &Path,
    reference: &Reference,
    out: W,
    opts: &ArchiveOptions,
) -> Result<ArchiveStats> {
    if fs::metadata(input)?.is_dir() {
        return Err(Error::InvalidOption(
            "model deltas are made between single files, not folders".into(),
        ));
    }
    let src = FileSource::new(File::open(input)?)?;
    let inputs = vec![plan_input(file_name(input), Box::new(src))?];
    run(ArchiveKind::File, inputs, out, opts, Some(reference))
}

/// Compresses a model file held in memory (`name` is recorded as its file
/// name) into an archive in memory.
pub fn compress_bytes(data: &[u8], name: &str, opts: &ArchiveOptions) -> Result<Vec<u8>> {
    let input = plan_input(name.to_string(), Box::new(data))?;
    let mut out = Vec::new();
    run(ArchiveKind::File, vec![input], &mut out, opts, None)?;
    Ok(out)
}

/// [`compress_bytes`] as a delta against `reference` (see
/// [`compress_path_delta`]).
pub fn compress_bytes_delta(
    data: &[u8],
    name: &str,
    reference: &Reference,
    opts: &ArchiveOptions,
) -> Result<Vec<u8>> {
    let input = plan_input(name.to_string(), Box::new(data))?;
    let mut out = Vec::new();
    run(
        ArchiveKind::File,
        vec![input],
        &mut out,
        opts,
        Some(reference),
    )?;
    Ok(out)
}

/// Lists the regular files under `dir` (recursively, sorted, `/`-joined).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for n in names {
        let s = n.to_str().ok_or_else(|| {
            Error::InvalidOption(format!(
                "{}: file name is not UTF-8",
                dir.join(&n).display()
            ))
        })?;
        let rel = if prefix.is_empty() {
            s.to_string()
        } else {
            format!("{prefix}/{s}")
        };
        let p = dir.join(&n);
        let ft = fs::symlink_metadata(&p)?.file_type();
        if ft.is_dir() {
            walk(&p, &rel, out)?;
        } else if ft.is_file() || (ft.is_symlink() && fs::metadata(&p)?.is_file()) {
            if rel.len() > usize::from(u16::MAX) {
                return Err(Error::InvalidOption(format!("{rel}: path too long")));
            }
            out.push(rel);
        } else {
            return Err(Error::InvalidOption(format!(
                "{}: not a regular file or directory",
                p.display()
            )));
        }
    }
    Ok(())
}

fn plan_input<'a>(path: String, src: Box<dyn ReadAt + 'a>) -> Result<Input<'a>> {
    let lower = path.to_ascii_lowercase();
    let hint = if lower.ends_with(".safetensors") {
        Some(FileFormat::Safetensors)
    } else if lower.ends_with(".gguf") {
        Some(FileFormat::Gguf)
    } else {
        None
    };
    let (format, spans) = plan_spans(&*src, hint).map_err(|e| match e {
        Error::Malformed { what, detail } => Error::Malformed {
            what,
            detail: format!("{path}: {detail}"),
        },
        e => e,
    })?;
    Ok(Input {
        path,
        src,
        format,
        spans,
    })
}

/// Counts what has been written.
struct Out<W: Write> {
    w: W,
    pos: u64,
}

impl<W: Write> Write for Out<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(b)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Where the first copy of some bytes lives.
#[derive(Clone, Copy)]
struct Seen {
    frame: u32,
    file: usize,
    offset: u64,
    len: u64,
    /// The reference bytes the frame is a delta against, if any.
    reference: Option<RefSlice>,
}

/// The reference tensor a span is coded against: same name, dtype and
/// shape, not empty, and not a GGUF block split.
fn ref_tensor<'r>(reference: Option<&'r Reference>, span: &Span) -> Option<&'r RefTensor> {
    let t = span.tensor.as_ref()?;
    let r = reference?.tensor(&t.name)?;
    let fits = span.gguf.is_none()
        && span.len > 0
        && r.len == span.len
        && r.dtype == t.dtype
        && r.shape == t.shape;
    fits.then_some(r)
}

/// Frame options for `dtype` (threads 0: the pool the caller runs in).
fn frame_opts(opts: &ArchiveOptions, dtype: DType) -> Options {
    Options {
        dtype,
        effort: opts.effort,
        threads: 0,
        chunk_size: opts.chunk_size,
        delta_chunk_size: opts.delta_chunk_size,
        block_chunks: ARCHIVE_BLOCK_CHUNKS,
        ..Options::default()
    }
}

struct State<'a, W: Write> {
    pool: Option<rayon::ThreadPool>,
    inputs: &'a [Input<'a>],
    out: Out<W>,
    frames: Vec<FrameRef>,
    files: Vec<FileEntry>,
    seen: HashMap<u128, Seen>,
    opts: &'a ArchiveOptions,
    stats: ArchiveStats,
    reference: Option<&'a Reference>,
    batches: crate::trim::Batches,
}

fn run<W: Write>(
    kind: ArchiveKind,
    inputs: Vec<Input<'_>>,
    out: W,
    opts: &ArchiveOptions,
    reference: Option<&Reference>,
) -> Result<ArchiveStats> {
    let ref_id = reference.map(Reference::id).transpose()?;
    let pool = if opts.threads == 0 {
        None
    } else {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(opts.threads)
                .build()
                .map_err(|e| Error::InvalidOption(format!("thread pool: {e}")))?,
        )
    };
    {
        let mut st = State {
            pool,
            inputs: &inputs,
            out: Out { w: out, pos: 0 },
            frames: Vec::new(),
            files: Vec::new(),
            seen: HashMap::new(),
            opts,
            stats: ArchiveStats::default(),
            reference,
            batches: Default::default(),
        };
        let version = if ref_id.is_some() {
            format::VERSION_DELTA
        } else {
            format::VERSION
        };
        st.out.write_all(&format::head(version))?;
        st.code_all()?;
        let index = Index {
            kind,
            frames: std::mem::take(&mut st.frames),
            files: std::mem::take(&mut st.files),
            reference: ref_id,
        };
        let bytes = index.to_bytes();
        let at = st.out.pos;
        st.out.write_all(&bytes)?;
        st.out.write_all(&format::footer(at, &bytes, version))?;
        st.out.flush()?;
        st.stats.files = index.files.len();
        st.stats.frames = index.frames.len();
        st.stats.archive_bytes = st.out.pos;
        Ok(st.stats)
    }
}

/// Whether a piece repeats earlier bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dup {
    /// New bytes: coded and written.
    No,
    /// Same bytes as an already written frame.
    Frame(u32),
    /// Same bytes as an earlier job of this batch.
    Job(usize),
}

/// A piece being coded in the current batch.
struct Job<'a> {
    file: usize,
    span: Span,
    /// The piece's bytes: borrowed where the input is memory, else read.
    data: Cow<'a, [u8]>,
    hash: u128,
    /// Set when earlier bytes are the same.
    dup: Dup,
    /// Coded frames (dtype code, bytes).
    coded: Vec<(u8, FrameParts)>,
    /// The reference tensor of the same name, dtype and shape: where it
    /// is, and its bytes (borrowed where the reference is in memory;
    /// dropped once coded).
    reference: Option<(RefSlice, Cow<'a, [u8]>)>,
    /// The bytes equal the reference's: no frame.
    same: bool,
}

impl<W: Write> State<'_, W> {
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    fn code_all(&mut self) -> Result<()> {
        let limit = self.opts.batch_bytes.max(1) as u64;
        // A piece larger than one engine block (or than a batch) is
        // streamed: coded in memory it would be held whole with its frame,
        // while the encoder holds one block.
        let window = limit.min(frame_opts(self.opts, DType::Bytes).block_bytes(false)? as u64);
        let inputs = self.inputs;
        for (fi, input) in inputs.iter().enumerate() {
            self.files.push(FileEntry {
                path: input.path.clone(),
                format: input.format,
                size: input.src.size(),
                pieces: Vec::with_capacity(input.spans.len()),
            });
            let mut batch: Vec<&Span> = Vec::new();
            let mut bytes = 0u64;
            for span in &input.spans {
                // Delta pieces are coded in memory (a batch of their own
                // when large): the delta coder needs both tensors whole.
                if span.len > window && ref_tensor(self.reference, span).is_none() {
                    self.flush(fi, &mut batch)?;
                    bytes = 0;
                    self.big(fi, span)?;
                    continue;
                }
                if !batch.is_empty() && (bytes + span.len > limit || batch.len() >= 4096) {
                    self.flush(fi, &mut batch)?;
                    bytes = 0;
                }
                bytes += span.len;
                batch.push(span);
            }
            self.flush(fi, &mut batch)?;
        }
        Ok(())
    }

    /// Reads, hashes, deduplicates, codes and writes a batch of pieces.
    fn flush(&mut self, fi: usize, batch: &mut Vec<&Span>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.batches.start();
        // From the inputs, not through `self`: jobs borrow an input held
        // in memory instead of copying it (a copy into fresh pages per
        // piece).
        let inputs = self.inputs;
        let src = &*inputs[fi].src;
        let spans: &[&Span] = batch;
        let reference = self.reference;
        let mut jobs = self.install(|| {
            spans
                .par_iter()
                .map(|s| {
                    let data = src.bytes(s.offset, s.len)?;
                    let hash = super::piece_hash(&data);
                    let reference = match (reference, ref_tensor(reference, s)) {
                        (Some(r), Some(t)) => {
                            let (bytes, h) = r.read(t)?;
                            let slice = RefSlice {
                                offset: t.offset,
                                len: t.len,
                                hash: h,
                            };
                            Some((slice, bytes))
                        }
                        _ => None,
                    };
                    let same = reference
                        .as_ref()
                        .is_some_and(|(r, b)| r.hash == hash && b[..] == data[..]);
                    Ok(Job {
                        file: fi,
                        span: (*s).clone(),
                        hash,
                        data,
                        dup: Dup::No,
                        coded: Vec::new(),
                        reference,
                        same,
                    })
                })
                .collect::<Result<Vec<Job>>>()
        })?;
        batch.clear();
        // Dedup, in order, so the result is deterministic.
        let mut batch_first: HashMap<u128, usize> = HashMap::new();
        for k in 0..jobs.len() {
            if jobs[k].span.gguf.is_some() || jobs[k].same {
                continue;
            }
            let h = jobs[k].hash;
            if let Some(&j) = batch_first.get(&h) {
                if jobs[j].data == jobs[k].data {
                    jobs[k].dup = Dup::Job(j);
                    continue;
                }
            } else if let Some(seen) = self.seen.get(&h).copied() {
                if self.same_as(seen, &jobs[k].data)? {
                    jobs[k].dup = Dup::Frame(seen.frame);
                    continue;
                }
            }
            batch_first.entry(h).or_insert(k);
        }
        // Code the new pieces in parallel.
        let opts = self.opts;
        self.install(|| {
            jobs.par_iter_mut()
                .filter(|j| j.dup == Dup::No && !j.same)
                .try_for_each(|j| -> Result<()> {
                    if let Some((_, old)) = &j.reference {
                        let o = frame_opts(opts, j.span.dtype);
                        j.coded = vec![(
                            j.span.dtype.code(),
                            crate::compress_delta_parts(&j.data, old, &o)?,
                        )];
                        j.data = Cow::Borrowed(&[]);
                        return Ok(());
                    }
                    j.coded = match j.span.gguf {
                        Some(t) => {
                            let fields = gguf::split(t, &std::mem::take(&mut j.data));
                            fields
                                .into_iter()
                                .map(|(d, buf)| {
                                    Ok((
                                        d.code(),
                                        crate::compress_parts(&buf, &frame_opts(opts, d))?,
                                    ))
                                })
                                .collect::<Result<_>>()?
                        }
                        None => vec![(
                            j.span.dtype.code(),
                            crate::compress_parts(&j.data, &frame_opts(opts, j.span.dtype))?,
                        )],
                    };
                    j.data = Cow::Borrowed(&[]);
                    Ok(())
                })
        })?;
        // Write in order; resolve in-batch duplicates to their frame.
        let mut first_frame: Vec<Option<(u32, Option<RefSlice>)>> = vec![None; jobs.len()];
        for k in 0..jobs.len() {
            let job = &mut jobs[k];
            if job.same {
                let slice = job.reference.take().map(|(s, _)| s);
                self.stats.unchanged += 1;
                self.push_piece(fi, &job.span, job.hash, Vec::new(), slice);
                continue;
            }
            let slice = job.reference.take().map(|(s, _)| s);
            let (frames, slice) = match job.dup {
                Dup::Job(j) => {
                    let (f, s) = first_frame[j].expect("earlier job written");
                    (vec![f], s)
                }
                Dup::Frame(f) => (vec![f], self.seen_ref(f, job.hash)),
                Dup::No => {
                    let mut ids = Vec::new();
                    for (dtype, blob) in std::mem::take(&mut job.coded) {
                        let id = self.write_frame(&blob, dtype, job.span.len)?;
                        ids.push(id);
                    }
                    if let Some(t) = job.span.gguf {
                        for (i, id) in ids.iter().enumerate() {
                            // Split frames decode to their own field sizes.
                            self.frames[*id as usize].raw_len = gguf::field_len(t, job.span.len, i);
                        }
                    } else {
                        self.seen.entry(job.hash).or_insert(Seen {
                            frame: ids[0],
                            file: job.file,
                            offset: job.span.offset,
                            len: job.span.len,
                            reference: slice,
                        });
                    }
                    if slice.is_some() {
                        self.stats.delta += 1;
                    }
                    (ids, slice)
                }
            };
            first_frame[k] = Some((frames[0], slice));
            if job.dup != Dup::No {
                self.stats.deduplicated += 1;
            }
            self.push_piece(fi, &job.span, job.hash, frames, slice);
        }
        Ok(())
    }

    /// The reference slice of the frame first written for `hash`.
    fn seen_ref(&self, frame: u32, hash: u128) -> Option<RefSlice> {
        self.seen
            .get(&hash)
            .filter(|s| s.frame == frame)
            .and_then(|s| s.reference)
    }

    /// Writes a frame from the parts it was coded in (no contiguous copy).
    fn write_frame(&mut self, blob: &FrameParts, dtype: u8, raw_len: u64) -> Result<u32> {
        let offset = self.out.pos;
        for part in blob.parts() {
            self.out.write_all(part)?;
        }
        let id = u32::try_from(self.frames.len())
            .map_err(|_| Error::InvalidOption("more than 2^32 frames".into()))?;
        self.frames.push(FrameRef {
            offset,
            len: blob.len() as u64,
            raw_len,
            dtype,
        });
        Ok(id)
    }

    fn push_piece(
        &mut self,
        fi: usize,
        span: &Span,
        hash: u128,
        frames: Vec<u32>,
        reference: Option<RefSlice>,
    ) {
        if span.tensor.is_some() {
            self.stats.tensors += 1;
        }
        self.stats.raw_bytes += span.len;
        let transform = match (&reference, frames.is_empty()) {
            (Some(_), true) => format::TRANSFORM_REF_COPY,
            (Some(_), false) => format::TRANSFORM_DELTA,
            _ if span.gguf.is_some() => format::TRANSFORM_GGUF_SPLIT,
            _ => format::TRANSFORM_NONE,
        };
        self.files[fi].pieces.push(Piece {
            offset: span.offset,
            len: span.len,
            hash,
            transform,
            param: span.gguf.unwrap_or(0),
            frames,
            tensor: span.tensor.clone(),
            reference,
        });
    }

    /// Whether the bytes at `seen` equal `data` (read back in steps).
    fn same_as(&self, seen: Seen, data: &[u8]) -> Result<bool> {
        if seen.len != data.len() as u64 {
            return Ok(false);
        }
        let src = &*self.inputs[seen.file].src;
        let mut buf = vec![0u8; STEP.min(data.len())];
        for (i, part) in data.chunks(STEP).enumerate() {
            let b = &mut buf[..part.len()];
            src.read_at(seen.offset + (i * STEP) as u64, b)?;
            if b != part {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether two ranges of the inputs hold the same bytes.
    fn same_ranges(&self, a: Seen, fi: usize, offset: u64, len: u64) -> Result<bool> {
        if a.len != len {
            return Ok(false);
        }
        let (sa, sb) = (&*self.inputs[a.file].src, &*self.inputs[fi].src);
        let step = STEP.min(len as usize);
        let (mut ba, mut bb) = (vec![0u8; step], vec![0u8; step]);
        let mut pos = 0u64;
        while pos < len {
            let n = (len - pos).min(step as u64) as usize;
            sa.read_at(a.offset + pos, &mut ba[..n])?;
            sb.read_at(offset + pos, &mut bb[..n])?;
            if ba[..n] != bb[..n] {
                return Ok(false);
            }
            pos += n as u64;
        }
        Ok(true)
    }

    /// A piece larger than a window: hashed in steps, then each of its
    /// frames (one, or one per field of a GGUF block split) streamed
    /// through a sized encoder into the output, reading the piece once per
    /// frame in windows of whole quantization blocks. The frames are the
    /// ones the batch path makes of the same bytes.
    fn big(&mut self, fi: usize, span: &Span) -> Result<()> {
        self.batches.start();
        let inputs = self.inputs;
        let src = &*inputs[fi].src;
        let layout = span.gguf.and_then(|t| gguf::layout(t, span.len));
        // Read windows: at most a step (or a batch, when smaller), whole
        // quantization blocks.
        let block = layout.map_or(1, |(fields, _)| gguf::block_size(fields));
        let window = (self.opts.batch_bytes.clamp(1, STEP) / block).max(1) * block;
        let mut buf = vec![0u8; window];
        let mut h = Xxh3::new();
        let mut pos = 0u64;
        while pos < span.len {
            let n = (span.len - pos).min(window as u64) as usize;
            src.read_at(span.offset + pos, &mut buf[..n])?;
            h.update(&buf[..n]);
            pos += n as u64;
        }
        let hash = h.digest128();
        // Split pieces are not deduplicated (as in the batch path).
        if span.gguf.is_none() {
            if let Some(seen) = self.seen.get(&hash).copied() {
                if self.same_ranges(seen, fi, span.offset, span.len)? {
                    self.stats.deduplicated += 1;
                    self.push_piece(fi, span, hash, vec![seen.frame], seen.reference);
                    return Ok(());
                }
            }
        }
        let mut ids = Vec::new();
        match layout {
            Some((fields, n_blocks)) => {
                let mut part = Vec::with_capacity(window);
                for f in fields {
                    let len = n_blocks * f.len as u64;
                    ids.push(self.stream_frame(span.len, f.dtype, len, |pos, enc| {
                        let n = (span.len - pos).min(window as u64) as usize;
                        src.read_at(span.offset + pos, &mut buf[..n])?;
                        part.clear();
                        gguf::gather(fields, f, &buf[..n], &mut part);
                        enc.write_all(&part)?;
                        Ok(n as u64)
                    })?);
                }
            }
            None => {
                // An unsplittable GGUF piece is one `bytes` frame.
                let dtype = if span.gguf.is_some() {
                    DType::Bytes
                } else {
                    span.dtype
                };
                ids.push(self.stream_frame(span.len, dtype, span.len, |pos, enc| {
                    let n = (span.len - pos).min(window as u64) as usize;
                    src.read_at(span.offset + pos, &mut buf[..n])?;
                    enc.write_all(&buf[..n])?;
                    Ok(n as u64)
                })?);
            }
        }
        if span.gguf.is_none() {
            self.seen.entry(hash).or_insert(Seen {
                frame: ids[0],
                file: fi,
                offset: span.offset,
                len: span.len,
                reference: None,
            });
        }
        self.push_piece(fi, span, hash, ids, None);
        Ok(())
    }

    /// Writes one frame of `len` bytes of `dtype` through a sized encoder:
    /// `feed(pos, encoder)` is called at piece offset 0, then after each
    /// step (it returns how many of the piece's bytes it consumed) until
    /// `piece_len`. Returns the frame's number.
    fn stream_frame(
        &mut self,
        piece_len: u64,
        dtype: DType,
        len: u64,
        mut feed: impl FnMut(u64, &mut Encoder<&mut Out<W>>) -> Result<u64>,
    ) -> Result<u32> {
        let offset = self.out.pos;
        let opts = Options {
            threads: self.opts.threads,
            ..frame_opts(self.opts, dtype)
        };
        let mut enc = Encoder::with_size(&mut self.out, &opts, len)?;
        let mut pos = 0u64;
        while pos < piece_len {
            pos += feed(pos, &mut enc)?;
        }
        enc.finish()?;
        let id = u32::try_from(self.frames.len())
            .map_err(|_| Error::InvalidOption("more than 2^32 frames".into()))?;
        self.frames.push(FrameRef {
            offset,
            len: self.out.pos - offset,
            raw_len: len,
            dtype: dtype.code(),
        });
        Ok(id)
    }
}
