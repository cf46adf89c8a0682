//! The renhice configuration: defaults, then a TOML file, then `RENHICE_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Environment variables are named `RENHICE_<SECTION>_<KEY>` for the `database`, `log` and
//! `auth` sections (`RENHICE_DATABASE_URL`, `RENHICE_LOG_LEVEL`, `RENHICE_AUTH_KEYS_DIR`) and `RENHICE_<KEY>` for the
//! `server` section (`RENHICE_LISTEN`). Every key is documented in `renhice.example.toml`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use renhice_server::{AuthConfig, ServerConfig};
use renhice_store::DatabaseConfig;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// `[server]`: HTTP.
    pub(crate) server: ServerConfig,
    /// `[database]`: storage.
    pub(crate) database: DatabaseConfig,
    /// `[auth]`: tokens and their signing keys.
    pub(crate) auth: AuthConfig,
    /// `[log]`: logging.
    pub(crate) log: LogConfig,
}

/// `[log]`: what is logged and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LogConfig {
    /// A tracing filter: a level (`info`) or per-module directives (`info,renhice_store=debug`).
    pub(crate) level: String,
    /// `json` (one JSON object per line, the default) or `text` (for people at a terminal).
    pub(crate) format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Structured JSON lines.
    Json,
    /// Human-readable text.
    Text,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Json,
        }
    }
}

/// Sections whose keys are prefixed by the section name in environment variable names.
const PREFIXED_SECTIONS: [&str; 3] = ["database", "log", "auth"];

/// Environment variables starting with `RENHICE_` that are not configuration keys.
const NON_CONFIG_VARS: [&str; 1] = ["config"];

/// Overrides given on the command line.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) database_url: Option<String>,
}

/// The loaded configuration and anything worth warning about once logging is up.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) unknown_env: Vec<String>,
}

/// Every configuration key as a dotted path (`server.listen`), from the defaults.
pub(crate) fn known_keys() -> BTreeSet<String> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeSet<String>) {
        if let toml::Value::Table(table) = value {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    walk(&path, v, out);
                } else {
                    out.insert(path);
                }
            }
        }
    }
    let mut keys = BTreeSet::new();
    if let Ok(value) = toml::Value::try_from(Config::default()) {
        walk("", &value, &mut keys);
    }
    keys
}

/// Maps an environment variable name (without `RENHICE_`, any case) to a key path.
pub(crate) fn env_key(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if NON_CONFIG_VARS.contains(&name.as_str()) {
        return None;
    }
    let path = PREFIXED_SECTIONS
        .iter()
        .find_map(|section| {
            name.strip_prefix(&format!("{section}_"))
                .map(|k| format!("{section}.{k}"))
        })
        .unwrap_or_else(|| format!("server.{name}"));
    known_keys().contains(&path).then_some(path)
}

/// The environment variable for a key path.
#[cfg(test)]
pub(crate) fn env_name(key: &str) -> String {
    let (section, field) = key.split_once('.').unwrap_or(("", key));
    if PREFIXED_SECTIONS.contains(&section) {
        format!(
            "RENHICE_{}_{}",
            section.to_ascii_uppercase(),
            field.to_ascii_uppercase()
        )
    } else {
        format!("RENHICE_{}", field.to_ascii_uppercase())
    }
}

/// Why the token issuer and audience, left at their defaults (port 8080), do not fit a
/// registry listening elsewhere: every token and every sign-in would be refused. They
/// are not changed behind the operator's back (`renhice token issue` and the other
/// commands read the same configuration, and must agree with the server): the server
/// says so when it starts.
pub(crate) fn issuer_mismatch(config: &Config) -> Option<String> {
    let defaults = AuthConfig::default();
    let listen = config.server.listen;
    let at_defaults =
        config.auth.issuer == defaults.issuer || config.auth.audience == defaults.audience;
    (listen != ServerConfig::default().listen && at_defaults).then(|| {
        format!(
            "the registry listens on {listen}, but auth.issuer ({}) and auth.audience ({}) \
             name another address: tokens and people's sign-in will be refused. Set them to \
             the registry's public URL, e.g. RENHICE_AUTH_ISSUER=http://{listen}/auth \
             RENHICE_AUTH_AUDIENCE=http://{listen}/fhir (for every renhice command)",
            config.auth.issuer, config.auth.audience
        )
    })
}

/// Loads the configuration from every source.
pub(crate) fn load(overrides: &Overrides) -> anyhow::Result<Loaded> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &overrides.config_file {
        anyhow::ensure!(
            path.is_file(),
            "configuration file {} does not exist",
            path.display()
        );
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment
        .merge(Env::prefixed("RENHICE_").filter_map(|name| env_key(name.as_str()).map(Into::into)));
    if let Some(listen) = overrides.listen {
        figment = figment.merge(Serialized::default("server.listen", listen));
    }
    if let Some(url) = &overrides.database_url {
        figment = figment.merge(Serialized::default("database.url", url));
    }
    let config: Config = figment
        .extract()
        .map_err(|e| {
            // figment's message names the key and the source (file or variable) that is wrong.
            anyhow::anyhow!(e.to_string())
        })
        .context("invalid configuration")?;
    let unknown_env = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| {
            k.strip_prefix("RENHICE_").is_some_and(|rest| {
                !NON_CONFIG_VARS.contains(&rest.to_ascii_lowercase().as_str())
                    && env_key(rest).is_none()
            })
        })
        // Test-suite settings share the prefix but are not server configuration.
        .filter(|k| !k.starts_with("RENHICE_TEST_"))
        .collect();
    Ok(Loaded {
        config,
        unknown_env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_address_the_issuer_does_not_name_is_told() {
        let mut config = Config::default();
        assert_eq!(issuer_mismatch(&config), None);
        config.server.listen = "127.0.0.1:9090".parse().unwrap();
        let said = issuer_mismatch(&config).unwrap();
        assert!(
            said.contains("RENHICE_AUTH_AUDIENCE=http://127.0.0.1:9090/fhir"),
            "{said}"
        );
        config.auth.issuer = "https://renhice.minsa.gob.pe/auth".to_owned();
        config.auth.audience = "https://renhice.minsa.gob.pe/fhir".to_owned();
        assert_eq!(issuer_mismatch(&config), None, "set: nothing to say");
    }

    #[test]
    fn env_names_round_trip_to_keys() {
        for key in known_keys() {
            let name = env_name(&key);
            let stripped = name.strip_prefix("RENHICE_").unwrap();
            assert_eq!(env_key(stripped).as_deref(), Some(key.as_str()), "{name}");
        }
        assert_eq!(env_name("server.listen"), "RENHICE_LISTEN");
        assert_eq!(env_name("database.url"), "RENHICE_DATABASE_URL");
        assert_eq!(env_key("LISTNE"), None);
        assert_eq!(env_key("CONFIG"), None);
    }

    #[test]
    fn sample_file_documents_every_key_with_its_default() {
        let text = include_str!("../renhice.example.toml");
        let sample: Config = toml::from_str(text).expect("the sample configuration parses");
        assert_eq!(sample, Config::default(), "the sample shows the defaults");
        let value: toml::Value = toml::from_str(text).unwrap();
        let mut in_sample = BTreeSet::new();
        for (section, table) in value.as_table().unwrap() {
            for key in table.as_table().unwrap().keys() {
                in_sample.insert(format!("{section}.{key}"));
            }
        }
        assert_eq!(
            in_sample,
            known_keys(),
            "every key is in renhice.example.toml"
        );
        for key in known_keys() {
            assert!(
                text.contains(&env_name(&key)),
                "the sample names {} for {key}",
                env_name(&key)
            );
        }
    }
}
