//! Turns the page on screen into a freshly server-rendered one by changing
//! only what differs, so that focus, scroll position, open disclosures,
//! what is being typed and the islands' state all survive. Nodes are
//! matched by position; an element is reused when its tag and key (`id`,
//! `data-key`) are the same, otherwise replaced. An island with the same
//! component and props is kept as it is, except for the server-rendered
//! children it wraps; a new or changed one is hydrated.

use wasm_bindgen::JsCast;
use web_sys::{Element, Node};

use super::{document, hydrate_islands_in};

const ISLAND: &str = "LEPTOS-ISLAND";
const ISLAND_CHILDREN: &str = "leptos-children";
/// Attributes the user changes and the server never sets.
const CLIENT_ATTRIBUTES: &[(&str, &str)] = &[("DETAILS", "open")];

/// Morphs the children of `old` into those of `new` (whose nodes move).
pub fn children(old: &Node, new: &Node) {
    let old_nodes = nodes(old);
    let new_nodes = nodes(new);
    let mut old_nodes = old_nodes.into_iter();
    for new_node in new_nodes {
        match old_nodes.next() {
            Some(old_node) if same_kind(&old_node, &new_node) => node(&old_node, &new_node),
            Some(old_node) => {
                let _ = old.replace_child(&new_node, &old_node);
                hydrate_islands_in(&new_node);
            }
            None => {
                let _ = old.append_child(&new_node);
                hydrate_islands_in(&new_node);
            }
        }
    }
    for stale in old_nodes {
        let _ = old.remove_child(&stale);
    }
}

fn nodes(parent: &Node) -> Vec<Node> {
    let list = parent.child_nodes();
    (0..list.length()).filter_map(|i| list.item(i)).collect()
}

fn same_kind(old: &Node, new: &Node) -> bool {
    if old.node_type() != new.node_type() {
        return false;
    }
    match (old.dyn_ref::<Element>(), new.dyn_ref::<Element>()) {
        (Some(old), Some(new)) => {
            let same = |name: &str| old.get_attribute(name) == new.get_attribute(name);
            old.tag_name() == new.tag_name()
                && same("id")
                && same("data-key")
                && (old.tag_name() != ISLAND || (same("data-component") && same("data-props")))
        }
        _ => true,
    }
}

fn node(old: &Node, new: &Node) {
    let (Some(old_element), Some(new_element)) =
        (old.dyn_ref::<Element>(), new.dyn_ref::<Element>())
    else {
        // Text and comments.
        if old.node_value() != new.node_value() {
            old.set_node_value(new.node_value().as_deref());
        }
        return;
    };
    if old_element.tag_name() == ISLAND {
        island_children(old_element, new_element);
        return;
    }
    attributes(old_element, new_element);
    children(old, new);
    form_state(old_element, new_element);
}

fn attributes(old: &Element, new: &Element) {
    let tag = old.tag_name();
    let kept = |name: &str| {
        CLIENT_ATTRIBUTES
            .iter()
            .any(|(t, a)| *t == tag && name.eq_ignore_ascii_case(a))
    };
    let new_attributes = new.attributes();
    for i in 0..new_attributes.length() {
        let Some(attribute) = new_attributes.item(i) else {
            continue;
        };
        let (name, value) = (attribute.name(), attribute.value());
        if !kept(&name) && old.get_attribute(&name).as_deref() != Some(value.as_str()) {
            let _ = old.set_attribute(&name, &value);
        }
    }
    let old_attributes = old.attributes();
    let stale: Vec<String> = (0..old_attributes.length())
        .filter_map(|i| old_attributes.item(i))
        .map(|a| a.name())
        .filter(|name| !kept(name) && !new.has_attribute(name))
        .collect();
    for name in stale {
        let _ = old.remove_attribute(&name);
    }
}

/// Form controls show their property, not their attribute: bring it along,
/// except in the control being typed into.
fn form_state(old: &Element, new: &Element) {
    let focused = document()
        .active_element()
        .is_some_and(|active| active == *old);
    if focused {
        return;
    }
    if let (Some(old), Some(new)) = (
        old.dyn_ref::<web_sys::HtmlInputElement>(),
        new.dyn_ref::<web_sys::HtmlInputElement>(),
    ) {
        if old.value() != new.value() {
            old.set_value(&new.value());
        }
        old.set_checked(new.checked());
    } else if let (Some(old), Some(new)) = (
        old.dyn_ref::<web_sys::HtmlSelectElement>(),
        new.dyn_ref::<web_sys::HtmlSelectElement>(),
    ) {
        old.set_value(&new.value());
    } else if let (Some(old), Some(new)) = (
        old.dyn_ref::<web_sys::HtmlTextAreaElement>(),
        new.dyn_ref::<web_sys::HtmlTextAreaElement>(),
    ) {
        old.set_value(&new.value());
    }
}

/// An island keeps its own DOM (it is the island's state); only the
/// server-rendered children it wraps are morphed.
fn island_children(old: &Element, new: &Element) {
    let own = |island: &Element| -> Vec<Element> {
        let Ok(list) = island.query_selector_all(ISLAND_CHILDREN) else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<Element>().ok())
            .filter(|c| {
                c.parent_element()
                    .and_then(|p| p.closest("leptos-island").ok().flatten())
                    .is_some_and(|owner| owner == *island)
            })
            .collect()
    };
    for (old, new) in own(old).iter().zip(own(new).iter()) {
        children(old, new);
    }
}
