//! The one error type of configuration loading: every problem found, each with its key path.

use std::fmt;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `mirrors[0].topics[1]` or `clusters.A.consumer["group.id"]`; empty when
    /// the problem concerns the whole file (unreadable, not YAML).
    pub path: String,
    /// What is wrong, quoting the offending value (never a secret), usually with a hint.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The configuration could not be loaded. `Display` prints a header naming the file and the
/// number of problems, then one `  - path: message` line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(origin, problems))]
pub struct ConfigError {
    /// Where the YAML came from (the file path as given, or a label for in-memory text).
    pub origin: String,
    /// Never empty.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(super) fn single(
        origin: &str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                path: path.into(),
                message: message.into(),
            }],
        }
    }
}

fn render(origin: &str, problems: &[Problem]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut out = format!("invalid configuration in {origin}: {count} {noun}");
    for problem in problems {
        out.push_str("\n  - ");
        out.push_str(&problem.to_string());
    }
    out
}
