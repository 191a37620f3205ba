//! The layering of `core/src`, checked from the source text: no two of the crate's modules import
//! each other, directly or in a loop.
//!
//! Every `.rs` file under `src/` is a module (`lib.rs` the root, `x/mod.rs` the module `x`, `x/y.rs`
//! the module `x::y`); test modules (`tests.rs`, inline `#[cfg(test)] mod … { … }`) are left out,
//! since tests may use anything. An edge goes from a module to every module one of its paths names
//! (`use crate::…`, `super::…`, `self::…` and paths written inline), resolved to the longest prefix
//! that is a module, so `crate::token_text::hash_hex` names `token_text` (its facade) and
//! `crate::cms::trust::SigningCert` names `cms::trust`. A `mod` declaration is no edge; a
//! `pub use` is (the facade depends on what it re-exports), so a module that imports through its
//! own folder's facade, or from the crate root, closes a loop and fails here.
//!
//! Two graphs must be free of cycles: the modules, and the same collapsed to the top-level modules
//! (the layers: `cms`, `token_text`, `body`, `pipeline`, `auth_token`, ...). And the module map in
//! `lib.rs` must name every module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`cms::trust`, `crate` for the root) → source text.
type Sources = BTreeMap<String, String>;
/// Module → the modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn read_sources(dir: &Path) -> Sources {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut sources = Sources::new();
    for file in files {
        let rel = file.strip_prefix(dir).expect("under src");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let last = parts.pop().expect("a file name");
        match last.as_str() {
            "lib.rs" | "mod.rs" => {}
            name => parts.push(name.trim_end_matches(".rs").to_owned()),
        }
        if parts.iter().any(|p| p == "tests") {
            continue;
        }
        let module = if parts.is_empty() {
            "crate".to_owned()
        } else {
            parts.join("::")
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        sources.insert(module, text);
    }
    sources
}

/// The text without comments, string and character literals (each replaced by a space).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            b'r' if matches!(b.get(i + 1), Some(b'#' | b'"'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // A raw string: r"…" or r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == b'"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&b'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                i = j;
                out.push(' ');
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push(' ');
            }
            b'\'' => {
                // A character literal ('x', '\n', '\u{..}'), or a lifetime ('a) left as it is.
                if b.get(i + 1) == Some(&b'\\') {
                    let mut j = i + 2;
                    while j < b.len() && b[j] != b'\'' {
                        j += 1;
                    }
                    i = j + 1;
                    out.push(' ');
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                    out.push(' ');
                } else if let Some(c) = text[i + 1..].chars().next() {
                    if text[i + 1 + c.len_utf8()..].starts_with('\'') {
                        i += 2 + c.len_utf8();
                        out.push(' ');
                    } else {
                        out.push('\'');
                        i += 1;
                    }
                } else {
                    i += 1;
                }
            }
            _ => {
                let c = text[i..].chars().next().expect("a character");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The code without inline test modules (`#[cfg(test)]`, attributes, `mod name { … }`).
fn without_test_modules(code: &str) -> String {
    let mut out = code.to_owned();
    while let Some(start) = out.find("#[cfg(test)]") {
        let rest = &out[start + "#[cfg(test)]".len()..];
        let trimmed = skip_attributes(rest);
        let offset = out.len() - trimmed.len();
        let end = if let Some(after_mod) = trimmed.strip_prefix("mod ") {
            match after_mod.find(['{', ';']) {
                Some(i) if after_mod.as_bytes()[i] == b'{' => {
                    let open = offset + 4 + i;
                    matching_brace(&out, open).map_or(out.len(), |close| close + 1)
                }
                Some(i) => offset + 4 + i + 1,
                None => out.len(),
            }
        } else {
            // Another item under cfg(test): drop just the attribute.
            offset
        };
        out.replace_range(start..end, " ");
    }
    out
}

fn skip_attributes(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if s.starts_with("#[") {
            match matching_bracket(s) {
                Some(end) => s = &s[end + 1..],
                None => return s,
            }
        } else {
            return s;
        }
    }
}

fn matching_bracket(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn matching_brace(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every full path a use tree or inline path starting at `code[at..]` names, as segments.
fn paths_at(code: &str, at: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut segments = prefix.to_vec();
    let mut i = at;
    loop {
        let rest = &code[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with('{') {
            // A group: each member is a tree of its own.
            i += 1;
            loop {
                let rest = &code[i..];
                let t = rest.trim_start();
                i += rest.len() - t.len();
                if t.starts_with('}') {
                    return i + 1;
                }
                if t.starts_with(',') {
                    i += 1;
                    continue;
                }
                let before = i;
                i = paths_at(code, i, &segments, out);
                if i == before {
                    i += 1;
                }
            }
        }
        let ident: String = trimmed.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            if trimmed.starts_with('*') {
                i += 1;
            }
            out.push(segments);
            return i;
        }
        i += ident.len();
        match ident.as_str() {
            "self" => {}
            "super" => {
                segments.pop();
            }
            _ => segments.push(ident),
        }
        let rest = &code[i..];
        if let Some(after) = rest.strip_prefix("::") {
            if after.starts_with('<') {
                // A turbofish: the path ends here.
                out.push(segments);
                return i;
            }
            i += 2;
            continue;
        }
        out.push(segments);
        return i;
    }
}

/// The module a path names: its longest prefix that is a module.
fn resolve(segments: &[String], modules: &BTreeSet<String>) -> String {
    for n in (1..=segments.len()).rev() {
        let candidate = segments[..n].join("::");
        if modules.contains(&candidate) {
            return candidate;
        }
    }
    "crate".to_owned()
}

fn parent(module: &str) -> String {
    match module.rsplit_once("::") {
        Some((p, _)) => p.to_owned(),
        None => "crate".to_owned(),
    }
}

fn graph(sources: &Sources) -> Graph {
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let mut g = Graph::new();
    for (module, text) in sources {
        let code = without_test_modules(&code_only(text));
        let mut paths = Vec::new();
        for (keyword, base) in [
            ("crate::", Vec::new()),
            (
                "super::",
                parent(module)
                    .split("::")
                    .filter(|s| *s != "crate")
                    .map(str::to_owned)
                    .collect(),
            ),
            (
                "self::",
                module
                    .split("::")
                    .filter(|s| *s != "crate")
                    .map(str::to_owned)
                    .collect(),
            ),
        ] {
            let mut from = 0;
            while let Some(found) = code[from..].find(keyword) {
                let at = from + found;
                from = at + keyword.len();
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| is_ident(c) || c == ':') {
                    continue;
                }
                paths_at(&code, at + keyword.len(), &base, &mut paths);
            }
        }
        // `use x::…` inside a folder's facade names its own child `x` (`pub use decode::…`).
        let mut from = 0;
        while let Some(found) = code[from..].find("use ") {
            let at = from + found;
            from = at + 4;
            let before = code[..at].chars().next_back();
            if before.is_some_and(is_ident) {
                continue;
            }
            let first: String = code[at + 4..]
                .trim_start()
                .chars()
                .take_while(|c| is_ident(*c))
                .collect();
            let base: Vec<String> = module
                .split("::")
                .filter(|s| *s != "crate")
                .map(str::to_owned)
                .collect();
            let mut child = base.clone();
            child.push(first);
            if modules.contains(&child.join("::")) {
                let start = at + 4 + (code[at + 4..].len() - code[at + 4..].trim_start().len());
                paths_at(&code, start, &base, &mut paths);
            }
        }
        let edges = g.entry(module.clone()).or_default();
        for path in paths {
            let target = resolve(&path, &modules);
            if target != *module {
                edges.insert(target);
            }
        }
    }
    g
}

/// The top-level module of a module (`cms::trust` → `cms`); the root stays the root.
fn layer(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn layers(g: &Graph) -> Graph {
    let mut out = Graph::new();
    for (from, targets) in g {
        if from == "crate" {
            continue;
        }
        let edges = out.entry(layer(from).to_owned()).or_default();
        for to in targets {
            if to != "crate" && layer(to) != layer(from) {
                edges.insert(layer(to).to_owned());
            }
        }
    }
    out
}

/// A cycle of `g`, if it has one, as the modules along it.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        g: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in g.get(node).into_iter().flatten() {
            match marks.get(next.as_str()).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut loop_ = stack[from..].to_vec();
                    loop_.push(next.clone());
                    return Some(loop_);
                }
                Mark::New => {
                    if let Some(found) = visit(next, g, marks, stack) {
                        return Some(found);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in g.keys() {
        if marks.get(node.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(found) = visit(node, g, &mut marks, &mut Vec::new()) {
                return Some(found);
            }
        }
    }
    None
}

fn describe(g: &Graph) -> String {
    g.iter()
        .map(|(from, to)| {
            format!(
                "  {from} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn core_sources() -> Sources {
    read_sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn no_module_imports_another_that_imports_it() {
    let g = graph(&core_sources());
    if let Some(found) = cycle(&g) {
        panic!(
            "import cycle between core modules: {}\nthe graph:\n{}",
            found.join(" -> "),
            describe(&g)
        );
    }
}

#[test]
fn the_layers_form_no_loop() {
    let g = layers(&graph(&core_sources()));
    if let Some(found) = cycle(&g) {
        panic!(
            "import cycle between core's layers: {}\nthe layers:\n{}",
            found.join(" -> "),
            describe(&g)
        );
    }
    // The layers named in the README's layout, in this order, each above the ones before it.
    let order = [
        "error",
        "limits",
        "algorithm",
        "timestamp",
        "json",
        "cms",
        "token_text",
        "signer",
        "verifier",
        "body",
        "revocation",
        "pipeline",
        "pki_setup",
        "auth_token",
    ];
    for (from, targets) in &g {
        let rank = |m: &str| order.iter().position(|o| *o == m);
        let Some(from_rank) = rank(from) else {
            panic!("a top-level module outside the known layers: {from}");
        };
        for to in targets {
            let to_rank = rank(to).unwrap_or(usize::MAX);
            assert!(
                to_rank < from_rank,
                "{from} imports {to}, a layer above it\nthe layers:\n{}",
                describe(&g)
            );
        }
    }
}

#[test]
fn the_module_map_names_every_module() {
    let sources = core_sources();
    let lib = &sources["crate"];
    let map: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let missing: Vec<&String> = sources
        .keys()
        .filter(|m| *m != "crate" && !map.contains(&format!("`{m}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "lib.rs's module map does not name {missing:?} (as `path::to::module`)"
    );
}

#[test]
fn the_check_finds_loops() {
    let mut sources = Sources::new();
    sources.insert("crate".into(), "mod a; mod b; mod c;".into());
    sources.insert("a".into(), "use crate::b::Thing;".into());
    sources.insert(
        "b".into(),
        "// crate::a is only a comment here\nfn f() { let _ = \"crate::a\"; crate::c::g(); }"
            .into(),
    );
    sources.insert("c".into(), "use crate::{x::Y, a::{self, Z}};".into());
    let g = graph(&sources);
    assert_eq!(
        cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    // A child importing through its folder's facade closes a loop with the facade's re-export.
    let mut sources = Sources::new();
    sources.insert(
        "f".into(),
        "mod x;\nmod y;\npub use x::X;\npub use y::Y;".into(),
    );
    sources.insert("f::x".into(), "use crate::f::Y;".into());
    sources.insert("f::y".into(), "pub struct Y;".into());
    let g = graph(&sources);
    assert_eq!(cycle(&g), Some(vec!["f".into(), "f::x".into(), "f".into()]));
    // Tests may use anything; `super::` resolves from the module.
    let mut sources = Sources::new();
    sources.insert(
        "p".into(),
        "#[cfg(test)]\n#[allow(x)]\nmod tests { use crate::q::Z; }\npub fn p() {}".into(),
    );
    sources.insert("q".into(), "use crate::p::p;".into());
    sources.insert("q::r".into(), "use super::super::p;".into());
    let g = graph(&sources);
    assert_eq!(cycle(&g), None);
    assert!(g["q::r"].contains("p"));
}
