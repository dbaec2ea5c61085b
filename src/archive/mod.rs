//! Model files: safetensors / GGUF / folders as archives with per-tensor access (see docs/ARCHIVE.md).
