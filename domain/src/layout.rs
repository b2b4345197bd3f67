//! Layered left-to-right layout of a promotion flow, for the SVG graph on the
//! release page (Sugiyama style, as dagre and the Kargo UI draw pipelines).
//!
//! Pure and deterministic: the server and the browser run the same function
//! and must produce the same bytes, or hydration mismatches. So: no hash maps,
//! exact rational comparisons instead of float barycentres, stable
//! tie-breaking by input order, and coordinates written with at most one
//! decimal.
//!
//! Steps: longest-path layering from the roots; a dummy point per layer
//! crossed by a long edge (shortest edges first, within a budget); barycentre ordering sweeps (down then up, several
//! passes) keeping the order with the fewest crossings; every layer centred
//! vertically; edges as cubic Béziers with control points at the mid x.

use std::collections::BTreeSet;
use std::fmt::{self, Write};

use serde::{Deserialize, Serialize};

use crate::Flow;

/// Width of every node box.
pub const NODE_W: f64 = 200.0;
/// Height of every node box.
pub const NODE_H: f64 = 72.0;
/// Horizontal space between two layers, where edges curve.
pub const LAYER_GAP: f64 = 80.0;
/// Vertical space between two boxes of one layer.
pub const ROW_GAP: f64 = 24.0;
/// Height reserved in a layer for an edge passing through it.
pub const EDGE_LANE: f64 = 16.0;
/// Margin around the drawing, so strokes at the border are not clipped.
pub const PADDING: f64 = 16.0;

/// Ordering passes (each a down and an up sweep) before settling.
const SWEEPS: usize = 8;

/// Most dummy points (one per layer an edge crosses) in one layout. An
/// edge that would pass the budget is drawn as a single curve instead and
/// takes no part in ordering.
const DUMMY_BUDGET: usize = 4_000;

/// A laid-out graph, in SVG user units with the origin at the top left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    /// One per input node, in input order.
    pub nodes: Vec<NodeBox>,
    /// One per distinct valid input edge, in input order.
    pub edges: Vec<EdgePath>,
}

/// The box of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeBox {
    pub name: String,
    /// Top-left corner.
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Column, from 0 at the left.
    pub layer: usize,
    /// Row among the nodes of its layer, from 0 at the top.
    pub order: usize,
}

/// The drawn path of one edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgePath {
    pub from: String,
    pub to: String,
    /// SVG path data, from the right middle of `from` to the left middle of `to`.
    pub d: String,
}

/// Lays out a flow's environments (in flow order) and dependency edges.
pub fn layout(flow: &Flow) -> Layout {
    let names: Vec<String> = flow
        .environments()
        .iter()
        .map(|env| env.name.clone())
        .collect();
    let edges: Vec<(usize, usize)> = flow.edge_positions().collect();
    layout_dag(&names, &edges)
}

/// Lays out any graph given as node names and `(from, to)` index pairs.
///
/// Meant for DAGs, but never panics: out-of-range edges, self-loops and
/// duplicates are dropped, and edges closing a cycle are drawn straight back
/// without taking part in layering.
pub fn layout_dag(nodes: &[String], edges: &[(usize, usize)]) -> Layout {
    let n = nodes.len();
    let mut seen = BTreeSet::new();
    let edges: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(u, v)| u < n && v < n && u != v && seen.insert((u, v)))
        .collect();

    let rank = acyclic_order(n, &edges);
    let forward = |&(u, v): &(usize, usize)| rank[u] < rank[v];
    let layer = longest_path_layers(n, &edges, &rank);

    // Dummy points go to the shortest long edges first, up to a budget;
    // longer ones are drawn as one curve, so that the work stays near-linear
    // in the flow's size however its edges are spread over the layers.
    let span = |&(u, v): &(usize, usize)| layer[v].saturating_sub(layer[u] + 1);
    let mut by_span: Vec<usize> = (0..edges.len()).filter(|&i| forward(&edges[i])).collect();
    by_span.sort_by_key(|&i| (span(&edges[i]), i));
    let mut budget = DUMMY_BUDGET;
    let mut dummies = vec![false; edges.len()];
    for i in by_span {
        let cost = span(&edges[i]);
        if cost <= budget {
            budget -= cost;
            dummies[i] = true;
        }
    }

    let mut graph = Layered::new(&layer);
    let chains: Vec<Vec<usize>> = edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if dummies[i] {
                graph.add_edge(i, e.0, e.1)
            } else {
                vec![e.0, e.1]
            }
        })
        .collect();
    graph.minimise_crossings();

    let place = graph.place();
    let node_boxes = nodes
        .iter()
        .enumerate()
        .map(|(v, name)| NodeBox {
            name: name.clone(),
            x: place.x[v],
            y: place.y[v],
            w: NODE_W,
            h: NODE_H,
            layer: layer[v],
            order: place.row[v],
        })
        .collect();
    let edge_paths = edges
        .iter()
        .zip(&chains)
        .map(|(&(u, v), chain)| EdgePath {
            from: nodes[u].clone(),
            to: nodes[v].clone(),
            d: path(&place, chain),
        })
        .collect();
    Layout {
        width: place.width,
        height: place.height,
        nodes: node_boxes,
        edges: edge_paths,
    }
}

/// A rank per node: a topological order (earliest index first among ready
/// nodes). On a cycle, the earliest unplaced node is taken anyway, which
/// turns the edges closing the cycle into back edges (`rank[u] > rank[v]`).
fn acyclic_order(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut children = vec![Vec::new(); n];
    let mut missing = vec![0usize; n];
    for &(u, v) in edges {
        children[u].push(v);
        missing[v] += 1;
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&v| missing[v] == 0).collect();
    let mut rank = vec![usize::MAX; n];
    for next_rank in 0..n {
        let Some(v) = ready
            .pop_first()
            .or_else(|| (0..n).find(|&v| rank[v] == usize::MAX))
        else {
            break;
        };
        rank[v] = next_rank;
        for &c in &children[v] {
            missing[c] = missing[c].saturating_sub(1);
            if missing[c] == 0 && rank[c] == usize::MAX {
                ready.insert(c);
            }
        }
    }
    rank
}

/// Longest-path layering over the forward edges: roots at 0, every other
/// node one right of its furthest parent.
fn longest_path_layers(n: usize, edges: &[(usize, usize)], rank: &[usize]) -> Vec<usize> {
    let mut by_rank: Vec<usize> = (0..n).collect();
    by_rank.sort_by_key(|&v| rank[v]);
    let mut parents = vec![Vec::new(); n];
    for &(u, v) in edges.iter().filter(|&&(u, v)| rank[u] < rank[v]) {
        parents[v].push(u);
    }
    let mut layer = vec![0; n];
    for v in by_rank {
        layer[v] = parents[v].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
    }
    layer
}

/// The layered graph: real nodes `0..n`, then dummy points; every segment
/// joins adjacent layers.
struct Layered {
    /// Number of real nodes.
    nodes: usize,
    layer: Vec<usize>,
    /// Whether the vertex is a real node rather than a dummy point.
    real: Vec<bool>,
    /// Tie-break key: input index for nodes, `(n + edge, step)` for dummies.
    tie: Vec<(usize, usize)>,
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
    /// Vertices per layer, top to bottom.
    rows: Vec<Vec<usize>>,
}

impl Layered {
    fn new(layer: &[usize]) -> Layered {
        let n = layer.len();
        Layered {
            nodes: n,
            layer: layer.to_vec(),
            real: vec![true; n],
            tie: (0..n).map(|v| (v, 0)).collect(),
            up: vec![Vec::new(); n],
            down: vec![Vec::new(); n],
            rows: Vec::new(),
        }
    }

    /// Adds edge number `index` from `u` to `v`, with a dummy point in every
    /// layer between them; returns the chain of vertices it passes.
    fn add_edge(&mut self, index: usize, u: usize, v: usize) -> Vec<usize> {
        let mut chain = vec![u];
        for (step, l) in (self.layer[u] + 1..self.layer[v]).enumerate() {
            self.layer.push(l);
            self.real.push(false);
            self.tie.push((self.nodes + index, step));
            self.up.push(Vec::new());
            self.down.push(Vec::new());
            chain.push(self.layer.len() - 1);
        }
        chain.push(v);
        for pair in chain.windows(2) {
            self.down[pair[0]].push(pair[1]);
            self.up[pair[1]].push(pair[0]);
        }
        chain
    }

    /// Orders every layer: start in input order, then alternate barycentre
    /// sweeps, keeping the best order seen.
    fn minimise_crossings(&mut self) {
        let layers = self.layer.iter().max().map_or(0, |&l| l + 1);
        self.rows = vec![Vec::new(); layers];
        let mut by_tie: Vec<usize> = (0..self.layer.len()).collect();
        by_tie.sort_by_key(|&v| self.tie[v]);
        for v in by_tie {
            self.rows[self.layer[v]].push(v);
        }

        let mut best = self.rows.clone();
        let mut fewest = self.crossings();
        for _ in 0..SWEEPS {
            if fewest == 0 {
                break;
            }
            for down in [true, false] {
                self.sweep(down);
                let crossings = self.crossings();
                if crossings < fewest {
                    fewest = crossings;
                    best = self.rows.clone();
                }
            }
        }
        self.rows = best;
    }

    /// Reorders each layer by the mean position of its neighbours in the
    /// layer just fixed (above when sweeping down, below when sweeping up).
    fn sweep(&mut self, down: bool) {
        let layers = self.rows.len();
        let free_layers: Vec<usize> = if down {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        let mut pos = self.positions();
        for free in free_layers {
            let neighbours = if down { &self.up } else { &self.down };
            // (sum, count) of neighbour positions; a vertex with none keeps
            // its own position.
            let key = |v: usize| -> (usize, usize) {
                let ns = &neighbours[v];
                if ns.is_empty() {
                    (pos[v], 1)
                } else {
                    (ns.iter().map(|&u| pos[u]).sum(), ns.len())
                }
            };
            let tie = &self.tie;
            let row = &mut self.rows[free];
            row.sort_by(|&a, &b| {
                let ((sa, ca), (sb, cb)) = (key(a), key(b));
                (sa * cb).cmp(&(sb * ca)).then(tie[a].cmp(&tie[b]))
            });
            for (i, &v) in row.iter().enumerate() {
                pos[v] = i;
            }
        }
    }

    /// Position of every vertex within its layer.
    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![0; self.layer.len()];
        for row in &self.rows {
            for (i, &v) in row.iter().enumerate() {
                pos[v] = i;
            }
        }
        pos
    }

    /// Total edge crossings between adjacent layers.
    fn crossings(&self) -> usize {
        let pos = self.positions();
        self.rows
            .windows(2)
            .map(|pair| {
                let mut segments: Vec<(usize, usize)> = pair[0]
                    .iter()
                    .flat_map(|&u| self.down[u].iter().map(move |&v| (u, v)))
                    .map(|(u, v)| (pos[u], pos[v]))
                    .collect();
                segments.sort_unstable();
                inversions(segments.iter().map(|&(_, b)| b), pair[1].len())
            })
            .sum()
    }

    /// Coordinates: columns by layer, each layer's stack centred vertically.
    fn place(&self) -> Placement {
        let slot = |v: usize| if self.real[v] { NODE_H } else { EDGE_LANE };
        let stack_height = |row: &[usize]| -> f64 {
            let slots: f64 = row.iter().map(|&v| slot(v)).sum();
            slots + ROW_GAP * row.len().saturating_sub(1) as f64
        };
        let tallest = self
            .rows
            .iter()
            .map(|row| stack_height(row))
            .fold(0.0, f64::max);

        let count = self.layer.len();
        let mut placement = Placement {
            x: vec![0.0; count],
            y: vec![0.0; count],
            real: self.real.clone(),
            row: vec![0; count],
            width: 0.0,
            height: 0.0,
        };
        for (l, row) in self.rows.iter().enumerate() {
            let x = PADDING + l as f64 * (NODE_W + LAYER_GAP);
            let mut y = PADDING + (tallest - stack_height(row)) / 2.0;
            let mut real_row = 0;
            for &v in row {
                placement.x[v] = round1(x);
                // Dummies are points: the lane's middle.
                placement.y[v] = round1(if self.real[v] { y } else { y + EDGE_LANE / 2.0 });
                if self.real[v] {
                    placement.row[v] = real_row;
                    real_row += 1;
                }
                y += slot(v) + ROW_GAP;
            }
        }
        if !self.rows.is_empty() {
            let layers = self.rows.len() as f64;
            placement.width = round1(2.0 * PADDING + layers * NODE_W + (layers - 1.0) * LAYER_GAP);
            placement.height = round1(2.0 * PADDING + tallest);
        }
        placement
    }
}

/// Counts pairs `i < j` with `values[i] > values[j]` (values `< bound`)
/// with a Fenwick tree.
fn inversions(values: impl Iterator<Item = usize>, bound: usize) -> usize {
    let mut tree = vec![0usize; bound + 1];
    let mut count = 0;
    for (seen, v) in values.enumerate() {
        // Earlier values `<= v`.
        let mut i = v + 1;
        let mut not_greater = 0;
        while i > 0 {
            not_greater += tree[i];
            i &= i - 1;
        }
        count += seen - not_greater;
        let mut i = v + 1;
        while i <= bound {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    count
}

/// Vertex coordinates: top-left for nodes, the point itself for dummies.
struct Placement {
    x: Vec<f64>,
    y: Vec<f64>,
    real: Vec<bool>,
    /// Row among the real nodes of the layer.
    row: Vec<usize>,
    width: f64,
    height: f64,
}

/// SVG path along `chain`: out of the source's right middle, a Bézier per
/// layer gap with both control points at the gap's mid x, straight through
/// each dummy's column, into the target's left middle.
fn path(place: &Placement, chain: &[usize]) -> String {
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(chain.len() * 2);
    for (i, &v) in chain.iter().enumerate() {
        let (x, y) = (place.x[v], place.y[v]);
        if place.real[v] {
            let mid = y + NODE_H / 2.0;
            points.push((if i == 0 { x + NODE_W } else { x }, mid));
        } else {
            points.push((x, y));
            points.push((x + NODE_W, y));
        }
    }
    let mut d = String::with_capacity(32 * points.len());
    let Some(&(x0, y0)) = points.first() else {
        return d;
    };
    // Writing to a `String` cannot fail.
    let _ = write!(d, "M{},{}", Coord(x0), Coord(y0));
    for (i, pair) in points.windows(2).enumerate() {
        let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
        // Points alternate: gap (curve) then dummy column (straight line).
        let _ = if i % 2 == 0 {
            let mx = Coord((x1 + x2) / 2.0);
            let (y1, x2, y2) = (Coord(y1), Coord(x2), Coord(y2));
            write!(d, " C{mx},{y1} {mx},{y2} {x2},{y2}")
        } else {
            write!(d, " L{},{}", Coord(x2), Coord(y2))
        };
    }
    d
}

fn round1(v: f64) -> f64 {
    // `+ 0.0` turns a negative zero into zero, so JSON never shows `-0.0`.
    (v * 10.0).round() / 10.0 + 0.0
}

/// A coordinate written with at most one decimal and no trailing `.0`,
/// through integer tenths: exact, and much cheaper than float formatting.
struct Coord(f64);

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 * 10.0).round() as i64;
        let sign = if tenths < 0 { "-" } else { "" };
        let (whole, decimal) = (tenths.unsigned_abs() / 10, tenths.unsigned_abs() % 10);
        if decimal == 0 {
            write!(f, "{sign}{whole}")
        } else {
            write!(f, "{sign}{whole}.{decimal}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{arb_flow, arb_tree, flow};
    use proptest::prelude::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_string()).collect()
    }

    fn boxes(layout: &Layout) -> Vec<(&str, usize, usize)> {
        layout
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.layer, n.order))
            .collect()
    }

    /// Crossings between edges joining the same pair of adjacent layers.
    fn crossings(layout: &Layout) -> usize {
        let node = |name: &str| {
            let found = layout.nodes.iter().find(|n| n.name == name);
            found.expect("edges join laid-out nodes")
        };
        let segments: Vec<(&NodeBox, &NodeBox)> = layout
            .edges
            .iter()
            .map(|e| (node(&e.from), node(&e.to)))
            .filter(|(a, b)| b.layer == a.layer + 1)
            .collect();
        let mut count = 0;
        for (i, (a, b)) in segments.iter().enumerate() {
            for (c, d) in &segments[i + 1..] {
                if a.layer == c.layer
                    && (a.order < c.order) == (b.order > d.order)
                    && a.order != c.order
                    && b.order != d.order
                {
                    count += 1;
                }
            }
        }
        count
    }

    #[test]
    fn long_edges_get_dummy_points_within_the_budget() {
        // A chain of 250 plus 2,251 edges spanning 150 layers or more: about
        // 450,000 dummy points without a budget.
        let n = 250;
        let nodes: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        let mut edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        edges.extend(
            (0..50)
                .flat_map(|u| (200..n).map(move |v| (u, v)))
                .take(2_251),
        );
        let layout = layout_dag(&nodes, &edges);
        assert_eq!(layout.nodes.len(), n);
        assert_eq!(layout.edges.len(), edges.len());
        // Every path has one curve per gap it crosses with dummy points,
        // and one in all without.
        let curves: usize = layout.edges.iter().map(|e| e.d.matches('C').count()).sum();
        assert!(curves <= edges.len() + DUMMY_BUDGET, "{curves} curves");
        // The chain still runs left to right, one layer per environment.
        assert!(layout
            .nodes
            .iter()
            .enumerate()
            .all(|(i, node)| node.layer == i));
    }

    #[test]
    fn linear_flow_is_one_row_left_to_right() {
        let layout = layout(&flow(&[("dev", &[]), ("qa", &["dev"])]));
        assert_eq!(boxes(&layout), [("dev", 0, 0), ("qa", 1, 0)]);
        let (dev, qa) = (&layout.nodes[0], &layout.nodes[1]);
        assert_eq!((dev.x, dev.y, qa.x, qa.y), (16.0, 16.0, 296.0, 16.0));
        assert_eq!((layout.width, layout.height), (512.0, 104.0));
        assert_eq!(layout.edges[0].d, "M216,52 C256,52 256,52 296,52");
    }

    #[test]
    fn fan_out_stacks_children_and_centres_the_parent() {
        let layout = layout(&flow(&[("dev", &[]), ("qa", &["dev"]), ("perf", &["dev"])]));
        assert_eq!(
            boxes(&layout),
            [("dev", 0, 0), ("qa", 1, 0), ("perf", 1, 1)]
        );
        let ys: Vec<f64> = layout.nodes.iter().map(|n| n.y).collect();
        assert_eq!(ys, [64.0, 16.0, 112.0]);
        assert_eq!(layout.edges[1].d, "M216,100 C256,100 256,148 296,148");
    }

    #[test]
    fn long_edge_routed_through_dummy_point() {
        let layout = layout(&flow(&[
            ("dev", &[]),
            ("staging", &["dev"]),
            ("prod", &["staging", "dev"]),
        ]));
        assert_eq!(
            boxes(&layout),
            [("dev", 0, 0), ("staging", 1, 0), ("prod", 2, 0)]
        );
        let ys: Vec<f64> = layout.nodes.iter().map(|n| n.y).collect();
        assert_eq!(ys, [36.0, 16.0, 36.0]);
        // Out of dev's right middle, through a lane below staging (which ends
        // at y=88), into prod's left middle.
        let skip = &layout.edges[1];
        assert_eq!((skip.from.as_str(), skip.to.as_str()), ("dev", "prod"));
        assert_eq!(
            skip.d,
            "M216,72 C256,72 256,120 296,120 L496,120 C536,120 536,72 576,72"
        );
    }

    #[test]
    fn ordering_sweeps_remove_avoidable_crossings() {
        // Declared so that input order alone would cross b→e and c→d.
        let nodes = names(&["a", "b", "c", "d", "e"]);
        let layout = layout_dag(&nodes, &[(0, 1), (0, 2), (2, 3), (1, 4)]);
        assert_eq!(crossings(&layout), 0);
        assert_eq!(boxes(&layout)[3..], [("d", 2, 1), ("e", 2, 0)]);
    }

    #[test]
    fn layout_dag_tolerates_bad_edges_and_cycles() {
        let nodes = names(&["a", "b", "c"]);
        let layout = layout_dag(&nodes, &[(0, 1), (1, 2), (2, 0), (0, 0), (0, 9), (0, 1)]);
        assert_eq!(layout.nodes.len(), 3);
        let edges: Vec<_> = layout
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(edges, [("a", "b"), ("b", "c"), ("c", "a")]);
        assert_eq!(boxes(&layout), [("a", 0, 0), ("b", 1, 0), ("c", 2, 0)]);

        let empty = layout_dag(&[], &[]);
        assert_eq!(
            (empty.width, empty.height, empty.nodes.len()),
            (0.0, 0.0, 0)
        );
    }

    #[test]
    fn coordinates_have_at_most_one_decimal() {
        for (v, s) in [
            (12.0, "12"),
            (12.26, "12.3"),
            (0.04, "0"),
            (-0.04, "0"),
            (7.5, "7.5"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(Coord(v).to_string(), s, "{v}");
        }
    }

    fn assert_no_overlap(layout: &Layout) {
        for (i, a) in layout.nodes.iter().enumerate() {
            assert!(a.x >= 0.0 && a.y >= 0.0);
            assert!(a.x + a.w <= layout.width && a.y + a.h <= layout.height);
            for b in &layout.nodes[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn layout_never_overlaps_nodes(flow in arb_flow(30)) {
            assert_no_overlap(&layout(&flow));
        }

        #[test]
        fn layout_has_zero_crossings_on_trees(flow in arb_tree(30)) {
            prop_assert_eq!(crossings(&layout(&flow)), 0);
        }

        #[test]
        fn layout_identical_across_runs(flow in arb_flow(30)) {
            let first = serde_json::to_string(&layout(&flow)).expect("serializes");
            let reparsed: Flow = serde_json::from_str(&serde_json::to_string(&flow).expect("serializes")).expect("deserializes");
            prop_assert_eq!(&first, &serde_json::to_string(&layout(&reparsed)).expect("serializes"));
            prop_assert_eq!(first, serde_json::to_string(&layout(&flow)).expect("serializes"));
        }

        #[test]
        fn layout_dag_never_panics(
            n in 0..12usize,
            edges in proptest::collection::vec((0..14usize, 0..14usize), 0..30),
        ) {
            let nodes: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
            let layout = layout_dag(&nodes, &edges);
            prop_assert_eq!(layout.nodes.len(), n);
            assert_no_overlap(&layout);
        }
    }
}
