//! Frame header, data blocks, end block, and the frame index.
//!
//! ```text
//! frame  = header block* end
//! header = "Z4AI" version:u8 dtype:u8 flags:u8 reserved:u8
//!          content_size:u64 chunk_size:u32 check:u32          (24 bytes)
//! block  = 0x01 n_chunks:u32 model_len:u32 models[model_len]
//!          entry[n_chunks] check:u32 payload*
//! entry  = raw_len:u32 comp_len:u32 hash:u64                   (16 bytes)
//! end    = 0x00 content_size:u64 content_hash:u64 check:u32
//! ```
//!
//! `check` is the low 32 bits of XXH3-64 over the bytes of the structure
//! before it; `hash` is XXH3-64 of a chunk's decoded bytes; `content_hash`
//! is XXH3-64 of all chunk hashes (little-endian) in frame order.

use std::ops::Range;

use xxhash_rust::xxh3::xxh3_64;

use super::Reader;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::options::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};

/// First four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"Z4AI";
/// Format version written by this build (2: version 1 plus chunk layout 6,
/// the wide palette; 3: version 2 plus rANS context kind 4, a delta
/// residual plane under the reference's exponents; 4: version 3 plus plane
/// method 4, rANS in halves, and the short form of delta residuals; 5:
/// version 4 whose delta residual planes past the first two may be in
/// halves, which version-4 decoders misread: `docs/FORMAT.md`,
/// "Versioning").
pub const VERSION: u8 = 5;
/// Oldest format version this build reads.
pub const MIN_VERSION: u8 = 1;
/// Bytes in the frame header.
pub const HEADER_LEN: usize = 24;
/// Header flag: the content size field is valid.
pub const FLAG_SIZE_KNOWN: u8 = 0x01;
/// Header flag: a delta frame; the reference extension follows the header.
pub const FLAG_DELTA: u8 = 0x02;
/// Bytes of the reference extension of a delta frame.
pub const REF_EXT_LEN: usize = 20;
/// Block tag of the end block.
pub const TAG_END: u8 = 0x00;
/// Block tag of a data block.
pub const TAG_DATA: u8 = 0x01;
/// Bytes per chunk-table entry.
pub const ENTRY_LEN: usize = 16;
/// Bytes of a data block header before its model section.
pub const BLOCK_FIXED_LEN: usize = 9;
/// Bytes of the end block.
pub const END_LEN: usize = 21;
/// Most chunks one block may hold.
pub const MAX_BLOCK_CHUNKS: u32 = 1 << 16;
/// Largest model section a block may carry.
pub const MAX_MODEL_SECTION: u32 = 8 << 20;

fn check32(bytes: &[u8]) -> u32 {
    xxh3_64(bytes) as u32
}

/// The fixed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Element type of the content.
    pub dtype: DType,
    /// Content size when the writer knew it up front (one-shot compression).
    pub content_size: Option<u64>,
    /// Largest raw size of any chunk.
    pub chunk_size: u32,
    /// For a delta frame: the reference's length and XXH3-64.
    pub reference: Option<(u64, u64)>,
}

impl FrameHeader {
    /// Bytes of the header, the delta extension included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + if self.reference.is_some() {
                REF_EXT_LEN
            } else {
                0
            }
    }
    /// Appends the 24 header bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.dtype.code());
        let size_flag = if self.content_size.is_some() {
            FLAG_SIZE_KNOWN
        } else {
            0
        };
        let delta_flag = if self.reference.is_some() {
            FLAG_DELTA
        } else {
            0
        };
        out.push(size_flag | delta_flag);
        out.push(0);
        out.extend_from_slice(&self.content_size.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.chunk_size.to_le_bytes());
        let c = check32(&out[start..]);
        out.extend_from_slice(&c.to_le_bytes());
        if let Some((len, hash)) = self.reference {
            let ext = out.len();
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&hash.to_le_bytes());
            let c = check32(&out[ext..]);
            out.extend_from_slice(&c.to_le_bytes());
        }
    }

    /// Parses and validates a header (24 bytes, plus the 20-byte reference
    /// extension of a delta frame) from the start of `data`.
    pub fn parse(data: &[u8]) -> Result<FrameHeader> {
        if data.len() >= 4 && data[..4] != MAGIC {
            return Err(Error::BadMagic);
        }
        let mut r = Reader::new(data);
        let head = r.bytes(HEADER_LEN, "frame header")?;
        if !(MIN_VERSION..=VERSION).contains(&head[4]) {
            return Err(Error::UnsupportedVersion(head[4]));
        }
        let stored = u32::from_le_bytes(head[20..24].try_into().unwrap());
        if check32(&head[..20]) != stored {
            return Err(Error::ChecksumMismatch {
                what: "frame header",
                chunk: None,
            });
        }
        let dtype = DType::from_code(head[5])
            .ok_or_else(|| Error::corrupt(format!("unknown dtype code {}", head[5])))?;
        let flags = head[6];
        if flags & !(FLAG_SIZE_KNOWN | FLAG_DELTA) != 0 || head[7] != 0 {
            return Err(Error::corrupt("reserved header bits set"));
        }
        let size = u64::from_le_bytes(head[8..16].try_into().unwrap());
        let content_size = if flags & FLAG_SIZE_KNOWN != 0 {
            Some(size)
        } else if size != 0 {
            return Err(Error::corrupt("content size set but not flagged"));
        } else {
            None
        };
        let chunk_size = u32::from_le_bytes(head[16..20].try_into().unwrap());
        if !(MIN_CHUNK_SIZE as u64..=MAX_CHUNK_SIZE as u64).contains(&u64::from(chunk_size)) {
            return Err(Error::corrupt(format!(
                "chunk size {chunk_size} out of range"
            )));
        }
        let reference = if flags & FLAG_DELTA != 0 {
            let ext = r.bytes(REF_EXT_LEN, "delta reference extension")?;
            if check32(&ext[..16]) != u32::from_le_bytes(ext[16..].try_into().unwrap()) {
                return Err(Error::ChecksumMismatch {
                    what: "delta reference extension",
                    chunk: None,
                });
            }
            Some((
                u64::from_le_bytes(ext[..8].try_into().unwrap()),
                u64::from_le_bytes(ext[8..16].try_into().unwrap()),
            ))
        } else {
            None
        };
        Ok(FrameHeader {
            dtype,
            content_size,
            chunk_size,
            reference,
        })
    }
}

/// One chunk-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkEntry {
    /// Decoded bytes.
    pub raw_len: u32,
    /// Payload bytes.
    pub comp_len: u32,
    /// XXH3-64 of the decoded bytes.
    pub hash: u64,
}

/// Appends a data block header (fixed part, models, chunk table, check).
/// The caller appends the payloads in table order.
pub fn write_block_header(models: &[u8], entries: &[ChunkEntry], out: &mut Vec<u8>) {
    let start = out.len();
    out.push(TAG_DATA);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&(models.len() as u32).to_le_bytes());
    out.extend_from_slice(models);
    for e in entries {
        out.extend_from_slice(&e.raw_len.to_le_bytes());
        out.extend_from_slice(&e.comp_len.to_le_bytes());
        out.extend_from_slice(&e.hash.to_le_bytes());
    }
    let c = check32(&out[start..]);
    out.extend_from_slice(&c.to_le_bytes());
}

/// Appends the end block.
pub fn write_end(content_size: u64, content_hash: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(TAG_END);
    out.extend_from_slice(&content_size.to_le_bytes());
    out.extend_from_slice(&content_hash.to_le_bytes());
    let c = check32(&out[start..]);
    out.extend_from_slice(&c.to_le_bytes());
}

/// Sizes in the fixed part of a data block header, validated against the
/// format's bounds (not yet against the checksum).
#[derive(Clone, Copy, Debug)]
pub struct BlockSizes {
    /// Chunks in the block.
    pub n_chunks: u32,
    /// Bytes of the model section.
    pub model_len: u32,
}

impl BlockSizes {
    /// Parses the 9 fixed bytes (tag already known to be `TAG_DATA`).
    pub fn parse(fixed: &[u8]) -> Result<BlockSizes> {
        let mut r = Reader::new(fixed);
        let _tag = r.u8("block tag")?;
        let n_chunks = r.u32("block chunk count")?;
        let model_len = r.u32("block model length")?;
        if n_chunks == 0 || n_chunks > MAX_BLOCK_CHUNKS {
            return Err(Error::corrupt(format!(
                "block chunk count {n_chunks} out of range"
            )));
        }
        if model_len > MAX_MODEL_SECTION {
            return Err(Error::corrupt(format!(
                "model section of {model_len} bytes too large"
            )));
        }
        Ok(BlockSizes {
            n_chunks,
            model_len,
        })
    }

    /// Bytes of the whole block header, check included.
    pub fn header_len(&self) -> usize {
        BLOCK_FIXED_LEN + self.model_len as usize + self.n_chunks as usize * ENTRY_LEN + 4
    }
}

/// Validates a complete data block header (`bytes` holds exactly
/// `sizes.header_len()` bytes) and returns its chunk table.
pub fn parse_block_table(
    bytes: &[u8],
    sizes: BlockSizes,
    chunk_size: u32,
) -> Result<Vec<ChunkEntry>> {
    let body = bytes.len() - 4;
    let stored = u32::from_le_bytes(bytes[body..].try_into().unwrap());
    if check32(&bytes[..body]) != stored {
        return Err(Error::ChecksumMismatch {
            what: "block header",
            chunk: None,
        });
    }
    let mut r = Reader::new(&bytes[BLOCK_FIXED_LEN + sizes.model_len as usize..body]);
    let mut entries = Vec::with_capacity(sizes.n_chunks as usize);
    for _ in 0..sizes.n_chunks {
        let e = ChunkEntry {
            raw_len: r.u32("chunk entry")?,
            comp_len: r.u32("chunk entry")?,
            hash: r.u64("chunk entry")?,
        };
        if e.raw_len == 0 || e.raw_len > chunk_size {
            return Err(Error::corrupt(format!(
                "chunk of {} bytes exceeds chunk size",
                e.raw_len
            )));
        }
        // Encoders store a chunk verbatim (1 + raw_len bytes) rather than
        // let it grow, so a longer payload is corrupt.
        if e.comp_len == 0 || e.comp_len > e.raw_len.saturating_add(1) {
            return Err(Error::corrupt(format!(
                "chunk payload of {} bytes is impossible",
                e.comp_len
            )));
        }
        entries.push(e);
    }
    Ok(entries)
}

/// Validates an end block (exactly [`END_LEN`] bytes): returns
/// `(content_size, content_hash)`.
pub fn parse_end(bytes: &[u8]) -> Result<(u64, u64)> {
    let mut r = Reader::new(bytes);
    let _tag = r.u8("end block")?;
    let size = r.u64("end block")?;
    let hash = r.u64("end block")?;
    let stored = r.u32("end block")?;
    if check32(&bytes[..END_LEN - 4]) != stored {
        return Err(Error::ChecksumMismatch {
            what: "end block",
            chunk: None,
        });
    }
    Ok((size, hash))
}

/// Where one chunk lives in a frame held in memory.
#[derive(Clone, Debug)]
pub struct ChunkLoc {
    /// Chunk number in the frame.
    pub index: u64,
    /// Offset of its decoded bytes in the content.
    pub raw_offset: u64,
    /// Its table entry.
    pub entry: ChunkEntry,
    /// Byte range of its payload in the frame.
    pub payload: Range<usize>,
}

/// One data block of a frame held in memory.
#[derive(Clone, Debug)]
pub struct BlockIndex {
    /// Byte range of the block's model section in the frame.
    pub models: Range<usize>,
    /// Its chunks.
    pub chunks: Vec<ChunkLoc>,
}

/// Everything needed to decode any part of a frame held in memory.
#[derive(Clone, Debug)]
pub struct FrameIndex {
    /// The frame header.
    pub header: FrameHeader,
    /// Data blocks in order.
    pub blocks: Vec<BlockIndex>,
    /// Total decoded size.
    pub content_size: u64,
    /// Hash of all chunk hashes, from the end block (already verified).
    pub content_hash: u64,
    /// Bytes of the frame, end block included.
    pub frame_len: usize,
}

impl FrameIndex {
    /// Walks a frame's block headers without decoding any chunk, checking
    /// every checksum, size and offset on the way. Trailing bytes after the
    /// end block are ignored (frames can be concatenated with other data).
    pub fn scan(blob: &[u8]) -> Result<FrameIndex> {
        let header = FrameHeader::parse(blob)?;
        let mut pos = header.encoded_len();
        let mut blocks = Vec::new();
        let mut raw_offset = 0u64;
        let mut index = 0u64;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        loop {
            let tag = *blob
                .get(pos)
                .ok_or_else(|| Error::truncated("block tag", 1, 0))?;
            match tag {
                TAG_END => {
                    let end = blob
                        .get(pos..pos + END_LEN)
                        .ok_or_else(|| Error::truncated("end block", END_LEN, blob.len() - pos))?;
                    let (size, hash) = parse_end(end)?;
                    if size != raw_offset {
                        return Err(Error::corrupt(
                            "end block size differs from the chunks' sum",
                        ));
                    }
                    if header.content_size.is_some_and(|s| s != size) {
                        return Err(Error::corrupt(
                            "header content size differs from the chunks' sum",
                        ));
                    }
                    if hasher.digest() != hash {
                        return Err(Error::ChecksumMismatch {
                            what: "content hash",
                            chunk: None,
                        });
                    }
                    return Ok(FrameIndex {
                        header,
                        blocks,
                        content_size: size,
                        content_hash: hash,
                        frame_len: pos + END_LEN,
                    });
                }
                TAG_DATA => {
                    let fixed = blob.get(pos..pos + BLOCK_FIXED_LEN).ok_or_else(|| {
                        Error::truncated("block header", BLOCK_FIXED_LEN, blob.len() - pos)
                    })?;
                    let sizes = BlockSizes::parse(fixed)?;
                    let hl = sizes.header_len();
                    let bytes = blob
                        .get(pos..pos + hl)
                        .ok_or_else(|| Error::truncated("block header", hl, blob.len() - pos))?;
                    let entries = parse_block_table(bytes, sizes, header.chunk_size)?;
                    let models =
                        pos + BLOCK_FIXED_LEN..pos + BLOCK_FIXED_LEN + sizes.model_len as usize;
                    pos += hl;
                    let mut chunks = Vec::with_capacity(entries.len());
                    for e in entries {
                        let end = pos
                            .checked_add(e.comp_len as usize)
                            .filter(|&end| end <= blob.len())
                            .ok_or_else(|| {
                                Error::truncated(
                                    "chunk payload",
                                    e.comp_len as usize,
                                    blob.len() - pos,
                                )
                            })?;
                        hasher.update(&e.hash.to_le_bytes());
                        chunks.push(ChunkLoc {
                            index,
                            raw_offset,
                            entry: e,
                            payload: pos..end,
                        });
                        raw_offset += u64::from(e.raw_len);
                        index += 1;
                        pos = end;
                    }
                    blocks.push(BlockIndex { models, chunks });
                }
                other => return Err(Error::corrupt(format!("unknown block tag {other:#04x}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejects() {
        let h = FrameHeader {
            dtype: DType::BF16,
            content_size: Some(12345),
            reference: None,
            chunk_size: 1 << 20,
        };
        let mut buf = Vec::new();
        h.write(&mut buf);
        assert_eq!(buf.len(), HEADER_LEN);
        assert_eq!(FrameHeader::parse(&buf).unwrap(), h);
        let mut bad = buf.clone();
        bad[0] = b'X';
        assert!(matches!(FrameHeader::parse(&bad), Err(Error::BadMagic)));
        let mut bad = buf.clone();
        bad[4] = 9;
        assert!(matches!(
            FrameHeader::parse(&bad),
            Err(Error::UnsupportedVersion(9))
        ));
        let mut bad = buf.clone();
        bad[6] |= 0x80;
        assert!(FrameHeader::parse(&bad).is_err());
        for cut in 0..HEADER_LEN {
            assert!(FrameHeader::parse(&buf[..cut]).is_err());
        }
    }
}
