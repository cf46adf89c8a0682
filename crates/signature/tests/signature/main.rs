//! Tests of the signature verifier against a test PKI generated for the run.

#![allow(missing_docs, reason = "tests")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step must stop the test"
)]

mod cases;
mod display;
mod fixture;
mod ocsp;
mod openssl;
mod pades;
mod pkits;
mod profile;
mod timestamp;
