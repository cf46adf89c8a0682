//! Python environments for the independent judges the tests compare with (pyca/cryptography,
//! pyHanko), installed from pinned, hashed requirement files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of a virtual environment `tmp/{venv}` with the pinned, hashed
/// `requirements` (a pip-compile output) installed, made once and again when the file
/// changes. Fails, never skips, when it cannot be made.
///
/// # Panics
/// When Python, its `venv` module or the packages cannot be had.
#[must_use]
pub fn judge_python(tmp: &Path, venv: &str, requirements: &Path) -> PathBuf {
    let pinned = std::fs::read(requirements)
        .unwrap_or_else(|error| panic!("{}: {error}", requirements.display()));
    let venv = tmp.join(venv);
    let python = venv.join("bin/python");
    let current = |venv: &Path| {
        std::fs::read(venv.join("requirements.txt")).is_ok_and(|made| made == pinned)
            && venv.join("bin/python").exists()
    };
    if current(&venv) {
        return python;
    }
    // Tests run in separate processes: each makes its environment under its own name and
    // renames it into place, so none sees a half-made one (the interpreter finds its
    // packages from pyvenv.cfg, wherever the directory is).
    let making = venv.with_extension(format!("making-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&making);
    let run = |command: &mut Command, what: &str| {
        let output = command
            .output()
            .unwrap_or_else(|error| panic!("{what}: {error} (python3 with venv is needed)"));
        assert!(
            output.status.success(),
            "{what} failed (PyPI must be reachable, or the packages cached): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&making),
        "python3 -m venv",
    );
    run(
        Command::new(making.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--require-hashes", "-r"])
            .arg(requirements),
        &format!("pip install -r {}", requirements.display()),
    );
    std::fs::write(making.join("requirements.txt"), &pinned).expect("write the marker");
    if !current(&venv) {
        let _ = std::fs::remove_dir_all(&venv);
    }
    if std::fs::rename(&making, &venv).is_err() {
        // Another process got there first with the same requirements.
        let _ = std::fs::remove_dir_all(&making);
        assert!(
            current(&venv),
            "cannot put the environment in {}",
            venv.display()
        );
    }
    python
}

/// Runs the `PAdES` judge, `crates/signature/tests/judges/pades.py` (pyHanko), in `dir`
/// with `args`, its environment kept under `tmp` (a test's `CARGO_TARGET_TMPDIR`); gives
/// its standard output.
///
/// # Panics
/// When the environment cannot be made or the script fails.
#[must_use]
pub fn pyhanko(tmp: &Path, dir: &Path, args: &[&str]) -> String {
    let judges = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signature/tests/judges");
    let python = judge_python(
        tmp,
        "pyhanko-judge-venv",
        &judges.join("pyhanko-requirements.txt"),
    );
    let output = Command::new(python)
        .arg(judges.join("pades.py"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run pades.py");
    assert!(
        output.status.success(),
        "pades.py {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("pades.py writes UTF-8")
}
