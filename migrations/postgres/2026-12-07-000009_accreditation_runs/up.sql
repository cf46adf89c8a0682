-- Accreditation runs started from the web app: a suite run against a SIHCE, its live
-- progress (a row per run, updated after each test) and, once it ends, its reports as
-- filed (a FHIR TestReport, JUnit XML, the HTML page). The bearer token the suite sends
-- to the SIHCE is never stored.
CREATE TABLE accreditation_runs (
    id TEXT PRIMARY KEY,
    -- The suite's name and title, the SIHCE's FHIR base URL.
    suite TEXT NOT NULL,
    title TEXT NOT NULL,
    target TEXT NOT NULL,
    -- Who started it: the signed-in person's name and their token's subject.
    auditor TEXT NOT NULL,
    auditor_subject TEXT NOT NULL,
    -- `running`, `completed` or `stopped`; the verdict (`pass`, `fail`) once completed.
    status TEXT NOT NULL,
    verdict TEXT,
    -- The suite's values for its variables, JSON.
    variables TEXT NOT NULL,
    -- Tests in the suite.
    total INTEGER NOT NULL,
    -- The finished tests, JSON (each with its verdict): what the live view shows.
    tests TEXT NOT NULL,
    -- Microseconds since the Unix epoch. `heartbeat_at` moves with each test: a run left
    -- `running` without one for long belongs to a registry that stopped.
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    finished_at BIGINT,
    -- Why a run stopped before its end.
    error TEXT
);
CREATE INDEX accreditation_runs_started_idx ON accreditation_runs (started_at);

-- The reports of a completed run, as filed: a FHIR TestReport (JSON), JUnit XML, the
-- HTML page. Apart from the runs, so listing runs never reads them.
CREATE TABLE accreditation_reports (
    run_id TEXT PRIMARY KEY REFERENCES accreditation_runs (id),
    test_report TEXT NOT NULL,
    junit TEXT NOT NULL,
    html TEXT NOT NULL
);
