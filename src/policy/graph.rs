//! The flow graph of a configuration: clusters as nodes, mirrors as edges. It decides which
//! mirrors stamp the provenance header, and refuses cycles that would loop records.
//!
//! A cycle is broken by renaming alone when every mirror in it uses the default policy with the
//! same separator: a topic coming back carries the target's alias in its name and cycle
//! detection stops it (`B.A.orders` never returns to A). Any other cycle (identity naming, mixed
//! policies or separators) relies on the provenance header: every replicated record lists the
//! clusters it passed through, and a record is never written into a cluster on that list.

use std::collections::BTreeSet;

use super::ReplicationPolicy;

/// The provenance header: the aliases of the clusters a record was copied from, in order,
/// comma-separated (aliases never contain commas).
pub const PROVENANCE_HEADER: &str = "strait.provenance";

/// What the graph needs from one mirror.
#[derive(Debug, Clone)]
pub struct Edge<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub policy: &'a ReplicationPolicy,
    /// `Some(true)`: always stamp, `Some(false)`: never, `None`: as the graph needs.
    pub stamp: Option<bool>,
}

/// Per mirror whether it stamps the provenance header, or the cycles that cannot be made safe
/// (each message names the cycle and what to change).
pub fn plan(edges: &[Edge<'_>]) -> Result<Vec<bool>, Vec<String>> {
    let mut stamps: Vec<bool> = edges
        .iter()
        .map(|e| {
            e.stamp.unwrap_or(false)
                || (e.stamp.is_none() && matches!(e.policy, ReplicationPolicy::Identity { .. }))
        })
        .collect();
    let mut problems = Vec::new();
    for cycle in cycles(edges) {
        let renaming_breaks_it = {
            let mut separators = BTreeSet::new();
            cycle.iter().all(|&i| match edges[i].policy {
                ReplicationPolicy::Default { separator } => {
                    separators.insert(separator.as_str());
                    true
                }
                ReplicationPolicy::Identity { .. } => false,
            }) && separators.len() == 1
        };
        if renaming_breaks_it {
            continue;
        }
        let refusing: Vec<usize> = cycle
            .iter()
            .copied()
            .filter(|&i| edges[i].stamp == Some(false))
            .collect();
        if refusing.is_empty() {
            for &i in &cycle {
                stamps[i] = true;
            }
        } else {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| format!("{}->{}", edges[i].source, edges[i].target))
                .collect();
            let off: Vec<String> = refusing.iter().map(|i| format!("mirrors[{i}]")).collect();
            problems.push(format!(
                "mirrors {} form a cycle that renaming cannot break (identity policy or different \
                 separators): records would loop without the provenance header, which {} turn off \
                 with `provenance_header: never`; remove that setting",
                names.join(", "),
                off.join(" and ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(stamps)
    } else {
        Err(problems)
    }
}

/// The elementary cycles of the graph, each as edge indices in flow order, each reported once
/// (starting at its smallest edge index).
fn cycles(edges: &[Edge<'_>]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for start in 0..edges.len() {
        let mut path = vec![start];
        walk(edges, start, &mut path, &mut out);
    }
    out
}

fn walk(edges: &[Edge<'_>], start: usize, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    let at = edges[*path.last().expect("non-empty path")].target;
    if at == edges[start].source {
        out.push(path.clone());
        return;
    }
    for next in start + 1..edges.len() {
        let e = &edges[next];
        // Elementary cycles only: no cluster twice (the start cluster closes the cycle).
        let revisits = path.iter().skip(1).any(|&i| edges[i].source == e.target);
        if e.source != at || path.contains(&next) || revisits {
            continue;
        }
        path.push(next);
        walk(edges, start, path, out);
        path.pop();
    }
}

/// The aliases in a provenance header value.
pub fn parse_header(value: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(value)
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
}

/// Whether a record whose provenance header is `value` has been on cluster `alias`.
pub fn visited(value: &[u8], alias: &str) -> bool {
    parse_header(value).any(|a| a == alias)
}

/// The header value after a copy from `source`: the old list plus `source`.
pub fn extend(value: Option<&[u8]>, source: &str) -> Vec<u8> {
    let mut out = value.unwrap_or_default().to_vec();
    if !out.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(source.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> ReplicationPolicy {
        ReplicationPolicy::default()
    }

    fn identity(alias: &str) -> ReplicationPolicy {
        ReplicationPolicy::Identity {
            source_alias: alias.to_string(),
            separator: ".".to_string(),
        }
    }

    fn edge<'a>(s: &'a str, t: &'a str, p: &'a ReplicationPolicy, stamp: Option<bool>) -> Edge<'a> {
        Edge {
            source: s,
            target: t,
            policy: p,
            stamp,
        }
    }

    #[test]
    fn default_policy_cycles_need_no_header() {
        let d = default();
        let e = [edge("A", "B", &d, None), edge("B", "A", &d, None)];
        assert_eq!(plan(&e), Ok(vec![false, false]));
        let ring = [
            edge("A", "B", &d, None),
            edge("B", "C", &d, None),
            edge("C", "A", &d, None),
        ];
        assert_eq!(plan(&ring), Ok(vec![false, false, false]));
    }

    #[test]
    fn identity_and_mixed_cycles_stamp_every_edge_of_the_cycle() {
        let (a, b, c) = (identity("A"), identity("B"), identity("C"));
        let ring = [
            edge("A", "B", &a, None),
            edge("B", "C", &b, None),
            edge("C", "A", &c, None),
        ];
        assert_eq!(plan(&ring), Ok(vec![true, true, true]));
        // Mixed: the default edge in the cycle stamps too; an edge outside any cycle does not.
        let d = default();
        let mixed = [
            edge("A", "B", &a, None),
            edge("B", "A", &d, None),
            edge("B", "D", &d, None),
        ];
        assert_eq!(plan(&mixed), Ok(vec![true, true, false]));
        // Different separators: renaming does not break the cycle.
        let under = ReplicationPolicy::Default {
            separator: "_".to_string(),
        };
        let seps = [edge("A", "B", &d, None), edge("B", "A", &under, None)];
        assert_eq!(plan(&seps), Ok(vec![true, true]));
    }

    #[test]
    fn a_cycle_that_needs_the_header_is_refused_where_it_is_turned_off() {
        let (a, b) = (identity("A"), identity("B"));
        let e = [edge("A", "B", &a, None), edge("B", "A", &b, Some(false))];
        let problems = plan(&e).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("mirrors A->B, B->A form a cycle"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("mirrors[1]"), "{}", problems[0]);
        // Off outside any cycle is fine.
        let d = default();
        let line = [edge("A", "B", &a, Some(false)), edge("B", "C", &d, None)];
        assert_eq!(plan(&line), Ok(vec![false, false]));
    }

    #[test]
    fn header_values() {
        assert!(!visited(b"", "A"));
        let v = extend(None, "A");
        assert_eq!(v, b"A");
        let v = extend(Some(&v), "B");
        assert_eq!(v, b"A,B");
        assert!(visited(&v, "A") && visited(&v, "B") && !visited(&v, "C"));
        assert!(!visited(b"AB", "A"));
    }
}
