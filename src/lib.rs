//! z4ai
