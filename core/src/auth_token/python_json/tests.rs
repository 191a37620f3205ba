//! Tests of `python_json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::json::write_str;

fn d(raw: &str) -> String {
    dumps(raw).unwrap()
}

#[test]
fn containers_use_python_separators() {
    assert_eq!(
        d(r#"{"a":1,"b":[1,2,{}],"c":[]}"#),
        r#"{"a": 1, "b": [1, 2, {}], "c": []}"#
    );
    assert_eq!(d(" [ true , false , null ] "), "[true, false, null]");
}

#[test]
fn strings_are_ascii_escaped_like_python() {
    // Expected values from CPython 3.11 json.dumps(json.loads(x)).
    assert_eq!(d(r#""a\/b""#), r#""a/b""#);
    assert_eq!(d("\"é\""), r#""\u00e9""#);
    assert_eq!(d(r#""\u00E9""#), r#""\u00e9""#);
    assert_eq!(d("\"😀\""), r#""\ud83d\ude00""#);
    assert_eq!(d(r#""\uD83D\uDE00""#), r#""\ud83d\ude00""#);
    assert_eq!(d(r#""\ud800""#), r#""\ud800""#);
    assert_eq!(d(r#""\u0041\u007f\u001f""#), r#""A\u007f\u001f""#);
    assert_eq!(d(r#""\b\f\n\r\t\"\\""#), r#""\b\f\n\r\t\"\\""#);
    let mut s = String::new();
    write_str("x\u{1}\"", &mut s);
    assert_eq!(s, r#""x\u0001\"""#);
}

#[test]
fn numbers_follow_python() {
    assert_eq!(
        d("[0,-0,12,-12,123456789012345678901234567890]"),
        "[0, 0, 12, -12, 123456789012345678901234567890]"
    );
    assert_eq!(d("[1.0,1e2,1E2,-0.0,0.5,1.5e300,1e16,1e15,1e-4,1e-5,123.456,2.5e-7]"),
        "[1.0, 100.0, 100.0, -0.0, 0.5, 1.5e+300, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 123.456, 2.5e-07]");
    assert_eq!(d("[1e400,-1e400]"), "[Infinity, -Infinity]");
    assert_eq!(d("0.1"), "0.1");
    assert_eq!(d("1234567890123456789.0"), "1.2345678901234568e+18");
}

#[test]
fn repeated_keys_keep_first_position_last_value() {
    assert_eq!(d(r#"{"a":1,"b":2,"a":3}"#), r#"{"a": 3, "b": 2}"#);
    // A repeat spelled with an escape is the same key to Python.
    assert_eq!(
        d(r#"{"a":1,"b":{"x":[]},"\u0061":3}"#),
        r#"{"a": 3, "b": {"x": []}}"#
    );
    assert_eq!(
        d(r#"[{"a":1},{"a":2,"a":{"a":4}}]"#),
        r#"[{"a": 1}, {"a": {"a": 4}}]"#
    );
    let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
    let text = format!("{{{},\"k5\":\"x\"}}", many.join(","));
    let out = d(&text);
    assert!(out.starts_with(r#"{"k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": "x", "k6": 6"#));
    assert!(out.ends_with(r#""k99": 99}"#));
}

#[test]
fn malformed_is_an_error() {
    for raw in [
        "", "{", "[1,]", "{\"a\"}", "\"abc", "tru", "[1] x", "\"\\x\"", "1-2", "-",
    ] {
        assert!(dumps(raw).is_err(), "{raw}");
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(dumps(&deep).is_err());
}

#[test]
fn trees() {
    let t = parse_tree(r#" {"a": [1, "x\u0041", null], "b": {}, "a": true, "c\u0064": 2.50} "#)
        .unwrap();
    assert_eq!(t.get("a"), Some(&Node::Scalar("true")));
    assert_eq!(t.get("cd"), Some(&Node::Scalar("2.50")));
    assert!(t.get("b").is_some() && t.get("z").is_none());
    let mut out = String::new();
    t.write(&mut out).unwrap();
    assert_eq!(out, r#"{"a": true, "b": {}, "cd": 2.5}"#);
    let arr = parse_tree(r#"["p\u0041", "q", null]"#).unwrap();
    let Node::Array(items) = &arr else { panic!() };
    assert_eq!(items[0].text().as_deref(), Some("pA"));
    assert_eq!(items[1].text().as_deref(), Some("q"));
    assert!(items[2].is_null() && items[2].text().is_none());
    for bad in ["[1,", "{\"a\" 1}", "\"\\x\"", "[1] 2", "{\"a\":}"] {
        assert!(parse_tree(bad).is_err(), "{bad}");
    }
}

#[test]
fn truthiness() {
    for (raw, want) in [
        ("true", true),
        ("false", false),
        ("null", false),
        ("0", false),
        ("0.0", false),
        ("-0", false),
        ("1", true),
        ("\"\"", false),
        ("\"x\"", true),
        ("[]", false),
        ("[ ]", false),
        ("[0]", true),
        ("{}", false),
        ("{\"a\":1}", true),
    ] {
        assert_eq!(truthy(raw), want, "{raw}");
    }
}

#[test]
fn decode_strings() {
    assert_eq!(decode_str(r#""Pub\u006cic""#).unwrap(), "Public");
    assert!(decode_str("1").is_err());
}
