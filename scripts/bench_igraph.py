#!/usr/bin/env python3
"""Times python-igraph on switchyard's active graph, for side-by-side numbers in
`benches/analytics.rs` (which runs this as a subprocess).

    python3 scripts/bench_igraph.py 2019-05-14 [amount_msat]

Builds the same active graph as the Rust side (see `active_graph.py`), then times, on one
thread (igraph is single-threaded C): exact fee-weighted and hop betweenness (directed),
fee-weighted incoming closeness, and PageRank (unweighted and capacity-weighted, damping 0.85).
Prints one JSON object of seconds on stdout. Graph construction is not timed.

If igraph is not importable, installs it with pip into a venv at
`~/.cache/switchyard/venv` (created if missing) and re-runs itself there.
"""

import json
import os
import subprocess
import sys
import time

VENV = os.path.expanduser("~/.cache/switchyard/venv")


def ensure_igraph():
    try:
        import igraph  # noqa: F401
        return
    except ImportError:
        pass
    py = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.executable) == os.path.abspath(py):
        subprocess.check_call([py, "-m", "pip", "install", "-q", "igraph"], stdout=sys.stderr)
        return
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV], stdout=sys.stderr)
    probe = subprocess.run([py, "-c", "import igraph"], capture_output=True)
    if probe.returncode != 0:
        subprocess.check_call([py, "-m", "pip", "install", "-q", "igraph"], stdout=sys.stderr)
    os.execv(py, [py] + sys.argv)


def best_of(f, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ensure_igraph()
    import igraph as ig

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from active_graph import active_edges

    date = sys.argv[1] if len(sys.argv) > 1 else "2019-05-14"
    amount = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000_000
    edges = active_edges(date, amount)
    nodes = sorted({n for e in edges for n in e})
    index = {n: i for i, n in enumerate(nodes)}
    pairs = list(edges.items())
    g = ig.Graph(n=len(nodes), edges=[(index[u], index[v]) for (u, v), _ in pairs], directed=True)
    fee = [w[0] for _, w in pairs]
    cap = [float(w[1]) for _, w in pairs]
    out = {
        "date": date,
        "nodes": len(nodes),
        "pairs": len(pairs),
        "igraph": ig.__version__,
        "betweenness_fee": best_of(lambda: g.betweenness(directed=True, weights=fee), 1),
        "betweenness_hops": best_of(lambda: g.betweenness(directed=True), 1),
        "closeness_fee": best_of(lambda: g.closeness(mode="in", weights=fee), 1),
        "pagerank_unweighted": best_of(lambda: g.pagerank(directed=True, damping=0.85), 20),
        "pagerank_capacity": best_of(lambda: g.pagerank(directed=True, damping=0.85, weights=cap), 20),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
