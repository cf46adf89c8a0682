//! `renhice bench`: loads a synthetic slice of the nation into a running registry and
//! measures it, over HTTP, as SIHCE systems and clinicians would use it.
//!
//! 1. **Feed**: the IPRESS and the patients, as batch Bundles of conditional updates
//!    (PIXm ITI-104 by RENIPRESS code and by DNI), so a second run finds the same records.
//! 2. **Load**: ITI-65 pushes of `--bundle` documents each until `--entries` index
//!    entries were pushed, from `--clients` concurrent clients. Each patient is seen at
//!    one to three IPRESS; a push is one patient at one of them; document types, dates
//!    and categories vary.
//! 3. **Push, measured**: `--measure-entries` more entries in the same way, on the
//!    loaded database: entries per second and the latency of a push.
//! 4. **Queries, measured**: `--queries` `Patient/$record-locations?identifier=DNI` and
//!    as many ITI-67 searches by `patient.identifier`, for random patients, from
//!    `--clients` clients: latency percentiles and throughput.
//!
//! Identifiers of documents carry the run's start time, so runs never replay each other.
//!
//! Every request carries a token minted from the registry's key directory (the same
//! configuration `renhice serve` reads, `--config`), as each caller would: an
//! administrator registers the IPRESS, a SIHCE feeds the patients, each IPRESS's SIHCE
//! pushes its own entries, `$record-locations` is asked by a clinician under emergency
//! access (so the answer lists every IPRESS, the heaviest case) and ITI-67 by the
//! patients themselves (so they see all their entries). Tokens are minted before each
//! phase's clock starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use renhice_model::peru::{PersonId, Renipress};
use renhice_model::resources::{Organization, Patient, Resource};
use renhice_model::types::HumanName;
use renhice_server::Authority;
use renhice_server::auth::{Grant, KeyRing, Purpose, Role};
use serde_json::{Value, json};

/// Options of `renhice bench`.
#[derive(Debug, clap::Args)]
#[allow(
    clippy::doc_markdown,
    reason = "clap shows these comments as --help text, where backticks would show"
)]
pub(crate) struct BenchArgs {
    /// FHIR base URL of the registry under load.
    #[arg(long, default_value = "http://127.0.0.1:8080/fhir")]
    pub(crate) target: String,
    /// Patients to feed (DNI 10000000 + n).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) patients: u32,
    /// IPRESS to feed (RENIPRESS 00010000 + n).
    #[arg(long, default_value_t = 500)]
    pub(crate) ipress: u32,
    /// Index entries to push before measuring (0: measure the registry as it is).
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) entries: u64,
    /// Documents per push.
    #[arg(long, default_value_t = 10)]
    pub(crate) bundle: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub(crate) clients: usize,
    /// Entries pushed in the measured push phase.
    #[arg(long, default_value_t = 50_000)]
    pub(crate) measure_entries: u64,
    /// Queries of each kind in the measured query phase.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) queries: u64,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Configuration file of the registry under load, for its token keys and audience
    /// [env: RENHICE_CONFIG].
    #[arg(long, env = "RENHICE_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
}

/// Mints the tokens of the callers the benchmark plays.
struct Tokens(Authority);

impl Tokens {
    fn load(config: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let config = crate::config::load(&crate::config::Overrides {
            config_file: config.map(std::path::Path::to_path_buf),
            ..crate::config::Overrides::default()
        })?
        .config
        .auth;
        let keys = KeyRing::open(&config.keys_dir).with_context(|| {
            format!(
                "cannot open the registry's token keys in {} (run the benchmark where the \
                 server runs, or give its --config)",
                config.keys_dir.display()
            )
        })?;
        Ok(Self(Authority::new(config, keys)))
    }

    fn issue(&self, grant: &Grant) -> anyhow::Result<String> {
        // A benchmark outlasts the usual five minutes; the longest lifetime accepted.
        let lifetime = self.0.config.max_token_lifetime_secs;
        Ok(self.0.issue(grant, Some(lifetime))?)
    }

    fn grant(role: Role, organization: Option<String>, person: Option<String>) -> Grant {
        // One subject per SIHCE, clinician's IPRESS and patient: the registry limits
        // each client's rate, as it would each of theirs.
        let whose = organization
            .as_deref()
            .or(person.as_deref())
            .unwrap_or("registry");
        Grant {
            subject: format!("bench-{role}-{whose}"),
            role,
            practitioner: (role == Role::Clinician).then(|| "01|000001".to_owned()),
            organization,
            name: None,
            person,
            purpose: Purpose::Treat,
            emergency_reason: None,
            sign_in: None,
            system_scope: None,
        }
    }

    fn admin(&self) -> anyhow::Result<String> {
        self.issue(&Self::grant(Role::Admin, None, None))
    }

    fn sihce(&self, renipress: &str) -> anyhow::Result<String> {
        self.issue(&Self::grant(Role::System, Some(renipress.to_owned()), None))
    }

    fn emergency(&self, renipress: &str) -> anyhow::Result<String> {
        let mut grant = Self::grant(Role::Clinician, Some(renipress.to_owned()), None);
        grant.purpose = Purpose::Emergency;
        grant.emergency_reason = Some("load test".to_owned());
        self.issue(&grant)
    }

    /// A clinician under emergency access at each of `clients` IPRESS (of `ipress`), to
    /// take turns.
    fn emergency_clinicians(&self, clients: usize, ipress: u32) -> anyhow::Result<Vec<String>> {
        (0..clients)
            .map(|n| self.emergency(&renipress(u32::try_from(n).unwrap_or(0) % ipress.max(1))))
            .collect()
    }

    fn patient(&self, dni: u32) -> anyhow::Result<String> {
        self.issue(&Self::grant(
            Role::Patient,
            None,
            Some(format!("1|PER|{dni}")),
        ))
    }
}

/// LOINC document types a registry sees most, with a category each.
const TYPES: [(&str, &str); 6] = [
    ("34133-9", "Summary of episode note"),
    ("11488-4", "Consult note"),
    ("18842-5", "Discharge summary"),
    ("11502-2", "Laboratory report"),
    ("18748-4", "Diagnostic imaging study"),
    ("57133-1", "Referral note"),
];

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.bundle == 0 || args.clients == 0 || args.patients == 0 || args.ipress == 0 {
        bail!("--bundle, --clients, --patients and --ipress must be at least 1");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(args))
}

/// What the load needs to know about the fed records.
struct Slice {
    target: String,
    patients: Vec<String>,
    ipress: Vec<String>,
    /// The token of each IPRESS's SIHCE, in the order of `ipress`.
    sihce_tokens: Vec<String>,
    bundle: u32,
    seed: u64,
    run: u128,
}

async fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .timeout(Duration::from_mins(2))
        .build()?;
    let target = args.target.trim_end_matches('/').to_owned();
    let tokens = Tokens::load(args.config.as_deref())?;
    let sihce_tokens = (0..args.ipress)
        .map(|n| tokens.sihce(&renipress(n)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let admin = tokens.admin()?;
    let ipress = feed(
        &client,
        &target,
        &admin,
        args.ipress,
        args.clients,
        organization,
    )
    .await?;
    let patients = feed(
        &client,
        &target,
        &sihce_tokens[0],
        args.patients,
        args.clients,
        patient,
    )
    .await?;
    eprintln!(
        "fed {} IPRESS and {} patients in {:.1} s",
        ipress.len(),
        patients.len(),
        started.elapsed().as_secs_f64()
    );
    let slice = Arc::new(Slice {
        target: target.clone(),
        patients,
        ipress,
        sihce_tokens,
        bundle: args.bundle,
        seed: args.seed,
        run: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    });
    let bundle = u64::from(args.bundle);
    if args.entries > 0 {
        let load = pushes(
            &client,
            &slice,
            0,
            args.entries.div_ceil(bundle),
            args.clients,
        )
        .await?;
        println!("load: {}", load.line(bundle));
    }
    let first = args.entries.div_ceil(bundle);
    let measured = pushes(
        &client,
        &slice,
        first,
        args.measure_entries.div_ceil(bundle),
        args.clients,
    )
    .await?;
    println!("push (measured): {}", measured.line(bundle));
    let patients = args.patients;
    let dni = move |rng: &mut fastrand::Rng| 10_000_000 + rng.u32(..patients);
    let emergency = tokens.emergency_clinicians(args.clients, args.ipress)?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let requests = (0..args.queries)
        .map(|i| {
            (
                format!(
                    "{target}/Patient/$record-locations?identifier={}",
                    dni(&mut rng)
                ),
                emergency[usize::try_from(i).unwrap_or(0) % emergency.len()].clone(),
            )
        })
        .collect();
    let locations = queries(&client, requests, args.clients).await?;
    println!("$record-locations: {}", locations.line(1));
    let mut rng = fastrand::Rng::with_seed(args.seed + 1);
    let requests = (0..args.queries)
        .map(|_| {
            let dni = dni(&mut rng);
            Ok((
                format!("{target}/DocumentReference?patient.identifier={dni}&status=current"),
                tokens.patient(dni)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let search = queries(&client, requests, args.clients).await?;
    println!("ITI-67 search: {}", search.line(1));
    Ok(())
}

/// The RENIPRESS code of IPRESS number `n`.
fn renipress(n: u32) -> String {
    format!("{:08}", 10_000 + n)
}

fn organization(n: u32) -> (String, Resource) {
    let code = renipress(n);
    let renipress = Renipress::parse(&code).unwrap_or_else(|_| unreachable_code(&code));
    let org = Organization {
        identifier: vec![renipress.to_identifier()],
        name: Some(format!("IPRESS {code}").into()),
        active: Some(true.into()),
        ..Organization::default()
    };
    (
        format!("Organization?identifier={code}"),
        Resource::Organization(Box::new(org)),
    )
}

fn unreachable_code(code: &str) -> Renipress {
    // Eight digits always parse; a failure here is a bug in this tool.
    panic!("{code} is not a RENIPRESS code")
}

const GIVEN: [&str; 8] = [
    "Rosa", "Juan", "María", "José", "Lucía", "Carlos", "Ana", "Luis",
];
const SURNAMES: [&str; 8] = [
    "Quispe", "Mamani", "Huamán", "Flores", "Rojas", "Sánchez", "García", "Chávez",
];

fn patient(n: u32) -> (String, Resource) {
    let dni = format!("{}", 10_000_000 + n);
    let i = n as usize;
    let patient = Patient {
        identifier: PersonId::dni(&dni)
            .map(|id| vec![id.to_identifier()])
            .unwrap_or_default(),
        name: vec![HumanName::peruvian(
            &[GIVEN[i % 8]],
            SURNAMES[(i / 8) % 8],
            Some(SURNAMES[(i / 64) % 8]),
        )],
        ..Patient::default()
    };
    (
        format!("Patient?identifier={dni}"),
        Resource::Patient(Box::new(patient)),
    )
}

/// Feeds `count` records made by `make` as batches of 100 conditional updates; returns
/// their ids in order.
async fn feed(
    client: &reqwest::Client,
    target: &str,
    token: &str,
    count: u32,
    clients: usize,
    make: fn(u32) -> (String, Resource),
) -> anyhow::Result<Vec<String>> {
    let chunks: Vec<(u32, u32)> = (0..count)
        .step_by(100)
        .map(|start| (start, (start + 100).min(count)))
        .collect();
    let mut ids = vec![String::new(); count as usize];
    for group in chunks.chunks(clients) {
        let mut tasks = Vec::new();
        for &(start, end) in group {
            let (client, target, token) = (client.clone(), target.to_owned(), token.to_owned());
            tasks.push(tokio::spawn(async move {
                let entries: Vec<Value> = (start..end)
                    .map(|n| {
                        let (url, resource) = make(n);
                        json!({
                            "resource": serde_json::from_slice::<Value>(&resource.to_json()).unwrap_or_default(),
                            "request": {"method": "PUT", "url": url}
                        })
                    })
                    .collect();
                let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": entries});
                let response: Value = post(&client, &target, &token, &bundle).await?;
                let mut out = Vec::new();
                for (n, entry) in (start..end).zip(response["entry"].as_array().into_iter().flatten()) {
                    let location = entry["response"]["location"].as_str().unwrap_or_default();
                    let status = entry["response"]["status"].as_str().unwrap_or_default();
                    let id = location.split('/').nth(1).unwrap_or_default();
                    if id.is_empty() {
                        bail!("feeding record {n} failed: {status} {}", entry["response"]["outcome"]);
                    }
                    out.push((n, id.to_owned()));
                }
                Ok::<_, anyhow::Error>(out)
            }));
        }
        for task in tasks {
            for (n, id) in task.await?? {
                ids[n as usize] = id;
            }
        }
    }
    Ok(ids)
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("reading the answer")?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {body}");
    }
    Ok(body)
}

/// The push numbered `n` of this run: a SubmissionSet and `bundle` documents for one
/// patient at one of the IPRESS that patient attends, and that IPRESS's place in
/// `slice.ipress` (its SIHCE sends the push).
fn push_bundle(slice: &Slice, n: u64) -> (Value, usize) {
    let mut rng = fastrand::Rng::with_seed(slice.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let p = rng.usize(..slice.patients.len());
    // Each patient attends one to three IPRESS, fixed by the patient's number.
    let mut home = fastrand::Rng::with_seed(slice.seed ^ (p as u64));
    let seen_at = 1 + home.usize(..3);
    let places: Vec<usize> = (0..seen_at)
        .map(|_| home.usize(..slice.ipress.len()))
        .collect();
    let at = places[rng.usize(..places.len())];
    let ipress = &slice.ipress[at];
    let patient = &slice.patients[p];
    let run = slice.run;
    let mut entry = vec![json!({
        "fullUrl": format!("urn:uuid:{:08x}-0000-4000-8000-{:012x}", n & 0xffff_ffff, 0),
        "resource": {
            "resourceType": "List",
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.{run}.{n}")}],
            "status": "current",
            "mode": "working",
            "subject": {"reference": format!("Patient/{patient}")}
        },
        "request": {"method": "POST", "url": "List"}
    })];
    for d in 0..slice.bundle {
        let (code, display) = TYPES[rng.usize(..TYPES.len())];
        let year = 2015 + rng.u32(..12);
        let date = format!(
            "{year}-{:02}-{:02}T{:02}:{:02}:00-05:00",
            1 + rng.u32(..12),
            1 + rng.u32(..28),
            7 + rng.u32(..12),
            rng.u32(..60)
        );
        entry.push(json!({
            "fullUrl": format!("urn:uuid:{:08x}-0000-4000-8000-{:012x}", n & 0xffff_ffff, d + 1),
            "resource": {
                "resourceType": "DocumentReference",
                "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.{run}.{n}.{d}")},
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "LP173421-1", "display": "Report"}]}],
                "subject": {"reference": format!("Patient/{patient}")},
                "date": date,
                "custodian": {"reference": format!("Organization/{ipress}")},
                "content": [{"attachment": {"contentType": "application/pdf", "url": format!("https://sihce.example/{ipress}/{run}/{n}/{d}")}}]
            },
            "request": {"method": "POST", "url": "DocumentReference"}
        }));
    }
    (
        json!({"resourceType": "Bundle", "type": "transaction", "entry": entry}),
        at,
    )
}

/// Latencies and wall time of one phase.
struct Phase {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Phase {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a sorted list of measured latencies"
        )]
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }

    /// One report line: requests (and entries) per second, latency percentiles.
    #[allow(
        clippy::cast_precision_loss,
        reason = "counts of requests, reported to one decimal"
    )]
    fn line(&self, per_request: u64) -> String {
        let n = self.latencies.len() as f64;
        let secs = self.wall.as_secs_f64();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{} requests in {secs:.1} s: {:.0} requests/s{}; latency ms p50 {:.1}, p95 {:.1}, p99 {:.1}, max {:.1}",
            self.latencies.len(),
            n / secs,
            if per_request > 1 {
                format!(", {:.0} entries/s", n * per_request as f64 / secs)
            } else {
                String::new()
            },
            ms(self.percentile(0.50)),
            ms(self.percentile(0.95)),
            ms(self.percentile(0.99)),
            ms(self.percentile(1.0)),
        )
    }
}

/// Pushes number `first` to `first + count` from `clients` concurrent clients.
async fn pushes(
    client: &reqwest::Client,
    slice: &Arc<Slice>,
    first: u64,
    count: u64,
    clients: usize,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + count;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, slice, next) = (client.clone(), Arc::clone(slice), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    break;
                }
                let (bundle, at) = push_bundle(&slice, n);
                let t = Instant::now();
                post(&client, &slice.target, &slice.sihce_tokens[at], &bundle).await?;
                latencies.push(t.elapsed());
                if (n + 1 - first).is_multiple_of(10_000) {
                    eprintln!(
                        "pushed {} of {count} in {:.0} s",
                        n + 1 - first,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    latencies.sort();
    Ok(Phase {
        latencies,
        wall: started.elapsed(),
    })
}

/// GETs of `requests` (URL and bearer token, made before the clock starts) from
/// `clients` concurrent clients; each must answer 200.
async fn queries(
    client: &reqwest::Client,
    requests: Vec<(String, String)>,
    clients: usize,
) -> anyhow::Result<Phase> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, requests) = (client.clone(), Arc::clone(&next), Arc::clone(&requests));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while let Some((target, token)) = requests.get(next.fetch_add(1, Ordering::Relaxed)) {
                let t = Instant::now();
                let response = client.get(target).bearer_auth(token).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                if !status.is_success() {
                    bail!("GET {target}: {status}");
                }
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    latencies.sort();
    Ok(Phase {
        latencies,
        wall: started.elapsed(),
    })
}
