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
    /// start, and the HTTP API with metrics.
    Up(ServeArgs),
    /// Serve the API on the graph already in the database.
    Serve(ServeArgs),
    /// Import Core Lightning listchannels/listnodes or LND describegraph JSON (plain, .xz or
    /// .gz; detected by content). All files in one transaction: all or nothing.
    Import(ImportArgs),
    /// Find a route between two nodes and print it as a table.
    Route(RouteArgs),
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
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./switchyard-data")]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL server instead of the embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
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
    /// With `up`: do not import the bundled 2019-05-14 snapshot into an empty database.
    #[arg(long)]
    pub no_bundle: bool,
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

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Start the embedded cluster (if not running) and print its connection URL.
    Start,
    /// Stop the embedded cluster.
    Stop,
    /// Say whether the embedded cluster is running.
    Status,
}
