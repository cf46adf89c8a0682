//! People's sign-ins: the sessions the registry's authorization server opens for people
//! signed in at an identity provider, and the single-use handles of a sign-in (a login in
//! flight, an authorization code, a refresh token).
//!
//! Handles are stored by digest only; the server hashes what it gives out. Using a handle
//! is one `UPDATE … WHERE used_at IS NULL`: of two concurrent uses exactly one succeeds,
//! and the other learns that the handle was used (which, for a refresh token, means it
//! was stolen or replayed, and the server ends the session).

use diesel::prelude::*;

use crate::schema::{sign_in_handles, sign_in_sessions};
use crate::{DbConnection, StoreError};

/// A sign-in session.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_sessions)]
pub struct Session {
    /// The session id (`sid` of its tokens).
    pub id: String,
    /// The app the person signed in to.
    pub client_id: String,
    /// `provider|sub`.
    pub subject: String,
    /// The person as recognised, JSON.
    pub person: String,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds: no token of the session is honoured after it.
    pub expires_at: i64,
    /// When it ended before expiring (Unix seconds).
    pub ended_at: Option<i64>,
    /// Why it ended: `logout`, `revoked`, `refresh-token-reused`, `code-reused`.
    pub ended_why: Option<String>,
}

impl Session {
    /// Whether its tokens are honoured at `now` (Unix seconds).
    #[must_use]
    pub fn alive_at(&self, now: i64) -> bool {
        self.ended_at.is_none() && now < self.expires_at
    }
}

/// A single-use handle.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_handles)]
pub struct Handle {
    /// SHA-256 of the handle, hex.
    pub digest: String,
    /// `login`, `code` or `refresh`.
    pub kind: String,
    /// The session it belongs to (codes and refresh tokens).
    pub session_id: Option<String>,
    /// What it carries, JSON.
    pub payload: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was used (Unix seconds).
    pub used_at: Option<i64>,
}

/// What became of an attempt to use a handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Unused and unexpired until now: it is used from now on.
    Fresh(Handle),
    /// It was used before (a replay).
    Reused(Handle),
    /// It expired unused.
    Expired,
    /// No such handle of that kind.
    Unknown,
}

/// Opens `session` with its first handle (the authorization code), in one transaction.
pub fn open(
    conn: &mut DbConnection,
    session: &Session,
    first: &Handle,
    now: i64,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::insert_into(sign_in_sessions::table)
            .values(session)
            .execute(conn)?;
        put(conn, first, now)
    })
}

/// The session with this id.
pub fn session(conn: &mut DbConnection, id: &str) -> Result<Option<Session>, StoreError> {
    Ok(sign_in_sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()?)
}

/// Ends a session at `now` for `why`; `false` if it had ended already (or is unknown).
/// Its unused handles are spent with it.
pub fn end(conn: &mut DbConnection, id: &str, now: i64, why: &str) -> Result<bool, StoreError> {
    conn.transaction(|conn| {
        let ended = diesel::update(
            sign_in_sessions::table
                .filter(sign_in_sessions::id.eq(id))
                .filter(sign_in_sessions::ended_at.is_null()),
        )
        .set((
            sign_in_sessions::ended_at.eq(now),
            sign_in_sessions::ended_why.eq(why),
        ))
        .execute(conn)?;
        diesel::update(
            sign_in_handles::table
                .filter(sign_in_handles::session_id.eq(id))
                .filter(sign_in_handles::used_at.is_null()),
        )
        .set(sign_in_handles::used_at.eq(now))
        .execute(conn)?;
        Ok(ended == 1)
    })
}

/// Stores a new handle at `now` (Unix seconds); handles expired for a day are forgotten on the way (their use
/// would be refused as unknown instead of as expired, which tells an attacker nothing).
pub fn put(conn: &mut DbConnection, handle: &Handle, now: i64) -> Result<(), StoreError> {
    diesel::delete(
        sign_in_handles::table.filter(sign_in_handles::expires_at.lt(now.saturating_sub(86_400))),
    )
    .execute(conn)?;
    diesel::insert_into(sign_in_handles::table)
        .values(handle)
        .execute(conn)?;
    Ok(())
}

/// Uses the handle with `digest` of `kind` at `now`: at most one caller ever gets
/// [`Taken::Fresh`] for a handle.
pub fn take(
    conn: &mut DbConnection,
    digest: &str,
    kind: &str,
    now: i64,
) -> Result<Taken, StoreError> {
    let used = diesel::update(
        sign_in_handles::table
            .filter(sign_in_handles::digest.eq(digest))
            .filter(sign_in_handles::kind.eq(kind))
            .filter(sign_in_handles::used_at.is_null())
            .filter(sign_in_handles::expires_at.gt(now)),
    )
    .set(sign_in_handles::used_at.eq(now))
    .execute(conn)?;
    let found: Option<Handle> = sign_in_handles::table
        .find(digest)
        .filter(sign_in_handles::kind.eq(kind))
        .select(Handle::as_select())
        .first(conn)
        .optional()?;
    Ok(match found {
        None => Taken::Unknown,
        Some(h) if used == 1 => Taken::Fresh(h),
        Some(h) if h.used_at.is_some() => Taken::Reused(h),
        Some(_) => Taken::Expired,
    })
}

/// The handle with `digest`, without using it (introspection).
pub fn peek(conn: &mut DbConnection, digest: &str) -> Result<Option<Handle>, StoreError> {
    Ok(sign_in_handles::table
        .find(digest)
        .select(Handle::as_select())
        .first(conn)
        .optional()?)
}
