#!/usr/bin/env python3
"""Reference values for switchyard's network analytics, computed with networkx.

Reads the bundled Core Lightning `listchannels` / `listnodes` dumps (`data/*.json.xz`) directly,
builds the *active graph* exactly as the Rust side defines it, and writes a fixture
(`services/graph/tests/fixtures/analytics-DATE.json.xz`) that `tests/analytics_vs_networkx.rs`
compares against. networkx is the independent reference; it never runs in the test path.

How to run (one-off, slow: networkx needs several minutes for the weighted betweenness):

    python3 -m venv ~/.cache/switchyard/venv
    ~/.cache/switchyard/venv/bin/pip install networkx
    ~/.cache/switchyard/venv/bin/python scripts/analytics_reference.py 2019-05-14

The active graph (must stay identical to `switchyard_graph::analytics::ActiveGraph`):
* Per channel direction the newest `channel_update` wins (equal timestamps: the later entry in
  the file wins, as `GraphBuilder` does). Direction 0 goes from the lexicographically lesser
  node id to the greater one. A direction is *enabled* when it is `active` and bit 1 of
  `channel_flags` is clear.
* Nodes: every node with at least one enabled direction in or out.
* Directed edges: node pairs (u, v) with at least one enabled direction u -> v; parallel
  channels collapse into one edge.
* Hop weight: 1. Fee weight for `amount_msat`: the minimum over the parallel enabled
  directions of max(base + floor(amount * ppm / 10^6), 1) msat (integers: ties are exact).
* Capacity weight (PageRank): the sum of the capacities (sat) of the parallel enabled
  directions u -> v.
"""

import json
import lzma
import os
import sys
import time

import networkx as nx

from active_graph import active_edges
from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
AMOUNT_MSAT = 100_000_000  # a 100,000 sat payment


def load(date):
    g = nx.DiGraph()
    for (u, v), (fee, cap) in active_edges(date, AMOUNT_MSAT).items():
        g.add_edge(u, v, fee=fee, cap=cap)
    return g


def timed(label, f):
    t = time.time()
    r = f()
    print(f"{label}: {time.time() - t:.1f} s", file=sys.stderr, flush=True)
    return r


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    skip = set()
    for a in sys.argv[1:]:
        if a.startswith("--skip="):
            skip.update(a[len("--skip="):].split(","))
    date = args[0] if args else "2019-05-14"
    g = load(date)
    nodes = sorted(g.nodes())
    index = {n: i for i, n in enumerate(nodes)}
    col = lambda d: [d[n] for n in nodes]  # noqa: E731
    print(f"{date}: {len(nodes)} nodes, {g.number_of_edges()} directed pairs", file=sys.stderr)

    out = {
        "date": date,
        "amount_msat": AMOUNT_MSAT,
        "networkx": nx.__version__,
        "nodes": nodes,
        "pairs": g.number_of_edges(),
    }
    # --skip=betweenness_fee leaves out the slowest metric (a partial fixture; the Rust test
    # then skips that comparison and says so).
    if "betweenness_hops" not in skip:
        out["betweenness_hops"] = col(timed("betweenness hops", lambda: nx.betweenness_centrality(
            g, normalized=False)))
    if "betweenness_fee" not in skip:
        out["betweenness_fee"] = col(timed("betweenness fee", lambda: nx.betweenness_centrality(
            g, weight="fee", normalized=False)))
    eb = timed("edge betweenness hops", lambda: nx.edge_betweenness_centrality(g, normalized=False))
    out["edge_betweenness_hops"] = sorted([index[u], index[v], b] for (u, v), b in eb.items())
    out["closeness_in_hops"] = col(timed("closeness hops", lambda: nx.closeness_centrality(g)))
    out["closeness_out_hops"] = col(nx.closeness_centrality(g.reverse(copy=False)))
    out["closeness_in_fee"] = col(timed("closeness fee", lambda: nx.closeness_centrality(
        g, distance="fee")))
    # networkx's pure-Python PageRank (its own reference implementation; nx.pagerank itself
    # needs scipy). Same iteration, damping 0.85, uniform teleport and dangling redistribution.
    out["pagerank_unweighted"] = col(_pagerank_python(g, alpha=0.85, weight=None, tol=1e-13,
                                                      max_iter=10_000))
    out["pagerank_capacity"] = col(_pagerank_python(g, alpha=0.85, weight="cap", tol=1e-13,
                                                    max_iter=10_000))
    canon = lambda comps: sorted(sorted(index[n] for n in c) for c in comps)  # noqa: E731
    out["weak_components"] = canon(nx.weakly_connected_components(g))
    sccs = canon(nx.strongly_connected_components(g))
    out["strong_components"] = sccs
    largest = max(sccs, key=len)
    out["diameter_largest_scc_hops"] = nx.diameter(g.subgraph(nodes[i] for i in largest))
    out["core_number"] = col(nx.core_number(g.to_undirected(as_view=False)))

    path = os.path.join(ROOT, "services", "graph", "tests", "fixtures", f"analytics-{date}.json.xz")
    if skip:
        path = path.replace(".json.xz", ".partial.json.xz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with lzma.open(path, "wt") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
