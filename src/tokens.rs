//! `renhice token issue` and `renhice keys …`: the registry's signing keys and the
//! access tokens they sign, from the command line.
//!
//! Tokens minted here are the same as the registry's token endpoint issues: for
//! development, tests, and administrators (who have the keys' directory anyway).

use std::path::PathBuf;

use anyhow::Context;
use renhice_server::auth::{Grant, KeyRing, Purpose, Role, keys};
use renhice_server::{AuthConfig, Authority};

use crate::config;

/// `renhice token …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a signed access token (one line, for `TOKEN=$(renhice token issue …)`).
    Issue(IssueArgs),
}

/// `renhice keys …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Add a new signing key; it signs every token from now on. Running servers pick it
    /// up without a restart.
    Rotate(ConfigArg),
    /// List the key ids, oldest first (the last one signs).
    List(ConfigArg),
}

/// The configuration file, for the key directory and token settings.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArg {
    /// Configuration file (TOML) [env: `RENHICE_CONFIG`].
    #[arg(long, env = "RENHICE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

/// What the token says about its holder.
#[derive(Debug, clap::Args)]
#[allow(
    clippy::doc_markdown,
    reason = "clap shows these comments as --help text, where backticks would show"
)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// system (a SIHCE for its IPRESS), clinician, patient, auditor or admin.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// RENIPRESS code of the IPRESS (system and clinician).
    #[arg(long, value_name = "CODE")]
    organization: Option<String>,
    /// Colegiatura key of the clinician, college|number (e.g. 01|012345).
    #[arg(long, value_name = "KEY")]
    practitioner: Option<String>,
    /// Identity-document key of the patient, kind|country|number (e.g. 1|PER|45678912).
    #[arg(long, value_name = "KEY")]
    person: Option<String>,
    /// The acting person's name, as the audit trail shows it.
    #[arg(long)]
    name: Option<String>,
    /// Purpose of use: TREAT, ETREAT (emergency; needs --reason), PATRQT or HOPERAT.
    #[arg(long, value_parser = parse_purpose, default_value = "TREAT")]
    purpose: Purpose,
    /// Why emergency access is needed.
    #[arg(long)]
    reason: Option<String>,
    /// The token's subject (default: the role and IPRESS or person).
    #[arg(long)]
    subject: Option<String>,
    /// Lifetime in seconds (default: auth.token_lifetime_secs).
    #[arg(long, value_name = "SECS")]
    lifetime: Option<u64>,
}

fn parse_role(code: &str) -> Result<Role, String> {
    Role::from_code(code)
        .ok_or_else(|| "expected system, clinician, patient, auditor or admin".to_owned())
}

fn parse_purpose(code: &str) -> Result<Purpose, String> {
    Purpose::from_code(&code.to_ascii_uppercase())
        .ok_or_else(|| "expected TREAT, ETREAT, PATRQT or HOPERAT".to_owned())
}

fn auth_config(arg: &ConfigArg) -> anyhow::Result<AuthConfig> {
    Ok(config::load(&config::Overrides {
        config_file: arg.config.clone(),
        ..config::Overrides::default()
    })?
    .config
    .auth)
}

/// Runs `renhice token …`.
pub(crate) fn token(command: &TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Issue(args) = command;
    let config = auth_config(&args.config)?;
    if let Some(lifetime) = args.lifetime {
        anyhow::ensure!(
            lifetime <= config.max_token_lifetime_secs,
            "--lifetime {lifetime} is longer than the registry accepts \
             (auth.max_token_lifetime_secs = {})",
            config.max_token_lifetime_secs
        );
    }
    let keys = KeyRing::open_or_create(&config.keys_dir).with_context(|| {
        format!(
            "cannot open the signing keys in {}",
            config.keys_dir.display()
        )
    })?;
    let subject = args.subject.clone().unwrap_or_else(|| {
        let who = args
            .organization
            .as_deref()
            .or(args.person.as_deref())
            .unwrap_or("registry");
        format!("{}:{who}", args.role)
    });
    let grant = Grant {
        subject,
        role: args.role,
        organization: args.organization.clone(),
        practitioner: args.practitioner.clone(),
        name: args.name.clone(),
        person: args.person.clone(),
        purpose: args.purpose,
        emergency_reason: args.reason.clone(),
        sign_in: None,
        system_scope: None,
    };
    // The same checks the registry applies, so a token that would be refused is not
    // printed.
    let authority = Authority::new(config, keys);
    let token = authority.issue(&grant, args.lifetime)?;
    authority
        .verify(&token)
        .map_err(|e| anyhow::anyhow!("the registry would refuse this token: {e}"))?;
    println!("{token}");
    Ok(())
}

/// Runs `renhice keys …`.
pub(crate) fn keys(command: &KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate(arg) => {
            let config = auth_config(arg)?;
            let kid = keys::create_key(&config.keys_dir)
                .with_context(|| format!("cannot add a key to {}", config.keys_dir.display()))?;
            println!("{kid}");
        }
        KeysCommand::List(arg) => {
            let config = auth_config(arg)?;
            let keys = KeyRing::open(&config.keys_dir)?;
            for kid in keys.kids() {
                println!("{kid}");
            }
        }
    }
    Ok(())
}
