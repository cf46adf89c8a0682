//! `renhice client …`: the SIHCE systems allowed to get access tokens from
//! `POST /auth/token` (SMART Backend Services, `private_key_jwt`).

use std::path::PathBuf;

use anyhow::Context;
use renhice_model::peru::Renipress;
use renhice_store::Store;
use renhice_store::clients::{self, Client};

use crate::config;

/// `renhice client …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a SIHCE client, or replace its keys or IPRESS (keys rotate at once).
    Register(RegisterArgs),
    /// Stop a client from getting new tokens (those it holds run out within minutes).
    Disable(ClientArg),
    /// List the registered clients.
    List(ConfigArg),
}

/// The configuration file, for the database.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArg {
    /// Configuration file (TOML) [env: `RENHICE_CONFIG`].
    #[arg(long, env = "RENHICE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL, as for `renhice serve` [env: `RENHICE_DATABASE_URL`].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

/// `renhice client register`.
#[derive(Debug, clap::Args)]
pub(crate) struct RegisterArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The client id (the `iss` and `sub` of its assertions).
    #[arg(long)]
    id: String,
    /// RENIPRESS code of the IPRESS the client acts for.
    #[arg(long, value_name = "CODE")]
    organization: String,
    /// The client's public keys: a JSON Web Key Set file, each key with a `kid`.
    #[arg(long, value_name = "FILE")]
    jwks: PathBuf,
    /// The SMART system/ scopes its tokens may carry, space-separated (default: those it
    /// was registered with before, or, for a new client, every scope its role allows,
    /// system/*.cruds).
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,
}

/// A client id, and the configuration.
#[derive(Debug, clap::Args)]
pub(crate) struct ClientArg {
    #[command(flatten)]
    config: ConfigArg,
    /// The client id.
    #[arg(long)]
    id: String,
}

pub(crate) fn store(arg: &ConfigArg) -> anyhow::Result<Store> {
    let loaded = config::load(&config::Overrides {
        config_file: arg.config.clone(),
        database_url: arg.database_url.clone(),
        ..config::Overrides::default()
    })?;
    Store::connect_blocking(&loaded.config.database).context("cannot open the database")
}

fn now_micros() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros()),
    )
    .unwrap_or(i64::MAX)
}

/// Runs `renhice client …`.
pub(crate) fn client(command: &ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Register(args) => {
            let renipress = Renipress::parse(&args.organization)
                .with_context(|| format!("--organization {:?}", args.organization))?;
            let text = std::fs::read_to_string(&args.jwks)
                .with_context(|| format!("cannot read {}", args.jwks.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", args.jwks.display()))?;
            renhice_server::auth::clients::check_jwks(&value)
                .with_context(|| format!("{} is not a usable JWKS", args.jwks.display()))?;
            let scope = args
                .scope
                .as_deref()
                .map(renhice_server::auth::scopes::Scopes::parse_system)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--scope: {e}"))?
                .map(|s| s.to_string());
            let store = store(&args.config)?;
            // Registering again (a key rotation) keeps the scopes unless --scope is given.
            let scope = match scope {
                Some(scope) => Some(scope),
                None => store
                    .run_blocking(|conn| clients::find(conn, &args.id))?
                    .and_then(|known| known.scope),
            };
            let client = Client {
                client_id: args.id.clone(),
                renipress: renipress.as_str().to_owned(),
                jwks: text,
                active: true,
                updated_at: now_micros(),
                scope,
            };
            store.run_blocking(|conn| clients::register(conn, &client))?;
            println!("registered {} for IPRESS {}", args.id, renipress.as_str());
        }
        ClientCommand::Disable(args) => {
            let store = store(&args.config)?;
            let mut client = store
                .run_blocking(|conn| clients::find(conn, &args.id))?
                .with_context(|| format!("no client {:?} is registered", args.id))?;
            client.active = false;
            client.updated_at = now_micros();
            store.run_blocking(|conn| clients::register(conn, &client))?;
            println!("disabled {}", args.id);
        }
        ClientCommand::List(arg) => {
            for c in store(arg)?.run_blocking(clients::list)? {
                let state = if c.active { "active" } else { "disabled" };
                let scope = c
                    .scope
                    .as_deref()
                    .unwrap_or(renhice_server::auth::clients::ALL_SYSTEM_SCOPES);
                println!("{}\t{}\t{state}\t{scope}", c.client_id, c.renipress);
            }
        }
    }
    Ok(())
}
