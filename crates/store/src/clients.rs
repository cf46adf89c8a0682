//! The OAuth clients (SIHCE systems) of the registry's token endpoint, and the client
//! assertions they have used.

use diesel::prelude::*;

use crate::rows::AssertionRow;
use crate::schema::{auth_assertions, auth_clients};
use crate::{DbConnection, StoreError};

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = auth_clients)]
// Registering again replaces everything, a scope left out included.
#[diesel(treat_none_as_null = true)]
pub struct Client {
    /// The OAuth `client_id` (the `iss` and `sub` of its assertions).
    pub client_id: String,
    /// The RENIPRESS code of the IPRESS it acts for.
    pub renipress: String,
    /// Its public keys, a JSON Web Key Set.
    pub jwks: String,
    /// Whether it may obtain tokens.
    pub active: bool,
    /// When it was last registered or changed, microseconds since the Unix epoch.
    pub updated_at: i64,
    /// The SMART `system/` scopes its tokens may carry, space-separated; `None`: every
    /// scope its role allows (`system/*.cruds`).
    pub scope: Option<String>,
}

/// Registers `client`, or replaces what is held for its `client_id` (a key rotation, a
/// change of IPRESS, a deactivation): one statement, so concurrent registrations of one
/// client cannot both insert.
pub fn register(conn: &mut DbConnection, client: &Client) -> Result<(), StoreError> {
    on_backend!(
        conn,
        diesel::insert_into(auth_clients::table)
            .values(client)
            .on_conflict(auth_clients::client_id)
            .do_update()
            .set(client)
    )?;
    Ok(())
}

/// The client with this id, if registered.
pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<Client>, StoreError> {
    Ok(auth_clients::table
        .find(client_id)
        .select(Client::as_select())
        .first(conn)
        .optional()?)
}

/// Every registered client, by id.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, StoreError> {
    Ok(auth_clients::table
        .order(auth_clients::client_id)
        .select(Client::as_select())
        .load(conn)?)
}

/// Records the use of assertion `jti` by `client_id`, valid until `expires_at` (Unix
/// seconds); `false` if it was used before (a replay). The primary key decides, so two
/// concurrent uses of one assertion cannot both pass. Assertions expired before `now`
/// are forgotten on the way: they are refused for their `exp` anyway.
pub fn use_assertion(
    conn: &mut DbConnection,
    client_id: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    diesel::delete(auth_assertions::table.filter(auth_assertions::expires_at.lt(now)))
        .execute(conn)?;
    let used = AssertionRow {
        client_id,
        jti,
        expires_at,
    };
    let inserted = on_backend!(
        conn,
        diesel::insert_into(auth_assertions::table)
            .values(&used)
            .on_conflict_do_nothing()
    )?;
    Ok(inserted == 1)
}
