//! The stable trace hash.
//!
//! Two runs are "the same" when their traces hash equal, so the hash must never depend on the
//! Rust version, the platform or a library's internals (`DefaultHasher` promises none of that).
//! It is defined here, completely:
//!
//! - **Hasher**: 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
//! - **Canonical encoding** of a value, produced by walking its `serde::Serialize` impl:
//!   integers as fixed-width little-endian (`u8`..`u64`, `i8`..`i64`, `u128`/`i128`), `bool` as one
//!   byte, `f32`/`f64` as their IEEE-754 bits, `char` as `u32`, strings and byte strings as a
//!   `u64` length then the bytes, `None` as `0u8` and `Some(x)` as `1u8` then `x`, unit as
//!   nothing, sequences and maps as a `u64` length (or `u64::MAX` when unknown) then the
//!   elements, structs and tuples as their fields in order (names are not hashed), enum variants
//!   as their `u32` index then their content.
//!
//! The trace hash of a run is this encoding of each `TraceEvent`, in step order, fed into one
//! hasher. Because field names are not hashed, renaming a field keeps hashes; reordering fields
//! or variants changes them, which is the point: the recorded behaviour changed.

use serde::ser::{self, Serialize};
use std::fmt;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a over the canonical encoding of values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher {
            state: FNV_OFFSET_BASIS,
        }
    }
}

impl StableHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.state ^= u64::from(*byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
    }

    /// Feeds the canonical encoding of `value`.
    pub fn write_value<T: Serialize + ?Sized>(&mut self, value: &T) {
        // Our serializer cannot fail; a custom Serialize impl that reports an error is a bug in
        // that impl, and the partial encoding it produced is still hashed deterministically.
        let _ = value.serialize(&mut *self);
    }

    pub fn finish(&self) -> u64 {
        self.state
    }
}

/// Error type required by serde; the canonical serializer never produces one itself.
#[derive(Debug)]
pub struct HashError(String);

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HashError {}

impl ser::Error for HashError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        HashError(msg.to_string())
    }
}

type Res = Result<(), HashError>;

impl StableHasher {
    fn len(&mut self, len: Option<usize>) {
        let len = len.map_or(u64::MAX, |l| l as u64);
        self.write(&len.to_le_bytes());
    }
}

macro_rules! le_int {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Res {
            self.write(&v.to_le_bytes());
            Ok(())
        })*
    };
}

impl ser::Serializer for &mut StableHasher {
    type Ok = ();
    type Error = HashError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    le_int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> Res {
        self.write(&[u8::from(v)]);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Res {
        self.write(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Res {
        self.write(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Res {
        self.write(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Res {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Res {
        self.len(Some(v.len()));
        self.write(v);
        Ok(())
    }
    fn serialize_none(self) -> Res {
        self.write(&[0]);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Res {
        self.write(&[1]);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Res {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Res {
        Ok(())
    }
    fn serialize_unit_variant(self, _n: &'static str, index: u32, _v: &'static str) -> Res {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _n: &'static str, v: &T) -> Res {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Res {
        self.write(&index.to_le_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, HashError> {
        self.len(len);
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _n: &'static str, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.write(&index.to_le_bytes());
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, HashError> {
        self.len(len);
        Ok(self)
    }
    fn serialize_struct(self, _n: &'static str, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.write(&index.to_le_bytes());
        Ok(self)
    }
}

macro_rules! compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for &mut StableHasher {
            type Ok = ();
            type Error = HashError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
                value.serialize(&mut **self)
            }
            fn end(self) -> Res {
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for &mut StableHasher {
    type Ok = ();
    type Error = HashError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Res {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Res {
        value.serialize(&mut **self)
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut StableHasher {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _k: &'static str, value: &T) -> Res {
        value.serialize(&mut **self)
    }
    fn end(self) -> Res {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut StableHasher {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _k: &'static str, value: &T) -> Res {
        value.serialize(&mut **self)
    }
    fn end(self) -> Res {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite: fnv1a64("") and fnv1a64("a").
        assert_eq!(StableHasher::new().finish(), 0xcbf29ce484222325);
        let mut h = StableHasher::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63dc4c8601ec8c);
    }

    #[derive(Serialize)]
    struct Event {
        step: u64,
        name: String,
        note: Option<Kind>,
    }

    #[derive(Serialize)]
    enum Kind {
        A,
        B(u32),
    }

    fn hash_of<T: Serialize>(v: &T) -> u64 {
        let mut h = StableHasher::new();
        h.write_value(v);
        h.finish()
    }

    #[test]
    fn encoding_is_the_documented_one() {
        let event = Event {
            step: 1,
            name: "ab".into(),
            note: Some(Kind::B(2)),
        };
        let mut expected = StableHasher::new();
        expected.write(&1u64.to_le_bytes());
        expected.write(&2u64.to_le_bytes());
        expected.write(b"ab");
        expected.write(&[1]);
        expected.write(&1u32.to_le_bytes());
        expected.write(&2u32.to_le_bytes());
        assert_eq!(hash_of(&event), expected.finish());
    }

    #[test]
    fn different_values_hash_differently() {
        let a = Event {
            step: 1,
            name: "x".into(),
            note: Some(Kind::A),
        };
        let b = Event {
            step: 1,
            name: "x".into(),
            note: None,
        };
        assert_ne!(hash_of(&a), hash_of(&b));
    }
}
