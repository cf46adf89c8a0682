//! Who is calling: the registry's access tokens and the keys that sign them.
//!
//! Callers present a bearer JWT with IHE IUA claims ([`token`]); the registry signs the
//! tokens it issues with its own ES256 keys ([`keys`]) and publishes their public halves
//! at `GET /auth/jwks`. SIHCE systems get tokens from `POST /auth/token` with client
//! credentials and `private_key_jwt` ([`endpoint`]); `renhice token issue` mints tokens
//! from the same key directory for administrators, development and tests. Who may do
//! what is [`access`].

pub mod access;
pub mod authority;
pub mod endpoint;
pub mod keys;
pub mod token;

pub use access::Caller;
pub use authority::{AuthConfig, Authority};
pub use keys::{KeyError, KeyRing};
pub use token::{Claims, Grant, Purpose, Role, TokenRejected};
