//! The registry's web app for people (clinicians, patients, auditors), served at `/`.
//!
//! The app is hand-written JavaScript modules, HTML and CSS under `web/` (see
//! `web/README.md` and docs/web-app.md), compiled into the binary: a health post on a
//! slow line gets it from the registry itself, with no CDN and no build step. It signs
//! people in as the public client `renhice-web` ([`crate::auth::signin`]) and reads the
//! registry's own FHIR API with their token, so every page is authorised and audited as
//! any client's requests are. Each file is sent with a strict Content-Security-Policy
//! (no inline script or style, nothing from elsewhere), an `ETag`, and `no-cache` so a
//! new release is picked up at once while an unchanged file costs a 304.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The Content-Security-Policy of the app's files.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// One file of the app.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../../web/app/", $name)),
        }
    };
}

/// Every file of `web/app/` (a test keeps this list equal to the directory).
static ASSETS: &[Asset] = &[
    asset!("audit.js", "text/javascript; charset=utf-8"),
    asset!("auth.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("fhir.js", "text/javascript; charset=utf-8"),
    asset!("format.js", "text/javascript; charset=utf-8"),
    asset!("i18n-en.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("main.js", "text/javascript; charset=utf-8"),
    asset!("page-accreditation.js", "text/javascript; charset=utf-8"),
    asset!("page-admin.js", "text/javascript; charset=utf-8"),
    asset!("page-auditor.js", "text/javascript; charset=utf-8"),
    asset!("page-clinician.js", "text/javascript; charset=utf-8"),
    asset!("page-home.js", "text/javascript; charset=utf-8"),
    asset!("page-patient.js", "text/javascript; charset=utf-8"),
    asset!("records.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
];

static INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../../../web/index.html"),
};

/// The `ETag` of each asset by name: a digest of its bytes.
static ETAGS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .chain(std::iter::once(&INDEX))
        .map(|a| {
            let digest = ring::digest::digest(&ring::digest::SHA256, a.bytes);
            let tag = digest.as_ref()[..12]
                .iter()
                .fold(String::new(), |mut hex, b| {
                    use std::fmt::Write;
                    let _ = write!(hex, "{b:02x}");
                    hex
                });
            (a.name, format!("\"{tag}\""))
        })
        .collect()
});

fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = ETAGS
        .iter()
        .find(|(n, _)| *n == asset.name)
        .map(|(_, t)| t.as_str())
        .unwrap_or_default();
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if unchanged {
        return res.finish();
    }
    res.content_type(asset.content_type).body(asset.bytes)
}

/// `GET /`: the app's page.
pub(crate) async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX)
}

/// `GET /app/{file}`: one of the app's files.
pub(crate) async fn file(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.name == name.as_str()) {
        Some(asset) => serve(&req, asset),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file in the web app"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_app_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/app");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk, "ASSETS lists exactly the files of web/app");
    }
}
