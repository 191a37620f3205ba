//! Benchmark fixtures shared by the criterion benches, the instruction counts and the Python
//! benchmark: a keystone-style PKI, realistic v3 token bodies of three sizes, and the strict floor.

pub mod floor;

use kstoken::pki_setup::{generate, GeneratedPki, PkiOptions};
use serde_json::{json, Value};

/// A v3 token body whose catalog has `services` services (three endpoints each).
pub fn v3_body(services: usize) -> Vec<u8> {
    let catalog: Vec<Value> = (0..services)
        .map(|i| {
            let endpoints: Vec<Value> = ["public", "internal", "admin"]
                .iter()
                .map(|iface| {
                    json!({
                        "id": format!("{i:04}{iface:0>28}"),
                        "interface": iface,
                        "region": "RegionOne",
                        "url": format!("https://{iface}.svc{i}.example.org:8774/v2.1"),
                    })
                })
                .collect();
            json!({"endpoints": endpoints, "id": format!("{i:032x}"), "name": format!("service{i}"), "type": format!("type{i}")})
        })
        .collect();
    let body = json!({"token": {
        "methods": ["password"],
        "user": {"domain": {"id": "default", "name": "Default"}, "id": "9a7e43d9e3e84d3f8e9c0a1b2c3d4e5f", "name": "admin", "password_expires_at": null},
        "audit_ids": ["3T2dc1CGQxyJsHdDu1xkcw"],
        "expires_at": "2099-01-01T00:00:00.000000Z",
        "issued_at": "2026-11-24T00:00:00.000000Z",
        "project": {"domain": {"id": "default", "name": "Default"}, "id": "3c1b6e1b8c6c4a2a9f5b1d2e3f4a5b6c", "name": "admin"},
        "is_domain": false,
        "roles": [{"id": "51cc68287d524c759f47c811e6463340", "name": "admin"}, {"id": "9fe2ff9ee4384b1894a90878d3e92bab", "name": "member"}],
        "catalog": catalog,
    }});
    // keystone ≥ Kilo serialised compactly (PKIEncoder separators).
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The three token sizes of the benchmarks: (name, catalog services).
pub const SIZES: [(&str, usize); 3] = [("small", 1), ("realistic", 12), ("large", 58)];

/// A fresh RSA-2048 PKI in keystone's layout.
pub fn pki() -> GeneratedPki {
    generate(&PkiOptions::default()).unwrap_or_else(|e| panic!("cannot generate a PKI: {e}"))
}
