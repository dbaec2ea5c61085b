//! Element types and their field layouts.
//!
//! Every float dtype is coded as its little-endian word rotated left by one
//! bit (sign to the bottom), split into byte planes, most significant first;
//! integers and bytes are split without rotation. See `docs/FORMAT.md` for
//! the per-dtype plane layout.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The element type of a buffer. The numeric value is the frame's dtype code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    /// Opaque bytes: one plane, no field split.
    Bytes = 0,
    /// bfloat16 (1 sign, 8 exponent, 7 mantissa bits).
    BF16 = 1,
    /// IEEE binary16 (1, 5, 10).
    F16 = 2,
    /// IEEE binary32 (1, 8, 23).
    F32 = 3,
    /// IEEE binary64 (1, 11, 52).
    F64 = 4,
    /// OCP FP8 E4M3.
    F8E4M3 = 5,
    /// OCP FP8 E5M2.
    F8E5M2 = 6,
    /// Signed 8-bit integers.
    I8 = 7,
    /// Unsigned 8-bit integers.
    U8 = 8,
    /// Signed 16-bit integers.
    I16 = 9,
    /// Signed 32-bit integers.
    I32 = 10,
    /// Signed 64-bit integers.
    I64 = 11,
}

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; 12] = [
        DType::Bytes,
        DType::BF16,
        DType::F16,
        DType::F32,
        DType::F64,
        DType::F8E4M3,
        DType::F8E5M2,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::I32,
        DType::I64,
    ];

    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            DType::Bytes | DType::F8E4M3 | DType::F8E5M2 | DType::I8 | DType::U8 => 1,
            DType::BF16 | DType::F16 | DType::I16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// Whether elements are rotated left one bit before the plane split.
    pub fn rotates(self) -> bool {
        matches!(
            self,
            DType::BF16 | DType::F16 | DType::F32 | DType::F64 | DType::F8E4M3 | DType::F8E5M2
        )
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        self.rotates()
    }

    /// The frame's dtype code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The dtype of a frame code.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.get(usize::from(code)).copied()
    }

    /// Canonical short name (`bf16`, `fp32`, `e4m3`, `i8`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bytes => "bytes",
            DType::BF16 => "bf16",
            DType::F16 => "fp16",
            DType::F32 => "fp32",
            DType::F64 => "fp64",
            DType::F8E4M3 => "e4m3",
            DType::F8E5M2 => "e5m2",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = Error;

    /// Accepts the canonical names and common aliases (`bfloat16`, `float16`,
    /// `f16`, `half`, `float32`, `f32`, `float`, `float64`, `f64`, `double`,
    /// `int8`, `uint8`, `int16`, `int32`, `int64`, `fp8_e4m3`, `fp8_e5m2`,
    /// safetensors' `BF16`, `F16`, `F32`, `F64`, `F8_E4M3`, `F8_E5M2`, ...).
    fn from_str(s: &str) -> Result<DType, Error> {
        let l = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Ok(match l.as_str() {
            "bytes" | "byte" | "raw" | "none" => DType::Bytes,
            "bf16" | "bfloat16" => DType::BF16,
            "fp16" | "f16" | "float16" | "half" => DType::F16,
            "fp32" | "f32" | "float32" | "float" => DType::F32,
            "fp64" | "f64" | "float64" | "double" => DType::F64,
            "e4m3" | "fp8e4m3" | "f8e4m3" | "float8e4m3fn" | "f8e4m3fn" => DType::F8E4M3,
            "e5m2" | "fp8e5m2" | "f8e5m2" | "float8e5m2" => DType::F8E5M2,
            "i8" | "int8" => DType::I8,
            "u8" | "uint8" | "bool" => DType::U8,
            "i16" | "int16" => DType::I16,
            "i32" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            _ => return Err(Error::InvalidOption(format!("unknown dtype '{s}'"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_code(d.code()), Some(d));
            assert_eq!(d.name().parse::<DType>().unwrap(), d);
        }
        assert_eq!(DType::from_code(12), None);
        assert_eq!("BF16".parse::<DType>().unwrap(), DType::BF16);
        assert_eq!("F8_E4M3".parse::<DType>().unwrap(), DType::F8E4M3);
        assert!("fp12".parse::<DType>().is_err());
    }
}
