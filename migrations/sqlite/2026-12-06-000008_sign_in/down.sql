DROP TABLE sign_in_handles;
DROP TABLE sign_in_sessions;
