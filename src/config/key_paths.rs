//! Test support: every key path the loader accepts, derived from the raw serde structs rather
//! than listed by hand, so that the test that the example config documents every key cannot go
//! stale. A recording `Deserializer` stands in for a YAML document: serde's derived code hands
//! it each struct's static field list, and it descends into every field's type (`Option`, one
//! placeholder entry for maps, one element for sequences) until it reaches a scalar.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};

use super::raw::RawConfig;

/// Every leaf key path, such as `clusters.<alias>.security.sasl.mechanism`,
/// `clusters.<alias>.consumer.<property>` and `mirrors[].throttle.bytes_per_second`.
pub(super) fn key_paths() -> Vec<String> {
    let mut out = Vec::new();
    RawConfig::deserialize(Recorder {
        path: String::new(),
        out: &mut out,
    })
    .unwrap_or_else(|e| panic!("cannot walk the raw config types: {e}"));
    out
}

/// The named keys of `path` in order: placeholders (`<alias>`) and `[]` left out.
pub(super) fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('.')
        .map(|s| s.trim_end_matches("[]"))
        .filter(|s| !s.starts_with('<'))
}

#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

struct Recorder<'a> {
    path: String,
    out: &'a mut Vec<String>,
}

impl Recorder<'_> {
    fn child(&mut self, segment: &str) -> Recorder<'_> {
        let path = if self.path.is_empty() {
            segment.to_owned()
        } else {
            format!("{}.{segment}", self.path)
        };
        Recorder {
            path,
            out: &mut *self.out,
        }
    }

    fn leaf(self) {
        self.out.push(self.path);
    }
}

impl<'de> Deserializer<'de> for Recorder<'_> {
    type Error = Error;

    /// The untagged `Scalar`; a unit is a value it accepts (null). Any other type reaching here
    /// fails the walk with serde's "invalid type" error, so a new kind of field is noticed.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_bool(false)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = format!("{}[]", self.path);
        visitor.visit_seq(OneElement {
            element: Some(Recorder {
                path,
                out: &mut *self.out,
            }),
        })
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Error> {
        let placeholder = if self.path == "clusters" {
            "<alias>"
        } else {
            "<property>"
        };
        let value = self.child(placeholder);
        visitor.visit_map(OneEntry {
            key: Some(placeholder),
            value: Some(value),
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(Fields {
            recorder: self,
            fields,
            next: 0,
        })
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct enum identifier ignored_any
    }
}

/// A sequence of one element.
struct OneElement<'a> {
    element: Option<Recorder<'a>>,
}

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.element.take().map(|e| seed.deserialize(e)).transpose()
    }
}

/// A mapping of one entry with a placeholder key.
struct OneEntry<'a> {
    key: Option<&'static str>,
    value: Option<Recorder<'a>>,
}

impl<'de> MapAccess<'de> for OneEntry<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.key
            .take()
            .map(|k| seed.deserialize(k.into_deserializer()))
            .transpose()
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().expect("one value after the key");
        seed.deserialize(value)
    }
}

/// A struct's fields, each given once.
struct Fields<'a> {
    recorder: Recorder<'a>,
    fields: &'static [&'static str],
    next: usize,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(field) = self.fields.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(field.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let field = self.fields[self.next];
        self.next += 1;
        seed.deserialize(self.recorder.child(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_every_struct_map_and_sequence() {
        let paths = key_paths();
        for want in [
            "clusters.<alias>.bootstrap_servers",
            "clusters.<alias>.security.sasl.mechanism",
            "clusters.<alias>.consumer.<property>",
            "mirrors[].topics[]",
            "mirrors[].replication_policy.kind",
            "mirrors[].throttle.bytes_per_second",
            "mirrors[].sync_topic_acls_interval",
            "shutdown_timeout",
            "http.tls.client_ca_file",
        ] {
            assert!(paths.iter().any(|p| p == want), "{want} not in {paths:#?}");
        }
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), paths.len(), "a path twice in {paths:#?}");
    }

    #[test]
    fn segments_skip_placeholders() {
        assert_eq!(
            segments("clusters.<alias>.consumer.<property>").collect::<Vec<_>>(),
            ["clusters", "consumer"]
        );
        assert_eq!(
            segments("mirrors[].topics[]").collect::<Vec<_>>(),
            ["mirrors", "topics"]
        );
    }
}
