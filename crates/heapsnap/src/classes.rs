//! Which class ("what") a node is counted under in a diff.
//!
//! Two conventions exist and users compare against both: the classic memwatch output that
//! heapdiff is a drop-in for, and the class column of Chrome DevTools' comparison view.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::snapshot::Snapshot;

/// Which naming convention the `what` column follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    /// The classic memwatch classes; hidden and synthetic (system) nodes are left out of every
    /// figure; details sorted by `what` in byte order.
    #[default]
    Classic,
    /// Chrome DevTools' comparison-view classes; every node type counts (system nodes too) but,
    /// as in DevTools, nodes of self size 0 do not; details sorted by size change, largest
    /// first.
    DevTools,
}

#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Left out of every figure.
    Skip,
    /// Grouped by the node's own name (constructor name for objects).
    ByName,
    /// Grouped under a fixed label, by index into `ClassRules::labels`.
    Label(u32),
}

/// Per node type of one snapshot, how its nodes are grouped. Built once per snapshot from the
/// type names in its header, so type indices are never assumed.
///
/// A node's class is a "slot": its names-table index for `ByName`, or `name_count + label`
/// for fixed labels. Slots are cheap integers in the per-node loop; they become strings only
/// once per class at the end.
#[derive(Debug)]
pub(crate) struct ClassRules {
    grouping: Grouping,
    rules: Vec<Rule>,
    labels: Vec<String>,
    name_count: u32,
    /// DevTools grouping of a browser snapshot with detached DOM nodes.
    detached: Option<Detached>,
}

/// DevTools shows a DOM element that is in no document as `Detached <tag>`, apart from the
/// attached ones: the classic browser leak. Blink records each element's state in the node's
/// `detachedness` field; only native (embedder) nodes are renamed, as in DevTools.
#[derive(Debug)]
struct Detached {
    /// Bit `i` set: node `i` is a detached native node.
    nodes: Vec<u64>,
    /// Name index → slot of its `Detached …` label.
    slot_of: HashMap<u32, u32>,
}

/// The classic memwatch label for a node type, or `None` when the type's nodes are grouped by
/// name. Hidden and synthetic nodes are V8/embedder bookkeeping that the classic output left
/// out ("system" nodes); excluding them everywhere keeps the `+`/`-` columns adding up.
fn classic_rule(type_name: &str) -> Result<Option<&str>, ()> {
    Ok(Some(match type_name {
        "hidden" | "synthetic" => return Err(()),
        "object" => return Ok(None),
        "array" => "Array",
        "string" | "concatenated string" | "sliced string" => "String",
        "code" => "Code",
        "closure" => "Closure",
        "regexp" => "RegExp",
        "number" => "Number",
        "native" => "Native",
        "symbol" => "Symbol",
        "bigint" => "BigInt",
        "object shape" => "ObjectShape",
        "wasm object" => "WasmObject",
        other => other,
    }))
}

/// The class DevTools shows (its `calculateObjectNames`): objects and natives by name,
/// functions as `Function`, regexps as `RegExp`, everything else as `(type)`, with hidden nodes
/// as `(system)` and code as `(compiled code)`.
fn devtools_rule(type_name: &str) -> Option<String> {
    Some(match type_name {
        "object" | "native" => return None,
        "hidden" => "(system)".into(),
        "code" => "(compiled code)".into(),
        "closure" => "Function".into(),
        "regexp" => "RegExp".into(),
        other => format!("({other})"),
    })
}

/// DevTools folds DOM wrappers such as `<div id="a">` into `<div>` (and the same under a
/// `Detached ` prefix), so that elements group by tag rather than by attributes.
pub(crate) fn devtools_object_class(name: &str) -> Cow<'_, str> {
    let tag_start = if name.starts_with('<') {
        0
    } else if name.starts_with("Detached <") {
        "Detached ".len()
    } else {
        return Cow::Borrowed(name);
    };
    match name[tag_start..].find(' ') {
        Some(k) => Cow::Owned(format!("{}>", &name[..tag_start + k])),
        None => Cow::Borrowed(name),
    }
}

impl ClassRules {
    pub(crate) fn new(snap: &Snapshot, grouping: Grouping) -> Self {
        let mut labels: Vec<String> = Vec::new();
        // Index of a label, added on first use.
        let mut label = |s: String| {
            let k = labels.iter().position(|l| *l == s).unwrap_or_else(|| {
                labels.push(s);
                labels.len() - 1
            });
            k as u32
        };
        let rules = snap
            .node_type_names()
            .iter()
            .map(|t| match grouping {
                Grouping::Classic => match classic_rule(t) {
                    Err(()) => Rule::Skip,
                    Ok(None) => Rule::ByName,
                    Ok(Some(l)) => Rule::Label(label(l.to_owned())),
                },
                Grouping::DevTools => match devtools_rule(t) {
                    None => Rule::ByName,
                    Some(l) => Rule::Label(label(l)),
                },
            })
            .collect();
        let name_count = snap.name_count() as u32;
        let native = snap.node_type_names().iter().position(|t| t == "native");
        let detached = match (grouping, native) {
            (Grouping::DevTools, Some(native)) if !snap.detached.is_empty() => {
                let mut nodes = vec![0u64; snap.node_count().div_ceil(64)];
                let mut slot_of = HashMap::new();
                for &i in &snap.detached {
                    let i = i as usize;
                    if snap.node_type_index(i) as usize != native {
                        continue;
                    }
                    nodes[i / 64] |= 1 << (i % 64);
                    let name = snap.name_index(i);
                    slot_of.entry(name).or_insert_with(|| {
                        let class = devtools_object_class(snap.name_by_index(name));
                        name_count + label(format!("Detached {class}"))
                    });
                }
                Some(Detached { nodes, slot_of })
            }
            _ => None,
        };
        ClassRules {
            grouping,
            rules,
            labels,
            name_count,
            detached,
        }
    }

    /// Number of distinct slots, for sizing per-slot tables.
    pub(crate) fn slot_count(&self) -> usize {
        self.name_count as usize + self.labels.len()
    }

    /// The class slot of node `i`, or `None` if the node is left out.
    ///
    /// DevTools leaves nodes of self size 0 out of its aggregates (and so out of its comparison
    /// view); mostly synthetic roots and empty placeholders. Doing the same keeps counts equal.
    #[inline]
    pub(crate) fn slot(&self, snap: &Snapshot, i: usize) -> Option<u32> {
        if self.grouping == Grouping::DevTools && snap.self_size(i) == 0 {
            return None;
        }
        match self.rules[snap.node_type_index(i) as usize] {
            Rule::Skip => None,
            Rule::ByName => {
                let name = snap.name_index(i);
                match &self.detached {
                    Some(d) if d.nodes[i / 64] >> (i % 64) & 1 == 1 => Some(d.slot_of[&name]),
                    _ => Some(name),
                }
            }
            Rule::Label(l) => Some(self.name_count + l),
        }
    }

    /// The class name for a slot returned by `slot`.
    pub(crate) fn name<'a>(&'a self, snap: &'a Snapshot, slot: u32) -> Cow<'a, str> {
        if slot >= self.name_count {
            return Cow::Borrowed(&self.labels[(slot - self.name_count) as usize]);
        }
        let name = snap.name_by_index(slot);
        match self.grouping {
            Grouping::Classic => Cow::Borrowed(name),
            Grouping::DevTools => devtools_object_class(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom_wrappers_fold_to_their_tag() {
        assert_eq!(devtools_object_class("<div id=\"a\">"), "<div>");
        assert_eq!(devtools_object_class("<div>"), "<div>");
        assert_eq!(
            devtools_object_class("Detached <li class=x>"),
            "Detached <li>"
        );
        assert_eq!(devtools_object_class("Map"), "Map");
    }

    #[test]
    fn type_labels() {
        assert_eq!(classic_rule("concatenated string"), Ok(Some("String")));
        assert_eq!(classic_rule("object"), Ok(None));
        assert_eq!(classic_rule("synthetic"), Err(()));
        assert_eq!(classic_rule("future thing"), Ok(Some("future thing")));
        assert_eq!(devtools_rule("closure").as_deref(), Some("Function"));
        assert_eq!(devtools_rule("hidden").as_deref(), Some("(system)"));
        assert_eq!(devtools_rule("synthetic").as_deref(), Some("(synthetic)"));
        assert_eq!(
            devtools_rule("concatenated string").as_deref(),
            Some("(concatenated string)")
        );
        assert_eq!(devtools_rule("native"), None);
    }
}
