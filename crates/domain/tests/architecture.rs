//! Housekeeping as a test: the dependency rules of ARCHITECTURE.md, read from
//! `cargo metadata`. The domain stays pure; adapters depend on the domain, not
//! on each other; nothing depends on a binary crate.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Package name → its normal (non-dev, non-build) dependencies, from the resolved graph.
fn normal_dependencies() -> (HashMap<String, Vec<String>>, HashMap<String, String>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let names: HashMap<String, String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut graph = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap().to_owned())
            .collect();
        graph.insert(node["id"].as_str().unwrap().to_owned(), deps);
    }
    (graph, names)
}

/// Every package `name` depends on, directly or not (normal dependencies only).
fn closure(name: &str) -> BTreeSet<String> {
    let (graph, names) = normal_dependencies();
    let start = names
        .iter()
        .find(|(_, n)| n.as_str() == name)
        .map(|(id, _)| id.clone())
        .expect("package is in the workspace");
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in graph.get(&id).into_iter().flatten() {
            if seen.insert(names[dep].clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_domain_depends_on_no_runtime_database_or_http_crate() {
    // The graph walk does find such crates where they are used.
    assert!(closure("api").contains("tokio"));
    let deps = closure("domain");
    for forbidden in [
        "tokio",
        "sqlx",
        "reqwest",
        "axum",
        "hyper",
        "mio",
        "storage",
        "ghl-adapter",
    ] {
        assert!(
            !deps.contains(forbidden),
            "domain depends on {forbidden}: {deps:?}"
        );
    }
}

#[test]
fn adapters_depend_on_the_domain_and_not_on_each_other() {
    let storage = closure("storage");
    let adapter = closure("ghl-adapter");
    assert!(storage.contains("domain") && adapter.contains("domain"));
    assert!(!storage.contains("ghl-adapter") && !storage.contains("reqwest"));
    assert!(!adapter.contains("storage") && !adapter.contains("sqlx"));
    for binary in ["api", "worker"] {
        assert!(!storage.contains(binary) && !adapter.contains(binary));
    }
}
