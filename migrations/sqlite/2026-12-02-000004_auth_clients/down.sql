DROP TABLE auth_assertions;
DROP TABLE auth_clients;
