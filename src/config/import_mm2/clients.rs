//! Java client properties (`A.consumer.fetch.max.wait.ms`) as librdkafka properties for a
//! cluster's pass-through sections: the same name where librdkafka has it with the same meaning,
//! the known equivalent where the names differ, or why there is none.

use super::super::forced::{self, Section};
use super::super::librdkafka;

/// What becomes of one Java client property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Translation {
    /// The librdkafka property and value; `note` says how it differs from the Java one.
    Map {
        key: String,
        value: String,
        note: Option<String>,
    },
    NotNeeded(String),
    NotMapped {
        reason: String,
        action: String,
    },
}

use Translation::{Map, NotMapped, NotNeeded};

const STRAIT_METRICS: &str =
    "strait has its own metrics (Prometheus, `/metrics`); Java client metrics settings do not apply";
const NO_GROUP: &str = "MM2's replication consumer joins no group (it assigns partitions itself), \
     and neither does strait's; group membership settings have no effect there";
const BYTES: &str =
    "strait copies keys and values as bytes, as MM2 does (its converters are byte arrays)";

/// `java_key` = `value` written for the Java clients of `section` (`Client` for keys that
/// apply to every client). `value` is already in strait's syntax (references translated).
pub(super) fn translate(java_key: &str, value: &str, section: Section) -> Translation {
    let reference = value.contains("${");
    let number = || value.trim().parse::<i64>().ok().filter(|_| !reference);
    let same = |note: Option<&str>| Map {
        key: java_key.to_owned(),
        value: value.to_owned(),
        note: note.map(str::to_owned),
    };
    let renamed = |key: &str, note: &str| Map {
        key: key.to_owned(),
        value: value.to_owned(),
        note: Some(note.to_owned()),
    };
    let consumer = section == Section::Consumer;
    let producer = section == Section::Producer;
    let translation = match java_key {
        "receive.buffer.bytes" | "send.buffer.bytes" => {
            let key = format!("socket.{java_key}");
            match number() {
                // Java's -1 is the operating system's default, librdkafka's 0.
                Some(-1) => Map {
                    key,
                    value: "0".to_owned(),
                    note: Some("-1 (the OS default) is 0 in librdkafka".to_owned()),
                },
                Some(_) => Map {
                    key,
                    value: value.trim().to_owned(),
                    note: Some("librdkafka's name for it".to_owned()),
                },
                None => not_a_number(java_key),
            }
        }
        "request.timeout.ms" if producer => same(Some(
            "librdkafka's producer request (ack) timeout, as in Java",
        )),
        "request.timeout.ms" => renamed(
            "socket.timeout.ms",
            "librdkafka's closest equivalent: the timeout of a network request",
        ),
        "socket.connection.setup.timeout.max.ms" => NotMapped {
            reason: "librdkafka has one connection setup timeout and no exponential maximum"
                .to_owned(),
            action: "set `socket.connection.setup.timeout.ms` if you need a longer timeout"
                .to_owned(),
        },
        "default.api.timeout.ms" => {
            NotNeeded("strait sets the timeouts of its own admin and offset calls".to_owned())
        }
        k if k.starts_with("metrics.")
            || k == "metric.reporters"
            || k == "auto.include.jmx.reporter"
            || k == "enable.metrics.push" =>
        {
            NotNeeded(STRAIT_METRICS.to_owned())
        }
        "interceptor.classes" => NotMapped {
            reason: "Java client interceptors have no librdkafka equivalent".to_owned(),
            action: "drop it, or ask what the interceptor did and configure that otherwise"
                .to_owned(),
        },
        "key.serializer" | "value.serializer" | "key.deserializer" | "value.deserializer" => {
            NotNeeded(BYTES.to_owned())
        }
        "security.providers" => {
            NotNeeded("a JVM security setting; librdkafka uses OpenSSL".to_owned())
        }
        // Consumers.
        "fetch.max.wait.ms" => renamed("fetch.wait.max.ms", "librdkafka's name for it"),
        "max.poll.records" => NotNeeded(
            "librdkafka has no per-poll record limit; strait batches records itself".to_owned(),
        ),
        "max.poll.interval.ms"
        | "session.timeout.ms"
        | "heartbeat.interval.ms"
        | "partition.assignment.strategy"
        | "group.instance.id"
        | "group.protocol"
        | "group.remote.assignor"
            if consumer =>
        {
            NotNeeded(NO_GROUP.to_owned())
        }
        "group.id" if consumer => NotNeeded(
            "strait names the groups it uses itself (MM2's replication consumer uses none)"
                .to_owned(),
        ),
        "enable.auto.commit" | "auto.commit.interval.ms" if consumer => NotNeeded(
            "MM2 turns auto-commit off on its replication consumer, and strait commits nothing \
             to the source either"
                .to_owned(),
        ),
        "auto.offset.reset" if consumer => match value.trim() {
            "earliest" => NotNeeded(
                "strait starts a partition it has never copied from its earliest offset, as this \
                 does"
                    .to_owned(),
            ),
            _ => NotMapped {
                reason: "strait starts a partition it has never copied from its earliest offset, \
                         and reports a position that fell out of range as a data gap instead of \
                         resetting it"
                    .to_owned(),
                action: "see `mirrors[].on_data_gap`; to skip old data, set retention or \
                         delete records on the source before the first run"
                    .to_owned(),
            },
        },
        "isolation.level" if consumer => match value.trim() {
            "read_committed" => {
                NotNeeded("strait always reads the source with read_committed".to_owned())
            }
            _ => NotMapped {
                reason: "strait always reads the source with read_committed: records of aborted \
                         transactions are not copied (MM2 with read_uncommitted copies them)"
                    .to_owned(),
                action: "nothing to set; check that no consumer of the target relies on \
                         aborted records"
                    .to_owned(),
            },
        },
        "exclude.internal.topics" | "allow.auto.create.topics" => {
            NotNeeded("strait lists and creates the topics it needs explicitly".to_owned())
        }
        // Producers.
        "acks" if producer => match value.trim() {
            "all" | "-1" => NotNeeded("strait always produces with acks=all".to_owned()),
            _ => NotMapped {
                reason: "strait always produces with acks=all: a record counts as replicated \
                         only when every in-sync replica has it"
                    .to_owned(),
                action: "nothing to set".to_owned(),
            },
        },
        "enable.idempotence" if producer => NotNeeded(
            "strait's producers are always idempotent (no duplicates or reordering on retries)"
                .to_owned(),
        ),
        "delivery.timeout.ms" | "max.block.ms" if producer => NotNeeded(
            "strait never gives up on a record (its record producer waits out a target outage; \
             Connect sets these to the maximum for MM2 too)"
                .to_owned(),
        ),
        "transactional.id" if producer => NotNeeded(
            "strait names its transactions itself (`mirrors[].delivery: exactly_once`)".to_owned(),
        ),
        "transaction.timeout.ms" if producer => NotMapped {
            reason: "strait's transaction timeout is a mirror setting".to_owned(),
            action: "set `mirrors[].transaction_timeout` (with `delivery: exactly_once`)"
                .to_owned(),
        },
        k if producer && (k == "partitioner.class" || k.starts_with("partitioner.")) => {
            NotNeeded("strait keeps each record's partition, as MM2 does".to_owned())
        }
        "compression.gzip.level" | "compression.lz4.level" | "compression.zstd.level"
            if producer =>
        {
            renamed(
                "compression.level",
                "librdkafka has one level for the codec `compression.type` chooses",
            )
        }
        "buffer.memory" if producer => match number() {
            Some(n) if n > 0 => Map {
                key: "queue.buffering.max.kbytes".to_owned(),
                value: ((n + 1023) / 1024).to_string(),
                note: Some("librdkafka counts its producer queue in KiB".to_owned()),
            },
            _ => not_a_number(java_key),
        },
        "max.request.size" if producer => renamed(
            "message.max.bytes",
            "librdkafka's limit on the size of a request",
        ),
        _ => return same_name(java_key, value, section),
    };
    refuse_forced(translation, section)
}

/// A Java property librdkafka knows under the same name (most connection and fetch settings).
fn same_name(java_key: &str, value: &str, section: Section) -> Translation {
    let checked = if value.contains("${") {
        // The value is a reference resolved when strait starts: only the name can be checked.
        if librdkafka::knows(java_key) {
            Ok(())
        } else {
            Err(unknown(java_key))
        }
    } else {
        librdkafka::check(java_key, value)
    };
    let translation = match checked {
        Ok(()) => Map {
            key: java_key.to_owned(),
            value: value.to_owned(),
            note: Some("the same name in librdkafka".to_owned()),
        },
        Err(_) if !librdkafka::knows(java_key) => NotMapped {
            reason: unknown(java_key),
            action: "look for the equivalent in librdkafka's CONFIGURATION.md and set it under \
                     the cluster's pass-through section, or drop it"
                .to_owned(),
        },
        Err(message) => NotMapped {
            reason: message,
            action: "write the value librdkafka expects (see its CONFIGURATION.md)".to_owned(),
        },
    };
    refuse_forced(translation, section)
}

fn unknown(key: &str) -> String {
    format!("librdkafka has no property `{key}` (a Java client setting without an equivalent)")
}

fn not_a_number(key: &str) -> Translation {
    NotMapped {
        reason: format!("`{key}` needs a number strait can convert, and this value is not one"),
        action: "set the librdkafka equivalent by hand".to_owned(),
    }
}

/// A mapping onto a property strait sets itself becomes "not mapped", with strait's reason.
fn refuse_forced(translation: Translation, section: Section) -> Translation {
    if let Map { key, .. } = &translation {
        if let Some(row) = forced::refusal(section, key) {
            return NotMapped {
                reason: format!("strait sets `{key}` itself: {}", row.reason),
                action: "nothing to set".to_owned(),
            };
        }
    }
    translation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(key: &str, value: &str) -> (String, String) {
        (key.to_owned(), value.to_owned())
    }

    fn mapped(t: Translation) -> (String, String) {
        match t {
            Map { key, value, .. } => (key, value),
            other => panic!("not mapped: {other:?}"),
        }
    }

    #[test]
    fn renamed_and_same_name_properties() {
        use Section::*;
        assert_eq!(
            mapped(translate("fetch.max.wait.ms", "100", Consumer)),
            map("fetch.wait.max.ms", "100")
        );
        assert_eq!(
            mapped(translate("fetch.min.bytes", "65536", Consumer)),
            map("fetch.min.bytes", "65536")
        );
        assert_eq!(
            mapped(translate("linger.ms", "20", Producer)),
            map("linger.ms", "20")
        );
        assert_eq!(
            mapped(translate("compression.type", "zstd", Producer)),
            map("compression.type", "zstd")
        );
        assert_eq!(
            mapped(translate("buffer.memory", "33554432", Producer)),
            map("queue.buffering.max.kbytes", "32768")
        );
        assert_eq!(
            mapped(translate("max.request.size", "2097152", Producer)),
            map("message.max.bytes", "2097152")
        );
        assert_eq!(
            mapped(translate("receive.buffer.bytes", "-1", Consumer)),
            map("socket.receive.buffer.bytes", "0")
        );
        assert_eq!(
            mapped(translate("request.timeout.ms", "30000", Admin)),
            map("socket.timeout.ms", "30000")
        );
        assert_eq!(
            mapped(translate("compression.zstd.level", "3", Producer)),
            map("compression.level", "3")
        );
        assert_eq!(
            mapped(translate("client.id", "${env:CLIENT}", Client)),
            map("client.id", "${env:CLIENT}")
        );
    }

    #[test]
    fn forced_and_group_settings_are_not_mapped_or_not_needed() {
        use Section::*;
        assert!(matches!(translate("acks", "all", Producer), NotNeeded(_)));
        assert!(matches!(translate("acks", "1", Producer), NotMapped { .. }));
        assert!(matches!(
            translate("session.timeout.ms", "10000", Consumer),
            NotNeeded(_)
        ));
        assert!(matches!(
            translate("auto.offset.reset", "latest", Consumer),
            NotMapped { .. }
        ));
        assert!(matches!(
            translate("isolation.level", "read_committed", Consumer),
            NotNeeded(_)
        ));
        assert!(matches!(
            translate("max.poll.records", "500", Consumer),
            NotNeeded(_)
        ));
        // librdkafka's own name for a forced setting, through the same-name path.
        assert!(matches!(
            translate("message.timeout.ms", "1000", Producer),
            NotMapped { .. }
        ));
    }

    #[test]
    fn unknown_names_and_bad_values_are_not_mapped_without_the_value() {
        let t = translate("max.poll.records.per.fetch", "hunter2", Section::Consumer);
        let NotMapped { reason, .. } = t else {
            panic!("{t:?}")
        };
        assert!(reason.contains("no property"), "{reason}");
        let t = translate("linger.ms", "hunter2", Section::Producer);
        let NotMapped { reason, .. } = t else {
            panic!("{t:?}")
        };
        assert!(!reason.contains("hunter2"), "{reason}");
    }
}
