//! The C API (`include/z4ai.h`): see `docs/C_API.md`.
