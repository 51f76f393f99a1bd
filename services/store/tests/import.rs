use std::collections::HashSet;
use std::sync::Arc;

use switchyard_graph::load::{self, Record};
use switchyard_graph::testing::data_file;
use switchyard_graph::{LoadError, Snapshot};
use switchyard_store::import::{import, ImportOptions, ImportSource, Progress};
use switchyard_store::queries::meta;
use switchyard_store::testing::TestDb;
use switchyard_store::{Error, Store};

fn quiet() -> Arc<dyn Fn(&Progress) + Send + Sync> {
    Arc::new(|_| {})
}

pub async fn import_files(
    store: &Store,
    files: &[&str],
) -> switchyard_store::Result<Vec<switchyard_store::import::ImportReport>> {
    let sources: Vec<ImportSource> = files
        .iter()
        .map(|f| ImportSource::File(data_file(f)))
        .collect();
    import(store, &sources, ImportOptions::default(), quiet()).await
}

#[tokio::test]
async fn cln_snapshot_round_trips_through_the_store() {
    let db = TestDb::new().await;
    let reports = import_files(
        &db.store,
        &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"],
    )
    .await
    .unwrap();
    assert_eq!(reports[0].channel_entries, 68_794);
    assert_eq!(
        reports[0].updates_new, 68_794,
        "every direction is one update row"
    );
    assert_eq!(reports[1].node_entries, 4_306);

    let mut from_file = Vec::new();
    for f in ["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"] {
        from_file.extend(load::read_file_to_vec(&data_file(f)).unwrap());
    }
    let expected = Snapshot::from_records(from_file);
    let (got, version) = switchyard_store::graph::load_snapshot(&db.store)
        .await
        .unwrap();
    assert!(version > 0);
    assert_eq!(got.node_count(), expected.node_count());
    assert_eq!(
        got.channels(),
        expected.channels(),
        "channels and both policies survive the store"
    );
    assert_eq!(
        got.nodes(),
        expected.nodes(),
        "node ids, aliases and timestamps survive the store"
    );
}

#[tokio::test]
async fn importing_the_same_file_twice_adds_no_rows() {
    let db = TestDb::new().await;
    let files = ["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"];
    import_files(&db.store, &files).await.unwrap();
    let before = meta::counts(db.store.pool()).await.unwrap();
    let version = meta::graph_version(db.store.pool()).await.unwrap();

    let again = import_files(&db.store, &files).await.unwrap();
    assert!(again.iter().all(|r| r.skipped), "same checksum is skipped");
    assert_eq!(meta::counts(db.store.pool()).await.unwrap(), before);
    assert_eq!(meta::graph_version(db.store.pool()).await.unwrap(), version);

    let sources: Vec<ImportSource> = files
        .iter()
        .map(|f| ImportSource::File(data_file(f)))
        .collect();
    let forced = import(&db.store, &sources, ImportOptions { force: true }, quiet())
        .await
        .unwrap();
    for r in &forced {
        assert!(!r.skipped);
        assert_eq!(
            (
                r.nodes_new,
                r.channels_new,
                r.updates_new,
                r.announcements_new,
                r.channels_closed
            ),
            (0, 0, 0, 0, 0),
            "{r:?}"
        );
    }
    let after = meta::counts(db.store.pool()).await.unwrap();
    assert_eq!(
        after.import_runs,
        before.import_runs + 2,
        "a forced run is recorded"
    );
    assert_eq!(
        (
            after.nodes,
            after.channels,
            after.channel_updates,
            after.node_announcements
        ),
        (
            before.nodes,
            before.channels,
            before.channel_updates,
            before.node_announcements
        )
    );
}

/// A channels file with `n` valid entries, then one whose `field` holds `bad`.
fn file_with_bad_entry(
    dir: &std::path::Path,
    n: usize,
    field: &str,
    bad: &str,
) -> std::path::PathBuf {
    let records = load::read_file_to_vec(&data_file("channels-2019-05-14.json.xz")).unwrap();
    let mut entries = Vec::new();
    for r in records.iter() {
        let Record::Update(u) = r else { continue };
        if entries.len() == n {
            break;
        }
        let c = records.iter().find_map(|r| match r {
            Record::Channel(c) if c.scid == u.scid => Some(c),
            _ => None,
        });
        let Some(c) = c else { continue };
        let (src, dst) = if u.direction == 0 {
            (c.node_1, c.node_2)
        } else {
            (c.node_2, c.node_1)
        };
        entries.push(serde_json::json!({
            "source": src.to_hex(), "destination": dst.to_hex(),
            "short_channel_id": u.scid.to_string(), "satoshis": c.capacity_sat,
            "channel_flags": u.channel_flags, "message_flags": u.message_flags, "active": !u.disabled,
            "last_update": u.timestamp, "base_fee_millisatoshi": u.fee_base_msat,
            "fee_per_millionth": u.fee_ppm, "delay": u.cltv_delta,
        }));
    }
    let mut bad_entry = entries[0].clone();
    bad_entry[field] = serde_json::from_str(bad).unwrap();
    if field != "short_channel_id" {
        bad_entry["short_channel_id"] = serde_json::json!("600000x1x1");
    }
    entries.push(bad_entry);
    let path = dir.join(format!("bad-{field}.json"));
    let mut f = std::fs::File::create(&path).unwrap();
    serde_json::to_writer(&mut f, &serde_json::json!({ "channels": entries })).unwrap();
    std::io::Write::flush(&mut f).unwrap();
    path
}

#[tokio::test]
async fn malformed_file_fails_with_location_and_writes_nothing() {
    let db = TestDb::new().await;
    import_files(&db.store, &["nodes-2019-01-18.json.xz"])
        .await
        .unwrap();
    let before = meta::counts(db.store.pool()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 12,000 good entries first, so several batches reach the database before the bad one.
    let cases = [
        ("source", r#""02deadbeef""#, "source"),
        ("short_channel_id", r#""12x34""#, "short_channel_id"),
        ("fee_per_millionth", "-5", "fee_per_millionth"),
        ("delay", "99999999", "delay"),
        ("satoshis", r#""a lot""#, "satoshis"),
    ];
    for (field, bad, expect_field) in cases {
        let path = file_with_bad_entry(dir.path(), 12_000, field, bad);
        // The good file first: a failure later in the run must undo it too.
        let sources = [
            ImportSource::File(data_file("channels-2019-01-18.json.xz")),
            ImportSource::File(path.clone()),
        ];
        let err = import(&db.store, &sources, ImportOptions::default(), quiet())
            .await
            .unwrap_err();
        match &err {
            Error::Load(LoadError::Entry {
                file,
                collection,
                index,
                field,
                ..
            }) => {
                assert_eq!(file, &path.display().to_string());
                assert_eq!((*collection, *index), ("channels", 12_000));
                assert_eq!(field, expect_field);
            }
            other => panic!("expected an entry error for {field}, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("bad-") && msg.contains("channels[12000]") && msg.contains(expect_field),
            "{msg}"
        );
        assert_eq!(
            meta::counts(db.store.pool()).await.unwrap(),
            before,
            "{field}: nothing written"
        );
    }

    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, r#"{"channels": [{"source": "02"#).unwrap();
    let err = import(
        &db.store,
        &[ImportSource::File(truncated)],
        ImportOptions::default(),
        quiet(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Load(LoadError::Json { .. })),
        "{err:?}"
    );
    let unknown = dir.path().join("unknown.json");
    std::fs::write(&unknown, r#"{"peers": []}"#).unwrap();
    let err = import(
        &db.store,
        &[ImportSource::File(unknown)],
        ImportOptions::default(),
        quiet(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Load(LoadError::UnknownFormat { .. })),
        "{err:?}"
    );
    let missing = dir.path().join("missing.json");
    let err = import(
        &db.store,
        &[ImportSource::File(missing)],
        ImportOptions::default(),
        quiet(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(meta::counts(db.store.pool()).await.unwrap(), before);
}

#[tokio::test]
async fn lnd_describegraph_gzip_import() {
    let db = TestDb::new().await;
    // Convert a slice of the 2019 CLN snapshot into LND's format, so the data is real.
    let records = load::read_file_to_vec(&data_file("channels-2019-05-14.json.xz")).unwrap();
    let snap = Snapshot::from_records(records);
    let mut edges = Vec::new();
    let mut nodes = HashSet::new();
    for c in snap.channels().iter().take(500) {
        let pol = |d: usize| {
            c.policies[d].map(|p| {
                serde_json::json!({
                    "time_lock_delta": p.cltv_delta, "min_htlc": p.htlc_min_msat.to_string(),
                    "fee_base_msat": p.fee_base_msat.to_string(),
                    "fee_rate_milli_msat": p.fee_ppm.to_string(), "disabled": p.disabled,
                    "max_htlc_msat": p.htlc_max_msat.to_string(), "last_update": p.timestamp,
                })
            })
        };
        let (n1, n2) = (snap.node(c.nodes[0]).id, snap.node(c.nodes[1]).id);
        nodes.insert(n1);
        nodes.insert(n2);
        edges.push(serde_json::json!({
            "channel_id": c.scid.0.to_string(), "chan_point": format!("{:064x}:0", c.scid.0),
            "last_update": 0, "node1_pub": n1.to_hex(), "node2_pub": n2.to_hex(),
            "capacity": c.capacity_sat.to_string(), "node1_policy": pol(0), "node2_policy": pol(1),
        }));
    }
    let nodes: Vec<_> = nodes
        .iter()
        .map(|n| serde_json::json!({"last_update": 1_500_000_000u32, "pub_key": n.to_hex(), "alias": "x",
            "addresses": [{"network": "tcp", "addr": "10.0.0.1:9735"}], "color": "#ff0000", "features": {}}))
        .collect();
    let doc = serde_json::json!({"nodes": nodes, "edges": edges});
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("graph.json");
    std::fs::write(&plain, serde_json::to_vec(&doc).unwrap()).unwrap();
    // gzip from the system keeps this test free of a compression dependency.
    let status = std::process::Command::new("gzip")
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    let path = dir.path().join("graph.json.gz");
    let reports = import(
        &db.store,
        &[ImportSource::File(path)],
        ImportOptions::default(),
        quiet(),
    )
    .await
    .unwrap();
    assert_eq!(reports[0].format, "LND describegraph");
    assert_eq!(reports[0].channels_new, 500);
    let (got, _) = switchyard_store::graph::load_snapshot(&db.store)
        .await
        .unwrap();
    assert_eq!(
        got.channels(),
        &snap.channels()[..500]
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.nodes = [
                    got.node_idx(&snap.node(c.nodes[0]).id).unwrap(),
                    got.node_idx(&snap.node(c.nodes[1]).id).unwrap(),
                ];
                c
            })
            .collect::<Vec<_>>()[..]
    );
    let row = switchyard_store::queries::channels::get(db.store.pool(), snap.channels()[0].scid)
        .await
        .unwrap()
        .unwrap();
    assert!(row.funding_outpoint.is_some());
}
