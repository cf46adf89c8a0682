//! At start, search parameters added since the database was last served are indexed for
//! the resources it already holds (`renhice_registry::params::INDEX_UPGRADES`, applied in
//! order by `renhice_store::reindex`).
//!
//! Each upgrade is one transaction over every current resource of its type, before the
//! server takes requests: meant for parameters of small types (the IPRESS). A server of
//! an older build running beside a newer one during a rolling upgrade writes resources
//! without the new parameter; a restart of the newer build does not index them again,
//! so a rolling upgrade that adds a parameter ends with every server on the new build
//! before the last one starts.

use renhice_registry::params::{INDEX_UPGRADES, index};
use renhice_store::{Store, StoreError};

/// Applies the index upgrades the database has not had.
///
/// # Errors
/// A database failure, as an I/O error that stops the start; the upgrade that failed
/// left nothing behind and is tried again at the next start.
pub(crate) fn apply(store: &Store) -> std::io::Result<()> {
    upgrade(store).map_err(|e| {
        std::io::Error::other(format!(
            "the search index could not be brought up to this build's parameters: {e}"
        ))
    })
}

fn upgrade(store: &Store) -> Result<(), StoreError> {
    for upgrade in INDEX_UPGRADES {
        let resource_type = upgrade.resource.as_str();
        let indexed = store.run_blocking(|conn| {
            renhice_store::reindex::backfill(
                conn,
                upgrade.version,
                resource_type,
                upgrade.param,
                &|body| {
                    // A body that does not parse any more is left unindexed, as it would
                    // be unsearchable by any parameter written today.
                    crate::fhir::rest::stored(body)
                        .map(|resource| index(&resource))
                        .unwrap_or_default()
                },
            )
        })?;
        if let Some(count) = indexed {
            tracing::info!(
                version = upgrade.version,
                resource_type,
                param = upgrade.param,
                count,
                "search index upgraded: a new parameter indexed for the resources held"
            );
        }
    }
    Ok(())
}
