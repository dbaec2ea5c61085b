//! Returning freed heap memory to the operating system.
//!
//! glibc keeps memory that worker threads free in per-thread arenas for
//! reuse, so after a batch of pieces the process's resident size stays at
//! the batch's peak even though the heap is mostly free. The archive
//! writer and reader call [`release`] between batches so that what one
//! batch freed does not stay resident next to what the next one allocates
//! (docs/ARCHIVE.md, "Peak memory"). Elsewhere it does nothing.

/// Hands the free pages of every malloc arena back to the kernel
/// (`malloc_trim(0)`); a no-op where the allocator is not glibc's.
pub(crate) fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only walks the allocator's own free lists and
    // takes its locks; it touches no memory the program owns, and 0 (keep
    // no padding at the top of the heap) is a valid argument.
    unsafe {
        libc::malloc_trim(0);
    }
}
