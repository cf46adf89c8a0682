//! FHIR XML on the REST API: bodies read as XML and answers written as XML on every
//! kind of endpoint, chosen by `Content-Type`, `Accept` (with weights) and `_format`;
//! errors in XML too, and a refused XML body stores nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use renhice_model::resources::Resource;
use renhice_testing::{TestDb, backend_tests};

use crate::{HOME_IPRESS, sihce, spawn};

const XML: &str = "application/fhir+xml";

fn rosa_xml(dni: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Rosa Quispe, as a SIHCE that speaks XML sends her -->
<Patient xmlns="http://hl7.org/fhir">
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Rosa Quispe Mamani, DNI {dni}</p></div>
  </text>
  <identifier>
    <type>
      <extension url="https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais">
        <valueCodeableConcept>
          <coding><system value="urn:iso:std:iso:3166"/><code value="PER"/></coding>
        </valueCodeableConcept>
      </extension>
      <coding>
        <system value="https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru"/>
        <code value="1"/>
      </coding>
    </type>
    <system value="urn:oid:2.16.604.1.1.1.1.1.1"/>
    <value value="{dni}"/>
  </identifier>
  <name>
    <family value="Quispe"/>
    <given value="Rosa"/>
    <given value="Mar&#237;a"/>
  </name>
  <gender value="female"/>
  <birthDate value="1985-03-14"/>
</Patient>"#
    )
}

/// Reads an XML answer with the model; the test fails if it is not FHIR XML.
async fn xml_answer(res: reqwest::Response) -> (StatusCode, Resource) {
    let status = res.status();
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    assert!(
        content_type.starts_with(XML),
        "{status}: answered {content_type}: {text}"
    );
    let resource = Resource::from_xml(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, resource)
}

fn as_json(resource: &Resource) -> Value {
    serde_json::from_slice(&resource.to_json()).unwrap()
}

async fn fhir_xml_is_read_and_written_on_every_endpoint(db: TestDb) {
    let app = spawn(&db).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let send = |method: Method, url: String, body: String| {
        api.request(method, &url)
            .header("content-type", XML)
            .header("accept", XML)
            .body(body)
            .send()
    };

    // Create in XML, answered in XML: the narrative and the character reference kept.
    let res = send(
        Method::POST,
        format!("{base}/fhir/Patient"),
        rosa_xml("45678912"),
    )
    .await
    .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (status, created) = xml_answer(res).await;
    assert_eq!(status, StatusCode::CREATED);
    let created = as_json(&created);
    assert_eq!(created["name"][0]["given"], json!(["Rosa", "María"]));
    assert_eq!(
        created["text"]["div"],
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Rosa Quispe Mamani, DNI 45678912</p></div>"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(
        location.contains(&format!("/fhir/Patient/{id}/")),
        "{location}"
    );
    let url = format!("{base}/fhir/Patient/{id}");

    // What JSON reads is what was sent as XML.
    let (status, read) = api.get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["birthDate"], "1985-03-14");

    // Negotiation: `_format`, `Accept` with weights; JSON when asked for or equal.
    for (accept, format, xml) in [
        (Some(XML), None, true),
        (Some("application/xml"), None, true),
        (Some("text/xml"), None, true),
        (Some("application/fhir+xml; fhirVersion=4.0"), None, true),
        (
            Some("application/fhir+json;q=0.5, application/fhir+xml"),
            None,
            true,
        ),
        (
            Some("application/fhir+xml;q=0.5, application/fhir+json"),
            None,
            false,
        ),
        (
            Some("application/fhir+json, application/fhir+xml"),
            None,
            false,
        ),
        (None, Some("xml"), true),
        (None, Some("application/fhir%2Bxml"), true),
        // The `+` a client did not percent-encode is still a plus.
        (None, Some("application/fhir+xml"), true),
        (Some("application/fhir+json;q=0, */*"), None, true),
        (Some("application/fhir+xml;q=0.9,"), None, true),
        (Some(XML), Some("json"), false),
        (None, None, false),
    ] {
        let target = match format {
            Some(f) => format!("{url}?_format={f}"),
            None => url.clone(),
        };
        let mut request = api.request(Method::GET, &target);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{accept:?} {format:?}");
        assert!(
            res.headers()
                .get_all("vary")
                .iter()
                .any(|v| v.to_str().unwrap().eq_ignore_ascii_case("accept")),
            "{:?}",
            res.headers()
        );
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(
            content_type.starts_with(XML),
            xml,
            "Accept {accept:?}, _format {format:?}: {content_type}"
        );
    }
    for accept in [
        "application/fhir+xml; fhirVersion=3.0",
        "application/fhir+xml;q=0",
    ] {
        let res = api
            .request(Method::GET, &url)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_ACCEPTABLE, "{accept}");
    }

    // A compressed XML body is read as a compressed JSON one is.
    let gzipped = {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(rosa_xml("45678915").as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let res = api
        .request(Method::POST, &format!("{base}/fhir/Patient"))
        .header("content-type", XML)
        .header("content-encoding", "gzip")
        .header("accept", XML)
        .body(gzipped)
        .send()
        .await
        .unwrap();
    let (status, _) = xml_answer(res).await;
    assert_eq!(status, StatusCode::CREATED);

    // An update in XML.
    let mut updated = rosa_xml("45678912").replace(
        "<Patient xmlns=\"http://hl7.org/fhir\">",
        &format!("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"{id}\"/>"),
    );
    updated = updated.replace("1985-03-14", "1985-03-15");
    let (status, after) = xml_answer(send(Method::PUT, url.clone(), updated).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(as_json(&after)["meta"]["versionId"], "2");

    // A search, a history, the CapabilityStatement, an operation and a batch, in XML.
    let pages = [
        (format!("{base}/fhir/Patient?identifier=45678912"), "Bundle"),
        (format!("{url}/_history"), "Bundle"),
        (format!("{base}/fhir/metadata"), "CapabilityStatement"),
        (
            format!(
                "{base}/fhir/Patient/$ihe-pix?sourceIdentifier=urn:oid:2.16.604.1.1.1.1.1.1|45678912"
            ),
            "Parameters",
        ),
    ];
    for (page, expected) in pages {
        let res = api
            .request(Method::GET, &page)
            .header("accept", XML)
            .send()
            .await
            .unwrap();
        let (status, resource) = xml_answer(res).await;
        assert_eq!(
            (status, resource.resource_type()),
            (StatusCode::OK, expected),
            "{page}"
        );
    }
    let (status, found) = xml_answer(
        api.request(
            Method::GET,
            &format!("{base}/fhir/Patient?identifier=45678912"),
        )
        .header("accept", XML)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let found = as_json(&found);
    assert_eq!(found["entry"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["entry"][0]["resource"]["id"], id.as_str());

    let batch = format!(
        r#"<Bundle xmlns="http://hl7.org/fhir"><type value="batch"/>
        <entry><request><method value="GET"/><url value="Patient/{id}"/></request></entry>
        <entry><request><method value="GET"/><url value="Patient/no-such-patient"/></request></entry>
        </Bundle>"#
    );
    let (status, answer) = xml_answer(
        send(Method::POST, format!("{base}/fhir"), batch)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let answer = as_json(&answer);
    assert_eq!(answer["type"], "batch-response");
    assert_eq!(answer["entry"][0]["resource"]["id"], id.as_str());
    assert!(
        answer["entry"][1]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("404")
    );

    let (status, outcome) = xml_answer(
        send(
            Method::POST,
            format!("{base}/fhir/Patient/$validate"),
            rosa_xml("45678912"),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, outcome.resource_type()),
        (StatusCode::OK, "OperationOutcome")
    );

    // Errors are OperationOutcomes in XML: the handler's, and the error handlers' own.
    let res = api
        .request(Method::GET, &format!("{base}/fhir/Patient/no-such-patient"))
        .header("accept", XML)
        .send()
        .await
        .unwrap();
    let (status, outcome) = xml_answer(res).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(as_json(&outcome)["issue"][0]["code"], "not-found");
    let res = api
        .request(Method::GET, &format!("{base}/fhir/Nothing/here/at/all"))
        .header("accept", XML)
        .send()
        .await
        .unwrap();
    let (status, outcome) = xml_answer(res).await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(outcome.resource_type(), "OperationOutcome");

    // A refused XML body: where it is wrong, in XML, and nothing stored.
    let before = db.snapshot();
    let broken = rosa_xml("45678913").replace(
        "<gender value=\"female\"/>",
        "<gender value=\"female\"/><id value=\"late\"/>",
    );
    let (status, outcome) = xml_answer(
        send(Method::POST, format!("{base}/fhir/Patient"), broken)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let outcome = as_json(&outcome);
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("out of order") && diagnostics.contains("line 28"),
        "{outcome}"
    );
    assert_eq!(
        outcome["issue"][0]["expression"][0], "Patient.id",
        "{outcome}"
    );
    let res = api
        .request(Method::POST, &format!("{base}/fhir/Patient"))
        .header("content-type", XML)
        .body(
            rosa_xml("45678914").replace("<gender value=\"female\"/>", "<gender value=\"robot\"/>"),
        )
        .send()
        .await
        .unwrap();
    // A gender outside its required value set: a 422, answered in JSON as asked.
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json")
    );
    assert_eq!(db.snapshot(), before, "a refused XML body stored something");
    app.stop().await;
}

backend_tests!(fhir_xml_is_read_and_written_on_every_endpoint);
