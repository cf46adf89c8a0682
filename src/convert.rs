//! `renhice convert`: FHIR resources between JSON and XML, through the model (strictly:
//! what is not valid FHIR in one form is refused, with the element and the line, rather
//! than carried into the other).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use renhice_model::resources::Resource;

/// The form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// FHIR JSON (`.json`).
    Json,
    /// FHIR XML (`.xml`).
    Xml,
}

/// `renhice convert`.
#[derive(Debug, clap::Args)]
pub(crate) struct ConvertArgs {
    /// FHIR resources in JSON or XML (told apart by their first character), `-` for
    /// standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The form to write.
    #[arg(long, value_enum)]
    to: Format,
    /// Write each file into this directory, as its name with `.json` or `.xml`, instead
    /// of to standard output (needed for more than one file).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Skip elements R4 does not define instead of refusing the file.
    #[arg(long)]
    lenient: bool,
}

/// Reads a resource in either form.
fn read(bytes: &[u8], lenient: bool) -> Result<Resource, String> {
    let mode = if lenient {
        renhice_model::json::Mode::Lenient
    } else {
        renhice_model::json::Mode::Strict
    };
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    let read = if first == Some(&b'<') {
        Resource::from_xml_with(bytes, mode)
    } else {
        Resource::from_json_with(bytes, mode)
    };
    read.map_err(|e| e.to_string())
}

fn convert(file: &Path, args: &ConvertArgs) -> Result<Option<Vec<u8>>, String> {
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|e| format!("standard input: {e}"))?;
        bytes
    } else {
        std::fs::read(file).map_err(|e| format!("cannot read the file: {e}"))?
    };
    let resource = read(&bytes, args.lenient)?;
    let out = match args.to {
        Format::Json => resource.to_json(),
        Format::Xml => resource.to_xml().map_err(|e| e.to_string())?,
    };
    let Some(dir) = &args.out_dir else {
        return Ok(Some(out));
    };
    let stem = file
        .file_stem()
        .ok_or("a file without a name cannot go to --out-dir")?;
    let extension = match args.to {
        Format::Json => "json",
        Format::Xml => "xml",
    };
    // Not `with_extension`: a name such as `Organization-2.16.840.1.xml` has dots of its own.
    let mut name = stem.to_owned();
    name.push(".");
    name.push(extension);
    let target = dir.join(name);
    std::fs::write(&target, out).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(None)
}

/// Runs `renhice convert`: 0 when every file was converted, 1 when one was not FHIR (the
/// others are still converted), 2 for a usage error.
pub(crate) fn run(args: &ConvertArgs) -> ExitCode {
    if args.out_dir.is_none() && args.files.len() > 1 {
        eprintln!("error: more than one file needs --out-dir");
        return ExitCode::from(2);
    }
    if let Some(dir) = &args.out_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let mut failed = false;
    for file in &args.files {
        match convert(file, args) {
            Ok(Some(out)) => {
                use std::io::Write as _;
                if let Err(e) = std::io::stdout().write_all(&out) {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
            Ok(None) => {}
            Err(why) => {
                eprintln!("{}: {why}", file.display());
                failed = true;
            }
        }
    }
    ExitCode::from(u8::from(failed))
}
