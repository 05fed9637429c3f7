//! The `sasl.jaas.config` line of a Kafka client: `<LoginModule class> <flag> name=value ...;`,
//! values bare or in double quotes (with backslash escapes), as Kafka's `JaasConfig` reads it.

/// One login module and its options, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jaas {
    /// The class as written (`org.apache.kafka.common.security.scram.ScramLoginModule`).
    pub module: String,
    pub options: Vec<(String, String)>,
}

impl Jaas {
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The class name without its package (`ScramLoginModule`).
    pub fn simple_module(&self) -> &str {
        self.module.rsplit('.').next().unwrap_or(&self.module)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// The module and options; the message never quotes the text (it holds a password).
pub fn parse(text: &str) -> Result<Jaas, String> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let module = match it.next() {
        Some(Token::Word(w)) => w,
        _ => return Err("no login module class at its start".to_owned()),
    };
    match it.next() {
        Some(Token::Word(flag))
            if ["required", "requisite", "sufficient", "optional"]
                .contains(&flag.to_ascii_lowercase().as_str()) => {}
        _ => {
            return Err("no control flag (`required`, ...) after the login module class".to_owned())
        }
    }
    let mut options = Vec::new();
    loop {
        match it.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(name)) => {
                if it.next() != Some(Token::Equals) {
                    return Err(format!("option `{name}` has no `=`"));
                }
                let value = match it.next() {
                    Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                    _ => return Err(format!("option `{name}` has no value")),
                };
                options.push((name, value));
            }
            None => return Err("the line does not end with `;`".to_owned()),
            Some(_) => return Err("an option name was expected".to_owned()),
        }
    }
    if it.next().is_some() {
        return Err("more than one login module; a Kafka client takes exactly one".to_owned());
    }
    Ok(Jaas { module, options })
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                tokens.push(Token::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(Token::Semicolon);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => return Err("a quoted value is not closed".to_owned()),
                        },
                        Some(other) => value.push(other),
                        None => return Err("a quoted value is not closed".to_owned()),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '=' | ';' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_line_with_quoted_values() {
        let j = parse(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="mirror" password="p\"w;=x";"#,
        )
        .unwrap();
        assert_eq!(j.simple_module(), "ScramLoginModule");
        assert_eq!(j.option("username"), Some("mirror"));
        assert_eq!(j.option("password"), Some("p\"w;=x"));
    }

    #[test]
    fn bare_values_and_line_breaks() {
        let j =
            parse("PlainLoginModule REQUIRED\n  username=alice\n  password=${env:PW};").unwrap();
        assert_eq!(j.module, "PlainLoginModule");
        assert_eq!(j.option("username"), Some("alice"));
        assert_eq!(j.option("password"), Some("${env:PW}"));
    }

    #[test]
    fn errors_never_quote_the_text() {
        let secret = "hunter2";
        for text in [
            "x.PlainLoginModule required username=\"a\" password=\"hunter2\"",
            "x.PlainLoginModule username=\"a\" password=\"hunter2\";",
            "x.PlainLoginModule required password \"hunter2\";",
            "x.PlainLoginModule required password=\"hunter2;",
            "x.PlainLoginModule required password=\"hunter2\"; y.Other required;",
        ] {
            let e = parse(text).unwrap_err();
            assert!(!e.contains(secret), "{e}");
        }
    }
}
