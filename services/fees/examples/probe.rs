use std::time::Instant;
use switchyard_fees::curves;
use switchyard_fees::demand::{Demand, DemandSpec, RandomDemand};
use switchyard_fees::scenario::{Balances, FeePolicy, Scenario};
fn main() {
    let g = switchyard_graph::testing::load_bundled("2026-02-03");
    let mut deg: Vec<(usize, u32)> = (0..g.node_count() as u32)
        .map(|n| {
            (
                g.out_edges(n)
                    .iter()
                    .filter(|&&e| g.edge_enabled(e))
                    .count(),
                n,
            )
        })
        .collect();
    deg.sort();
    deg.reverse();
    let rank: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(300);
    let pays: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2000);
    let n = g.node(deg[rank].1).id;
    println!("node rank {rank} enabled out {}", deg[rank].0);
    let s = Scenario::new(&g, &n, &Balances::HalfCapacity, &[]).unwrap();
    let d = Demand::generate(&g, &DemandSpec::Random(RandomDemand::new(pays, 5))).unwrap();
    let grid: Vec<FeePolicy> = [(0, 10), (0, 50), (1000, 100), (0, 500), (1000, 1)]
        .iter()
        .map(|&(b, p)| FeePolicy::new(b, p))
        .collect();
    let edges = s.out_edges();
    let t = Instant::now();
    let fast = curves::compute(&s, &d, &grid, &edges);
    println!("fast {:?} {:?}", t.elapsed(), fast.work);
    let t = Instant::now();
    let naive = curves::naive(&s, &d, &grid, &edges);
    println!("naive {:?}", t.elapsed());
    let mut bad = 0;
    for (a, b) in fast.curves.iter().zip(&naive.curves) {
        for (x, y) in a.points.iter().zip(&b.points) {
            if (x.payments, x.revenue_msat) != (y.payments, y.revenue_msat)
                || x.node_revenue_msat != y.node_revenue_msat
            {
                bad += 1;
                println!(
                    "{} cur {:?} fee {:?}: fast {:?} naive {:?} ties {}",
                    a.scid,
                    a.current,
                    x.fee,
                    (x.payments, x.revenue_msat, x.node_revenue_msat),
                    (y.payments, y.revenue_msat, y.node_revenue_msat),
                    a.total_ties
                );
            }
        }
    }
    println!("mismatches {bad}");
}
