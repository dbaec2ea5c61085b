"""Exception hierarchy of z4ai.

Every error the codec reports is a :class:`Z4aiError`. The native module
raises these classes (it looks them up here), carrying the Rust error's
message and, as ``exc.code``, the pinned negative code the C API uses for
the same error::

    Z4aiError
    ├── CorruptError                 the frame is damaged or not a z4ai frame
    │   ├── BadMagicError            not a z4ai frame at all
    │   ├── UnsupportedVersionError  written by a newer format version
    │   ├── TruncatedError           the input ends early
    │   └── ChecksumError            a header, block or chunk checksum failed
    ├── ReferenceMismatchError       (also ValueError) wrong delta reference
    ├── ReferenceRequiredError       (also ValueError) a delta decoded without its reference
    ├── BufferTooSmallError          (also ValueError) ``out`` too small
    ├── InvalidOptionError           (also ValueError) bad dtype/effort/...
    └── OutOfRangeError              (also ValueError) range outside content

I/O failures in the file functions are the built-in :class:`OSError`
subclasses (``FileNotFoundError``, ...). Arguments of the wrong type raise
:class:`TypeError`; non-contiguous buffers raise :class:`ValueError`.
"""

from __future__ import annotations

__all__ = [
    "Z4aiError",
    "CorruptError",
    "BadMagicError",
    "UnsupportedVersionError",
    "TruncatedError",
    "ChecksumError",
    "ReferenceMismatchError",
    "ReferenceRequiredError",
    "BufferTooSmallError",
    "InvalidOptionError",
    "OutOfRangeError",
]


class Z4aiError(Exception):
    """Base class of every error z4ai reports.

    ``code`` is the C API's pinned negative error code (``-1`` when the
    error did not come from the codec core).
    """

    code: int = -1


class CorruptError(Z4aiError):
    """The input is not a valid z4ai frame (damaged, or not z4ai data)."""

    code = -5


class BadMagicError(CorruptError):
    """The input does not start with the z4ai magic bytes."""

    code = -2


class UnsupportedVersionError(CorruptError):
    """The frame was written by a format version this build cannot read."""

    code = -3


class TruncatedError(CorruptError):
    """The input ended before a structure of the frame was complete."""

    code = -4


class ChecksumError(CorruptError):
    """A checksum did not match: the header, a block, or a chunk's content."""

    code = -6


class ReferenceMismatchError(Z4aiError, ValueError):
    """A delta was decoded against a reference other than its own."""

    code = -7


class ReferenceRequiredError(Z4aiError, ValueError):
    """A delta frame or delta archive was decoded without its reference
    (use ``decompress_delta``, or attach the reference file)."""

    code = -17


class BufferTooSmallError(Z4aiError, ValueError):
    """The output buffer cannot hold the decompressed content."""

    code = -8


class InvalidOptionError(Z4aiError, ValueError):
    """An option (dtype, effort, chunk size, ...) is unknown or out of range."""

    code = -9


class OutOfRangeError(Z4aiError, ValueError):
    """A requested byte range lies outside the content."""

    code = -10
