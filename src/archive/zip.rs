//! Zip files (PyTorch `.bin` / `.pt`).

use super::source::ReadAt;
use super::Span;
use crate::error::{Error, Result};

/// Whether a file starts with a zip local-file header.
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= 4 && head[..4] == [b'P', b'K', 3, 4]
}

/// Spans of the stored members.
pub fn plan(_src: &dyn ReadAt) -> Result<Vec<Span>> {
    Err(Error::corrupt("zip not supported yet"))
}
