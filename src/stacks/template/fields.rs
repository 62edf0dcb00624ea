//! [`Template::fields`](super::Template::fields): the field paths a parsed
//! tree reads, for messages such as "the template reads `.vars.stage`".
//!
//! It exists so that messages can name what a stack must set. It reads the
//! tree only; it must not render, and it may miss paths (it is for messages,
//! not for deciding anything).

use serde_json::Value;

use super::ast::{Call, Command, CondKind, Expr, Field, Node, Pipeline};
use super::funcs::Func;
use super::value::join_path;

/// `prefix` is the path of dot, or `None` when dot is not a plain field.
pub(super) fn collect_nodes(nodes: &[Node], prefix: Option<&str>, out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Print { pipe, .. } => collect_pipe(pipe, prefix, out),
            Node::Cond(cond) => {
                collect_pipe(&cond.pipe, prefix, out);
                let inner = match cond.kind {
                    CondKind::If => prefix.map(str::to_owned),
                    CondKind::With => with_prefix(&cond.pipe, prefix),
                };
                collect_nodes(&cond.then, inner.as_deref(), out);
                collect_nodes(&cond.otherwise, prefix, out);
            }
        }
    }
}

fn with_prefix(pipe: &Pipeline, prefix: Option<&str>) -> Option<String> {
    match (&pipe.head, pipe.tail.is_empty()) {
        (Command::Operand(Expr::Field(field)), true) => resolve(field, prefix),
        _ => None,
    }
}

fn resolve(field: &Field, prefix: Option<&str>) -> Option<String> {
    if field.root {
        return Some(field.path.clone());
    }
    prefix.map(|p| join_path(p, &field.path).into_owned())
}

fn push_unique(out: &mut Vec<String>, path: String) {
    if !path.is_empty() && !out.contains(&path) {
        out.push(path);
    }
}

fn collect_pipe(pipe: &Pipeline, prefix: Option<&str>, out: &mut Vec<String>) {
    match &pipe.head {
        Command::Operand(expr) => collect_expr(expr, prefix, out),
        Command::Call(call) => collect_call(call, prefix, out),
    }
    for call in &pipe.tail {
        collect_call(call, prefix, out);
    }
}

fn collect_call(call: &Call, prefix: Option<&str>, out: &mut Vec<String>) {
    if call.info.func == Func::Index
        && !call.piped
        && let Some(path) = literal_index_path(call, prefix)
    {
        push_unique(out, path);
        return;
    }
    for arg in &call.args {
        collect_expr(arg, prefix, out);
    }
}

/// `index .a "b" 0` with literal keys reads `a.b.0`.
fn literal_index_path(call: &Call, prefix: Option<&str>) -> Option<String> {
    let (Expr::Field(base), keys) = call.args.split_first()? else {
        return None;
    };
    let mut path = resolve(base, prefix)?;
    for key in keys {
        let text = match key {
            Expr::Lit(Value::String(s)) => s.clone(),
            Expr::Lit(Value::Number(n)) => n.to_string(),
            _ => return None,
        };
        path = join_path(&path, &text).into_owned();
    }
    Some(path)
}

fn collect_expr(expr: &Expr, prefix: Option<&str>, out: &mut Vec<String>) {
    match expr {
        Expr::Field(field) => {
            if let Some(path) = resolve(field, prefix) {
                push_unique(out, path);
            }
        }
        Expr::Lit(_) => {}
        Expr::Sub(pipe) => collect_pipe(pipe, prefix, out),
    }
}
