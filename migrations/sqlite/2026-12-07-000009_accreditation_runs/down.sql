DROP TABLE accreditation_reports;
DROP TABLE accreditation_runs;
