#!/usr/bin/env python3
"""Writes the Grafana dashboards in this folder (dashboards/*.json) from the definitions below.

    python3 dashboards/generate.py          # rewrite the JSON files
    python3 dashboards/generate.py --check  # exit 1 if a JSON file differs (a test runs this)

Edit the definitions here, not the JSON (an edit made in Grafana's UI and exported would be
overwritten). Every expression is evaluated against a real Prometheus by the test
`observability` (tests/observability.rs). Conventions: the data source is the variable
`${datasource}`; every selector filters `instance=~"$instance"`; rates use `$__rate_interval`.
Standard library only.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
I = 'instance=~"$instance"'  # the selector every query carries
RI = "$__rate_interval"


def target(expr, legend="", ref="A", fmt=None):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto", "range": True}
    if fmt:
        t["format"] = fmt
    return t


def timeseries(title, targets, unit="short", desc="", stack=False, w=12, h=8, min0=True):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min0:
        defaults["min"] = 0
    return {"type": "timeseries", "title": title, "description": desc, "w": w, "h": h,
            "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title, targets, unit="short", desc="", w=6, h=4, thresholds=None, decimals=None):
    steps = thresholds or [{"color": "green", "value": None}]
    defaults = {"unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": steps}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {"type": "stat", "title": title, "description": desc, "w": w, "h": h, "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                        "textMode": "auto", "orientation": "auto"}}


def bargauge(title, targets, unit="percentunit", desc="", w=12, h=8):
    return {"type": "bargauge", "title": title, "description": desc, "w": w, "h": h, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "min": 0, "max": 1, "color": {"mode": "continuous-RdYlGr"}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}}


def heatmap(title, targets, desc="", w=12, h=8):
    return {"type": "heatmap", "title": title, "description": desc, "w": w, "h": h, "targets": targets,
            "fieldConfig": {"defaults": {}, "overrides": []},
            "options": {"calculate": False, "yAxis": {"unit": "s"}, "cellGap": 1,
                        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                        "tooltip": {"show": True, "yHistogram": False}}}


def row(title):
    return {"type": "row", "title": title, "w": 24, "h": 1}


def quantiles(metric, by, legend_prefix="", qs=(0.5, 0.9, 0.99)):
    """histogram_quantile targets for metric (a histogram's base name), grouped by `by`."""
    group = ", ".join(["le"] + by)
    out = []
    for n, q in enumerate(qs):
        legend = " ".join(["p" + str(int(q * 100))] + ["{{%s}}" % b for b in by])
        out.append(target(f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{I}}}[{RI}])))",
                          legend_prefix + legend, chr(ord("A") + n)))
    return out


def dashboard(uid, title, description, panels):
    laid, x, y, row_h, pid = [], 0, 0, 0, 1
    for p in panels:
        w, h = p.pop("w"), p.pop("h")
        if x + w > 24 or p["type"] == "row":
            x, y, row_h = 0, y + row_h, 0
        p = {"id": pid, "gridPos": {"h": h, "w": w, "x": x, "y": y}, **p}
        if p["type"] == "row":
            p.update({"collapsed": False, "panels": []})
        else:
            p["datasource"] = DS
        laid.append(p)
        pid += 1
        x, row_h = x + w, max(row_h, h)
    return {
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
            "type": "dashboard"}]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"asDropdown": True, "icon": "external link", "includeVars": True, "keepTime": True,
                   "tags": ["switchyard"], "title": "switchyard", "type": "dashboards"}],
        "panels": laid,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["switchyard"],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
             "regex": "", "skipUrlSync": False},
            {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
             "definition": "label_values(switchyard_build_info, instance)",
             "query": {"qryType": 1, "query": "label_values(switchyard_build_info, instance)",
                       "refId": "PrometheusVariableQueryEditor-VariableQuery"},
             "current": {}, "hide": 0, "includeAll": True, "allValue": ".*", "multi": True, "options": [],
             "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1},
        ]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def network():
    return dashboard("switchyard-network", "switchyard / Network",
                     "The Lightning channel graph switchyard serves: size, capacity, fees, our node's centrality.", [
        stat("Nodes", [target(f"switchyard_graph_nodes{{{I}}}", "{{instance}}")]),
        stat("Channels", [target(f"switchyard_graph_channels{{{I}}}", "{{instance}}")]),
        stat("Capacity", [target(f"switchyard_graph_capacity_sat{{{I}}} / 1e8", "{{instance}}")],
             unit="BTC", decimals=1),
        stat("Own node rank", [
            target(f"switchyard_own_node_rank_position{{{I}}}", "rank {{instance}}", "A"),
            target(f"switchyard_own_node_betweenness_rank{{{I}}}", "betweenness {{instance}}", "B")],
             desc="Position of --own-node by the composite rank and by fee-weighted betweenness (1 = best; 0 = not configured or not in the graph)."),
        timeseries("Nodes and channels", [
            target(f"switchyard_graph_nodes{{{I}}}", "nodes {{instance}}", "A"),
            target(f"switchyard_graph_channels{{{I}}}", "channels {{instance}}", "B"),
            target(f"switchyard_graph_enabled_directions{{{I}}}", "enabled directions {{instance}}", "C")]),
        timeseries("Capacity", [target(f"switchyard_graph_capacity_sat{{{I}}} / 1e8", "{{instance}}")], unit="BTC"),
        timeseries("Fee rate percentiles", [target(f"switchyard_graph_fee_rate_ppm{{{I}}}", "p{{percentile}}")],
                   unit="none", desc="Parts per million, over enabled channel directions."),
        timeseries("Base fee percentiles", [target(f"switchyard_graph_base_fee_msat{{{I}}}", "p{{percentile}}")],
                   unit="none", desc="Millisatoshis, over enabled channel directions."),
        timeseries("Own node rank over time", [
            target(f"switchyard_own_node_rank_position{{{I}}}", "composite rank {{instance}}", "A"),
            target(f"switchyard_own_node_betweenness_rank{{{I}}}", "fee betweenness {{instance}}", "B")],
                   desc="Position of --own-node (lower is better), set at each analytics computation of the served "
                        "graph and kept over time by Prometheus. The series before Prometheus scraped (each past day, "
                        "backfilled with `switchyard analyze --backfill`) is in the store: "
                        "GET /v1/analytics/nodes/{id}/history or `switchyard analyze --history <id>`."),
        timeseries("Graphs as of past instants", [
            target(f"sum by (kind) (switchyard_asof_cache_bytes{{{I}}})", "cache {{kind}}", "A")],
                   unit="bytes", desc="Memory of the past graphs (?at=) and their analytics held in the LRU caches."),
        timeseries("Past graph requests", [
            target(f"sum by (result) (rate(switchyard_asof_requests_total{{{I}}}[{RI}]))", "{{result}}/s", "A"),
            target(f"histogram_quantile(0.9, sum by (le) (rate(switchyard_asof_build_duration_seconds_bucket{{{I}}}[{RI}])))",
                   "build p90 (s)", "B")],
                   desc="Requests for the graph as of a past instant by cache result, and the time to build one from history."),
        timeseries("Graph updates", [
            target(f"sum by (kind) (rate(switchyard_import_rows_total{{{I}}}[{RI}]))", "{{kind}}/s", "A"),
            target(f"sum by (outcome) (increase(switchyard_import_runs_total{{{I}}}[{RI}]))", "imports {{outcome}}", "B")],
            desc="History rows added by imports per second, and import runs."),
        timeseries("Snapshot and analytics", [
            target(f"time() - switchyard_graph_loaded_timestamp_seconds{{{I}}}", "snapshot age {{instance}}", "A"),
            target(f"switchyard_analytics_duration_seconds{{{I}}}", "analytics took {{instance}}", "B"),
            target(f"histogram_quantile(0.9, sum by (le) (rate(switchyard_graph_load_duration_seconds_bucket{{{I}}}[{RI}])))",
                   "snapshot load p90", "C")], unit="s"),
        timeseries("Versions behind", [
            target(f"switchyard_graph_version{{{I}}} - switchyard_analytics_graph_version{{{I}}}", "analytics behind graph {{instance}}")],
            desc="Graph versions the served analytics lag behind the served snapshot (0 = current)."),
    ])


def pathfinding():
    q = f"switchyard_route_queries_total{{{I}}}"
    return dashboard("switchyard-pathfinding", "switchyard / Pathfinding API",
                     "Route queries (/v1/routes, batch, matrix, mpp): volume by cost model and outcome, latency.", [
        stat("Queries/s", [target(f"sum(rate({q}[{RI}]))", "queries/s")], unit="reqps"),
        stat("Routes found", [target(f'sum(rate(switchyard_route_queries_total{{outcome="found",{I}}}[{RI}])) / sum(rate({q}[{RI}]))', "found")],
             unit="percentunit", decimals=1),
        stat("p99 latency (single routes)", [target(
            f'histogram_quantile(0.99, sum by (le) (rate(switchyard_route_duration_seconds_bucket{{model!="batch",{I}}}[{RI}])))', "p99")],
            unit="s"),
        stat("Queries total", [target(f"sum({q})", "total")], desc="Since the process started."),
        timeseries("Queries by model and outcome", [target(f"sum by (model, outcome) (rate({q}[{RI}]))", "{{model}} {{outcome}}")],
                   unit="reqps", stack=True),
        timeseries("Latency by model", quantiles("switchyard_route_duration_seconds", ["model"]), unit="s",
                   desc="model=batch is the time of a whole batch."),
        timeseries("Outcome share by model", [target(
            f"sum by (model, outcome) (rate({q}[{RI}])) / ignoring(outcome) group_left sum by (model) (rate({q}[{RI}]))",
            "{{model}} {{outcome}}")], unit="percentunit"),
        heatmap("Latency distribution", [target(
            f'sum by (le) (increase(switchyard_route_duration_seconds_bucket{{model!="batch",{I}}}[{RI}]))', "{{le}}", fmt="heatmap")]),
        timeseries("HTTP status of route endpoints", [target(
            f'sum by (route, status) (rate(switchyard_http_requests_total{{route=~"/v1/routes.*",{I}}}[{RI}]))', "{{route}} {{status}}")],
            unit="reqps"),
        timeseries("HTTP latency of route endpoints", quantiles(
            "switchyard_http_request_duration_seconds", ["route"], qs=(0.5, 0.99)), unit="s"),
    ])


def service():
    http = f"switchyard_http_requests_total{{{I}}}"
    return dashboard("switchyard-service", "switchyard / Service",
                     "The switchyard process: HTTP traffic, errors and latency by route, database pool, CPU, memory, files.", [
        stat("Up", [target(f"up{{{I}}}", "{{instance}}")],
             thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        stat("Build", [target(f"switchyard_build_info{{{I}}}", "{{version}} ({{commit}})")],
             desc="The version and git commit of the running binary (shown in the legend)."),
        stat("Uptime", [target(f"time() - switchyard_process_start_time_seconds{{{I}}}", "{{instance}}")], unit="s"),
        stat("5xx ratio", [target(
            f'(sum(rate(switchyard_http_requests_total{{status=~"5..",{I}}}[{RI}])) or vector(0)) / sum(rate({http}[{RI}]))', "5xx")],
            unit="percentunit", decimals=2,
            thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.01}, {"color": "red", "value": 0.05}]),
        row("HTTP"),
        timeseries("Requests by route", [target(f"sum by (route) (rate({http}[{RI}]))", "{{route}}")], unit="reqps", stack=True),
        timeseries("Requests by status", [target(f"sum by (status) (rate({http}[{RI}]))", "{{status}}")], unit="reqps", stack=True),
        timeseries("Error ratio", [
            target(f'(sum(rate(switchyard_http_requests_total{{status=~"5..",{I}}}[{RI}])) or vector(0)) / sum(rate({http}[{RI}]))', "5xx", "A"),
            target(f'(sum(rate(switchyard_http_requests_total{{status=~"4..",{I}}}[{RI}])) or vector(0)) / sum(rate({http}[{RI}]))', "4xx", "B")],
            unit="percentunit"),
        timeseries("Latency p99 by route", quantiles("switchyard_http_request_duration_seconds", ["route"], qs=(0.99,)), unit="s"),
        row("Database"),
        timeseries("Pool connections", [
            target(f"switchyard_db_pool_connections{{{I}}}", "{{state}}", "A"),
            target(f"switchyard_db_pool_max_connections{{{I}}}", "max", "B")], stack=False),
        timeseries("Snapshot load time", quantiles("switchyard_graph_load_duration_seconds", []), unit="s",
                   desc="Building the served graph from the store."),
        row("Process"),
        timeseries("CPU", [target(f"rate(switchyard_process_cpu_seconds_total{{{I}}}[{RI}])", "{{instance}}")],
                   unit="percentunit", desc="CPU seconds per second (1 = one core)."),
        timeseries("Memory", [
            target(f"switchyard_process_resident_memory_bytes{{{I}}}", "resident {{instance}}", "A"),
            target(f"switchyard_process_virtual_memory_bytes{{{I}}}", "virtual {{instance}}", "B")], unit="bytes"),
        timeseries("File descriptors", [
            target(f"switchyard_process_open_fds{{{I}}}", "open {{instance}}", "A"),
            target(f"switchyard_process_max_fds{{{I}}}", "limit {{instance}}", "B")]),
        timeseries("Threads", [target(f"switchyard_process_threads{{{I}}}", "{{instance}}")]),
    ])


def node():
    g = f"switchyard_gossip_messages_total{{{I}}}"
    return dashboard("switchyard-node", "switchyard / Node",
                     "The Lightning node: peers, gossip received and stored, chain tip.", [
        stat("Peers", [target(f"switchyard_node_peers_connected{{{I}}}", "{{instance}}")],
             thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 1}, {"color": "green", "value": 3}]),
        stat("Chain tip", [target(f"switchyard_chain_tip_height{{{I}}}", "{{instance}}")], unit="none"),
        stat("Chain tip age", [target(f"time() - switchyard_chain_tip_timestamp_seconds{{{I}}}", "{{instance}}")], unit="s",
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 3600}, {"color": "red", "value": 7200}]),
        stat("Store lag", [target(f"switchyard_gossip_store_lag_seconds{{{I}}}", "{{instance}}")], unit="s",
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 10}, {"color": "red", "value": 60}]),
        timeseries("Peers", [target(f"switchyard_node_peers_connected{{{I}}}", "{{instance}}")]),
        timeseries("Gossip in by type", [target(f"sum by (type) (rate({g}[{RI}]))", "{{type}}")], unit="short", stack=True,
                   desc="Messages per second."),
        timeseries("Gossip by outcome", [target(f"sum by (outcome) (rate({g}[{RI}]))", "{{outcome}}")], stack=True,
                   desc="accepted, rejected, duplicate; messages per second."),
        timeseries("Rejected gossip by reason", [target(
            f"sum by (type, reason) (rate(switchyard_gossip_rejected_total{{{I}}}[{RI}]))", "{{type}}: {{reason}}")]),
        timeseries("Store write lag", [target(f"switchyard_gossip_store_lag_seconds{{{I}}}", "{{instance}}")], unit="s",
                   desc="Age of the oldest gossip message not yet in the store."),
        timeseries("Store batch size", quantiles("switchyard_gossip_store_batch_size", [], qs=(0.5, 0.99)) + [
            target(f"sum(rate(switchyard_gossip_store_batch_size_sum{{{I}}}[{RI}])) / sum(rate(switchyard_gossip_store_batch_size_count{{{I}}}[{RI}]))",
                   "mean", "C")], desc="Messages per store write."),
        timeseries("Chain tip height", [target(f"switchyard_chain_tip_height{{{I}}}", "{{instance}}")], min0=False, unit="none"),
        timeseries("Graph served", [
            target(f"switchyard_graph_channels{{{I}}}", "channels {{instance}}", "A"),
            target(f"switchyard_graph_nodes{{{I}}}", "nodes {{instance}}", "B")],
            desc="What gossip has built: the snapshot the API serves."),
    ])


def routing_node():
    f = f"switchyard_forwards_total{{{I}}}"
    bal = "switchyard_channel_balance_msat"
    return dashboard("switchyard-routing-node", "switchyard / Routing node",
                     "Forwarding: HTLCs forwarded by outcome, fees earned, channel balances, HTLCs in flight, the fee controller.", [
        stat("Forwards/s", [target(f"sum(rate({f}[{RI}]))", "forwards/s")], unit="short"),
        stat("Forward success", [target(
            f'sum(rate(switchyard_forwards_total{{outcome="settled",{I}}}[{RI}])) / sum(rate({f}[{RI}]))', "settled")],
            unit="percentunit", decimals=1),
        stat("Fees earned (24h)", [target(
            f"sum(increase(switchyard_forward_fees_earned_msat_total{{{I}}}[24h])) / 1000", "sat")], unit="none",
            desc="Satoshis."),
        stat("HTLCs in flight", [target(f"sum(switchyard_htlcs_in_flight{{{I}}})", "in flight")]),
        timeseries("Forwards by outcome", [target(f"sum by (outcome) (rate({f}[{RI}]))", "{{outcome}}")], stack=True,
                   desc="Forwards per second."),
        timeseries("Fees earned", [target(
            f"sum(rate(switchyard_forward_fees_earned_msat_total{{{I}}}[{RI}])) * 3600 / 1000", "sat/hour")],
            unit="none", desc="Satoshis per hour."),
        timeseries("Channel balances", [target(f'{bal}{{side="local",{I}}} / 1000', "{{channel}}")], unit="none",
                   desc="Local balance of each own channel, satoshis."),
        bargauge("Local share per channel", [target(
            f'sum by (channel) ({bal}{{side="local",{I}}}) / sum by (channel) ({bal}{{{I}}})', "{{channel}}")],
            desc="Local balance over the channel's total; near 0 or 1 means the channel can forward in one direction only."),
        timeseries("HTLCs in flight", [target(f"switchyard_htlcs_in_flight{{{I}}}", "{{instance}}")]),
        timeseries("Total local and remote balance", [target(f"sum by (side) ({bal}{{{I}}}) / 1000", "{{side}}")],
                   unit="none", stack=True, desc="Satoshis, all own channels."),
        timeseries("Own channels", [target(f"sum(switchyard_own_channels_open{{{I}}})", "open"),
                                    target(f"sum(switchyard_own_channels_pending{{{I}}})", "pending", ref="B")]),
        timeseries("On-chain wallet", [target(f"sum by (state) (switchyard_wallet_balance_sat{{{I}}})", "{{state}}")],
                   unit="none", stack=True, desc="Satoshis in the BDK wallet by state."),
        timeseries("Payments", [target(f"sum by (outcome) (rate(switchyard_payments_sent_total{{{I}}}[{RI}]))", "sent {{outcome}}"),
                                target(f"sum(rate(switchyard_payments_received_total{{{I}}}[{RI}]))", "received", ref="B")],
                   desc="Payments per second."),
        timeseries("Fee controller decisions", [target(
            f"sum by (outcome) (increase(switchyard_fee_channel_decisions_total{{{I}}}[1h]))", "{{outcome}}")],
            stack=True, desc="Per channel direction and run, per hour: applied, planned (dry run), refused, "
                             "pinned, unchanged, interval (changed less than one interval ago), not_selected."),
        timeseries("Fee plans", [target(
            f"sum by (mode, outcome) (increase(switchyard_fee_plans_total{{{I}}}[1h]))", "{{mode}} {{outcome}}")],
            desc="Fee controller runs per hour by mode and outcome."),
        timeseries("Fee plan revenue", [
            target(f"sum(switchyard_fee_expected_revenue_msat{{{I}}}) / 1000", "planned"),
            target(f"sum(switchyard_fee_current_revenue_msat{{{I}}}) / 1000", "at current fees", ref="B")],
            unit="none", desc="Satoshis the last plan expects over its simulated demand, and at the current fees."),
        stat("Last fee plan", [target(f"max(switchyard_fee_last_plan_timestamp_seconds{{{I}}}) * 1000", "last plan")],
             unit="dateTimeFromNow", desc="When the fee controller last completed a plan (0: never since start)."),
    ])


DASHBOARDS = {
    "network.json": network,
    "pathfinding.json": pathfinding,
    "service.json": service,
    "node.json": node,
    "routing-node.json": routing_node,
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale dashboards (run python3 dashboards/generate.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
