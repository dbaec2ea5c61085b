//! Positioned reads from a file or from memory; the archive reader and
//! writer never read a whole file at once.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Something bytes can be read from at any offset, from many threads.
pub trait ReadAt: Sync {
    /// Total bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; fails if the range is not all there.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Reads `len` bytes at `offset` into a new buffer (after checking the
    /// range, so a lying length cannot allocate more than the source holds).
    fn read_vec(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let end = offset.checked_add(len);
        if !matches!(end, Some(e) if e <= self.size()) {
            return Err(Error::Truncated {
                what: "positioned read",
                needed: len,
                available: self.size().saturating_sub(offset),
            });
        }
        let n = usize::try_from(len).map_err(|_| Error::corrupt("range too large"))?;
        let mut v = vec![0u8; n];
        self.read_at(offset, &mut v)?;
        Ok(v)
    }
}

fn slice_read_at(data: &[u8], offset: u64, buf: &mut [u8]) -> Result<()> {
    let s = usize::try_from(offset)
        .ok()
        .and_then(|o| data.get(o..o.checked_add(buf.len())?))
        .ok_or(Error::Truncated {
            what: "positioned read",
            needed: buf.len() as u64,
            available: (data.len() as u64).saturating_sub(offset),
        })?;
    buf.copy_from_slice(s);
    Ok(())
}

impl ReadAt for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        slice_read_at(self, offset, buf)
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        slice_read_at(self, offset, buf)
    }
}

/// A file read with positioned reads; counts the bytes it reads.
pub struct FileSource {
    file: File,
    len: u64,
    read: AtomicU64,
}

impl FileSource {
    /// Wraps an open file.
    pub fn new(file: File) -> Result<FileSource> {
        let len = file.metadata()?.len();
        Ok(FileSource {
            file,
            len,
            read: AtomicU64::new(0),
        })
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if !matches!(offset.checked_add(buf.len() as u64), Some(e) if e <= self.len) {
            return Err(Error::Truncated {
                what: "positioned read",
                needed: buf.len() as u64,
                available: self.len.saturating_sub(offset),
            });
        }
        pread(&self.file, offset, buf)?;
        self.read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(unix)]
fn pread(f: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn pread(f: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn pread(_: &File, _: u64, _: &mut [u8]) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "positioned reads are not supported on this platform",
    ))
}

/// `Read` over `[offset, end)` of a source (for the streaming decoder).
pub struct RangeReader<'a> {
    pub src: &'a dyn ReadAt,
    pub pos: u64,
    pub end: u64,
}

impl io::Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.src.read_at(self.pos, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}
