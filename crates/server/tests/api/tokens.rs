//! `POST /auth/token` over real HTTP: a SIHCE's client credentials with
//! `private_key_jwt`, and the assertions the endpoint must refuse.

use renhice_server::auth::KeyRing;
use renhice_store::clients::{self, Client};
use renhice_store::{DatabaseConfig, Store};
use renhice_testing::{TestDb, backend_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::push::identities;
use crate::spawn;

const CLIENT: &str = "sihce-santa-clara";

/// Registers (or re-registers) `CLIENT` for IPRESS 00012345 with the public half of
/// `keys`, as `renhice client register` does.
async fn register(db: &TestDb, keys: &KeyRing, active: bool) {
    register_scoped(db, keys, active, None).await;
}

/// [`register`], granting `scope` (all a SIHCE may do when `None`).
async fn register_scoped(db: &TestDb, keys: &KeyRing, active: bool, scope: Option<&str>) {
    let store = Store::connect(&DatabaseConfig {
        url: db.url().to_owned(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    let client = Client {
        client_id: CLIENT.to_owned(),
        renipress: crate::HOME_IPRESS.to_owned(),
        jwks: serde_json::to_string(&keys.jwks()).unwrap(),
        active,
        updated_at: 0,
        scope: scope.map(str::to_owned),
    };
    store
        .run(move |conn| clients::register(conn, &client))
        .await
        .unwrap();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A client assertion's claims, valid for the token endpoint of the default issuer.
fn assertion_claims() -> Value {
    json!({
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": "http://127.0.0.1:8080/auth/token",
        "iat": now(),
        "exp": now() + 240,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

async fn post_form(base: &str, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap()
}

async fn ask(base: &str, assertion: &str) -> (StatusCode, Value) {
    ask_for(base, assertion, Some("system/*.cruds")).await
}

/// A token request with `assertion`, asking for `scope` (none: what is registered).
async fn ask_for(base: &str, assertion: &str, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let res = post_form(base, &form).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn a_registered_sihce_gets_a_token_with_its_own_keys(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (patient, _) = identities(&app).await;
    let keys = KeyRing::ephemeral().unwrap();
    register(&db, &keys, true).await;

    let (status, config) = {
        let res = reqwest::get(format!("{base}/.well-known/smart-configuration"))
            .await
            .unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["token_endpoint"], "http://127.0.0.1:8080/auth/token");
    assert_eq!(
        config["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt", "none"]),
        "SIHCE systems sign assertions; people's apps are public clients with PKCE"
    );

    let assertion = keys.sign(&assertion_claims()).unwrap();
    let (status, answer) = ask(base, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["expires_in"], 300);
    assert_eq!(answer["scope"], "system/*.cruds", "{answer}");
    let token = answer["access_token"].as_str().unwrap();
    // The token is the SIHCE's, for its registered IPRESS.
    let res = reqwest::Client::new()
        .get(format!("{base}/fhir/Patient/{patient}/$record-locations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // The same assertion again: a replay.
    let (status, answer) = ask(base, &assertion).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{answer}"
    );

    // A clinician acting through the SIHCE, in an emergency.
    let mut claims = assertion_claims();
    claims["extensions"] = json!({
        "ihe_iua": {
            "national_provider_identifier": "01|012345",
            "subject_name": "Dr. Luis Huamán",
            "purpose_of_use": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "ETREAT"}
        },
        "renhice": {"emergency_reason": "accidente de tránsito, paciente inconsciente"}
    });
    let (status, answer) = ask(base, &keys.sign(&claims).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let granted = app
        .authority
        .clone()
        .verify(answer["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(granted.role, renhice_server::auth::Role::Clinician);
    assert_eq!(granted.purpose, renhice_server::auth::Purpose::Emergency);
    assert_eq!(granted.organization.as_deref(), Some(crate::HOME_IPRESS));
    assert_eq!(granted.practitioner.as_deref(), Some("01|012345"));
    app.stop().await;
}

async fn a_client_gets_only_the_scopes_it_is_registered_for(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let (patient, _) = identities(&app).await;
    let keys = KeyRing::ephemeral().unwrap();
    let registered = "system/Patient.rs system/DocumentReference.rs";
    register_scoped(&db, &keys, true, Some(registered)).await;
    let fresh = || keys.sign(&assertion_claims()).unwrap();
    // Asking for nothing: what the registration grants, said in the answer.
    let (status, answer) = ask_for(base, &fresh(), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["scope"], registered);
    // Asking for less: that.
    let (status, answer) = ask_for(base, &fresh(), Some("system/Patient.r")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["scope"], "system/Patient.r");
    let narrow = answer["access_token"].as_str().unwrap().to_owned();
    // Asking for more, or for a person's scopes: invalid_scope, no token.
    for asked in [
        "system/*.cruds",
        "system/Patient.cruds",
        "user/*.rs",
        "system/Patient.rx",
    ] {
        let (status, answer) = ask_for(base, &fresh(), Some(asked)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope")),
            "{asked}: {answer}"
        );
        assert!(answer.get("access_token").is_none(), "{answer}");
    }
    // The token does what its scopes allow and nothing else, whatever its role allows.
    let client = reqwest::Client::new();
    let read = client
        .get(format!("{base}/fhir/Patient/{patient}"))
        .bearer_auth(&narrow)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let search = client
        .get(format!("{base}/fhir/Patient?family=quispe"))
        .bearer_auth(&narrow)
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), StatusCode::FORBIDDEN);
    let body: Value = search.json().await.unwrap();
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .is_some_and(|d| d.contains("rule: scope") && d.contains("system/Patient.r")),
        "{body}"
    );
    let write = client
        .put(format!("{base}/fhir/Patient/{patient}"))
        .bearer_auth(&narrow)
        .header("content-type", "application/fhir+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    // Nor by another way in: a percent-encoded path, a type's history (a search), the
    // entries of a batch, a push.
    for url in [
        format!("{base}/fhir/Pati%65nt?family=quispe"),
        format!("{base}/fhir/Patient/_history"),
    ] {
        let res = client.get(&url).bearer_auth(&narrow).send().await.unwrap();
        // 403 by the scope, or 405 where the encoded type matches no route at all.
        assert!(
            matches!(res.status().as_u16(), 403 | 405),
            "{url}: {}",
            res.status()
        );
    }
    let person = json!({"resourceType": "Patient",
        "identifier": [serde_json::to_value(renhice_model::peru::PersonId::dni("41234567").unwrap().to_identifier()).unwrap()],
        "name": [{"family": "Huamán", "given": ["Julia"]}]});
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": person, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": format!("Patient/{patient}")}}
    ]});
    let res = client
        .post(format!("{base}/fhir"))
        .bearer_auth(&narrow)
        .header("content-type", "application/fhir+json")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let answered: Value = res.json().await.unwrap();
    assert_eq!(
        answered["entry"][0]["response"]["status"], "403 Forbidden",
        "{answered}"
    );
    assert_eq!(
        answered["entry"][1]["response"]["status"], "200 OK",
        "{answered}"
    );
    let res = client
        .post(format!("{base}/fhir"))
        .bearer_auth(&narrow)
        .header("content-type", "application/fhir+json")
        .body(crate::push::push(&patient, "x", "urn:oid:1.2.604.55", &[1]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn bad_client_assertions_get_no_token(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let keys = KeyRing::ephemeral().unwrap();
    register(&db, &keys, true).await;
    let sign = |edit: &dyn Fn(&mut Value)| {
        let mut claims = assertion_claims();
        edit(&mut claims);
        keys.sign(&claims).unwrap()
    };
    let stranger = KeyRing::ephemeral().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another audience",
            sign(&|c| c["aud"] = json!("https://elsewhere.example/token")),
            "aud",
        ),
        (
            "expired",
            sign(&|c| {
                c["iat"] = json!(now() - 900);
                c["exp"] = json!(now() - 600);
            }),
            "expired",
        ),
        (
            "too long",
            sign(&|c| c["exp"] = json!(now() + 3600)),
            "at most 300",
        ),
        (
            "no jti",
            sign(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "jti",
        ),
        (
            "not valid yet",
            sign(&|c| c["nbf"] = json!(now() + 600)),
            "not valid yet",
        ),
        (
            "sub is not the client",
            sign(&|c| c["sub"] = json!("someone-else")),
            "iss and sub",
        ),
        (
            "unknown client",
            sign(&|c| {
                c["iss"] = json!("nobody");
                c["sub"] = json!("nobody");
            }),
            "no active client",
        ),
        (
            "a key not registered",
            stranger.sign(&assertion_claims()).unwrap(),
            "not among the client's registered keys",
        ),
        (
            "alg none",
            {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                format!(
                    "{}.{}.",
                    b64.encode(r#"{"alg":"none"}"#),
                    b64.encode(assertion_claims().to_string())
                )
            },
            "not a JWT",
        ),
    ];
    for (what, assertion, reason) in cases {
        let (status, answer) = ask(base, &assertion).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(answer["error"], "invalid_client", "{what}");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{what}: {answer}"
        );
    }
    // Another grant type, or no assertion.
    let res = post_form(
        base,
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "admin"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    // Keys rotate by registering again: the old key stops working at once.
    let rotated = KeyRing::ephemeral().unwrap();
    register(&db, &rotated, true).await;
    let (status, _) = ask(base, &keys.sign(&assertion_claims()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = ask(base, &rotated.sign(&assertion_claims()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    // A disabled client gets nothing.
    register(&db, &rotated, false).await;
    let (status, answer) = ask(base, &rotated.sign(&assertion_claims()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    app.stop().await;
}

async fn an_administrator_registers_clients_over_the_api(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    identities(&app).await;
    let keys = KeyRing::ephemeral().unwrap();
    let url = format!("{base}/auth/clients/{CLIENT}");
    let body = json!({"renipress": crate::HOME_IPRESS, "jwks": keys.jwks()});
    let (status, refused) = app
        .client(&crate::sihce(crate::HOME_IPRESS))
        .put(&url, &body)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let admin = app.client(&crate::admin());
    let (status, shown) = admin.put(&url, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{shown}");
    assert_eq!(shown["renipress"], crate::HOME_IPRESS);
    assert_eq!(shown["kids"], json!(keys.kids()));
    assert!(shown.get("jwks").is_none(), "keys are shown by id only");
    assert_eq!(
        shown["scope"], "system/*.cruds",
        "all a SIHCE may do, by default"
    );
    // The client gets a token with its key at once.
    let (status, answer) = ask(base, &keys.sign(&assertion_claims()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Bad registrations name what is wrong and change nothing.
    let private = json!({"renipress": crate::HOME_IPRESS, "jwks": {"keys": [{"kty": "EC", "kid": "p", "crv": "P-256", "d": "x", "x": "y", "y": "z"}]}});
    let (status, outcome) = admin.put(&url, &private).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert!(outcome.to_string().contains("private key"), "{outcome}");
    let (status, outcome) = admin
        .put(&url, &json!({"renipress": "123", "jwks": keys.jwks()}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    for (body, says) in [
        (
            json!({"renipress": "00099999", "jwks": keys.jwks()}),
            "no IPRESS",
        ),
        (
            json!({"renipress": crate::HOME_IPRESS, "jwks": {"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "k", "x": "AAAA", "y": "AAAA"}]}}),
            "usable",
        ),
        (
            json!({"renipress": crate::HOME_IPRESS, "scope": "user/*.rs"}),
            "system/",
        ),
    ] {
        let (status, outcome) = admin.put(&url, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
        assert!(outcome.to_string().contains(says), "{says}: {outcome}");
    }
    let (status, outcome) = admin
        .put(
            &format!("{base}/auth/clients/otro"),
            &json!({"renipress": crate::HOME_IPRESS}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a new client needs keys: {outcome}"
    );
    let (status, _) = admin
        .put(&format!("{base}/auth/clients/renhice-web"), &body)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the web app's id is reserved"
    );
    let (status, listed) = admin.get(&format!("{base}/auth/clients")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["clients"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["clients"][0]["active"], true,
        "the refused changes changed nothing"
    );
    // Its scopes narrowed, keys kept: its next token carries no more than those.
    let (status, shown) = admin
        .put(
            &url,
            &json!({"renipress": crate::HOME_IPRESS, "scope": "system/DocumentReference.rs"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["scope"], "system/DocumentReference.rs");
    let (status, answer) = ask_for(base, &keys.sign(&assertion_claims()).unwrap(), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["scope"], "system/DocumentReference.rs");
    // Disabled without repeating its keys: no more tokens.
    let (status, _) = admin
        .put(
            &url,
            &json!({"renipress": crate::HOME_IPRESS, "active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ask(base, &keys.sign(&assertion_claims()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

backend_tests!(
    a_client_gets_only_the_scopes_it_is_registered_for,
    a_registered_sihce_gets_a_token_with_its_own_keys,
    bad_client_assertions_get_no_token,
    an_administrator_registers_clients_over_the_api
);
