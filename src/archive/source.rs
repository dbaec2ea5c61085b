//! Positioned reads from a file or from memory; the archive reader and
//! writer never read a whole file at once.

use std::borrow::Cow;
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

    /// The `len` bytes at `offset`: borrowed where the source is memory,
    /// else read as by [`Self::read_vec`].
    fn bytes(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        self.read_vec(offset, len).map(Cow::Owned)
    }

    /// Whether the bytes are memory that cannot change while the source
    /// lives (a slice or `Vec` it holds), so that a check of the whole
    /// holds for every later read. False for files, which another process
    /// may change between reads.
    fn is_memory(&self) -> bool {
        false
    }
}

fn slice_read_at(data: &[u8], offset: u64, buf: &mut [u8]) -> Result<()> {
    buf.copy_from_slice(slice_at(data, offset, buf.len() as u64)?);
    Ok(())
}

/// The `len` bytes of `data` at `offset`, or the error a read would give.
pub(crate) fn slice_at(data: &[u8], offset: u64, len: u64) -> Result<&[u8]> {
    usize::try_from(offset)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(o, n)| data.get(o..o.checked_add(n)?))
        .ok_or(Error::Truncated {
            what: "positioned read",
            needed: len,
            available: (data.len() as u64).saturating_sub(offset),
        })
}

impl ReadAt for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        slice_read_at(self, offset, buf)
    }

    fn bytes(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        slice_at(self, offset, len).map(Cow::Borrowed)
    }

    fn is_memory(&self) -> bool {
        true
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        slice_read_at(self, offset, buf)
    }

    fn bytes(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        slice_at(self, offset, len).map(Cow::Borrowed)
    }

    fn is_memory(&self) -> bool {
        true
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `bytes` gives what `read_vec` gives, borrowed from memory sources,
    /// and the same error for every range that is not all there.
    #[test]
    fn bytes_match_read_vec_and_borrow_from_memory() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let slice: &[u8] = &data;
        let path = std::env::temp_dir().join(format!("z4ai-source-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        let file = FileSource::new(File::open(&path).unwrap()).unwrap();
        let sources: [&dyn ReadAt; 3] = [&slice, &data, &file];
        let ranges = [
            (0, 0),
            (0, 1000),
            (10, 990),
            (999, 1),
            (1000, 0),
            (1000, 1),
            (990, 11),
            (u64::MAX, 1),
            (1, u64::MAX),
        ];
        for (k, src) in sources.iter().enumerate() {
            for (off, len) in ranges {
                let got = src.bytes(off, len);
                match src.read_vec(off, len) {
                    Ok(v) => {
                        let got = got.unwrap();
                        assert_eq!(&*got, &v[..], "{k} {off} {len}");
                        assert_eq!(matches!(got, Cow::Borrowed(_)), k < 2, "{k} {off} {len}");
                    }
                    Err(e) => assert_eq!(
                        got.unwrap_err().to_string(),
                        e.to_string(),
                        "{k} {off} {len}"
                    ),
                }
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}
