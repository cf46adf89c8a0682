//! What a server knows of people's sign-ins between requests: the identity providers'
//! client ([`Federation`]), whether each session is still alive, and which SMART scope
//! letter each route needs (the routes table's, handed in at start so that this module
//! knows no route).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use renhice_store::Store;
use renhice_store::sign_in as stored;

use super::idp::Federation;

/// How long a session's liveness is believed without asking the database again: a
/// session ended on this server is refused at once; one ended through another server
/// of a cluster, within this time.
const LIVENESS: Duration = Duration::from_secs(5);

/// The resource type and `cruds` letter a request line needs of a person's scopes
/// (`crate::routes::permission`), or `None` where scopes do not apply.
pub type Permission = fn(&str, &str) -> Option<(&'static str, char)>;

/// The sign-in service of one server.
#[derive(Debug)]
pub struct Sessions {
    /// The identity providers' client.
    pub(crate) federation: Federation,
    /// Session id → (alive, when last read).
    liveness: Mutex<HashMap<String, (bool, Instant)>>,
    /// What each request line needs of a person's scopes.
    pub(crate) permission: Permission,
}

impl Sessions {
    /// A sign-in service with its own HTTP client for the identity providers, judging
    /// scopes by `permission`.
    #[must_use]
    pub fn new(permission: Permission) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            federation: Federation::new(http),
            liveness: Mutex::new(HashMap::new()),
            permission,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (bool, Instant)>> {
        // A poisoned lock only means a holder panicked; the map is a cache.
        self.liveness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes that a session has ended (refused from now on, on this server).
    pub(crate) fn forget(&self, session: &str) {
        self.cache()
            .insert(session.to_owned(), (false, Instant::now()));
    }

    /// Whether the session is alive (ended sessions stay ended).
    pub(crate) async fn alive(
        &self,
        store: &Store,
        session: &str,
    ) -> Result<bool, renhice_store::StoreError> {
        if let Some((alive, read)) = self.cache().get(session).copied()
            && (!alive || read.elapsed() < LIVENESS)
        {
            return Ok(alive);
        }
        let id = session.to_owned();
        let found = store.run(move |conn| stored::session(conn, &id)).await?;
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        let alive = found.is_some_and(|s| s.alive_at(now));
        let mut cache = self.cache();
        if cache.len() > 100_000 {
            // Ended sessions are remembered for a day (longer than any session lives):
            // a revocation the database failed to record is known here at least.
            cache.retain(|_, (alive, read)| {
                read.elapsed()
                    < if *alive {
                        LIVENESS
                    } else {
                        Duration::from_hours(24)
                    }
            });
        }
        cache.insert(session.to_owned(), (alive, Instant::now()));
        Ok(alive)
    }
}
