//! The rules file: which strategy prices which channel, in the spirit of charge-lnd.
//!
//! TOML. A `[default]` table and any number of `[[rule]]` tables, tried **in file order**;
//! the first rule whose conditions all hold for a channel decides it, else `[default]`.
//!
//! ```toml
//! [[rule]]
//! name = "drained"            # names the rule in plans and errors (default: rule #i)
//! max_ratio = 0.2             # local balance / (local + remote), 0..=1
//! min_capacity_sat = 1_000_000
//! strategy = "static"
//! base_fee_msat = 0
//! fee_ppm = 1500
//!
//! [[rule]]
//! channel = ["800000x1x0"]    # or peer = ["02ab..."]
//! pin = true                  # never changed
//!
//! [default]
//! strategy = "flow"
//! min_fee_ppm = 10
//! max_fee_ppm = 2000
//! floor = "cost_floor"        # never below the cost of refilling the channel
//! ```
//!
//! **Conditions** (all optional): `peer`, `channel` (lists of node ids / scids),
//! `min_capacity_sat`/`max_capacity_sat`, `min_ratio`/`max_ratio`, `min_age_days`/
//! `max_age_days`, `min_forwards`/`max_forwards` and `min_forward_volume_sat`/
//! `max_forward_volume_sat` (activity over the caller's window, see [`ChannelState`]),
//! `public` (bool). Bounds are inclusive.
//!
//! **Strategies and their parameters** (see [`crate::strategy`]): `static` (`base_fee_msat`,
//! `fee_ppm`); `proportional` (`min_fee_ppm`, `max_fee_ppm`, optional `base_fee_msat`, 0);
//! `competitive` (`percentile` 0..=100, optional `base_fee_msat`: default the same percentile
//! of the alternatives' base fees); `cost_floor` (optional `amount_sat`, 100,000); `flow`
//! (`min_fee_ppm`, `max_fee_ppm`, optional `base_fee_msat` 0, `max_step_ppm` 500,
//! `max_step_percent` 50, `candidates` 20, `rounds` 3, `min_gain_percent` 1). Any strategy but `cost_floor` takes
//! `floor = "cost_floor"` (with `floor_amount_sat`, default 100,000).
//!
//! **Errors** name the section and the key: syntax, unknown key, bad type, bad range (min >
//! max, a ratio outside 0..=1, a negative number, a percentile above 100), unknown strategy,
//! missing parameter, a rule no channel can reach (an earlier rule matches everything it
//! matches), no `[default]`. Parsing never panics.

use std::collections::HashSet;
use std::fmt;

use switchyard_graph::{NodeId, Scid};
use toml::{Table, Value};

use crate::scenario::FeePolicy;

/// What the caller knows of one of the node's channels (for matching and strategies).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelState {
    /// The channel.
    pub scid: Scid,
    /// The node at the other end.
    pub peer: NodeId,
    /// Funding amount (sat).
    pub capacity_sat: u64,
    /// Our balance (msat).
    pub local_msat: u64,
    /// The peer's balance (msat).
    pub remote_msat: u64,
    /// Days since the channel opened.
    pub age_days: u32,
    /// Forwards out of this channel over the caller's activity window.
    pub forwards: u64,
    /// Amount (msat) forwarded out of this channel over the caller's activity window.
    pub forward_volume_msat: u64,
    /// Whether the channel is announced.
    pub public: bool,
}

impl ChannelState {
    /// Local balance over the total, 0.5 when both are zero.
    pub fn local_ratio(&self) -> f64 {
        let total = self.local_msat as f64 + self.remote_msat as f64;
        if total == 0.0 {
            0.5
        } else {
            self.local_msat as f64 / total
        }
    }
}

/// A strategy and its parameters (see [`crate::strategy`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// `static`: always this fee.
    Static(FeePolicy),
    /// `proportional`: ppm linear in the local balance ratio, from `max_fee_ppm` (nothing local)
    /// down to `min_fee_ppm` (everything local).
    Proportional {
        /// Base fee (msat) of every proposal.
        base_fee_msat: u32,
        /// Ppm when the whole balance is local.
        min_fee_ppm: u32,
        /// Ppm when nothing is local.
        max_fee_ppm: u32,
    },
    /// `competitive`: a percentile of what the other channels into the same peer charge.
    Competitive {
        /// The percentile, 0..=100 (nearest rank).
        percentile: f64,
        /// Base fee (msat); `None`: the same percentile of the alternatives' base fees.
        base_fee_msat: Option<u32>,
    },
    /// `cost_floor`: the ppm of refilling the channel (cheapest circular route).
    CostFloor {
        /// The amount (sat) whose refill cost is priced.
        amount_sat: u64,
    },
    /// `flow`: the candidate fee that maximises N's simulated revenue over the demand.
    Flow(FlowParams),
}

impl Strategy {
    /// The strategy's name as written in the rules file (`static`, `proportional`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Static(_) => "static",
            Strategy::Proportional { .. } => "proportional",
            Strategy::Competitive { .. } => "competitive",
            Strategy::CostFloor { .. } => "cost_floor",
            Strategy::Flow(_) => "flow",
        }
    }
}

/// The `flow` strategy's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowParams {
    /// Base fee (msat) of every candidate.
    pub base_fee_msat: u32,
    /// Lowest candidate ppm.
    pub min_fee_ppm: u32,
    /// Highest candidate ppm.
    pub max_fee_ppm: u32,
    /// Most ppm a channel moves in one round.
    pub max_step_ppm: u32,
    /// Most percent of a non-zero current ppm a channel moves in one round (at least 1 ppm).
    pub max_step_percent: u32,
    /// Number of candidate ppm values, evenly spaced over `min_fee_ppm..=max_fee_ppm`.
    pub candidates: u32,
    /// Most rounds (each round takes the channels one at a time; stops early when a whole
    /// round moves none).
    pub rounds: u32,
    /// Least gain, in percent of N's simulated revenue before the move, for a channel to move
    /// (0: any gain of at least 1 msat); a guard against fitting the demand sample.
    pub min_gain_percent: u32,
}

/// An inclusive range; `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range<T> {
    /// Inclusive lower bound; `None`: unbounded.
    pub min: Option<T>,
    /// Inclusive upper bound; `None`: unbounded.
    pub max: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    fn holds(&self, x: T) -> bool {
        self.min.is_none_or(|m| x >= m) && self.max.is_none_or(|m| x <= m)
    }
    /// Every value in `other` is in `self`.
    fn covers(&self, other: &Range<T>) -> bool {
        let lo = match (self.min, other.min) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a <= b,
        };
        let hi = match (self.max, other.max) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a >= b,
        };
        lo && hi
    }
}

/// A rule's conditions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conditions {
    /// The channel's peer is one of these (`peer = [...]`).
    pub peers: Option<Vec<NodeId>>,
    /// The channel is one of these (`channel = [...]`).
    pub channels: Option<Vec<Scid>>,
    /// Capacity (sat) bounds.
    pub capacity_sat: Range<u64>,
    /// Local balance ratio bounds (`local / (local + remote)`, 0..=1).
    pub ratio: Range<f64>,
    /// Channel age bounds (days).
    pub age_days: Range<u64>,
    /// Bounds on forwards out of the channel over the activity window.
    pub forwards: Range<u64>,
    /// Bounds on the forwarded volume (sat, the msat volume rounded down).
    pub forward_volume_sat: Range<u64>,
    /// The channel is (or is not) public.
    pub public: Option<bool>,
}

fn set_covers<T: PartialEq>(a: &Option<Vec<T>>, b: &Option<Vec<T>>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b.iter().all(|x| a.contains(x)),
    }
}

impl Conditions {
    /// Whether every condition holds for `c` (absent conditions hold for every channel).
    pub fn matches(&self, c: &ChannelState) -> bool {
        self.peers.as_ref().is_none_or(|v| v.contains(&c.peer))
            && self.channels.as_ref().is_none_or(|v| v.contains(&c.scid))
            && self.capacity_sat.holds(c.capacity_sat)
            && self.ratio.holds(c.local_ratio())
            && self.age_days.holds(u64::from(c.age_days))
            && self.forwards.holds(c.forwards)
            && self.forward_volume_sat.holds(c.forward_volume_msat / 1000)
            && self.public.is_none_or(|p| p == c.public)
    }

    /// Every channel `other` matches, `self` matches too.
    fn covers(&self, other: &Conditions) -> bool {
        set_covers(&self.peers, &other.peers)
            && set_covers(&self.channels, &other.channels)
            && self.capacity_sat.covers(&other.capacity_sat)
            && self.ratio.covers(&other.ratio)
            && self.age_days.covers(&other.age_days)
            && self.forwards.covers(&other.forwards)
            && self.forward_volume_sat.covers(&other.forward_volume_sat)
            && (self.public.is_none() || self.public == other.public)
    }
}

/// One section of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The rule's name (`name = ...`, default `rule #i`; `default` for `[default]`).
    pub name: String,
    /// When the section applies (ignored for `[default]`).
    pub conditions: Conditions,
    /// `None` only for pinned sections.
    pub strategy: Option<Strategy>,
    /// Whether matching channels keep their fee (`pin = true`).
    pub pin: bool,
    /// `floor = "cost_floor"`: the amount (sat) whose refill cost the fee never goes below.
    pub floor_amount_sat: Option<u64>,
}

/// A parsed rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// The `[[rule]]` sections, in file order.
    pub rules: Vec<Section>,
    /// The `[default]` section, for channels no rule matches.
    pub default: Section,
}

impl Rules {
    /// The section that decides `channel`.
    pub fn match_channel(&self, channel: &ChannelState) -> &Section {
        self.rules
            .iter()
            .find(|s| s.conditions.matches(channel))
            .unwrap_or(&self.default)
    }

    /// Parses a rules file (see the module documentation).
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| RulesError {
            section: String::new(),
            key: None,
            kind: ErrorKind::Syntax(e.message().to_string()),
        })?;
        let mut rules = Vec::new();
        let mut default = None;
        for (k, v) in &table {
            match (k.as_str(), v) {
                ("rule", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let fallback = format!("rule #{}", i + 1);
                        let Value::Table(t) = item else {
                            return Err(err(&fallback, None, ErrorKind::BadType("a table")));
                        };
                        rules.push(section(t, &fallback, false)?);
                    }
                }
                ("default", Value::Table(t)) => default = Some(section(t, "default", true)?),
                ("rule", _) => {
                    return Err(err("rule", None, ErrorKind::BadType("[[rule]] tables")))
                }
                ("default", _) => return Err(err("default", None, ErrorKind::BadType("a table"))),
                (other, _) => return Err(err(other, None, ErrorKind::UnknownSection)),
            }
        }
        let default = default.ok_or(err("default", None, ErrorKind::NoDefault))?;
        let mut names = HashSet::new();
        for (i, r) in rules.iter().enumerate() {
            if !names.insert(r.name.clone()) {
                return Err(err(&r.name, Some("name"), ErrorKind::Duplicate));
            }
            if let Some(earlier) = rules[..i]
                .iter()
                .find(|e| e.conditions.covers(&r.conditions))
            {
                return Err(err(
                    &r.name,
                    None,
                    ErrorKind::Unreachable(earlier.name.clone()),
                ));
            }
        }
        Ok(Rules { rules, default })
    }
}

impl Default for Rules {
    /// No rules file: every channel under `flow` between 1 and 2,000 ppm, base fee 0, with
    /// the flow defaults (steps of at most 500 ppm and 50%, 20 candidates, 3 rounds).
    fn default() -> Self {
        Rules {
            rules: Vec::new(),
            default: Section {
                name: "default".to_string(),
                conditions: Conditions::default(),
                strategy: Strategy::named("flow"),
                pin: false,
                floor_amount_sat: None,
            },
        }
    }
}

impl Strategy {
    /// A strategy by name with default parameters (`?strategy=NAME`): `proportional` 1 to
    /// 2,000 ppm, base 0; `competitive` the median of the alternatives; `cost_floor` for
    /// 100,000 sat; `flow` as in [`Rules::default`]. `static` has no default fee: `None`.
    pub fn named(name: &str) -> Option<Strategy> {
        Some(match name {
            "proportional" => Strategy::Proportional {
                base_fee_msat: 0,
                min_fee_ppm: 1,
                max_fee_ppm: 2_000,
            },
            "competitive" => Strategy::Competitive {
                percentile: 50.0,
                base_fee_msat: None,
            },
            "cost_floor" => Strategy::CostFloor {
                amount_sat: 100_000,
            },
            "flow" => Strategy::Flow(FlowParams {
                base_fee_msat: 0,
                min_fee_ppm: 1,
                max_fee_ppm: 2_000,
                max_step_ppm: 500,
                max_step_percent: 50,
                candidates: 20,
                rounds: 3,
                min_gain_percent: 1,
            }),
            _ => return None,
        })
    }
}

/// A rules file error: the section, the key when one is at fault, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RulesError {
    /// The section at fault (its name, or the top-level key); empty for a syntax error.
    pub section: String,
    /// The key at fault, when one is.
    pub key: Option<String>,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.section[..], &self.key) {
            ("", _) => write!(f, "rules file: {}", self.kind),
            (s, None) => write!(f, "rules file, section [{s}]: {}", self.kind),
            (s, Some(k)) => write!(f, "rules file, section [{s}], key `{k}`: {}", self.kind),
        }
    }
}

/// What is wrong (see [`RulesError`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("syntax: {0}")]
    /// The file is not valid TOML.
    Syntax(String),
    #[error("unknown section (expected [[rule]] or [default])")]
    /// A top-level table other than `[[rule]]` and `[default]`.
    UnknownSection,
    #[error("unknown key")]
    /// A key the section does not take.
    UnknownKey,
    #[error("expected {0}")]
    /// A value of the wrong type (what was expected is given).
    BadType(&'static str),
    #[error("bad range: {0}")]
    /// A bound or range is out of its domain, or min exceeds max.
    BadRange(String),
    #[error("unknown strategy `{0}` (static, proportional, competitive, cost_floor, flow)")]
    /// A strategy name that is not one of the five.
    UnknownStrategy(String),
    #[error("strategy `{strategy}` needs `{parameter}`")]
    /// A strategy lacks one of its required parameters.
    MissingParameter {
        /// The strategy's name.
        strategy: &'static str,
        /// The missing parameter's key.
        parameter: &'static str,
    },
    #[error(
        "no channel can reach this rule: rule [{0}] before it matches every channel it matches"
    )]
    /// An earlier rule (named) matches every channel this one matches.
    Unreachable(String),
    #[error("no [default] section")]
    /// The file has no `[default]` section.
    NoDefault,
    #[error("two rules have this name")]
    /// Two rules share a name.
    Duplicate,
}

fn err(section: &str, key: Option<&str>, kind: ErrorKind) -> RulesError {
    RulesError {
        section: section.to_string(),
        key: key.map(str::to_string),
        kind,
    }
}

/// Reads typed keys of one table, remembering which were used.
struct Reader<'a> {
    t: &'a Table,
    name: String,
    used: HashSet<&'static str>,
}

impl<'a> Reader<'a> {
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.insert(key);
        let t: &'a Table = self.t;
        t.get(key)
    }
    fn e(&self, key: &str, kind: ErrorKind) -> RulesError {
        err(&self.name, Some(key), kind)
    }
    fn uint(&mut self, key: &'static str, max: u64) -> Result<Option<u64>, RulesError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(i)) if *i < 0 => {
                Err(self.e(key, ErrorKind::BadRange("must not be negative".into())))
            }
            Some(Value::Integer(i)) if *i as u64 > max => {
                Err(self.e(key, ErrorKind::BadRange(format!("must be at most {max}"))))
            }
            Some(Value::Integer(i)) => Ok(Some(*i as u64)),
            Some(_) => Err(self.e(key, ErrorKind::BadType("an integer"))),
        }
    }
    fn u32(&mut self, key: &'static str) -> Result<Option<u32>, RulesError> {
        Ok(self.uint(key, u64::from(u32::MAX))?.map(|v| v as u32))
    }
    fn float(&mut self, key: &'static str, lo: f64, hi: f64) -> Result<Option<f64>, RulesError> {
        let v = match self.get(key) {
            None => return Ok(None),
            Some(Value::Float(f)) => *f,
            Some(Value::Integer(i)) => *i as f64,
            Some(_) => return Err(self.e(key, ErrorKind::BadType("a number"))),
        };
        if !(lo..=hi).contains(&v) {
            return Err(self.e(key, ErrorKind::BadRange(format!("must be in {lo}..={hi}"))));
        }
        Ok(Some(v))
    }
    fn bool(&mut self, key: &'static str) -> Result<Option<bool>, RulesError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(self.e(key, ErrorKind::BadType("true or false"))),
        }
    }
    fn string(&mut self, key: &'static str) -> Result<Option<String>, RulesError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.e(key, ErrorKind::BadType("a string"))),
        }
    }
    fn list<T: std::str::FromStr>(
        &mut self,
        key: &'static str,
        what: &'static str,
    ) -> Result<Option<Vec<T>>, RulesError> {
        let items: Vec<&Value> = match self.get(key) {
            None => return Ok(None),
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v @ Value::String(_)) => vec![v],
            Some(_) => return Err(self.e(key, ErrorKind::BadType(what))),
        };
        let mut out = Vec::with_capacity(items.len());
        for v in items {
            let parsed = v.as_str().and_then(|s| s.parse().ok());
            out.push(parsed.ok_or_else(|| self.e(key, ErrorKind::BadType(what)))?);
        }
        Ok(Some(out))
    }
    fn range(
        &mut self,
        lo: &'static str,
        hi: &'static str,
        max: u64,
    ) -> Result<Range<u64>, RulesError> {
        let r = Range {
            min: self.uint(lo, max)?,
            max: self.uint(hi, max)?,
        };
        if let (Some(a), Some(b)) = (r.min, r.max) {
            if a > b {
                return Err(self.e(lo, ErrorKind::BadRange(format!("{lo} > {hi}"))));
            }
        }
        Ok(r)
    }
    fn need<T>(
        &self,
        v: Option<T>,
        strategy: &'static str,
        parameter: &'static str,
    ) -> Result<T, RulesError> {
        v.ok_or_else(|| {
            self.e(
                parameter,
                ErrorKind::MissingParameter {
                    strategy,
                    parameter,
                },
            )
        })
    }
}

const MATCH_KEYS: [&str; 14] = [
    "peer",
    "channel",
    "min_capacity_sat",
    "max_capacity_sat",
    "min_ratio",
    "max_ratio",
    "min_age_days",
    "max_age_days",
    "min_forwards",
    "max_forwards",
    "min_forward_volume_sat",
    "max_forward_volume_sat",
    "public",
    "name",
];

fn conditions(r: &mut Reader) -> Result<Conditions, RulesError> {
    let ratio = Range {
        min: r.float("min_ratio", 0.0, 1.0)?,
        max: r.float("max_ratio", 0.0, 1.0)?,
    };
    if let (Some(a), Some(b)) = (ratio.min, ratio.max) {
        if a > b {
            return Err(r.e(
                "min_ratio",
                ErrorKind::BadRange("min_ratio > max_ratio".into()),
            ));
        }
    }
    Ok(Conditions {
        peers: r.list("peer", "a node id or a list of node ids")?,
        channels: r.list("channel", "a short channel id or a list of them")?,
        capacity_sat: r.range("min_capacity_sat", "max_capacity_sat", u64::MAX)?,
        ratio,
        age_days: r.range("min_age_days", "max_age_days", u64::MAX)?,
        forwards: r.range("min_forwards", "max_forwards", u64::MAX)?,
        forward_volume_sat: r.range(
            "min_forward_volume_sat",
            "max_forward_volume_sat",
            u64::MAX,
        )?,
        public: r.bool("public")?,
    })
}

fn strategy(r: &mut Reader, name: &str) -> Result<Strategy, RulesError> {
    Ok(match name {
        "static" => Strategy::Static(FeePolicy::new(
            {
                let v = r.u32("base_fee_msat")?;
                r.need(v, "static", "base_fee_msat")?
            },
            {
                let v = r.u32("fee_ppm")?;
                r.need(v, "static", "fee_ppm")?
            },
        )),
        "proportional" => {
            let min = {
                let v = r.u32("min_fee_ppm")?;
                r.need(v, "proportional", "min_fee_ppm")?
            };
            let max = {
                let v = r.u32("max_fee_ppm")?;
                r.need(v, "proportional", "max_fee_ppm")?
            };
            if min > max {
                return Err(r.e(
                    "min_fee_ppm",
                    ErrorKind::BadRange("min_fee_ppm > max_fee_ppm".into()),
                ));
            }
            Strategy::Proportional {
                base_fee_msat: r.u32("base_fee_msat")?.unwrap_or(0),
                min_fee_ppm: min,
                max_fee_ppm: max,
            }
        }
        "competitive" => Strategy::Competitive {
            percentile: {
                let v = r.float("percentile", 0.0, 100.0)?;
                r.need(v, "competitive", "percentile")?
            },
            base_fee_msat: r.u32("base_fee_msat")?,
        },
        "cost_floor" => Strategy::CostFloor {
            amount_sat: r
                .uint("amount_sat", 21_000_000 * 100_000_000)?
                .unwrap_or(100_000)
                .max(1),
        },
        "flow" => {
            let min = {
                let v = r.u32("min_fee_ppm")?;
                r.need(v, "flow", "min_fee_ppm")?
            };
            let max = {
                let v = r.u32("max_fee_ppm")?;
                r.need(v, "flow", "max_fee_ppm")?
            };
            if min > max {
                return Err(r.e(
                    "min_fee_ppm",
                    ErrorKind::BadRange("min_fee_ppm > max_fee_ppm".into()),
                ));
            }
            Strategy::Flow(FlowParams {
                base_fee_msat: r.u32("base_fee_msat")?.unwrap_or(0),
                min_fee_ppm: min,
                max_fee_ppm: max,
                max_step_ppm: r.u32("max_step_ppm")?.unwrap_or(500),
                max_step_percent: r.u32("max_step_percent")?.unwrap_or(50),
                candidates: r.uint("candidates", 1_000)?.unwrap_or(20).max(1) as u32,
                rounds: r.uint("rounds", 20)?.unwrap_or(3).max(1) as u32,
                min_gain_percent: r.uint("min_gain_percent", 100)?.unwrap_or(1) as u32,
            })
        }
        other => return Err(r.e("strategy", ErrorKind::UnknownStrategy(other.to_string()))),
    })
}

const STRATEGY_KEYS: [&str; 16] = [
    "strategy",
    "pin",
    "floor",
    "floor_amount_sat",
    "base_fee_msat",
    "fee_ppm",
    "min_fee_ppm",
    "max_fee_ppm",
    "percentile",
    "amount_sat",
    "max_step_ppm",
    "max_step_percent",
    "candidates",
    "rounds",
    "min_gain_percent",
    "name",
];

fn section(t: &Table, fallback: &str, is_default: bool) -> Result<Section, RulesError> {
    let mut r = Reader {
        t,
        name: fallback.to_string(),
        used: HashSet::new(),
    };
    if let Some(n) = r.string("name")? {
        r.name = n;
    }
    // Unknown keys first, so that a typo is reported as such.
    for k in t.keys() {
        let known = STRATEGY_KEYS.contains(&k.as_str())
            || (!is_default && MATCH_KEYS.contains(&k.as_str()));
        if !known {
            return Err(r.e(k, ErrorKind::UnknownKey));
        }
    }
    let conditions = if is_default {
        Conditions::default()
    } else {
        conditions(&mut r)?
    };
    let pin = r.bool("pin")?.unwrap_or(false);
    let strategy = match r.string("strategy")? {
        Some(s) => Some(strategy(&mut r, &s)?),
        None if pin => None,
        None => {
            return Err(r.e(
                "strategy",
                ErrorKind::MissingParameter {
                    strategy: "any",
                    parameter: "strategy",
                },
            ))
        }
    };
    let floor_amount_sat = match r.string("floor")?.as_deref() {
        None => None,
        Some("cost_floor") => Some(
            r.uint("floor_amount_sat", 21_000_000 * 100_000_000)?
                .unwrap_or(100_000)
                .max(1),
        ),
        Some(other) => return Err(r.e("floor", ErrorKind::UnknownStrategy(other.to_string()))),
    };
    // Keys valid somewhere but meaningless here (a parameter of another strategy).
    for k in t.keys() {
        if !r.used.contains(k.as_str()) {
            return Err(r.e(k, ErrorKind::UnknownKey));
        }
    }
    Ok(Section {
        name: r.name.clone(),
        conditions,
        strategy,
        pin,
        floor_amount_sat,
    })
}
