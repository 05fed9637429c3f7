//! Rotation of secrets and certificates without a restart of the process.
//!
//! Every `secret_files_check_interval` the files the config reads besides itself (`${file:}`
//! references, and the certificates, keys and CAs that librdkafka reads when a client is created)
//! are compared with what they held. After a change the config file is read and validated again;
//! each cluster whose settings differ, or that names a changed file, is handed to the mirrors
//! that use it through a [`watch`] channel, and those mirrors stop as on SIGTERM (positions
//! stored) and start again on new clients (`app`). Nothing else of the config file read again is
//! applied (a SIGHUP applies the whole file, `app`); a file that does not validate leaves the
//! running settings in place.
//!
//! Contents are compared by SHA-256, so that a Kubernetes Secret volume's atomic swap of its
//! `..data` link, a `cp` over the file and a rewrite in place all count, and a `touch` does not.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{self, ClusterConfig, Config};
use crate::runtime;
use crate::telemetry::events::{Event, SecretFilesApplied, SecretFilesRejected};

/// A cluster's settings as its mirrors see them: replaced when a secret changes.
pub type ClusterSettings = watch::Receiver<Arc<ClusterConfig>>;

/// What a file held when last looked at: the SHA-256 of its content, or why it could not be read.
type Fingerprint = Result<Vec<u8>, String>;

/// The settings channel of every cluster, shared by the secret files watcher and the config
/// reload (SIGHUP), which also adds the clusters a reloaded file names anew.
#[derive(Clone, Default)]
pub struct ClusterChannels(Arc<Mutex<BTreeMap<String, watch::Sender<Arc<ClusterConfig>>>>>);

impl ClusterChannels {
    pub fn new(config: &Config) -> Self {
        let channels = ClusterChannels::default();
        for (alias, cluster) in &config.clusters {
            channels.update(alias, cluster, false);
        }
        channels
    }

    /// The settings of `alias`, followed from now on.
    ///
    /// # Panics
    /// When `alias` has no channel: validation guarantees every mirror's clusters exist, and
    /// they are added before the mirrors that use them.
    pub fn subscribe(&self, alias: &str) -> ClusterSettings {
        self.0.lock().expect("cluster channels lock")[alias].subscribe()
    }

    /// Hands `cluster` to the mirrors of `alias` when it differs from what they have (or with
    /// `force`, when a file it reads changed); a new alias gets its channel. Returns whether the
    /// mirrors were handed new settings.
    pub fn update(&self, alias: &str, cluster: &ClusterConfig, force: bool) -> bool {
        let mut all = self.0.lock().expect("cluster channels lock");
        match all.get(alias) {
            None => {
                all.insert(
                    alias.to_owned(),
                    watch::channel(Arc::new(cluster.clone())).0,
                );
                false
            }
            Some(tx) if force || **tx.borrow() != *cluster => {
                tx.send_replace(Arc::new(cluster.clone()));
                true
            }
            Some(_) => false,
        }
    }
}

/// The watcher of one config file's secret files.
pub struct SecretFiles {
    config_path: PathBuf,
    interval: Duration,
    files: Vec<String>,
    clusters: ClusterChannels,
    /// The running config: a reload (SIGHUP) may name other files to watch.
    running: watch::Receiver<Arc<Config>>,
}

impl SecretFiles {
    /// A watcher of the files `running` reads (loaded from `config_path`); `None` when the
    /// check is `off`.
    pub fn new(
        running: watch::Receiver<Arc<Config>>,
        config_path: Option<PathBuf>,
        clusters: ClusterChannels,
    ) -> Option<SecretFiles> {
        let config = Arc::clone(&running.borrow());
        match (config_path, config.secret_files_check_interval) {
            (Some(config_path), Some(interval)) => Some(SecretFiles {
                config_path,
                interval,
                files: config.files.clone(),
                clusters,
                running,
            }),
            _ => None,
        }
    }

    /// Checks the files every interval until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        tracing::debug!(files = ?self.files, interval = ?self.interval, "watching the files the config reads");
        let mut seen = fingerprints(self.files.clone()).await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
            if self.running.has_changed().unwrap_or(false) {
                let files = self.running.borrow_and_update().files.clone();
                if files != self.files {
                    // A reload names other files: watch those, from what they hold now.
                    self.files = files;
                    seen = fingerprints(self.files.clone()).await;
                    continue;
                }
            }
            let now = fingerprints(self.files.clone()).await;
            let changed: Vec<&str> = self
                .files
                .iter()
                .zip(seen.iter().zip(&now))
                .filter(|(_, (before, after))| before != after)
                .map(|(file, _)| file.as_str())
                .collect();
            if changed.is_empty() {
                continue;
            }
            let path = self.config_path.clone();
            let reloaded = runtime::blocking(move || config::load(&path)).await;
            let next_files = match reloaded {
                Ok(Ok(config)) => {
                    let clusters = self.apply(&config, &changed);
                    let clusters: Vec<&str> = clusters.iter().map(String::as_str).collect();
                    SecretFilesApplied {
                        files: &changed,
                        clusters: &clusters,
                    }
                    .emit();
                    Some(config.files)
                }
                Ok(Err(error)) => {
                    SecretFilesRejected {
                        files: &changed,
                        error: &error,
                    }
                    .emit();
                    None
                }
                Err(panic) => {
                    tracing::error!(error = %panic, "reading the config again failed");
                    None
                }
            };
            // A rejected change is reported once; the next change of any file tries again.
            match next_files {
                Some(files) if files != self.files => {
                    self.files = files;
                    seen = fingerprints(self.files.clone()).await;
                }
                _ => seen = now,
            }
        }
    }

    /// Hands each changed cluster of `config` to its mirrors; returns the aliases handed on.
    /// A cluster new in the file is left to a reload (SIGHUP), with the mirrors that use it.
    fn apply(&self, config: &Config, changed: &[&str]) -> Vec<String> {
        let running = Arc::clone(&self.running.borrow());
        let mut applied = Vec::new();
        for (alias, cluster) in &config.clusters {
            if !running.clusters.contains_key(alias) {
                continue;
            }
            let force = changed.iter().any(|f| cluster.reads_file(f));
            if self.clusters.update(alias, cluster, force) {
                applied.push(alias.clone());
            }
        }
        applied
    }
}

/// The fingerprints of `files`, read off the async threads.
async fn fingerprints(files: Vec<String>) -> Vec<Fingerprint> {
    let count = files.len();
    runtime::blocking(move || files.iter().map(|f| fingerprint(f)).collect())
        .await
        .unwrap_or_else(|e| vec![Err(e.to_string()); count])
}

fn fingerprint(path: &str) -> Fingerprint {
    match std::fs::read(path) {
        Ok(bytes) => Ok(ring::digest::digest(&ring::digest::SHA256, &bytes)
            .as_ref()
            .to_vec()),
        Err(e) => Err(e.kind().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_content_not_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        let p = path.to_str().unwrap();
        assert!(fingerprint(p).is_err());
        std::fs::write(&path, "one").unwrap();
        let one = fingerprint(p);
        assert!(one.is_ok());
        std::fs::write(&path, "one").unwrap();
        assert_eq!(fingerprint(p), one, "the same content again");
        std::fs::write(&path, "two").unwrap();
        assert_ne!(fingerprint(p), one);
    }
}
