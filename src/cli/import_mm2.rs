//! `strait import-mm2`: a MirrorMaker 2 properties file to strait's YAML (stdout or
//! `--output`), with a report of every key on stderr, then the YAML checked by strait's own
//! config validation, offline (no cluster, environment variable or file is needed).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::Serialize;

use super::output::table;
use super::Exit;
use crate::config::check_offline;
use crate::config::import_mm2::{self, Entry, ImportOptions, Imported, Outcome};
use crate::policy::TopicRules;

/// `--mm2-version`: the MM2 release whose rules the file was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mm2Version {
    /// Kafka 4.0 and later (KIP-1074 topic rules).
    #[value(name = "4", alias = "4.0")]
    V4,
    /// Kafka 3.9 and earlier.
    #[value(name = "3.9")]
    V3_9,
}

/// `--report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Report {
    /// Grouped tables for people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

pub struct Args {
    pub file: PathBuf,
    pub mm2_version: Option<Mm2Version>,
    pub output: Option<PathBuf>,
    pub force: bool,
    pub report: Report,
}

pub fn import_mm2(args: Args) -> Exit {
    if let Some(out) = &args.output {
        if out.exists() && !args.force {
            eprintln!(
                "error: {} exists; pass --force to overwrite it",
                out.display()
            );
            return Exit::Usage;
        }
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return Exit::InvalidConfig;
        }
    };
    // MM2 reads its file as ISO-8859-1 (`Properties.load(InputStream)`).
    let text = import_mm2::latin1(&bytes);
    let options = ImportOptions {
        mm2_version: args.mm2_version.map(|v| match v {
            Mm2Version::V4 => TopicRules::Mm2_4_0,
            Mm2Version::V3_9 => TopicRules::Mm2_3_9,
        }),
        source_name: args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    };
    let mut imported = match import_mm2::import_mm2(&text, &options) {
        Ok(i) => i,
        Err(e) => {
            eprintln!(
                "error: {} is not a properties file MM2 could read: {e}",
                args.file.display()
            );
            return Exit::InvalidConfig;
        }
    };
    if !bytes.is_ascii() {
        imported.notes.push(
            "the file has non-ASCII bytes: they were read as ISO-8859-1, as MM2 reads its file \
             (write other characters as \\uXXXX)"
                .to_owned(),
        );
    }

    let origin = args.output.as_deref().map_or_else(
        || "the generated configuration".to_owned(),
        |p| p.display().to_string(),
    );
    let check = Check::of(&imported.yaml, &origin);

    let written = match &args.output {
        Some(path) => match write_file(path, &imported.yaml, args.force) {
            Ok(()) => Some(path.clone()),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return Exit::Failure;
            }
        },
        None => {
            print!("{}", imported.yaml);
            let _ = std::io::stdout().flush();
            None
        }
    };

    match args.report {
        Report::Text => eprint!(
            "{}",
            text_report(&args.file, &imported, &check, written.as_deref())
        ),
        Report::Json => {
            let report = JsonReport {
                file: args.file.display().to_string(),
                output: written.as_ref().map(|p| p.display().to_string()),
                imported: &imported,
                counts: Counts::of(&imported),
                validation: &check,
            };
            match serde_json::to_string_pretty(&report) {
                Ok(s) => eprintln!("{s}"),
                Err(e) => eprintln!("error: cannot serialize the report: {e}"),
            }
        }
    }
    exit_code(&imported, &check)
}

/// 3 when the generated YAML does not validate, 8 when some keys are not mapped, else 0.
fn exit_code(imported: &Imported, check: &Check) -> Exit {
    if !check.valid {
        Exit::InvalidConfig
    } else if imported.count(Outcome::NotMapped) > 0 {
        Exit::NotAllMapped
    } else {
        Exit::Ok
    }
}

fn write_file(path: &Path, yaml: &str, force: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Refuses a file created since the check above, too.
        options.create_new(true);
    }
    let mut file = options.open(path)?;
    file.write_all(yaml.as_bytes())?;
    file.sync_all()
}

/// The generated YAML through strait's validation, offline.
#[derive(Debug, Serialize)]
struct Check {
    valid: bool,
    problems: Vec<ProblemOut>,
    clusters: usize,
    mirrors: usize,
    /// Environment variables the YAML reads (all must be set where strait runs).
    env: Vec<String>,
    /// Files the YAML names (all must exist where strait runs).
    files: Vec<String>,
}

impl Check {
    fn of(yaml: &str, origin: &str) -> Check {
        match check_offline(yaml, origin) {
            Ok(c) => Check {
                valid: true,
                problems: Vec::new(),
                clusters: c.config.clusters.len(),
                mirrors: c.config.mirrors.len(),
                env: c.env,
                files: c.files,
            },
            Err(e) => Check {
                valid: false,
                problems: e
                    .problems
                    .into_iter()
                    .map(|p| ProblemOut {
                        path: p.path,
                        message: p.message,
                    })
                    .collect(),
                clusters: 0,
                mirrors: 0,
                env: Vec::new(),
                files: Vec::new(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct ProblemOut {
    path: String,
    message: String,
}

#[derive(Serialize)]
struct Counts {
    keys: usize,
    mapped: usize,
    not_needed: usize,
    not_mapped: usize,
}

impl Counts {
    fn of(i: &Imported) -> Counts {
        Counts {
            keys: i.entries.len(),
            mapped: i.count(Outcome::Mapped),
            not_needed: i.count(Outcome::NotNeeded),
            not_mapped: i.count(Outcome::NotMapped),
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    /// Where the YAML was written; `null`: stdout.
    output: Option<String>,
    #[serde(flatten)]
    imported: &'a Imported,
    counts: Counts,
    validation: &'a Check,
}

fn text_report(file: &Path, i: &Imported, check: &Check, written: Option<&Path>) -> String {
    let counts = Counts::of(i);
    let mut out = String::new();
    out.push_str(&format!(
        "import of {} (MM2 {} rules: {})\n",
        file.display(),
        i.mm2_version,
        i.version_reason
    ));
    out.push_str(&format!(
        "{} key(s): {} mapped, {} not needed, {} not mapped; {} mirror(s): {}\n",
        counts.keys,
        counts.mapped,
        counts.not_needed,
        counts.not_mapped,
        i.mirrors.len(),
        if i.mirrors.is_empty() {
            "none".to_owned()
        } else {
            i.mirrors.join(", ")
        }
    ));
    let group = |outcome: Outcome| -> Vec<&Entry> {
        i.entries.iter().filter(|e| e.outcome == outcome).collect()
    };
    let mapped = group(Outcome::Mapped);
    if !mapped.is_empty() {
        out.push_str(&format!("\nmapped ({}):\n", mapped.len()));
        let rows: Vec<Vec<String>> = mapped
            .iter()
            .map(|e| {
                vec![
                    e.line.to_string(),
                    e.key.clone(),
                    e.to.join(", "),
                    e.reason.clone(),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["LINE", "MM2 KEY", "STRAIT KEY", "NOTE"],
            &rows,
        )));
    }
    let not_needed = group(Outcome::NotNeeded);
    if !not_needed.is_empty() {
        out.push_str(&format!("\nnot needed ({}):\n", not_needed.len()));
        let rows: Vec<Vec<String>> = not_needed
            .iter()
            .map(|e| vec![e.line.to_string(), e.key.clone(), e.reason.clone()])
            .collect();
        out.push_str(&indent(&table(&["LINE", "MM2 KEY", "WHY"], &rows)));
    }
    let not_mapped = group(Outcome::NotMapped);
    if !not_mapped.is_empty() {
        out.push_str(&format!("\nnot mapped ({}):\n", not_mapped.len()));
        for e in not_mapped {
            out.push_str(&format!("  line {}  {}\n", e.line, e.key));
            if !e.to.is_empty() {
                out.push_str(&format!("    written: {}\n", e.to.join(", ")));
            }
            out.push_str(&format!("    why: {}\n", e.reason));
            if let Some(a) = &e.action {
                out.push_str(&format!("    to do: {a}\n"));
            }
        }
    }
    if !i.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &i.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    if !i.env.is_empty() {
        out.push_str("\nenvironment variables to set where strait runs (the YAML reads them):\n");
        let rows: Vec<Vec<String>> = i
            .env
            .iter()
            .map(|e| vec![e.name.clone(), e.holds.clone()])
            .collect();
        out.push_str(&indent(&table(&["NAME", "VALUE"], &rows)));
    }
    out.push('\n');
    if check.valid {
        let others: Vec<&String> = check
            .env
            .iter()
            .filter(|n| !i.env.iter().any(|e| &e.name == *n))
            .collect();
        out.push_str(&format!(
            "validation: the generated configuration is valid ({} cluster(s), {} mirror(s)), \
             checked without the environment or the files it names\n",
            check.clusters, check.mirrors
        ));
        if !others.is_empty() {
            let list: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
            out.push_str(&format!(
                "  it also reads these environment variables, as the MM2 file did: {}\n",
                list.join(", ")
            ));
        }
        if !check.files.is_empty() {
            out.push_str(&format!(
                "  files it names, which must exist where strait runs: {}\n",
                check.files.join(", ")
            ));
        }
    } else {
        out.push_str("validation: the generated configuration is NOT valid:\n");
        for p in &check.problems {
            if p.path.is_empty() {
                out.push_str(&format!("  {}\n", p.message));
            } else {
                out.push_str(&format!("  {}: {}\n", p.path, p.message));
            }
        }
    }
    match written {
        Some(p) => out.push_str(&format!("written to {}\n", p.display())),
        None => out.push_str("written to stdout\n"),
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str =
        "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
        A->B.enabled = true\nA.security.protocol = SASL_PLAINTEXT\nA.sasl.mechanism = PLAIN\n\
        A.sasl.jaas.config = PlainLoginModule required username=\"u\" password=\"Top-Secret-42\";\n\
        tasks.max = 2\nno.such.key = 1\n";

    fn run(text: &str) -> (Imported, Check) {
        let imported = import_mm2::import_mm2(text, &ImportOptions::default()).expect("properties");
        let check = Check::of(&imported.yaml, "test");
        (imported, check)
    }

    #[test]
    fn the_text_report_groups_counts_and_never_shows_a_secret() {
        let (i, check) = run(FILE);
        let text = text_report(Path::new("mm2.properties"), &i, &check, None);
        assert!(
            text.contains("9 key(s): 7 mapped, 1 not needed, 1 not mapped"),
            "{text}"
        );
        let mapped = text.find("\nmapped (7):").expect("mapped group");
        let not_needed = text.find("\nnot needed (1):").expect("not needed group");
        let not_mapped = text.find("\nnot mapped (1):").expect("not mapped group");
        assert!(mapped < not_needed && not_needed < not_mapped);
        assert!(text.contains("STRAIT_A_SASL_PASSWORD"), "{text}");
        assert!(text.contains("validation: the generated configuration is valid"));
        assert!(!text.contains("Top-Secret-42"));
        let json = serde_json::to_string(&JsonReport {
            file: "mm2.properties".into(),
            output: None,
            imported: &i,
            counts: Counts::of(&i),
            validation: &check,
        })
        .unwrap();
        assert!(!json.contains("Top-Secret-42"));
        assert!(json.contains("\"not_mapped\":1"), "{json}");
    }

    #[test]
    fn exit_codes() {
        let (i, check) = run(FILE);
        assert_eq!(exit_code(&i, &check), Exit::NotAllMapped);
        let (i, check) = run(
            "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\n",
        );
        assert_eq!(exit_code(&i, &check), Exit::Ok);
        // Nothing enabled: no mirror, which strait's validation refuses.
        let (i, check) =
            run("clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n");
        assert!(!check.valid);
        assert_eq!(exit_code(&i, &check), Exit::InvalidConfig);
    }

    #[test]
    fn an_existing_output_is_kept_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "keep").unwrap();
        assert!(write_file(&path, "new", false).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep");
        write_file(&path, "new", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
