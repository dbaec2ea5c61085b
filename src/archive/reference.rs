//! The reference of a model delta: the file an archive of version 2 was
//! made against (a previous checkpoint, or the base model of a fine-tune).
//!
//! A reference is given either as the original file (any positioned-read
//! source) or as that file's own archive, which may itself be a delta with
//! its reference attached (a chain). The writer looks tensors up by name
//! and reads their bytes; the reader asks for the byte ranges the index
//! records and checks each one's XXH3-128 before using it, so a wrong
//! reference is an error ([`Error::ReferenceMismatch`]), never wrong bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use xxhash_rust::xxh3::Xxh3;

use super::format::{RefSlice, ReferenceId};
use super::reader::Archive;
use super::source::{FileSource, ReadAt};
use super::{format, plan_spans, ArchiveKind};
use crate::error::{Error, Result};

/// Bytes read at a time when hashing a reference file.
const STEP: usize = 16 << 20;

/// A tensor of the reference.
#[derive(Clone, Debug)]
pub(crate) struct RefTensor {
    pub offset: u64,
    pub len: u64,
    pub dtype: String,
    pub shape: Vec<u64>,
}

enum Src {
    Bytes(Box<dyn ReadAt + Send>),
    Archive(Box<Archive>),
}

/// The file a delta archive is coded against: the original model file or
/// its archive.
pub struct Reference {
    src: Src,
    size: u64,
    hash: OnceLock<u128>,
    /// The hash was handed in ([`Reference::with_known_hash`]), not read
    /// from the bytes.
    hash_given: bool,
    /// The bytes are in memory and their hash, read from them, matched
    /// an archive's ([`Reference::check`]): they cannot have changed since,
    /// so a slice needs no check of its own.
    whole_checked: bool,
    tensors: HashMap<String, RefTensor>,
}

impl Reference {
    /// Opens `path`: a `.z4` archive (detected by content) is used through
    /// its index, anything else as the original file.
    pub fn open(path: impl AsRef<Path>) -> Result<Reference> {
        let path = path.as_ref();
        let mut head = [0u8; 5];
        let mut f = File::open(path)?;
        let n = f.read(&mut head)?;
        if format::is_archive(&head[..n]) {
            Reference::from_archive(Archive::open(path)?)
        } else {
            Reference::from_source(Box::new(FileSource::new(f)?))
        }
    }

    /// The original file, held in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<Reference> {
        Reference::from_source(Box::new(data))
    }

    /// The original file, read through positioned reads. Its tensors are
    /// found from its safetensors header (any other file has none, and
    /// nothing is coded against it).
    pub fn from_source(src: Box<dyn ReadAt + Send>) -> Result<Reference> {
        let size = src.size();
        let mut tensors = HashMap::new();
        if let Ok((_, spans)) = plan_spans(&*src, None) {
            for s in spans {
                if s.gguf.is_some() {
                    continue;
                }
                if let Some(t) = s.tensor {
                    tensors.entry(t.name.clone()).or_insert(RefTensor {
                        offset: s.offset,
                        len: s.len,
                        dtype: t.dtype,
                        shape: t.shape,
                    });
                }
            }
        }
        Ok(Reference {
            src: Src::Bytes(src),
            size,
            hash: OnceLock::new(),
            hash_given: false,
            whole_checked: false,
            tensors,
        })
    }

    /// A one-file archive of the reference (which may itself need a
    /// reference, already attached). Its tensors come from its index.
    pub fn from_archive(a: Archive) -> Result<Reference> {
        if a.kind() != ArchiveKind::File {
            return Err(Error::InvalidOption(
                "a reference archive must hold one file, not a folder".into(),
            ));
        }
        let size = a.files().first().map_or(0, |f| f.size);
        let mut tensors = HashMap::new();
        for p in a.index().files.iter().take(1).flat_map(|f| &f.pieces) {
            if let Some(t) = &p.tensor {
                tensors.entry(t.name.clone()).or_insert(RefTensor {
                    offset: p.offset,
                    len: p.len,
                    dtype: t.dtype.clone(),
                    shape: t.shape.clone(),
                });
            }
        }
        Ok(Reference {
            src: Src::Archive(Box::new(a)),
            size,
            hash: OnceLock::new(),
            hash_given: false,
            whole_checked: false,
            tensors,
        })
    }

    /// Records the reference's XXH3-128 when the caller already knows it
    /// (a chain's manifest), so that [`Reference::id`] does not decode an
    /// archive to compute it. Every byte used is still checked per piece.
    pub fn with_known_hash(mut self, hash: u128) -> Reference {
        if self.hash.set(hash).is_ok() {
            self.hash_given = true;
        }
        self
    }

    /// Size of the reference file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Size and XXH3-128 of the reference file. For a file the hash is one
    /// pass over it; for an archive, a full decode (once, then cached).
    pub fn id(&self) -> Result<ReferenceId> {
        if let Some(&hash) = self.hash.get() {
            return Ok(ReferenceId {
                size: self.size,
                hash,
            });
        }
        let hash = match &self.src {
            Src::Bytes(src) => {
                let mut h = Xxh3::new();
                let mut buf = vec![0u8; STEP.min(self.size as usize)];
                let mut pos = 0u64;
                while pos < self.size {
                    let n = (self.size - pos).min(STEP as u64) as usize;
                    src.read_at(pos, &mut buf[..n])?;
                    h.update(&buf[..n]);
                    pos += n as u64;
                }
                h.digest128()
            }
            Src::Archive(a) => {
                let mut w = HashWriter(Xxh3::new());
                a.write_file(0, &mut w)?;
                w.0.digest128()
            }
        };
        let _ = self.hash.set(hash);
        Ok(ReferenceId {
            size: self.size,
            hash,
        })
    }

    /// Checks that this is the reference `want` names: the size always;
    /// the hash of an original file (one read of it) or a hash already
    /// known. An archive's bytes are checked piece by piece as they are
    /// used instead of decoding it all here.
    pub(crate) fn check(&mut self, want: ReferenceId) -> Result<()> {
        if self.size != want.size {
            return Err(Error::ReferenceMismatch);
        }
        let hash = match (&self.src, self.hash.get()) {
            (_, Some(&h)) => h,
            (Src::Bytes(_), None) => self.id()?.hash,
            (Src::Archive(_), None) => return Ok(()),
        };
        if hash != want.hash {
            return Err(Error::ReferenceMismatch);
        }
        if let Src::Bytes(src) = &self.src {
            self.whole_checked = src.is_memory() && !self.hash_given;
        }
        Ok(())
    }

    /// The reference's tensor named `name`.
    pub(crate) fn tensor(&self, name: &str) -> Option<&RefTensor> {
        self.tensors.get(name)
    }

    /// Bytes `[offset, offset + len)` of the reference (a tensor the
    /// writer found with [`Reference::tensor`]) and their XXH3-128; borrowed
    /// where the reference is in memory.
    pub(crate) fn read(&self, t: &RefTensor) -> Result<(Cow<'_, [u8]>, u128)> {
        match &self.src {
            Src::Bytes(src) => {
                let v = src.bytes(t.offset, t.len)?;
                let h = super::piece_hash(&v);
                Ok((v, h))
            }
            Src::Archive(a) => {
                let h = a
                    .piece_hash_at(t.offset, t.len)
                    .ok_or(Error::ReferenceMismatch)?;
                Ok((Cow::Owned(a.reference_bytes(t.offset, t.len, h)?), h))
            }
        }
    }

    /// The bytes of `s`, checked against its hash (unless the whole
    /// reference is memory already checked: `whole_checked`).
    pub(crate) fn read_slice(&self, s: &RefSlice) -> Result<Cow<'_, [u8]>> {
        match &self.src {
            Src::Bytes(src) => {
                let end = s.offset.checked_add(s.len);
                if !matches!(end, Some(e) if e <= self.size) {
                    return Err(Error::ReferenceMismatch);
                }
                // Borrowed where the reference is in memory (no copy and no
                // fresh pages per piece), else read.
                let v = src.bytes(s.offset, s.len)?;
                if !self.whole_checked && super::piece_hash(&v) != s.hash {
                    return Err(Error::ReferenceMismatch);
                }
                Ok(v)
            }
            Src::Archive(a) => a.reference_bytes(s.offset, s.len, s.hash).map(Cow::Owned),
        }
    }
}

/// A `Write` that only hashes.
struct HashWriter(Xxh3);

impl std::io::Write for HashWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
