//! Who is calling: the registry's access tokens and the keys that sign them.
//!
//! Callers present a bearer JWT with IHE IUA claims ([`token`]); the registry signs the
//! tokens it issues with its own ES256 keys ([`keys`]) and publishes their public halves
//! at `GET /auth/jwks`. SIHCE systems get tokens from `POST /auth/token` with client
//! credentials and `private_key_jwt` ([`endpoint`]); `renhice token issue` mints tokens
//! from the same key directory for administrators, development and tests. People sign
//! in through apps ([`signin`]: SMART App Launch, authorization code with PKCE), proving
//! who they are at an OpenID Connect provider the registry federates to ([`idp`],
//! [`people`]); their tokens are the same tokens, naming the person and their sign-in,
//! narrowed by SMART scopes ([`scopes`]). Who may do what is [`access`].

pub mod access;
pub mod authority;
pub mod clients;
pub mod endpoint;
pub mod idp;
pub mod keys;
mod oauth;
pub mod people;
pub mod scopes;
pub mod sessions;
pub mod signin;
pub mod token;

pub use access::Caller;
pub use authority::{AuthConfig, Authority};
pub use keys::{KeyError, KeyRing};
pub use token::{Claims, Grant, Purpose, Role, TokenRejected};
