//! Errors from reading stack manifests and resolving components, each with its location.

use crate::yaml::{Span, display_path, load::YamlError};
use std::path::PathBuf;

use super::template::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("the stacks directory {} does not exist", display_path(.0))]
    NoStacksDir(PathBuf),
    #[error("no stack manifests match stacks.included_paths ({included}) under {}", display_path(base))]
    NoManifests { base: PathBuf, included: String },
    #[error("import `{import}` at {span} matches no file")]
    ImportNotFound { import: String, span: Span, tried: Vec<PathBuf> },
    #[error("import at {span}: {} is {kind}, not a regular file", display_path(path))]
    ImportNotRegular { path: PathBuf, kind: &'static str, span: Span },
    #[error("import cycle: {} (closed by the import at {span})", chain.join(" -> "))]
    ImportCycle { chain: Vec<String>, span: Span },
    #[error("`{field}` at {span} must be {expected}, not {found}")]
    WrongType { field: String, span: Span, expected: &'static str, found: &'static str },
    #[error("stacks.name_template at {span} is not a valid template: {source}")]
    BadTemplate { span: Span, source: TemplateError },
    #[error("{span}: this Go template in a stack manifest cannot be rendered")]
    ManifestTemplate {
        span: Span,
        #[source]
        source: TemplateError,
    },
    /// An imported file (or a `.yaml.tmpl` manifest) that is a Go template, rendered before
    /// it is parsed, failed to render. `span` is the `import:` entry that gave the context.
    #[error("{span}: {} cannot be rendered as a Go template{}", display_path(file), if *imported { " with this import's context" } else { "" })]
    ImportTemplate {
        file: PathBuf,
        span: Span,
        imported: bool,
        #[source]
        source: TemplateError,
    },
    /// A Go template in an import path (`templates.settings.enabled`) failed to render.
    #[error("{span}: the import path `{import}` cannot be rendered as a Go template")]
    ImportPathTemplate {
        import: String,
        span: Span,
        #[source]
        source: TemplateError,
    },
    #[error("stacks.name_pattern at {span}: {message}")]
    BadPattern { span: Span, message: String },
    #[error("stack `{name}` not found")]
    StackNotFound { name: String, suggestions: Vec<String>, unnamed: Vec<(PathBuf, String)>, count: usize },
    #[error("stack `{name}` is defined by more than one manifest: {}", files.iter().map(|f| display_path(f)).collect::<Vec<_>>().join(", "))]
    AmbiguousStack { name: String, files: Vec<PathBuf> },
    #[error("component `{component}` not found in stack `{stack}`")]
    ComponentNotFound { component: String, stack: String, suggestions: Vec<String> },
    #[error(
        "component `{component}` in stack `{stack}` inherits `{base}` (at {span}), which the stack does not define"
    )]
    InheritNotFound { component: String, stack: String, base: String, span: Span, suggestions: Vec<String> },
    #[error("inheritance cycle in stack `{stack}`: {} (at {span})", chain.join(" -> "))]
    InheritCycle { stack: String, chain: Vec<String>, span: Span },
    #[error(
        "component `{component}` in stack `{stack}` is abstract (metadata.type: abstract at {span}) and cannot be run"
    )]
    Abstract { component: String, stack: String, span: Span },
    #[error("{} stack manifest(s) cannot be read:{}", errors.len(), errors.iter().map(bullet).collect::<String>())]
    Broken { errors: Vec<StackError> },
}

impl StackError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StackError::Yaml(e) => return e.hint(),
            StackError::NoStacksDir(_) => "check stacks.base_path in atmos.yaml (it is relative to base_path)".into(),
            StackError::NoManifests { .. } => {
                "check stacks.included_paths and stacks.excluded_paths in atmos.yaml".into()
            }
            StackError::ImportNotFound { .. } => {
                "fix the path (relative to stacks.base_path, or to the file with ./), or add `skip_if_missing: true`"
                    .into()
            }
            StackError::ImportNotRegular { .. } => {
                "import a regular YAML file: devices, FIFOs and sockets are never read (a FIFO would block)".into()
            }
            StackError::ImportCycle { .. } => "remove one of the imports in the cycle".into(),
            StackError::WrongType { .. } => "fix the value in that file".into(),
            StackError::ManifestTemplate { .. } => "templates.settings.enabled is true in atmos.yaml, so stack values are Go templates over the component's sections (.vars, .settings, .env, .atmos_stack, ...); tfauth supports fields, pipelines, if/with and common Sprig functions".into(),
            StackError::ImportTemplate { .. } => "an import with `context:` (and every file it imports) or a .yaml.tmpl file is a Go template over that context, as in Atmos: set the value in the import's `context:`, or add `ignore_missing_template_values: true` to the import (or templates.settings.ignore_missing_template_values in atmos.yaml) to print <no value>, or `skip_templates_processing: true` to read the file as plain YAML".into(),
            StackError::ImportPathTemplate { .. } => "an import path is a Go template over the settings, vars and env of the earlier imports of its file and the import's own `context:`: define the value in an earlier import or the `context:`, or add `ignore_missing_template_values: true` (or `skip_templates_processing: true`) to the import".into(),
            StackError::BadPattern { .. } => "write tokens as {tenant}, {environment}, {stage}, {namespace}".into(),
            StackError::BadTemplate { .. } => {
                "name templates support fields (.vars.x), pipelines, if/with and common Sprig functions".into()
            }
            StackError::StackNotFound { suggestions, unnamed, count, .. } => {
                let mut h = if *count == 0 {
                    "no manifest has a name under the configured stacks.name_pattern / name_template".to_string()
                } else if suggestions.is_empty() {
                    format!("run `tfauth list stacks` to see the {count} stacks")
                } else {
                    format!("did you mean {}?", quote_list(suggestions))
                };
                if let Some((file, why)) = unnamed.first() {
                    h.push_str(&format!(
                        "\nhint: {} manifest(s) have no name, e.g. {}: {why}",
                        unnamed.len(),
                        display_path(file)
                    ));
                }
                h
            }
            StackError::AmbiguousStack { .. } => {
                "give each manifest distinct vars, or a `name:`; stack names must be unique".into()
            }
            StackError::ComponentNotFound { suggestions, stack, .. } if suggestions.is_empty() => {
                format!("run `tfauth list components -s {stack}` to see the components of this stack")
            }
            StackError::ComponentNotFound { suggestions, .. } => format!("did you mean {}?", quote_list(suggestions)),
            StackError::InheritNotFound { suggestions, .. } if !suggestions.is_empty() => {
                format!(
                    "did you mean {}? a base component must be defined in (or imported into) the same stack",
                    quote_list(suggestions)
                )
            }
            StackError::InheritNotFound { .. } => {
                "define the base component in the stack, or import its catalog file".into()
            }
            StackError::InheritCycle { .. } => "remove one of the metadata.inherits entries in the cycle".into(),
            StackError::Abstract { .. } => {
                "abstract components are bases for others; run a component that inherits it".into()
            }
            StackError::Broken { errors } => {
                let why = "fix each file above: a listing that skipped them would be silently incomplete";
                let mut hints: Vec<String> = errors.iter().filter_map(StackError::hint).collect();
                hints.dedup();
                match hints.as_slice() {
                    [one] => format!("{one}\nhint: {why}"),
                    _ => why.into(),
                }
            }
        })
    }
}

/// One error of [`StackError::Broken`] as a list item, with its causes (the binary prints
/// only the causes of the outer error).
fn bullet(e: &StackError) -> String {
    let mut out = format!("\n  - {}", e.to_string().replace('\n', "\n    "));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!("\n    caused by: {s}"));
        source = s.source();
    }
    out
}

pub(crate) fn quote_list(items: &[String]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}
