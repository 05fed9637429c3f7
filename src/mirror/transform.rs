//! What a source record becomes on the target: the same key, value, headers (in order,
//! duplicates kept), CreateTime timestamp and partition number, in the remote topic; with the
//! provenance header extended when the mirror stamps it (see `policy::graph`). A record whose
//! provenance header lists the target has been there already and is not copied at all.

use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use crate::policy::graph;

/// The value of the record's provenance header, if it has one.
pub fn provenance<M: Message>(msg: &M) -> Option<&[u8]> {
    msg.headers().and_then(|hs| {
        hs.iter()
            .find(|h| h.key == graph::PROVENANCE_HEADER)
            .map(|h| h.value.unwrap_or_default())
    })
}

/// The record has been on `target` already: copying it there would loop.
pub fn visited<M: Message>(msg: &M, target: &str) -> bool {
    provenance(msg).is_some_and(|v| graph::visited(v, target))
}

/// Size of key + value (the bytes that count towards throttles and metrics).
pub fn size<M: Message>(msg: &M) -> usize {
    msg.key().map_or(0, <[u8]>::len) + msg.payload().map_or(0, <[u8]>::len)
}

/// The record to produce for `msg` into `remote_topic`, with `opaque` for its delivery report.
/// `stamp` is the source alias to add to the provenance header, when the mirror stamps it.
pub fn outgoing<'a, M: Message>(
    msg: &'a M,
    remote_topic: &'a str,
    opaque: usize,
    stamp: Option<&str>,
) -> BaseRecord<'a, [u8], [u8], usize> {
    let mut record = BaseRecord::with_opaque_to(remote_topic, opaque).partition(msg.partition());
    if let Some(k) = msg.key() {
        record = record.key(k);
    }
    if let Some(p) = msg.payload() {
        record = record.payload(p);
    }
    if let Some(ts) = msg.timestamp().to_millis() {
        record = record.timestamp(ts);
    }
    let count = msg.headers().map_or(0, |h| h.count());
    match stamp {
        Some(source) => {
            let stamped = graph::extend(provenance(msg), source);
            let mut owned = OwnedHeaders::new_with_capacity(count + 1);
            if let Some(headers) = msg.headers() {
                for h in headers.iter().filter(|h| h.key != graph::PROVENANCE_HEADER) {
                    owned = owned.insert(h);
                }
            }
            owned = owned.insert(Header {
                key: graph::PROVENANCE_HEADER,
                value: Some(stamped.as_slice()),
            });
            record.headers(owned)
        }
        None => match msg.headers() {
            Some(headers) => {
                let mut owned = OwnedHeaders::new_with_capacity(count);
                for h in headers.iter() {
                    owned = owned.insert(h);
                }
                record.headers(owned)
            }
            None => record,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{OwnedMessage, Timestamp};

    fn message(headers: &[(&str, Option<&[u8]>)]) -> OwnedMessage {
        let mut owned = OwnedHeaders::new();
        for (key, value) in headers {
            owned = owned.insert(Header { key, value: *value });
        }
        OwnedMessage::new(
            Some(b"value".to_vec()),
            Some(b"key".to_vec()),
            "orders".into(),
            Timestamp::CreateTime(1_700_000_000_123),
            3,
            42,
            Some(owned),
        )
    }

    fn headers_of(record: &BaseRecord<'_, [u8], [u8], usize>) -> Vec<(String, Option<Vec<u8>>)> {
        record.headers.as_ref().map_or(Vec::new(), |hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
    }

    #[test]
    fn key_value_timestamp_partition_and_headers_are_kept() {
        let msg = message(&[("a", Some(b"1")), ("a", Some(b"2")), ("n", None)]);
        let r = outgoing(&msg, "A.orders", 7, None);
        assert_eq!(r.topic, "A.orders");
        assert_eq!(r.partition, Some(3));
        assert_eq!(r.key, Some(&b"key"[..]));
        assert_eq!(r.payload, Some(&b"value"[..]));
        assert_eq!(r.timestamp, Some(1_700_000_000_123));
        assert_eq!(r.delivery_opaque, 7);
        assert_eq!(
            headers_of(&r),
            [
                ("a".to_string(), Some(b"1".to_vec())),
                ("a".to_string(), Some(b"2".to_vec())),
                ("n".to_string(), None),
            ]
        );
        assert_eq!(size(&msg), 8);
    }

    #[test]
    fn stamping_replaces_the_provenance_header_with_the_extended_one() {
        let msg = message(&[
            ("x", Some(b"1")),
            (graph::PROVENANCE_HEADER, Some(b"C")),
            ("y", None),
        ]);
        let r = outgoing(&msg, "orders", 0, Some("A"));
        let headers = headers_of(&r);
        assert_eq!(
            headers,
            [
                ("x".to_string(), Some(b"1".to_vec())),
                ("y".to_string(), None),
                (
                    graph::PROVENANCE_HEADER.to_string(),
                    Some(graph::extend(Some(b"C"), "A"))
                ),
            ]
        );
        assert!(visited(&msg, "C"));
        assert!(!visited(&msg, "B"));
        let plain = message(&[]);
        assert!(!visited(&plain, "C"));
        let stamped = outgoing(&plain, "orders", 0, Some("A"));
        assert_eq!(
            headers_of(&stamped),
            [(
                graph::PROVENANCE_HEADER.to_string(),
                Some(graph::extend(None, "A"))
            )]
        );
    }
}
