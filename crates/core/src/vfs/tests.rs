//! Tests of the session file system: every refusal with its message, ACL inheritance,
//! copy-on-write snapshots, purge, serialization, and the reference bugs fixed (§17 items 12,
//! 15, 33).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::id::IdGen;

fn did(s: &str) -> AgentDid {
    AgentDid::new(format!("did:mesh:{s}")).unwrap()
}

fn p(s: &str) -> VfsPath {
    VfsPath::parse(s).unwrap()
}

fn t(s: u64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn vfs() -> Vfs {
    Vfs::new(SessionId::new("session:1").unwrap(), VfsLimits::default())
}

fn set(names: &[&str]) -> BTreeSet<AgentDid> {
    names.iter().map(|n| did(n)).collect()
}

fn ids() -> IdGen {
    IdGen::new([3; 16])
}

/// Recomputes `live_bytes` from the files, to check the invariant.
fn recount(v: &Vfs) -> u64 {
    v.files
        .values()
        .filter_map(|e| e.content())
        .map(|c| c.len() as u64)
        .sum()
}

#[test]
fn write_create_then_update_with_hashes_and_versions() {
    let mut v = vfs();
    let a = did("a");
    let o1 = v.write(&p("doc.txt"), "hello", &a, t(1)).unwrap();
    assert_eq!(o1.op, EditOp::Create);
    assert_eq!(o1.version, 1);
    assert_eq!(o1.previous_hash, None);
    assert_eq!(
        o1.content_hash,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    let o2 = v.write(&p("/doc.txt"), "world!", &did("b"), t(2)).unwrap();
    assert_eq!(o2.op, EditOp::Update);
    assert_eq!(o2.version, 2);
    assert_eq!(o2.previous_hash.as_deref(), Some(o1.content_hash.as_str()));
    assert_eq!(v.read(&p("doc.txt"), &a).unwrap(), "world!");
    let e = v.stat(&p("doc.txt"), &a).unwrap();
    assert_eq!((e.size, e.version), (6, 2));
    assert_eq!(e.updated_by, did("b"));
    assert_eq!(e.updated_at, t(2));
    assert_eq!(v.total_bytes(), 6);
    assert_eq!(v.file_count(), 1);
    let ops: Vec<EditOp> = v.edits().map(|e| e.op).collect();
    assert_eq!(ops, [EditOp::Create, EditOp::Update]);
    assert_eq!(v.edits_by_agent(&a).count(), 1);
}

#[test]
fn root_is_not_a_file() {
    let mut v = vfs();
    assert_eq!(
        v.write(&VfsPath::root(), "x", &did("a"), t(1))
            .unwrap_err()
            .to_string(),
        "invalid path `/`: the root is a directory, not a file"
    );
}

#[test]
fn missing_file_is_not_found() {
    let mut v = vfs();
    assert_eq!(
        v.read(&p("nope"), &did("a")).unwrap_err().to_string(),
        "`/nope` not found in session file system"
    );
    assert!(matches!(
        v.delete(&p("nope"), &did("a"), t(1)),
        Err(VfsError::NotFound { .. })
    ));
}

#[test]
fn namespaced_input_resolves_through_the_vfs() {
    let v = vfs();
    assert_eq!(v.namespace(), "/sessions/session:1");
    assert_eq!(v.path("/sessions/session:1/a/b").unwrap(), p("a/b"));
    assert!(v.path("/sessions/session:10/a/b").is_err());
}

#[test]
fn reads_are_always_checked_unlike_reference() {
    let mut v = vfs();
    v.write(&p("secret"), "s3cr3t", &did("owner"), t(1))
        .unwrap();
    v.set_acl(&p("secret"), set(&["owner"]), &did("owner"), t(2))
        .unwrap();
    assert_eq!(
        v.read(&p("secret"), &did("eve")).unwrap_err().to_string(),
        "agent `did:mesh:eve` not permitted to access `/secret`"
    );
    assert!(matches!(
        v.stat(&p("secret"), &did("eve")),
        Err(VfsError::PermissionDenied { .. })
    ));
    assert!(v.write(&p("secret"), "x", &did("eve"), t(3)).is_err());
    assert!(v.delete(&p("secret"), &did("eve"), t(3)).is_err());
    assert_eq!(v.read(&p("secret"), &did("owner")).unwrap(), "s3cr3t");
}

#[test]
fn acl_is_checked_before_existence_unlike_reference() {
    let mut v = vfs();
    v.set_acl(&p("private"), set(&["owner"]), &did("owner"), t(1))
        .unwrap();
    // Eve learns nothing about whether `/private/x` exists.
    assert!(matches!(
        v.read(&p("private/x"), &did("eve")),
        Err(VfsError::PermissionDenied { .. })
    ));
    assert!(matches!(
        v.delete(&p("private/x"), &did("eve"), t(2)),
        Err(VfsError::PermissionDenied { .. })
    ));
}

#[test]
fn directory_acl_covers_everything_under_it_unlike_reference() {
    let mut v = vfs();
    let owner = did("owner");
    v.write(&p("team/plan.md"), "p", &owner, t(1)).unwrap();
    v.write(&p("team/deep/x"), "x", &owner, t(1)).unwrap();
    v.write(&p("teammate"), "m", &owner, t(1)).unwrap();
    v.set_acl(&p("team"), set(&["owner"]), &owner, t(2))
        .unwrap();
    let eve = did("eve");
    assert!(v.read(&p("team/plan.md"), &eve).is_err());
    assert!(v.read(&p("team/deep/x"), &eve).is_err());
    assert!(v.write(&p("team/new"), "n", &eve, t(3)).is_err());
    // Whole segments: `/teammate` is not under `/team`.
    assert_eq!(v.read(&p("teammate"), &eve).unwrap(), "m");
    let (governing, _) = v.effective_acl(&p("team/deep/x")).unwrap();
    assert_eq!(governing, &p("team"));
    assert!(v.effective_acl(&p("teammate")).is_none());
}

#[test]
fn most_specific_acl_wins() {
    let mut v = vfs();
    let owner = did("owner");
    v.set_acl(&VfsPath::root(), set(&["owner"]), &owner, t(1))
        .unwrap();
    v.set_acl(&p("shared"), set(&["owner", "guest"]), &owner, t(1))
        .unwrap();
    let guest = did("guest");
    assert!(v.write(&p("shared/notes"), "n", &guest, t(2)).is_ok());
    assert!(matches!(
        v.write(&p("other"), "o", &guest, t(2)),
        Err(VfsError::PermissionDenied { .. })
    ));
    assert_eq!(v.effective_acl(&p("shared/notes")).unwrap().0, &p("shared"));
    assert_eq!(v.effective_acl(&p("other")).unwrap().0, &VfsPath::root());
}

#[test]
fn empty_acl_closes_a_path_to_everyone() {
    let mut v = vfs();
    v.set_acl(&p("locked"), BTreeSet::new(), &did("owner"), t(1))
        .unwrap();
    assert!(v.write(&p("locked/a"), "x", &did("owner"), t(2)).is_err());
}

#[test]
fn list_shows_only_readable_files_under_prefix() {
    let mut v = vfs();
    let owner = did("owner");
    for f in ["a/1", "a/2", "a/sub/3", "ab", "b"] {
        v.write(&p(f), "x", &owner, t(1)).unwrap();
    }
    v.set_acl(&p("a/sub"), set(&["owner"]), &owner, t(2))
        .unwrap();
    let names = |infos: Vec<FileInfo>| -> Vec<String> {
        infos.into_iter().map(|i| i.path.to_string()).collect()
    };
    assert_eq!(
        names(v.list(None, &did("eve"))),
        ["/a/1", "/a/2", "/ab", "/b"]
    );
    assert_eq!(
        names(v.list(Some(&p("a")), &owner)),
        ["/a/1", "/a/2", "/a/sub/3"]
    );
    assert_eq!(names(v.list(Some(&p("a")), &did("eve"))), ["/a/1", "/a/2"]);
    assert!(v.list(Some(&p("zzz")), &owner).is_empty());
    let info = &v.list(Some(&p("b")), &owner)[0];
    assert_eq!(info.content_hash, content_hash("x"));
    assert_eq!((info.size, info.version, info.purged), (1, 1, false));
}

#[test]
fn acl_changes_are_logged_and_clear_returns_the_old_set() {
    let mut v = vfs();
    let owner = did("owner");
    v.set_acl(&p("x"), set(&["a"]), &owner, t(1)).unwrap();
    assert_eq!(v.acl(&p("x")), Some(&set(&["a"])));
    assert_eq!(v.acl(&p("x/y")), None);
    assert_eq!(
        v.clear_acl(&p("x"), &owner, t(2)).unwrap(),
        Some(set(&["a"]))
    );
    assert_eq!(v.clear_acl(&p("x"), &owner, t(3)).unwrap(), None);
    let perms: Vec<&VfsEdit> = v.edits().filter(|e| e.op == EditOp::Permission).collect();
    assert_eq!(perms.len(), 2);
    assert_eq!(perms[0].agent.as_ref(), Some(&owner));
    assert_eq!(perms[0].content_hash, None);
}

#[test]
fn delete_keeps_the_acl_and_logs_previous_hash() {
    let mut v = vfs();
    let owner = did("owner");
    v.write(&p("f"), "abc", &owner, t(1)).unwrap();
    v.set_acl(&p("f"), set(&["owner"]), &owner, t(2)).unwrap();
    v.delete(&p("f"), &owner, t(3)).unwrap();
    assert_eq!(v.file_count(), 0);
    assert_eq!(v.total_bytes(), 0);
    // Recreating the file keeps it guarded (the reference dropped the ACL on delete).
    assert!(v.write(&p("f"), "new", &did("eve"), t(4)).is_err());
    let last = v.edits().last().unwrap();
    assert_eq!(last.op, EditOp::Delete);
    assert_eq!(
        last.previous_hash.as_deref(),
        Some(content_hash("abc").as_str())
    );
    assert_eq!(last.content_hash, None);
}

fn small_limits() -> VfsLimits {
    VfsLimits {
        max_file_bytes: 10,
        max_total_bytes: 15,
        max_files: 2,
        max_snapshots: 1,
        max_edit_log: 3,
        max_acls: 1,
        max_acl_members: 2,
    }
}

#[test]
fn limits_are_enforced_with_clear_messages() {
    let mut v = Vfs::new(SessionId::new("session:1").unwrap(), small_limits());
    let a = did("a");
    assert_eq!(
        v.write(&p("big"), &"x".repeat(11), &a, t(1))
            .unwrap_err()
            .to_string(),
        "file `/big` is 11 bytes; the limit is 10"
    );
    v.write(&p("f1"), &"x".repeat(10), &a, t(1)).unwrap();
    assert_eq!(
        v.write(&p("f2"), &"x".repeat(6), &a, t(1))
            .unwrap_err()
            .to_string(),
        "session file system limit reached: at most 15 bytes of content in total"
    );
    // Overwriting counts the replaced bytes out.
    v.write(&p("f1"), &"y".repeat(10), &a, t(1)).unwrap();
    v.write(&p("f2"), &"x".repeat(5), &a, t(1)).unwrap();
    assert_eq!(v.total_bytes(), 15);
    assert_eq!(
        v.write(&p("f3"), "", &a, t(1)).unwrap_err().to_string(),
        "session file system limit reached: at most 2 files"
    );
    assert_eq!(
        v.set_acl(&p("x"), set(&["a", "b", "c"]), &a, t(1))
            .unwrap_err()
            .to_string(),
        "session file system limit reached: at most 2 agents in one ACL"
    );
    v.set_acl(&p("x"), set(&["a"]), &a, t(1)).unwrap();
    v.set_acl(&p("x"), set(&["a", "b"]), &a, t(1)).unwrap();
    assert_eq!(
        v.set_acl(&p("y"), set(&["a"]), &a, t(1))
            .unwrap_err()
            .to_string(),
        "session file system limit reached: at most 1 paths with an ACL"
    );
    let mut g = ids();
    v.snapshot(None, &mut g, t(1)).unwrap();
    assert_eq!(
        v.snapshot(None, &mut g, t(1)).unwrap_err().to_string(),
        "session file system limit reached: at most 1 snapshots"
    );
}

#[test]
fn edit_log_is_bounded_and_counts_evictions() {
    let mut v = Vfs::new(SessionId::new("session:1").unwrap(), small_limits());
    let a = did("a");
    for i in 0..5 {
        v.write(&p("f"), &format!("{i}"), &a, t(i)).unwrap();
    }
    assert_eq!(v.edits().count(), 3);
    assert_eq!(v.edits_evicted(), 2);
    assert_eq!(v.edits().next().unwrap().at, t(2));
}

#[test]
fn snapshot_and_restore_round_trip_files_and_acls() {
    let mut v = vfs();
    let a = did("a");
    let mut g = ids();
    v.write(&p("f"), "v1", &a, t(1)).unwrap();
    v.set_acl(&p("f"), set(&["a"]), &a, t(1)).unwrap();
    let id = v.snapshot(Some("before".into()), &mut g, t(2)).unwrap();
    assert_eq!(id.as_str(), "before");
    v.write(&p("f"), "v2-longer", &a, t(3)).unwrap();
    v.write(&p("g"), "new", &a, t(3)).unwrap();
    v.clear_acl(&p("f"), &a, t(3)).unwrap();
    v.restore(&id, &a, t(4)).unwrap();
    assert_eq!(v.read(&p("f"), &a).unwrap(), "v1");
    assert!(matches!(
        v.read(&p("g"), &a),
        Err(VfsError::NotFound { .. })
    ));
    assert_eq!(v.acl(&p("f")), Some(&set(&["a"])));
    assert_eq!(v.total_bytes(), 2);
    assert_eq!(recount(&v), v.total_bytes());
    let last = v.edits().last().unwrap();
    assert_eq!((last.op, last.path.is_root()), (EditOp::Restore, true));
    // The snapshot stays available.
    assert_eq!(v.snapshot_count(), 1);
    let info = &v.list_snapshots()[0];
    assert_eq!((info.file_count, info.bytes, info.created_at), (1, 2, t(2)));
}

#[test]
fn snapshot_is_copy_on_write() {
    let mut v = vfs();
    let a = did("a");
    let mut g = ids();
    for i in 0..100 {
        v.write(&p(&format!("f{i}")), "payload", &a, t(1)).unwrap();
    }
    let id = v.snapshot(None, &mut g, t(2)).unwrap();
    assert!(id.as_str().starts_with("snap:"));
    // Taking the snapshot shares the maps instead of copying them.
    let snap = &v.snapshots[&id];
    assert!(Arc::ptr_eq(&snap.files, &v.files));
    assert!(Arc::ptr_eq(&snap.acls, &v.acls));
    // The first write copies the map once; contents stay shared.
    v.write(&p("f0"), "changed", &a, t(3)).unwrap();
    let snap = &v.snapshots[&id];
    assert!(!Arc::ptr_eq(&snap.files, &v.files));
    let live = v.files[&p("f1")].content.as_ref().unwrap();
    let old = snap.files[&p("f1")].content.as_ref().unwrap();
    assert!(Arc::ptr_eq(live, old));
    assert_eq!(snap.files[&p("f0")].content(), Some("payload"));
    // Reads of the snapshot-era file are unaffected by the write.
    assert_eq!(v.read(&p("f0"), &a).unwrap(), "changed");
}

#[test]
fn existing_snapshot_id_is_refused_unlike_reference() {
    let mut v = vfs();
    let mut g = ids();
    v.snapshot(Some("s".into()), &mut g, t(1)).unwrap();
    v.write(&p("f"), "x", &did("a"), t(2)).unwrap();
    assert_eq!(
        v.snapshot(Some("s".into()), &mut g, t(3))
            .unwrap_err()
            .to_string(),
        "snapshot `s` already exists"
    );
    // The original snapshot was not overwritten.
    assert_eq!(v.list_snapshots()[0].file_count, 0);
}

#[test]
fn snapshot_ids_are_validated() {
    let mut v = vfs();
    let mut g = ids();
    assert_eq!(
        v.snapshot(Some(String::new()), &mut g, t(1))
            .unwrap_err()
            .to_string(),
        "invalid snapshot id ``: must not be empty"
    );
    assert!(v.snapshot(Some("a b".into()), &mut g, t(1)).is_err());
}

#[test]
fn unknown_snapshot_is_refused() {
    let mut v = vfs();
    let id = SnapshotId::new("ghost").unwrap();
    assert_eq!(
        v.restore(&id, &did("a"), t(1)).unwrap_err().to_string(),
        "snapshot `ghost` not found"
    );
    assert!(matches!(
        v.delete_snapshot(&id),
        Err(VfsError::SnapshotNotFound { .. })
    ));
    let mut g = ids();
    let id = v.snapshot(None, &mut g, t(1)).unwrap();
    v.delete_snapshot(&id).unwrap();
    assert_eq!(v.snapshot_count(), 0);
}

#[test]
fn list_snapshots_is_ordered_by_time_then_id() {
    let mut v = vfs();
    let mut g = ids();
    v.snapshot(Some("z".into()), &mut g, t(1)).unwrap();
    v.snapshot(Some("b".into()), &mut g, t(2)).unwrap();
    v.snapshot(Some("a".into()), &mut g, t(2)).unwrap();
    let order: Vec<String> = v
        .list_snapshots()
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(order, ["z", "a", "b"]);
}

#[test]
fn purge_really_deletes_content_but_keeps_paths_and_hashes_unlike_reference() {
    let mut v = vfs();
    let a = did("a");
    let mut g = ids();
    v.write(&p("one"), "aaaa", &a, t(1)).unwrap();
    v.write(&p("two"), "bb", &a, t(1)).unwrap();
    v.snapshot(None, &mut g, t(2)).unwrap();
    v.write(&p("two"), "ccc", &a, t(3)).unwrap(); // "bb" now lives only in the snapshot
    v.write(&p("three"), "aaaa", &a, t(3)).unwrap(); // same content as "one"
    let report = v.purge_content(t(10));
    assert_eq!(
        report,
        PurgeReport {
            files_purged: 3,
            // distinct contents: "aaaa" (4) + "ccc" (3) + "bb" (2)
            bytes_freed: 9,
            snapshots_dropped: 1,
        }
    );
    assert_eq!(v.total_bytes(), 0);
    assert_eq!(v.snapshot_count(), 0);
    assert!(v.files.values().all(|e| e.content().is_none() && e.purged));
    assert_eq!(
        v.read(&p("one"), &a).unwrap_err().to_string(),
        "content of `/one` was purged by retention; only its hash remains"
    );
    let listed = v.list(None, &a);
    assert_eq!(listed.len(), 3);
    let one = listed.iter().find(|i| i.path == p("one")).unwrap();
    assert_eq!(one.content_hash, content_hash("aaaa"));
    assert_eq!(one.size, 4);
    assert!(one.purged);
    assert_eq!(
        v.stat(&p("two"), &a).unwrap().content_hash,
        content_hash("ccc")
    );
    let last = v.edits().last().unwrap();
    assert_eq!((last.op, last.agent.as_ref()), (EditOp::Purge, None));
    assert_eq!(v.purged_at(), Some(t(10)));
    // ACLs still govern the metadata after a purge.
    assert!(v.read(&p("missing"), &a).is_err());
}

#[test]
fn purged_vfs_is_sealed_and_second_purge_frees_nothing() {
    let mut v = vfs();
    let a = did("a");
    let mut g = ids();
    v.write(&p("f"), "x", &a, t(1)).unwrap();
    v.purge_content(t(2));
    let sealed = format!(
        "session file system was purged at {}; it accepts no more changes",
        t(2)
    );
    assert_eq!(
        v.write(&p("f"), "y", &a, t(3)).unwrap_err().to_string(),
        sealed
    );
    assert!(matches!(
        v.delete(&p("f"), &a, t(3)),
        Err(VfsError::Sealed { .. })
    ));
    assert!(v.set_acl(&p("f"), set(&["a"]), &a, t(3)).is_err());
    assert!(v.clear_acl(&p("f"), &a, t(3)).is_err());
    assert!(v.snapshot(None, &mut g, t(3)).is_err());
    assert!(v.restore(&SnapshotId::new("s").unwrap(), &a, t(3)).is_err());
    let edits_before = v.edits().count();
    assert_eq!(v.purge_content(t(4)), PurgeReport::default());
    assert_eq!(v.edits().count(), edits_before);
}

#[test]
fn serde_round_trip_preserves_state_and_shares_content() {
    let mut v = vfs();
    let a = did("a");
    let mut g = ids();
    v.write(&p("f"), "same", &a, t(1)).unwrap();
    v.write(&p("dir/g"), "other", &a, t(1)).unwrap();
    v.set_acl(&p("dir"), set(&["a"]), &a, t(1)).unwrap();
    let id = v.snapshot(Some("s1".into()), &mut g, t(2)).unwrap();
    v.write(&p("f"), "changed", &a, t(3)).unwrap();
    let json = serde_json::to_value(&v).unwrap();
    // Each distinct content is written once.
    assert_eq!(json["blobs"].as_object().unwrap().len(), 3);
    assert!(json["files"]["/f"].get("content").is_none());
    let back: Vfs = serde_json::from_value(json).unwrap();
    assert_eq!(back.read(&p("f"), &a).unwrap(), "changed");
    assert_eq!(back.read(&p("dir/g"), &a).unwrap(), "other");
    assert!(back.read(&p("dir/g"), &did("eve")).is_err());
    assert_eq!(back.total_bytes(), v.total_bytes());
    assert_eq!(back.list_snapshots(), v.list_snapshots());
    assert_eq!(back.edits().count(), v.edits().count());
    // Content shared by the live map and the snapshot is one allocation after loading.
    let live = back.files[&p("dir/g")].content.as_ref().unwrap();
    let snap = back.snapshots[&id].files[&p("dir/g")]
        .content
        .as_ref()
        .unwrap();
    assert!(Arc::ptr_eq(live, snap));
    let mut back = back;
    back.restore(&id, &a, t(4)).unwrap();
    assert_eq!(back.read(&p("f"), &a).unwrap(), "same");
}

#[test]
fn tampered_state_is_refused_on_load() {
    let mut v = vfs();
    v.write(&p("f"), "honest", &did("a"), t(1)).unwrap();
    let mut json = serde_json::to_value(&v).unwrap();
    let hash = content_hash("honest");
    json["blobs"][&hash] = "forged".into();
    let err = serde_json::from_value::<Vfs>(json).unwrap_err().to_string();
    assert!(err.contains("does not match"), "{err}");

    let mut json = serde_json::to_value(&v).unwrap();
    json["blobs"] = serde_json::json!({});
    let err = serde_json::from_value::<Vfs>(json).unwrap_err().to_string();
    assert!(err.contains("content of `/f` is missing"), "{err}");
}

#[test]
fn purged_state_round_trips() {
    let mut v = vfs();
    v.write(&p("f"), "x", &did("a"), t(1)).unwrap();
    v.purge_content(t(2));
    let back: Vfs = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert!(matches!(
        back.read(&p("f"), &did("a")),
        Err(VfsError::Purged { .. })
    ));
    assert_eq!(back.purged_at(), Some(t(2)));
}
