//! Streaming compression and decompression with bounded memory.
//!
//! [`Encoder`] buffers one block of input (`chunk_size * block_chunks`
//! bytes, 64 MiB by default), codes it in parallel and writes it; the frame
//! header then records no content size and the end block carries it.
//! [`Encoder::with_size`] takes the size up front and records it in the
//! header, so that its frame is byte for byte the one [`crate::compress`]
//! makes of the same bytes.
//! [`Decoder`] reads and decodes one block at a time (its chunks in
//! parallel; dedup copies never leave their block), so memory stays at one
//! block's payloads and decoded bytes however large the content is.

use std::io::{self, BufRead, Read, Write};

use xxhash_rust::xxh3::Xxh3;
use z4ai_simd::{Kernels, RansTables};

use crate::engine::{self, FrameParts, FrameWriter, Verify};
use crate::error::{Error, Result};
use crate::format::frame::{self, ChunkEntry, ChunkLoc, FrameHeader};
use crate::options::{DecodeOptions, Options};

/// Most bytes of block buffer an encoder reserves before input arrives.
const RESERVE_MAX: usize = 64 << 20;

/// Compresses everything written to it into one frame on `W`.
/// Call [`Encoder::finish`] to write the end of the frame.
pub struct Encoder<W: Write> {
    inner: W,
    opts: Options,
    fw: Option<FrameWriter>,
    buf: Vec<u8>,
    block: usize,
    /// The content size the header promised, if any.
    size: Option<u64>,
    /// Bytes taken so far.
    taken: u64,
}

impl<W: Write> Encoder<W> {
    /// Starts a frame on `inner`.
    pub fn new(inner: W, opts: &Options) -> Result<Encoder<W>> {
        Encoder::start(inner, opts, None)
    }

    /// Starts a frame on `inner` whose header records `size`, the exact
    /// number of bytes that will be written: more is an error on write,
    /// fewer an error on [`Encoder::finish`]. The frame is then identical
    /// to [`crate::compress`]'s of the same bytes and options.
    pub fn with_size(inner: W, opts: &Options, size: u64) -> Result<Encoder<W>> {
        Encoder::start(inner, opts, Some(size))
    }

    fn start(mut inner: W, opts: &Options, size: Option<u64>) -> Result<Encoder<W>> {
        let mut head = Vec::new();
        let fw = FrameWriter::start(opts, size, None, &mut head)?;
        inner.write_all(&head)?;
        let block = opts.block_bytes(false)?;
        Ok(Encoder {
            inner,
            opts: opts.clone(),
            fw: Some(fw),
            // Room for one block (or the promised size) up front: growing
            // by doubling would copy, holding old and new buffers at once.
            // Pages not yet written cost no memory. Capped at 64 MiB (the
            // default block), so that a huge configured block is not
            // reserved before its bytes arrive.
            buf: Vec::with_capacity(
                size.map_or(block, |s| s.min(block as u64) as usize)
                    .min(RESERVE_MAX),
            ),
            block,
            size,
            taken: 0,
        })
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let fw = self.fw.as_mut().expect("encoder not finished");
        let buf = &self.buf;
        // The block's frame goes out in the parts it was coded in, never
        // assembled: one block's payloads are the only copy held.
        let mut parts = FrameParts::default();
        engine::with_pool(self.opts.threads, || fw.write_block(buf, &[], &mut parts));
        self.write_parts(&parts)?;
        self.buf.clear();
        Ok(())
    }

    fn write_parts(&mut self, parts: &FrameParts) -> Result<()> {
        for p in parts.parts() {
            self.inner.write_all(p)?;
        }
        Ok(())
    }

    /// Codes the buffered input, writes the end block and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        if let Some(size) = self.size.filter(|&s| s != self.taken) {
            return Err(Error::InvalidOption(format!(
                "encoder: {} bytes written, the header promised {size}",
                self.taken
            )));
        }
        self.flush_block()?;
        let fw = self.fw.take().expect("encoder not finished");
        let mut end = FrameParts::default();
        fw.finish(&mut end);
        self.write_parts(&end)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let take = data.len().min(self.block - self.buf.len());
        if self.size.is_some_and(|s| self.taken + take as u64 > s) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "encoder: more bytes than the header promised",
            ));
        }
        self.taken += take as u64;
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() == self.block {
            self.flush_block()?;
        }
        Ok(take)
    }

    /// Flushes the inner writer. Input of an unfinished block stays buffered
    /// (cutting a block early would make the output depend on flush calls).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The block being decoded by a [`Decoder`].
struct OpenBlock {
    payloads: Vec<u8>,
    models: Vec<RansTables>,
    chunks: Vec<ChunkLoc>,
}

/// Decompresses one frame read from `R`.
pub struct Decoder<R: Read> {
    inner: R,
    header: FrameHeader,
    k: Kernels,
    threads: usize,
    block: Option<OpenBlock>,
    /// The decoded block; its length only grows (decoding overwrites it).
    out: Vec<u8>,
    /// End of the decoded block in `out`.
    end: usize,
    pos: usize,
    /// The last block's payload buffer, reused for the next one.
    spare: Vec<u8>,
    content: u64,
    chunk_index: u64,
    hasher: Xxh3,
    done: bool,
    /// A read failed: every later read fails too.
    failed: bool,
}

impl<R: Read> Decoder<R> {
    /// Reads the frame header from `inner`.
    pub fn new(inner: R) -> Result<Decoder<R>> {
        Decoder::with_options(inner, &DecodeOptions::default())
    }

    /// [`Decoder::new`] with explicit threads / kernel level.
    pub fn with_options(mut inner: R, opts: &DecodeOptions) -> Result<Decoder<R>> {
        let mut head = [0u8; frame::HEADER_LEN];
        read_exact(&mut inner, &mut head, "frame header")?;
        let header = FrameHeader::parse(&head).map_err(|e| match e {
            Error::Truncated { .. } if head[6] & frame::FLAG_DELTA != 0 => stream_delta(None),
            e => e,
        })?;
        if let Some((len, _)) = header.reference {
            return Err(stream_delta(Some(len)));
        }
        Ok(Decoder {
            inner,
            header,
            k: engine::kernels(opts.isa)?,
            threads: opts.threads,
            block: None,
            out: Vec::new(),
            end: 0,
            pos: 0,
            spare: Vec::new(),
            content: 0,
            chunk_index: 0,
            hasher: Xxh3::new(),
            done: false,
            failed: false,
        })
    }

    /// Swaps the decoder's block and payload buffers with `out` and
    /// `payloads`: a caller decoding frame after frame keeps the memory
    /// (and its mapped pages) instead of allocating it per frame. Call it
    /// before the first read (what the decoder held is handed back) and
    /// after the last.
    pub(crate) fn swap_buffers(&mut self, out: &mut Vec<u8>, payloads: &mut Vec<u8>) {
        std::mem::swap(&mut self.out, out);
        std::mem::swap(&mut self.spare, payloads);
        self.end = 0;
        self.pos = 0;
    }

    /// The frame header.
    pub fn header(&self) -> &FrameHeader {
        &self.header
    }

    /// Returns the inner reader (positioned after the frame once fully read).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn open_block(&mut self) -> Result<()> {
        let mut tag = [0u8; 1];
        read_exact(&mut self.inner, &mut tag, "block tag")?;
        match tag[0] {
            frame::TAG_END => {
                let mut end = [0u8; frame::END_LEN];
                end[0] = tag[0];
                read_exact(&mut self.inner, &mut end[1..], "end block")?;
                let (size, hash) = frame::parse_end(&end)?;
                if size != self.content || self.header.content_size.is_some_and(|s| s != size) {
                    return Err(Error::corrupt("content size differs from the chunks' sum"));
                }
                if hash != self.hasher.digest() {
                    return Err(Error::ChecksumMismatch {
                        what: "content hash",
                        chunk: None,
                    });
                }
                self.done = true;
                Ok(())
            }
            frame::TAG_DATA => {
                let mut head = vec![0u8; frame::BLOCK_FIXED_LEN];
                head[0] = tag[0];
                read_exact(&mut self.inner, &mut head[1..], "block header")?;
                let sizes = frame::BlockSizes::parse(&head)?;
                head.resize(sizes.header_len(), 0);
                read_exact(
                    &mut self.inner,
                    &mut head[frame::BLOCK_FIXED_LEN..],
                    "block header",
                )?;
                let entries = frame::parse_block_table(&head, sizes, self.header.chunk_size)?;
                let models_end = frame::BLOCK_FIXED_LEN + sizes.model_len as usize;
                let models = engine::parse_models(&head[frame::BLOCK_FIXED_LEN..models_end])?;
                let total: u64 = entries.iter().map(|e| u64::from(e.comp_len)).sum();
                // Grows only as bytes actually arrive, so a lying table cannot
                // make us allocate more than the input holds.
                let mut payloads = std::mem::take(&mut self.spare);
                payloads.clear();
                (&mut self.inner).take(total).read_to_end(&mut payloads)?;
                if payloads.len() as u64 != total {
                    return Err(Error::truncated(
                        "chunk payloads",
                        total as usize,
                        payloads.len(),
                    ));
                }
                self.block = Some(OpenBlock {
                    chunks: self.locate(&entries),
                    payloads,
                    models,
                });
                Ok(())
            }
            other => Err(Error::corrupt(format!("unknown block tag {other:#04x}"))),
        }
    }

    fn locate(&mut self, entries: &[ChunkEntry]) -> Vec<ChunkLoc> {
        let mut pos = 0usize;
        entries
            .iter()
            .map(|e| {
                let loc = ChunkLoc {
                    index: self.chunk_index,
                    raw_offset: self.content,
                    entry: *e,
                    payload: pos..pos + e.comp_len as usize,
                };
                self.hasher.update(&e.hash.to_le_bytes());
                self.chunk_index += 1;
                self.content += u64::from(e.raw_len);
                pos += e.comp_len as usize;
                loc
            })
            .collect()
    }

    /// Decodes the next block into `out`; false at the end. After an error
    /// the decoder stays failed: later reads fail too, and never return the
    /// bytes of a block after the one that failed.
    fn refill(&mut self) -> Result<bool> {
        if self.failed {
            return Err(Error::corrupt("an earlier read of this frame failed"));
        }
        let r = self.next_block();
        if r.is_err() {
            // (The block, if any, was taken.) An empty window (`end` 0)
            // sends the next read back here.
            self.failed = true;
            self.end = 0;
            self.pos = 0;
        }
        r
    }

    fn next_block(&mut self) -> Result<bool> {
        loop {
            if self.done {
                return Ok(false);
            }
            if let Some(b) = self.block.take() {
                let size: usize = b.chunks.iter().map(|c| c.entry.raw_len as usize).sum();
                let len = size.max(self.out.len());
                crate::buffers::reuse(&mut self.out, len);
                self.end = 0;
                let (dtype, k, out) = (self.header.dtype, &self.k, &mut self.out[..size]);
                engine::with_pool(self.threads, || {
                    engine::decode_block(
                        &b.payloads,
                        &b.chunks,
                        dtype,
                        &b.models,
                        k,
                        out,
                        &[],
                        Verify::Frame,
                    )
                })?;
                self.spare = b.payloads;
                self.end = size;
                self.pos = 0;
                return Ok(true);
            }
            self.open_block()?;
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let got = self.fill_buf()?;
        let n = buf.len().min(got.len());
        buf[..n].copy_from_slice(&got[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// The decoded bytes straight from the decoder's block buffer: no copy into
/// a caller's buffer.
impl<R: Read> BufRead for Decoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.end {
            if !self.refill()? {
                return Ok(&[]);
            }
        }
        Ok(&self.out[self.pos..self.end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.end);
    }
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], what: &'static str) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(Error::truncated(what, buf.len(), got)),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The streaming decoder's error for a delta frame (`len`: the reference's
/// length, when the header extension was read).
fn stream_delta(len: Option<u64>) -> Error {
    Error::ReferenceRequired {
        what: "frame",
        detail: format!(
            "{}; the streaming decoder cannot apply one: use decompress_delta",
            len.map(|l| format!(" ({l} bytes)")).unwrap_or_default()
        ),
    }
}
