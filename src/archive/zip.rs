//! Zip files (PyTorch `.bin` / `.pt` / `.pth` checkpoints).
//!
//! `torch.save` writes a zip whose members are *stored* (method 0, not
//! deflated): `archive/data.pkl` (the pickled object tree),
//! `archive/data/<key>` (one raw storage per key), and a few small files.
//! [`plan`] reads the central directory (end record, zip64 where the end
//! record says so), and for every stored, unencrypted member whose local
//! header and data lie inside the file makes its data a span named after
//! the member; local headers, the directory and compressed members stay
//! byte regions. The file is restored byte for byte whatever it holds.
//!
//! Storage dtypes come from a cheap scan of `data.pkl` (pickle protocol 2,
//! what `torch.save` writes): each storage is a persistent id
//! `('storage', torch.<T>Storage, key, location, numel)`, pickled as
//! `(`, the `storage` string (literal the first time, a memo get after),
//! the class (a `c torch\n<T>Storage\n` global the first time, a memo get
//! after), then the key string. Storages the scan does not find are coded
//! as bytes. A zip whose directory cannot be read is left to byte regions
//! (no error): only I/O errors are reported.

use std::collections::HashMap;

use super::format::TensorMeta;
use super::source::ReadAt;
use super::Span;
use crate::dtype::DType;
use crate::error::Result;

/// Whether a file starts with a zip local-file header.
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= 4 && head[..4] == [b'P', b'K', 3, 4]
}

/// `data.pkl` files larger than this are not scanned for dtypes.
const MAX_PICKLE: u64 = 64 << 20;
/// Bytes of a `c module\nname\n` global the pickle scan looks at.
const MAX_GLOBAL: usize = 128;

const EOCD_SIG: u64 = 0x0605_4b50;
const EOCD64_LOC_SIG: u64 = 0x0706_4b50;
const EOCD64_SIG: u64 = 0x0606_4b50;
const CENTRAL_SIG: u64 = 0x0201_4b50;
const LOCAL_SIG: u64 = 0x0403_4b50;

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(
        b[at..at + 4].try_into().expect("4 bytes"),
    ))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads `len` bytes at `offset` if they lie inside the file.
fn read_in(src: &dyn ReadAt, offset: u64, len: u64) -> Result<Option<Vec<u8>>> {
    match offset.checked_add(len) {
        Some(end) if end <= src.size() => src.read_vec(offset, len).map(Some),
        _ => Ok(None),
    }
}

/// A stored member: its name and where its data lies.
struct Member {
    name: String,
    data: u64,
    len: u64,
}

/// Where the central directory is: (offset, size, entries).
fn directory(src: &dyn ReadAt) -> Result<Option<(u64, u64, u64)>> {
    let size = src.size();
    let tail_len = size.min(22 + 0xFFFF);
    let tail = src.read_vec(size - tail_len, tail_len)?;
    let Some(at) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| le32(&tail, i) == EOCD_SIG)
    else {
        return Ok(None);
    };
    let e = &tail[at..];
    let (mut count, mut cd_size, mut cd_off) = (le16(e, 10), le32(e, 12), le32(e, 16));
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_off == 0xFFFF_FFFF {
        // zip64: a locator right before the end record points at the
        // zip64 end record.
        let eocd = size - tail_len + at as u64;
        let Some(loc) = eocd
            .checked_sub(20)
            .map(|o| read_in(src, o, 20))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        if le32(&loc, 0) != EOCD64_LOC_SIG {
            return Ok(None);
        }
        let Some(r) = read_in(src, le64(&loc, 8), 56)? else {
            return Ok(None);
        };
        if le32(&r, 0) != EOCD64_SIG {
            return Ok(None);
        }
        (count, cd_size, cd_off) = (le64(&r, 32), le64(&r, 40), le64(&r, 48));
    }
    Ok(Some((cd_off, cd_size, count)))
}

/// The stored members of the zip in `src` (unsorted), or `None` when its
/// directory cannot be read.
fn members(src: &dyn ReadAt) -> Result<Option<Vec<Member>>> {
    let Some((cd_off, cd_size, count)) = directory(src)? else {
        return Ok(None);
    };
    // Every entry takes at least 46 bytes of the directory.
    if count.checked_mul(46).is_none_or(|n| n > cd_size) {
        return Ok(None);
    }
    let Some(cd) = read_in(src, cd_off, cd_size)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let mut p = 0usize;
    for _ in 0..count {
        if cd.len() - p < 46 || le32(&cd, p) != CENTRAL_SIG {
            return Ok(None);
        }
        let e = &cd[p..];
        let (flags, method) = (le16(e, 8), le16(e, 10));
        let (mut csize, mut usize_) = (le32(e, 20), le32(e, 24));
        let (n, x, c) = (
            le16(e, 28) as usize,
            le16(e, 30) as usize,
            le16(e, 32) as usize,
        );
        let mut local = le32(e, 42);
        if e.len() < 46 + n + x + c {
            return Ok(None);
        }
        let name = String::from_utf8_lossy(&e[46..46 + n]).into_owned();
        // zip64 extra field: the 64-bit values of the fields set to ~0.
        let mut extra = &e[46 + n..46 + n + x];
        while extra.len() >= 4 {
            let (id, len) = (le16(extra, 0), le16(extra, 2) as usize);
            let Some(body) = extra.get(4..4 + len) else {
                break;
            };
            if id == 1 {
                let mut q = 0;
                for v in [&mut usize_, &mut csize, &mut local] {
                    if *v == 0xFFFF_FFFF && q + 8 <= body.len() {
                        *v = le64(body, q);
                        q += 8;
                    }
                }
            }
            extra = &extra[4 + len..];
        }
        p += 46 + n + x + c;
        if method != 0 || flags & 1 != 0 || csize != usize_ || csize == 0 {
            continue;
        }
        let Some(lh) = read_in(src, local, 30)? else {
            continue;
        };
        if le32(&lh, 0) != LOCAL_SIG {
            continue;
        }
        let data = local + 30 + le16(&lh, 26) + le16(&lh, 28);
        if data.checked_add(csize).is_some_and(|end| end <= src.size()) {
            out.push(Member {
                name,
                data,
                len: csize,
            });
        }
    }
    Ok(Some(out))
}

/// Spans of the stored members, sorted by offset (members that overlap an
/// earlier one are left to byte regions).
pub fn plan(src: &dyn ReadAt) -> Result<Vec<Span>> {
    let Some(mut ms) = members(src)? else {
        return Ok(Vec::new());
    };
    let mut dtypes = HashMap::new();
    if let Some(pkl) = ms
        .iter()
        .find(|m| m.name == "data.pkl" || m.name.ends_with("/data.pkl"))
    {
        if pkl.len <= MAX_PICKLE {
            dtypes = storage_dtypes(&src.read_vec(pkl.data, pkl.len)?);
        }
    }
    ms.sort_by_key(|m| m.data);
    let mut spans = Vec::with_capacity(ms.len());
    let mut pos = 0;
    for m in ms {
        if m.data < pos || m.name.len() > usize::from(u16::MAX) {
            continue;
        }
        pos = m.data + m.len;
        let class = storage_key(&m.name).and_then(|k| dtypes.get(k));
        let (dtype, label) = match class.and_then(|c| storage_dtype(c)) {
            Some((d, label)) if m.len % d.width() as u64 == 0 => (d, label),
            _ => (DType::Bytes, "bytes"),
        };
        let elems = m.len / dtype.width().max(1) as u64;
        spans.push(Span {
            offset: m.data,
            len: m.len,
            dtype,
            gguf: None,
            tensor: Some(TensorMeta {
                name: m.name,
                dtype: label.to_string(),
                shape: vec![elems],
            }),
        });
    }
    Ok(spans)
}

/// The storage key of a member named `<prefix>/data/<key>`.
fn storage_key(name: &str) -> Option<&str> {
    let (dir, key) = name.rsplit_once('/')?;
    (dir == "data" || dir.ends_with("/data")).then_some(key)
}

/// Frame dtype and dtype label of a `torch.<T>Storage` class.
fn storage_dtype(class: &str) -> Option<(DType, &'static str)> {
    Some(match class {
        "FloatStorage" => (DType::F32, "F32"),
        "HalfStorage" => (DType::F16, "F16"),
        "BFloat16Storage" => (DType::BF16, "BF16"),
        "DoubleStorage" => (DType::F64, "F64"),
        "LongStorage" => (DType::I64, "I64"),
        "IntStorage" => (DType::I32, "I32"),
        "ShortStorage" => (DType::I16, "I16"),
        "CharStorage" => (DType::I8, "I8"),
        "ByteStorage" => (DType::U8, "U8"),
        "BoolStorage" => (DType::U8, "BOOL"),
        _ => return None,
    })
}

/// A pickle memo put (`q` u8 / `r` u32) at `p`: (index, bytes).
fn memo_ref(b: &[u8], p: usize, short: u8, long: u8) -> Option<(u32, usize)> {
    match *b.get(p)? {
        op if op == short => Some((u32::from(*b.get(p + 1)?), 2)),
        op if op == long => Some((le32(b.get(p + 1..p + 5)?, 0) as u32, 5)),
        _ => None,
    }
}

/// Storage key → `torch` storage class name, from a protocol-2 pickle.
/// A heuristic scan (see the module docs): what it misses is coded as bytes.
fn storage_dtypes(pkl: &[u8]) -> HashMap<String, String> {
    const LIT: &[u8] = b"X\x07\x00\x00\x00storage";
    let mut out = HashMap::new();
    let Some(first) = pkl.windows(LIT.len()).position(|w| w == LIT) else {
        return out;
    };
    let Some((storage_memo, _)) = memo_ref(pkl, first + LIT.len(), b'q', b'r') else {
        return out;
    };
    let mut memo: HashMap<u32, String> = HashMap::new();
    for i in 0..pkl.len() {
        if pkl[i] != b'(' {
            continue;
        }
        let mut p = i + 1;
        // The 'storage' string: literal plus a put, or a get of its memo.
        if pkl[p..].starts_with(LIT) {
            p += LIT.len();
            let Some((_, n)) = memo_ref(pkl, p, b'q', b'r') else {
                continue;
            };
            p += n;
        } else {
            match memo_ref(pkl, p, b'h', b'j') {
                Some((m, n)) if m == storage_memo => p += n,
                _ => continue,
            }
        }
        // The class: a global plus a put, or a get.
        let class = if pkl.get(p) == Some(&b'c') {
            // Class names are short: looking at a bounded window keeps the
            // scan linear whatever the pickle holds.
            let Some(rest) = pkl.get(p + 1..pkl.len().min(p + 1 + MAX_GLOBAL)) else {
                continue;
            };
            let mut lines = rest.splitn(3, |&c| c == b'\n');
            let (Some(module), Some(name), Some(_)) = (lines.next(), lines.next(), lines.next())
            else {
                continue;
            };
            if module != b"torch" {
                continue;
            }
            p += 1 + module.len() + 1 + name.len() + 1;
            let name = String::from_utf8_lossy(name).into_owned();
            if let Some((m, n)) = memo_ref(pkl, p, b'q', b'r') {
                memo.insert(m, name.clone());
                p += n;
            }
            name
        } else {
            match memo_ref(pkl, p, b'h', b'j').and_then(|(m, n)| Some((memo.get(&m)?, n))) {
                Some((name, n)) => {
                    p += n;
                    name.clone()
                }
                None => continue,
            }
        };
        // The key: BINUNICODE (u32 length) or SHORT_BINUNICODE (u8 length).
        let key = match pkl.get(p) {
            Some(b'X') => pkl
                .get(p + 1..p + 5)
                .map(|l| le32(l, 0) as usize)
                .and_then(|n| pkl.get(p + 5..(p + 5).checked_add(n)?)),
            Some(0x8c) => pkl
                .get(p + 1)
                .and_then(|&n| pkl.get(p + 2..p + 2 + usize::from(n))),
            _ => None,
        };
        if let Some(k) = key {
            out.insert(String::from_utf8_lossy(k).into_owned(), class);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pickle_scan_finds_classes_and_keys() {
        let pkl = b"\x80\x02((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x02\x00\x00\x0012q\x06\
X\x03\x00\x00\x00cpuq\x07K\x04tq\x08Q((h\x04ctorch\nHalfStorage\nq\x09X\x01\x00\x00\x007q\x0ah\x07K\x02tQ\
(h\x04h\x05X\x01\x00\x00\x008q\x0bh\x07K\x02tQ.";
        let d = storage_dtypes(pkl);
        assert_eq!(d.get("12").map(String::as_str), Some("FloatStorage"));
        assert_eq!(d.get("7").map(String::as_str), Some("HalfStorage"));
        assert_eq!(d.get("8").map(String::as_str), Some("FloatStorage"));
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn storage_keys() {
        assert_eq!(storage_key("archive/data/123"), Some("123"));
        assert_eq!(storage_key("data/5"), Some("5"));
        assert_eq!(storage_key("archive/data.pkl"), None);
        assert_eq!(storage_key("archive/version"), None);
    }
}
