//! librdkafka's own checks of pass-through properties, and its refusals in words that never
//! carry a property's value.
//!
//! Every value of a pass-through section may be a secret (`sasl.oauthbearer.client.secret`,
//! `ssl.key.pem`, ...), and librdkafka quotes the value it refuses in its error text, which
//! rust-rdkafka's `KafkaError::ClientConfig` then carries (and prints) with the value again.
//! So validation hands each property to librdkafka on its own at load, where a refusal becomes
//! a problem with the property's key path; and the client factory (`kafka::client_config`)
//! words any refusal at client creation through [`refusal`] and [`scrub`] as well.

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;

/// What is shown in place of a value.
pub const REDACTED: &str = "***";

/// Whether librdkafka accepts `key` = `value`; otherwise why not, without the value. Sets the
/// one property on a fresh librdkafka configuration: no client is created, nothing connects.
pub(super) fn check(key: &str, value: &str) -> Result<(), String> {
    let mut config = rdkafka::ClientConfig::new();
    config.set(key, value);
    let Err(e) = config.create_native_config() else {
        return Ok(());
    };
    if matches!(
        e,
        KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..)
    ) {
        if let Some(name) = known_spelling(key, value) {
            return Err(format!(
                "librdkafka has no property `{key}` (did you mean `{name}`?)"
            ));
        }
    }
    Err(refusal(&e, &[value]))
}

/// Whether librdkafka has a property named `key`, whatever value it would take (for a value
/// that is a `${env:}` or `${file:}` reference, resolved only when strait starts).
pub(super) fn knows(key: &str) -> bool {
    let mut config = rdkafka::ClientConfig::new();
    config.set(key, "");
    !matches!(
        config.create_native_config(),
        Err(KafkaError::ClientConfig(
            RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN,
            ..
        ))
    )
}

/// The property librdkafka knows that `key` looks like (`linger_ms`, `Linger.MS` for
/// `linger.ms`).
fn known_spelling(key: &str, value: &str) -> Option<String> {
    let dotted: String = key
        .trim()
        .chars()
        .map(|c| match c {
            '_' | '-' | ' ' => '.',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if dotted == key {
        return None;
    }
    let mut config = rdkafka::ClientConfig::new();
    config.set(&dotted, value);
    match config.create_native_config() {
        Err(KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..)) => None,
        _ => Some(dotted),
    }
}

/// A client-configuration error of librdkafka (`error`) in words that contain none of
/// `secrets` (the values that were handed to librdkafka): which property, and why.
pub fn refusal(error: &KafkaError, secrets: &[&str]) -> String {
    match error {
        KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, _, key, _) => {
            format!(
                "librdkafka has no property `{key}`; see librdkafka's CONFIGURATION.md for \
                 the names"
            )
        }
        KafkaError::ClientConfig(_, description, key, value) => {
            let mut all: Vec<&str> = secrets.to_vec();
            all.push(value);
            format!(
                "librdkafka refuses the value of `{key}`: {}",
                scrub_description(description, &all)
            )
        }
        KafkaError::ClientCreation(description) => scrub(description, secrets),
        KafkaError::Nul(_) => "a property name or value contains a NUL byte".to_owned(),
        other => scrub(&other.to_string(), secrets),
    }
}

/// librdkafka's reason for refusing a value: its text with every copy of a secret, every
/// quoted part of one (librdkafka quotes the one element of a list it refuses), and the number
/// a range check quotes replaced.
fn scrub_description(description: &str, secrets: &[&str]) -> String {
    let text = scrub(description.trim(), secrets);
    let part_of_a_secret =
        |quoted: &str| !quoted.is_empty() && secrets.iter().any(|s| s.contains(quoted));
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let quoted = &after[..close];
        out.push('"');
        out.push_str(if part_of_a_secret(quoted) {
            REDACTED
        } else {
            quoted
        });
        out.push('"');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    // `Configuration property "<key>" value <n> is outside allowed range <a>..<b>`: the number
    // is the value as librdkafka parsed it, which need not be spelled like the value.
    if let Some(at) = out.find(" is outside allowed range") {
        if let Some(value_at) = out[..at].rfind(" value ") {
            out.replace_range(value_at + " value ".len()..at, REDACTED);
        }
    }
    out
}

/// `text` with every occurrence of each non-empty secret replaced by `***`. A secret shorter
/// than 4 characters (a number, `all`) is replaced only where it stands alone (not inside a
/// longer word), so that messages stay readable.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // Longest first: a secret that contains another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in secrets {
        out = if secret.chars().count() >= 4 {
            out.replace(secret, REDACTED)
        } else {
            replace_standalone(&out, secret)
        };
    }
    out
}

fn replace_standalone(text: &str, word: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (at, _) in text.match_indices(word) {
        if at < from {
            continue;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if before.is_some_and(is_word) || after.is_some_and(is_word) {
            continue;
        }
        out.push_str(&text[from..at]);
        out.push_str(REDACTED);
        from = at + word.len();
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-Very-Secret";

    /// librdkafka refusals as they come, each with the value: the words shown carry the
    /// property and the reason, never the value.
    #[test]
    fn refusals_name_the_property_and_the_reason_without_the_value() {
        let cases: [(&str, &str, &str); 6] = [
            (
                "linger.ms",
                SECRET,
                "librdkafka refuses the value of `linger.ms`: Invalid value for configuration property \"queue.buffering.max.ms\"",
            ),
            (
                "compression.type",
                SECRET,
                "librdkafka refuses the value of `compression.type`: Invalid value \"***\" for configuration property \"compression.codec\"",
            ),
            (
                "enable.ssl.certificate.verification",
                SECRET,
                "librdkafka refuses the value of `enable.ssl.certificate.verification`: Expected bool value for \"enable.ssl.certificate.verification\": true or false",
            ),
            (
                "linger.ms",
                "99999999999",
                "librdkafka refuses the value of `linger.ms`: Configuration property \"queue.buffering.max.ms\" value *** is outside allowed range 0..900000",
            ),
            (
                "sasl.oauthbearer.secret",
                SECRET,
                "librdkafka has no property `sasl.oauthbearer.secret`; see librdkafka's CONFIGURATION.md for the names",
            ),
            (
                "debug",
                "broker,hunter2x",
                "librdkafka refuses the value of `debug`: Invalid value \"***\" for configuration property \"debug\"",
            ),
        ];
        for (key, value, want) in cases {
            let message = check(key, value).expect_err(key);
            assert_eq!(message, want, "{key}={value}");
            assert!(!message.contains(value), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        assert_eq!(check("linger.ms", "5"), Ok(()));
        assert_eq!(check("acks", "all"), Ok(()), "topic-level properties too");
        assert_eq!(check("ssl.keystore.password", SECRET), Ok(()));
    }

    #[test]
    fn unknown_properties_get_the_spelling_librdkafka_knows() {
        assert_eq!(
            check("linger_ms", "5"),
            Err("librdkafka has no property `linger_ms` (did you mean `linger.ms`?)".to_owned())
        );
        assert_eq!(
            check("Fetch.Max.Bytes", "1048576"),
            Err(
                "librdkafka has no property `Fetch.Max.Bytes` (did you mean `fetch.max.bytes`?)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn scrub_replaces_every_copy_and_short_values_only_standalone() {
        assert_eq!(
            scrub(&format!("a {SECRET} b {SECRET}"), &[SECRET]),
            "a *** b ***"
        );
        assert_eq!(
            scrub("value 5 is outside 0..500 (5)", &["5"]),
            "value *** is outside 0..500 (***)"
        );
        assert_eq!(scrub("nothing", &["", "zz"]), "nothing");
        // A secret containing another is replaced whole.
        assert_eq!(scrub("abcdefgh", &["cdef", "abcdefgh"]), "***");
    }

    #[test]
    fn creation_errors_are_scrubbed_of_every_value() {
        let e = KafkaError::ClientCreation(format!("ssl.key.password {SECRET} rejected"));
        assert_eq!(refusal(&e, &[SECRET, "5"]), "ssl.key.password *** rejected");
    }
}
