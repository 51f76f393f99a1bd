#!/usr/bin/env python3
"""Cuts the committed seed inputs of the fuzz targets from the repository's real data.

Run from the repository root: python3 fuzz/make_seeds.py. Writes fuzz/data/ (the small real
graph the API target serves) and fuzz/corpus/<target>/ (seed inputs). Deterministic: the same
data files give the same seeds. The gossip_raw seeds are written by the Rust test
`tests/corpus.rs::write_gossip_seeds` (they need real signatures); the api_request seeds by
this script from example request bodies.
"""
import gzip
import json
import lzma
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz")


def load(name):
    with lzma.open(os.path.join(ROOT, "data", name)) as f:
        return json.load(f)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


def small_graph(channels, nodes, max_nodes=120):
    """The best-connected node and its neighbourhood, breadth first, up to max_nodes nodes:
    a connected piece of the real graph with real fees, capacities and disabled directions."""
    degree = {}
    for c in channels:
        degree[c["source"]] = degree.get(c["source"], 0) + 1
    hub = max(degree, key=lambda n: (degree[n], n))
    adjacent = {}
    for c in channels:
        adjacent.setdefault(c["source"], set()).add(c["destination"])
    keep, frontier = {hub}, [hub]
    while frontier and len(keep) < max_nodes:
        nxt = []
        for n in frontier:
            for m in sorted(adjacent.get(n, ())):
                if len(keep) < max_nodes and m not in keep:
                    keep.add(m)
                    nxt.append(m)
        frontier = nxt
    chans = [c for c in channels if c["source"] in keep and c["destination"] in keep]
    nods = [n for n in nodes if n["nodeid"] in keep]
    return chans, nods


def lnd_doc(channels, nodes):
    """The same entries in LND describegraph's shape (one edge per channel, both policies)."""
    edges = {}
    for c in channels:
        a, b = sorted([c["source"], c["destination"]])
        e = edges.setdefault(c["short_channel_id"], {
            "channel_id": str(int(c["short_channel_id"].split("x")[0]) << 40
                              | int(c["short_channel_id"].split("x")[1]) << 16
                              | int(c["short_channel_id"].split("x")[2])),
            "chan_point": "0" * 63 + "1:0", "last_update": c["last_update"],
            "node1_pub": a, "node2_pub": b, "capacity": str(c["satoshis"]),
            "node1_policy": None, "node2_policy": None,
        })
        policy = {
            "time_lock_delta": c["delay"], "min_htlc": "1000",
            "fee_base_msat": str(c["base_fee_millisatoshi"]),
            "fee_rate_milli_msat": str(c["fee_per_millionth"]),
            "disabled": not c["active"], "max_htlc_msat": str(c["satoshis"] * 1000),
            "last_update": c["last_update"],
        }
        e["node1_policy" if c["source"] == a else "node2_policy"] = policy
    lnd_nodes = [{
        "last_update": n.get("last_timestamp", 0), "pub_key": n["nodeid"],
        "alias": n.get("alias", ""), "color": "#" + n.get("color", "000000"),
        "addresses": [{"network": "tcp", "addr": f'{a["address"]}:{a["port"]}'}
                      for a in n.get("addresses", []) if a["type"] in ("ipv4", "torv3")],
        "features": {"9": {"name": "tlv-onion", "is_required": False, "is_known": True}},
    } for n in nodes]
    return {"nodes": lnd_nodes, "edges": list(edges.values())}


def main():
    channels = load("channels-2019-05-14.json.xz")["channels"]
    nodes = load("nodes-2019-05-14.json.xz")["nodes"]
    chans, nods = small_graph(channels, nodes)
    graph = json.dumps({"channels": chans, "nodes": nods}, separators=(",", ":"))
    write(os.path.join(FUZZ, "data", "graph-2019-05-14-cut.json"), graph + "\n")
    print(f"graph: {len(chans)} channel entries, {len(nods)} nodes")

    seeds = os.path.join(FUZZ, "corpus", "graph_file")
    few_c, few_n = chans[:6], nods[:4]
    write(os.path.join(seeds, "cln-channels.json"), json.dumps({"channels": few_c}))
    write(os.path.join(seeds, "cln-nodes.json"), json.dumps({"nodes": few_n}))
    both = json.dumps({"channels": few_c[:2], "nodes": few_n[:2]})
    write(os.path.join(seeds, "cln-both.json"), both)
    write(os.path.join(seeds, "lnd-describegraph.json"), json.dumps(lnd_doc(few_c, few_n)))
    write(os.path.join(seeds, "cln-channels.json.gz"), gzip.compress(both.encode(), 9, mtime=0))
    write(os.path.join(seeds, "cln-channels.json.xz"), lzma.compress(both.encode()))
    newest = load("channels-2026-02-03.json.xz")["channels"][:3]
    write(os.path.join(seeds, "cln-channels-2026.json"), json.dumps({"channels": newest}))

    api = os.path.join(FUZZ, "corpus", "api_request")
    write(os.path.join(api, "readme.txt"), "")
    a, b = chans[0]["source"], chans[-1]["destination"]
    # Byte 0 picks the route (its index in switchyard_api::ROUTES); see fuzz/src/api.rs.
    from_routes = route_indices()
    bodies = {
        "routes": json.dumps({"source": a, "destination": b, "amount_msat": 100000}),
        "routes_batch": json.dumps({"queries": [
            {"source": a, "destination": b, "amount_msat": 5000000, "cost_model": "probability"},
            {"source": b, "destination": a, "amount_msat": 1}]}),
        "routes_matrix": json.dumps({"sources": [a, b], "destinations": [b],
                                     "amount_msat": 250000, "cost_model": "balanced"}),
        "routes_mpp": json.dumps({"source": a, "destination": b, "amount_msat": 900000000,
                                  "force_split": True, "exclude_channels": ["505149x622x0"]}),
        "peers": json.dumps({"peer": a + "@127.0.0.1:9735"}),
        "channels_own": json.dumps({"peer": a, "amount_sat": 100000, "push_msat": 0,
                                    "announce": False}),
        "channels_own_close": "505149x622x0\n" + json.dumps({"force": True}),
        "channels_own_policy": json.dumps({"channel": "505149x622x0", "base_fee_msat": 0,
                                           "fee_ppm": 100, "cltv_expiry_delta": 40}),
        "wallet_address": "",
        "wallet_send": json.dumps({"address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
                                   "amount_sat": 1000}),
        "invoices_post": json.dumps({"amount_msat": 1000, "description": "coffee",
                                     "expiry_secs": 600}),
        "payments_post": json.dumps({"destination": a, "amount_msat": 1000,
                                     "max_fee_msat": 10}),
        "nodes": "sort=channels&limit=5&cursor=12.%s" % a,
        "node": a,
        "node_history": a,
        "channel": "505149x622x0",
        "channel_history": "505149x622x0",
        "centrality": "metric=betweenness&weight=probability&limit=3&cursor=2",
        "analytics_node": a,
        "analytics_channel": chans[0]["short_channel_id"],
        "network_history": "from=2019-01-01&to=2019-02-01&step=week",
        "network_churn": "from=2019-01-01&to=2019-01-02&limit=10",
        "invoices": "limit=5",
        "payments": "limit=0",
        "payment": "00" * 32,
        "forwards": "from=0&to=100&limit=2",
        "earnings": "group_by=day&from=1&to=2",
    }
    for name, text in bodies.items():
        index = from_routes[name]
        write(os.path.join(api, name), bytes([index]) + text.encode())
    os.remove(os.path.join(api, "readme.txt"))

    rules = os.path.join(FUZZ, "corpus", "rules_file")
    write(os.path.join(rules, "example.toml"), RULES)
    write(os.path.join(rules, "pinned.toml"),
          '[[rule]]\nchannel = ["800000x1x0"]\npin = true\n\n[default]\nstrategy = "competitive"\n'
          'percentile = 50\n')
    write(os.path.join(rules, "proportional.toml"),
          '[[rule]]\nname = "big"\nmin_capacity_sat = 5_000_000\npublic = true\n'
          'strategy = "proportional"\nmin_fee_ppm = 1\nmax_fee_ppm = 900\n\n'
          '[default]\nstrategy = "cost_floor"\namount_sat = 250000\n')


def route_indices():
    """Index of each named route in switchyard_api::ROUTES (parsed from its source)."""
    src = open(os.path.join(ROOT, "services", "api", "src", "lib.rs")).read()
    start = src.index("pub const ROUTES")
    table = src[start:src.index("];", start)]
    routes = []
    for line in table.splitlines():
        line = line.strip()
        if line.startswith('("'):
            method, path = [p.strip(' "()') for p in line.rstrip(",").split(",")]
            routes.append((method, path))
    names = {
        "routes": ("post", "/v1/routes"), "routes_batch": ("post", "/v1/routes/batch"),
        "routes_matrix": ("post", "/v1/routes/matrix"), "routes_mpp": ("post", "/v1/routes/mpp"),
        "peers": ("post", "/v1/peers"), "channels_own": ("post", "/v1/channels/own"),
        "channels_own_close": ("post", "/v1/channels/own/{channel}/close"),
        "channels_own_policy": ("post", "/v1/channels/own/policy"),
        "wallet_address": ("post", "/v1/wallet/address"),
        "wallet_send": ("post", "/v1/wallet/send"),
        "invoices_post": ("post", "/v1/invoices"), "payments_post": ("post", "/v1/payments"),
        "nodes": ("get", "/v1/nodes"), "node": ("get", "/v1/nodes/{pubkey}"),
        "node_history": ("get", "/v1/nodes/{pubkey}/history"),
        "channel": ("get", "/v1/channels/{scid}"),
        "channel_history": ("get", "/v1/channels/{scid}/history"),
        "centrality": ("get", "/v1/analytics/centrality"),
        "analytics_node": ("get", "/v1/analytics/nodes/{pubkey}"),
        "analytics_channel": ("get", "/v1/analytics/channels/{scid}"),
        "network_history": ("get", "/v1/network/history"),
        "network_churn": ("get", "/v1/network/churn"),
        "invoices": ("get", "/v1/invoices"), "payments": ("get", "/v1/payments"),
        "payment": ("get", "/v1/payments/{id}"), "forwards": ("get", "/v1/forwards"),
        "earnings": ("get", "/v1/earnings"),
    }
    return {name: routes.index(r) for name, r in names.items()}


RULES = """[[rule]]
name = "drained"
max_ratio = 0.2
min_capacity_sat = 1_000_000
strategy = "static"
base_fee_msat = 0
fee_ppm = 1500

[[rule]]
channel = ["800000x1x0"]
peer = ["0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24"]
pin = true

[default]
strategy = "flow"
min_fee_ppm = 10
max_fee_ppm = 2000
floor = "cost_floor"
floor_amount_sat = 50000
"""

if __name__ == "__main__":
    main()
