//! Rules file: every error kind, matching order, pinning.

use switchyard_fees::rules::{ChannelState, ErrorKind, Rules, Strategy};
use switchyard_graph::testing::TestGraph;
use switchyard_graph::Scid;

fn state(ratio_local: u64, capacity_sat: u64) -> ChannelState {
    ChannelState {
        scid: Scid::new(800_000, 1, 0).unwrap(),
        peer: TestGraph::node_id(1),
        capacity_sat,
        local_msat: ratio_local,
        remote_msat: 1_000 - ratio_local,
        age_days: 30,
        forwards: 5,
        forward_volume_msat: 7_000_000,
        public: true,
    }
}

const DEFAULT: &str = "[default]\nstrategy = \"static\"\nbase_fee_msat = 1000\nfee_ppm = 100\n";

fn err(text: &str) -> (String, Option<String>, ErrorKind) {
    let e = Rules::parse(text).unwrap_err();
    assert!(e.to_string().contains("rules file"), "{e}");
    (e.section, e.key, e.kind)
}

#[test]
fn each_error_names_section_and_key() {
    let (s, k, kind) = err(&format!(
        "[[rule]]\nname = \"a\"\nmin_rato = 0.1\nstrategy = \"static\"\n{DEFAULT}"
    ));
    assert_eq!(
        (s.as_str(), k.as_deref(), kind),
        ("a", Some("min_rato"), ErrorKind::UnknownKey)
    );
    let (s, k, kind) = err(&format!(
        "[[rule]]\nmin_capacity_sat = \"big\"\nstrategy = \"static\"\n{DEFAULT}"
    ));
    assert_eq!(
        (s.as_str(), k.as_deref()),
        ("rule #1", Some("min_capacity_sat"))
    );
    assert!(matches!(kind, ErrorKind::BadType(_)));
    let (_, k, kind) = err(&format!(
        "[[rule]]\nmin_capacity_sat = 5\nmax_capacity_sat = 4\nstrategy = \"static\"\n{DEFAULT}"
    ));
    assert_eq!(k.as_deref(), Some("min_capacity_sat"));
    assert!(matches!(kind, ErrorKind::BadRange(_)));
    let (_, k, kind) = err(&format!(
        "[[rule]]\nmax_ratio = 1.5\nstrategy = \"static\"\n{DEFAULT}"
    ));
    assert_eq!(k.as_deref(), Some("max_ratio"));
    assert!(matches!(kind, ErrorKind::BadRange(_)));
    let (_, k, kind) = err(&format!(
        "[[rule]]\nmin_forwards = -1\nstrategy = \"static\"\n{DEFAULT}"
    ));
    assert_eq!(k.as_deref(), Some("min_forwards"));
    assert!(matches!(kind, ErrorKind::BadRange(_)));
    let (_, k, kind) = err("[default]\nstrategy = \"magic\"\n");
    assert_eq!(
        (k.as_deref(), kind),
        (Some("strategy"), ErrorKind::UnknownStrategy("magic".into()))
    );
    let (_, k, kind) = err("[default]\nstrategy = \"proportional\"\nmin_fee_ppm = 1\n");
    assert_eq!(k.as_deref(), Some("max_fee_ppm"));
    assert!(matches!(kind, ErrorKind::MissingParameter { .. }));
    let (s, _, kind) = err(&format!("[[rule]]\nname = \"all\"\nstrategy = \"static\"\nbase_fee_msat = 0\nfee_ppm = 1\n[[rule]]\nname = \"big\"\nmin_capacity_sat = 5\nstrategy = \"static\"\nbase_fee_msat = 0\nfee_ppm = 2\n{DEFAULT}"));
    assert_eq!(
        (s.as_str(), kind),
        ("big", ErrorKind::Unreachable("all".into()))
    );
    let (_, _, kind) = err("[[rule]]\nstrategy = \"static\"\nbase_fee_msat = 0\nfee_ppm = 1\n");
    assert_eq!(kind, ErrorKind::NoDefault);
    let (_, _, kind) = err("[default\nstrategy = ");
    assert!(matches!(kind, ErrorKind::Syntax(_)));
    // A parameter of another strategy is an unknown key here.
    let (_, k, kind) =
        err("[default]\nstrategy = \"static\"\nbase_fee_msat = 0\nfee_ppm = 1\npercentile = 50\n");
    assert_eq!(
        (k.as_deref(), kind),
        (Some("percentile"), ErrorKind::UnknownKey)
    );
}

#[test]
fn first_matching_rule_wins_and_pins_hold() {
    let text = format!(
        "[[rule]]\nname = \"pinned\"\nchannel = [\"800000x1x0\"]\nmin_ratio = 0.9\npin = true\n\
         [[rule]]\nname = \"drained\"\nmax_ratio = 0.2\nstrategy = \"static\"\nbase_fee_msat = 0\nfee_ppm = 1500\n\
         [[rule]]\nname = \"small\"\nmax_capacity_sat = 500000\nstrategy = \"proportional\"\nmin_fee_ppm = 10\nmax_fee_ppm = 300\n\
         {DEFAULT}"
    );
    let rules = Rules::parse(&text).unwrap();
    let m = |local, cap| rules.match_channel(&state(local, cap)).name.clone();
    assert_eq!(m(950, 100_000), "pinned");
    assert!(rules.match_channel(&state(950, 100_000)).pin);
    assert_eq!(
        m(100, 100_000),
        "drained",
        "before 'small', which also matches"
    );
    assert_eq!(m(500, 100_000), "small");
    assert_eq!(m(500, 10_000_000), "default");
    assert_eq!(
        rules.default.strategy,
        Some(Strategy::Static(switchyard_fees::FeePolicy::new(1000, 100)))
    );
}

#[test]
fn parsing_never_panics_on_garbage() {
    let samples = [
        "",
        "[",
        "[[rule]]",
        "rule = 5",
        "[default]\npin = 3",
        "[default]\nfloor = \"x\"\nstrategy=\"static\"",
        "[[rule]]\npeer = [1, 2]\n[default]\npin = true",
        "[default]\nstrategy = \"flow\"\nmin_fee_ppm = 9999999999\nmax_fee_ppm = 1",
        "[default]\nstrategy = \"competitive\"\npercentile = 101",
        "\u{0}\u{ffff}",
        "[default]\nstrategy = \"cost_floor\"\namount_sat = -5",
    ];
    for s in samples {
        let _ = Rules::parse(s);
    }
    let ok = Rules::parse("[default]\npin = true\n").unwrap();
    assert!(ok.default.pin && ok.default.strategy.is_none());
}
