//! The primitive types of Kafka's legacy protocol schemas (`Type.INT16/INT32/INT64/STRING`):
//! big-endian signed integers and INT16-length-prefixed UTF-8 strings. A [`Reader`] consumes
//! fields front to back and never complains about bytes left over, like Java's `Schema.read`.

use super::{DecodeError, EncodeError, Part};

/// The longest STRING in bytes (`Short.MAX_VALUE`); Java's writer throws above it.
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Appends fields of one part (key or value) of one record type.
pub(super) struct Writer {
    record: &'static str,
    part: Part,
    buf: Vec<u8>,
}

impl Writer {
    pub(super) fn new(record: &'static str, part: Part, capacity: usize) -> Writer {
        Writer {
            record,
            part,
            buf: Vec::with_capacity(capacity),
        }
    }

    pub(super) fn i16(mut self, v: i16) -> Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(super) fn i32(mut self, v: i32) -> Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(super) fn i64(mut self, v: i64) -> Writer {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(super) fn string(mut self, field: &'static str, s: &str) -> Result<Writer, EncodeError> {
        let len = i16::try_from(s.len()).map_err(|_| EncodeError::StringTooLong {
            record: self.record,
            part: self.part,
            field,
            len: s.len(),
        })?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        Ok(self)
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields of one part (key or value) of one record type from the front of a slice.
pub(super) struct Reader<'a> {
    record: &'static str,
    part: Part,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(record: &'static str, part: Part, bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            record,
            part,
            rest: bytes,
        }
    }

    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take_slice(field, N)?;
        Ok(bytes.try_into().expect("take_slice returned N bytes"))
    }

    fn take_slice(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated {
                record: self.record,
                part: self.part,
                field,
                needed: n,
                remaining: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(super) fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        self.take(field).map(i16::from_be_bytes)
    }

    pub(super) fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.take(field).map(i32::from_be_bytes)
    }

    pub(super) fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.take(field).map(i64::from_be_bytes)
    }

    pub(super) fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.i16(field)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::NegativeStringLength {
            record: self.record,
            part: self.part,
            field,
            length: len,
        })?;
        let bytes = self.take_slice(field, len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| DecodeError::InvalidUtf8 {
                record: self.record,
                part: self.part,
                field,
                valid_up_to: e.valid_up_to(),
            })
    }

    /// The INT16 version header of a versioned value: any version >= 0 is read with the v0 body
    /// (see the module docs for why).
    pub(super) fn version(&mut self) -> Result<i16, DecodeError> {
        let version = self.i16("version")?;
        if version < 0 {
            return Err(DecodeError::UnsupportedVersion {
                record: self.record,
                version,
            });
        }
        Ok(version)
    }
}
