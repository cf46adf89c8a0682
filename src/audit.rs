//! `renhice audit verify`: checks the audit trail's hash chain and names every event
//! altered, removed or moved, every link altered or missing, and every event written
//! around the registry.

use anyhow::bail;
use renhice_store::audit;

use crate::clients::{ConfigArg, store};

/// `renhice audit …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Seal what has been written, then recompute the whole hash chain; exits non-zero
    /// naming each problem found.
    Verify(ConfigArg),
}

/// Runs `renhice audit …`.
pub(crate) fn audit(command: &AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Verify(arg) = command;
    let store = store(arg)?;
    // What a running registry would seal within a second is sealed now, so the check
    // covers every event written so far.
    let mut sealed = store.run_blocking(audit::seal_all)?;
    let mut report = store.run_blocking(audit::verify)?;
    // Events of transactions still running are sealed when they end: wait a little.
    for _ in 0..20 {
        if report.pending == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        sealed += store.run_blocking(audit::seal_all)?;
        report = store.run_blocking(audit::verify)?;
    }
    let head = report.head.1.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
        hex
    });
    println!(
        "{} events in the chain ({sealed} sealed now, {} still waiting); head: position {} {head}",
        report.links, report.pending, report.head.0
    );
    for problem in &report.problems {
        println!("PROBLEM: {problem}");
    }
    if report.problems.is_empty() {
        println!("the audit trail is intact");
        Ok(())
    } else {
        bail!(
            "the audit trail has {} problem(s); see above",
            report.problems.len()
        )
    }
}
