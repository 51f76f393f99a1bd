//! Serving the graph **as of an instant**: the `at` parameter of the graph, route and
//! analytics endpoints.
//!
//! `at` (unix seconds or RFC 3339) resolves against the store's data (see
//! `switchyard_store::queries::asof`): in the future or at/after the newest data it is the
//! current graph, served exactly as without `at`; before the first data it is a 404 naming the
//! first available time; in between, the graph as of `at` is read from history
//! (`load_snapshot_at`), built into a [`GraphView`] like the current one, and kept in a small
//! LRU of views ([`ViewCache`]), so the next request for the same instant is a lookup. Views
//! are keyed by the instant and the store's graph version: history can change in the past too
//! (an older snapshot imported, a channel announced again), so a cached view is only served
//! while the version it was built at is the served one.
//!
//! Analytics as of `at` take seconds, so, like the current graph's, no request waits for them:
//! the first request starts the computation in the background (one at a time) and gets 503
//! `analytics_pending`; once done the result is kept in a second, smaller LRU.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use switchyard_graph::analytics::{AnalyticsConfig, NetworkAnalytics};
use switchyard_store::queries::asof::{self, Bounds, Resolution, ResolveError};
use switchyard_store::time::Time;

use crate::error::{ApiError, ApiResult};
use crate::state::{unix_now, AnalyticsView, AppState, GraphView};

/// Views of past instants kept (each is a whole graph with its routing index: about 4x the
/// snapshot's size; see `switchyard_asof_cache_bytes`).
pub const VIEW_CACHE_ENTRIES: usize = 4;
/// Analytics of past instants kept.
pub const ANALYTICS_CACHE_ENTRIES: usize = 4;

/// The `at` query parameter.
#[derive(Debug, Default, Deserialize)]
pub struct AtQuery {
    /// The instant (unix seconds or RFC 3339).
    pub at: Option<String>,
}

/// Parses an instant given by the user: 400 `invalid_time` when it is neither unix seconds nor
/// RFC 3339.
pub(crate) fn parse_time(name: &str, s: &str) -> ApiResult<Time> {
    s.parse::<Time>()
        .map_err(|e| ApiError::bad_request("invalid_time", format!("{name}: {e}")))
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::BeforeData { first, .. } => ApiError::BeforeData {
                message: e.to_string(),
                first_available: first,
            },
            ResolveError::NoData => ApiError::not_found("no_data", e.to_string()),
        }
    }
}

struct Entry<V> {
    at: Time,
    version: i64,
    bytes: usize,
    value: Arc<V>,
}

/// A small LRU of values computed for past instants, keyed by instant and graph version.
pub struct ViewCache<V> {
    capacity: usize,
    /// Least recently used first.
    entries: Mutex<Vec<Entry<V>>>,
}

impl<V> ViewCache<V> {
    /// An empty cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        ViewCache {
            capacity: capacity.max(1),
            entries: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry<V>>> {
        // A panic while holding the lock cannot leave the vector inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value for `at` built at graph `version`; an entry of another version is dropped.
    pub fn get(&self, at: Time, version: i64) -> Option<Arc<V>> {
        let mut entries = self.lock();
        let i = entries.iter().position(|e| e.at == at)?;
        let entry = entries.remove(i);
        if entry.version != version {
            return None;
        }
        let value = entry.value.clone();
        entries.push(entry);
        Some(value)
    }

    /// Keeps `value` (of `bytes` heap bytes), evicting the least recently used beyond the
    /// capacity.
    pub fn insert(&self, at: Time, version: i64, value: Arc<V>, bytes: usize) {
        let mut entries = self.lock();
        entries.retain(|e| e.at != at);
        entries.push(Entry {
            at,
            version,
            bytes,
            value,
        });
        let excess = entries.len().saturating_sub(self.capacity);
        entries.drain(..excess);
    }

    /// Entries held and their summed heap bytes.
    pub fn usage(&self) -> (usize, usize) {
        let entries = self.lock();
        (entries.len(), entries.iter().map(|e| e.bytes).sum())
    }
}

/// The as-of state of [`AppState`]: caches, the store's bounds per graph version, and the
/// analytics computation under way.
pub struct AsOf {
    /// Past graph views.
    pub views: ViewCache<GraphView>,
    /// Analytics of past graphs.
    pub analytics: ViewCache<AnalyticsView>,
    bounds: Mutex<Option<(i64, Option<Bounds>)>>,
    /// Serializes builds of past views: two requests for one instant build it once, and past
    /// views never take more than one core from the current graph's requests.
    building: tokio::sync::Mutex<()>,
    /// The instant whose analytics are being computed.
    computing: Mutex<Option<Time>>,
}

impl Default for AsOf {
    fn default() -> Self {
        AsOf {
            views: ViewCache::new(VIEW_CACHE_ENTRIES),
            analytics: ViewCache::new(ANALYTICS_CACHE_ENTRIES),
            bounds: Mutex::new(None),
            building: tokio::sync::Mutex::new(()),
            computing: Mutex::new(None),
        }
    }
}

impl AppState {
    /// What `at` resolves to on the served graph's version (the store's bounds are read once
    /// per version).
    pub async fn resolve_at(&self, at: Time) -> ApiResult<(Resolution, Arc<GraphView>)> {
        let current = self.graph().ok_or(ApiError::NotReady)?;
        let cached = *self.asof.bounds.lock().unwrap_or_else(|e| e.into_inner());
        let bounds = match cached {
            Some((v, b)) if v == current.version => b,
            _ => {
                let b = asof::bounds(self.store.pool()).await?;
                *self.asof.bounds.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((current.version, b));
                b
            }
        };
        Ok((asof::resolve(at, unix_now() as i64, bounds)?, current))
    }

    /// The graph to answer with: the current one without `at`, else the graph as of `at`.
    pub async fn view_at(&self, at: Option<&str>) -> ApiResult<Arc<GraphView>> {
        let Some(at) = at else {
            return self.graph().ok_or(ApiError::NotReady);
        };
        let at = parse_time("at", at)?;
        match self.resolve_at(at).await? {
            (Resolution::Current, current) => Ok(current),
            (Resolution::At(t), current) => self.past_view(t, current.version).await,
        }
    }

    /// The view as of `at` (before the newest data), from the cache or built now.
    async fn past_view(&self, at: Time, version: i64) -> ApiResult<Arc<GraphView>> {
        let cache = &self.asof.views;
        let count = |result: &str| {
            self.metrics
                .time_travel
                .asof_requests
                .with_label_values(&[result])
                .inc()
        };
        if let Some(v) = cache.get(at, version) {
            count("hit");
            return Ok(v);
        }
        let _building = self.asof.building.lock().await;
        if let Some(v) = cache.get(at, version) {
            count("hit");
            return Ok(v);
        }
        count("miss");
        let started = std::time::Instant::now();
        let (snapshot, _) = switchyard_store::graph::load_snapshot_at(&self.store, at).await?;
        let view =
            tokio::task::spawn_blocking(move || GraphView::new_at(snapshot, version, Some(at)))
                .await
                .map_err(|e| ApiError::Internal(format!("view builder: {e}")))?;
        let view = Arc::new(view);
        cache.insert(at, version, view.clone(), view.heap_bytes());
        let seconds = started.elapsed().as_secs_f64();
        self.metrics
            .time_travel
            .asof_build_duration
            .observe(seconds);
        self.set_asof_gauges();
        tracing::info!(at = %at, channels = view.stats.channels, seconds, "graph as of a past instant built");
        Ok(view)
    }

    fn set_asof_gauges(&self) {
        let t = &self.metrics.time_travel;
        for (kind, (entries, bytes)) in [
            ("graph", self.asof.views.usage()),
            ("analytics", self.asof.analytics.usage()),
        ] {
            t.asof_cache_entries
                .with_label_values(&[kind])
                .set(entries as i64);
            t.asof_cache_bytes
                .with_label_values(&[kind])
                .set(bytes as i64);
        }
    }

    /// The analytics to answer with: the served ones without `at` (or when `at` is the current
    /// graph), else those of the graph as of `at`, computed in the background on first
    /// request (503 `analytics_pending` until done).
    pub async fn analytics_at(&self, at: Option<&str>) -> ApiResult<Arc<AnalyticsView>> {
        let pending = || ApiError::Unavailable {
            code: "analytics_pending",
            message: "analytics are being computed for the current graph; retry shortly".into(),
        };
        let Some(at) = at else {
            return self.analytics().ok_or_else(pending);
        };
        let at = parse_time("at", at)?;
        let (t, current) = match self.resolve_at(at).await? {
            (Resolution::Current, _) => return self.analytics().ok_or_else(pending),
            (Resolution::At(t), current) => (t, current),
        };
        if let Some(a) = self.asof.analytics.get(t, current.version) {
            return Ok(a);
        }
        let busy = {
            let mut computing = self
                .asof
                .computing
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match *computing {
                Some(other) => Some(other),
                None => {
                    *computing = Some(t);
                    None
                }
            }
        };
        match busy {
            None => {
                let state = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = state.compute_past_analytics(t, current.version).await {
                        tracing::warn!(at = %t, error = %e, "analytics as of a past instant failed");
                    }
                    *state.asof.computing.lock().unwrap_or_else(|e| e.into_inner()) = None;
                });
                Err(ApiError::Unavailable {
                    code: "analytics_pending",
                    message: format!("computing analytics as of {t}; retry shortly"),
                })
            }
            Some(other) => Err(ApiError::Unavailable {
                code: "analytics_pending",
                message: format!(
                    "computing analytics as of {other} first (one past instant at a time); retry shortly"
                ),
            }),
        }
    }

    async fn compute_past_analytics(&self, at: Time, version: i64) -> ApiResult<()> {
        let view = self.past_view(at, version).await?;
        let uptime =
            switchyard_store::queries::history::node_uptime_until(self.store.pool(), Some(at))
                .await?;
        let config = self.analytics_config();
        let started = std::time::Instant::now();
        let uptime = (!uptime.by_node.is_empty()).then_some(uptime.by_node);
        let analytics = tokio::task::spawn_blocking(move || {
            NetworkAnalytics::compute_with_uptime(&view.snapshot, &config, uptime.as_ref())
        })
        .await
        .map_err(|e| ApiError::Internal(format!("analytics worker: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        let seconds = started.elapsed().as_secs_f64();
        let bytes = analytics.heap_bytes();
        let result = Arc::new(AnalyticsView {
            version,
            computed_at: unix_now(),
            seconds,
            analytics,
            as_of: Some(at),
        });
        self.asof.analytics.insert(at, version, result, bytes);
        self.set_asof_gauges();
        tracing::info!(at = %at, seconds, "analytics as of a past instant computed");
        Ok(())
    }

    /// The configuration the analytics worker computes with (the default before it starts).
    pub fn analytics_config(&self) -> AnalyticsConfig {
        self.analytics_config.get().cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_most_recent_entries_of_the_served_version() {
        let c: ViewCache<u32> = ViewCache::new(2);
        c.insert(Time(1), 7, Arc::new(10), 100);
        c.insert(Time(2), 7, Arc::new(20), 200);
        assert_eq!(c.get(Time(1), 7).as_deref(), Some(&10));
        // 2 is now the least recently used: a third entry evicts it.
        c.insert(Time(3), 7, Arc::new(30), 300);
        assert_eq!(c.get(Time(2), 7), None);
        assert_eq!(c.usage(), (2, 400));
        // Another graph version: the entry is stale and dropped.
        assert_eq!(c.get(Time(3), 8), None);
        assert_eq!(c.usage(), (1, 100));
        // Replacing an instant keeps one entry for it.
        c.insert(Time(1), 8, Arc::new(11), 150);
        assert_eq!(c.get(Time(1), 8).as_deref(), Some(&11));
        assert_eq!(c.usage(), (1, 150));
    }
}
