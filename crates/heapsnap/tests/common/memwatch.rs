//! memwatch's `what`: the class a node is counted under in the classic HeapDiff, written from
//! memwatch's own rules (`../shared/memwatch-semantics.md`, read from memwatch 0.2.x's C++
//! source) and NOT from heapsnap's label table, so that the tests check the implementation
//! against the rules instead of against a copy of itself. Every Rust test that needs a classic
//! reference label takes it from `memwatch_what`; the ava tests have the same rule in
//! `__test__/helpers/memwatch-what.ts`.

/// JavaScript's built-in types whose values V8 writes as a node type of the same name (compared
/// ignoring case): `array`, `string`, `number` (a heap number), `regexp`, `symbol`, `bigint`.
/// These are the language's names, spelled as the language spells them, not labels.
const JS_TYPES: &[&str] = &["Array", "BigInt", "Number", "RegExp", "String", "Symbol"];

/// memwatch's `what` for a node of V8 node type `node_type` (as the snapshot's
/// `meta.node_types` spells it) named `name`; `None` for a node memwatch does not list.
///
/// memwatch 0.2.x, as the semantics notes put it: "`what` (the class): object nodes by their
/// constructor name; otherwise `Array`, `String`, `Code`, `Closure`, `RegExp`, `Number`,
/// `Native`; hidden (system) nodes are not listed. Newer V8 node types (concatenated/sliced
/// string, symbol, bigint, object shape, …) need a name too."
///
/// memwatch's seven labels follow from V8's type names (`array`, `string`, `code`, `closure`,
/// `regexp`, `number`, `native`) by one pattern, and that same pattern names the newer types:
/// 1. `object`: the node's name, which for an object node is its constructor name.
/// 2. System nodes are not listed: `hidden` ("may be filtered when shown to user", V8) and
///    `synthetic` ("usually used for grouping snapshot items together", V8: the GC-root
///    groups). Neither is an object of the program; memwatch listed neither.
/// 3. A string of any kind is `String`: when memwatch was written V8 had one string type; the
///    ones it split off since (`concatenated string`, `sliced string`) are strings still.
/// 4. A type that is a JavaScript value type is named as JavaScript names it (`JS_TYPES`):
///    `Array`, `String`, `Number`, `RegExp` (memwatch's), `Symbol`, `BigInt` (newer).
/// 5. Anything else, V8's own kinds of thing, is V8's type name in UpperCamelCase: `Code`,
///    `Closure`, `Native` (memwatch's), `ObjectShape`, `WasmObject` (newer).
pub fn memwatch_what(node_type: &str, name: &str) -> Option<String> {
    if node_type == "object" {
        return Some(name.to_string());
    }
    if node_type == "hidden" || node_type == "synthetic" {
        return None;
    }
    if node_type == "string" || node_type.ends_with(" string") {
        return Some("String".to_string());
    }
    let joined: String = node_type.split(' ').collect();
    if let Some(js) = JS_TYPES.iter().find(|t| t.eq_ignore_ascii_case(&joined)) {
        return Some(js.to_string());
    }
    Some(
        node_type
            .split(' ')
            .map(|word| {
                let mut c = word.chars();
                c.next()
                    .map(|first| first.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect(),
    )
}
