use super::*;

const A: &str = "0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24";
const B: &str = "02ef61a252f9504a42fc264a28476f44cea0711a44b2da0bd729ad52aaee9d86b7";

fn read(json: &str) -> Result<(Vec<Record>, ReadSummary), LoadError> {
    let mut out = Vec::new();
    let summary = read_records(json.as_bytes(), "test.json", |r| {
        out.push(r);
        true
    })?;
    Ok((out, summary))
}

fn cln_entry(source: &str, dest: &str, extra: &str) -> String {
    format!(
        r#"{{"source":"{source}","destination":"{dest}","short_channel_id":"505149x622x0",
        "public":true,"satoshis":300000,"amount_msat":"300000000msat","message_flags":1,
        "channel_flags":1,"active":true,"last_update":1557424880,"base_fee_millisatoshi":1000,
        "fee_per_millionth":10,"delay":14{extra}}}"#
    )
}

#[test]
fn cln_channel_entry_becomes_channel_and_update() {
    let json = format!(
        r#"{{"channels":[{}]}}"#,
        cln_entry(B, A, r#","htlc_maximum_msat":"5000msat""#)
    );
    let (records, summary) = read(&json).unwrap();
    assert_eq!(summary.format, Some(Format::ClnChannels));
    assert_eq!(summary.channel_entries, 1);
    let Record::Channel(c) = &records[0] else {
        panic!("{records:?}")
    };
    assert_eq!(c.node_1.to_hex(), A, "node_1 is the lesser id");
    assert_eq!(c.capacity_sat, 300_000);
    let Record::Update(u) = &records[1] else {
        panic!("{records:?}")
    };
    assert_eq!(u.direction, 1, "B > A so B announces direction 1");
    assert_eq!((u.fee_base_msat, u.fee_ppm, u.cltv_delta), (1000, 10, 14));
    assert_eq!(u.htlc_max_msat, Some(5000));
    assert!(!u.disabled);
}

#[test]
fn disabled_flag_or_inactive_disables() {
    let json = format!(
        r#"{{"channels":[{}, {}]}}"#,
        cln_entry(A, B, "").replace(r#""channel_flags":1"#, r#""channel_flags":2"#),
        cln_entry(B, A, "").replace(r#""active":true"#, r#""active":false"#)
    );
    let (records, _) = read(&json).unwrap();
    let disabled: Vec<bool> = records
        .iter()
        .filter_map(|r| match r {
            Record::Update(u) => Some(u.disabled),
            _ => None,
        })
        .collect();
    assert_eq!(disabled, vec![true, true]);
}

#[test]
fn cln_nodes_with_and_without_announcement() {
    let json = format!(
        r#"{{"nodes":[{{"nodeid":"{A}","alias":"x","color":"1D8C09","last_timestamp":5,
        "globalfeatures":"","addresses":[{{"type":"ipv4","address":"1.2.3.4","port":9735}}]}},
        {{"nodeid":"{B}"}}]}}"#
    );
    let (records, summary) = read(&json).unwrap();
    assert_eq!(summary.format, Some(Format::ClnNodes));
    let Record::Node(n) = &records[0] else {
        panic!()
    };
    let ann = n.announcement.as_ref().unwrap();
    assert_eq!(
        (ann.alias.as_str(), ann.color.as_str(), ann.timestamp),
        ("x", "1d8c09", 5)
    );
    assert_eq!(ann.addresses[0].port, 9735);
    let Record::Node(n) = &records[1] else {
        panic!()
    };
    assert!(n.announcement.is_none());
}

#[test]
fn lnd_describegraph_edges_and_nodes() {
    let json = format!(
        r##"{{"nodes":[{{"last_update":7,"pub_key":"{B}","alias":"lnd","addresses":[{{"network":"tcp","addr":"1.2.3.4:9735"}}],"color":"#3399ff","features":{{"1":{{}}}}}}],
        "edges":[{{"channel_id":"555417199300182016","chan_point":"ab:0","last_update":9,
        "node1_pub":"{B}","node2_pub":"{A}","capacity":"300000",
        "node1_policy":{{"time_lock_delta":40,"min_htlc":"1000","fee_base_msat":"1000","fee_rate_milli_msat":"1","disabled":false,"max_htlc_msat":"297000000","last_update":9}},
        "node2_policy":null}}]}}"##
    );
    let (records, summary) = read(&json).unwrap();
    assert_eq!(summary.format, Some(Format::LndDescribeGraph));
    assert_eq!(records.len(), 3);
    let Record::Node(n) = &records[0] else {
        panic!()
    };
    let ann = n.announcement.as_ref().unwrap();
    assert_eq!(
        (ann.color.as_str(), ann.features_hex.as_str()),
        ("3399ff", "02")
    );
    let Record::Channel(c) = &records[1] else {
        panic!()
    };
    assert_eq!(c.scid.to_string(), "505149x622x0");
    assert_eq!(c.node_1.to_hex(), A);
    assert_eq!(c.funding_outpoint.as_deref(), Some("ab:0"));
    let Record::Update(u) = &records[2] else {
        panic!()
    };
    assert_eq!(u.direction, 1, "node1_pub is the greater id here");
    assert_eq!(
        (u.htlc_min_msat, u.htlc_max_msat),
        (1000, Some(297_000_000))
    );
}

fn entry_error(json: &str) -> (String, u64, String, String) {
    match read(json) {
        Err(LoadError::Entry {
            collection,
            index,
            field,
            message,
            ..
        }) => (collection.to_owned(), index, field, message),
        other => panic!("expected an entry error, got {other:?}"),
    }
}

#[test]
fn malformed_entries_name_the_entry_and_field() {
    let good = cln_entry(A, B, "");
    let bad_pubkey = cln_entry("02zz", B, "");
    let (coll, index, field, _) = entry_error(&format!(r#"{{"channels":[{good},{bad_pubkey}]}}"#));
    assert_eq!(
        (coll.as_str(), index, field.as_str()),
        ("channels", 1, "source")
    );

    let bad_scid = good.replace("505149x622x0", "505149x622");
    let (_, _, field, _) = entry_error(&format!(r#"{{"channels":[{bad_scid}]}}"#));
    assert_eq!(field, "short_channel_id");

    let negative = good.replace(r#""delay":14"#, r#""delay":-1"#);
    let (_, _, field, message) = entry_error(&format!(r#"{{"channels":[{negative}]}}"#));
    assert_eq!(field, "delay");
    assert!(message.contains("out of range"), "{message}");

    let too_big = good.replace(r#""delay":14"#, r#""delay":70000"#);
    let (_, _, field, _) = entry_error(&format!(r#"{{"channels":[{too_big}]}}"#));
    assert_eq!(field, "delay");

    let missing = good.replace(r#""fee_per_millionth":10,"#, "");
    let (_, _, field, message) = entry_error(&format!(r#"{{"channels":[{missing}]}}"#));
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("fee_per_millionth", "missing")
    );

    let self_loop = cln_entry(A, A, "");
    let (_, _, field, _) = entry_error(&format!(r#"{{"channels":[{self_loop}]}}"#));
    assert_eq!(field, "destination");
}

#[test]
fn error_message_names_file_entry_and_field() {
    let bad = cln_entry(A, B, "").replace(r#""satoshis":300000"#, r#""satoshis":"lots""#);
    let err = read(&format!(r#"{{"channels":[{bad}]}}"#))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("test.json: channels[0] (505149x622x0): field `satoshis`"),
        "{err}"
    );
}

#[test]
fn bad_json_and_unknown_format_are_errors() {
    assert!(matches!(
        read(r#"{"channels":[{"source":"#),
        Err(LoadError::Json { .. })
    ));
    assert!(matches!(
        read(r#"{"channels":[]} trailing"#),
        Err(LoadError::Json { .. })
    ));
    assert!(matches!(read(r#"[1,2]"#), Err(LoadError::Json { .. })));
    assert!(matches!(
        read(r#"{"something":[]}"#),
        Err(LoadError::UnknownFormat { .. })
    ));
    assert!(matches!(
        read(r#"{"channels":[5]}"#),
        Err(LoadError::Entry { .. })
    ));
}

#[test]
fn sink_can_stop_the_read() {
    let json = format!(r#"{{"channels":[{}]}}"#, cln_entry(A, B, ""));
    let r = read_records(json.as_bytes(), "t", |_| false);
    assert!(matches!(r, Err(LoadError::Aborted { .. })));
}

#[test]
fn compressed_files_are_detected() {
    use std::io::Write;
    let json = format!(r#"{{"channels":[{}]}}"#, cln_entry(A, B, ""));
    let dir = std::env::temp_dir().join(format!("sy-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gz = dir.join("c.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(json.as_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let xz = dir.join("c.json.xz");
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
    enc.write_all(json.as_bytes()).unwrap();
    std::fs::write(&xz, enc.finish().unwrap()).unwrap();
    // A compressed file whose name says nothing still works: detection is by content.
    let plain_name = dir.join("c.data");
    std::fs::copy(&xz, &plain_name).unwrap();
    for p in [&gz, &xz, &plain_name] {
        assert_eq!(read_file_to_vec(p).unwrap().len(), 2, "{}", p.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `bytes` gzip-compressed, then read back through the magic-byte detection.
fn read_gzipped(bytes: &[u8]) -> Result<ReadSummary, LoadError> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    let gz = enc.finish().unwrap();
    let reader = decompress(io::Cursor::new(gz)).unwrap();
    read_records(reader, "bomb.json.gz", |_| true)
}

#[test]
fn compressed_bomb_of_one_huge_entry_is_refused_at_the_entry_limit() {
    // 64 MiB of one string inside an entry compresses to ~64 KiB; the reader must stop at
    // MAX_ENTRY_BYTES instead of buffering the string.
    let mut doc = br#"{"channels":[{"alias":""#.to_vec();
    doc.resize(doc.len() + (64 << 20), b'a');
    doc.extend_from_slice(br#""}]}"#);
    match read_gzipped(&doc) {
        Err(LoadError::TooLarge { part, limit, .. }) => {
            assert_eq!((part.as_str(), limit), ("channels[0]", MAX_ENTRY_BYTES));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn compressed_bomb_of_whitespace_is_refused_outside_the_arrays_too() {
    let mut doc = vec![b' '; 16 << 20];
    doc.extend_from_slice(br#"{"channels":[]}"#);
    let err = read_gzipped(&doc).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err:?}");
    assert!(
        err.to_string().contains("the document outside the arrays"),
        "{err}"
    );
}

#[test]
fn huge_values_of_unused_keys_are_streamed_not_refused() {
    let mut doc = br#"{"comment":""#.to_vec();
    doc.resize(doc.len() + (4 * MAX_ENTRY_BYTES) as usize, b'x');
    doc.extend_from_slice(format!(r#"","channels":[{}]}}"#, cln_entry(A, B, "")).as_bytes());
    let summary = read_gzipped(&doc).unwrap();
    assert_eq!(summary.records, 2);
}

#[test]
fn an_entry_just_under_the_limit_is_read() {
    let pad = MAX_ENTRY_BYTES as usize - 1000;
    let entry = cln_entry(A, B, &format!(r#","note":"{}""#, "n".repeat(pad)));
    let json = format!(r#"{{"channels":[{entry}]}}"#);
    assert_eq!(read(&json).unwrap().1.records, 2);
}
