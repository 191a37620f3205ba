//! Signed revocation lists: keystone's `GET /v3/auth/tokens/OS-PKI/revoked` body, built, signed,
//! verified, and checked in O(1) per hash or audit id (`docs/reference-behaviour.md#revocation-lists`).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, LimitKind, Result};
use crate::json::{self, parse_json};
use crate::limits::Limits;
use crate::signer::Signer;
use crate::timestamp::{parse_timestamp, unix_time};
use crate::verifier::Verifier;

/// One revoked token as keystone lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RevokedEntry {
    /// The token's id hash (or a UUID token itself); absent in `?audit_id_only` lists.
    #[serde(default)]
    pub id: Option<String>,
    /// When the token expires (`YYYY-MM-DDTHH:MM:SSZ`); informational, the middleware ignores it.
    #[serde(default)]
    pub expires: Option<String>,
    /// The token's first audit id (keystone ≥ Liberty).
    #[serde(default)]
    pub audit_id: Option<String>,
}

/// A verified revocation list, indexed by token hash and by audit id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    entries: Vec<RevokedEntry>,
    ids: HashSet<String>,
    audit_ids: HashSet<String>,
}

impl RevocationList {
    /// A list from its JSON text `{"revoked": [...]}`, which must look exactly like keystone's.
    ///
    /// The document must be an object whose only member is the `revoked` array; each entry an
    /// object with a string `id` and/or a string `audit_id`, and optionally `expires` (a string,
    /// or null: the middleware ignores it), and no other member. `{"revoked": []}` is empty.
    ///
    /// keystonemiddleware reads a document without `revoked` as an empty list. Here it is an
    /// error, because every document keystone signs verifies like a list: an attacker who can
    /// replace the list response (keystone over plain HTTP) could send any user's PKI token
    /// instead, whose content is a token body, and clear every revocation. A list that cannot be
    /// read, or is not a list, must never read as "nothing revoked".
    pub fn from_json(content: &[u8], limits: &Limits) -> Result<Self> {
        let value = parse_json(content, limits)?;
        Self::from_entries(entries_of(&value)?)
    }

    /// A list from entries.
    pub fn from_entries(entries: Vec<RevokedEntry>) -> Result<Self> {
        if let Some(i) = entries
            .iter()
            .position(|e| e.id.is_none() && e.audit_id.is_none())
        {
            return Err(Error::malformed(format!(
                "revocation list entry {i} has neither id nor audit_id"
            )));
        }
        let ids = entries.iter().filter_map(|e| e.id.clone()).collect();
        let audit_ids = entries.iter().filter_map(|e| e.audit_id.clone()).collect();
        Ok(RevocationList {
            entries,
            ids,
            audit_ids,
        })
    }

    /// A list from keystone's signed response (`{"signed": "<CMS PEM>"}`) or the CMS PEM itself,
    /// verified with `verifier` at `at` exactly as a token is; the verified content must then be a
    /// revocation list as [`RevocationList::from_json`] requires, not any other signed document.
    /// The clock is checked first, as every entry point does ([`crate::timestamp::unix_time`]),
    /// then the body's length against the verifier's [`Limits::max_revocation_list_len`], which
    /// also bounds the PEM, the DER and the JSON inside ([`Limits::for_revocation_list`]): a list
    /// is far larger than a token, and refusing it would leave every token unverifiable.
    pub fn from_signed(body: &[u8], verifier: &Verifier, at: i64) -> Result<Self> {
        unix_time(at)?;
        let limits = verifier.limits().for_revocation_list();
        limits.check(LimitKind::RevocationListLength, body.len())?;
        let content = if body.trim_ascii_start().starts_with(b"{") {
            let value = parse_json(body, &limits)?;
            let pem = value
                .get("signed")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| Error::malformed("Revocation list improperly formatted."))?;
            verifier.verify_at_within(pem.as_bytes(), at, &limits)?
        } else {
            verifier.verify_at_within(body, at, &limits)?
        };
        Self::from_json(&content, &limits)
    }

    /// The list to enforce when `self` arrives after `previous`: keystone removes an entry only
    /// when its token expires, so a revocation once seen holds until its `expires`, whatever list
    /// comes later.
    ///
    /// Every entry of `previous` that `self` lacks (one of its `id` or `audit_id` is not listed)
    /// and whose `expires` is after `now` (Unix seconds) is carried over: `self` is then older
    /// than what was seen before (a replayed list, a keystone restored from a backup, a replica
    /// behind), or keystone lost the entry, and either way the token is still revoked. An entry
    /// without a readable `expires` (keystone always writes one) is not carried: it holds while it
    /// is listed. Entries of `self` are kept as they are, expired or not.
    pub fn merge(self, previous: &RevocationList, now: i64) -> Merged {
        let carried: Vec<RevokedEntry> = previous
            .entries
            .iter()
            .filter(|e| {
                let listed = e.id.as_deref().is_none_or(|h| self.contains_hash(h))
                    && e.audit_id
                        .as_deref()
                        .is_none_or(|a| self.contains_audit_id(a));
                !listed && entry_expires(e).is_some_and(|t| t > now)
            })
            .cloned()
            .collect();
        if carried.is_empty() {
            return Merged {
                list: self,
                carried,
            };
        }
        let mut entries = self.entries;
        entries.extend(carried.iter().cloned());
        let mut ids = self.ids;
        let mut audit_ids = self.audit_ids;
        for e in &carried {
            ids.extend(e.id.clone());
            audit_ids.extend(e.audit_id.clone());
        }
        Merged {
            list: RevocationList {
                entries,
                ids,
                audit_ids,
            },
            carried,
        }
    }

    /// Whether any of the token's hashes or audit ids is listed.
    pub fn is_revoked(&self, hashes: &[String], audit_ids: &[String]) -> bool {
        hashes.iter().any(|h| self.contains_hash(h))
            || audit_ids.iter().any(|a| self.contains_audit_id(a))
    }

    /// Whether this token hash (or UUID token) is listed; exact, case-sensitive, as upstream.
    pub fn contains_hash(&self, hash: &str) -> bool {
        self.ids.contains(hash)
    }

    /// Whether this audit id is listed.
    pub fn contains_audit_id(&self, audit_id: &str) -> bool {
        self.audit_ids.contains(audit_id)
    }

    /// The entries, in list order.
    pub fn entries(&self) -> &[RevokedEntry] {
        &self.entries
    }

    /// How many entries the list has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The result of [`RevocationList::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The list to enforce: the newer list's entries, then the carried ones.
    pub list: RevocationList,
    /// The entries of the previous list the newer one lacks, still in force (empty when the newer
    /// list has everything: the usual case).
    pub carried: Vec<RevokedEntry>,
}

/// When an entry's token expires (Unix seconds), if its `expires` is readable.
fn entry_expires(entry: &RevokedEntry) -> Option<i64> {
    let text = entry.expires.as_deref()?;
    parse_timestamp(text).ok().map(|t| t.unix_timestamp())
}

/// The entries of a revocation list document, refusing anything keystone would not have written.
fn entries_of(document: &Value) -> Result<Vec<RevokedEntry>> {
    let bad = |what: String| Error::malformed(format!("not a revocation list: {what}"));
    let Some(members) = document.as_object() else {
        return Err(bad("the document is not a JSON object".into()));
    };
    if let Some(other) = members.keys().find(|k| *k != "revoked") {
        return Err(bad(format!("unexpected member {other:?}")));
    }
    let Some(revoked) = members.get("revoked") else {
        return Err(bad("no \"revoked\" member".into()));
    };
    let Some(items) = revoked.as_array() else {
        return Err(bad("\"revoked\" is not an array".into()));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Some(fields) = item.as_object() else {
                return Err(bad(format!("entry {i} is not an object")));
            };
            if let Some(other) = fields.keys().find(|k| !ENTRY_KEYS.contains(&k.as_str())) {
                return Err(bad(format!("entry {i} has an unexpected member {other:?}")));
            }
            let text = |key: &str, null_allowed: bool| match fields.get(key) {
                None => Ok(None),
                Some(Value::Null) if null_allowed => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("entry {i}: {key:?} is not a string"))),
            };
            Ok(RevokedEntry {
                id: text("id", false)?,
                expires: text("expires", true)?,
                audit_id: text("audit_id", false)?,
            })
        })
        .collect()
}

/// The members of a revocation list entry keystone writes.
const ENTRY_KEYS: [&str; 3] = ["id", "expires", "audit_id"];

/// The list's JSON text exactly as keystone serialised it (`jsonutils.dumps`: `", "` and `": "`
/// separators, ASCII-only, entry keys in the order of keystone's responses).
pub fn to_json(entries: &[RevokedEntry]) -> String {
    let mut out = String::from("{\"revoked\": [");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('{');
        let fields = [
            ("expires", &entry.expires),
            ("id", &entry.id),
            ("audit_id", &entry.audit_id),
        ];
        let mut first = true;
        for (key, value) in fields {
            if let Some(value) = value {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                json::write_str(key, &mut out);
                out.push_str(": ");
                json::write_str(value, &mut out);
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// Keystone's signed revocation-list response body: `{"signed": "<CMS PEM of to_json(entries)>"}`.
pub fn sign(signer: &Signer, entries: &[RevokedEntry]) -> Result<String> {
    let pem = signer.sign_pem(to_json(entries).as_bytes())?;
    let mut out = String::from("{\"signed\": ");
    json::write_str(&pem, &mut out);
    out.push('}');
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn entry(id: Option<&str>, expires: Option<&str>, audit_id: Option<&str>) -> RevokedEntry {
        RevokedEntry {
            id: id.map(str::to_owned),
            expires: expires.map(str::to_owned),
            audit_id: audit_id.map(str::to_owned),
        }
    }

    #[test]
    fn json_matches_keystone_samples() {
        assert_eq!(
            to_json(&[entry(
                Some("88b24f9299944e5f8d81403cc32cc92e"),
                Some("2014-12-02T17:00:09Z"),
                None
            )]),
            r#"{"revoked": [{"expires": "2014-12-02T17:00:09Z", "id": "88b24f9299944e5f8d81403cc32cc92e"}]}"#
        );
        assert_eq!(to_json(&[]), r#"{"revoked": []}"#);
        let mut s = String::new();
        json::write_str("a\"\\\n\u{7f}\u{e9}\u{1F600}", &mut s);
        assert_eq!(s, r#""a\"\\\n\u007f\u00e9\ud83d\ude00""#);
    }

    #[test]
    fn lookups_and_round_trip() {
        let entries = vec![
            entry(Some("abc"), Some("2030-01-01T00:00:00Z"), Some("AUD1")),
            entry(Some("def"), None, None),
        ];
        let list =
            RevocationList::from_json(to_json(&entries).as_bytes(), &Limits::default()).unwrap();
        assert_eq!(list.entries(), &entries[..]);
        assert!(list.contains_hash("abc") && list.contains_hash("def"));
        assert!(!list.contains_hash("ABC"));
        assert!(list.contains_audit_id("AUD1") && !list.contains_audit_id("abc"));
        assert!(list.is_revoked(&["x".into(), "def".into()], &[]));
        assert!(list.is_revoked(&[], &["AUD1".into()]));
        assert!(!list.is_revoked(&["x".into()], &["y".into()]));
    }

    #[test]
    fn a_revocation_holds_until_its_token_expires_whatever_list_comes_later() {
        // 2030-01-01T00:00:00Z
        let now = 1_893_456_000;
        let previous = RevocationList::from_entries(vec![
            entry(Some("held"), Some("2030-01-01T00:00:01Z"), Some("AUD-held")),
            entry(Some("expired"), Some("2029-12-31T23:59:59.999999Z"), None),
            entry(Some("at-now"), Some("2030-01-01T00:00:00Z"), None),
            entry(Some("no-expiry"), None, None),
            entry(Some("bad-expiry"), Some("soon"), None),
            entry(Some("still-listed"), Some("2031-01-01T00:00:00Z"), None),
            entry(None, Some("2031-01-01T00:00:00Z"), Some("AUD-only")),
            entry(Some("half"), Some("2031-01-01T00:00:00Z"), Some("AUD-half")),
        ])
        .unwrap();
        // An older list: it lacks most of what was seen; it has "half" by hash but not its audit id.
        let older = RevocationList::from_entries(vec![
            entry(Some("still-listed"), Some("2031-01-01T00:00:00Z"), None),
            entry(Some("half"), Some("2031-01-01T00:00:00Z"), None),
            entry(Some("new"), None, None),
        ])
        .unwrap();
        let merged = older.merge(&previous, now);
        let carried: Vec<_> = merged
            .carried
            .iter()
            .map(|e| e.id.clone().or(e.audit_id.clone()).unwrap())
            .collect();
        assert_eq!(carried, ["held", "AUD-only", "half"]);
        let list = merged.list;
        assert_eq!(list.len(), 6);
        for hash in ["held", "still-listed", "half", "new"] {
            assert!(list.contains_hash(hash), "{hash}");
        }
        for gone in ["expired", "at-now", "no-expiry", "bad-expiry"] {
            assert!(!list.contains_hash(gone), "{gone}");
        }
        assert!(list.contains_audit_id("AUD-held") && list.contains_audit_id("AUD-only"));
        assert!(list.contains_audit_id("AUD-half"));
        // A list with everything carries nothing and stays as it is.
        let same = previous.clone().merge(&previous, now);
        assert!(same.carried.is_empty());
        assert_eq!(same.list, previous);
        // Nothing is carried once the tokens have expired.
        let later = RevocationList::default().merge(&previous, 1_924_992_000);
        assert!(later.carried.is_empty() && later.list.is_empty());
    }

    #[test]
    fn empty_and_malformed_lists() {
        let l = Limits::default();
        for empty in [&b"{\"revoked\": []}"[..], b" {\"revoked\":[]}\n"] {
            assert!(RevocationList::from_json(empty, &l).unwrap().is_empty());
        }
        let list = RevocationList::from_json(
            br#"{"revoked": [{"audit_id": "A", "expires": null}, {"id": "h"}]}"#,
            &l,
        )
        .unwrap();
        assert!(list.contains_audit_id("A") && list.contains_hash("h"));
        for bad in [
            &b""[..],
            b"[]",
            b"{}",
            b"{\"revoked\": null}",
            b"{\"revoked\": {}}",
            b"{\"revoked\": [{}]}",
            b"{\"revoked\": [{\"id\": 5}]}",
            b"{\"revoked\": [{\"id\": null, \"audit_id\": \"A\"}]}",
            b"{\"revoked\": [{\"id\": \"h\", \"expires\": 5}]}",
            b"{\"revoked\": [{\"id\": \"h\", \"user\": \"u\"}]}",
            b"{\"revoked\": [\"abc\"]}",
            b"{\"revoked\": [], \"token\": {}}",
            br#"{"token": {"methods": ["password"], "expires_at": "2030-01-01T00:00:00Z"}}"#,
            br#"{"access": {"token": {"id": "x"}}}"#,
            b"not json",
        ] {
            assert!(
                matches!(RevocationList::from_json(bad, &l), Err(Error::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
