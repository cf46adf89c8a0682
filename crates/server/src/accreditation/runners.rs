//! What accreditation runs share: how many go at once, and the settings they run with.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What runs share: how many go now, and the settings they run with.
#[derive(Debug)]
pub struct Runners {
    running: AtomicUsize,
    pub(super) max: usize,
    pub(super) timeout: Duration,
    pub(super) ca_pem: Option<Vec<u8>>,
}

impl Runners {
    /// The runners of a server with this configuration; the CA file is read now, so a
    /// wrong path stops the start, not the first run.
    ///
    /// # Errors
    /// When `server.accreditation_ca_file` is set and cannot be read.
    pub fn new(config: &crate::config::ServerConfig) -> std::io::Result<Self> {
        let ca_pem = if config.accreditation_ca_file.as_os_str().is_empty() {
            None
        } else {
            Some(std::fs::read(&config.accreditation_ca_file).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "server.accreditation_ca_file {}: {e}",
                        config.accreditation_ca_file.display()
                    ),
                )
            })?)
        };
        Ok(Self {
            running: AtomicUsize::new(0),
            max: config.accreditation_max_runs,
            timeout: Duration::from_secs(config.accreditation_timeout_secs.max(1)),
            ca_pem,
        })
    }

    /// Takes a place for a run, if one is free.
    pub(super) fn claim(self: &Arc<Self>) -> Option<Slot> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(self)))
    }
}

/// A place taken by a run, given back when the run ends (however it ends).
pub(super) struct Slot(Arc<Runners>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}
