//! Mapping an output buffer's pages cheaply before it is written: in one
//! call, and in 2 MiB pages where the kernel allows.
//!
//! A fresh buffer (a new `Vec`, a Python `bytes`, a caller's `malloc`) is
//! backed by pages the kernel maps on first touch, one fault per 4 KiB:
//! measured here at ~0.6 ms per MB, more than `fast` takes to decode a
//! megabyte. `MADV_POPULATE_WRITE` (Linux 5.14+) maps a range in one call
//! at ~0.26 ms per MB, and costs ~0.007 ms per MB on pages already mapped
//! (a reused buffer). Decoders call [`prefault`] on each chunk's output
//! just before writing it, so with several threads the mapping is spread
//! over them like the faults were.
//!
//! Before that, a whole output (a decoded block, a frame being assembled)
//! is marked for transparent huge pages ([`advise_huge`]): under the
//! kernel's usual `madvise` policy a fresh 2 MiB extent is then one page,
//! mapped, zeroed and later freed at once, and the decoder's writes and
//! the hash's reads miss the TLB far less. Measured on this machine
//! (32 MiB bf16, 1 thread): `fast` decompress into a fresh buffer +50%,
//! into a reused one +15%, `default` +30% / +12%, `fast` compress into a
//! fresh `Vec` +8%. The exception is memory that sat free for seconds on a
//! VM whose host takes free memory back (the development VM does): there
//! a 2 MiB page is dearer to map than 4 KiB ones, though the whole call
//! is then several times slower either way (docs/BENCHMARKS.md, "Fresh
//! memory"). Elsewhere (other kernels, other systems) both calls do
//! nothing and the pages fault in as before.

/// Outputs smaller than this are left to fault in.
const MIN_BYTES: usize = 256 << 10;
/// The huge-page size [`advise_huge`] aligns to (x86-64 and aarch64 with
/// 4 KiB base pages).
const HUGE: usize = 2 << 20;

/// Marks the whole 2 MiB-aligned extents inside `buf` as eligible for
/// transparent huge pages (`MADV_HUGEPAGE`), for a buffer about to be
/// written whole. Where the kernel's policy is `madvise` (the common
/// default), a fresh extent is then mapped by one fault and freed as one
/// page: ~0.2 ms per MB with the write, against ~0.38 for 4 KiB pages
/// mapped by [`prefault`] and ~0.47 faulted one by one (`examples/
/// fresh_pages.rs`, memory freed just before). Pages already
/// mapped keep their contents (the kernel may merge them later). Never
/// changes what the program can observe; failures are ignored.
pub(crate) fn advise_huge(buf: &mut [u8]) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    advise(buf.as_mut_ptr(), buf.len(), HUGE, libc::MADV_HUGEPAGE);
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (buf, HUGE);
}

/// As [`advise_huge`], for the unused capacity of `v` (a buffer about to
/// be filled by appending).
pub(crate) fn advise_huge_spare(v: &mut Vec<u8>) {
    let spare = v.spare_capacity_mut();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    advise(
        spare.as_mut_ptr().cast(),
        spare.len(),
        HUGE,
        libc::MADV_HUGEPAGE,
    );
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (spare, HUGE);
}

/// Asks the kernel to map the whole pages of `buf` writable now, unless
/// the page of its last byte is mapped already: a buffer written before
/// (a reused output) is mapped throughout, and asking again walks its page
/// tables for nothing (4 KiB pages: 7% of restoring the GPT bf16 delta
/// archive into a reused buffer). Never changes its contents; failures (an
/// old kernel) are ignored.
pub(crate) fn prefault(buf: &mut [u8]) {
    if buf.len() < MIN_BYTES {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !last_page_mapped(buf) {
        advise(buf.as_mut_ptr(), buf.len(), 4096, libc::MADV_POPULATE_WRITE);
    }
}

/// Whether the 4 KiB page holding the last byte of `buf` (not empty) is
/// resident (`mincore`); false where the call fails (other page sizes).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn last_page_mapped(buf: &[u8]) -> bool {
    let page = (buf.as_ptr() as usize + buf.len() - 1) & !4095;
    let mut resident = 0u8;
    #[allow(unsafe_code)]
    // SAFETY: the page at `page` holds a byte of `buf`, so it lies in a
    // mapping of this process; `mincore` only reads its page-table entry
    // and writes one byte (one page) to `resident`, a local.
    let ok = unsafe { libc::mincore(page as *mut libc::c_void, 4096, &mut resident) } == 0;
    ok && resident & 1 == 1
}

/// Applies `advice` to the whole `unit`-aligned extents inside the `len`
/// bytes at `ptr`, memory the caller borrows mutably.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn advise(ptr: *mut u8, len: usize, unit: usize, advice: libc::c_int) {
    let start = ptr as usize;
    let first = start.next_multiple_of(unit);
    let end = (start + len) / unit * unit;
    if end > first {
        #[allow(unsafe_code)]
        // SAFETY: `first .. end` lies inside the caller's mutably borrowed
        // buffer; the two advices used (MADV_POPULATE_WRITE,
        // MADV_HUGEPAGE) only map pages or set how they are mapped, as a
        // write would, and never change their contents, so no byte the
        // program can observe changes.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, advice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_contents() {
        let mut v: Vec<u8> = (0..(1usize << 20) + 333).map(|i| (i * 7) as u8).collect();
        let want = v.clone();
        prefault(&mut v[5..]);
        prefault(&mut v[..100]);
        assert_eq!(v, want);
        let mut big: Vec<u8> = (0..(9usize << 20) + 77).map(|i| (i * 13) as u8).collect();
        let want = big.clone();
        advise_huge(&mut big[3..]);
        prefault(&mut big);
        assert_eq!(big, want);
        let mut spare = Vec::with_capacity(9 << 20);
        spare.extend_from_slice(&want[..1000]);
        advise_huge_spare(&mut spare);
        spare.extend_from_slice(&want[1000..]);
        assert_eq!(spare, want);
    }

    /// A fresh anonymous mapping's last page is not resident until written.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn last_page_is_mapped_once_written() {
        let len = 1 << 20;
        #[allow(unsafe_code)]
        // SAFETY: a fresh private anonymous mapping of `len` bytes, used
        // only as the slice below and unmapped at the end.
        let buf = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            std::slice::from_raw_parts_mut(p.cast::<u8>(), len)
        };
        assert!(!last_page_mapped(buf));
        buf[len - 1] = 1;
        assert!(last_page_mapped(buf));
        assert!(!last_page_mapped(&buf[..len / 2]));
        prefault(&mut buf[..len / 2]);
        // MADV_POPULATE_WRITE needs Linux 5.14: asked of a page of its own.
        #[allow(unsafe_code)]
        // SAFETY: a whole page of the mapping above; populating it maps it
        // without changing its contents.
        let populates = unsafe {
            let page = buf.as_mut_ptr().add(len / 2).cast();
            libc::madvise(page, 4096, libc::MADV_POPULATE_WRITE) == 0
        };
        assert_eq!(last_page_mapped(&buf[..len / 2]), populates);
        #[allow(unsafe_code)]
        // SAFETY: the mapping made above, no longer borrowed.
        unsafe {
            libc::munmap(buf.as_mut_ptr().cast(), len);
        }
    }
}
