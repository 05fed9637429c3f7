//! Java `.properties` text as `java.util.Properties.load` reads it, keeping what the import
//! report needs and `Properties` forgets: the order of the keys, the line each starts on, and
//! keys written more than once.
//!
//! Written here rather than taken from a crate: the Rust crate for the format keeps no line
//! numbers in its map and sees few releases, and the grammar is one screen of code.
//!
//! The rules (`Properties.load(Reader)`):
//! - lines end with `\n`, `\r` or `\r\n`; whitespace is space, tab and form feed;
//! - a line whose first non-whitespace character is `#` or `!` is a comment, a blank line is
//!   skipped (neither can be continued);
//! - a line ending in an odd number of backslashes continues on the next line, whose leading
//!   whitespace is dropped;
//! - the key runs to the first unescaped `=`, `:` or whitespace; whitespace around the
//!   separator and one `=` or `:` are skipped; the rest of the line is the value, trailing
//!   whitespace included;
//! - `\t`, `\n`, `\r`, `\f` and `\uXXXX` are escapes; a backslash before any other character
//!   stands for that character.
//!
//! MM2 reads its file with `Properties.load(InputStream)`, that is as ISO-8859-1: see
//! [`latin1`].

/// One `key = value` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    /// The line (1-based) the key is on.
    pub line: usize,
}

/// Why the text is not a properties file Java would load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The bytes of a file as Java's `Properties.load(InputStream)` reads them: one character per
/// byte (ISO-8859-1), so that `\uXXXX` is the only way to write other characters.
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Every property in file order, duplicates included (Java keeps the last).
pub fn parse(text: &str) -> Result<Vec<Property>, ParseError> {
    let lines = split_lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start_matches(is_space);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join the continued lines into one logical line.
        let mut logical = String::from(first);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.get(i) {
                Some(next) => {
                    logical.push_str(next.trim_start_matches(is_space));
                    i += 1;
                }
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let line = start + 1;
        out.push(Property {
            key: unescape(key, line)?,
            value: unescape(value, line)?,
            line,
        });
    }
    Ok(out)
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(at) => {
                lines.push(&rest[..at]);
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[at + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// The raw (still escaped) key and value of a logical line that starts with its key.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (at, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => {
                key_end = at;
                break;
            }
            c if is_space(c) => {
                key_end = at;
                break;
            }
            _ => {}
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches(is_space);
    if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = after.trim_start_matches(is_space);
    }
    (key, rest)
}

fn unescape(raw: &str, line: usize) -> Result<String, ParseError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten();
                let Some(code) = code else {
                    return Err(ParseError {
                        line,
                        message: "malformed \\uXXXX escape (four hexadecimal digits expected)"
                            .to_owned(),
                    });
                };
                // A UTF-16 surrogate pair is two escapes; Java keeps them as one character.
                if (0xD800..0xDC00).contains(&code) {
                    let rest = chars.as_str();
                    let low = rest
                        .strip_prefix("\\u")
                        .and_then(|r| r.get(..4))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|l| (0xDC00..0xE000).contains(l));
                    if let Some(low) = low {
                        chars = rest[6..].chars();
                        let c = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                        continue;
                    }
                }
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            Some(other) => out.push(other),
            // A lone backslash at the very end (the file's last line continued into nothing).
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|p| (p.key, p.value, p.line))
            .collect()
    }

    fn kv(key: &str, value: &str, line: usize) -> (String, String, usize) {
        (key.to_owned(), value.to_owned(), line)
    }

    #[test]
    fn separators_equals_colon_and_whitespace() {
        let text = "a=1\nb = 2\nc:3\nd : 4\ne 5\nf\t\t6\ng=\nh\ni = = x\nj:=y\n";
        assert_eq!(
            pairs(text),
            vec![
                kv("a", "1", 1),
                kv("b", "2", 2),
                kv("c", "3", 3),
                kv("d", "4", 4),
                kv("e", "5", 5),
                kv("f", "6", 6),
                kv("g", "", 7),
                kv("h", "", 8),
                kv("i", "= x", 9),
                kv("j", "=y", 10),
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines() {
        let text =
            "# comment\n! also a comment\n   # indented comment\n\n  \t\nk=v # not a comment\n";
        assert_eq!(pairs(text), vec![kv("k", "v # not a comment", 6)]);
    }

    #[test]
    fn trailing_whitespace_of_values_is_kept_leading_is_not() {
        assert_eq!(pairs("  k =   v  \n"), vec![kv("k", "v  ", 1)]);
    }

    #[test]
    fn continuation_lines() {
        let text = "topics = a, \\\n         b, \\\n\tc\nnext = 1\n";
        assert_eq!(
            pairs(text),
            vec![kv("topics", "a, b, c", 1), kv("next", "1", 4)]
        );
        // An even number of backslashes is an escaped backslash, not a continuation.
        assert_eq!(
            pairs("path = C:\\\\\nx = 1\n"),
            vec![kv("path", "C:\\", 1), kv("x", "1", 2)]
        );
        // A continued line that looks like a comment is part of the value.
        assert_eq!(pairs("k = a\\\n  # b\n"), vec![kv("k", "a# b", 1)]);
        // A comment line ending in a backslash does not continue.
        assert_eq!(pairs("# c \\\nk = v\n"), vec![kv("k", "v", 2)]);
        // The last line continued into the end of the file.
        assert_eq!(pairs("k = v\\"), vec![kv("k", "v", 1)]);
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            pairs("a=1\r\nb=2\rc=3\nd=\\\r\n  4"),
            vec![
                kv("a", "1", 1),
                kv("b", "2", 2),
                kv("c", "3", 3),
                kv("d", "4", 4)
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            pairs(r"k\=ey\:x\ y = a\tb\nc\rd\fe\\f\g\u0041\u00e9\#"),
            vec![kv("k=ey:x y", "a\tb\nc\rd\x0ce\\fgAé#", 1)]
        );
        // A surrogate pair written as two escapes is one character.
        assert_eq!(pairs(r"k = \ud83d\ude00"), vec![kv("k", "😀", 1)]);
        let e = parse("ok = 1\nk = \\u12").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("\\uXXXX"), "{e}");
        assert!(parse(r"k = \uZZZZ").is_err());
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(pairs("a=1\na=2\n"), vec![kv("a", "1", 1), kv("a", "2", 2)]);
    }

    #[test]
    fn latin1_maps_each_byte_to_one_character() {
        assert_eq!(latin1(b"a=\xe9"), "a=é");
        assert_eq!(latin1("é".as_bytes()), "Ã©");
    }
}
