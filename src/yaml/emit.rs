//! Turns [`Node`] trees into JSON and YAML text for `describe` and `list`, and into JSON
//! values for the name template. Kept tags are printed as `!tag value` strings so a reader
//! sees that Atmos, not tfauth, resolves them.

use super::{Node, Value};
use yaml_rust2::yaml::{Hash, Yaml};

/// A JSON value equal to the node (tags folded into strings).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    if let Some(tag) = tagged_text(node) {
        return J::String(tag);
    }
    match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => J::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// YAML text for the node, without the leading `---`.
pub fn to_yaml_string(node: &Node) -> String {
    let yaml = to_yaml(node);
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    if emitter.dump(&yaml).is_err() {
        return String::new();
    }
    let body = out.strip_prefix("---\n").or_else(|| out.strip_prefix("---")).unwrap_or(&out);
    let mut body = body.trim_start_matches(' ').to_string();
    body.push('\n');
    body
}

fn to_yaml(node: &Node) -> Yaml {
    if let Some(tag) = tagged_text(node) {
        return Yaml::String(tag);
    }
    match &node.value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Int(i) => Yaml::Integer(*i),
        Value::Float(f) => Yaml::Real(format_float(*f)),
        Value::Str(s) => Yaml::String(s.clone()),
        Value::Seq(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Value::Map(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k.clone()), to_yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf".into() } else { "-.inf".into() }
    } else {
        let s = f.to_string();
        if s.contains(['.', 'e', 'E']) { s } else { format!("{s}.0") }
    }
}

fn tagged_text(node: &Node) -> Option<String> {
    let tag = node.tag.as_deref()?;
    if tag == "!append" || tag.starts_with("!env ") {
        return None;
    }
    Some(match &node.value {
        Value::Str(s) if !s.is_empty() => format!("{tag} {s}"),
        _ => tag.to_string(),
    })
}

/// YAML text for a JSON value (used for command output built as JSON).
pub fn json_to_yaml_string(v: &serde_json::Value) -> String {
    to_yaml_string(&json_to_node(v))
}

pub(crate) fn json_to_node(v: &serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::Seq(a.iter().map(json_to_node).collect()),
        J::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), json_to_node(v))).collect()),
    };
    Node::new(value, super::Span::synthetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{LoadContext, Loader};
    use std::path::Path;

    #[test]
    fn round_trips_types_and_order() {
        let ctx = LoadContext::default();
        let src = "b: 1\na: [x, true, 1.5, null]\nc: {d: '01'}\nt: !store ssm /x\n";
        let n = Loader::new(&ctx).load_str(src, Path::new("/x.yaml")).unwrap();
        let json = to_json(&n).to_string();
        assert_eq!(json, r#"{"b":1,"a":["x",true,1.5,null],"c":{"d":"01"},"t":"!store ssm /x"}"#);
        let yaml = to_yaml_string(&n);
        let back = Loader::new(&ctx).load_str(&yaml, Path::new("/y.yaml")).unwrap();
        assert_eq!(to_json(&back).to_string(), json, "{yaml}");
    }
}
