//! The FHIR REST API under `/fhir`: one module per interaction family. The routes that
//! reach them are the table of [`crate::routes`].

pub(crate) mod audit_events;
pub(crate) mod batch;
pub(crate) mod consent;
pub(crate) mod conventions;
pub(crate) mod locations;
pub(crate) mod pix;
pub(crate) mod push;
pub(crate) mod resources;
pub(crate) mod rest;
pub(crate) mod search;
pub(crate) mod summary;
pub(crate) mod validate;
pub(crate) mod verify_signature;
