//! A serde serializer that writes exactly the bytes of `serde_json::to_writer_pretty`, faster.
//!
//! The JSON report of a gigabyte of traffic is tens to hundreds of megabytes, about 200 keys
//! per flow, and serde_json spent a fifth of the whole audit writing it: it escapes every
//! struct field name byte by byte through a lookup table, writes each token through its
//! formatter and the writer one call at a time, and indents two spaces per call. Here field
//! names are written as they are (they are Rust identifiers, nothing to escape), strings are
//! copied whole unless a byte needs escaping, and every token goes into one buffer. The flows of
//! the JSON report skip serde altogether (`json_elements`), using the string and number writing
//! here. Numbers use the same crates as serde_json (itoa,
//! zmij), so the output is byte for byte the same; tests compare the two on real reports and
//! on generated values.

use std::fmt::Display;
use std::io;

use serde::ser::{self, Serialize};

/// `serialize_i8` … `serialize_u128` of a serializer, each handing its value to `$method`.
macro_rules! integers {
    ($method:ident) => {
        integers!($method: serialize_i8 i8, serialize_i16 i16, serialize_i32 i32,
            serialize_i64 i64, serialize_i128 i128, serialize_u8 u8, serialize_u16 u16,
            serialize_u32 u32, serialize_u64 u64, serialize_u128 u128);
    };
    ($method:ident: $($name:ident $ty:ty),*) => {
        $(
            fn $name(self, value: $ty) -> Result<(), Error> {
                self.$method(value)
            }
        )*
    };
}

/// The compounds written as JSON arrays; they differ only in the name of their method.
macro_rules! array_like {
    ($($trait:ident :: $method:ident),*) => {
        $(
            impl ser::$trait for Compound<'_> {
                type Ok = ();
                type Error = Error;

                fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                    self.element(value)
                }

                fn end(self) -> Result<(), Error> {
                    self.close(b']');
                    Ok(())
                }
            }
        )*
    };
}

/// The compounds written as JSON objects with fields named in the code.
macro_rules! struct_like {
    ($($trait:ident),*) => {
        $(
            impl ser::$trait for Compound<'_> {
                type Ok = ();
                type Error = Error;

                fn serialize_field<T: Serialize + ?Sized>(
                    &mut self,
                    key: &'static str,
                    value: &T,
                ) -> Result<(), Error> {
                    self.field(key, value)
                }

                fn end(self) -> Result<(), Error> {
                    self.close(b'}');
                    Ok(())
                }
            }
        )*
    };
}

/// Appends `value` to `buf` as serde_json's pretty printer would write it at `level` levels of
/// nesting (0 for a whole document).
pub fn append<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T, level: usize) -> io::Result<()> {
    let mut serializer = Serializer {
        buf: std::mem::take(buf),
        level,
        has_value: false,
    };
    let result = value.serialize(&mut serializer).map_err(Error::into_io);
    *buf = serializer.buf;
    result
}

/// A comma, a line break and enough indent for every level a report reaches (32); deeper
/// levels add the rest two spaces at a time.
const BREAKS: &[u8; 66] = b",\n                                                                ";

/// [`BREAKS`] without the comma.
const BREAK: &[u8; 65] = b"\n                                                                ";

/// The deepest level [`BREAKS`] and [`BREAK`] indent.
const BREAKS_LEVEL: usize = 32;

pub struct Serializer {
    buf: Vec<u8>,
    /// Nesting depth: the indent is two spaces per level.
    level: usize,
    /// Whether the innermost open array or object has had a value (serde_json's flag).
    has_value: bool,
}

impl Serializer {
    /// A line break and the indent of the current level, after a comma unless `first`.
    #[inline(always)]
    fn line(&mut self, first: bool) {
        if self.level <= BREAKS_LEVEL {
            let indent = 2 * self.level;
            if first {
                self.put_first(BREAK, 1 + indent);
            } else {
                self.put_first(BREAKS, 2 + indent);
            }
        } else {
            self.buf
                .extend_from_slice(if first { &BREAK[..] } else { &BREAKS[..] });
            for _ in BREAKS_LEVEL..self.level {
                self.buf.extend_from_slice(b"  ");
            }
        }
    }

    /// Appends the first `len` bytes of `bytes`. A line break is a few bytes and there are
    /// millions of them in a big report: a copy of a size known when compiling (a couple of
    /// vector moves) and a cut is much cheaper than a call to copy an exact length.
    #[inline(always)]
    fn put_first<const N: usize>(&mut self, bytes: &[u8; N], len: usize) {
        let at = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.buf.truncate(at + len);
    }

    fn open(&mut self, bracket: u8) {
        self.level += 1;
        self.has_value = false;
        self.buf.push(bracket);
    }

    fn close(&mut self, bracket: u8) {
        self.level -= 1;
        if self.has_value {
            self.line(true);
        }
        self.buf.push(bracket);
    }

    /// Opens the object that names a variant, up to its value.
    fn variant(&mut self, name: &str) {
        self.open(b'{');
        self.line(true);
        self.string(name);
        self.buf.extend_from_slice(b": ");
    }

    fn compound(&mut self, bracket: u8, variant: bool) -> Compound<'_> {
        self.open(bracket);
        Compound {
            ser: self,
            first: true,
            variant,
        }
    }

    #[inline(always)]
    fn string(&mut self, value: &str) {
        push_string(&mut self.buf, value);
    }

    fn integer(&mut self, value: impl itoa::Integer) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn number(&mut self, value: impl itoa::Integer) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn float(&mut self, value: impl zmij::Float, finite: bool) {
        push_float(&mut self.buf, value, finite);
    }
}

/// A string with serde_json's escapes: `"`, `\`, and control characters (short forms for five
/// of them, `\u00xx` for the rest).
#[inline(always)]
pub(super) fn push_string(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    buf.push(b'"');
    // Nearly every string (addresses, times, codes, names) has nothing to escape. A check of
    // every byte without an early exit compiles to vector instructions.
    let plain = bytes
        .iter()
        .fold(true, |plain, &byte| plain & !needs_escape(byte));
    if plain {
        buf.extend_from_slice(bytes);
    } else {
        push_escaped(buf, bytes);
    }
    buf.push(b'"');
}

fn push_escaped(buf: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if !needs_escape(byte) {
            continue;
        }
        buf.extend_from_slice(&bytes[start..i]);
        match byte {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\x08' => buf.extend_from_slice(b"\\b"),
            b'\x0c' => buf.extend_from_slice(b"\\f"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(byte >> 4)]);
                buf.push(HEX[usize::from(byte & 0xf)]);
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// A float as serde_json writes it: zmij's shortest form, or `null` when not finite.
pub(super) fn push_float(buf: &mut Vec<u8>, value: impl zmij::Float, finite: bool) {
    if finite {
        buf.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// The writer's error, or a value JSON cannot represent, as the `io::Error` callers get. One
/// word, unlike an enum of the two: every value returns a `Result`, and this one travels in a
/// register.
#[derive(Debug)]
pub struct Error(io::Error);

impl Error {
    fn into_io(self) -> io::Error {
        self.0
    }

    fn message(message: impl Into<String>) -> Error {
        Error(io::Error::other(message.into()))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(message: T) -> Self {
        Error::message(message.to_string())
    }
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

fn key_must_be_a_string() -> Error {
    Error::message("key must be a string")
}

/// An array or object being written; `first` until its first element. A variant's array or
/// object (`{"Variant": [...]}`) also closes the object that names it.
pub struct Compound<'a> {
    ser: &'a mut Serializer,
    first: bool,
    variant: bool,
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
        Ok(())
    }

    integers!(number);

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.float(value, value.is_finite());
        Ok(())
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        self.float(value, value.is_finite());
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.string(value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.string(value);
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(value.len()))?;
        for byte in value {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.buf.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant(variant);
        value.serialize(&mut *self)?;
        self.has_value = true;
        self.close(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(self.compound(b'[', false))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.variant(variant);
        Ok(self.compound(b'[', true))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(self.compound(b'{', false))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.variant(variant);
        Ok(self.compound(b'{', true))
    }
}

impl Compound<'_> {
    /// The line break (and comma) before an element or key.
    #[inline(always)]
    fn next_line(&mut self) {
        self.ser.line(self.first);
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.next_line();
        value.serialize(&mut *self.ser)?;
        self.ser.has_value = true;
        Ok(())
    }

    #[inline(always)]
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        // A field name is a Rust identifier (or a serde rename of one): nothing to escape.
        debug_assert!(!key.bytes().any(needs_escape));
        self.next_line();
        self.ser.buf.push(b'"');
        self.ser.buf.extend_from_slice(key.as_bytes());
        self.ser.buf.extend_from_slice(b"\": ");
        value.serialize(&mut *self.ser)?;
        self.ser.has_value = true;
        Ok(())
    }

    /// Closes the array or object, and for a variant the object naming it.
    fn close(self, bracket: u8) {
        self.ser.close(bracket);
        if self.variant {
            self.ser.has_value = true;
            self.ser.close(b'}');
        }
    }
}

array_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);
struct_like!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.next_line();
        key.serialize(MapKey {
            ser: &mut *self.ser,
        })?;
        self.ser.buf.extend_from_slice(b": ");
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)?;
        self.ser.has_value = true;
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        self.close(b'}');
        Ok(())
    }
}

/// A map key: JSON keys are strings, so strings, characters and unit variants are written as
/// strings and booleans and numbers quoted, as serde_json does; anything else is an error.
struct MapKey<'a> {
    ser: &'a mut Serializer,
}

impl MapKey<'_> {
    fn quoted_integer(self, value: impl itoa::Integer) -> Result<(), Error> {
        self.ser.buf.push(b'"');
        self.ser.integer(value);
        self.ser.buf.push(b'"');
        Ok(())
    }

    fn quoted_float(self, value: impl zmij::Float, finite: bool) -> Result<(), Error> {
        if !finite {
            return Err(Error::message("float key must be finite"));
        }
        self.ser.buf.push(b'"');
        self.ser.float(value, true);
        self.ser.buf.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.ser.string(value);
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.ser.string(value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.ser.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.ser
            .buf
            .extend_from_slice(if value { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }

    integers!(quoted_integer);

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.quoted_float(value, value.is_finite())
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        self.quoted_float(value, value.is_finite())
    }

    fn serialize_bytes(self, _value: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serialize;

    fn ours<T: Serialize + ?Sized>(value: &T) -> String {
        let mut out = Vec::new();
        super::append(&mut out, value, 0).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { a: Option<f64>, b: Vec<u16> },
    }

    #[derive(Serialize)]
    struct Sample {
        text: String,
        number: f64,
        small: f32,
        signed: i64,
        big: u128,
        flag: bool,
        letter: char,
        nothing: Option<u8>,
        list: Vec<Vec<u8>>,
        by_name: BTreeMap<String, u32>,
        by_number: BTreeMap<u16, bool>,
        shapes: Vec<Shape>,
        #[serde(rename = "renamed-field")]
        renamed: (),
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        bytes: serde_bytes_like::Bytes,
    }

    /// `serialize_bytes`, which no derive reaches.
    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    fn sample(text: String, number: f64, small: f32, signed: i64) -> Sample {
        Sample {
            by_name: [(text.clone(), 1), (String::new(), 2)].into(),
            text,
            number,
            small,
            signed,
            big: u128::MAX,
            flag: true,
            letter: '\u{7}',
            nothing: None,
            list: vec![vec![], vec![1, 2]],
            by_number: [(7, false), (65535, true)].into(),
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(3),
                Shape::Tuple(-1, "x".into()),
                Shape::Struct {
                    a: Some(f64::NAN),
                    b: vec![],
                },
                Shape::Struct {
                    a: Some(0.1),
                    b: vec![9],
                },
            ],
            renamed: (),
            skipped: None,
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
        }
    }

    #[test]
    fn every_kind_of_value_matches_serde_json() {
        let value = sample("tab\there \"quoted\" \\ \u{1f} é".into(), 1e21, 0.5, -3);
        assert_eq!(ours(&value), serde_json::to_string_pretty(&value).unwrap());
        let empty: (Vec<u8>, BTreeMap<String, u8>, Option<()>) = (vec![], BTreeMap::new(), None);
        assert_eq!(ours(&empty), serde_json::to_string_pretty(&empty).unwrap());
    }

    #[test]
    fn appending_writes_the_same_bytes_after_what_is_there() {
        let value = sample("x".repeat(70_000), 2.5, 1.0, 7);
        let mut buf = b"prefix".to_vec();
        super::append(&mut buf, &value, 0).unwrap();
        assert_eq!(
            buf,
            [b"prefix".as_slice(), ours(&value).as_bytes()].concat()
        );
    }

    #[test]
    fn deep_nesting_indents_past_the_prepared_breaks() {
        let mut deep = serde_json::json!([1, {"g": "h"}]);
        for _ in 0..40 {
            deep = serde_json::json!({"k": deep, "l": [[], {}]});
        }
        assert_eq!(ours(&deep), serde_json::to_string_pretty(&deep).unwrap());
    }

    #[test]
    fn keys_that_are_not_strings_or_numbers_are_errors() {
        let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(super::append(&mut Vec::new(), &map, 0).is_err());
        assert!(serde_json::to_vec_pretty(&map).is_err());
    }

    proptest! {
        #[test]
        fn any_string_and_number_match_serde_json(
            text in any::<String>(),
            number in any::<f64>(),
            small in any::<f32>(),
            signed in any::<i64>(),
        ) {
            let value = sample(text, number, small, signed);
            prop_assert_eq!(ours(&value), serde_json::to_string_pretty(&value).unwrap());
        }
    }
}
