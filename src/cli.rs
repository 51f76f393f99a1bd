//! What the user can type. Validation into richer types happens in `run`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A forwarding-focused Lightning node and network-graph analytics service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More logging (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: database (embedded by default), migrations, the bundled graph on first
    /// start, the Lightning node, and the HTTP API with metrics.
    Up(ServeArgs),
    /// Serve the API on the graph already in the database (no Lightning node).
    Serve(ServeArgs),
    /// The Lightning node with the API: peers, gossip into the store, chain checks.
    Node(ServeArgs),
    /// Import Core Lightning listchannels/listnodes or LND describegraph JSON (plain, .xz or
    /// .gz; detected by content). All files in one transaction: all or nothing.
    Import(ImportArgs),
    /// Find a route between two nodes and print it as a table.
    Route(RouteArgs),
    /// Rank nodes by a network metric (betweenness, closeness, PageRank or the composite
    /// rank), from the database (now or --at a past instant) or straight from snapshot files;
    /// --backfill keeps the analytics of each past day in the database, --history prints one
    /// node's stored series.
    Analyze(AnalyzeArgs),
    /// What changed in the network between two instants: channels opened and closed,
    /// capacity, nodes appeared and gone, policy changes (largest first).
    Diff(DiffArgs),
    /// Our channels: list, open, close, set the forwarding policy (talks to a running node).
    Channel {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        action: ChannelAction,
    },
    /// The on-chain wallet: balance, a receive address, send.
    Wallet {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        action: WalletAction,
    },
    /// Create a BOLT 11 invoice.
    Invoice {
        #[command(flatten)]
        api: ApiArgs,
        /// Amount in millisatoshis (absent: any amount).
        #[arg(long)]
        amount_msat: Option<u64>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value_t = 3600)]
        expiry_secs: u32,
    },
    /// Pay a BOLT 11 invoice, or keysend with --destination; waits for the outcome.
    Pay {
        #[command(flatten)]
        api: ApiArgs,
        /// The invoice to pay.
        invoice: Option<String>,
        /// Keysend to this node id instead.
        #[arg(long)]
        destination: Option<String>,
        #[arg(long)]
        amount_msat: Option<u64>,
        #[arg(long)]
        max_fee_msat: Option<u64>,
    },
    /// Fees earned by forwarding, grouped by channel, peer or day.
    Earnings {
        #[command(flatten)]
        api: ApiArgs,
        #[arg(long, default_value = "channel")]
        group_by: String,
        /// Unix seconds (default: 30 days ago).
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
    },
    /// Fee strategies: plan, what-if simulation, run the controller now, its history.
    Fees {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        action: FeesAction,
    },
    /// The gossip stored from peers: `verify` decodes every stored message, checks its
    /// signatures over the stored bytes and the stored fields against it.
    Gossip(GossipArgs),
    /// The API's bearer tokens (files in the data directory).
    Token {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Ask a running API whether it is ready (`/readyz`); exits 0 when it is. For container
    /// health checks (speaks TLS with `--api https://...`).
    Ready {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print METRICS.md: every metric the registry exports, and the planned ones.
    MetricsDoc,
    /// Manage the embedded PostgreSQL cluster.
    Db {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Where switchyard keeps its state (the embedded database lives in DATA_DIR/postgres).
    #[arg(
        long,
        env = "SWITCHYARD_DATA_DIR",
        default_value = "./switchyard-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL server instead of the embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address of the HTTP API. Binding beyond localhost exposes the API to the network.
    #[arg(long, env = "SWITCHYARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seconds between checks for graph changes in the store.
    #[arg(long, default_value_t = 2)]
    pub refresh_secs: u64,
    /// Your node's id: its betweenness rank is exported as a metric.
    #[arg(long, env = "SWITCHYARD_OWN_NODE")]
    pub own_node: Option<String>,
    /// Payment amount (sat) for the fee- and probability-weighted analytics.
    #[arg(long, default_value_t = 100_000)]
    pub analytics_amount_sat: u64,
    /// Analytics of this many of the newest graph versions are kept in the database (each
    /// node's metrics per version; 0: none). Days backfilled with `analyze --backfill` are
    /// always kept.
    #[arg(long, default_value_t = switchyard_api::state::DEFAULT_ANALYTICS_VERSIONS_KEPT)]
    pub analytics_versions_kept: u32,
    /// Serve TLS with a self-signed certificate generated once into DATA_DIR/tls (its
    /// SHA-256 fingerprint is logged; `--api https://...` in the CLI trusts it).
    #[arg(long, env = "SWITCHYARD_TLS")]
    pub tls: bool,
    /// Serve TLS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "SWITCHYARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SWITCHYARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Extra DNS name or IP address for the generated certificate (repeatable; localhost,
    /// 127.0.0.1, ::1 and the --listen address are always in it).
    #[arg(
        long = "tls-name",
        value_name = "NAME",
        env = "SWITCHYARD_TLS_NAMES",
        value_delimiter = ','
    )]
    pub tls_names: Vec<String>,
    /// Serve plain HTTP beyond loopback anyway (behind a TLS-terminating proxy on a trusted
    /// network). Without TLS or this flag, a non-loopback --listen is refused.
    #[arg(long, env = "SWITCHYARD_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// Require the read token on the public graph, route, analytics and metrics endpoints too
    /// (probes and the OpenAPI document stay open).
    #[arg(long, env = "SWITCHYARD_PRIVATE_READS")]
    pub private_reads: bool,
    /// Largest request body the API accepts (bytes); larger ones get 413.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Seconds a request may run before it is answered 503 `timeout` (admin routes exempt).
    #[arg(long, env = "SWITCHYARD_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Requests per minute per client IP on the expensive endpoints (route batch, matrix and
    /// MPP, fee simulate and plan); 0 turns the limit off. Over it: 429 with Retry-After.
    #[arg(long, env = "SWITCHYARD_RATE_LIMIT_PER_MINUTE", default_value_t = 120)]
    pub rate_limit_per_minute: u32,
    /// Requests a client may make at once on those endpoints before the rate applies.
    #[arg(long, env = "SWITCHYARD_RATE_LIMIT_BURST", default_value_t = 20)]
    pub rate_limit_burst: u32,
    /// With `up`: do not import the bundled 2019-05-14 snapshot into an empty database.
    #[arg(long)]
    pub no_bundle: bool,
    /// Serve as a read-only replica (with `serve` and --database-url, typically a hot
    /// standby): no migrations, no writes, graph and analytics as the writer stored them;
    /// admin routes answer 503 `read_only_replica`.
    #[arg(long, env = "SWITCHYARD_READ_ONLY")]
    pub read_only: bool,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Lightning node")]
pub struct NodeArgs {
    /// With `up`: run only the database and the API, no Lightning node.
    #[arg(long)]
    pub no_node: bool,
    /// mainnet, testnet, signet or regtest.
    #[arg(long, env = "SWITCHYARD_NETWORK", default_value = "mainnet")]
    pub network: String,
    /// Where to accept Lightning peers (default 0.0.0.0 on the network's port); `none` for
    /// outbound only.
    #[arg(long, env = "SWITCHYARD_P2P_LISTEN")]
    pub p2p_listen: Option<String>,
    /// Peer to keep connected to, `pubkey@host:port` (repeatable).
    #[arg(long = "connect", value_name = "PEER")]
    pub connect: Vec<String>,
    /// bitcoind JSON-RPC `host:port`: every channel announcement is checked against its
    /// funding output. Without it, announcements are accepted unchecked.
    #[arg(long, env = "SWITCHYARD_BITCOIND_RPC")]
    pub bitcoind_rpc: Option<String>,
    #[arg(long, env = "SWITCHYARD_BITCOIND_RPC_USER")]
    pub bitcoind_rpc_user: Option<String>,
    #[arg(long, env = "SWITCHYARD_BITCOIND_RPC_PASSWORD", hide_env_values = true)]
    pub bitcoind_rpc_password: Option<String>,
    /// bitcoind's .cookie file (instead of user and password).
    #[arg(long, env = "SWITCHYARD_BITCOIND_COOKIE")]
    pub bitcoind_cookie: Option<PathBuf>,
    /// SOCKS5 proxy (Tor) for .onion peers, `host:port`.
    #[arg(long, env = "SWITCHYARD_TOR_PROXY")]
    pub tor_proxy: Option<SocketAddr>,
    /// Route every outbound connection through --tor-proxy (and make no DNS queries: no DNS
    /// bootstrap).
    #[arg(long)]
    pub tor_only: bool,
    /// Our onion service address to announce, `xyz.onion:9735` (one made elsewhere; with
    /// --tor-control the node makes its own).
    #[arg(long)]
    pub onion_address: Option<String>,
    /// tor's control port, `host:port`: the node creates its onion service there (the key is
    /// kept in the data directory, so the address survives restarts) and announces it.
    #[arg(long, env = "SWITCHYARD_TOR_CONTROL")]
    pub tor_control: Option<String>,
    /// Password for tor's control port (its HashedControlPassword). Default: tor's cookie
    /// file, or no authentication, as tor offers.
    #[arg(long, env = "SWITCHYARD_TOR_CONTROL_PASSWORD", hide_env_values = true)]
    pub tor_control_password: Option<String>,
    /// tor's control cookie file, when not at the path tor names (e.g. tor in a container).
    #[arg(long)]
    pub tor_control_cookie: Option<PathBuf>,
    /// DNS seed for BOLT 10 bootstrap when no peer is known (repeatable; defaults per network).
    #[arg(long = "dns-seed", value_name = "HOST")]
    pub dns_seeds: Vec<String>,
    /// Never bootstrap from DNS seeds.
    #[arg(long)]
    pub no_dns_bootstrap: bool,
    /// DNS server for bootstrap queries, `ip:port` (default: from /etc/resolv.conf).
    #[arg(long)]
    pub dns_server: Option<SocketAddr>,
    /// Our node's alias in its announcement.
    #[arg(long, default_value = "switchyard")]
    pub alias: String,
    /// Forwarding base fee of our channels, msat (change later with `switchyard channel policy`).
    #[arg(long, env = "SWITCHYARD_FEE_BASE_MSAT", default_value_t = 1000)]
    pub fee_base_msat: u32,
    /// Forwarding proportional fee of our channels, parts per million.
    #[arg(long, env = "SWITCHYARD_FEE_PPM", default_value_t = 100)]
    pub fee_ppm: u32,
    /// CLTV delta we require on forwards (at least 18).
    #[arg(long, env = "SWITCHYARD_CLTV_EXPIRY_DELTA", default_value_t = 72)]
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC we accept on new channels, msat.
    #[arg(long, default_value_t = 1)]
    pub htlc_minimum_msat: u64,
    /// The fee controller: `dry-run` plans and logs only; `apply` announces its changes.
    #[arg(long, env = "SWITCHYARD_FEES_MODE", default_value = "dry-run")]
    pub fees_mode: String,
    /// Minutes between the fee controller's runs, and the least time between two changes of
    /// one channel; 0 runs it only on demand (`switchyard fees apply`).
    #[arg(long, env = "SWITCHYARD_FEES_INTERVAL", default_value_t = 60)]
    pub fees_interval: u64,
    /// The fee rules file (TOML; see README "Fees"). Default: every channel under `flow`,
    /// 1 to 2,000 ppm.
    #[arg(long, env = "SWITCHYARD_FEES_RULES")]
    pub fees_rules: Option<PathBuf>,
    /// Most one controller change moves a channel's ppm.
    #[arg(long, default_value_t = 500)]
    pub fees_max_step_ppm: u32,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Files to import, in order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Import even files whose checksum was imported before.
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Paying node (hex node id).
    #[arg(long)]
    pub from: String,
    /// Receiving node (hex node id).
    #[arg(long)]
    pub to: String,
    /// Amount to deliver: `150000` or `150000sat` (satoshis) or `150000000msat`.
    #[arg(long)]
    pub amount: String,
    /// What to minimise.
    #[arg(long, value_enum, default_value = "fee")]
    pub model: Model,
    /// Route on these graph files instead of the database.
    #[arg(long = "graph", value_name = "FILE")]
    pub graph: Vec<PathBuf>,
    /// Route on the graph as it was at this instant (unix seconds or RFC 3339; database only).
    #[arg(long, value_name = "TIME", conflicts_with = "graph")]
    pub at: Option<String>,
    /// Print the route as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Model {
    Fee,
    Probability,
    Balanced,
}

#[derive(Debug, Args)]
pub struct GossipArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub action: GossipAction,
}

#[derive(Debug, Subcommand)]
pub enum GossipAction {
    /// Re-check every stored gossip message that kept its wire bytes; exits 1 when one fails.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Replace a token with a fresh random one; a running API accepts only the new one from
    /// its next request on (no restart needed).
    Rotate {
        /// The read token (api_read_token).
        #[arg(long)]
        read: bool,
        /// The admin token (api_token).
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Start the embedded cluster (if not running) and print its connection URL.
    Start,
    /// Stop the embedded cluster.
    Stop,
    /// Say whether the embedded cluster is running.
    Status,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// What to rank nodes by.
    #[arg(long, value_enum, default_value = "betweenness")]
    pub metric: AnalyzeMetric,
    /// Path cost for betweenness and closeness.
    #[arg(long, value_enum, default_value = "fee")]
    pub weight: AnalyzeWeight,
    /// Payment amount (sat) for the fee and probability weights and the rank's fee component.
    #[arg(long, default_value_t = 100_000)]
    pub amount_sat: u64,
    /// How many nodes to print.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the API's JSON (`GET /v1/analytics/centrality`) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Analyse these snapshot files (channels and nodes; CLN or LND JSON, plain, .xz or .gz)
    /// instead of the database.
    #[arg(long = "file", value_name = "SNAPSHOT", num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Analyse the graph as it was at this instant (unix seconds or RFC 3339; database only).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["files", "backfill", "history"])]
    pub at: Option<String>,
    /// Compute and store every metric of each day's graph (as of the day's last second) from
    /// --from to --to, for --amount-sat; days already stored are skipped (resumable).
    #[arg(long, conflicts_with_all = ["files", "history"])]
    pub backfill: bool,
    /// Print this node's stored metrics over time (from --from to --to).
    #[arg(long, value_name = "NODE_ID", conflicts_with = "files")]
    pub history: Option<String>,
    /// With --history: daily runs (backfilled) or the runs of each served graph version.
    #[arg(long, value_enum, default_value = "day")]
    pub kind: HistoryKind,
    /// First day (YYYY-MM-DD, UTC) for --backfill (default: the first day with data) and
    /// --history (default: 29 days before --to).
    #[arg(long, value_name = "DAY")]
    pub from: Option<String>,
    /// Last day for --backfill (default and latest: yesterday, or the newest day with data)
    /// and --history (default: the newest stored run).
    #[arg(long, value_name = "DAY")]
    pub to: Option<String>,
    /// The spacing of --backfill (one day: the only step).
    #[arg(long, value_enum, default_value = "day")]
    pub step: BackfillStep,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BackfillStep {
    Day,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HistoryKind {
    Day,
    Version,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The earlier instant (unix seconds or RFC 3339; default: a day before --to).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// The later instant (default: the newest data; the future is now).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Entries per list (largest first).
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Print the API's JSON (`GET /v1/network/diff`) instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum AnalyzeMetric {
    Betweenness,
    /// Incoming closeness.
    Closeness,
    ClosenessOut,
    Pagerank,
    PagerankCapacity,
    /// The composite rank (centrality, capacity, channels, fees, uptime).
    Rank,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AnalyzeWeight {
    Hops,
    Fee,
    Probability,
}

/// How the operator commands reach the node.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The node's API address.
    #[arg(
        long,
        env = "SWITCHYARD_API",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub api: String,
    /// The certificate to trust for `--api https://...` (default: DATA_DIR/tls/cert.pem, the
    /// one `up --tls` generates).
    #[arg(long = "api-cert", env = "SWITCHYARD_API_CERT", global = true)]
    pub api_cert: Option<PathBuf>,
    /// The node's data directory (for the api_read_token and api_token files).
    #[arg(
        long,
        env = "SWITCHYARD_DATA_DIR",
        default_value = "./switchyard-data",
        global = true
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ChannelAction {
    /// Our channels with balances and policy.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Open a channel funded from the wallet.
    Open {
        /// `pubkey` of a connected peer or `pubkey@host:port`.
        #[arg(long)]
        peer: String,
        #[arg(long)]
        amount_sat: u64,
        #[arg(long, default_value_t = 0)]
        push_msat: u64,
        /// Do not announce the channel to the network.
        #[arg(long)]
        private: bool,
    },
    /// Close a channel (channel id or short channel id).
    Close {
        channel: String,
        /// Broadcast our latest commitment instead of negotiating.
        #[arg(long)]
        force: bool,
    },
    /// Change forwarding fees (one channel with --channel, else all and the default).
    Policy {
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        base_fee_msat: Option<u32>,
        #[arg(long)]
        fee_ppm: Option<u32>,
        #[arg(long)]
        cltv_expiry_delta: Option<u16>,
        /// New channels only.
        #[arg(long)]
        htlc_minimum_msat: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeesAction {
    /// A fee plan for a node (default: ours), per channel direction.
    Plan {
        /// Node id (default: the running node's; needed with --file).
        #[arg(long)]
        node: Option<String>,
        /// Plan offline on these snapshot files (channels and nodes; CLN or LND JSON, plain,
        /// .xz or .gz) instead of asking the API: half of each channel's capacity on each
        /// side, the default rules.
        #[arg(long = "file", value_name = "SNAPSHOT", num_args = 1..)]
        files: Vec<PathBuf>,
        /// Force one strategy: proportional, competitive, cost_floor or flow.
        #[arg(long)]
        strategy: Option<String>,
        #[arg(long)]
        payments: Option<usize>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// What-if: route a random demand with fee overrides on the node's channels.
    Simulate {
        #[arg(long)]
        node: String,
        /// Simulate offline on these snapshot files (as `plan --file`) instead of asking the
        /// API.
        #[arg(long = "file", value_name = "SNAPSHOT", num_args = 1..)]
        files: Vec<PathBuf>,
        /// `SCID:BASE_FEE_MSAT:FEE_PPM` on the direction leaving --node (repeatable).
        #[arg(long = "override", value_name = "SCID:BASE:PPM")]
        overrides: Vec<String>,
        #[arg(long, default_value_t = 10_000)]
        payments: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Amounts, log-uniform between these (sat).
        #[arg(long, default_value_t = 1_000)]
        min_sat: u64,
        #[arg(long, default_value_t = 1_000_000)]
        max_sat: u64,
        #[arg(long)]
        json: bool,
    },
    /// Run the fee controller once now and apply its changes (admin token).
    Apply {
        #[arg(long)]
        strategy: Option<String>,
        /// Only this channel (repeatable).
        #[arg(long = "channel", value_name = "SCID")]
        channels: Vec<String>,
        /// Plan only; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// The controller's changes, newest first.
    History {
        #[arg(long)]
        scid: Option<String>,
        /// Unix seconds.
        #[arg(long)]
        since: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WalletAction {
    Balance,
    /// A fresh receive address.
    Address,
    /// Send on-chain (everything without --amount-sat).
    Send {
        address: String,
        #[arg(long)]
        amount_sat: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_options_are_accepted_after_the_action_too() {
        let cli = Cli::try_parse_from(["switchyard", "db", "stop", "--data-dir", "/tmp/d"])
            .expect("db stop --data-dir");
        let Command::Db { db, action } = cli.command else {
            panic!("not db");
        };
        assert!(matches!(action, DbAction::Stop));
        assert_eq!(db.data_dir, PathBuf::from("/tmp/d"));

        let cli = Cli::try_parse_from([
            "switchyard",
            "channel",
            "list",
            "--api",
            "127.0.0.1:9999",
            "--data-dir",
            "/tmp/e",
        ])
        .expect("channel list --api --data-dir");
        let Command::Channel { api, .. } = cli.command else {
            panic!("not channel");
        };
        assert_eq!(api.api, "127.0.0.1:9999");
        assert_eq!(api.data_dir, PathBuf::from("/tmp/e"));

        // The old place keeps working.
        let cli = Cli::try_parse_from(["switchyard", "db", "--data-dir", "/tmp/f", "status"])
            .expect("db --data-dir status");
        let Command::Db { db, .. } = cli.command else {
            panic!("not db");
        };
        assert_eq!(db.data_dir, PathBuf::from("/tmp/f"));
    }
}
