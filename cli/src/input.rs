//! Reading inputs under the core's limits: every file, standard input and token argument is read
//! with a bound, so `/dev/zero` or a sparse 3 GB file costs at most its limit, and the refusal
//! names the input and the limit.
//!
//! | input | limit ([`Limits`]) | too long | unreadable |
//! |---|---|---|---|
//! | certificate, key, CA bundle, client certificate | `max_credential_len` | 3 | 3 |
//! | revocation list a token is checked against | `max_revocation_list_len` | 3 | 3 |
//! | token (argument, standard input, batch line) | `max_token_len` | 1 | 4 |
//! | body to sign | `max_content_len` | 1 | 4 |
//! | revocation entries to sign | `max_json_len` | 1 | 4 |
//! | signed revocation list to verify | `max_revocation_list_len` | 1 | 4 |

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use kstoken::token_text::{self, trim_token_str, DetectionRule, Encoding, TokenForm};
use kstoken::{LimitKind, Limits};

use crate::exit::Failure;
use crate::stdio;

/// Where an input comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file.
    File(&'a Path),
    /// Standard input.
    Stdin,
}

impl<'a> Source<'a> {
    /// The file at `path`, or standard input when `path` is `None` or `-`.
    pub fn file_or_stdin(path: Option<&'a Path>) -> Self {
        match path {
            Some(p) if p != Path::new("-") => Source::File(p),
            _ => Source::Stdin,
        }
    }

    fn open(self) -> Result<Box<dyn Read + Send>, io::Error> {
        match self {
            Source::File(path) => Ok(Box::new(std::fs::File::open(path)?)),
            Source::Stdin => match stdio::stdin() {
                Ok(stdin) => Ok(Box::new(stdin)),
                Err(failure) => Err(io::Error::other(failure.to_string())),
            },
        }
    }
}

impl fmt::Display for Source<'_> {
    /// The file's path, or `from standard input`, to follow what the input is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Stdin => f.write_str("from standard input"),
        }
    }
}

/// What an input is: which limit applies and which exit code its failures get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A certificate, key, CA bundle or client certificate: configuration (3) whatever fails.
    Credential,
    /// A signed revocation list that tokens are checked against: configuration (3).
    TrustedList,
    /// A token: too long is an invalid token (1), unreadable an I/O error (4).
    Token,
    /// A body to sign: too long is refused input (1), unreadable an I/O error (4).
    Body,
    /// JSON to sign: too long is refused input (1), unreadable 4.
    Json,
    /// A signed revocation list to verify: too long is refused input (1), unreadable 4.
    SignedList,
}

impl Kind {
    /// The core limit that bounds this input.
    pub fn limit_kind(self) -> LimitKind {
        match self {
            Kind::Credential => LimitKind::CredentialLength,
            Kind::Json => LimitKind::JsonSize,
            // keystone's lists outgrow a token: the list limit (64 MiB), as in the middleware.
            Kind::TrustedList | Kind::SignedList => LimitKind::RevocationListLength,
            Kind::Token => LimitKind::TokenLength,
            Kind::Body => LimitKind::ContentLength,
        }
    }

    /// The largest accepted input, in bytes.
    pub fn limit(self) -> usize {
        Limits::default().max(self.limit_kind())
    }

    fn is_configuration(self) -> bool {
        matches!(self, Kind::Credential | Kind::TrustedList)
    }

    /// The failure for an input over the limit.
    fn too_long(self, what: &str, source: &dyn fmt::Display) -> Failure {
        let message = format!(
            "{what} {source} exceeds the {} limit of {} bytes",
            self.limit_kind(),
            self.limit()
        );
        if self.is_configuration() {
            Failure::config(message)
        } else {
            Failure::invalid(message)
        }
    }

    /// The failure for an input that cannot be read.
    fn unreadable(self, what: &str, source: Source<'_>, err: &io::Error) -> Failure {
        let message = format!("cannot read {what} {source}: {err}");
        if self.is_configuration() {
            Failure::config(message)
        } else {
            Failure::io(message)
        }
    }
}

/// Reads `source` whole, at most the limit of `kind` plus one byte: more is refused, naming
/// `what` (`signing certificate`, `body`, ...) and the limit.
pub fn read(source: Source<'_>, what: &str, kind: Kind) -> Result<Vec<u8>, Failure> {
    let limit = kind.limit();
    let mut bytes = Vec::new();
    source
        .open()
        .and_then(|reader| {
            reader
                .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
                .read_to_end(&mut bytes)
        })
        .map_err(|e| kind.unreadable(what, source, &e))?;
    if bytes.len() > limit {
        return Err(kind.too_long(what, &source));
    }
    Ok(bytes)
}

/// Reads a configuration file (certificate, key, CA bundle, client certificate): exit 3 on failure.
pub fn read_credential(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    read(Source::File(path), what, Kind::Credential)
}

/// The token given as argument, or read from `file` (`--in`), or from standard input when both
/// are absent or the argument is `-`, as text without the surrounding whitespace (the core's rule);
/// over the token limit, not UTF-8 or empty is an invalid token (1). An argument that is no token
/// but names a file is refused with what to write instead (`< FILE`, `--in FILE`): exit 2.
pub fn token_text(arg: Option<&str>, file: Option<&Path>) -> Result<String, Failure> {
    let raw = match (arg, file) {
        (Some(t), _) if t != "-" => {
            if t.len() > Kind::Token.limit() {
                return Err(Kind::Token.too_long("token", &"given as argument"));
            }
            if let Some(failure) = file_given_as_token(t) {
                return Err(failure);
            }
            t.as_bytes().to_vec()
        }
        (_, Some(path)) => read(Source::File(path), "token", Kind::Token)?,
        _ => read(Source::Stdin, "token", Kind::Token)?,
    };
    let text = token_str(&raw)?;
    let token = trim_token_str(text);
    if token.is_empty() {
        return Err(Failure::invalid("no token given (empty input)"));
    }
    Ok(token.to_owned())
}

/// The usage error for a TOKEN argument that is the name of a file rather than a token: the text
/// is no token by the core's detection, and a file of that name exists.
fn file_given_as_token(arg: &str) -> Option<Failure> {
    let text = trim_token_str(arg);
    let not_a_token = token_text::encoding(text) == Encoding::Pki
        && token_text::detect_with(text, DetectionRule::Lenient) == TokenForm::Other;
    if !not_a_token || !Path::new(arg).is_file() {
        return None;
    }
    Some(Failure::usage(format!(
        "TOKEN {arg:?} is the name of a file, not a token: give its content with `< {arg}` or `--in {arg}`"
    )))
}

/// Token bytes as text: tokens are ASCII, so bytes that are not UTF-8 are an invalid token (1).
pub fn token_str(bytes: &[u8]) -> Result<&str, Failure> {
    std::str::from_utf8(bytes).map_err(|_| Failure::invalid("token is not UTF-8 text"))
}

/// One line of a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes, without the newline.
    Text(Vec<u8>),
    /// A line longer than the token limit; its bytes were read past, not kept.
    TooLong,
}

/// The lines of a batch file or standard input, each kept only up to the token limit, so memory
/// stays bounded whatever the size of the input or of one line.
pub struct Lines<'a> {
    source: Source<'a>,
    reader: BufReader<Box<dyn Read + Send>>,
    limit: usize,
    number: usize,
    consumed: u64,
}

impl<'a> Lines<'a> {
    /// Opens `source`; a file that cannot be opened is an I/O error (4).
    pub fn open(source: Source<'a>) -> Result<Self, Failure> {
        let reader = source
            .open()
            .map_err(|e| Kind::Token.unreadable("batch file", source, &e))?;
        Ok(Lines {
            source,
            reader: BufReader::with_capacity(64 * 1024, reader),
            limit: Kind::Token.limit(),
            number: 0,
            consumed: 0,
        })
    }

    /// How many bytes have been read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The next line and its number (from 1), `None` at the end; a read error is an I/O error (4).
    ///
    /// At most the limit plus one byte of a line is kept; the rest of a longer line is skipped.
    pub fn next_line(&mut self) -> Result<Option<(usize, Line)>, Failure> {
        let unreadable = |e: io::Error| Kind::Token.unreadable("batch file", self.source, &e);
        let mut line = Vec::new();
        let bound = u64::try_from(self.limit)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let read = (&mut self.reader)
            .take(bound)
            .read_until(b'\n', &mut line)
            .map_err(unreadable)?;
        if read == 0 {
            return Ok(None);
        }
        self.consumed += read as u64;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        self.number += 1;
        if line.len() > self.limit {
            let skipped = self.reader.skip_until(b'\n').map_err(unreadable)?;
            self.consumed += skipped as u64;
            return Ok(Some((self.number, Line::TooLong)));
        }
        Ok(Some((self.number, Line::Text(line))))
    }
}

/// The failure reported for a batch line over the token limit (an invalid token, 1).
pub fn line_too_long() -> Failure {
    Kind::Token.too_long("token", &"on this line")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(bytes: &'static [u8], limit: usize) -> Vec<(usize, Line)> {
        let mut lines = Lines {
            source: Source::Stdin,
            reader: BufReader::with_capacity(4, Box::new(bytes)),
            limit,
            number: 0,
            consumed: 0,
        };
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().unwrap_or(None) {
            out.push(line);
        }
        assert_eq!(lines.consumed(), bytes.len() as u64);
        out
    }

    #[test]
    fn lines_are_bounded_and_numbered() {
        let text = |s: &str| Line::Text(s.as_bytes().to_vec());
        assert_eq!(
            lines_of(b"abc\n\nabcdefgh\nabcde\r\nxy", 6),
            vec![
                (1, text("abc")),
                (2, text("")),
                (3, Line::TooLong),
                (4, text("abcde\r")),
                (5, text("xy")),
            ]
        );
        assert_eq!(lines_of(b"", 6), vec![]);
        assert_eq!(lines_of(b"abcdef\n", 6), vec![(1, text("abcdef"))]);
        assert_eq!(lines_of(b"abcdefg", 6), vec![(1, Line::TooLong)]);
    }
}
