//! `X-Service-Catalog`: always in the v2 catalog format, v3 catalogs converted the way
//! keystonemiddleware converts them, written with Python's `json.dumps` formatting; each distinct
//! catalog converted once (`docs/reference-behaviour.md#catalog-conversion`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::auth_token::python_json::{self, Node};
use crate::body::TokenVersion;
use crate::body::{Field, TokenView};
use crate::error::{Error, Result};
use crate::json;

fn shape(msg: &str) -> Error {
    Error::Malformed(format!("token body: {msg}"))
}

/// Converted catalogs by raw text. The tokens of a deployment share a handful of catalogs, so each
/// distinct catalog is converted once (bounded: past [`CatalogMemo::MAX`] entries it starts over).
#[derive(Debug, Default)]
pub struct CatalogMemo {
    converted: Mutex<HashMap<MemoEntry, Arc<str>>>,
}

/// A memo key: whether the catalog is a v3 one, and its raw text.
type MemoEntry = (bool, Box<str>);

impl CatalogMemo {
    /// Most distinct catalogs remembered.
    pub const MAX: usize = 256;

    /// [`service_catalog`], remembered.
    pub fn service_catalog(&self, view: &TokenView<'_>) -> Result<Option<Arc<str>>> {
        let Field::Value(raw) = &view.catalog else {
            return service_catalog(view).map(|c| c.map(Arc::from));
        };
        let key = (view.version == TokenVersion::V3, raw.get());
        let lock = || {
            self.converted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(hit) = lock().get(&key as &dyn MemoKey) {
            return Ok(Some(Arc::clone(hit)));
        }
        let converted: Arc<str> = match service_catalog(view)? {
            Some(c) => Arc::from(c),
            None => return Ok(None),
        };
        let mut map = lock();
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert((key.0, Box::from(key.1)), Arc::clone(&converted));
        Ok(Some(converted))
    }
}

/// Looks a `(bool, Box<str>)` key up by `(bool, &str)` without allocating.
trait MemoKey {
    fn parts(&self) -> (bool, &str);
}

impl MemoKey for (bool, Box<str>) {
    fn parts(&self) -> (bool, &str) {
        (self.0, &self.1)
    }
}

impl MemoKey for (bool, &str) {
    fn parts(&self) -> (bool, &str) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn MemoKey + 'a> for (bool, Box<str>) {
    fn borrow(&self) -> &(dyn MemoKey + 'a) {
        self
    }
}

impl PartialEq for dyn MemoKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn MemoKey + '_ {}

impl std::hash::Hash for dyn MemoKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

/// The `X-Service-Catalog` value: `None` when the body has no catalog (the header is then removed).
pub fn service_catalog(view: &TokenView<'_>) -> Result<Option<String>> {
    let raw = match (&view.catalog, view.version) {
        (Field::Absent, _) => return Ok(None),
        (Field::Null, TokenVersion::V2) => return Ok(Some("null".to_owned())),
        (Field::Null, TokenVersion::V3) => return Err(shape("token.catalog is null")),
        (Field::Value(raw), _) => *raw,
    };
    match view.version {
        TokenVersion::V2 => python_json::dumps(raw.get()).map(Some),
        TokenVersion::V3 => v3_catalog_to_v2(raw.get()).map(Some),
    }
}

/// One v2 endpoint entry being built: the region, and `(<interface>URL, url)` pairs.
type RegionUrls<'a> = (
    Option<std::borrow::Cow<'a, str>>,
    Vec<(String, &'a Node<'a>)>,
);

/// keystonemiddleware's `_v3_to_v2_catalog`, written as `json.dumps` writes its result.
fn v3_catalog_to_v2(raw: &str) -> Result<String> {
    let tree = python_json::parse_tree(raw)?;
    let Node::Array(services) = &tree else {
        return Err(shape("token.catalog is not a list"));
    };
    let mut out = String::with_capacity(raw.len());
    out.push('[');
    for (i, service) in services.iter().enumerate() {
        if !matches!(service, Node::Object(_)) {
            return Err(shape("a catalog service is not an object"));
        }
        if i > 0 {
            out.push_str(", ");
        }
        let kind = service
            .get("type")
            .ok_or_else(|| shape("a catalog service has no type"))?;
        out.push_str("{\"type\": ");
        kind.write(&mut out)?;
        if let Some(name) = service.get("name") {
            out.push_str(", \"name\": ");
            name.write(&mut out)?;
        }
        // Endpoints grouped by region in first-seen order; within a region, one `<interface>URL`
        // key per interface in first-seen order, the last URL winning.
        let endpoints = match service.get("endpoints") {
            None => &[][..],
            Some(Node::Array(list)) => list.as_slice(),
            Some(_) => return Err(shape("a catalog service's endpoints are not a list")),
        };
        let mut regions: Vec<RegionUrls<'_>> = Vec::new();
        for endpoint in endpoints {
            if !matches!(endpoint, Node::Object(_)) {
                return Err(shape("a catalog endpoint is not an object"));
            }
            let region = match endpoint.get("region") {
                None => None,
                Some(node) if node.is_null() => None,
                Some(node) => Some(
                    node.text()
                        .ok_or_else(|| shape("a catalog endpoint's region is not a string"))?,
                ),
            };
            let interface = endpoint
                .get("interface")
                .and_then(Node::text)
                .ok_or_else(|| shape("a catalog endpoint has no interface string"))?;
            let url = endpoint
                .get("url")
                .ok_or_else(|| shape("a catalog endpoint has no url"))?;
            let mut key = if interface.is_ascii() {
                interface.to_ascii_lowercase()
            } else {
                interface.to_lowercase()
            };
            key.push_str("URL");
            let slot = match regions.iter().position(|(r, _)| *r == region) {
                Some(i) => i,
                None => {
                    regions.push((region, Vec::new()));
                    regions.len() - 1
                }
            };
            if let Some((_, urls)) = regions.get_mut(slot) {
                match urls.iter_mut().find(|(k, _)| *k == key) {
                    Some(existing) => existing.1 = url,
                    None => urls.push((key, url)),
                }
            }
        }
        out.push_str(", \"endpoints\": [");
        for (j, (region, urls)) in regions.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            out.push('{');
            let mut first = true;
            if let Some(r) = region.as_deref().filter(|r| !r.is_empty()) {
                out.push_str("\"region\": ");
                json::write_str(r, &mut out);
                first = false;
            }
            for (key, url) in urls {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                json::write_str(key, &mut out);
                out.push_str(": ");
                url.write(&mut out)?;
            }
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn catalog(doc: &str) -> Result<Option<String>> {
        service_catalog(&TokenView::decode(doc.as_bytes(), &Limits::default())?)
    }

    #[test]
    fn v3_catalog_converted_like_keystonemiddleware() {
        let user = r#""user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}}"#;
        let doc = format!(
            r#"{{"token":{{{user},"catalog":[
              {{"type":"compute","name":"nova","id":"x","endpoints":[
                {{"interface":"public","region":"R1","url":"http://p1","id":"1"}},
                {{"interface":"Internal","region":"R1","url":"http://i1"}},
                {{"interface":"public","region":"R2","url":"http://p2"}},
                {{"interface":"admin","region":null,"url":"http://a"}},
                {{"interface":"public","region":"R1","url":"http://p1b"}}]}},
              {{"type":"identity","endpoints":[]}},
              {{"type":"image","name":null}}]}}}}"#
        );
        // CPython: json.dumps(_v3_to_v2_catalog(catalog)) for the same catalog.
        assert_eq!(
            catalog(&doc).unwrap().unwrap(),
            r#"[{"type": "compute", "name": "nova", "endpoints": [{"region": "R1", "publicURL": "http://p1b", "internalURL": "http://i1"}, {"region": "R2", "publicURL": "http://p2"}, {"adminURL": "http://a"}]}, {"type": "identity", "endpoints": []}, {"type": "image", "name": null, "endpoints": []}]"#
        );
        assert_eq!(
            catalog(&format!(r#"{{"token":{{{user}}}}}"#)).unwrap(),
            None
        );
        assert!(catalog(&format!(r#"{{"token":{{{user},"catalog":null}}}}"#)).is_err());
        assert!(catalog(&format!(
            r#"{{"token":{{{user},"catalog":[{{"name":"x"}}]}}}}"#
        ))
        .is_err());
    }

    #[test]
    fn catalogs_are_converted_once() {
        let memo = CatalogMemo::default();
        let user = r#""user":{"id":"u","name":"n","domain":{"id":"d","name":"D"}}"#;
        let doc = |c: &str| format!(r#"{{"token":{{{user},"catalog":{c}}}}}"#);
        let a = doc(r#"[{"type":"x","endpoints":[]}]"#);
        let view = TokenView::decode(a.as_bytes(), &Limits::default()).unwrap();
        let first = memo.service_catalog(&view).unwrap().unwrap();
        let again = memo.service_catalog(&view).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(&*first, r#"[{"type": "x", "endpoints": []}]"#);
        // The same text as a v2 catalog is another entry.
        let v2 = r#"{"access":{"token":{},"user":{"id":"u"},"serviceCatalog":[{"type":"x","endpoints":[]}]}}"#;
        let view2 = TokenView::decode(v2.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(
            &*memo.service_catalog(&view2).unwrap().unwrap(),
            r#"[{"type": "x", "endpoints": []}]"#
        );
        assert_eq!(memo.converted.lock().unwrap().len(), 2);
        for i in 0..CatalogMemo::MAX + 5 {
            let d = doc(&format!(r#"[{{"type":"t{i}"}}]"#));
            let v = TokenView::decode(d.as_bytes(), &Limits::default()).unwrap();
            memo.service_catalog(&v).unwrap();
        }
        assert!(memo.converted.lock().unwrap().len() <= CatalogMemo::MAX);
        let bad = doc("null");
        let v = TokenView::decode(bad.as_bytes(), &Limits::default()).unwrap();
        assert!(memo.service_catalog(&v).is_err());
    }

    #[test]
    fn v2_catalog_is_redumped() {
        let doc = r#"{"access":{"token":{},"user":{"id":"u"},"serviceCatalog":[{"endpoints":[{"publicURL":"http://x\/y","region":"R"}],"type":"compute","name":"n\u00e9"}]}}"#;
        assert_eq!(
            catalog(doc).unwrap().unwrap(),
            r#"[{"endpoints": [{"publicURL": "http://x/y", "region": "R"}], "type": "compute", "name": "n\u00e9"}]"#
        );
        let doc = r#"{"access":{"token":{},"user":{"id":"u"},"serviceCatalog":null}}"#;
        assert_eq!(catalog(doc).unwrap().as_deref(), Some("null"));
    }
}
