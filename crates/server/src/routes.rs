//! The one table of the registry's HTTP interactions.
//!
//! Each route is declared once in [`ROUTES`]: its method, path, the resource types it
//! serves, what it is in FHIR's terms (an [`Kind`], with its IHE transaction) and its
//! handler. From the table come
//!
//! - the router ([`configure`]), a resource per path in table order, each route
//!   guarded by the types it serves;
//! - the refusals: a path that exists but not for this method or type is a 405 whose
//!   `Allow` header lists what the table offers there ([`refuse`]);
//! - the interaction each audit event records ([`classify`], also for batch entries);
//! - the CapabilityStatement's interactions and operations ([`crate::capability`]).
//!
//! Adding an operation is one entry here and its handler.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, guard, web};
use renhice_registry::ResourceType::{
    self, AuditEvent, Bundle, Consent, DocumentReference, List, Organization, Patient, Provenance,
};

use crate::{ApiError, accreditation, auth, fhir, health, webapp};

/// An HTTP method the table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
}

impl Method {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
        }
    }

    fn route(self) -> actix_web::Route {
        match self {
            Self::Get => web::get(),
            Self::Post => web::post(),
            Self::Put => web::put(),
        }
    }
}

/// What a route is, in FHIR's terms (the `restful-interaction` code of its audit
/// events and CapabilityStatement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `read`.
    Read,
    /// `vread`.
    Vread,
    /// `update` (also conditional).
    Update,
    /// `history-instance`.
    HistoryInstance,
    /// `history-type`.
    HistoryType,
    /// `create`.
    Create,
    /// `search-type`.
    SearchType,
    /// `transaction` (a push; a batch Bundle is answered entry by entry).
    Transaction,
    /// An operation, by name, with its definition's canonical URL.
    Operation {
        /// The name after `$`.
        name: &'static str,
        /// Its `OperationDefinition`.
        definition: &'static str,
    },
    /// `capabilities` (`GET /fhir/metadata`).
    Capabilities,
    /// The token endpoint (audited as a create, IHE IUA ITI-71).
    Token,
    /// Operational endpoints (health, metrics, keys): not FHIR, not audited.
    Operational,
}

impl Kind {
    /// The `restful-interaction` code.
    pub(crate) const fn code(self) -> &'static str {
        match self {
            Self::Read | Self::Operational => "read",
            Self::Vread => "vread",
            Self::Update => "update",
            Self::HistoryInstance => "history-instance",
            Self::HistoryType => "history-type",
            Self::Create | Self::Token => "create",
            Self::SearchType => "search-type",
            Self::Transaction => "transaction",
            Self::Operation { .. } => "operation",
            Self::Capabilities => "capabilities",
        }
    }

    /// The audit event's action: create, read, update or execute.
    pub(crate) const fn action(self) -> &'static str {
        match self {
            Self::Create | Self::Transaction => "C",
            Self::Update => "U",
            Self::Read
            | Self::Vread
            | Self::HistoryInstance
            | Self::HistoryType
            | Self::Operational => "R",
            Self::SearchType | Self::Operation { .. } | Self::Capabilities | Self::Token => "E",
        }
    }
}

/// The resource types a route serves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Types {
    /// None: the route is about the whole server.
    System,
    /// Any type named in the path (`$validate` validates any resource).
    Any,
    /// These types only (named in the path, or by the path itself).
    Only(&'static [ResourceType]),
}

impl Types {
    fn admits(self, t: Option<ResourceType>) -> bool {
        match self {
            Self::System | Self::Any => true,
            Self::Only(types) => t.is_some_and(|t| types.contains(&t)),
        }
    }
}

/// One route.
#[derive(Clone, Copy)]
pub(crate) struct Route {
    pub(crate) method: Method,
    /// The path, as actix patterns it (`{type}`, `{id}`, `{vid}`).
    pub(crate) path: &'static str,
    pub(crate) types: Types,
    pub(crate) kind: Kind,
    /// The IHE transaction it carries out.
    pub(crate) iti: Option<&'static str>,
    /// What the CapabilityStatement says of it beyond its kind ("" for nothing).
    pub(crate) doc: &'static str,
    /// Attaches the handler.
    handler: fn(actix_web::Route) -> actix_web::Route,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// The types whose resources are read by id, by version and by history.
const SERVED: &[ResourceType] = &ResourceType::SERVED;

const fn route(
    method: Method,
    path: &'static str,
    types: Types,
    kind: Kind,
    handler: fn(actix_web::Route) -> actix_web::Route,
) -> Route {
    Route {
        method,
        path,
        types,
        kind,
        iti: None,
        doc: "",
        handler,
    }
}

const fn iti(r: Route, iti: &'static str) -> Route {
    Route {
        iti: Some(iti),
        ..r
    }
}

const fn doc(r: Route, doc: &'static str) -> Route {
    Route { doc, ..r }
}

use Method::{Get, Post, Put};
use Types::{Any, Only, System};

/// Every route of the server, in the order the router tries its paths (operations
/// before `/fhir/{type}/{id}`, which would otherwise take `$ihe-pix` for an id).
pub(crate) static ROUTES: &[Route] = &[
    route(Get, "/", System, Kind::Operational, |r| r.to(webapp::index)),
    route(Get, "/app/{file}", System, Kind::Operational, |r| {
        r.to(webapp::file)
    }),
    route(Get, "/healthz", System, Kind::Operational, |r| {
        r.to(health::healthz)
    }),
    route(Get, "/readyz", System, Kind::Operational, |r| {
        r.to(health::readyz)
    }),
    route(Get, "/metrics", System, Kind::Operational, |r| {
        r.to(health::metrics)
    }),
    route(Get, "/auth/jwks", System, Kind::Operational, |r| {
        r.to(auth::endpoint::jwks)
    }),
    route(
        Get,
        "/.well-known/smart-configuration",
        System,
        Kind::Operational,
        |r| r.to(auth::endpoint::smart_configuration),
    ),
    iti(
        route(Post, "/auth/token", System, Kind::Token, |r| {
            r.to(auth::endpoint::token)
        }),
        "ITI-71",
    ),
    route(Get, "/auth/clients", System, Kind::Read, |r| {
        r.to(auth::clients::list)
    }),
    route(Put, "/auth/clients/{id}", System, Kind::Update, |r| {
        r.to(auth::clients::register)
    }),
    route(Get, "/accreditation/suites", System, Kind::Read, |r| {
        r.to(accreditation::list_suites)
    }),
    route(Get, "/accreditation/runs", System, Kind::SearchType, |r| {
        r.to(accreditation::list_runs)
    }),
    route(Post, "/accreditation/runs", System, Kind::Create, |r| {
        r.to(accreditation::start)
    }),
    route(Get, "/accreditation/runs/{id}", System, Kind::Read, |r| {
        r.to(accreditation::get_run)
    }),
    route(
        Get,
        "/accreditation/runs/{id}/{file}",
        System,
        Kind::Read,
        |r| r.to(accreditation::get_report),
    ),
    route(Get, "/auth/authorize", System, Kind::Operational, |r| {
        r.to(auth::signin::authorize)
    }),
    route(Get, "/auth/callback", System, Kind::Operational, |r| {
        r.to(auth::signin::callback)
    }),
    route(Post, "/auth/revoke", System, Kind::Operational, |r| {
        r.to(auth::signin::revoke)
    }),
    route(Post, "/auth/introspect", System, Kind::Operational, |r| {
        r.to(auth::signin::introspect)
    }),
    route(Get, "/auth/logout", System, Kind::Operational, |r| {
        r.to(auth::signin::logout)
    }),
    route(Get, "/auth/logged-out", System, Kind::Operational, |r| {
        r.to(auth::signin::logged_out)
    }),
    route(
        Get,
        "/auth/.well-known/openid-configuration",
        System,
        Kind::Operational,
        |r| r.to(auth::signin::openid_configuration),
    ),
    route(Get, "/fhir/metadata", System, Kind::Capabilities, |r| {
        r.to(health::metadata)
    }),
    iti(
        doc(
            route(Post, "/fhir", System, Kind::Transaction, |r| {
                r.to(fhir::push::system_bundle)
            }),
            "IHE MHD ITI-65: a SubmissionSet List, DocumentReferences and optional Provenance, atomic and idempotent per masterIdentifier",
        ),
        "ITI-65",
    ),
    doc(
        route(
            Post,
            "/fhir/$validate",
            System,
            Kind::Operation {
                name: "validate",
                definition: "http://hl7.org/fhir/OperationDefinition/Resource-validate",
            },
            |r| r.to(fhir::validate::any),
        ),
        "POST [base]/$validate or [base]/[type]/$validate: the resource (or a Parameters with a resource parameter) checked against FHIR R4; 200 with an OperationOutcome naming each issue's element path and rule",
    ),
    doc(
        route(
            Post,
            "/fhir/$verify-signature",
            System,
            Kind::Operation {
                name: "verify-signature",
                definition: fhir::verify_signature::DEFINITION,
            },
            |r| r.to(fhir::verify_signature::verify_signature),
        ),
        "POST [base]/$verify-signature: a signed Bundle or Provenance (or a Parameters with resource and target parameters) verified with the registry's trust anchors and revocation information, now; 200 with the report as an OperationOutcome (the ETSI indication and sub-indication, then one issue per check)",
    ),
    route(
        Post,
        "/fhir/{type}/$validate",
        Any,
        Kind::Operation {
            name: "validate",
            definition: "http://hl7.org/fhir/OperationDefinition/Resource-validate",
        },
        |r| r.to(fhir::validate::typed),
    ),
    iti(
        route(
            Get,
            "/fhir/Patient/$ihe-pix",
            Only(&[Patient]),
            Kind::Operation {
                name: "ihe-pix",
                definition: "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix",
            },
            |r| r.to(fhir::pix::ihe_pix),
        ),
        "ITI-83",
    ),
    route(
        Get,
        "/fhir/Patient/$record-locations",
        Only(&[Patient]),
        RECORD_LOCATIONS,
        |r| r.to(fhir::locations::for_identifier),
    ),
    route(
        Get,
        "/fhir/Patient/{id}/$record-locations",
        Only(&[Patient]),
        RECORD_LOCATIONS,
        |r| r.to(fhir::locations::for_instance),
    ),
    route(
        Get,
        "/fhir/Patient/$summary",
        Only(&[Patient]),
        SUMMARY,
        |r| r.to(fhir::summary::for_identifier),
    ),
    route(
        Get,
        "/fhir/Patient/{id}/$summary",
        Only(&[Patient]),
        SUMMARY,
        |r| r.to(fhir::summary::for_instance),
    ),
    iti(
        route(
            Get,
            "/fhir/AuditEvent",
            Only(&[AuditEvent]),
            Kind::SearchType,
            |r| r.to(fhir::audit_events::search),
        ),
        "ITI-81",
    ),
    route(
        Get,
        "/fhir/AuditEvent/$verify-chain",
        Only(&[AuditEvent]),
        Kind::Operation {
            name: "verify-chain",
            definition: fhir::audit_events::VERIFY_CHAIN,
        },
        |r| r.to(fhir::audit_events::verify_chain),
    ),
    iti(
        route(
            Get,
            "/fhir/AuditEvent/{id}",
            Only(&[AuditEvent]),
            Kind::Read,
            |r| r.to(fhir::audit_events::read),
        ),
        "ITI-81",
    ),
    iti(
        search(Post, "/fhir/{type}/_search", DocumentReference),
        "ITI-67",
    ),
    iti(search(Post, "/fhir/{type}/_search", List), "ITI-66"),
    iti(search(Post, "/fhir/{type}/_search", Patient), "ITI-78"),
    iti(search(Post, "/fhir/{type}/_search", Consent), "ITI-108"),
    search(Post, "/fhir/{type}/_search", Organization),
    iti(search(Get, "/fhir/{type}", DocumentReference), "ITI-67"),
    iti(search(Get, "/fhir/{type}", List), "ITI-66"),
    iti(search(Get, "/fhir/{type}", Patient), "ITI-78"),
    iti(search(Get, "/fhir/{type}", Consent), "ITI-108"),
    search(Get, "/fhir/{type}", Organization),
    doc(
        route(Post, "/fhir/{type}", Only(&[Bundle]), Kind::Create, |r| {
            r.to(fhir::summary::push)
        }),
        "Only a document Bundle: the patient's basic clinical information (BundlePe); the latest per patient and IPRESS is kept, earlier ones in its history",
    ),
    iti(
        route(Post, "/fhir/{type}", Only(&[Patient]), Kind::Create, |r| {
            r.to(fhir::resources::create)
        }),
        "ITI-104",
    ),
    route(
        Post,
        "/fhir/{type}",
        Only(&[Organization, Consent]),
        Kind::Create,
        |r| r.to(fhir::resources::create),
    ),
    iti(
        doc(
            route(Put, "/fhir/{type}", Only(&[Patient]), Kind::Update, |r| {
                r.to(fhir::resources::conditional_update)
            }),
            CONDITIONAL,
        ),
        "ITI-104",
    ),
    doc(
        route(
            Put,
            "/fhir/{type}",
            Only(&[Organization]),
            Kind::Update,
            |r| r.to(fhir::resources::conditional_update),
        ),
        CONDITIONAL,
    ),
    route(
        Get,
        "/fhir/{type}/_history",
        Only(&[Organization, Patient]),
        Kind::HistoryType,
        |r| r.to(fhir::resources::type_history),
    ),
    route(Get, "/fhir/{type}/{id}", Only(SERVED), Kind::Read, |r| {
        r.to(fhir::resources::read)
    }),
    iti(
        route(
            Put,
            "/fhir/{type}/{id}",
            Only(&[Patient]),
            Kind::Update,
            |r| r.to(fhir::resources::update),
        ),
        "ITI-104",
    ),
    route(
        Put,
        "/fhir/{type}/{id}",
        Only(&[Organization, Consent]),
        Kind::Update,
        |r| r.to(fhir::resources::update),
    ),
    doc(
        route(
            Put,
            "/fhir/{type}/{id}",
            Only(&[DocumentReference]),
            Kind::Update,
            |r| r.to(fhir::push::mark_entered_in_error),
        ),
        "Only to mark an entry entered-in-error: the entry as read with status entered-in-error",
    ),
    route(
        Get,
        "/fhir/{type}/{id}/_history",
        Only(SERVED),
        Kind::HistoryInstance,
        |r| r.to(fhir::resources::history),
    ),
    route(
        Get,
        "/fhir/{type}/{id}/_history/{vid}",
        Only(SERVED),
        Kind::Vread,
        |r| r.to(fhir::resources::vread),
    ),
];

const RECORD_LOCATIONS: Kind = Kind::Operation {
    name: "record-locations",
    definition: fhir::locations::DEFINITION,
};

const SUMMARY: Kind = Kind::Operation {
    name: "summary",
    definition: fhir::summary::DEFINITION,
};

const CONDITIONAL: &str = "Conditional update by identifier=[system|]value or identifier:of-type=type-system|type-code|value (PIXm ITI-104)";

const fn search(method: Method, path: &'static str, t: ResourceType) -> Route {
    let types: &'static [ResourceType] = match t {
        DocumentReference => &[DocumentReference],
        List => &[List],
        Patient => &[Patient],
        Consent => &[Consent],
        _ => &[Organization],
    };
    match method {
        Post => route(method, path, Only(types), Kind::SearchType, |r| {
            r.to(fhir::search::search_post)
        }),
        _ => route(method, path, Only(types), Kind::SearchType, |r| {
            r.to(fhir::search::search)
        }),
    }
}

/// The resource type a request path names: the segment after `/fhir/`.
fn path_type(path: &str) -> Option<ResourceType> {
    path.strip_prefix("/fhir/")?
        .split(['/', '?'])
        .next()?
        .parse()
        .ok()
}

/// Whether a table path (`/fhir/{type}/{id}`) matches a request path.
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) if w.starts_with('{') => {
                if h.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// The route a request names, if the table has one.
pub(crate) fn find(method: &str, path: &str) -> Option<&'static Route> {
    let t = path_type(path);
    ROUTES
        .iter()
        .find(|r| r.method.as_str() == method && matches(r.path, path) && r.types.admits(t))
}

/// What a request needs of a person's SMART scopes: the resource type and the letter of
/// `cruds` (read and vread, history and operations are reads; a search is `s`). `None`
/// for what scopes do not govern (the capability statement, `$validate`).
pub(crate) fn permission(method: &str, path: &str) -> Option<(&'static str, char)> {
    let route = find(method, path)?;
    let resource = match (path_type(path), route.types) {
        (Some(t), _) => t.as_str(),
        (None, Types::Only([t, ..])) => t.as_str(),
        // A transaction or batch at the base: what it needs is what its entries do, which
        // the push (`DocumentReference` and `List` create) and each batch entry check.
        (None, _) => return None,
    };
    let letter = match route.kind {
        Kind::Operation {
            name: "validate", ..
        }
        | Kind::Capabilities
        | Kind::Token
        | Kind::Operational => return None,
        Kind::Read | Kind::Vread | Kind::HistoryInstance | Kind::Operation { .. } => 'r',
        // SMART v2: a type's history is a search of the type.
        Kind::SearchType | Kind::HistoryType => 's',
        Kind::Create | Kind::Transaction => 'c',
        Kind::Update => 'u',
    };
    Some((resource, letter))
}

/// The interaction code, audit action and IHE transaction of a request line (or of a
/// batch entry, as `/fhir/{url}`). A request the table does not serve is named by its
/// method, as it was refused.
pub(crate) fn classify(
    method: &str,
    path: &str,
) -> (&'static str, &'static str, Option<&'static str>) {
    if let Some(r) = find(method, path) {
        return (r.kind.code(), r.kind.action(), r.iti);
    }
    match method {
        "POST" => ("create", "C", None),
        "PUT" => ("update", "U", None),
        "DELETE" => ("delete", "D", None),
        _ => ("read", "R", None),
    }
}

/// The `Allow` value of each path and type: the table's methods there.
static ALLOW: LazyLock<HashMap<(&'static str, Option<ResourceType>), String>> =
    LazyLock::new(|| {
        let mut allow: HashMap<(&'static str, Option<ResourceType>), Vec<&'static str>> =
            HashMap::new();
        for r in ROUTES {
            let types: Vec<Option<ResourceType>> = if r.path.contains("{type}") {
                ResourceType::ALL
                    .into_iter()
                    .filter(|t| r.types.admits(Some(*t)))
                    .map(Some)
                    .collect()
            } else {
                vec![None]
            };
            for t in types {
                let methods = allow.entry((r.path, t)).or_default();
                if !methods.contains(&r.method.as_str()) {
                    methods.push(r.method.as_str());
                }
            }
        }
        allow.into_iter().map(|(k, v)| (k, v.join(", "))).collect()
    });

/// The methods the table offers at a path (for a type named in it).
pub(crate) fn allowed(pattern: &'static str, t: Option<ResourceType>) -> &'static str {
    let key = (pattern, if pattern.contains("{type}") { t } else { None });
    ALLOW.get(&key).map_or("", String::as_str)
}

/// The answer to a request the table does not serve at a path it knows: the type is
/// not served (404), or the method is not offered for it (405 with `Allow`).
fn refuse(req: &HttpRequest, pattern: &'static str) -> ApiError {
    let named = req.match_info().get("type");
    let t = named.and_then(|name| name.parse::<ResourceType>().ok());
    if let Some(name) = named
        && t.is_none_or(|t| t == AuditEvent || !SERVED.contains(&t))
    {
        return ApiError::UnsupportedType {
            resource_type: name.to_owned(),
        };
    }
    let allow = allowed(pattern, t);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    match t {
        Some(t) if matches!(t, DocumentReference | List | Provenance) && method != "GET" => {
            ApiError::NotOffered {
                message: format!(
                    "{method} {path}: {t} entries are written only by an ITI-65 push (POST /fhir)"
                ),
                allow,
            }
        }
        _ if allow.is_empty() => ApiError::NotOffered {
            message: format!("{method} {path} is not offered (see /fhir/metadata)"),
            allow,
        },
        _ => ApiError::MethodNotAllowed {
            method,
            path,
            allow,
        },
    }
}

/// Registers every route of the table, a resource per path in table order.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&'static str> = Vec::new();
    for r in ROUTES {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        for r in ROUTES.iter().filter(|r| r.path == path) {
            let mut route = r.method.route();
            if let Only(types) = r.types
                && path.contains("{type}")
            {
                route = route.guard(guard::fn_guard(move |ctx| {
                    path_type(ctx.head().uri.path()).is_some_and(|t| types.contains(&t))
                }));
            }
            resource = resource.route((r.handler)(route));
        }
        resource = resource.default_service(web::to(move |req: HttpRequest| async move {
            Err::<HttpResponse, _>(refuse(&req, path))
        }));
        cfg.service(resource);
    }
}

/// What the table serves for a resource type: its interactions and operations, in
/// table order, each once.
pub(crate) fn of_type(t: ResourceType) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |r| match r.types {
        Only(types) => types.contains(&t),
        System | Any => false,
    })
}

/// The routes about the whole server.
pub(crate) fn system() -> impl Iterator<Item = &'static Route> {
    ROUTES
        .iter()
        .filter(|r| matches!(r.types, System) && r.path.starts_with("/fhir"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_classified_by_the_table() {
        assert_eq!(
            classify("POST", "/fhir"),
            ("transaction", "C", Some("ITI-65"))
        );
        assert_eq!(
            classify("GET", "/fhir/DocumentReference"),
            ("search-type", "E", Some("ITI-67"))
        );
        assert_eq!(
            classify("POST", "/fhir/List/_search"),
            ("search-type", "E", Some("ITI-66"))
        );
        assert_eq!(
            classify("GET", "/fhir/Patient/1/_history/2"),
            ("vread", "R", None)
        );
        assert_eq!(
            classify("PUT", "/fhir/Patient?identifier=x|1"),
            ("update", "U", Some("ITI-104"))
        );
        assert_eq!(classify("POST", "/fhir/Bundle"), ("create", "C", None));
        assert_eq!(
            classify("GET", "/fhir/Patient/x/$record-locations"),
            ("operation", "E", None)
        );
        assert_eq!(
            classify("GET", "/fhir/DocumentReference/x"),
            ("read", "R", None)
        );
        assert_eq!(classify("PUT", "/fhir/Consent/x"), ("update", "U", None));
        assert_eq!(
            classify("GET", "/fhir/Patient/$ihe-pix"),
            ("operation", "E", Some("ITI-83"))
        );
        assert_eq!(
            classify("POST", "/auth/token"),
            ("create", "E", Some("ITI-71"))
        );
        assert_eq!(classify("DELETE", "/fhir/Patient/1"), ("delete", "D", None));
        assert_eq!(classify("GET", "/fhir/Observation/1"), ("read", "R", None));
    }

    #[test]
    fn allow_lists_the_tables_methods() {
        assert_eq!(allowed("/fhir/{type}", Some(Patient)), "GET, POST, PUT");
        assert_eq!(allowed("/fhir/{type}", Some(Consent)), "GET, POST");
        assert_eq!(allowed("/fhir/{type}", Some(DocumentReference)), "GET");
        assert_eq!(
            allowed("/fhir/{type}/{id}", Some(DocumentReference)),
            "GET, PUT"
        );
        assert_eq!(allowed("/fhir/{type}/{id}", Some(List)), "GET");
        assert_eq!(allowed("/fhir/metadata", None), "GET");
        assert_eq!(allowed("/fhir", None), "POST");
    }

    #[test]
    fn each_route_is_declared_once() {
        for (i, r) in ROUTES.iter().enumerate() {
            for earlier in &ROUTES[..i] {
                let overlap = match (earlier.types, r.types) {
                    (Only(a), Only(b)) => a.iter().any(|t| b.contains(t)),
                    _ => true,
                };
                assert!(
                    !(earlier.method == r.method && earlier.path == r.path && overlap),
                    "{r:?} is declared twice"
                );
            }
        }
    }
}
