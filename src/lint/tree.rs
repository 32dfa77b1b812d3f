//! Reading a tree of `.tf` files into the few facts the lint rules need: user pools and their email
//! configuration, SES identities (data sources and resources), SES identity policies, IAM policy documents
//! and variable defaults. Parsing is hcl-edit's; evaluation is deliberately shallow — literals, `var.x`
//! defaults, references by address, `jsonencode()` and JSON strings — because a static check must not guess.
//!
//! The walk reads regular files only, so a tree under review (a pull request in CI) cannot hang or exhaust
//! the lint: directories are entered, but a symbolic link to a directory is never followed (it could loop,
//! or lead out of the tree); a `.tf` symbolic link is read only when it resolves to a regular file inside
//! the scanned tree; FIFOs, devices and sockets are never opened; a `.tf` file over [`MAX_TF_FILE`] is not
//! read. Each entry left out is a [`Skipped`], reported as an `unread-file` warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::template::{Element, Template};
use serde_json::Value;

use super::LintError;
use crate::regular_file::{self, OpenError};

/// The most the lint reads of one `.tf` file: hand-written Terraform is kilobytes; a larger file is
/// generated, or not Terraform.
pub const MAX_TF_FILE: u64 = 4 * 1024 * 1024;

/// Why an entry of the tree was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A symbolic link to a directory: not followed, as it could loop or lead out of the tree.
    LinkedDirectory,
    /// A `.tf` symbolic link resolving outside the scanned tree, to this path.
    LinkOutside(PathBuf),
    /// A `.tf` symbolic link that does not resolve (dangling, or a loop of links), with the reason.
    BrokenLink(String),
    /// A `.tf` entry that is not a regular file, or (`linked`) a link inside the tree to one.
    NotRegular { odd: regular_file::Odd, linked: bool },
    /// A `.tf` file over [`MAX_TF_FILE`], with its size.
    TooLarge(u64),
}

impl Skip {
    /// What the warning says after the file's name.
    pub fn message(&self) -> String {
        match self {
            Skip::LinkedDirectory => "is a symbolic link to a directory; not followed (a link can loop or lead out of \
                                      the tree), so the files behind it were not checked"
                .to_string(),
            Skip::LinkOutside(target) => {
                format!("is a symbolic link to {}, outside the scanned tree; not read", target.display())
            }
            Skip::BrokenLink(why) => format!("is a symbolic link that does not resolve ({why}); not read"),
            Skip::NotRegular { odd, linked: false } => format!("is {odd}, not a regular file; not read"),
            Skip::NotRegular { odd, linked: true } => {
                format!("is a symbolic link to {odd}, not a regular file; not read")
            }
            Skip::TooLarge(size) => format!(
                "is {size} bytes, over the {} the lint reads of a .tf file; not read",
                crate::size::show(MAX_TF_FILE)
            ),
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            Skip::LinkedDirectory => {
                "Lint the directory the link points to on its own (probe lint-terraform <target>), or replace the \
                 link with the directory."
            }
            Skip::LinkOutside(_) => "Copy the file into the tree, or lint the tree it belongs to.",
            Skip::BrokenLink(_) => "Point the link at a .tf file inside the tree, or remove it.",
            Skip::NotRegular { .. } => "Remove it from the tree: Terraform reads regular .tf files.",
            Skip::TooLarge(_) => {
                "Split it into smaller files, or find out why a generated file this large is among the Terraform \
                 sources."
            }
        }
        .to_string()
    }
}

/// An entry of the tree that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry as reached from the scanned directory.
    pub file: String,
    pub why: Skip,
}

/// Where a declaration sits: the file (relative to the scanned directory) and its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One `resource "aws_cognito_user_pool"` and what its email configuration says.
#[derive(Debug, Clone)]
pub struct Pool {
    /// `aws_cognito_user_pool.<label>`.
    pub address: String,
    pub at: Location,
    /// The `name` attribute when it evaluates to a string.
    pub name: Option<String>,
    /// `email_sending_account`: `None` when absent (AWS's default is COGNITO_DEFAULT), `Some(Err(text))`
    /// when it is an expression the lint cannot evaluate.
    pub sending_account: Option<Result<String, String>>,
    /// `source_arn`, evaluated (references stay as `${address}`).
    pub source_arn: Option<String>,
    /// `from_email_address`, evaluated, and where the attribute is.
    pub from_email_address: Option<(String, Location)>,
}

/// One `aws_ses_identity_policy` resource.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    pub address: String,
    pub at: Location,
    /// The `identity` attribute, evaluated.
    pub identity: Option<String>,
    /// The `name` attribute, evaluated.
    pub name: Option<String>,
    /// The policy document, when the lint could read it; `Err` says why not.
    pub document: Result<Value, String>,
}

/// Everything the rules look at, across the whole scanned tree.
#[derive(Debug, Default)]
pub struct Tree {
    pub files: usize,
    pub pools: Vec<Pool>,
    pub policies: Vec<IdentityPolicy>,
    /// Entries left out of the walk.
    pub skipped: Vec<Skipped>,
}

/// A declaration the evaluator can look up by address (`data.aws_ses_email_identity.noreply`, `var.x`),
/// kept per directory: Terraform resolves names within one module.
#[derive(Default)]
struct Module {
    /// `var.<name>` → evaluated default.
    variables: BTreeMap<String, Value>,
    /// SES identity address (`data.aws_ses_email_identity.x`, `aws_sesv2_email_identity.x`, …) → its email
    /// or domain, evaluated.
    identities: BTreeMap<String, String>,
    /// `data.aws_iam_policy_document.<name>` → the document it renders.
    policy_documents: BTreeMap<String, Value>,
}

/// A parsed file, kept until every module's declarations are known.
struct Parsed {
    rel: PathBuf,
    dir: PathBuf,
    src: String,
    body: Body,
}

/// Reads every `.tf` file under `root` (skipping hidden directories such as `.terraform/`, which holds
/// downloaded copies of modules) and extracts the facts.
pub fn read_tree(root: &Path) -> Result<Tree, LintError> {
    let mut skipped = Vec::new();
    let parsed = parse_files(root, &mut skipped)?;
    let modules = read_modules(&parsed);
    let mut tree = Tree { files: parsed.len(), skipped, ..Tree::default() };
    for p in &parsed {
        read_resources(p, &modules, &mut tree);
    }
    Ok(tree)
}

/// A `.tf` file found by the walk: where it sits in the tree, and what to open (itself, or the regular file
/// inside the tree its link resolves to).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Source {
    path: PathBuf,
    open: PathBuf,
}

/// Every readable `.tf` file under `root`, parsed; a syntax error names the file, line and column. Entries
/// not read are added to `skipped`.
fn parse_files(root: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<Parsed>, LintError> {
    let canonical =
        std::fs::canonicalize(root).map_err(|source| LintError::Read { path: root.display().to_string(), source })?;
    let mut sources = Vec::new();
    let mut skip = |path: &Path, why: Skip| {
        let rel = path.strip_prefix(root).unwrap_or(path);
        skipped.push(Skipped { file: display_path(root, rel), why });
    };
    collect(&canonical, root, &mut sources, &mut skip)?;
    sources.sort();
    let mut parsed = Vec::new();
    for source in &sources {
        let Some(src) = read_source(source, &mut skip)? else { continue };
        let path = &source.path;
        let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        let body = hcl_edit::parser::parse_body(&src).map_err(|e| LintError::Parse {
            file: display_path(root, &rel),
            line: e.location().line(),
            column: e.location().column(),
            message: e.message().to_string(),
        })?;
        let dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        parsed.push(Parsed { rel: PathBuf::from(display_path(root, &rel)), dir, src, body });
    }
    skipped.sort_by(|a, b| a.file.cmp(&b.file));
    if parsed.is_empty() {
        let dir = root.display().to_string();
        return Err(match skipped.first() {
            None => LintError::NoFiles { dir },
            Some(first) => LintError::NoneReadable {
                dir,
                count: skipped.len(),
                first: format!("{} {}", first.file, first.why.message()),
            },
        });
    }
    Ok(parsed)
}

/// A `.tf` file's text: opened as a regular file only, read up to [`MAX_TF_FILE`]; `None` (and a
/// [`Skipped`]) when it is something else or larger.
fn read_source(source: &Source, skip: &mut impl FnMut(&Path, Skip)) -> Result<Option<String>, LintError> {
    let linked = source.open != source.path;
    let read_err = |source: std::io::Error, path: &Path| LintError::Read { path: path.display().to_string(), source };
    let (mut file, meta) = match regular_file::open(&source.open) {
        Ok(opened) => opened,
        Err(OpenError::Odd(odd)) => {
            skip(&source.path, Skip::NotRegular { odd, linked });
            return Ok(None);
        }
        Err(OpenError::Io(e)) => return Err(read_err(e, &source.path)),
    };
    if meta.len() > MAX_TF_FILE {
        skip(&source.path, Skip::TooLarge(meta.len()));
        return Ok(None);
    }
    let bytes =
        regular_file::read_at_most(&mut file, meta.len(), MAX_TF_FILE + 1).map_err(|e| read_err(e, &source.path))?;
    if bytes.len() as u64 > MAX_TF_FILE {
        skip(&source.path, Skip::TooLarge(bytes.len() as u64));
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, e), &source.path))
}

/// Pass 1, per module: variables, then identities and policy documents (which may use variables).
fn read_modules(parsed: &[Parsed]) -> BTreeMap<PathBuf, Module> {
    let mut modules: BTreeMap<PathBuf, Module> = BTreeMap::new();
    for p in parsed {
        let module = modules.entry(p.dir.clone()).or_default();
        for block in p.body.get_blocks("variable") {
            if let (Some(name), Some(default)) = (label(block, 0), block.body.get_attribute("default")) {
                let value = eval(&default.value, &Module::default());
                module.variables.insert(format!("var.{name}"), value);
            }
        }
    }
    for p in parsed {
        let (found, docs) = identities_and_documents(p, &modules[&p.dir]);
        let module = modules.entry(p.dir.clone()).or_default();
        module.identities.extend(found);
        module.policy_documents.extend(docs);
    }
    modules
}

type Named<T> = Vec<(String, T)>;

/// The SES identities and `aws_iam_policy_document`s one file declares.
fn identities_and_documents(p: &Parsed, module: &Module) -> (Named<String>, Named<Value>) {
    let mut found = Vec::new();
    let mut docs = Vec::new();
    for block in p.body.blocks() {
        let kind = block.ident.as_str();
        let (Some(t), Some(name)) = (label(block, 0), label(block, 1)) else { continue };
        let address = if kind == "data" { format!("data.{t}.{name}") } else { format!("{t}.{name}") };
        match (kind, t) {
            ("data" | "resource", "aws_ses_email_identity" | "aws_ses_domain_identity")
            | ("data" | "resource", "aws_sesv2_email_identity") => {
                let attr = ["email", "domain", "email_identity"].iter().find_map(|k| block.body.get_attribute(k));
                if let Some(Value::String(s)) = attr.map(|a| eval(&a.value, module)) {
                    found.push((address, s));
                }
            }
            ("data", "aws_iam_policy_document") => docs.push((address, policy_document(&block.body, module))),
            _ => {}
        }
    }
    (found, docs)
}

/// Pass 2: the pools and identity policies of one file.
fn read_resources(p: &Parsed, modules: &BTreeMap<PathBuf, Module>, tree: &mut Tree) {
    let module = &modules[&p.dir];
    for block in p.body.get_blocks("resource") {
        let (Some(t), Some(name)) = (label(block, 0), label(block, 1)) else { continue };
        let at = location(&p.rel, &p.src, block.span());
        match t {
            "aws_cognito_user_pool" => {
                let mut pool = read_pool(block, format!("{t}.{name}"), at, p, module);
                pool.source_arn = pool.source_arn.map(|arn| resolve_identity(&arn, modules, &p.dir));
                tree.pools.push(pool);
            }
            "aws_ses_identity_policy" => {
                let attr = |k: &str| block.body.get_attribute(k).map(|a| eval(&a.value, module));
                let identity = attr("identity").map(|v| resolve_identity(&value_text(&v), modules, &p.dir));
                let policy_name = attr("name").map(|v| value_text(&v));
                let document = match block.body.get_attribute("policy") {
                    Some(a) => read_policy(&a.value, module).map(|d| resolve_resources(d, modules, &p.dir)),
                    None => Err("it has no policy attribute".to_string()),
                };
                let address = format!("{t}.{name}");
                tree.policies.push(IdentityPolicy { address, at, identity, name: policy_name, document });
            }
            _ => {}
        }
    }
}

/// Paths in findings are shown as the user named the directory: `terraform-example/production/cognito.tf`.
fn display_path(root: &Path, rel: &Path) -> String {
    root.join(rel).display().to_string()
}

/// Walks `dir` without following links out of the scanned tree (`canonical`, its resolved path): see the
/// module doc.
fn collect(
    canonical: &Path,
    dir: &Path,
    out: &mut Vec<Source>,
    skip: &mut impl FnMut(&Path, Skip),
) -> Result<(), LintError> {
    let read_err = |source| LintError::Read { path: dir.display().to_string(), source };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let tf = path.extension().is_some_and(|e| e == "tf");
        // The entry's own type: a link is a link, whatever it points to.
        let kind = entry.file_type().map_err(read_err)?;
        if kind.is_dir() {
            collect(canonical, &path, out, skip)?;
        } else if kind.is_symlink() {
            if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                skip(&path, Skip::LinkedDirectory);
            } else if tf {
                match std::fs::canonicalize(&path) {
                    Err(e) => skip(&path, Skip::BrokenLink(e.to_string())),
                    Ok(target) if !target.starts_with(canonical) => skip(&path, Skip::LinkOutside(target)),
                    Ok(target) => out.push(Source { path, open: target }),
                }
            }
        } else if tf {
            match regular_file::odd(kind) {
                None => out.push(Source { open: path.clone(), path }),
                Some(odd) => skip(&path, Skip::NotRegular { odd, linked: false }),
            }
        }
    }
    Ok(())
}

fn label(block: &Block, index: usize) -> Option<&str> {
    block.labels.get(index).map(|l| l.as_str())
}

/// The 1-based line of a byte offset (hcl-edit keeps byte spans of parsed items).
fn location(file: &Path, src: &str, span: Option<std::ops::Range<usize>>) -> Location {
    let offset = span.map(|s| s.start).unwrap_or(0).min(src.len());
    let line = src.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    Location { file: file.to_path_buf(), line }
}

fn read_pool(block: &Block, address: String, at: Location, p: &Parsed, module: &Module) -> Pool {
    let name = block.body.get_attribute("name").map(|a| value_text(&eval(&a.value, module)));
    let mut pool = Pool { address, at, name, sending_account: None, source_arn: None, from_email_address: None };
    if let Some(conf) = block.body.get_blocks("email_configuration").next() {
        if let Some(a) = conf.body.get_attribute("email_sending_account") {
            pool.sending_account = Some(match eval(&a.value, module) {
                Value::String(s) if !s.contains("${") => Ok(s),
                other => Err(value_text(&other)),
            });
        }
        pool.source_arn = conf.body.get_attribute("source_arn").map(|a| value_text(&eval(&a.value, module)));
        pool.from_email_address = conf
            .body
            .get_attribute("from_email_address")
            .map(|a| (value_text(&eval(&a.value, module)), location(&p.rel, &p.src, a.span())));
    }
    pool
}

/// The policy attribute as a JSON document: `jsonencode({...})`, a JSON string or heredoc, or a reference to
/// a `data.aws_iam_policy_document`'s `.json`.
fn read_policy(expr: &Expression, module: &Module) -> Result<Value, String> {
    if let Expression::FuncCall(call) = expr
        && call.name.name.as_str() == "jsonencode"
        && let Some(arg) = call.args.iter().next()
    {
        return Ok(eval(arg, module));
    }
    match eval(expr, module) {
        Value::String(s) => {
            if let Some(reference) = whole_reference(&s) {
                let doc = reference.strip_suffix(".json").and_then(|a| module.policy_documents.get(a));
                return doc.cloned().ok_or_else(|| format!("it refers to {reference}, which the lint cannot read"));
            }
            serde_json::from_str(&s).map_err(|e| format!("its policy is not JSON ({e})"))
        }
        other => Ok(other),
    }
}

/// A `data "aws_iam_policy_document"` rendered the way AWS would see it (only the parts the rules use).
fn policy_document(body: &Body, module: &Module) -> Value {
    let mut statements = Vec::new();
    for st in body.get_blocks("statement") {
        let get = |k: &str| st.body.get_attribute(k).map(|a| eval(&a.value, module));
        let mut principal = serde_json::Map::new();
        for p in st.body.get_blocks("principals") {
            let kind = p.body.get_attribute("type").map(|a| value_text(&eval(&a.value, module)));
            let ids = p.body.get_attribute("identifiers").map(|a| eval(&a.value, module));
            if let (Some(kind), Some(ids)) = (kind, ids) {
                principal.insert(kind, ids);
            }
        }
        let mut statement = serde_json::Map::new();
        statement.insert("Effect".into(), get("effect").unwrap_or_else(|| Value::String("Allow".into())));
        if let Some(v) = get("actions") {
            statement.insert("Action".into(), v);
        }
        if let Some(v) = get("resources") {
            statement.insert("Resource".into(), v);
        }
        if !principal.is_empty() {
            statement.insert("Principal".into(), Value::Object(principal));
        }
        statements.push(Value::Object(statement));
    }
    serde_json::json!({ "Statement": statements })
}

/// Evaluates an expression as far as a static check can: literals, collections, templates, `var.x` with a
/// literal default, `jsonencode()`. Anything else becomes the string `${<expression text>}`, so a reference
/// such as `data.aws_ses_email_identity.noreply.arn` stays recognisable by address.
fn eval(expr: &Expression, module: &Module) -> Value {
    match expr {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => serde_json::from_str(&n.value().to_string()).unwrap_or(Value::Null),
        Expression::String(s) => Value::String(s.value().to_string()),
        Expression::Array(items) => Value::Array(items.iter().map(|e| eval(e, module)).collect()),
        Expression::Object(object) => {
            let mut map = serde_json::Map::new();
            for (key, value) in object.iter() {
                let key = match key {
                    ObjectKey::Ident(ident) => ident.as_str().to_string(),
                    ObjectKey::Expression(e) => value_text(&eval(e, module)),
                };
                map.insert(key, eval(value.expr(), module));
            }
            Value::Object(map)
        }
        Expression::StringTemplate(t) => Value::String(template(t, module)),
        Expression::HeredocTemplate(h) => Value::String(template(&h.template, module)),
        Expression::Parenthesis(p) => eval(p.inner(), module),
        Expression::FuncCall(call) if call.name.name.as_str() == "jsonencode" => match call.args.iter().next() {
            Some(arg) => Value::String(eval(arg, module).to_string()),
            None => opaque(expr),
        },
        Expression::Traversal(t) => {
            let address = traversal_address(t);
            match address.as_deref().and_then(|a| module.variables.get(a)) {
                Some(value) if t.operators.len() == 1 => value.clone(),
                _ => opaque(expr),
            }
        }
        _ => opaque(expr),
    }
}

/// `a.b.c` for a traversal made only of attribute accesses on a variable.
fn traversal_address(t: &hcl_edit::expr::Traversal) -> Option<String> {
    let Expression::Variable(root) = &t.expr else { return None };
    let mut out = root.as_str().to_string();
    for op in &t.operators {
        match op.value() {
            TraversalOperator::GetAttr(ident) => {
                out.push('.');
                out.push_str(ident.as_str());
            }
            _ => return None,
        }
    }
    Some(out)
}

fn template(t: &Template, module: &Module) -> String {
    let mut out = String::new();
    for element in t.iter() {
        match element {
            Element::Literal(s) => out.push_str(s.value()),
            Element::Interpolation(i) => match eval(&i.expr, module) {
                Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            },
            Element::Directive(_) => out.push_str("${directive}"),
        }
    }
    out
}

fn opaque(expr: &Expression) -> Value {
    Value::String(format!("${{{}}}", expr.to_string().trim()))
}

/// A value as text: strings as they are, anything else as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The address inside `${…}` when the whole string is one reference.
pub fn whole_reference(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    (!inner.contains("${")).then_some(inner.trim())
}

/// Names an SES identity the same way wherever it appears: a literal ARN (`…:identity/<name>`, research/
/// aws.md §3.1 "Take the identity name from SourceArn") or address gives the email/domain; a reference to an
/// identity declared in the module (or, failing that, anywhere in the tree under the same address) gives
/// that declaration's email/domain; an unresolvable reference stays its address.
fn resolve_identity(value: &str, modules: &BTreeMap<PathBuf, Module>, dir: &Path) -> String {
    if let Some(reference) = whole_reference(value) {
        let address = reference.rsplit_once('.').map(|(a, _)| a).unwrap_or(reference);
        let local = modules.get(dir).and_then(|m| m.identities.get(address));
        let anywhere = || modules.values().find_map(|m| m.identities.get(address));
        return local.or_else(anywhere).cloned().unwrap_or_else(|| address.to_string());
    }
    identity_name(value).to_string()
}

/// Rewrites each statement's `Resource` entries that name an SES identity (a reference or an identity ARN)
/// to the identity's name, so the rules compare names with names.
fn resolve_resources(mut doc: Value, modules: &BTreeMap<PathBuf, Module>, dir: &Path) -> Value {
    let statements = match doc.get_mut("Statement") {
        Some(Value::Array(list)) => list.iter_mut().collect::<Vec<_>>(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    for statement in statements {
        let resource = match statement.get_mut("Resource") {
            Some(Value::Array(list)) => list.iter_mut().collect::<Vec<_>>(),
            Some(single @ Value::String(_)) => vec![single],
            _ => Vec::new(),
        };
        for r in resource {
            if let Value::String(s) = r
                && (whole_reference(s).is_some() || s.contains(":identity/"))
            {
                *s = resolve_identity(s, modules, dir);
            }
        }
    }
    doc
}

/// `arn:aws:ses:<region>:<account>:identity/<name>` → `<name>`; anything else as is.
pub fn identity_name(value: &str) -> &str {
    match value.split_once(":identity/") {
        Some((prefix, name)) if prefix.starts_with("arn:") => name,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_name_cases() {
        let cases = [
            (
                "identity ARN",
                "arn:aws:ses:us-east-1:123456789012:identity/noreply@thephenom.app",
                "noreply@thephenom.app",
            ),
            ("domain ARN", "arn:aws:ses:eu-west-1:123456789012:identity/thephenom.app", "thephenom.app"),
            ("bare address", "noreply@thephenom.app", "noreply@thephenom.app"),
            ("wildcard", "*", "*"),
        ];
        for (name, value, want) in cases {
            assert_eq!(identity_name(value), want, "{name}");
        }
    }

    #[test]
    fn whole_reference_cases() {
        let cases = [
            (
                "reference",
                "${data.aws_ses_email_identity.noreply.arn}",
                Some("data.aws_ses_email_identity.noreply.arn"),
            ),
            ("literal", "noreply@thephenom.app", None),
            ("template with two parts", "${a.b}-${c.d}", None),
        ];
        for (name, value, want) in cases {
            assert_eq!(whole_reference(value), want, "{name}");
        }
    }

    #[test]
    fn eval_cases() {
        let mut module = Module::default();
        module.variables.insert("var.from".into(), Value::String("Phenom <noreply@thephenom.app>".into()));
        let cases = [
            ("string", "\"DEVELOPER\"", serde_json::json!("DEVELOPER")),
            ("variable default", "var.from", serde_json::json!("Phenom <noreply@thephenom.app>")),
            (
                "reference stays an address",
                "data.aws_ses_email_identity.noreply.arn",
                serde_json::json!("${data.aws_ses_email_identity.noreply.arn}"),
            ),
            ("template", "\"${var.from}!\"", serde_json::json!("Phenom <noreply@thephenom.app>!")),
            (
                "object with quoted key",
                "{ \"aws:SourceAccount\" = \"1\", Effect = \"Allow\" }",
                serde_json::json!({"aws:SourceAccount": "1", "Effect": "Allow"}),
            ),
            ("array", "[\"a\", true, 3]", serde_json::json!(["a", true, 3])),
        ];
        for (name, src, want) in cases {
            let body = hcl_edit::parser::parse_body(&format!("x = {src}\n")).expect("parses");
            let attr = body.get_attribute("x").expect("attribute x");
            assert_eq!(eval(&attr.value, &module), want, "{name}");
        }
    }
}
