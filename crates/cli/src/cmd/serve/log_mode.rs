//! `ahv serve` on a database written in the other mode: a single node on a cluster's database,
//! or a cluster node on a single node's. Both would collide with the other writers and stop later
//! with a storage error, so the server stops at start with the flag that fixes it instead.

use ahv_store::{Location, Store, StoreError};

use crate::error::CliError;

/// What to do when a single node is started on a cluster's database.
const JOIN_WITH_NODE_ID: &str = "this database is the shared log of a cluster: start this server with --node-id <name> to join it as a node";

/// What to do when a cluster node is started on a single node's database.
const NO_NODE_ID: &str = "this database is the log of a single node started without --node-id: start it without --node-id, or give the cluster its own database";

/// What to do when another server already writes this database as a single node.
const IN_USE: &str = "another server is already writing this database as a single node: stop it first (a single node must be its database's only writer; use --node-id on every server for a cluster)";

/// The start-up error for a store that refused to be written in this mode, naming the fix.
pub(super) fn mismatch(e: &StoreError, location: &Location) -> Option<CliError> {
    match e {
        StoreError::ClusterLog { .. } => {
            Some(CliError::usage(JOIN_WITH_NODE_ID, location.describe()))
        }
        StoreError::SingleNodeLog { .. } => Some(CliError::usage(NO_NODE_ID, location.describe())),
        StoreError::LogInUse { .. } => Some(CliError::usage(IN_USE, location.describe())),
        _ => None,
    }
}

/// Refuses a single node on a PostgreSQL database clustered before the store recorded log
/// modes (no marker yet): every cluster node recorded the cluster's signing key there.
pub(super) async fn refuse_old_cluster(store: &Store, location: &Location) -> Result<(), CliError> {
    if store.kind() != "postgres" {
        return Ok(());
    }
    let meta_err = |e: StoreError| CliError::usage(e.to_string(), "store metadata");
    let clustered = store
        .get_meta(super::META_CLUSTER_KEY)
        .await
        .map_err(meta_err)?
        .is_some();
    if clustered
        && store
            .get_meta(ahv_store::LOG_MODE_KEY)
            .await
            .map_err(meta_err)?
            .is_none()
    {
        return Err(CliError::usage(JOIN_WITH_NODE_ID, location.describe()));
    }
    Ok(())
}
