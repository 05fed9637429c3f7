//! "Did you mean": the closest of the names a value could have been (keys, enum spellings,
//! cluster aliases), for messages about a name that is none of them.

/// The candidate `written` most likely misspells, if one is close enough: the same name but for
/// case and separators (`topicsExclude`, `bootstrap-servers`), else the nearest by edit
/// distance within a third of its length (so one-letter names get none), else the one
/// `written` is the start or
/// end of (`bootstrap` for `bootstrap_servers`). Ties go to the earlier candidate.
pub(super) fn closest<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let folded = fold(written);
    if folded.is_empty() {
        return None;
    }
    if let Some(same) = candidates.iter().find(|c| fold(c) == folded) {
        return Some(same);
    }
    let lower = written.to_lowercase();
    let nearest = candidates
        .iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| 3 * d <= c.chars().count())
        .min_by_key(|(d, _)| *d);
    if let Some((_, c)) = nearest {
        return Some(c);
    }
    // A short name that is the first word of one candidate (`ca` for `ca_file`).
    let word = format!("{lower}_");
    if let Some(c) = candidates
        .iter()
        .find(|c| c.to_lowercase().starts_with(&word))
    {
        return Some(c);
    }
    if folded.chars().count() < 4 {
        return None;
    }
    candidates.into_iter().find(|c| {
        let c = fold(c);
        c.starts_with(&folded) || c.ends_with(&folded)
    })
}

/// ` (did you mean `X`?)` for [`closest`], or nothing.
pub(super) fn did_you_mean<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(written, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Lower case without `_`, `-`, `.` and spaces.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["source", "target", "topics", "topics_exclude", "throttle"];

    #[test]
    fn suggests_the_closest_name() {
        let cases = [
            ("topic", Some("topics")),
            ("topicsExclude", Some("topics_exclude")),
            ("topics-exclude", Some("topics_exclude")),
            ("trottle", Some("throttle")),
            ("targte", Some("target")),
            ("exclude", Some("topics_exclude")),
            ("Source", Some("source")),
            ("replication", None),
            ("", None),
            ("x", None),
        ];
        assert_eq!(
            closest("C", ["A", "B"]),
            None,
            "one letter off a one-letter name"
        );
        assert_eq!(closest("b", ["A", "B"]), Some("B"));
        assert_eq!(closest("ca", ["protocol", "ca_file"]), Some("ca_file"));
        for (written, want) in cases {
            assert_eq!(closest(written, KEYS.iter().copied()), want, "{written}");
        }
        assert_eq!(
            closest("bootstrap", ["bootstrap_servers", "security"]),
            Some("bootstrap_servers")
        );
        assert_eq!(
            did_you_mean("topic", KEYS.iter().copied()),
            " (did you mean `topics`?)"
        );
        assert_eq!(did_you_mean("zzz", KEYS.iter().copied()), "");
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("é", "e"), 1);
    }
}
