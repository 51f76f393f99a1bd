//! Wiring of each subcommand.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use switchyard_api::metrics::Metrics;
use switchyard_api::AppState;
use switchyard_store::embedded::{EmbeddedPostgres, StartOutcome, DEFAULT_DATABASE};
use switchyard_store::import::{ImportOptions, ImportReport, ImportSource};
use switchyard_store::queries::asof::Resolution;
use switchyard_store::time::Time;
use switchyard_store::Store;

use crate::cli::{Cli, Command, DbAction, DbArgs, ImportArgs, Model, RouteArgs, ServeArgs};

/// The 2019-05-14 mainnet snapshot, bundled so `switchyard up` works anywhere.
const BUNDLED: [(&str, &[u8]); 2] = [
    (
        "bundled:channels-2019-05-14.json.xz",
        include_bytes!("../data/channels-2019-05-14.json.xz"),
    ),
    (
        "bundled:nodes-2019-05-14.json.xz",
        include_bytes!("../data/nodes-2019-05-14.json.xz"),
    ),
];

pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info,sqlx=warn",
        1 => "debug,sqlx=info,hyper=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Up(args) => {
            let with_node = !args.node.no_node;
            serve(args, true, with_node).await
        }
        Command::Serve(args) => serve(args, false, false).await,
        Command::Node(args) => serve(args, false, true).await,
        Command::Import(args) => import(args).await,
        Command::Route(args) => route(args).await,
        Command::Analyze(args) => crate::analyze::analyze(args).await,
        Command::Diff(args) => crate::history::diff(args).await,
        Command::Channel { api, action } => crate::operator::channel(&api, action).await,
        Command::Wallet { api, action } => crate::operator::wallet(&api, action).await,
        Command::Invoice {
            api,
            amount_msat,
            description,
            expiry_secs,
        } => crate::operator::invoice(&api, amount_msat, &description, expiry_secs).await,
        Command::Pay {
            api,
            invoice,
            destination,
            amount_msat,
            max_fee_msat,
        } => crate::operator::pay(&api, invoice, destination, amount_msat, max_fee_msat).await,
        Command::Earnings {
            api,
            group_by,
            from,
            to,
        } => crate::operator::earnings(&api, &group_by, from, to).await,
        Command::Fees { api, action } => crate::fees::fees(&api, action).await,
        Command::Db { db, action } => db_command(db, action).await,
        Command::Gossip(args) => crate::gossip::gossip(args).await,
        Command::Token { db, action } => token_command(&db, action),
        Command::Ready { api } => crate::operator::ready(&api).await,
        Command::MetricsDoc => {
            print!("{}", new_metrics().markdown());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The registry, with this build's version and git commit (`build.rs`).
pub fn new_metrics() -> Metrics {
    Metrics::with_build_info(env!("CARGO_PKG_VERSION"), env!("SWITCHYARD_COMMIT"))
}

/// The database in use, and the embedded cluster if this process started it.
pub(crate) struct Database {
    pub(crate) store: Store,
    started: Option<EmbeddedPostgres>,
}

impl Database {
    pub(crate) async fn open(args: &DbArgs) -> Result<Database> {
        if let Some(url) = &args.database_url {
            let store = Store::connect_url(url, 16)
                .await
                .context("connecting to DATABASE_URL")?;
            return Ok(Database {
                store,
                started: None,
            });
        }
        let pg = embedded(args)?;
        let outcome = pg
            .start()
            .await
            .context("starting the embedded PostgreSQL")?;
        match outcome {
            StartOutcome::Initialized => {
                tracing::info!(dir = %pg.data_dir().display(), "created the embedded PostgreSQL cluster")
            }
            StartOutcome::Started => {
                tracing::info!(dir = %pg.data_dir().display(), "started the embedded PostgreSQL cluster")
            }
            StartOutcome::AlreadyRunning => {
                tracing::info!("embedded PostgreSQL already running; sharing it")
            }
        }
        let result = async {
            pg.ensure_database(DEFAULT_DATABASE).await?;
            Store::connect(pg.connect_options(DEFAULT_DATABASE), 16).await
        }
        .await;
        let started = (outcome != StartOutcome::AlreadyRunning).then_some(pg);
        match result {
            Ok(store) => Ok(Database { store, started }),
            Err(e) => {
                if let Some(pg) = &started {
                    let _ = pg.stop().await;
                }
                Err(e).context("opening the switchyard database")
            }
        }
    }

    pub(crate) async fn close(self) {
        self.store.close().await;
        if let Some(pg) = self.started {
            match pg.stop().await {
                Ok(()) => tracing::info!("stopped the embedded PostgreSQL cluster"),
                Err(e) => tracing::warn!(error = %e, "stopping the embedded PostgreSQL cluster"),
            }
        }
    }
}

fn embedded(args: &DbArgs) -> Result<EmbeddedPostgres> {
    let dir: PathBuf = args.data_dir.join("postgres");
    EmbeddedPostgres::new(&dir).with_context(|| format!("preparing {}", dir.display()))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// How long a writer waits for the lock still held by the session of a writer on this host
/// whose process is gone (killed, crashed): Postgres ends that session a moment later.
const GONE_WRITER_WAIT: Duration = Duration::from_secs(30);

/// Takes the writer lock; refuses at once when a live writer holds it, and waits (up to
/// [`GONE_WRITER_WAIT`]) when the holder is the leftover session of a local writer that is
/// gone, as after a kill -9 and an immediate restart.
async fn take_writer_lock(
    store: &Store,
) -> std::result::Result<switchyard_store::replica::WriterLock, switchyard_store::Error> {
    let name = format!("switchyard writer (pid {})", std::process::id());
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        let refused = match store.acquire_writer_lock(&name).await {
            Err(e @ switchyard_store::Error::WriterLocked { .. }) => e,
            other => return other,
        };
        let holder = store.writer_lock_holder().await.ok().flatten();
        let gone = holder.as_ref().is_some_and(|h| {
            h.local && writer_pid(&h.application_name).is_some_and(|pid| !process_alive(pid))
        });
        if !gone || started.elapsed() >= GONE_WRITER_WAIT {
            return Err(refused);
        }
        if !told {
            tracing::info!(
                holder = ?holder,
                "the writer lock is still held by the session of a writer that is gone; \
                 waiting for Postgres to end it"
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The process id a switchyard writer puts in its `application_name`.
fn writer_pid(application_name: &str) -> Option<u32> {
    application_name
        .strip_prefix("switchyard writer (pid ")?
        .strip_suffix(')')?
        .parse()
        .ok()
}

/// A process with this id runs on this host (Linux's /proc).
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// How often the writer checks that it still holds the writer lock.
const WRITER_LOCK_CHECK: Duration = Duration::from_secs(5);

async fn serve(args: ServeArgs, bundle: bool, with_node: bool) -> Result<ExitCode> {
    let metrics = Arc::new(new_metrics());
    // Check the node's options before touching the database.
    let node_config = with_node
        .then(|| crate::node::config(&args.node, &args.db.data_dir))
        .transpose()?;
    // Refuse an unsafe listen address before touching the database.
    let tls = api_tls(&args)?;
    if args.read_only {
        if bundle || with_node {
            anyhow::bail!("--read-only is for `switchyard serve` (a replica runs no node and imports nothing)");
        }
        return serve_read_only(&args, metrics, tls)
            .await
            .map(|()| ExitCode::SUCCESS);
    }
    let db = Database::open(&args.db).await?;
    // One writer per database: a second one is refused before it writes anything more than
    // the migrations (which Postgres serializes on their own lock).
    let lock = take_writer_lock(&db.store).await;
    let result = match lock {
        Ok(lock) => {
            // Held for the writer's life, taken again after a database restart; if another
            // writer took it meanwhile, this one stops.
            let store = db.store.clone();
            tokio::select! {
                served = serve_on(&db, &args, bundle, node_config, metrics, tls) => served,
                lost = lock.hold(&store, WRITER_LOCK_CHECK) => Err(anyhow::Error::new(lost)
                    .context("stopping: another writer took this database's writer lock while \
                              the database was unreachable (two writers must never interleave)")),
            }
        }
        Err(e) => Err(anyhow::Error::new(e).context("refusing to start a second writer")),
    };
    db.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

/// `serve --read-only`: waits for the schema the writer migrates, then serves the store's
/// graph (following its version) and the analytics the writer published; writes nothing.
async fn serve_read_only(
    args: &ServeArgs,
    metrics: Arc<Metrics>,
    tls: Option<Arc<switchyard_api::tls::ServerConfig>>,
) -> Result<()> {
    let url = args.db.database_url.as_deref().context(
        "--read-only needs --database-url (DATABASE_URL): the standby (or primary) to read from",
    )?;
    let started = std::time::Instant::now();
    let name = format!("switchyard replica (pid {})", std::process::id());
    let store = Store::connect_read_only_url(url, &name, 16).context("DATABASE_URL")?;
    let every = Duration::from_secs(args.refresh_secs.clamp(1, 5));
    let schema = switchyard_store::replica::wait_for_schema(&store, every).await;
    tracing::info!(
        schema,
        "read-only replica: schema present; applying no migrations"
    );
    let mut state = api_state(&store, args, metrics)?;
    state.read_only = true;
    let config = analytics_config(args)?;
    while let Err(e) = state.refresh_graph().await {
        tracing::info!(error = %e, "read-only replica: waiting to load the graph");
        tokio::time::sleep(every).await;
    }
    state.follow_published(config.amount_msat).await;
    let follower = state.spawn_analytics_follower(config, every);
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        analytics = state.analytics().is_some(),
        "read-only replica ready"
    );
    let refresher = state.spawn_graph_refresher(Duration::from_secs(args.refresh_secs.max(1)));
    let served = bind_and_serve(args, state, tls).await;
    refresher.abort();
    follower.abort();
    store.close().await;
    served
}

/// The API's state on `store` from the command line: limits, tokens, own node.
fn api_state(store: &Store, args: &ServeArgs, metrics: Arc<Metrics>) -> Result<AppState> {
    let mut state = AppState::new(store.clone(), metrics).with_limits(api_limits(args)?);
    let mut auth = switchyard_api::auth::Auth::from_data_dir(&args.db.data_dir)
        .context("preparing the API tokens")?;
    auth.private_reads = args.private_reads;
    state.auth = Arc::new(auth);
    tracing::info!(
        dir = %args.db.data_dir.display(),
        read = switchyard_api::auth::READ_TOKEN_FILE,
        admin = switchyard_api::auth::ADMIN_TOKEN_FILE,
        private_reads = args.private_reads,
        "API tokens in the data directory (Authorization: Bearer ...; `switchyard token rotate` replaces one)"
    );
    if let Some(own) = &args.own_node {
        state.own_node = Some(own.parse().with_context(|| format!("--own-node {own:?}"))?);
    }
    state.analytics_versions_kept = args.analytics_versions_kept;
    Ok(state)
}

fn analytics_config(args: &ServeArgs) -> Result<switchyard_graph::analytics::AnalyticsConfig> {
    if args.analytics_amount_sat == 0 {
        anyhow::bail!("--analytics-amount-sat must be at least 1");
    }
    Ok(switchyard_graph::analytics::AnalyticsConfig::for_amount(
        args.analytics_amount_sat.saturating_mul(1000),
    ))
}

/// Binds the API's listener and serves until a shutdown signal.
async fn bind_and_serve(
    args: &ServeArgs,
    state: AppState,
    tls: Option<Arc<switchyard_api::tls::ServerConfig>>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the API to {}", args.listen))?;
    if !args.listen.ip().is_loopback() && tls.is_none() {
        tracing::warn!(listen = %args.listen, "--insecure-http: plain HTTP beyond localhost; tokens cross the network in clear");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "API on {scheme}://{}  (try /v1/network/stats, /metrics, /v1/openapi.json)",
        listener.local_addr().unwrap_or(args.listen)
    );
    switchyard_api::serve_with(listener, state, tls, shutdown_signal())
        .await
        .context("serving the API")
}

async fn serve_on(
    db: &Database,
    args: &ServeArgs,
    bundle: bool,
    node_config: Option<switchyard_node::NodeConfig>,
    metrics: Arc<Metrics>,
    tls: Option<Arc<switchyard_api::tls::ServerConfig>>,
) -> Result<()> {
    if bundle && !args.no_bundle {
        let counts = switchyard_store::queries::meta::counts(db.store.pool()).await?;
        if counts.channels == 0 {
            tracing::info!("empty database: importing the bundled 2019-05-14 mainnet snapshot");
            let sources: Vec<ImportSource> = BUNDLED
                .iter()
                .map(|(name, data)| ImportSource::Bytes {
                    name: (*name).to_owned(),
                    data,
                })
                .collect();
            let reports = switchyard_store::import::import(
                &db.store,
                &sources,
                ImportOptions::default(),
                crate::progress::bar(),
            )
            .await;
            metrics.record_import(reports.as_deref().map_err(|_| ()));
            for r in reports.context("importing the bundled snapshot")? {
                log_report(&r);
            }
        }
    }
    let mut state = api_state(&db.store, args, metrics.clone())?;
    let node = match node_config {
        Some(cfg) => {
            let node = switchyard_node::Node::start(cfg, db.store.clone(), metrics.node.clone())
                .await
                .context("starting the Lightning node")?;
            state.node = Some(node.handle());
            Some(node)
        }
        None => None,
    };
    let analytics = state.spawn_analytics_worker(analytics_config(args)?);
    state.refresh_graph().await.context("loading the graph")?;
    let refresher = state.spawn_graph_refresher(Duration::from_secs(args.refresh_secs.max(1)));
    let served = bind_and_serve(args, state, tls).await;
    refresher.abort();
    analytics.abort();
    if let Some(node) = node {
        node.stop().await;
    }
    served
}

/// The API's limits from the command line (see `switchyard_api::limits`).
fn api_limits(args: &ServeArgs) -> Result<switchyard_api::limits::Limits> {
    use switchyard_api::limits::{Limits, RateLimit};
    if args.max_body_bytes < 1024 {
        anyhow::bail!(
            "--max-body-bytes must be at least 1024 (a route request alone is ~200 bytes)"
        );
    }
    if args.request_timeout_secs == 0 {
        anyhow::bail!("--request-timeout-secs must be at least 1");
    }
    if args.rate_limit_per_minute > 0 && args.rate_limit_burst == 0 {
        anyhow::bail!("--rate-limit-burst must be at least 1 (or --rate-limit-per-minute 0 to turn the limit off)");
    }
    Ok(Limits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        rate: RateLimit {
            per_minute: args.rate_limit_per_minute,
            burst: args.rate_limit_burst,
        },
        ..Limits::default()
    })
}

/// The API's TLS configuration: from --tls-cert/--tls-key, or the self-signed pair in the
/// data directory with --tls; `None` for plain HTTP, which is refused beyond loopback unless
/// --insecure-http.
fn api_tls(args: &ServeArgs) -> Result<Option<Arc<switchyard_api::tls::ServerConfig>>> {
    use switchyard_api::tls;
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ if args.tls => {
            let mut names = args.tls_names.clone();
            if !args.listen.ip().is_unspecified() {
                names.push(args.listen.ip().to_string());
            }
            let (c, k, created) = tls::self_signed(&args.db.data_dir, &names)
                .context("preparing the self-signed API certificate")?;
            if created {
                tracing::info!(cert = %c.display(), "generated a self-signed API certificate");
            }
            (c, k)
        }
        _ if args.listen.ip().is_loopback() || args.insecure_http => return Ok(None),
        _ => anyhow::bail!(
            "refusing to serve the API over plain HTTP on {} (beyond loopback, tokens and balances would cross the network in clear): \
             pass --tls (a self-signed certificate in the data directory), --tls-cert and --tls-key, \
             or --insecure-http if a TLS-terminating proxy sits in front; or listen on 127.0.0.1",
            args.listen
        ),
    };
    let config = tls::server_config(&cert, &key).context("loading the API's TLS certificate")?;
    let fingerprint = tls::fingerprint(&cert).context("reading the API certificate")?;
    tracing::info!(cert = %cert.display(), sha256 = %fingerprint, "API served over TLS");
    Ok(Some(config))
}

fn log_report(r: &ImportReport) {
    if r.skipped {
        tracing::info!(file = %r.file, "already imported (same checksum); skipped");
    } else {
        tracing::info!(
            file = %r.file, format = %r.format, seconds = format!("{:.2}", r.seconds),
            channels_new = r.channels_new, channels_closed = r.channels_closed,
            updates_new = r.updates_new, fee_changes = r.fee_changes,
            nodes_new = r.nodes_new, announcements_new = r.announcements_new,
            "imported"
        );
    }
}

async fn import(args: ImportArgs) -> Result<ExitCode> {
    let db = Database::open(&args.db).await?;
    let sources: Vec<ImportSource> = args.files.iter().cloned().map(ImportSource::File).collect();
    let result = switchyard_store::import::import(
        &db.store,
        &sources,
        ImportOptions { force: args.force },
        crate::progress::bar(),
    )
    .await;
    db.close().await;
    let reports = result.context("import failed; nothing was written")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            if r.skipped {
                println!(
                    "{}: already imported (run {}), skipped; --force to import again",
                    r.file,
                    r.run_id.unwrap_or(0)
                );
                continue;
            }
            println!(
                "{}: {} in {:.2}s: {} channel entries, {} node entries; new: {} nodes, {} channels, {} updates, {} announcements; {} channels closed, {} reopened, {} fee changes",
                r.file, r.format, r.seconds, r.channel_entries, r.node_entries, r.nodes_new, r.channels_new,
                r.updates_new, r.announcements_new, r.channels_closed, r.channels_reopened, r.fee_changes
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn token_command(db: &DbArgs, action: crate::cli::TokenAction) -> Result<ExitCode> {
    use switchyard_api::auth::{ADMIN_TOKEN_FILE, READ_TOKEN_FILE};
    let crate::cli::TokenAction::Rotate { read, admin } = action;
    if !read && !admin {
        anyhow::bail!("say which token to rotate: --read, --admin or both");
    }
    for (wanted, file) in [(read, READ_TOKEN_FILE), (admin, ADMIN_TOKEN_FILE)] {
        if wanted {
            let path = db.data_dir.join(file);
            switchyard_api::auth::rotate_token_file(&path)
                .with_context(|| format!("rotating {}", path.display()))?;
            // The path only: the token itself is never printed or logged.
            println!(
                "rotated {} (a running API uses it from the next request)",
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn db_command(args: DbArgs, action: DbAction) -> Result<ExitCode> {
    if args.database_url.is_some() {
        anyhow::bail!("DATABASE_URL is set: the embedded cluster is not in use");
    }
    let pg = embedded(&args)?;
    match action {
        DbAction::Start => {
            let outcome = pg.start().await?;
            pg.ensure_database(DEFAULT_DATABASE).await?;
            println!(
                "{outcome:?}: postgres://postgres@/{DEFAULT_DATABASE}?host={}",
                pg.socket_dir().display()
            );
        }
        DbAction::Stop => {
            pg.stop().await?;
            println!("stopped");
        }
        DbAction::Status => match pg.running_postmaster()? {
            Some(pid) => println!(
                "running (pid {pid}), socket in {}",
                pg.socket_dir().display()
            ),
            None => {
                println!("not running");
                return Ok(ExitCode::from(3));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses an instant given as unix seconds or RFC 3339.
pub(crate) fn parse_time(flag: &str, s: &str) -> Result<Time> {
    s.parse::<Time>().with_context(|| format!("{flag} {s:?}"))
}

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The database's graph: the current one, or the one as of `at` (the current one when `at`
/// is at or after the newest data, or in the future). Returns it with the store's graph
/// version.
pub(crate) async fn load_graph(
    db: &Database,
    at: Option<Time>,
) -> Result<(switchyard_graph::Snapshot, i64)> {
    let Some(at) = at else {
        return switchyard_store::graph::load_snapshot(&db.store)
            .await
            .context("loading the graph from the database");
    };
    let (snapshot, version, resolution) =
        switchyard_store::graph::load_resolved(&db.store, at, unix_now())
            .await
            .with_context(|| format!("loading the graph as of {at}"))?;
    match resolution {
        Resolution::Current => {
            tracing::info!(%at, "at or after the newest data: the current graph")
        }
        Resolution::At(t) => tracing::info!(at = %t, "the graph as of a past instant"),
    }
    Ok((snapshot, version))
}

/// Parses `150000`, `150000sat` or `150000000msat` into msat.
fn parse_amount_msat(s: &str) -> Result<u64> {
    let s = s.trim().replace('_', "");
    let (digits, scale) = match s.strip_suffix("msat") {
        Some(d) => (d.to_owned(), 1),
        None => (s.strip_suffix("sat").unwrap_or(&s).to_owned(), 1000),
    };
    let n: u64 = digits.parse().with_context(|| {
        format!("amount {s:?}: expected e.g. 150000, 150000sat or 150000000msat")
    })?;
    n.checked_mul(scale).context("amount too large")
}

async fn route(args: RouteArgs) -> Result<ExitCode> {
    use switchyard_graph::route::{CostModel, RouteRequest, RoutingIndex};
    let source: switchyard_graph::NodeId = args
        .from
        .parse()
        .with_context(|| format!("--from {:?}", args.from))?;
    let destination: switchyard_graph::NodeId = args
        .to
        .parse()
        .with_context(|| format!("--to {:?}", args.to))?;
    let amount_msat = parse_amount_msat(&args.amount)?;
    let at = args
        .at
        .as_deref()
        .map(|s| parse_time("--at", s))
        .transpose()?;
    let snapshot = if args.graph.is_empty() {
        let db = Database::open(&args.db).await?;
        let loaded = load_graph(&db, at).await;
        db.close().await;
        loaded?.0
    } else {
        let files = args.graph.clone();
        tokio::task::spawn_blocking(move || -> Result<switchyard_graph::Snapshot> {
            let mut b = switchyard_graph::GraphBuilder::default();
            for f in &files {
                switchyard_graph::load::read_file(f, |r| {
                    b.add(r);
                    true
                })?;
            }
            Ok(b.build())
        })
        .await??
    };
    let model = match args.model {
        Model::Fee => CostModel::Fee,
        Model::Probability => CostModel::Probability,
        Model::Balanced => CostModel::Balanced,
    };
    let snapshot = Arc::new(snapshot);
    let index = RoutingIndex::build(snapshot.clone());
    let request = RouteRequest::new(source, destination, amount_msat).with_model(model);
    let route = match index.find_route(&request) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("no route ({}): {e}", e.code());
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&route)?);
        return Ok(ExitCode::SUCCESS);
    }
    let alias = |id: &switchyard_graph::NodeId| {
        snapshot
            .node_idx(id)
            .and_then(|n| snapshot.node(n).alias.as_deref().map(str::to_owned))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| id.to_hex()[..16].to_owned())
    };
    println!(
        "{:>3}  {:<16} {:<24} {:<24} {:>16} {:>10} {:>5} {:>7}",
        "hop", "scid", "from", "to", "amount_msat", "fee_msat", "cltv", "P"
    );
    for (i, h) in route.hops.iter().enumerate() {
        let trunc = |s: String| s.chars().take(24).collect::<String>();
        println!(
            "{:>3}  {:<16} {:<24} {:<24} {:>16} {:>10} {:>5} {:>7.4}",
            i + 1,
            h.scid.to_string(),
            trunc(alias(&h.from)),
            trunc(alias(&h.to)),
            h.amount_to_forward_msat,
            h.fee_msat,
            h.cltv_delta,
            h.probability
        );
    }
    println!(
        "total: send {} msat to deliver {} msat, fee {} msat, cltv {}, success probability {:.4} ({:?} model)",
        route.total_amount_msat, route.amount_msat, route.total_fee_msat, route.total_cltv, route.probability, route.cost_model
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_writer_is_recognised_by_the_pid_in_its_session_name() {
        let me = std::process::id();
        assert_eq!(
            writer_pid(&format!("switchyard writer (pid {me})")),
            Some(me)
        );
        assert_eq!(writer_pid("switchyard replica (pid 12)"), None);
        assert_eq!(writer_pid("psql"), None);
        assert!(process_alive(me));
        // Linux pids stay below 2^22.
        assert!(!process_alive(u32::MAX));
    }
}
