//! The archive container: head, frames, index, footer (docs/ARCHIVE.md).
//!
//! Everything here parses untrusted bytes. Every count is checked against
//! the bytes that remain before anything is allocated, every offset and
//! length is checked with checked arithmetic, and every failure is an
//! [`Error::Malformed`] naming what is wrong.

use crate::error::{Error, Result};

/// Archive magic, at the start and at the very end of the file.
pub const MAGIC: [u8; 4] = *b"Z4AR";
/// Container version of archives that need no reference (the only
/// version older readers know).
pub const VERSION: u8 = 1;
/// Container version of archives made against a reference (model deltas):
/// the index records the reference and pieces may be coded against it.
pub const VERSION_DELTA: u8 = 2;
/// Bytes of the head.
pub const HEAD_LEN: usize = 8;
/// Bytes of the footer.
pub const FOOTER_LEN: usize = 32;
/// Bytes of one frame-table entry.
pub const FRAME_ENTRY_LEN: usize = 32;
/// Most frames one piece may reference.
pub const MAX_PIECE_FRAMES: usize = 16;
/// Bytes of a piece's reference slice (version 2).
pub const REF_SLICE_LEN: usize = 32;

/// What was archived: one file, or a directory tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A single file; the index holds exactly one file entry.
    File = 0,
    /// A directory; every file entry is a relative path.
    Dir = 1,
}

/// How a file was understood when it was archived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Opaque bytes (config, tokenizer, anything not recognised).
    Raw = 0,
    /// safetensors: header region, one piece per tensor, gap regions.
    Safetensors = 1,
    /// GGUF: header region, one piece per tensor, padding regions.
    Gguf = 2,
    /// A zip file (PyTorch `.bin` / `.pt`): local headers and stored members.
    Zip = 3,
}

impl FileFormat {
    fn from_code(c: u8) -> Option<FileFormat> {
        Some(match c {
            0 => FileFormat::Raw,
            1 => FileFormat::Safetensors,
            2 => FileFormat::Gguf,
            3 => FileFormat::Zip,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Raw => "raw",
            FileFormat::Safetensors => "safetensors",
            FileFormat::Gguf => "gguf",
            FileFormat::Zip => "zip",
        }
    }
}

/// Where one frame lives in the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef {
    /// Offset of the frame in the archive.
    pub offset: u64,
    /// Bytes of the frame.
    pub len: u64,
    /// Bytes the frame decodes to.
    pub raw_len: u64,
    /// The frame's dtype code (informational; the frame header is authoritative).
    pub dtype: u8,
}

/// A tensor's description, as the model file gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMeta {
    /// Tensor name.
    pub name: String,
    /// The file format's dtype name (`BF16`, `F32`, `Q4_K`, ...).
    pub dtype: String,
    /// Dimensions as the file lists them.
    pub shape: Vec<u64>,
}

/// A byte range of an original file and the frames that restore it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Offset in the original file.
    pub offset: u64,
    /// Bytes.
    pub len: u64,
    /// XXH3-128 of the original bytes.
    pub hash: u128,
    /// 0: the frame's content is the piece; 1: GGUF block split (see
    /// docs/ARCHIVE.md), frames are the split fields.
    pub transform: u8,
    /// Transform parameter (GGUF: the ggml type id); 0 otherwise.
    pub param: u32,
    /// Frame indices.
    pub frames: Vec<u32>,
    /// Present when the piece is a tensor.
    pub tensor: Option<TensorMeta>,
    /// The bytes of the reference the piece is coded against (transforms
    /// [`TRANSFORM_DELTA`] and [`TRANSFORM_REF_COPY`]).
    pub reference: Option<RefSlice>,
}

/// Which reference file an archive was made against: its size and the
/// XXH3-128 of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceId {
    /// Size of the reference file.
    pub size: u64,
    /// `xxh3_128` of the whole reference file.
    pub hash: u128,
}

/// A byte range of the reference file that one piece is coded against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefSlice {
    /// Offset in the reference file.
    pub offset: u64,
    /// Bytes.
    pub len: u64,
    /// `xxh3_128` of those bytes.
    pub hash: u128,
}

/// One archived file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path with `/` separators (the file name for a one-file archive).
    pub path: String,
    /// How it was parsed.
    pub format: FileFormat,
    /// Original size.
    pub size: u64,
    /// Pieces, contiguous from 0 to `size`.
    pub pieces: Vec<Piece>,
}

/// The archive index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    /// File or directory.
    pub kind: ArchiveKind,
    /// Every frame.
    pub frames: Vec<FrameRef>,
    /// Every file, in archive order.
    pub files: Vec<FileEntry>,
    /// The reference file the archive was made against (version 2 only).
    pub reference: Option<ReferenceId>,
}

impl Index {
    /// The container version this index needs: 2 when it records a
    /// reference, else 1.
    pub fn version(&self) -> u8 {
        if self.reference.is_some() {
            VERSION_DELTA
        } else {
            VERSION
        }
    }
}

/// Transform code: no transform.
pub const TRANSFORM_NONE: u8 = 0;
/// Transform code: GGUF quantized-block field split.
pub const TRANSFORM_GGUF_SPLIT: u8 = 1;
/// Transform code (version 2): one delta frame, decoded against the
/// piece's reference slice.
pub const TRANSFORM_DELTA: u8 = 2;
/// Transform code (version 2): no frame; the piece's bytes are its
/// reference slice (an unchanged tensor).
pub const TRANSFORM_REF_COPY: u8 = 3;

/// The 8-byte head of an archive of `version` (1 or 2).
pub fn head(version: u8) -> [u8; HEAD_LEN] {
    let mut h = [0u8; HEAD_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = version;
    h
}

fn check_version(v: u8) -> Result<()> {
    if v == VERSION || v == VERSION_DELTA {
        Ok(())
    } else {
        Err(malformed(format!(
            "unsupported archive version {v} (this build reads versions 1 and 2)"
        )))
    }
}

/// Whether `bytes` starts like an archive.
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.len() >= 5 && bytes[..4] == MAGIC
}

/// Checks the head against the footer's `version`.
pub fn check_head(h: &[u8], version: u8) -> Result<()> {
    if h.len() < HEAD_LEN || h[..4] != MAGIC {
        return Err(malformed("not a z4ai archive (bad magic)"));
    }
    check_version(h[4])?;
    if h[4] != version {
        return Err(malformed(format!(
            "head says version {}, footer says {version}",
            h[4]
        )));
    }
    if h[5..8] != [0, 0, 0] {
        return Err(malformed("reserved head bytes are not zero"));
    }
    Ok(())
}

/// The 32-byte footer of an archive of `version` for `index` at `offset`.
pub fn footer(offset: u64, index: &[u8], version: u8) -> [u8; FOOTER_LEN] {
    let mut f = [0u8; FOOTER_LEN];
    f[0..8].copy_from_slice(&offset.to_le_bytes());
    f[8..16].copy_from_slice(&(index.len() as u64).to_le_bytes());
    f[16..24].copy_from_slice(&xxhash_rust::xxh3::xxh3_64(index).to_le_bytes());
    f[24] = version;
    f[28..32].copy_from_slice(&MAGIC);
    f
}

/// Where the index is, as the footer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// Offset of the index.
    pub offset: u64,
    /// Bytes of the index.
    pub len: u64,
    /// `xxh3_64` of the index.
    pub hash: u64,
    /// Container version (1 or 2).
    pub version: u8,
}

/// Parses the footer of an archive of `file_len` bytes.
pub fn parse_footer(f: &[u8], file_len: u64) -> Result<Footer> {
    if f.len() != FOOTER_LEN || f[28..32] != MAGIC {
        return Err(malformed("not a z4ai archive (bad footer magic)"));
    }
    check_version(f[24])?;
    if f[25..28] != [0, 0, 0] {
        return Err(malformed("reserved footer bytes are not zero"));
    }
    let off = le64(&f[0..8]);
    let len = le64(&f[8..16]);
    let hash = le64(&f[16..24]);
    let end = off
        .checked_add(len)
        .and_then(|e| e.checked_add(FOOTER_LEN as u64))
        .ok_or_else(|| malformed("index location overflows"))?;
    if off < HEAD_LEN as u64 || end != file_len {
        return Err(malformed(format!(
            "index at {off}+{len} does not end at the footer of a {file_len}-byte archive"
        )));
    }
    Ok(Footer {
        offset: off,
        len,
        hash,
        version: f[24],
    })
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

pub(crate) fn malformed(detail: impl Into<String>) -> Error {
    Error::Malformed {
        what: "archive",
        detail: detail.into(),
    }
}

impl Index {
    /// Serializes the index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::new();
        o.push(self.kind as u8);
        o.extend_from_slice(&[0, 0, 0]);
        o.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        o.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        if let Some(r) = &self.reference {
            o.extend_from_slice(&r.size.to_le_bytes());
            o.extend_from_slice(&r.hash.to_le_bytes());
        }
        for f in &self.frames {
            o.extend_from_slice(&f.offset.to_le_bytes());
            o.extend_from_slice(&f.len.to_le_bytes());
            o.extend_from_slice(&f.raw_len.to_le_bytes());
            o.push(f.dtype);
            o.extend_from_slice(&[0u8; 7]);
        }
        for file in &self.files {
            put_str16(&mut o, &file.path);
            o.push(file.format as u8);
            o.push(0);
            o.extend_from_slice(&file.size.to_le_bytes());
            o.extend_from_slice(&(file.pieces.len() as u32).to_le_bytes());
            for p in &file.pieces {
                o.push(u8::from(p.tensor.is_some()));
                o.push(p.transform);
                o.push(p.frames.len() as u8);
                o.push(0);
                o.extend_from_slice(&p.param.to_le_bytes());
                o.extend_from_slice(&p.offset.to_le_bytes());
                o.extend_from_slice(&p.len.to_le_bytes());
                o.extend_from_slice(&p.hash.to_le_bytes());
                for f in &p.frames {
                    o.extend_from_slice(&f.to_le_bytes());
                }
                if let Some(r) = &p.reference {
                    o.extend_from_slice(&r.offset.to_le_bytes());
                    o.extend_from_slice(&r.len.to_le_bytes());
                    o.extend_from_slice(&r.hash.to_le_bytes());
                }
                if let Some(t) = &p.tensor {
                    put_str16(&mut o, &t.name);
                    o.push(t.dtype.len() as u8);
                    o.extend_from_slice(t.dtype.as_bytes());
                    o.push(t.shape.len() as u8);
                    for d in &t.shape {
                        o.extend_from_slice(&d.to_le_bytes());
                    }
                }
            }
        }
        o
    }

    /// Parses and validates an index of container `version` read from an
    /// archive whose frame area ends at `data_end` (the index offset).
    pub fn parse(b: &[u8], data_end: u64, version: u8) -> Result<Index> {
        check_version(version)?;
        let mut r = Rd { b, pos: 0 };
        let kind = match r.u8()? {
            0 => ArchiveKind::File,
            1 => ArchiveKind::Dir,
            k => return Err(malformed(format!("unknown archive kind {k}"))),
        };
        if r.bytes(3)? != [0, 0, 0] {
            return Err(malformed("reserved index bytes are not zero"));
        }
        let n_frames = r.u32()? as usize;
        let n_files = r.u32()? as usize;
        let reference = if version == VERSION_DELTA {
            let size = r.u64()?;
            let hash = r.u128()?;
            Some(ReferenceId { size, hash })
        } else {
            None
        };
        r.need(n_frames.checked_mul(FRAME_ENTRY_LEN), "frame table")?;
        let mut frames = Vec::with_capacity(n_frames);
        for i in 0..n_frames {
            let f = FrameRef {
                offset: r.u64()?,
                len: r.u64()?,
                raw_len: r.u64()?,
                dtype: r.u8()?,
            };
            if r.bytes(7)?.iter().any(|&x| x != 0) {
                return Err(malformed(format!("frame {i}: reserved bytes are not zero")));
            }
            let end = f.offset.checked_add(f.len);
            if f.offset < HEAD_LEN as u64 || !matches!(end, Some(e) if e <= data_end) || f.len == 0
            {
                return Err(malformed(format!(
                    "frame {i} at {}+{} lies outside the frame area (8..{data_end})",
                    f.offset, f.len
                )));
            }
            frames.push(f);
        }
        // Each file entry takes at least 16 bytes.
        r.need(n_files.checked_mul(16), "file table")?;
        let mut files = Vec::with_capacity(n_files);
        for _ in 0..n_files {
            files.push(parse_file(&mut r, &frames, reference)?);
        }
        if r.pos != b.len() {
            return Err(malformed("trailing bytes after the index"));
        }
        if kind == ArchiveKind::File && files.len() != 1 {
            return Err(malformed("a one-file archive must hold exactly one file"));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &files {
            if !seen.insert(f.path.as_str()) {
                return Err(malformed(format!("file '{}' listed twice", f.path)));
            }
        }
        Ok(Index {
            kind,
            frames,
            files,
            reference,
        })
    }
}

fn parse_file(
    r: &mut Rd<'_>,
    frames: &[FrameRef],
    reference: Option<ReferenceId>,
) -> Result<FileEntry> {
    let path = r.str16("file path")?;
    if kind_of_path_is_bad(&path) {
        return Err(malformed(format!("unsafe file path '{path}'")));
    }
    let format = FileFormat::from_code(r.u8()?)
        .ok_or_else(|| malformed(format!("file '{path}': unknown format code")))?;
    if r.u8()? != 0 {
        return Err(malformed(format!(
            "file '{path}': reserved byte is not zero"
        )));
    }
    let size = r.u64()?;
    let n = r.u32()? as usize;
    // Each piece takes at least 44 bytes.
    r.need(n.checked_mul(44), "piece table")?;
    let mut pieces = Vec::with_capacity(n);
    let mut pos = 0u64;
    for k in 0..n {
        let bad = |m: String| malformed(format!("file '{path}', piece {k}: {m}"));
        let flags = r.u8()?;
        let transform = r.u8()?;
        let nf = r.u8()? as usize;
        if flags > 1 || r.u8()? != 0 {
            return Err(bad("reserved bits are set".into()));
        }
        let param = r.u32()?;
        let offset = r.u64()?;
        let len = r.u64()?;
        let hash = r.u128()?;
        if offset != pos {
            return Err(bad(format!("starts at {offset}, expected {pos}")));
        }
        pos = offset
            .checked_add(len)
            .filter(|&e| e <= size)
            .ok_or_else(|| bad(format!("{offset}+{len} runs past the file size {size}")))?;
        let delta = matches!(transform, TRANSFORM_DELTA | TRANSFORM_REF_COPY);
        if delta && reference.is_none() {
            return Err(bad(format!(
                "transform {transform} needs a version 2 archive with a reference"
            )));
        }
        let ok_count = match transform {
            TRANSFORM_NONE | TRANSFORM_DELTA => nf == 1 && param == 0,
            TRANSFORM_GGUF_SPLIT => (1..=MAX_PIECE_FRAMES).contains(&nf),
            TRANSFORM_REF_COPY => nf == 0 && param == 0,
            t => return Err(bad(format!("unknown transform {t}"))),
        };
        if !ok_count {
            return Err(bad(format!(
                "{nf} frames / parameter {param} invalid for transform {transform}"
            )));
        }
        let mut fl = Vec::with_capacity(nf);
        for _ in 0..nf {
            let f = r.u32()?;
            let fr = frames
                .get(f as usize)
                .ok_or_else(|| bad(format!("frame {f} does not exist")))?;
            if transform != TRANSFORM_GGUF_SPLIT && fr.raw_len != len {
                return Err(bad(format!(
                    "frame {f} decodes to {} bytes, piece has {len}",
                    fr.raw_len
                )));
            }
            fl.push(f);
        }
        let ref_slice = match reference {
            Some(rid) if delta => {
                let s = RefSlice {
                    offset: r.u64()?,
                    len: r.u64()?,
                    hash: r.u128()?,
                };
                if !matches!(s.offset.checked_add(s.len), Some(e) if e <= rid.size) {
                    return Err(bad(format!(
                        "reference bytes {}+{} lie outside the {}-byte reference",
                        s.offset, s.len, rid.size
                    )));
                }
                if transform == TRANSFORM_REF_COPY && (s.len != len || s.hash != hash) {
                    return Err(bad(
                        "a reference copy must have the reference's length and hash".into(),
                    ));
                }
                Some(s)
            }
            _ => None,
        };
        let tensor = if flags & 1 != 0 {
            let name = r.str16("tensor name")?;
            let dl = r.u8()? as usize;
            let dtype = String::from_utf8(r.bytes(dl)?.to_vec())
                .map_err(|_| bad("dtype is not UTF-8".into()))?;
            let nd = r.u8()? as usize;
            r.need(nd.checked_mul(8), "tensor shape")?;
            let shape = (0..nd).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
            Some(TensorMeta { name, dtype, shape })
        } else {
            None
        };
        pieces.push(Piece {
            offset,
            len,
            hash,
            transform,
            param,
            frames: fl,
            tensor,
            reference: ref_slice,
        });
    }
    if pos != size {
        return Err(malformed(format!(
            "file '{path}': pieces cover {pos} of {size} bytes"
        )));
    }
    Ok(FileEntry {
        path,
        format,
        size,
        pieces,
    })
}

/// Paths must be relative, `/`-separated, without `.`/`..`/empty components,
/// so that restoring can never write outside the output directory.
fn kind_of_path_is_bad(p: &str) -> bool {
    p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.contains('\0')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        || (p.len() >= 2 && p.as_bytes()[1] == b':')
}

fn put_str16(o: &mut Vec<u8>, s: &str) {
    o.extend_from_slice(&(s.len() as u16).to_le_bytes());
    o.extend_from_slice(s.as_bytes());
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn need(&self, n: Option<usize>, what: &str) -> Result<()> {
        match n {
            Some(n) if n <= self.b.len() - self.pos => Ok(()),
            _ => Err(malformed(format!("{what} runs past the end of the index"))),
        }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        self.need(Some(n), "a field")?;
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().expect("4")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(le64(self.bytes(8)?))
    }

    fn u128(&mut self) -> Result<u128> {
        Ok(u128::from_le_bytes(self.bytes(16)?.try_into().expect("16")))
    }

    fn str16(&mut self, what: &str) -> Result<String> {
        let n = u16::from_le_bytes(self.bytes(2)?.try_into().expect("2")) as usize;
        String::from_utf8(self.bytes(n)?.to_vec())
            .map_err(|_| malformed(format!("{what} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Index {
        Index {
            kind: ArchiveKind::Dir,
            frames: vec![FrameRef {
                offset: 8,
                len: 30,
                raw_len: 12,
                dtype: 1,
            }],
            files: vec![FileEntry {
                path: "a/b.safetensors".into(),
                format: FileFormat::Safetensors,
                size: 24,
                pieces: vec![
                    Piece {
                        offset: 0,
                        len: 12,
                        hash: 7,
                        transform: 0,
                        param: 0,
                        frames: vec![0],
                        tensor: None,
                        reference: None,
                    },
                    Piece {
                        offset: 12,
                        len: 12,
                        hash: 7,
                        transform: 0,
                        param: 0,
                        frames: vec![0],
                        tensor: Some(TensorMeta {
                            name: "w".into(),
                            dtype: "BF16".into(),
                            shape: vec![2, 3],
                        }),
                        reference: None,
                    },
                ],
            }],
            reference: None,
        }
    }

    #[test]
    fn index_round_trips_and_rejects_every_truncation() {
        let idx = sample();
        let b = idx.to_bytes();
        assert_eq!(Index::parse(&b, 100, 1).unwrap(), idx);
        for n in 0..b.len() {
            assert!(Index::parse(&b[..n], 100, 1).is_err(), "prefix {n}");
        }
        assert!(
            Index::parse(&b, 20, 1).is_err(),
            "frame outside the data area"
        );
        assert!(Index::parse(&b, 100, 2).is_err(), "v1 index read as v2");
        assert!(Index::parse(&b, 100, 3).is_err(), "unknown version");
    }

    #[test]
    fn delta_index_round_trips_and_rejects_every_truncation() {
        let mut idx = sample();
        idx.reference = Some(ReferenceId {
            size: 1000,
            hash: 99,
        });
        let p = &mut idx.files[0].pieces[1];
        p.transform = TRANSFORM_DELTA;
        p.reference = Some(RefSlice {
            offset: 500,
            len: 12,
            hash: 5,
        });
        let mut copy = idx.files[0].pieces[0].clone();
        copy.transform = TRANSFORM_REF_COPY;
        copy.frames.clear();
        copy.reference = Some(RefSlice {
            offset: 0,
            len: 12,
            hash: 7,
        });
        idx.files[0].pieces[0] = copy;
        assert_eq!(idx.version(), 2);
        let b = idx.to_bytes();
        assert_eq!(Index::parse(&b, 100, 2).unwrap(), idx);
        for n in 0..b.len() {
            assert!(Index::parse(&b[..n], 100, 2).is_err(), "prefix {n}");
        }
        assert!(Index::parse(&b, 100, 1).is_err(), "v2 index read as v1");
        // A reference slice past the reference's end.
        idx.reference = Some(ReferenceId {
            size: 510,
            hash: 99,
        });
        assert!(Index::parse(&idx.to_bytes(), 100, 2).is_err());
        // A copy whose hash is not the reference's.
        idx.reference = Some(ReferenceId {
            size: 1000,
            hash: 99,
        });
        idx.files[0].pieces[0].reference.as_mut().unwrap().hash = 8;
        assert!(Index::parse(&idx.to_bytes(), 100, 2).is_err());
    }

    #[test]
    fn unsafe_paths_are_rejected() {
        for p in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "C:x",
            "a\\b",
        ] {
            assert!(kind_of_path_is_bad(p), "{p}");
        }
        assert!(!kind_of_path_is_bad("model/config.json"));
    }

    #[test]
    fn footer_round_trips() {
        let f = footer(8, b"abc", 1);
        assert_eq!(parse_footer(&f, 8 + 3 + 32).unwrap().offset, 8);
        assert!(parse_footer(&f, 100).is_err());
        let f2 = footer(8, b"abc", 2);
        assert_eq!(parse_footer(&f2, 8 + 3 + 32).unwrap().version, 2);
        let f3 = footer(8, b"abc", 3);
        let e = parse_footer(&f3, 8 + 3 + 32).unwrap_err().to_string();
        assert!(e.contains("unsupported archive version 3"), "{e}");
    }
}
