//! PKIZ tokens: `PKIZ_` + padded URL-safe base64 of the zlib-compressed CMS **PEM text**
//! (`docs/reference-behaviour.md#pkiz`).

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use flate2::{Compression, Decompress, FlushDecompress, Status};
use std::io::Write;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;

/// keystoneclient's `PKIZ_PREFIX`.
pub const PKIZ_PREFIX: &str = "PKIZ_";

/// The zlib level keystone's PKIZ provider used (keystoneclient's default).
pub const DEFAULT_COMPRESSION_LEVEL: u32 = 6;

/// A PKIZ token for CMS PEM text, byte-identical to keystoneclient's `pkiz_sign` output.
///
/// Byte identity needs C zlib's deflate, which is why flate2 is built on its zlib backend.
pub fn compress(pem_text: &[u8], level: u32) -> Result<String> {
    if level > 9 {
        return Err(Error::InvalidArgument(format!(
            "compression level {level} is not in 0..=9"
        )));
    }
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(pem_text.len() / 2),
        Compression::new(level),
    );
    let compressed = encoder
        .write_all(pem_text)
        .and_then(|()| encoder.finish())
        .map_err(|e| Error::Signing(format!("zlib compression failed: {e}")))?;
    let mut token = String::with_capacity(PKIZ_PREFIX.len() + compressed.len() * 4 / 3 + 4);
    token.push_str(PKIZ_PREFIX);
    URL_SAFE.encode_string(compressed, &mut token);
    Ok(token)
}

/// The CMS PEM text inside a PKIZ token (keystoneclient's `pkiz_uncompress`), with bounded cost.
///
/// Stricter than the reference, which ignores the prefix's value, both base64 alphabets, stray
/// characters and bytes after the zlib stream: canonical tokens decode identically, anything else
/// is refused. Inflation stops as soon as the output passes `limits.max_inflated_len`.
pub fn uncompress(token: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    limits.check(LimitKind::TokenLength, token.len())?;
    let payload = token
        .strip_prefix(PKIZ_PREFIX.as_bytes())
        .ok_or_else(|| Error::malformed("PKIZ token does not start with PKIZ_"))?;
    let compressed = URL_SAFE
        .decode(payload)
        .map_err(|e| Error::malformed(format!("PKIZ payload is not valid base64: {e}")))?;
    inflate(&compressed, limits.max_inflated_len)
}

/// zlib-inflate `data` completely, refusing output over `limit` bytes and bytes after the stream.
fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let too_big = || Error::LimitExceeded {
        what: LimitKind::InflatedSize,
        limit,
    };
    let mut inflater = Decompress::new(true);
    let mut out = Vec::with_capacity(limit.min(data.len().saturating_mul(4)).max(256));
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(too_big());
            }
            // Grow geometrically, but never past one byte over the limit.
            let extra = out.capacity().max(256).min(limit + 1 - out.len());
            out.reserve_exact(extra);
        }
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let before = (inflater.total_in(), out.len());
        let status = inflater
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| Error::malformed(format!("PKIZ payload is not valid zlib data: {e}")))?;
        if status == Status::StreamEnd {
            break;
        }
        let stalled = before == (inflater.total_in(), out.len());
        if stalled && out.len() < out.capacity() {
            return Err(Error::malformed("PKIZ payload is truncated"));
        }
    }
    if out.len() > limit {
        return Err(too_big());
    }
    if usize::try_from(inflater.total_in()).ok() != Some(data.len()) {
        return Err(Error::malformed(
            "PKIZ payload has bytes after the zlib stream",
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = b"-----BEGIN CMS-----\nMIIB\n-----END CMS-----\n".repeat(50);
        let token = compress(&text, 6).unwrap();
        assert!(token.starts_with("PKIZ_eJ"), "level 6 zlib header 78 9c");
        assert_eq!(
            uncompress(token.as_bytes(), &Limits::default()).unwrap(),
            text
        );
        let empty = compress(b"", 6).unwrap();
        assert_eq!(
            uncompress(empty.as_bytes(), &Limits::default()).unwrap(),
            b""
        );
    }

    #[test]
    fn limit_just_over_and_at() {
        let text = vec![b'A'; 10_000];
        let token = compress(&text, 6).unwrap();
        let at = Limits {
            max_inflated_len: 10_000,
            ..Limits::default()
        };
        assert_eq!(uncompress(token.as_bytes(), &at).unwrap().len(), 10_000);
        let under = Limits {
            max_inflated_len: 9_999,
            ..Limits::default()
        };
        assert_eq!(
            uncompress(token.as_bytes(), &under),
            Err(Error::LimitExceeded {
                what: LimitKind::InflatedSize,
                limit: 9_999
            })
        );
    }

    #[test]
    fn bomb_is_refused_with_bounded_output() {
        let zeros = vec![0u8; 100 << 20];
        let token = compress(&zeros, 9).unwrap();
        assert!(token.len() < 200_000);
        assert!(matches!(
            uncompress(token.as_bytes(), &Limits::default()),
            Err(Error::LimitExceeded {
                what: LimitKind::InflatedSize,
                ..
            })
        ));
    }

    #[test]
    fn malformed_payloads() {
        let l = Limits::default();
        let good = compress(b"hello world", 6).unwrap();
        let raw = URL_SAFE.decode(&good[5..]).unwrap();
        let truncated = format!("PKIZ_{}", URL_SAFE.encode(&raw[..raw.len() - 3]));
        let mut trailing = raw.clone();
        trailing.push(0);
        let trailing = format!("PKIZ_{}", URL_SAFE.encode(&trailing));
        let unpadded = good.trim_end_matches('=').to_owned();
        for bad in [
            "PKIZ_".to_owned(),
            "PKIZ_AAAA".to_owned(),
            "pkiz_".to_owned() + &good[5..],
            truncated,
            trailing,
            "PKIZ_eJ*".to_owned(),
            format!("PKIZ_{}", "A".repeat(1083)),
        ] {
            assert!(
                matches!(uncompress(bad.as_bytes(), &l), Err(Error::Malformed(_))),
                "{bad}"
            );
        }
        if unpadded != good {
            assert!(uncompress(unpadded.as_bytes(), &l).is_err());
        }
    }
}
