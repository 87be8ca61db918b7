//! Snapshot files as they arrive: plain JSON or gzip-compressed.
//!
//! Snapshots copied off production hosts usually travel gzipped (V8's JSON shrinks five- to
//! tenfold), and unpacking a multi-GB file first costs that much disk and a second pass.
//! Inflating on the fly keeps the parser's promise (never the whole document at once) for
//! those too. The format is told by gzip's magic bytes, not by the file name, so a renamed file
//! works, and multi-member files (`cat a.gz b.gz`, `pigz` output) are read to their end.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom};

use flate2::read::MultiGzDecoder;

use super::error::ParseError;

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes handed to the inflater per read; the parser's own reads are of inflated data.
const COMPRESSED_PIECE: usize = 1 << 20;

/// Whether the file starts like gzip; leaves the file at its start either way.
pub(crate) fn is_gzip(file: &mut File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(got == magic.len() && magic == GZIP_MAGIC)
}

/// Counts what is taken from the file, so that progress and errors about damaged compression
/// speak of positions in the file the user has, not in data they never saw.
struct Counted<'a, R> {
    inner: R,
    taken: &'a Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.set(self.taken.get() + n as u64);
        Ok(n)
    }
}

/// The inflated content of a gzip file; `taken` follows the compressed bytes read so far.
pub(crate) fn inflated(file: File, taken: &Cell<u64>) -> impl Read + '_ {
    MultiGzDecoder::new(BufReader::with_capacity(
        COMPRESSED_PIECE,
        Counted { inner: file, taken },
    ))
}

/// Says what went wrong in the terms of a gzip file: the inflater's complaints become a
/// truncated or damaged file at a compressed offset, and problems the parser found in the
/// JSON are marked as positions in the inflated data.
pub(crate) fn gzip_error(e: ParseError, taken: u64) -> ParseError {
    match e {
        ParseError::Io { path, source } => match source.kind() {
            ErrorKind::UnexpectedEof => ParseError::Truncated {
                offset: taken,
                inside: "inside the gzip data".into(),
            },
            ErrorKind::InvalidInput | ErrorKind::InvalidData => ParseError::Corrupt {
                offset: Some(taken),
                detail: format!(
                    "the gzip data is damaged before byte {taken} of the file ({source})"
                ),
            },
            _ => ParseError::Io { path, source },
        },
        other if other.offset().is_some() => ParseError::Inflated(Box::new(other)),
        other => other,
    }
}
