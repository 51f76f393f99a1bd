//! The API's side of one writer and many read-only replicas.
//!
//! The writer publishes the analytics of each graph version through the store
//! ([`AppState::publish_to_replicas`]); a read-only replica follows the store's graph version
//! like the writer does and serves the analytics the writer published for that version
//! ([`AppState::spawn_analytics_follower`]), never computing its own. A replica refuses the
//! admin routes (everything that changes the node, its money or its policy) with 503
//! `read_only_replica`; it must not write to the store at all.

use std::sync::Arc;
use std::time::Duration;

use switchyard_graph::analytics::AnalyticsConfig;
use switchyard_store::queries::published::{self, Published};

use crate::error::ApiError;
use crate::state::{AnalyticsView, AppState};

/// Graph versions whose analytics stay published (a replica a little behind the writer
/// still finds the version it serves).
pub const PUBLISHED_VERSIONS_KEPT: u32 = 4;

/// The answer of a read-only replica to a route that would write.
pub fn refusal() -> ApiError {
    ApiError::Unavailable {
        code: "read_only_replica",
        message: "this API is a read-only replica (serve --read-only): send changes to the \
                  writer"
            .into(),
    }
}

impl AppState {
    /// Writes `view` to the store for read-only replicas (a failure is logged: this process
    /// serves it anyway, and replicas keep their previous analytics).
    pub(crate) async fn publish_to_replicas(&self, view: &AnalyticsView) {
        let p = Published {
            graph_version: view.version,
            computed_at: i64::try_from(view.computed_at).unwrap_or(i64::MAX),
            seconds: view.seconds,
            analytics: view.analytics.clone(),
        };
        match published::publish(self.store.pool(), &p, PUBLISHED_VERSIONS_KEPT).await {
            Ok(_) => tracing::debug!(version = view.version, "analytics published for replicas"),
            Err(e) => {
                tracing::warn!(error = %e, version = view.version, "publishing analytics for replicas failed")
            }
        }
    }

    /// For a read-only replica: every `every`, when the served graph's version has no
    /// analytics yet, serves the ones the writer published for it (once they have replayed).
    pub fn spawn_analytics_follower(
        &self,
        config: AnalyticsConfig,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let amount_msat = config.amount_msat;
        let _ = self.analytics_config.set(config);
        let state = self.clone();
        crate::state::spawn_every(every, move || {
            let state = state.clone();
            async move {
                state.follow_published(amount_msat).await;
            }
        })
    }

    /// One step of the follower: loads and serves the published analytics of the served
    /// graph's version if they are newer than the served ones. Returns whether it swapped.
    pub async fn follow_published(&self, amount_msat: u64) -> bool {
        let Some(graph) = self.graph() else {
            return false;
        };
        if self.analytics().is_some_and(|a| a.version == graph.version) {
            return false;
        }
        let started = std::time::Instant::now();
        match published::published(self.store.pool(), graph.version, amount_msat).await {
            Ok(Some(p)) => {
                tracing::info!(
                    version = p.graph_version,
                    load_seconds = started.elapsed().as_secs_f64(),
                    "network analytics loaded from the writer's publication"
                );
                self.publish_analytics(Arc::new(AnalyticsView {
                    version: p.graph_version,
                    computed_at: u64::try_from(p.computed_at).unwrap_or(0),
                    seconds: p.seconds,
                    analytics: p.analytics,
                    as_of: None,
                }));
                true
            }
            Ok(None) => {
                tracing::debug!(
                    version = graph.version,
                    "no published analytics for this graph version yet"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the published analytics failed");
                false
            }
        }
    }
}
