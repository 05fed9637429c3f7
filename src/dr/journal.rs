//! The failover journal: one JSON object per line, appended and synced to disk before the next
//! action. The first line is the plan; then one line per group applied or refused; the last
//! line says the plan completed. A re-run reads it back and finishes the same plan.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::DrError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    Plan {
        plan: Box<Plan>,
    },
    Applied {
        group: String,
        at_ms: i64,
        /// (topic, partition, offset) committed on the target.
        offsets: Vec<(String, i32, i64)>,
    },
    Refused {
        group: String,
        at_ms: i64,
        reason: String,
    },
    Completed {
        at_ms: i64,
    },
}

/// What a journal says so far.
#[derive(Debug, Default)]
pub struct State {
    pub plan: Option<Plan>,
    pub applied: BTreeSet<String>,
    pub completed_ms: Option<i64>,
}

pub struct Journal {
    path: PathBuf,
    file: File,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DrError + '_ {
    move |source| DrError::JournalIo {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads an existing journal (`None` when there is none). A torn last line (the process died
/// while writing it) is ignored; any other unreadable line is an error.
pub fn read(path: &Path) -> Result<Option<State>, DrError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path)(e)),
    };
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io_error(path))?;
    let mut state = State::default();
    let count = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(_) if i + 1 == count => break,
            Err(source) => {
                return Err(DrError::JournalLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    source,
                })
            }
        };
        match entry {
            Entry::Plan { plan } => state.plan = Some(*plan),
            Entry::Applied { group, .. } => {
                state.applied.insert(group);
            }
            Entry::Refused { .. } => {}
            Entry::Completed { at_ms } => state.completed_ms = Some(at_ms),
        }
    }
    if state.plan.is_none() {
        if state.applied.is_empty() {
            // Empty, or the plan line itself was torn: nothing was applied.
            return Ok(None);
        }
        return Err(DrError::JournalWithoutPlan {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(state))
}

impl Journal {
    /// Starts a journal at `path` for a new plan (replacing an empty or torn one).
    pub fn create(path: &Path) -> Result<Journal, DrError> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(io_error(path))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Opens an existing journal for appending, first cutting off a torn last line (the
    /// process died while writing it) so that it does not end up in the middle.
    pub fn append_to(path: &Path) -> Result<Journal, DrError> {
        let content = std::fs::read(path).map_err(io_error(path))?;
        let whole = content
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        if whole < content.len() {
            file.set_len(whole as u64).map_err(io_error(path))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one entry and syncs it to disk.
    pub fn write(&mut self, entry: &Entry) -> Result<(), DrError> {
        let mut line = serde_json::to_vec(entry).map_err(|source| DrError::JournalEncode {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::plan::Command;
    use crate::dr::translate::OffsetSource;

    fn plan() -> Plan {
        Plan {
            command: Command::Failover,
            from: "A".into(),
            to: "B".into(),
            created_ms: 1,
            source: OffsetSource::Live,
            checks: Vec::new(),
            groups: Vec::new(),
        }
    }

    #[test]
    fn reads_back_what_was_written_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        assert!(read(&path).unwrap().is_none());
        let mut j = Journal::create(&path).unwrap();
        j.write(&Entry::Plan {
            plan: Box::new(plan()),
        })
        .unwrap();
        j.write(&Entry::Applied {
            group: "g1".into(),
            at_ms: 2,
            offsets: vec![("A.t".into(), 0, 5)],
        })
        .unwrap();
        j.write(&Entry::Refused {
            group: "g2".into(),
            at_ms: 3,
            reason: "busy".into(),
        })
        .unwrap();
        drop(j);
        // The process died while writing the next line.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"event\":\"appl")
            .unwrap();
        let state = read(&path).unwrap().unwrap();
        assert_eq!(state.plan, Some(plan()));
        assert_eq!(state.applied.into_iter().collect::<Vec<_>>(), vec!["g1"]);
        assert_eq!(state.completed_ms, None);

        // Resuming cuts the torn line off before appending.
        let mut j = Journal::append_to(&path).unwrap();
        j.write(&Entry::Completed { at_ms: 9 }).unwrap();
        let state = read(&path).unwrap().unwrap();
        assert_eq!(state.completed_ms, Some(9));

        // A broken line in the middle is corruption, reported with its line number.
        let text = std::fs::read_to_string(&path).unwrap();
        let broken = text.replacen("\"event\":\"refused\"", "\"event\":\"nonsense\"", 1);
        std::fs::write(&path, broken).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn a_torn_plan_counts_as_no_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, "{\"event\":\"plan\",\"pl").unwrap();
        assert!(read(&path).unwrap().is_none());
    }
}
