//! Reading archives: the footer and the index with two positioned reads,
//! then one read per frame a caller asks for.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::path::Path;

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use super::format::{
    self, malformed, ArchiveKind, FileEntry, FileFormat, Index, Piece, ReferenceId, FOOTER_LEN,
    HEAD_LEN, TRANSFORM_DELTA, TRANSFORM_GGUF_SPLIT, TRANSFORM_NONE, TRANSFORM_REF_COPY,
};
use super::reference::Reference;
use super::source::{FileSource, RangeReader, ReadAt};
use super::{gguf, safetensors, DEFAULT_BATCH_BYTES};
use crate::buffers::tile;
use crate::engine::Verify;
use crate::error::{Error, Result};
use crate::options::DecodeOptions;
use crate::stream::Decoder;

/// Bytes decoded at a time when a big piece is streamed.
const STEP: usize = 4 << 20;

enum Store {
    File(FileSource),
    Mem(Vec<u8>),
    Source(Box<dyn ReadAt + Send>),
}

impl Store {
    fn src(&self) -> &dyn ReadAt {
        match self {
            Store::File(f) => f,
            Store::Mem(v) => v,
            Store::Source(s) => s.as_ref(),
        }
    }
}

/// One tensor of an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The file it belongs to (its path inside a directory archive).
    pub file: String,
    /// Tensor name.
    pub name: String,
    /// dtype as the model file names it (`BF16`, `F32`, `Q4_K`, ...).
    pub dtype: String,
    /// Shape as the model file gives it.
    pub shape: Vec<u64>,
    /// Offset of its bytes in the original file.
    pub offset: u64,
    /// Bytes of the tensor.
    pub raw_size: u64,
    /// Bytes of its frame(s) in the archive.
    pub compressed_size: u64,
    /// Whether its frame is shared with an earlier tensor (identical bytes).
    pub deduplicated: bool,
    /// How it is coded: standalone, or against the archive's reference.
    pub coding: Coding,
}

/// How a piece is coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// Its own frame(s); needs nothing else.
    Standalone,
    /// A delta frame against a tensor of the reference.
    Delta,
    /// No frame: the same bytes as a tensor of the reference.
    SameAsReference,
}

impl Coding {
    fn of(p: &Piece) -> Coding {
        match p.transform {
            TRANSFORM_DELTA => Coding::Delta,
            TRANSFORM_REF_COPY => Coding::SameAsReference,
            _ => Coding::Standalone,
        }
    }

    /// Lower-case name (`standalone`, `delta`, `same`).
    pub fn name(self) -> &'static str {
        match self {
            Coding::Standalone => "standalone",
            Coding::Delta => "delta",
            Coding::SameAsReference => "same",
        }
    }
}

impl TensorInfo {
    /// Raw size / compressed size.
    pub fn ratio(&self) -> f64 {
        self.raw_size as f64 / self.compressed_size.max(1) as f64
    }
}

/// One file of an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// Path (the file name for a one-file archive).
    pub path: String,
    /// How it was parsed.
    pub format: FileFormat,
    /// Original size.
    pub size: u64,
    /// Tensors in it.
    pub tensors: usize,
    /// Bytes of the frames first used by this file.
    pub compressed_size: u64,
}

/// An open archive.
pub struct Archive {
    store: Store,
    index: Index,
    names: HashMap<String, (usize, usize)>,
    /// (file, piece) of every tensor, in file order (`tensors()` order).
    tensor_locs: Vec<(usize, usize)>,
    dopts: DecodeOptions,
    pool: Option<rayon::ThreadPool>,
    batch_bytes: u64,
    version: u8,
    reference: Option<Box<Reference>>,
}

impl Archive {
    /// Opens an archive file: reads the footer and the index (two
    /// positioned reads); tensors are read when asked for.
    pub fn open(path: impl AsRef<Path>) -> Result<Archive> {
        Archive::new(Store::File(FileSource::new(File::open(path)?)?))
    }

    /// An archive held in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<Archive> {
        Archive::new(Store::Mem(data))
    }

    /// An archive read through any positioned-read source (a memory map,
    /// a borrowed buffer, a network object).
    pub fn from_source(src: Box<dyn ReadAt + Send>) -> Result<Archive> {
        Archive::new(Store::Source(src))
    }

    fn new(store: Store) -> Result<Archive> {
        let src = store.src();
        let size = src.size();
        if size < (HEAD_LEN + FOOTER_LEN) as u64 {
            return Err(malformed(format!(
                "{size} bytes is too short for an archive"
            )));
        }
        let foot = src.read_vec(size - FOOTER_LEN as u64, FOOTER_LEN as u64)?;
        let foot = format::parse_footer(&foot, size)?;
        let (off, len) = (foot.offset, foot.len);
        let bytes = src.read_vec(off, len)?;
        if xxhash_rust::xxh3::xxh3_64(&bytes) != foot.hash {
            return Err(malformed("index checksum mismatch"));
        }
        let index = Index::parse(&bytes, off, foot.version)?;
        let mut names = HashMap::new();
        let mut tensor_locs = Vec::new();
        for (fi, f) in index.files.iter().enumerate() {
            for (pi, p) in f.pieces.iter().enumerate() {
                if let Some(t) = &p.tensor {
                    names.entry(t.name.clone()).or_insert((fi, pi));
                    tensor_locs.push((fi, pi));
                }
            }
        }
        Ok(Archive {
            store,
            index,
            names,
            tensor_locs,
            dopts: DecodeOptions::default(),
            pool: None,
            batch_bytes: DEFAULT_BATCH_BYTES as u64,
            version: foot.version,
            reference: None,
        })
    }

    /// The reference file this archive was made against (a model delta,
    /// container version 2), or `None` for a standalone archive.
    pub fn needs_reference(&self) -> Option<ReferenceId> {
        self.index.reference
    }

    /// Container version (1: standalone, 2: made against a reference).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Attaches the reference a delta archive was made against (the
    /// original file, or its own archive). Its size, and its hash when
    /// known, must be the ones the archive records, else
    /// [`Error::ReferenceMismatch`]; every piece coded against it is
    /// checked again (XXH3-128 of the reference bytes it uses) when
    /// decoded, unless the reference is memory whose whole hash was read
    /// here (it cannot have changed since). A standalone archive ignores
    /// the reference.
    pub fn with_reference(mut self, mut reference: Reference) -> Result<Archive> {
        if let Some(want) = self.index.reference {
            reference.check(want)?;
            self.reference = Some(Box::new(reference));
        }
        Ok(self)
    }

    /// The error for decoding a piece that needs the reference without it.
    fn missing_reference(&self) -> Error {
        let r = self
            .index
            .reference
            .unwrap_or(ReferenceId { size: 0, hash: 0 });
        Error::ReferenceRequired {
            what: "archive",
            detail: format!(
                " file ({} bytes, xxh3-128 {:032x}); attach it with Archive::with_reference \
                 (CLI: --reference)",
                r.size, r.hash
            ),
        }
    }

    /// Whether any piece of file `fi` needs the reference.
    fn file_needs_reference(&self, fi: usize) -> bool {
        self.index.files[fi]
            .pieces
            .iter()
            .any(|p| p.reference.is_some())
    }

    /// The piece of file 0 at `offset` with `len` bytes (several pieces
    /// start at one offset when some are empty).
    fn piece_at(&self, offset: u64, len: u64) -> Option<usize> {
        let f = self.index.files.first()?;
        let start = f.pieces.partition_point(|p| p.offset < offset);
        (start..f.pieces.len())
            .take_while(|&i| f.pieces[i].offset == offset)
            .find(|&i| f.pieces[i].len == len)
    }

    /// The XXH3-128 of the piece of file 0 at `offset` with `len` bytes.
    pub(crate) fn piece_hash_at(&self, offset: u64, len: u64) -> Option<u128> {
        let pi = self.piece_at(offset, len)?;
        Some(self.index.files[0].pieces[pi].hash)
    }

    /// Decodes the piece of file 0 that starts at `offset` and has `len`
    /// bytes and `hash` (an archive used as another archive's reference).
    pub(crate) fn reference_bytes(&self, offset: u64, len: u64, hash: u128) -> Result<Vec<u8>> {
        let pi = self.piece_at(offset, len).ok_or(Error::ReferenceMismatch)?;
        if self.index.files[0].pieces[pi].hash != hash {
            return Err(Error::ReferenceMismatch);
        }
        // Frames first: their decoded size is checked before allocating.
        let blobs = self.fetch(0, pi)?;
        let n = usize::try_from(len).map_err(|_| malformed("tensor too large"))?;
        let mut out = vec![0u8; n];
        self.decode_fetched(0, pi, &blobs, &mut out)?;
        Ok(out)
    }

    /// Sets decode threads / kernel level (threads 0 = all cores).
    pub fn with_decode_options(mut self, opts: DecodeOptions) -> Archive {
        self.dopts = opts;
        self.pool = if opts.threads == 0 {
            None
        } else {
            rayon::ThreadPoolBuilder::new()
                .num_threads(opts.threads)
                .build()
                .ok()
        };
        self
    }

    /// Runs `f` on the archive's thread pool (the global one by default);
    /// frames decoded inside use that pool's threads.
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    fn inner_opts(&self) -> DecodeOptions {
        DecodeOptions {
            threads: 0,
            isa: self.dopts.isa,
        }
    }

    /// Sets the bytes decoded per batch when restoring files; a plain or
    /// GGUF-split piece larger than this is streamed (in windows of at most
    /// this many bytes, 4 MiB at most).
    pub fn with_batch_bytes(mut self, bytes: usize) -> Archive {
        self.batch_bytes = bytes.max(1) as u64;
        self
    }

    /// One file or a directory.
    pub fn kind(&self) -> ArchiveKind {
        self.index.kind
    }

    /// Bytes read from the archive file so far (0 for an in-memory archive).
    pub fn bytes_read(&self) -> u64 {
        match &self.store {
            Store::File(f) => f.bytes_read(),
            Store::Mem(_) | Store::Source(_) => 0,
        }
    }

    /// Bytes of the archive.
    pub fn archive_size(&self) -> u64 {
        self.store.src().size()
    }

    /// The archived files.
    pub fn files(&self) -> Vec<FileSummary> {
        let mut seen = HashSet::new();
        self.index
            .files
            .iter()
            .map(|f| FileSummary {
                path: f.path.clone(),
                format: f.format,
                size: f.size,
                tensors: f.pieces.iter().filter(|p| p.tensor.is_some()).count(),
                compressed_size: f
                    .pieces
                    .iter()
                    .flat_map(|p| &p.frames)
                    .filter(|&&id| seen.insert(id))
                    .map(|&id| self.index.frames[id as usize].len)
                    .sum(),
            })
            .collect()
    }

    /// Every tensor, in file order.
    pub fn tensors(&self) -> Vec<TensorInfo> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for f in &self.index.files {
            for p in &f.pieces {
                let fresh = p.frames.iter().fold(false, |a, &id| seen.insert(id) | a);
                if let Some(t) = &p.tensor {
                    out.push(TensorInfo {
                        file: f.path.clone(),
                        name: t.name.clone(),
                        dtype: t.dtype.clone(),
                        shape: t.shape.clone(),
                        offset: p.offset,
                        raw_size: p.len,
                        compressed_size: self.frames_len(p),
                        deduplicated: !fresh && !p.frames.is_empty(),
                        coding: Coding::of(p),
                    });
                }
            }
        }
        out
    }

    fn frames_len(&self, p: &Piece) -> u64 {
        p.frames
            .iter()
            .map(|&id| self.index.frames[id as usize].len)
            .sum()
    }

    fn find(&self, name: &str) -> Result<(usize, usize)> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| Error::InvalidOption(format!("no tensor named '{name}' in the archive")))
    }

    /// The description of one tensor.
    pub fn tensor_info(&self, name: &str) -> Result<TensorInfo> {
        let (fi, pi) = self.find(name)?;
        let f = &self.index.files[fi];
        let p = &f.pieces[pi];
        let t = p.tensor.as_ref().expect("named pieces are tensors");
        Ok(TensorInfo {
            file: f.path.clone(),
            name: t.name.clone(),
            dtype: t.dtype.clone(),
            shape: t.shape.clone(),
            offset: p.offset,
            raw_size: p.len,
            compressed_size: self.frames_len(p),
            deduplicated: self
                .tensors()
                .iter()
                .any(|i| i.name == name && i.deduplicated),
            coding: Coding::of(p),
        })
    }

    /// Decodes one tensor.
    pub fn tensor(&self, name: &str) -> Result<Vec<u8>> {
        let (fi, pi) = self.find(name)?;
        let len = self.index.files[fi].pieces[pi].len;
        let n = usize::try_from(len).map_err(|_| malformed("tensor too large"))?;
        let blobs = self.fetch(fi, pi)?;
        let mut out = vec![0u8; n];
        self.install(|| self.decode_fetched(fi, pi, &blobs, &mut out))?;
        Ok(out)
    }

    /// Decodes one tensor into `out` (at least its size); returns its size.
    pub fn tensor_into(&self, name: &str, out: &mut [u8]) -> Result<usize> {
        let (fi, pi) = self.find(name)?;
        self.piece_into(fi, pi, out)
    }

    /// Decodes tensor number `index` of [`Archive::tensors`] (file order)
    /// into `out`; returns its size. Unlike [`Archive::tensor_into`] this
    /// reaches every tensor of a folder archive, even one whose name
    /// another file also uses.
    pub fn tensor_into_at(&self, index: usize, out: &mut [u8]) -> Result<usize> {
        let &(fi, pi) = self.tensor_locs.get(index).ok_or_else(|| {
            Error::InvalidOption(format!("no tensor number {index} in the archive"))
        })?;
        self.piece_into(fi, pi, out)
    }

    fn piece_into(&self, fi: usize, pi: usize, out: &mut [u8]) -> Result<usize> {
        let len = self.index.files[fi].pieces[pi].len;
        if len > out.len() as u64 {
            return Err(Error::BufferTooSmall {
                needed: len,
                got: out.len() as u64,
            });
        }
        let n = len as usize;
        self.install(|| self.decode_piece(fi, pi, &mut out[..n]))?;
        Ok(n)
    }

    /// The compressed frame(s) of a tensor, as stored (for [`crate::frame_info`]).
    pub fn tensor_frames(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let (fi, pi) = self.find(name)?;
        self.index.files[fi].pieces[pi]
            .frames
            .iter()
            .map(|&id| {
                let fr = self.index.frames[id as usize];
                self.store.src().read_vec(fr.offset, fr.len)
            })
            .collect()
    }

    /// The `__metadata__` map of the safetensors file(s) (merged across the
    /// files of a directory; the first file to set a key wins).
    pub fn metadata(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (fi, f) in self.index.files.iter().enumerate() {
            if f.format != FileFormat::Safetensors {
                continue;
            }
            let n = safetensors::header_len(&self.read_original(fi, 0, 8)?, f.size)?;
            let json = self.read_original(fi, 8, n)?;
            for (k, v) in safetensors::parse_header(&json, f.size)?.metadata {
                out.entry(k).or_insert(v);
            }
        }
        Ok(out)
    }

    /// Bytes `[offset, offset + len)` of file `fi`, decoded from the pieces
    /// that cover them.
    fn read_original(&self, fi: usize, offset: u64, len: u64) -> Result<Vec<u8>> {
        let f = &self.index.files[fi];
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= f.size)
            .ok_or_else(|| malformed("range outside the file"))?;
        let mut out = Vec::new();
        for (pi, p) in f.pieces.iter().enumerate() {
            let (ps, pe) = (p.offset, p.offset + p.len);
            if pe <= offset || ps >= end {
                continue;
            }
            let mut buf = vec![0u8; p.len as usize];
            self.decode_piece(fi, pi, &mut buf)?;
            let a = offset.max(ps) - ps;
            let b = end.min(pe) - ps;
            out.extend_from_slice(&buf[a as usize..b as usize]);
        }
        Ok(out)
    }

    fn label(&self, fi: usize, pi: usize) -> String {
        let f = &self.index.files[fi];
        let p = &f.pieces[pi];
        match &p.tensor {
            Some(t) => t.name.clone(),
            None => format!("{} bytes {}..{}", f.path, p.offset, p.offset + p.len),
        }
    }

    fn wrap(&self, fi: usize, pi: usize, e: Error) -> Error {
        // A missing reference is the archive's condition, not the tensor's.
        if let Error::ReferenceRequired { .. } = e {
            return e;
        }
        Error::Tensor {
            name: self.label(fi, pi),
            source: Box::new(e),
        }
    }

    /// Reads the frames of piece `pi` of file `fi` and checks that each
    /// decodes to the size the index gives (before anything that size is
    /// allocated).
    fn fetch(&self, fi: usize, pi: usize) -> Result<Vec<Cow<'_, [u8]>>> {
        let p = &self.index.files[fi].pieces[pi];
        let src = self.store.src();
        let run = || -> Result<Vec<Cow<'_, [u8]>>> {
            let mut blobs = Vec::with_capacity(p.frames.len());
            for (i, &id) in p.frames.iter().enumerate() {
                let fr = self.index.frames[id as usize];
                let want = match p.transform {
                    TRANSFORM_NONE | TRANSFORM_DELTA => p.len,
                    TRANSFORM_GGUF_SPLIT => gguf::field_len(p.param, p.len, i),
                    t => return Err(malformed(format!("unknown transform {t}"))),
                };
                let blob = src.bytes(fr.offset, fr.len)?;
                let size = crate::decompressed_size(&blob)?;
                if size != want {
                    return Err(Error::corrupt(format!(
                        "frame {i} decodes to {size} bytes, the index says {want}"
                    )));
                }
                blobs.push(blob);
            }
            Ok(blobs)
        };
        run().map_err(|e| self.wrap(fi, pi, e))
    }

    /// Decodes piece `pi` of file `fi` into `out` (exactly its size) and
    /// checks its XXH3-128.
    fn decode_piece(&self, fi: usize, pi: usize, out: &mut [u8]) -> Result<()> {
        let blobs = self.fetch(fi, pi)?;
        self.decode_fetched(fi, pi, &blobs, out)
    }

    fn decode_fetched(
        &self,
        fi: usize,
        pi: usize,
        blobs: &[Cow<'_, [u8]>],
        out: &mut [u8],
    ) -> Result<()> {
        let p = &self.index.files[fi].pieces[pi];
        let mut run = || -> Result<()> {
            if out.len() as u64 != p.len {
                return Err(Error::BufferTooSmall {
                    needed: p.len,
                    got: out.len() as u64,
                });
            }
            if p.transform == TRANSFORM_GGUF_SPLIT {
                let fields = blobs
                    .iter()
                    .map(|b| crate::decompress_with(b, &self.inner_opts()))
                    .collect::<Result<Vec<_>>>()?;
                gguf::join(p.param, &fields, out)?;
            } else {
                // A delta's reference slice is checked against its XXH3-128
                // and the piece below: the frame's own hashes (of the
                // reference and of every chunk) would read the same bytes
                // again.
                let old = match &p.reference {
                    Some(s) => Some(
                        self.reference
                            .as_ref()
                            .ok_or_else(|| self.missing_reference())?
                            .read_slice(s)?,
                    ),
                    None => None,
                };
                match old {
                    Some(old) if p.transform == TRANSFORM_REF_COPY => out.copy_from_slice(&old),
                    old => {
                        crate::engine::decompress_into(
                            &blobs[0],
                            out,
                            0,
                            self.dopts.isa,
                            old.as_deref(),
                            Verify::ByCaller,
                        )?;
                    }
                }
            }
            if super::piece_hash(out) != p.hash {
                return Err(Error::ChecksumMismatch {
                    what: "archive piece",
                    chunk: None,
                });
            }
            Ok(())
        };
        run().map_err(|e| self.wrap(fi, pi, e))
    }

    /// Restores file `fi` byte for byte into `w`; returns its size. Pieces
    /// are decoded in parallel in bounded batches; a piece larger than a
    /// batch is streamed (a GGUF split through one decoder per field), or,
    /// when it cannot be (a delta), restored alone once its frames are read.
    pub fn write_file<W: Write>(&self, fi: usize, mut w: W) -> Result<u64> {
        let f: &FileEntry = self
            .index
            .files
            .get(fi)
            .ok_or_else(|| Error::InvalidOption(format!("no file {fi} in the archive")))?;
        if self.reference.is_none() && self.file_needs_reference(fi) {
            return Err(self.missing_reference());
        }
        let mut batch: Vec<usize> = Vec::new();
        let mut bytes = 0u64;
        let mut written = 0u64;
        let mut bufs = RestoreBuffers::default();
        for (pi, p) in f.pieces.iter().enumerate() {
            if p.len > self.batch_bytes {
                written += self.flush(fi, &mut batch, &mut w, &mut bufs)?;
                bytes = 0;
                bufs.batches.start();
                written += match p.transform {
                    TRANSFORM_GGUF_SPLIT => self.stream_split(fi, pi, &mut w, &mut bufs)?,
                    TRANSFORM_NONE => self.stream_piece(fi, pi, &mut w, &mut bufs)?,
                    _ => self.restore_whole(fi, pi, &mut w, &mut bufs)?,
                };
                continue;
            }
            if !batch.is_empty() && (bytes + p.len > self.batch_bytes || batch.len() >= 4096) {
                written += self.flush(fi, &mut batch, &mut w, &mut bufs)?;
                bytes = 0;
            }
            bytes += p.len;
            batch.push(pi);
        }
        written += self.flush(fi, &mut batch, &mut w, &mut bufs)?;
        w.flush()?;
        Ok(written)
    }

    /// Restores the file named `path`.
    pub fn write_file_by_path<W: Write>(&self, path: &str, w: W) -> Result<u64> {
        let fi = self
            .index
            .files
            .iter()
            .position(|f| f.path == path)
            .ok_or_else(|| Error::InvalidOption(format!("no file '{path}' in the archive")))?;
        self.write_file(fi, w)
    }

    /// Decodes the pieces of `batch` side by side into `bufs.out`, then
    /// writes them in order.
    fn flush<W: Write>(
        &self,
        fi: usize,
        batch: &mut Vec<usize>,
        w: &mut W,
        bufs: &mut RestoreBuffers,
    ) -> Result<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        bufs.batches.start();
        let pieces = &self.index.files[fi].pieces;
        let len = |pi: &usize| pieces[*pi].len as usize;
        let total: usize = batch.iter().map(len).sum();
        let out = bufs.out(total);
        let work: Vec<_> = batch
            .iter()
            .copied()
            .zip(tile(out, batch.iter().map(len)))
            .collect();
        self.install(|| {
            work.into_par_iter()
                .try_for_each(|(pi, buf)| self.decode_piece(fi, pi, buf))
        })?;
        batch.clear();
        w.write_all(bufs.out(total))?;
        Ok(total as u64)
    }

    /// Restores a piece larger than a batch that cannot be streamed (a
    /// delta against the reference, or a copy of it) in one go. Its frames
    /// are read and their decoded size checked against the index before the
    /// buffer is sized, so an index claiming more than its frames hold
    /// cannot make this allocate it (batches hold at most `batch_bytes`).
    fn restore_whole<W: Write>(
        &self,
        fi: usize,
        pi: usize,
        w: &mut W,
        bufs: &mut RestoreBuffers,
    ) -> Result<u64> {
        let p = &self.index.files[fi].pieces[pi];
        let blobs = self.fetch(fi, pi)?;
        let len = usize::try_from(p.len).map_err(|_| Error::corrupt("piece too large"))?;
        let out = bufs.out(len);
        self.decode_fetched(fi, pi, &blobs, out)?;
        w.write_all(out)?;
        Ok(p.len)
    }

    /// Streams a piece larger than a batch, block by block, straight from
    /// the decoder's buffer (which `bufs` lends it) to `w`.
    fn stream_piece<W: Write>(
        &self,
        fi: usize,
        pi: usize,
        w: &mut W,
        bufs: &mut RestoreBuffers,
    ) -> Result<u64> {
        let p = &self.index.files[fi].pieces[pi];
        let fr = self.index.frames[p.frames[0] as usize];
        let mut run = |dec: &mut Decoder<RangeReader<'_>>| -> Result<u64> {
            let mut h = Xxh3::new();
            let mut n = 0u64;
            loop {
                let got = dec.fill_buf().map_err(io_to_error)?;
                if got.is_empty() {
                    break;
                }
                let k = got.len();
                n += k as u64;
                if n > p.len {
                    return Err(Error::corrupt(
                        "frame decodes to more bytes than the index says",
                    ));
                }
                h.update(got);
                w.write_all(got)?;
                dec.consume(k);
            }
            if n != p.len {
                return Err(Error::corrupt(format!(
                    "frame decodes to {n} bytes, the index says {}",
                    p.len
                )));
            }
            if h.digest128() != p.hash {
                return Err(Error::ChecksumMismatch {
                    what: "archive piece",
                    chunk: None,
                });
            }
            Ok(n)
        };
        let rd = RangeReader {
            src: self.store.src(),
            pos: fr.offset,
            end: fr.offset + fr.len,
        };
        let r = Decoder::with_options(rd, &self.dopts).and_then(|mut dec| {
            dec.swap_buffers(&mut bufs.out, &mut bufs.payloads);
            let r = run(&mut dec);
            dec.swap_buffers(&mut bufs.out, &mut bufs.payloads);
            r
        });
        r.map_err(|e| self.wrap(fi, pi, e))
    }

    /// Streams a GGUF block-split piece: one decoder per field frame, read
    /// in step, each window of whole blocks scattered back, hashed and
    /// written; no field is held whole.
    fn stream_split<W: Write>(
        &self,
        fi: usize,
        pi: usize,
        w: &mut W,
        bufs: &mut RestoreBuffers,
    ) -> Result<u64> {
        let p = &self.index.files[fi].pieces[pi];
        let Some((fields, n_blocks)) = gguf::layout(p.param, p.len) else {
            // Not a whole number of blocks: one `bytes` frame.
            if p.frames.len() != 1 {
                let e = Error::corrupt(format!(
                    "GGUF split of type {}: {} frames, expected 1",
                    p.param,
                    p.frames.len()
                ));
                return Err(self.wrap(fi, pi, e));
            }
            return self.stream_piece(fi, pi, w, bufs);
        };
        let mut run = || -> Result<u64> {
            if p.frames.len() != fields.len() {
                return Err(Error::corrupt(format!(
                    "GGUF split of type {}: {} frames, expected {}",
                    p.param,
                    p.frames.len(),
                    fields.len()
                )));
            }
            let mut decs = p
                .frames
                .iter()
                .map(|&id| {
                    let fr = self.index.frames[id as usize];
                    let rd = RangeReader {
                        src: self.store.src(),
                        pos: fr.offset,
                        end: fr.offset + fr.len,
                    };
                    Decoder::with_options(rd, &self.dopts)
                })
                .collect::<Result<Vec<_>>>()?;
            for (i, (d, f)) in decs.iter().zip(fields).enumerate() {
                let want = n_blocks * f.len as u64;
                if d.header().content_size.is_some_and(|s| s != want) {
                    return Err(Error::corrupt(format!(
                        "frame {i} decodes to {} bytes, the index says {want}",
                        d.header().content_size.unwrap_or(0)
                    )));
                }
            }
            let size = gguf::block_size(fields);
            // Windows of at most a step (or a batch, when smaller).
            let step = (self.batch_bytes.min(STEP as u64) as usize / size).max(1) as u64;
            let mut parts: Vec<Vec<u8>> = fields
                .iter()
                .map(|f| vec![0u8; step as usize * f.len])
                .collect();
            let mut out = vec![0u8; step as usize * size];
            let mut h = Xxh3::new();
            let mut done = 0u64;
            while done < n_blocks {
                let k = (n_blocks - done).min(step) as usize;
                for (i, ((d, f), part)) in decs.iter_mut().zip(fields).zip(&mut parts).enumerate() {
                    read_full(d, &mut part[..k * f.len]).map_err(|e| match e {
                        Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            Error::corrupt(format!(
                                "frame {i} decodes to fewer bytes than the index says"
                            ))
                        }
                        e => e,
                    })?;
                }
                let views: Vec<&[u8]> = parts
                    .iter()
                    .zip(fields)
                    .map(|(b, f)| &b[..k * f.len])
                    .collect();
                let o = &mut out[..k * size];
                gguf::scatter(fields, &views, o);
                h.update(o);
                w.write_all(o)?;
                done += k as u64;
            }
            // Each field must end here (reading its end block checks its
            // content hash).
            for (i, d) in decs.iter_mut().enumerate() {
                if d.read(&mut [0u8; 1]).map_err(io_to_error)? != 0 {
                    return Err(Error::corrupt(format!(
                        "frame {i} decodes to more bytes than the index says"
                    )));
                }
            }
            if h.digest128() != p.hash {
                return Err(Error::ChecksumMismatch {
                    what: "archive piece",
                    chunk: None,
                });
            }
            Ok(p.len)
        };
        run().map_err(|e| self.wrap(fi, pi, e))
    }

    /// Checks the head and decodes every file, checking every checksum;
    /// returns the total restored size.
    pub fn verify(&self) -> Result<u64> {
        let head = self.store.src().read_vec(0, HEAD_LEN as u64)?;
        format::check_head(&head, self.version)?;
        let mut total = 0;
        for fi in 0..self.index.files.len() {
            total += self.write_file(fi, std::io::sink())?;
        }
        Ok(total)
    }

    /// The index, for tools.
    pub fn index(&self) -> &Index {
        &self.index
    }
}

/// What restoring one file reuses from batch to batch: the decoded bytes
/// (a batch's pieces side by side, or a streamed piece's block) and a
/// streamed frame's payloads, so their pages are mapped once per file, not
/// once per batch (memory is handed back between batches, `trim`).
#[derive(Default)]
struct RestoreBuffers {
    out: Vec<u8>,
    payloads: Vec<u8>,
    batches: crate::trim::Batches,
}

impl RestoreBuffers {
    /// The first `len` bytes of `out`, grown (never shrunk) to hold them;
    /// their contents are whatever the last use left.
    fn out(&mut self, len: usize) -> &mut [u8] {
        if self.out.len() < len {
            // A fresh zeroed allocation, not a resize: the allocator hands
            // large ones out as pages the kernel zeroes when first touched,
            // where resizing would first write zeros over all of them (4%
            // of restoring the GPT bf16 delta archive).
            self.out = vec![0u8; len];
        }
        &mut self.out[..len]
    }
}

/// Fills `buf` from a decoder; the end of the frame before it is full is
/// an `UnexpectedEof` I/O error.
fn read_full<R: Read>(d: &mut Decoder<R>, buf: &mut [u8]) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match d.read(&mut buf[got..]).map_err(io_to_error)? {
            0 => return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into())),
            n => got += n,
        }
    }
    Ok(())
}

/// Unwraps an error that the decoder passed through `io::Error`.
fn io_to_error(e: std::io::Error) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        match e.into_inner().map(|b| b.downcast::<Error>()) {
            Some(Ok(inner)) => *inner,
            Some(Err(other)) => Error::Io(std::io::Error::other(other)),
            None => Error::corrupt("decoder failed"),
        }
    } else {
        Error::Io(e)
    }
}
