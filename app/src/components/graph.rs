//! The promotion-flow graph of the release page: the shared layout
//! (`domain::layout`) drawn as SVG, the same on the server and in the
//! browser. Every node is a link to `?env=<name>`, so selection works
//! without JavaScript; in the browser the router follows it in place, the
//! arrow keys move between nodes, and the zoom buttons work.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::status::{glyph, StatusWord};
use crate::components::url::with_query;
use domain::layout::{layout_dag, Layout};
use domain::{EnvStatus, EnvView, ReleaseView};

/// An arrow key's direction in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Downstream: a child, else the nearest node of the next layer.
    Right,
    /// Upstream: a parent, else the nearest node of the previous layer.
    Left,
    /// The next node below in the same layer.
    Down,
    /// The next node above in the same layer.
    Up,
}

impl Direction {
    pub fn from_key(key: &str) -> Option<Direction> {
        match key {
            "ArrowRight" => Some(Direction::Right),
            "ArrowLeft" => Some(Direction::Left),
            "ArrowDown" => Some(Direction::Down),
            "ArrowUp" => Some(Direction::Up),
            _ => None,
        }
    }
}

/// What the keyboard needs of a layout: where each node is (in layout
/// order, so index `i` is `graph-node-i`) and the edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNav {
    pub nodes: Vec<NavNode>,
    /// `(from, to)` by name.
    pub edges: Vec<(String, String)>,
}

/// A node's name, column and row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NavNode {
    pub name: String,
    pub layer: usize,
    pub order: usize,
}

impl From<&Layout> for GraphNav {
    fn from(layout: &Layout) -> Self {
        GraphNav {
            nodes: layout
                .nodes
                .iter()
                .map(|n| NavNode {
                    name: n.name.clone(),
                    layer: n.layer,
                    order: n.order,
                })
                .collect(),
            edges: layout
                .edges
                .iter()
                .map(|e| (e.from.clone(), e.to.clone()))
                .collect(),
        }
    }
}

/// The node an arrow key moves to from node `from`, if any.
pub fn neighbour(nav: &GraphNav, from: usize, direction: Direction) -> Option<usize> {
    let node = nav.nodes.get(from)?;
    let in_layer = |layer: usize| {
        nav.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.layer == layer)
    };
    let nearest = |layer: usize, connected: &dyn Fn(&str) -> bool| {
        let candidates: Vec<(usize, &NavNode)> = in_layer(layer).collect();
        let linked: Vec<&(usize, &NavNode)> = candidates
            .iter()
            .filter(|(_, n)| connected(&n.name))
            .collect();
        let pool: Vec<&(usize, &NavNode)> = if linked.is_empty() {
            candidates.iter().collect()
        } else {
            linked
        };
        pool.into_iter()
            .min_by_key(|(i, n)| (n.order.abs_diff(node.order), *i))
            .map(|(i, _)| *i)
    };
    let edge = |a: &str, b: &str| nav.edges.iter().any(|(from, to)| from == a && to == b);
    match direction {
        Direction::Right => nearest(node.layer + 1, &|n| edge(&node.name, n)),
        Direction::Left => node
            .layer
            .checked_sub(1)
            .and_then(|layer| nearest(layer, &|n| edge(n, &node.name))),
        Direction::Down => in_layer(node.layer)
            .filter(|(_, n)| n.order > node.order)
            .min_by_key(|(_, n)| n.order)
            .map(|(i, _)| i),
        Direction::Up => in_layer(node.layer)
            .filter(|(_, n)| n.order < node.order)
            .max_by_key(|(_, n)| n.order)
            .map(|(i, _)| i),
    }
}

/// Cuts `text` to `max` characters, ending with `…` when cut.
pub fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// The version line of a node: `v1.4.2`, `v1.4.2 (inherited)`, or `no version`.
pub fn version_text(env: &EnvView) -> String {
    match (&env.version, env.version_inherited) {
        (Some(version), false) => version.clone(),
        (Some(version), true) => format!("{version} · inherited"),
        (None, _) => "no version yet".to_owned(),
    }
}

/// What a node says to assistive technology and on hover.
pub fn node_summary(env: &EnvView) -> String {
    let mut summary = format!("{}: {}", env.name, env.status.word().to_lowercase());
    if let Some(reason) = env.reason {
        summary.push_str(&format!(" ({})", reason.as_str()));
    }
    match (&env.version, env.version_inherited) {
        (Some(v), false) => summary.push_str(&format!(", version {v}")),
        (Some(v), true) => summary.push_str(&format!(", version {v} inherited")),
        (None, _) => summary.push_str(", no version yet"),
    }
    if !env.errors.is_empty() {
        let n = env.errors.len();
        summary.push_str(&format!(", {n} error{}", if n == 1 { "" } else { "s" }));
    }
    if env.attempt > 1 {
        summary.push_str(&format!(", attempt {}", env.attempt));
    }
    summary
}

/// Smallest zoom in fit mode: below it the graph scrolls instead, so the
/// words in the nodes stay legible on flows of 30+ environments.
const MIN_FIT_SCALE: f64 = 0.6;
const ZOOM_STEP: f64 = 1.25;

/// The shape of a release's flow: what the layout depends on. A status
/// change keeps the shape, so the graph is not laid out again.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    names: Vec<String>,
    edges: Vec<[String; 2]>,
}

/// The SVG promotion-flow graph. `selected` is the environment shown below
/// it. Every node is a link to `?env=<name>`, so selection works without
/// JavaScript; in the browser the router follows it without fetching the
/// release again, the arrow keys move between nodes, and zoom and fit work.
/// Laid out again only when the flow's shape changes; a node's status,
/// version and errors follow the release as it changes.
#[component]
pub fn PromotionGraph(
    #[prop(into)] release: Signal<ReleaseView>,
    #[prop(into)] selected: Signal<Option<String>>,
) -> impl IntoView {
    let shape = Memo::new(move |_| {
        release.with(|r| Shape {
            names: r.environments.iter().map(|e| e.name.clone()).collect(),
            edges: r.flow.edges.clone(),
        })
    });
    let layout = Memo::new(move |_| {
        shape.with(|shape| {
            let position = |name: &str| shape.names.iter().position(|n| n == name);
            let edges: Vec<(usize, usize)> = shape
                .edges
                .iter()
                .filter_map(|[from, to]| Some((position(from)?, position(to)?)))
                .collect();
            layout_dag(&shape.names, &edges)
        })
    });
    let path = release.with_untracked(|r| crate::components::url::release_path(&r.product, r.id));
    let flow = release.with_untracked(|r| r.flow.name.clone());

    let graph = move || {
        let flow = flow.clone();
        let path = path.clone();
        let layout = layout.get();
        let (width, height) = (layout.width, layout.height);
        let edges = layout
            .edges
            .iter()
            .map(|edge| {
                let from = edge.from.clone();
                let done = Memo::new(move |_| {
                    release.with(|r| {
                        r.env(&from)
                            .is_some_and(|env| env.status == EnvStatus::Successful)
                    })
                });
                view! {
                    <path class=move || if done.get() { "edge edge--done" } else { "edge" }
                        d=edge.d.clone() marker-end="url(#graph-arrow)"
                        data-from=edge.from.clone() data-to=edge.to.clone() />
                }
            })
            .collect_view();
        let nodes = layout
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                view! { <GraphNode release=release node=node.clone() index=index path=path.clone() selected=selected /> }
            })
            .collect_view();
        view! {
            <GraphFrame flow=flow.clone() width=width.round() as u32 layout=layout.clone()>
                <svg
                    class="graph__svg"
                    viewBox=format!("0 0 {width:.0} {height:.0}")
                    role="group"
                    aria-label=format!("Promotion flow {}", flow)
                >
                    <defs>
                        <marker id="graph-arrow" viewBox="0 0 10 10" refX="9" refY="5"
                            markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M0 0L10 5L0 10z" class="edge__arrow" />
                        </marker>
                    </defs>
                    <g class="graph__edges">{edges}</g>
                    <g class="graph__nodes">{nodes}</g>
                </svg>
            </GraphFrame>
        }
    };
    view! { {graph} }
}

/// One environment of the graph: a link selecting it, its name, status
/// icon and word, version and error count, all following the release.
#[component]
fn GraphNode(
    release: Signal<ReleaseView>,
    node: domain::layout::NodeBox,
    index: usize,
    path: String,
    selected: Signal<Option<String>>,
) -> impl IntoView {
    let name = node.name.clone();
    let env = Memo::new({
        let name = name.clone();
        move |_| release.with(|r| r.env(&name).cloned())
    });
    let key = move || env.with(|e| e.as_ref().map_or("pending", |e| e.status.key()));
    let is_selected = {
        let name = name.clone();
        Memo::new(move |_| selected.with(|s| s.as_deref() == Some(name.as_str())))
    };
    let (x, y, w, h) = (node.x, node.y, node.w, node.h);
    let href = with_query(&path, &[("env", Some(&name))]);
    let on_click = follow_in_place(href.clone());
    let summary = move || env.with(|e| e.as_ref().map(node_summary).unwrap_or_default());
    let version = move || {
        env.with(|e| {
            e.as_ref()
                .map(|e| ellipsize(&version_text(e), 26))
                .unwrap_or_default()
        })
    };
    let inherited = move || env.with(|e| e.as_ref().is_some_and(|e| e.version_inherited));
    let errors = move || env.with(|e| e.as_ref().map_or(0, |e| e.errors.len()));
    let word = move || env.with(|e| e.as_ref().map_or("", |e| e.status.word()));
    view! {
        <g class="node-wrap">
            <a
                href=href
                id=format!("graph-node-{index}")
                class=move || {
                    if is_selected.get() {
                        format!("node node--{} node--selected", key())
                    } else {
                        format!("node node--{}", key())
                    }
                }
                data-testid="graph-node"
                data-noscroll="true"
                on:click=on_click
                data-env=name.clone()
                data-status=key
                aria-label=summary
                aria-current=move || is_selected.get().then_some("true")
            >
                <title>{summary}</title>
                <rect class="node__box" x=x y=y width=w height=h rx="10" />
                <rect class="node__bar" x=x y=y width="5" height=h rx="2" />
                <text class="node__name" x={x + 16.0} y={y + 24.0}>{ellipsize(&name, 22)}</text>
                {move || (errors() > 0).then(|| view! {
                    <text class="node__errors" x={x + w - 12.0} y={y + 24.0} text-anchor="end">
                        {format!("{} ⚠", errors())}
                    </text>
                })}
                <svg class=move || format!("status-icon status--{}", key()) x={x + 16.0} y={y + 33.0}
                    width="16" height="16" viewBox="0 0 16 16" inner_html=move || glyph(key())></svg>
                <text class=move || format!("node__status status--{}", key()) x={x + 38.0} y={y + 46.0}>
                    {word}
                </text>
                <text class="node__version" class:node__version--inherited=inherited
                    x={x + 16.0} y={y + 63.0}>{version}</text>
            </a>
        </g>
    }
}

/// Follows a plain click on a node's link with the router, as the router
/// does by itself for HTML links: it leaves SVG `<a>` elements to the
/// browser, which would load the whole page again. A click with a modifier
/// (a new tab or window) or another button stays the browser's.
fn follow_in_place(href: String) -> impl Fn(leptos::ev::MouseEvent) + 'static {
    let navigate = leptos_router::hooks::use_navigate();
    move |ev: leptos::ev::MouseEvent| {
        if ev.default_prevented()
            || ev.button() != 0
            || ev.meta_key()
            || ev.alt_key()
            || ev.ctrl_key()
            || ev.shift_key()
        {
            return;
        }
        ev.prevent_default();
        navigate(&href, in_place());
    }
}

/// How the graph selects an environment: a navigation that keeps the
/// scroll position (only `?env=` changes).
fn in_place() -> leptos_router::NavigateOptions {
    leptos_router::NavigateOptions {
        scroll: false,
        ..Default::default()
    }
}

/// The graph's frame, toolbar and viewport: the zoom buttons and the arrow
/// keys.
#[component]
fn GraphFrame(flow: String, width: u32, layout: Layout, children: Children) -> impl IntoView {
    // `None` fits the width (down to MIN_FIT_SCALE); `Some(z)` is a fixed zoom.
    let zoom = RwSignal::new(None::<f64>);
    // The SVG's width bounds, read by `.graph__svg` in the style sheet.
    let px = move |scale: f64| (f64::from(width) * scale).round() as u32;
    let style = move || match zoom.get() {
        None => format!(
            "--graph-width:100%;--graph-min-width:{}px;--graph-max-width:{width}px",
            px(MIN_FIT_SCALE)
        ),
        Some(z) => format!(
            "--graph-width:{}px;--graph-min-width:0;--graph-max-width:none",
            px(z)
        ),
    };
    let zoom_by = move |factor: f64| {
        zoom.update(|z| {
            let current = z.unwrap_or(1.0);
            *z = Some((current * factor).clamp(0.25, 2.0));
        })
    };
    let nav = StoredValue::new(GraphNav::from(&layout));
    let navigate = leptos_router::hooks::use_navigate();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let Some(direction) = Direction::from_key(&ev.key()) else {
            return;
        };
        let Some(from) = focused_node(&ev) else {
            return;
        };
        ev.prevent_default();
        let target = nav.with_value(|nav| {
            let index = nav.nodes.iter().position(|n| n.name == from)?;
            let target = neighbour(nav, index, direction)?;
            Some((target, nav.nodes.get(target)?.name.clone()))
        });
        if let Some((index, name)) = target {
            select(index, &name, &navigate);
        }
    };
    view! {
        <figure class="graph card" data-testid="promotion-graph">
            <figcaption class="graph__toolbar">
                <span class="graph__title">
                    "Flow " <strong>{flow}</strong>
                    <span class="graph__hint">" · select an environment (Tab, Enter, arrow keys)"</span>
                </span>
                <span class="graph__zoom" role="group" aria-label="Zoom">
                    <button type="button" class="btn btn--ghost btn--icon" title="Zoom out"
                        aria-label="Zoom out" on:click=move |_| zoom_by(1.0 / ZOOM_STEP)>"−"</button>
                    <button type="button" class="btn btn--ghost" data-testid="graph-fit"
                        aria-pressed=move || zoom.get().is_none().to_string()
                        on:click=move |_| zoom.set(None)>"Fit"</button>
                    <button type="button" class="btn btn--ghost" aria-pressed=move || (zoom.get() == Some(1.0)).to_string()
                        on:click=move |_| zoom.set(Some(1.0))>"100%"</button>
                    <button type="button" class="btn btn--ghost btn--icon" title="Zoom in"
                        aria-label="Zoom in" on:click=move |_| zoom_by(ZOOM_STEP)>"+"</button>
                </span>
            </figcaption>
            <div class="graph__viewport" tabindex="-1" style=style on:keydown=on_keydown>
                {children()}
            </div>
        </figure>
    }
}

/// The environment of the graph node the key was pressed on.
fn focused_node(ev: &leptos::ev::KeyboardEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target()?
            .dyn_into::<web_sys::Element>()
            .ok()?
            .closest("a[data-env]")
            .ok()??
            .get_attribute("data-env")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// Selects environment `name` (graph node `index`) as a click on its link
/// would, and keeps the keyboard focus on it.
fn select(index: usize, name: &str, navigate: &impl Fn(&str, leptos_router::NavigateOptions)) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let focus = move || {
            if let Some(element) = document().get_element_by_id(&format!("graph-node-{index}")) {
                // SVG links have `focus()` too; the call is structural.
                let _ = element.unchecked_into::<web_sys::HtmlElement>().focus();
            }
        };
        focus();
        let path = window().location().pathname().unwrap_or_default();
        navigate(&with_query(&path, &[("env", Some(name))]), in_place());
        request_animation_frame(focus);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (index, name, navigate);
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::layout::layout_dag;

    fn diamond() -> Layout {
        let names: Vec<String> = ["dev", "qa", "staging", "prod"].map(String::from).to_vec();
        layout_dag(&names, &[(0, 1), (0, 2), (1, 3), (2, 3)])
    }

    fn index(layout: &Layout, name: &str) -> usize {
        layout
            .nodes
            .iter()
            .position(|n| n.name == name)
            .expect("node exists")
    }

    #[test]
    fn arrows_follow_edges_and_layers() {
        let layout = diamond();
        let at = |name: &str| index(&layout, name);
        let nav = GraphNav::from(&layout);
        let go = |from: &str, d| neighbour(&nav, at(from), d).map(|i| layout.nodes[i].name.clone());
        assert!(matches!(
            go("dev", Direction::Right).as_deref(),
            Some("qa" | "staging")
        ));
        assert_eq!(go("qa", Direction::Right).as_deref(), Some("prod"));
        assert_eq!(go("prod", Direction::Right), None);
        assert_eq!(go("dev", Direction::Left), None);
        assert!(matches!(
            go("prod", Direction::Left).as_deref(),
            Some("qa" | "staging")
        ));
        let top = layout
            .nodes
            .iter()
            .find(|n| n.layer == 1 && n.order == 0)
            .map(|n| n.name.clone())
            .expect("layer 1 has a top node");
        let bottom = go(&top, Direction::Down).expect("a node below");
        assert_ne!(bottom, top);
        assert_eq!(go(&bottom, Direction::Up), Some(top));
        assert_eq!(go(&bottom, Direction::Down), None);
    }

    #[test]
    fn ellipsize_cuts_long_names_only() {
        assert_eq!(ellipsize("staging", 10), "staging");
        assert_eq!(ellipsize("staging-europe-west", 10), "staging-e…");
    }
}
