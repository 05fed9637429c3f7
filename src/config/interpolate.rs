//! `${env:NAME}` and `${file:PATH}` references inside string values, so that secrets stay out
//! of the config file. `$${` is a literal `${`. Messages name the reference, never its value.

use std::io;

/// Where references are resolved. Tests swap the environment for a map.
pub(super) struct Resolver<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub read_file: &'a dyn Fn(&str) -> io::Result<String>,
    /// Whether a file named by a path key (`ca_file`, `http.tls.cert_file`, ...) can be read.
    pub check_file: &'a dyn Fn(&str) -> io::Result<()>,
}

impl Resolver<'_> {
    /// The process environment and file system. Relative file paths are relative to the
    /// working directory, like the other file paths in the config (`ca_file`, ...).
    pub fn system() -> Resolver<'static> {
        Resolver {
            env: &|name| std::env::var(name).ok(),
            read_file: &|path| std::fs::read_to_string(path),
            check_file: &readable_file,
        }
    }

    /// Replaces every reference in `text`. On failure returns one message per bad reference.
    pub fn interpolate(&self, text: &str) -> Result<String, Vec<String>> {
        let mut out = String::with_capacity(text.len());
        let mut errors = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    errors.push(
                        "unclosed `${` in a string value; write `${env:NAME}` or `${file:PATH}`, or `$${` for a literal `${`"
                            .to_owned(),
                    );
                    rest = "";
                    break;
                };
                let reference = &after[..end];
                rest = &after[end + 1..];
                match self.resolve(reference) {
                    Ok(value) => out.push_str(&value),
                    Err(message) => errors.push(message),
                }
            } else {
                out.push('$');
                rest = &rest[1..];
            }
        }
        out.push_str(rest);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// `path` names a readable file, or why not (naming the path, never its content).
    pub fn file(&self, path: &str) -> Result<(), String> {
        (self.check_file)(path).map_err(|e| format!("cannot read file `{path}`: {e}"))
    }

    fn resolve(&self, reference: &str) -> Result<String, String> {
        match reference.split_once(':') {
            Some(("env", name)) => {
                let name = name.trim();
                if name.is_empty() {
                    return Err("empty variable name in `${env:}`".to_owned());
                }
                (self.env)(name).ok_or_else(|| {
                    format!("environment variable `{name}` is not set (referenced as `${{env:{name}}}`)")
                })
            }
            Some(("file", path)) => {
                let path = path.trim();
                if path.is_empty() {
                    return Err("empty path in `${file:}`".to_owned());
                }
                let mut content = (self.read_file)(path).map_err(|e| {
                    format!("cannot read file `{path}` (referenced as `${{file:{path}}}`): {e}")
                })?;
                // Secret files usually end with one newline that is not part of the secret.
                if content.ends_with('\n') {
                    content.pop();
                    if content.ends_with('\r') {
                        content.pop();
                    }
                }
                Ok(content)
            }
            _ => Err(format!(
                "unknown reference `${{{reference}}}`; write `${{env:NAME}}` or `${{file:PATH}}`, or `$${{` for a literal `${{`"
            )),
        }
    }
}

/// A regular file that can be opened for reading.
fn readable_file(path: &str) -> io::Result<()> {
    if std::fs::metadata(path)?.is_dir() {
        return Err(io::Error::other("it is a directory"));
    }
    std::fs::File::open(path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "USER_NAME" => Some("mirror".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn read_file(path: &str) -> io::Result<String> {
        match path {
            "secrets/pw" => Ok("hunter2\n".into()),
            "secrets/crlf" => Ok("hunter2\r\n".into()),
            "secrets/two" => Ok("a\n\n".into()),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "No such file or directory",
            )),
        }
    }

    fn resolver() -> Resolver<'static> {
        Resolver {
            env: &env,
            read_file: &read_file,
            check_file: &|_| Ok(()),
        }
    }

    #[test]
    fn replaces_references() {
        let r = resolver();
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("${env:USER_NAME}", "mirror"),
            ("user=${env:USER_NAME};", "user=mirror;"),
            ("${env:EMPTY}", ""),
            ("${file:secrets/pw}", "hunter2"),
            ("${file:secrets/crlf}", "hunter2"),
            ("${file:secrets/two}", "a\n"),
            ("${env:USER_NAME}${env:USER_NAME}", "mirrormirror"),
            ("$${env:USER_NAME}", "${env:USER_NAME}"),
            ("cost $5", "cost $5"),
            ("$$", "$$"),
            ("end$", "end$"),
            ("a$b{c}", "a$b{c}"),
        ];
        for (text, want) in cases {
            assert_eq!(r.interpolate(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn reports_every_bad_reference() {
        let r = resolver();
        let errors = r
            .interpolate("${env:NOPE}-${file:missing}-${vault:x}-${env:}")
            .unwrap_err();
        assert_eq!(
            errors,
            vec![
                "environment variable `NOPE` is not set (referenced as `${env:NOPE}`)",
                "cannot read file `missing` (referenced as `${file:missing}`): No such file or directory",
                "unknown reference `${vault:x}`; write `${env:NAME}` or `${file:PATH}`, or `$${` for a literal `${`",
                "empty variable name in `${env:}`",
            ]
        );
        let errors = r.interpolate("abc${env:USER_NAME").unwrap_err();
        assert!(errors[0].starts_with("unclosed `${`"), "{errors:?}");
    }
}
