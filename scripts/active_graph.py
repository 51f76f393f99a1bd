"""The active graph of a bundled snapshot, read straight from `data/*.json.xz` (no networkx).

Shared by `analytics_reference.py` and `bench_igraph.py`; see `analytics_reference.py` for the
definition, which must stay identical to `switchyard_graph::analytics::ActiveGraph`.
"""

import json
import lzma
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def active_edges(date, amount_msat):
    """{(u, v): [fee weight msat, summed capacity sat]} over ordered pairs with an enabled
    direction u -> v (node ids as lower-case hex)."""
    path = os.path.join(ROOT, "data", f"channels-{date}.json.xz")
    with lzma.open(path, "rt") as f:
        channels = json.load(f)["channels"]
    updates = {}  # (scid, direction) -> entry; newest wins, ties: later entry wins
    capacity = {}
    for c in channels:
        src, dst = c["source"].lower(), c["destination"].lower()
        if src == dst:
            continue
        direction = 0 if src < dst else 1
        key = (c["short_channel_id"], direction)
        old = updates.get(key)
        if old is None or not old["last_update"] > c["last_update"]:
            updates[key] = c
        sat = c.get("satoshis")
        if sat is None:
            msat = c["amount_msat"]
            sat = (msat if isinstance(msat, int) else int(str(msat).rstrip("msat"))) // 1000
        capacity[c["short_channel_id"]] = sat
    edges = {}
    for (scid, _), c in updates.items():
        enabled = c.get("active", True) and not (c["channel_flags"] & 2)
        if not enabled:
            continue
        u, v = c["source"].lower(), c["destination"].lower()
        fee = max(c["base_fee_millisatoshi"] + amount_msat * c["fee_per_millionth"] // 1_000_000, 1)
        e = edges.setdefault((u, v), [fee, 0])
        e[0] = min(e[0], fee)
        e[1] += capacity[scid]
    return edges
