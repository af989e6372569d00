-- Run once when the PostgreSQL data directory is created (compose.yaml mounts it into
-- /docker-entrypoint-initdb.d/). Through PgBouncer in transaction pooling mode a client
-- cannot set session settings when it connects, so gridbot's timeouts (what
-- GRIDBOT_DB_STATEMENT_TIMEOUT_MS sets on direct connections) are set on its role.
-- Migrations lift statement_timeout with PGOPTIONS (the gridbot-migrate service).
ALTER ROLE gridbot SET statement_timeout = '3s';
ALTER ROLE gridbot SET lock_timeout = '3s';
