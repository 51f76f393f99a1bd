//! Betweenness and closeness against a brute-force reference (all-pairs distances and path
//! counts by dynamic programming) on random graphs.

use super::*;
use crate::snapshot::EdgeIdx;

struct Brute {
    n: usize,
    d: Vec<Vec<u64>>,
    sigma: Vec<Vec<f64>>,
    w: Vec<Vec<u64>>,
}

impl Brute {
    fn new(w: Vec<Vec<u64>>) -> Brute {
        let n = w.len();
        let inf = u64::MAX;
        let mut d = w.clone();
        for (i, row) in d.iter_mut().enumerate() {
            row[i] = 0;
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    if d[i][k] != inf && d[k][j] != inf && d[i][k] + d[k][j] < d[i][j] {
                        d[i][j] = d[i][k] + d[k][j];
                    }
                }
            }
        }
        let mut sigma = vec![vec![0.0; n]; n];
        for s in 0..n {
            let mut order: Vec<usize> = (0..n).filter(|&t| d[s][t] != inf).collect();
            order.sort_by_key(|&t| d[s][t]);
            sigma[s][s] = 1.0;
            for &t in order.iter().skip(1) {
                sigma[s][t] = (0..n)
                    .filter(|&u| w[u][t] != inf && d[s][u] != inf && d[s][u] + w[u][t] == d[s][t])
                    .map(|u| sigma[s][u])
                    .sum();
            }
        }
        Brute { n, d, sigma, w }
    }
    fn betweenness(&self) -> Vec<f64> {
        let inf = u64::MAX;
        (0..self.n)
            .map(|v| {
                let mut b = 0.0;
                for s in 0..self.n {
                    for t in 0..self.n {
                        if s == v || t == v || s == t || self.d[s][t] == inf {
                            continue;
                        }
                        if self.d[s][v] != inf
                            && self.d[v][t] != inf
                            && self.d[s][v] + self.d[v][t] == self.d[s][t]
                        {
                            b += self.sigma[s][v] * self.sigma[v][t] / self.sigma[s][t];
                        }
                    }
                }
                b
            })
            .collect()
    }
    fn edge_betweenness(&self, u: usize, v: usize) -> f64 {
        let inf = u64::MAX;
        let mut b = 0.0;
        for s in 0..self.n {
            for t in 0..self.n {
                if s == t || self.d[s][t] == inf || self.d[s][u] == inf || self.d[v][t] == inf {
                    continue;
                }
                if self.d[s][u] + self.w[u][v] + self.d[v][t] == self.d[s][t] {
                    b += self.sigma[s][u] * self.sigma[v][t] / self.sigma[s][t];
                }
            }
        }
        b
    }
    fn closeness(&self, outgoing: bool) -> Vec<f64> {
        let inf = u64::MAX;
        (0..self.n)
            .map(|v| {
                let ds: Vec<u64> = (0..self.n)
                    .map(|x| if outgoing { self.d[v][x] } else { self.d[x][v] })
                    .filter(|&x| x != inf)
                    .collect();
                let total: u64 = ds.iter().sum();
                if total == 0 {
                    return 0.0;
                }
                let k = (ds.len() - 1) as f64;
                (k / total as f64) * (k / (self.n - 1) as f64)
            })
            .collect()
    }
}

fn random_graph(seed: u64) -> TestGraph {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let n = 4 + rnd(9) as u32;
    let mut t = TestGraph::new(n);
    let chans = n + rnd(u64::from(n) * 2) as u32;
    for _ in 0..chans {
        let a = rnd(u64::from(n)) as u32;
        // Bias towards low-numbered hubs so that leaves appear.
        let b = (rnd(u64::from(n)) as u32 / (1 + rnd(3) as u32)) % n;
        if a == b {
            continue;
        }
        let s = t.channel(a, b, 1000 + rnd(5) * 1000);
        for from in [a, b] {
            match rnd(6) {
                0 => {}
                1 => {
                    let mut u = crate::load::UpdateRecord {
                        scid: s,
                        direction: t.direction_from(s, from),
                        timestamp: 10,
                        message_flags: 1,
                        channel_flags: 0,
                        disabled: true,
                        cltv_delta: 40,
                        htlc_min_msat: 0,
                        htlc_max_msat: None,
                        fee_base_msat: 1,
                        fee_ppm: 0,
                    };
                    u.disabled = true;
                    t.update(u);
                }
                _ => t.policy(s, from, rnd(4) as u32, rnd(3) as u32 * 1000, 40),
            }
        }
    }
    t
}

/// The active graph rebuilt independently from the snapshot: min weight per ordered pair.
fn weight_matrix(g: &Snapshot, ag: &ActiveGraph, weight: impl Fn(EdgeIdx) -> u64) -> Vec<Vec<u64>> {
    let n = ag.node_count();
    let mut w = vec![vec![u64::MAX; n]; n];
    for e in 0..g.edge_slot_count() as EdgeIdx {
        if g.edge_enabled(e) {
            let a = ag.active_index(g.edge_from(e)).unwrap();
            let b = ag.active_index(g.edge_to(e)).unwrap();
            w[a][b] = w[a][b].min(weight(e));
        }
    }
    w
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn betweenness_and_closeness_match_brute_force_on_random_graphs() {
    for seed in 1..120u64 {
        let g = random_graph(seed).build();
        let ag = ActiveGraph::new(&g);
        for w in [
            Weighting::Hops,
            Weighting::Fee {
                amount_msat: AMOUNT,
            },
        ] {
            let mat = weight_matrix(&g, &ag, |e| match w {
                Weighting::Hops => 1,
                _ => g.edge_policy(e).unwrap().fee_msat(AMOUNT).max(1),
            });
            let brute = Brute::new(mat);
            let b = ag.betweenness(&g, w).unwrap();
            let expect = brute.betweenness();
            for (v, (&x, &y)) in b.node.iter().zip(&expect).enumerate() {
                assert!(close(x, y), "seed {seed} {w:?} node {v}: {x} vs {y}");
            }
            for e in 0..ag.edge_count() {
                let (u, v) = (ag.edge_from[e] as usize, ag.edge_to[e] as usize);
                let x = brute.edge_betweenness(u, v);
                assert!(
                    close(b.edge[e], x),
                    "seed {seed} {w:?} edge {u}->{v}: {} vs {x}",
                    b.edge[e]
                );
            }
            let pairs = (0..ag.node_count())
                .flat_map(|s| (0..ag.node_count()).map(move |t| (s, t)))
                .filter(|&(s, t)| s != t && brute.d[s][t] != u64::MAX)
                .count() as u64;
            assert_eq!(b.reachable_pairs, pairs, "seed {seed}");
            for outgoing in [false, true] {
                let c = ag.closeness(&g, w, outgoing).unwrap();
                let expect = brute.closeness(outgoing);
                for v in 0..ag.node_count() {
                    assert!(
                        close(c[v], expect[v]),
                        "seed {seed} {w:?} out={outgoing} node {v}: {} vs {}",
                        c[v],
                        expect[v]
                    );
                }
            }
        }
    }
}
