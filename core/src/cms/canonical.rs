//! OpenSSL's text-mode canonicalisation of signed content (`SMIME_crlf_copy` without `-binary`,
//! `docs/reference-behaviour.md#text-canonicalisation`).
//!
//! keystoneclient signs without `-binary`, so OpenSSL rewrites line ends before hashing and
//! embedding the content. Reproducing it exactly is what makes our signatures byte-identical.

/// OpenSSL reads the input with `BIO_gets` into a 1024-byte buffer: at most 1023 bytes a chunk.
const CHUNK: usize = 1023;

/// How content is prepared before signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContentMode {
    /// What keystoneclient gets from `openssl cms -sign` (no `-binary`): line ends canonicalised
    /// to CRLF, trailing CRs of a chunk dropped, and, as `fgets` does, each line cut at a NUL byte.
    #[default]
    Text,
    /// Content signed exactly as given (`openssl cms -sign -binary`): the better choice for new
    /// deployments, since the verified bytes are then the bytes that were signed.
    Binary,
}

impl ContentMode {
    /// The bytes that will be hashed and embedded for `input`.
    pub fn apply(self, input: &[u8]) -> Vec<u8> {
        match self {
            ContentMode::Text => canonicalize_text(input),
            ContentMode::Binary => input.to_vec(),
        }
    }
}

/// The content `openssl cms -sign` (text mode) embeds for `input`.
///
/// Per chunk read by `BIO_gets` (through the first `\n`, at most 1023 bytes, and, because the
/// file BIO uses `fgets` and `strlen`, ending at the first NUL byte), trailing `\r` and `\n`
/// bytes are removed and `\r\n` is written if one of them was `\n`.
pub fn canonicalize_text(input: &[u8]) -> Vec<u8> {
    // Keystone's compact JSON has no line ends, CRs or NULs: then every chunk is copied verbatim.
    if memchr::memchr3(b'\n', b'\r', 0, input).is_none() {
        return input.to_vec();
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut rest = input;
    while !rest.is_empty() {
        let window = rest.get(..CHUNK.min(rest.len())).unwrap_or(rest);
        let read = window
            .iter()
            .position(|b| *b == b'\n')
            .map_or(window.len(), |i| i + 1);
        let (chunk, tail) = rest.split_at(read);
        rest = tail;
        // fgets copies the whole line, but BIO_gets reports strlen(): bytes after a NUL are lost.
        let visible = chunk
            .iter()
            .position(|b| *b == 0)
            .map_or(chunk, |nul| chunk.get(..nul).unwrap_or_default());
        let mut len = visible.len();
        let mut eol = false;
        while let Some(&last) = visible.get(len.wrapping_sub(1)) {
            match last {
                b'\n' => eol = true,
                b'\r' => {}
                _ => break,
            }
            len -= 1;
        }
        out.extend_from_slice(visible.get(..len).unwrap_or_default());
        if eol {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table() {
        for (input, expected) in [
            (&b"a\nb\n"[..], &b"a\r\nb\r\n"[..]),
            (b"a\r\nb\r\r\n", b"a\r\nb\r\n"),
            (b"a\rb\r", b"a\rb"),
            (b"a  \nb ", b"a  \r\nb "),
            (b"", b""),
            (b"\n\n", b"\r\n\r\n"),
            (b"\r", b""),
            (b"{\"a\": 1}", b"{\"a\": 1}"),
        ] {
            assert_eq!(canonicalize_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn chunk_boundary_and_nul() {
        let mut long = vec![b'x'; 1022];
        long.extend_from_slice(b"\r\n");
        let mut expected = vec![b'x'; 1022];
        expected.extend_from_slice(b"\r\n");
        assert_eq!(canonicalize_text(&long), expected);
        // A 2000-byte line is read as two chunks with no line end in between.
        assert_eq!(canonicalize_text(&[b'y'; 2000]), vec![b'y'; 2000]);
        assert_eq!(canonicalize_text(b"a\0b\nc"), b"ac");
    }

    #[test]
    fn binary_mode_is_identity() {
        assert_eq!(ContentMode::Binary.apply(b"a\nb\r"), b"a\nb\r");
    }
}
