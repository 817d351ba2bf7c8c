-- agent-hypervisor store, schema version 2 (PostgreSQL): saga leases for cluster mode.
-- One row per saga whose work runs on some node: the holder, a fencing epoch bumped on every
-- takeover, and when the lease expires (ms since the epoch, by the database's clock).

CREATE TABLE saga_leases (
    saga_id       TEXT   PRIMARY KEY,
    node_id       TEXT   NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
