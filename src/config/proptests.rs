//! Property tests of the loader on hostile text: arbitrary strings, YAML-ish token soup and
//! random edits of valid configurations never panic it, and every problem it reports says where:
//! a key path, or a line and column (only the whole-file problems, an unreadable or empty file,
//! have neither).
//!
//! Case counts: proptest's default (256) in CI; `bench/proptest_long.sh` runs them with
//! `PROPTEST_CASES` raised.

use std::io;

use proptest::prelude::*;

use super::interpolate::Resolver;
use super::{from_str_with, Config, ConfigError};

/// A fake environment with two variables, no readable `${file:}` and every path key's file
/// present (so that edits reach validation rather than stopping at missing certificates).
fn load(yaml: &str) -> Result<Config, ConfigError> {
    let env = |name: &str| match name {
        "PRIMARY_SASL_PASSWORD" => Some("pw".to_owned()),
        "TOPIC" => Some("orders".to_owned()),
        _ => None,
    };
    let read_file = |_: &str| Err(io::Error::new(io::ErrorKind::NotFound, "no such file"));
    let resolver = Resolver {
        env: &env,
        read_file: &read_file,
        check_file: &|_| Ok(()),
    };
    from_str_with(yaml, "prop.yaml", &resolver)
}

/// Problems about the whole file, which have no key path and no position (a second document
/// is located at its `---` or `...` line when it has one; libyaml can end a document without
/// one).
const WHOLE_FILE: &[&str] = &[
    "the file has no settings",
    "cannot read the file",
    "the file holds more than one YAML document",
];

/// Loads `yaml` and checks the shape of every problem.
fn check(yaml: &str) -> Result<(), TestCaseError> {
    if let Err(e) = load(yaml) {
        prop_assert!(!e.problems.is_empty());
        for p in &e.problems {
            prop_assert!(!p.message.trim().is_empty(), "empty message at {}", p.path);
            let located = p.message.contains("(line ") && p.message.contains(", column ");
            let whole_file = WHOLE_FILE.iter().any(|w| p.message.starts_with(w));
            prop_assert!(
                !p.path.is_empty() || located || whole_file,
                "neither a key path nor a location: {}\n--- yaml:\n{}",
                p.message,
                yaml
            );
        }
        // The rendering names the file and counts the problems.
        let rendered = e.to_string();
        let header = format!("invalid configuration in prop.yaml: {} ", e.problems.len());
        prop_assert!(rendered.starts_with(&header), "{}", rendered);
    }
    Ok(())
}

const EXAMPLE: &str = include_str!("../../config/strait.example.yaml");

/// A valid configuration that uses most keys, compact enough that random edits hit them.
const RICH: &str = r#"clusters:
  A:
    bootstrap_servers: "a1:9092,a2:9092"
    security:
      protocol: sasl_ssl
      ca_file: ca.pem
      cert_file: client.pem
      key_file: client.key
      key_password: kp
      sasl: { mechanism: SCRAM-SHA-512, username: mirror, password: "${env:PRIMARY_SASL_PASSWORD}" }
    client: { "socket.keepalive.enable": true }
    consumer: { "fetch.max.bytes": 16777216 }
    producer: { "linger.ms": 5 }
  B: { bootstrap_servers: "b:9092" }
mirrors:
  - source: A
    target: B
    topics: ["${env:TOPIC}", "payments-.*"]
    topics_exclude: [".*-tmp"]
    groups: ["app-.*"]
    replication_policy: { kind: default, separator: "." }
    replication_factor: 3
    refresh_topics_interval: 1m30s
    throttle: { bytes_per_second: 50MiB, records_per_second: 10000 }
    emit_heartbeats_interval: 1s
    sync_topic_configs: report
    offset_syncs_location: target
  - { source: B, target: A, replication_policy: { kind: identity } }
shutdown_timeout: 30s
http: { listen: "127.0.0.1:9464", ready_max_lag_records: 100 }
"#;

/// Pieces of YAML and of strait's keys and values, glued at random.
fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "clusters",
        "mirrors",
        "A",
        "B",
        "source",
        "target",
        "topics",
        "bootstrap_servers",
        "security",
        "protocol",
        "sasl",
        "ssl",
        "sasl_ssl",
        "mechanism",
        "PLAIN",
        "http",
        "listen",
        "tls",
        "throttle",
        "bytes_per_second",
        "10MiB",
        "shutdown_timeout",
        "5s",
        "-1",
        "0",
        "99999999999999999999",
        "1.5",
        "true",
        "~",
        "null",
        "consumer",
        "producer",
        "\"linger.ms\"",
        "\"acks\"",
        "replication_policy",
        "kind",
        "identity",
        "separator",
        "provenance_header",
        "never",
        ":",
        ": ",
        "\n",
        "\n  ",
        "\n    ",
        "- ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "\"",
        "'",
        "#",
        "&a",
        "*a",
        "<<",
        "!!str",
        "?",
        "|",
        ">",
        "${env:TOPIC}",
        "${env:NOPE}",
        "${file:x}",
        "$${",
        "(",
        "\t",
        "%YAML 1.2",
        "---",
        "...",
        " ",
    ])
}

/// One edit of a text, at positions given as fractions of its length.
#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(prop::sample::Index),
    DuplicateLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    Indent(prop::sample::Index, usize),
    Dedent(prop::sample::Index),
    ReplaceChar(prop::sample::Index, char),
    Insert(prop::sample::Index, &'static str),
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    use prop::sample::Index;
    prop_oneof![
        any::<Index>().prop_map(Edit::DeleteLine),
        any::<Index>().prop_map(Edit::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<Index>(), 1..5usize).prop_map(|(a, n)| Edit::Indent(a, n)),
        any::<Index>().prop_map(Edit::Dedent),
        (any::<Index>(), any::<char>()).prop_map(|(a, c)| Edit::ReplaceChar(a, c)),
        (any::<Index>(), token()).prop_map(|(a, t)| Edit::Insert(a, t)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    let chars: Vec<char> = text.chars().collect();
    let at_char = |i: &prop::sample::Index| {
        let k = i.index(chars.len() + 1);
        chars[..k].iter().collect::<String>().len()
    };
    match edit {
        Edit::DeleteLine(i) => {
            lines.remove(i.index(n));
        }
        Edit::DuplicateLine(i) => {
            let l = lines[i.index(n)].clone();
            lines.insert(i.index(n), l);
        }
        Edit::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
        Edit::Indent(i, k) => {
            let l = &mut lines[i.index(n)];
            *l = format!("{}{l}", " ".repeat(*k));
        }
        Edit::Dedent(i) => {
            let l = &mut lines[i.index(n)];
            *l = l.trim_start().to_owned();
        }
        Edit::ReplaceChar(i, c) => {
            let mut out: Vec<char> = chars.clone();
            if !out.is_empty() {
                let k = i.index(out.len());
                out[k] = *c;
            }
            return out.into_iter().collect();
        }
        Edit::Insert(i, t) => {
            let at = at_char(i);
            return format!("{}{t}{}", &text[..at], &text[at..]);
        }
        Edit::Truncate(i) => return text[..at_char(i)].to_owned(),
    }
    lines.join("\n") + "\n"
}

#[test]
fn the_two_valid_bases_load() {
    for base in [RICH, EXAMPLE] {
        if let Err(e) = load(base) {
            panic!("{e}");
        }
    }
}

proptest! {

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(&text)?;
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn yaml_token_soup_never_panics(tokens in proptest::collection::vec(token(), 0..60)) {
        check(&tokens.concat())?;
    }

    #[test]
    fn edits_of_a_valid_config_never_panic(
        example in any::<bool>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let mut text = if example { EXAMPLE } else { RICH }.to_owned();
        for e in &edits {
            text = apply(&text, e);
        }
        check(&text)?;
    }
}
