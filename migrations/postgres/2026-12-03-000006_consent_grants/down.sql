DROP TABLE consent_grants;
