//! Lists the conformance resources under `profiles/pe/` and `profiles/renhice/` for
//! `include!` (every JSON file there is compiled in, so adding a profile is adding a
//! file).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let profiles = manifest.join("../../profiles");
    let mut files = Vec::new();
    for directory in ["pe", "renhice"] {
        let directory_path = profiles.join(directory);
        println!("cargo:rerun-if-changed={}", directory_path.display());
        let Ok(entries) = std::fs::read_dir(&directory_path) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "json")
            {
                files.push((directory, path));
            }
        }
    }
    files.sort();
    let mut out = String::from("&[\n");
    for (directory, path) in &files {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        println!("cargo:rerun-if-changed={}", absolute.display());
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("{directory}/{name}"),
            absolute.display().to_string()
        );
    }
    out.push(']');
    let target =
        Path::new(&std::env::var_os("OUT_DIR").unwrap_or_default()).join("bundled_profiles.rs");
    if let Err(error) = std::fs::write(&target, out) {
        panic!("cannot write {}: {error}", target.display());
    }
}
