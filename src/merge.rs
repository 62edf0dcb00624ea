//! Deep merge of configuration trees, and the auth merge with its default-clearing rule.
//!
//! Precedence is always "later wins": the caller merges layers from the outermost
//! (`atmos.yaml`, then profiles) to the innermost (the component, then `overrides`).
//! - Mappings merge key by key, recursively.
//! - Lists are replaced, unless the later list is tagged `!append` (then it is appended),
//!   or `settings.list_merge_strategy` says `append` or `merge` (item-wise deep merge).
//! - Everything else (scalars, null, a value of another type) replaces.
//! - A key whose later value is `!unset` is removed (Atmos's `!unset`).
//!
//! The auth merge ([`merge_auth_level`]) differs in two ways, both from CONTRACT A3:
//! names under `providers`, `identities` and `integrations` match case-insensitively (the
//! outer spelling is kept), and a level that marks any identity `default: true` first
//! clears the defaults it inherited. Pure functions; no I/O.

use crate::yaml::{Node, Value};

/// How lists from a later layer combine with an earlier layer's list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListStrategy {
    /// The later list replaces the earlier one (Atmos's default).
    #[default]
    Replace,
    /// The later list's items follow the earlier list's.
    Append,
    /// Items at the same index are deep-merged.
    Merge,
}

impl ListStrategy {
    pub fn parse(s: &str) -> Option<ListStrategy> {
        match s {
            "replace" => Some(ListStrategy::Replace),
            "append" => Some(ListStrategy::Append),
            "merge" => Some(ListStrategy::Merge),
            _ => None,
        }
    }
}

/// Merges `over` into `base` in place (later wins).
pub fn merge_into(base: &mut Node, over: &Node, lists: ListStrategy) {
    match (&mut base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (k, v) in o {
                if v.is_unset() {
                    b.shift_remove(k);
                    continue;
                }
                match b.get_mut(k) {
                    Some(existing) => merge_into(existing, v, lists),
                    None => {
                        b.insert(k.clone(), v.without_unset());
                    }
                }
            }
            if over.tag.is_some() && base.tag.is_none() {
                base.tag.clone_from(&over.tag);
            }
        }
        (Value::Seq(b), Value::Seq(o)) if is_append(over) || lists == ListStrategy::Append => {
            b.extend(o.iter().cloned());
        }
        (Value::Seq(b), Value::Seq(o)) if lists == ListStrategy::Merge => {
            for (i, v) in o.iter().enumerate() {
                match b.get_mut(i) {
                    Some(existing) => merge_into(existing, v, lists),
                    None => b.push(v.clone()),
                }
            }
        }
        _ => {
            *base = over.without_unset();
            if is_append(base) {
                base.tag = None;
            }
        }
    }
}

fn is_append(node: &Node) -> bool {
    node.tag.as_deref() == Some("!append")
}

/// Merges layers in order into a new tree; `None` layers are skipped.
pub fn merge_all<'a>(layers: impl IntoIterator<Item = Option<&'a Node>>, lists: ListStrategy) -> Node {
    let mut out: Option<Node> = None;
    for layer in layers.into_iter().flatten() {
        match &mut out {
            None => {
                let mut first = layer.without_unset();
                if is_append(&first) {
                    first.tag = None;
                }
                out = Some(first);
            }
            Some(acc) => merge_into(acc, layer, lists),
        }
    }
    out.unwrap_or_else(Node::null)
}

/// The sections of `auth:` whose keys are names matched case-insensitively.
const NAMED_SECTIONS: &[&str] = &["providers", "identities", "integrations"];

/// Merges one level of `auth:` (a stack's, an inherited component's, a component's) over
/// the accumulated auth. If `level` marks any identity `default: true`, the defaults
/// accumulated so far are cleared first, so an inner level's default wins outright.
pub fn merge_auth_level(acc: &mut Node, level: &Node) {
    merge_auth(acc, level, true);
}

/// Merges a profile's `auth:` over the base config's: names match case-insensitively, but
/// a profile is part of the global level, so its defaults do not clear the base's.
pub fn merge_auth_profile(acc: &mut Node, level: &Node) {
    merge_auth(acc, level, false);
}

fn merge_auth(acc: &mut Node, level: &Node, clear: bool) {
    let Some(level_map) = level.as_map() else {
        return;
    };
    if acc.as_map().is_none() {
        *acc = Node::empty_map(level.span.clone());
    }
    if clear && level_sets_default(level) {
        clear_defaults(acc);
    }
    let Some(acc_map) = acc.as_map_mut() else {
        return;
    };
    for (key, value) in level_map {
        if value.is_unset() {
            acc_map.shift_remove(key);
            continue;
        }
        if NAMED_SECTIONS.contains(&key.as_str()) {
            let section = acc_map.entry(key.clone()).or_insert_with(|| Node::empty_map(value.span.clone()));
            merge_named(section, value);
        } else {
            match acc_map.get_mut(key) {
                Some(existing) => merge_into(existing, value, ListStrategy::Replace),
                None => {
                    acc_map.insert(key.clone(), value.without_unset());
                }
            }
        }
    }
}

/// Merges a name-keyed mapping, matching names case-insensitively and keeping the outer
/// spelling.
fn merge_named(acc: &mut Node, level: &Node) {
    let Some(level_map) = level.as_map() else {
        *acc = level.clone();
        return;
    };
    if acc.as_map().is_none() {
        *acc = Node::empty_map(level.span.clone());
    }
    let Some(acc_map) = acc.as_map_mut() else {
        return;
    };
    for (name, value) in level_map {
        let existing = acc_map.keys().position(|k| k.eq_ignore_ascii_case(name));
        if value.is_unset() {
            if let Some(i) = existing {
                acc_map.shift_remove_index(i);
            }
            continue;
        }
        match existing {
            Some(i) => {
                if let Some((_, slot)) = acc_map.get_index_mut(i) {
                    merge_into(slot, value, ListStrategy::Replace);
                }
            }
            None => {
                acc_map.insert(name.clone(), value.without_unset());
            }
        }
    }
}

/// Whether an `auth:` level marks any identity `default: true`.
pub fn level_sets_default(level: &Node) -> bool {
    level
        .get("identities")
        .and_then(Node::as_map)
        .is_some_and(|ids| ids.values().any(|id| id.get("default").and_then(Node::as_bool) == Some(true)))
}

fn clear_defaults(acc: &mut Node) {
    let Some(ids) = acc.as_map_mut().and_then(|m| m.get_mut("identities")).and_then(Node::as_map_mut) else {
        return;
    };
    for id in ids.values_mut() {
        if let Some(map) = id.as_map_mut()
            && let Some(d) = map.get_mut("default")
            && d.as_bool() == Some(true)
        {
            d.value = Value::Bool(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{LoadContext, Loader, emit::to_json};
    use std::path::Path;

    fn y(src: &str) -> Node {
        Loader::new(&LoadContext::default()).load_str(src, Path::new("/t.yaml")).unwrap()
    }

    #[test]
    fn unset_removes_the_key_and_is_never_kept() {
        let mut a = y("a: 1\nb: {c: 2, d: 3}\n");
        merge_into(&mut a, &y("a: !unset\nb: {d: !unset, e: {f: !unset}}\nz: !unset\n"), ListStrategy::Replace);
        assert_eq!(crate::yaml::emit::to_json(&a).to_string(), r#"{"b":{"c":2,"e":{}}}"#);
        let mut auth = y("identities: {Old: {kind: aws/user}, keep: {kind: aws/user}}\n");
        merge_auth_profile(&mut auth, &y("identities: {old: !unset}\n"));
        assert_eq!(crate::yaml::emit::to_json(&auth).to_string(), r#"{"identities":{"keep":{"kind":"aws/user"}}}"#);
    }

    #[test]
    fn maps_merge_lists_replace() {
        let mut a = y("m: {x: 1, y: [1, 2]}\n");
        merge_into(&mut a, &y("m: {y: [3], z: 2}\n"), ListStrategy::Replace);
        assert_eq!(to_json(&a).to_string(), r#"{"m":{"x":1,"y":[3],"z":2}}"#);
    }

    #[test]
    fn append_tag_appends() {
        let mut a = y("l: [1, 2]\n");
        merge_into(&mut a, &y("l: !append [3]\n"), ListStrategy::Replace);
        assert_eq!(to_json(&a).to_string(), r#"{"l":[1,2,3]}"#);
    }

    #[test]
    fn auth_default_clearing() {
        let mut acc = y("identities: {a: {kind: aws/user, default: true}, b: {kind: aws/user}}\n");
        merge_auth_level(&mut acc, &y("identities: {B: {default: true}}\n"));
        assert_eq!(
            to_json(&acc).to_string(),
            r#"{"identities":{"a":{"kind":"aws/user","default":false},"b":{"kind":"aws/user","default":true}}}"#
        );
    }
}
