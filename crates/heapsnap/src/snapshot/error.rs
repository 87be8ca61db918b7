use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a heap snapshot could not be read.
///
/// The variants separate "this is not a heap snapshot at all" (wrong file picked), "the snapshot
/// stops early" (writer crashed, disk full, copy interrupted) and "the snapshot contradicts
/// itself" (corruption or a format we do not understand), because a user fixes each differently.
#[derive(Debug)]
pub enum ParseError {
    /// Reading the input failed; `path` is set when the input was a named file.
    Io {
        /// The file, when there was one.
        path: Option<PathBuf>,
        /// What the system said.
        source: io::Error,
    },
    /// The input is JSON of another kind, or not JSON at all.
    NotASnapshot {
        /// Byte offset where this became clear.
        offset: u64,
        /// What was found, or that nothing was.
        detail: String,
    },
    /// The input ended before the snapshot was complete; `inside` names where it stopped.
    Truncated {
        /// Byte offset where the input ended.
        offset: u64,
        /// The part of the document the input ended in.
        inside: String,
    },
    /// The input is a heap snapshot whose content is malformed or inconsistent.
    Corrupt {
        /// Byte offset of the problem, when it has one (some are found only after reading).
        offset: Option<u64>,
        /// What is wrong.
        detail: String,
    },
    /// A well-formed snapshot exceeding a limit of the compact tables (e.g. over 2^32 nodes).
    Unsupported {
        /// Which limit.
        detail: String,
    },
    /// A problem in the JSON of a gzip file: its offset counts inflated bytes, not file bytes.
    Inflated(Box<ParseError>),
}

impl ParseError {
    pub(crate) fn corrupt_at(offset: u64, detail: impl Into<String>) -> Self {
        ParseError::Corrupt {
            offset: Some(offset),
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt(detail: impl Into<String>) -> Self {
        ParseError::Corrupt {
            offset: None,
            detail: detail.into(),
        }
    }

    /// Attaches the file name to an I/O error raised while the path was not yet known.
    pub(crate) fn with_path(self, p: &std::path::Path) -> Self {
        match self {
            ParseError::Io { path: None, source } => ParseError::Io {
                path: Some(p.to_path_buf()),
                source,
            },
            other => other,
        }
    }

    /// Byte offset in the input where the problem was detected, when one is known.
    pub fn offset(&self) -> Option<u64> {
        match self {
            ParseError::NotASnapshot { offset, .. } | ParseError::Truncated { offset, .. } => {
                Some(*offset)
            }
            ParseError::Corrupt { offset, .. } => *offset,
            ParseError::Inflated(inner) => inner.offset(),
            ParseError::Io { .. } | ParseError::Unsupported { .. } => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Io {
                path: Some(p),
                source,
            } => write!(f, "cannot read heap snapshot {}: {source}", p.display()),
            ParseError::Io { path: None, source } => {
                write!(f, "cannot read heap snapshot: {source}")
            }
            ParseError::NotASnapshot { detail, .. } => {
                write!(f, "not a V8 heap snapshot: {detail}")
            }
            ParseError::Truncated { offset, inside } => write!(
                f,
                "truncated heap snapshot: input ended {inside} at byte {offset}"
            ),
            ParseError::Corrupt { detail, .. } => write!(f, "corrupt heap snapshot: {detail}"),
            ParseError::Unsupported { detail } => {
                write!(f, "unsupported heap snapshot: {detail}")
            }
            ParseError::Inflated(inner) => write!(
                f,
                "{inner} (byte offsets count the gzip file's inflated data)"
            ),
        }
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ParseError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for ParseError {
    fn from(source: io::Error) -> Self {
        ParseError::Io { path: None, source }
    }
}

/// Renders one input byte for an error message, so that binary garbage stays readable.
pub(crate) fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02x}")
    }
}
