-- agent-hypervisor store, schema version 2 (SQLite): saga leases. Only cluster mode (several
-- nodes on one PostgreSQL database) uses them; the table keeps both schemas alike.

CREATE TABLE saga_leases (
    saga_id       TEXT    PRIMARY KEY,
    node_id       TEXT    NOT NULL,
    epoch         INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
