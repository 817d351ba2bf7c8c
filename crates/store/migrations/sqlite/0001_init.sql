-- agent-hypervisor store, schema version 1 (SQLite).
-- The engine is a deterministic state machine: its durable state is the ordered command log,
-- optionally shortened by a snapshot of the whole engine at some log position.

CREATE TABLE schema_version (
    version INTEGER NOT NULL
);

-- Every applied command, in the order it was applied. `entry` is the LoggedCommand as JSON
-- (actor, command, time, id seed); replaying the entries in `pos` order rebuilds the state.
CREATE TABLE commands (
    pos   INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    entry TEXT    NOT NULL
);

-- Events, numbered by the runtime; only the newest ones are kept (bounded retention).
CREATE TABLE events (
    seq   INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    json  TEXT    NOT NULL
);

-- Serialized engine state reflecting every command up to and including `pos`.
CREATE TABLE snapshots (
    pos           INTEGER PRIMARY KEY,
    engine        BLOB    NOT NULL,
    created_at_ms INTEGER NOT NULL
);

-- Small settings (admin token hash, agent-token secret, genesis engine config).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
