//! The server's layers (issue #13), checked on its sources: the modules of `server/src` form no
//! import cycle; no API resource or family imports another's handlers; the compatibility
//! families and the native API do not reach into each other; the HTTP layer knows no family.
//! A module is a file; an import is a `crate::…` or `super::…` path in its code (comments
//! aside). A module and its own parent or children are one unit, as `mod` makes them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`api::v1::client`) → source, of the server.
fn modules() -> BTreeMap<String, String> {
    modules_of("server")
}

/// Module path → source, of the workspace crate in folder `krate`.
fn modules_of(krate: &str) -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).expect("inside src");
            let mut parts: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let source = std::fs::read_to_string(&path).expect("read");
            out.insert(parts.join("::"), source);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The code of a source without its comments.
fn code(source: &str) -> String {
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after `prefix` in `code`: `crate::app::state::AppState` → `app::state::AppState`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':')
        })
        .collect()
}

/// The longest module that `path` starts with.
fn resolve<'a>(path: &str, names: &'a BTreeSet<String>) -> Option<&'a String> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len())
        .rev()
        .find_map(|n| names.get(&segs[..n].join("::")))
}

fn related(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
}

/// Module → the modules it imports (its own parent and children aside).
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (m, source) in mods {
        let code = code(source);
        let parent = m.rsplit_once("::").map_or("", |(p, _)| p);
        let mut to = BTreeSet::new();
        for p in paths_after(&code, "crate::") {
            to.extend(resolve(p, &names).cloned());
        }
        for p in paths_after(&code, "super::") {
            let full = if parent.is_empty() {
                p.to_owned()
            } else {
                format!("{parent}::{p}")
            };
            to.extend(resolve(&full, &names).cloned());
        }
        to.retain(|t: &String| !t.is_empty() && !related(m, t));
        out.insert(m.clone(), to);
    }
    out
}

/// The first import cycle among `graph`'s modules, if any.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_owned());
        for t in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(t, graph, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_server_modules_form_no_import_cycle() {
    let graph = imports(&modules());
    assert!(graph.len() > 40, "the sources were read: {}", graph.len());
    let cycle = a_cycle(&graph);
    assert!(
        cycle.is_none(),
        "an import cycle: {}",
        cycle.unwrap_or_default().join(" → ")
    );
}

/// The crates under the server keep the same discipline: the verifier (whose `claims` and
/// `device` modules once imported each other) and the core (`seats` and `store`).
#[test]
fn the_verifier_and_core_modules_form_no_import_cycle() {
    for krate in ["verifier", "core"] {
        let graph = imports(&modules_of(krate));
        assert!(
            graph.len() > 8,
            "{krate}'s sources were read: {}",
            graph.len()
        );
        let cycle = a_cycle(&graph);
        assert!(
            cycle.is_none(),
            "an import cycle in {krate}: {}",
            cycle.unwrap_or_default().join(" → ")
        );
    }
}

#[test]
fn no_resource_or_family_imports_another_s_handlers() {
    let mods = modules();
    let graph = imports(&mods);
    let handlers: BTreeSet<&String> = mods
        .iter()
        .filter(|(_, s)| s.contains("#[utoipa::path"))
        .map(|(m, _)| m)
        .collect();
    assert!(handlers.len() > 15, "handler modules found: {handlers:?}");
    for (m, to) in &graph {
        for t in to {
            assert!(
                !handlers.contains(t),
                "{m} imports the handler module {t}: share through the core or a neutral module"
            );
        }
        let family = |x: &str| {
            x.strip_prefix("compat::")
                .map(|r| r.split("::").next().unwrap_or(r).to_owned())
        };
        if m.starts_with("http") {
            assert!(
                to.iter()
                    .all(|t| !t.starts_with("api") && !t.starts_with("compat")),
                "the HTTP layer {m} knows no family: {to:?}"
            );
        }
        if let Some(f) = family(m) {
            for t in to {
                assert!(
                    !t.starts_with("api") && family(t).is_none_or(|g| g == f),
                    "the family {m} reaches into {t}"
                );
            }
        }
        if m.starts_with("api") {
            assert!(
                to.iter().all(|t| !t.starts_with("compat")),
                "the native API {m} reaches into a family: {to:?}"
            );
        }
    }
}

/// The HTTP layer signs nothing and holds no key: issuing, the key ring and JWTs are the token
/// service's (`app::tokens`), which the layer reaches through `AppState`. And `AppState` only
/// holds what the services need: it has no domain methods of its own.
#[test]
fn the_http_layer_holds_no_key_and_the_state_no_domain() {
    let mods = modules();
    let http: Vec<&String> = mods.keys().filter(|m| m.starts_with("http")).collect();
    assert!(http.len() >= 7, "the HTTP layer's modules: {http:?}");
    for m in http {
        let code = code(&mods[m]);
        assert!(
            !code.contains("licet_issuer")
                && paths_after(&code, "crate::")
                    .iter()
                    .all(|p| !p.starts_with("keys")),
            "{m} reaches the issuer or the key ring: go through the token service"
        );
    }
    let state = code(&mods["app::state"]);
    let methods = state.matches("fn ").count();
    assert!(
        methods < 10,
        "AppState grew {methods} functions: put them in a service"
    );
}

/// The application layer's services and their error know no HTTP: no axum type, no status, no
/// response, and no import of the HTTP layer, so that every family's adapter (and the dashboard)
/// maps their results itself. The composition root (`app` itself, which builds the router) and
/// the state (which holds the HTTP layer's rate limits and metrics) are the exceptions.
#[test]
fn the_services_know_no_http() {
    let mods = modules();
    let services: Vec<&String> = mods
        .keys()
        .filter(|m| m.starts_with("app::") && *m != "app::state")
        .collect();
    assert!(services.len() >= 5, "the services: {services:?}");
    for m in services {
        let code = code(&mods[m]);
        assert!(
            !code.contains("axum")
                && !code.contains("StatusCode")
                && paths_after(&code, "crate::")
                    .iter()
                    .all(|p| !p.starts_with("http")),
            "{m} speaks HTTP: return a value or an ApiError and let the adapter answer"
        );
    }
    assert!(
        !code(&mods["app::state"]).contains("axum"),
        "the state holds no HTTP type"
    );
}

/// The native API's routes are adapters: each reads its request, calls an operation of the
/// application layer and answers its value. None reaches the store, the seat service or the
/// journal itself, nor the domain modules the operations are written with, so that no
/// operation is written twice (once for the API, once for the dashboard or a family).
#[test]
fn the_native_routes_call_the_operations() {
    let mods = modules();
    let routes: Vec<&String> = mods.keys().filter(|m| m.starts_with("api::")).collect();
    assert!(routes.len() >= 10, "the native API's modules: {routes:?}");
    for m in routes {
        let code = code(&mods[m]);
        for reach in [".store.", ".seats.", ".journal."] {
            assert!(
                !code.contains(reach),
                "{m} works on `{reach}` itself: move the flow into an operation of crate::app"
            );
        }
        let domain = paths_after(&code, "crate::").into_iter().find(|p| {
            [
                "activation",
                "licensing",
                "rules",
                "domains",
                "files",
                "stats",
            ]
            .iter()
            .any(|d| p == d || p.starts_with(&format!("{d}::")))
        });
        assert!(
            domain.is_none(),
            "{m} uses crate::{}: call the operation of crate::app that does",
            domain.unwrap_or_default()
        );
    }
}

/// Every family takes seats through the one activation (`app::seats`), which announces a new
/// machine and revokes what the seats it reaps still held: no other module calls the store's
/// seat operation itself.
#[test]
fn seats_are_taken_only_through_the_one_activation() {
    let mods = modules();
    let takers: Vec<&String> = mods
        .iter()
        .filter(|(_, src)| {
            let c = code(src);
            c.contains("take_seat_with(") || c.contains("take_seats_with(")
        })
        .map(|(m, _)| m)
        .collect();
    assert_eq!(
        takers,
        vec!["app::seats"],
        "only the seat service calls the store's seat operation"
    );
}

/// The dashboard's pages call the application layer's operations with the signed-in caller
/// and read typed answers: no request dispatched to the API router in-process, no second
/// router, no JSON tree read by key (`v["scope"]`).
#[test]
fn the_dashboard_calls_the_operations_and_reads_typed_answers() {
    let mods = modules();
    let pages: Vec<&String> = mods.keys().filter(|m| m.starts_with("dashboard")).collect();
    assert!(pages.len() >= 10, "the dashboard's modules: {pages:?}");
    for m in pages {
        let code = code(&mods[m]);
        assert!(
            !code.contains("oneshot") && !code.contains("routes::router"),
            "{m} dispatches requests to the API router: call the operation in crate::app"
        );
        assert!(
            paths_after(&code, "crate::")
                .iter()
                .all(|p| !p.starts_with("api")),
            "{m} reaches into the native API's handlers"
        );
        // `v["key"]`: an index right after a name or a call, not an array literal.
        let json_read = code.match_indices("[\"").any(|(i, _)| {
            code[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | ')' | ']'))
        });
        assert!(
            !json_read,
            "{m} reads an answer as a JSON tree: use its licet-api type"
        );
    }
    let root = code(&mods["app"]);
    let start = root
        .find("pub fn app(")
        .expect("the composition root's app()");
    let end = start + root[start..].find("\n}\n").expect("its end");
    assert_eq!(
        root[start..end].matches("routes::router(").count(),
        1,
        "the server's router is built once"
    );
}

/// Every `crate::…` path of a module names the module it comes from: none goes through the
/// names `lib.rs` gives the binaries and the tests (`crate::model`, `crate::AppState`, …),
/// which would hide an edge from the cycle check above and make `lib.rs` a hub.
#[test]
fn no_module_imports_through_the_crate_root() {
    let mods = modules();
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    let mut through_root = Vec::new();
    for (m, source) in &mods {
        if m.is_empty() {
            continue; // lib.rs (and main.rs, which uses the library by its name)
        }
        for p in paths_after(&code(source), "crate::") {
            // `crate::{a, b}` names modules, each a file.
            if !p.is_empty() && resolve(p, &names).is_none_or(|t| t.is_empty()) {
                through_root.push(format!("{m}: crate::{p}"));
            }
        }
    }
    assert!(
        through_root.is_empty(),
        "imports through lib.rs (name the module instead): {through_root:#?}"
    );
}
