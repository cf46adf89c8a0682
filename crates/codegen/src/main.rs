//! `renhice-codegen`: writes the FHIR R4 model of `renhice-model` from the official
//! definitions kept in `profiles/r4` (parse → IR → emit). Run by hand:
//!
//! ```text
//! cargo run -p renhice-codegen            # regenerate crates/model/src/generated
//! cargo run -p renhice-codegen -- --check # fail if the checked-in code is stale
//! ```
//!
//! It reads only the checked-in files and never the network, and its output carries no
//! date, so the same definitions always give the same code.

mod emit;
mod ir;
mod parse;
mod r4;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let definitions = root.join("profiles/r4");
    let version = std::fs::read_to_string(definitions.join("version.info"))
        .context("reading profiles/r4/version.info")?
        .lines()
        .find_map(|l| l.strip_prefix("FhirVersion=").map(str::to_owned))
        .context("no FhirVersion in version.info")?;
    let sds = parse::load_definitions(&definitions)?;
    // `4.0.1-9346c8cc45` is the build; definitions carry the release, `4.0.1`.
    let release = version.split('-').next().unwrap_or(&version);
    let (model, deviations) = parse::build_model(&sds, release)?;
    let header = emit::header(&version);

    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let out = root.join("crates/model/src/generated");
    files.push((
        out.join("types.rs"),
        emit::module(
            &header,
            "All FHIR R4 data types, with their elements as nested structs.",
            &model.types,
            "use crate::resources::Resource;\n",
        ),
    ));
    let mut names = Vec::new();
    for (name, module) in &model.resources {
        let file = parse::field_name(name).trim_start_matches("r#").to_owned();
        files.push((
            out.join("resources").join(format!("{file}.rs")),
            emit::module(
                &header,
                &format!("The {name} resource."),
                module,
                "use crate::types::*;\nuse super::*;\n",
            ),
        ));
        names.push((name.clone(), file));
    }
    files.push((
        out.join("resources/mod.rs"),
        emit::resources_mod(&header, &names, &model.resources),
    ));

    let staging = tempdir(&root)?;
    for (path, text) in &files {
        let rel = path
            .strip_prefix(&out)
            .context("output outside the generated directory")?;
        let staged = staging.join(rel);
        std::fs::create_dir_all(staged.parent().context("no parent")?)?;
        std::fs::write(&staged, text)?;
    }
    rustfmt(&staging, &root)?;

    let mut stale = Vec::new();
    for (path, _) in &files {
        let rel = path.strip_prefix(&out)?;
        let new = std::fs::read_to_string(staging.join(rel))?;
        let old = std::fs::read_to_string(path).unwrap_or_default();
        if new != old {
            stale.push(rel.display().to_string());
            if !check {
                std::fs::create_dir_all(path.parent().context("no parent")?)?;
                std::fs::write(path, new)?;
            }
        }
    }
    std::fs::remove_dir_all(&staging).ok();
    // The list of departures from the vendored snapshots is reviewed like code.
    let exceptions = root.join("crates/model/EXCEPTIONS.md");
    let text = r4::render(&header, release, &deviations);
    if std::fs::read_to_string(&exceptions).unwrap_or_default() != text {
        stale.push("../../EXCEPTIONS.md".to_owned());
        if !check {
            std::fs::write(&exceptions, text)?;
        }
    }
    let structs = model.types.structs.len()
        + model
            .resources
            .iter()
            .map(|(_, m)| m.structs.len())
            .sum::<usize>();
    eprintln!(
        "renhice-codegen: {} resources, {structs} structs, {} files, {} departures from the vendored snapshots; {} changed",
        model.resources.len(),
        files.len() + 1,
        deviations.len(),
        stale.len()
    );
    if check && !stale.is_empty() {
        bail!(
            "generated code is stale, run `cargo run -p renhice-codegen`: {}",
            stale.join(", ")
        );
    }
    Ok(())
}

fn tempdir(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/codegen-staging");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Formats the staged files with the pinned toolchain's rustfmt and the project's
/// `rustfmt.toml`, so the output matches `cargo fmt`.
fn rustfmt(dir: &Path, root: &Path) -> anyhow::Result<()> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let status = Command::new("rustfmt")
        .arg("--edition=2024")
        .arg("--config-path")
        .arg(root.join("rustfmt.toml"))
        .args(&files)
        .status()
        .context("running rustfmt")?;
    if !status.success() {
        bail!("rustfmt failed on the generated code");
    }
    Ok(())
}
