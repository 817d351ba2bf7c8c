-- agent-hypervisor store, schema version 1 (PostgreSQL).
-- Same tables as the SQLite schema; see migrations/sqlite/0001_init.sql for their meaning.

CREATE TABLE schema_version (
    version INTEGER NOT NULL
);

CREATE TABLE commands (
    pos   BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    entry JSONB  NOT NULL
);

CREATE TABLE events (
    seq   BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    json  JSONB  NOT NULL
);

CREATE TABLE snapshots (
    pos           BIGINT PRIMARY KEY,
    engine        BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
