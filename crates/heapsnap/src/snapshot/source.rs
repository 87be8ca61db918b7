//! Snapshot files as they arrive: plain JSON or gzip-compressed.
//!
//! Snapshots copied off production hosts usually travel gzipped (V8's JSON shrinks five- to
//! tenfold), and unpacking a multi-GB file first costs that much disk and a second pass.
//! Inflating on the fly keeps the parser's promise (never the whole document at once) for
//! those too. The format is told by gzip's magic bytes, not by the file name, so a renamed file
//! works, and multi-member files (`cat a.gz b.gz`, `pigz` output) are read to their end.

use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::thread;

use flate2::read::MultiGzDecoder;

use super::error::ParseError;

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes handed to the inflater per read.
const COMPRESSED_PIECE: usize = 1 << 20;

/// Inflated bytes per hand-over between the two threads.
const INFLATED_PIECE: usize = 2 << 20;

/// Whether the file starts like gzip; leaves the file at its start either way.
pub(crate) fn is_gzip(file: &mut File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let got = fill(file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(got == magic.len() && magic == GZIP_MAGIC)
}

/// Counts what is taken from the file, so that progress and errors about damaged compression
/// speak of positions in the file the user has, not in data they never saw.
struct Counted<'a, R> {
    inner: R,
    taken: &'a AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Runs `body` over the inflated content of a gzip file, inflating on a second thread: inflating
/// costs about as much as parsing, so the two overlap instead of adding up. `taken` follows the
/// compressed bytes read so far.
pub(crate) fn with_inflated<T>(
    file: File,
    taken: &AtomicU64,
    body: impl FnOnce(&mut dyn Read) -> T,
) -> T {
    // Two pieces in flight keep both threads busy; spent buffers come back for reuse.
    let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(2);
    let (spent_tx, spent_rx) = channel::<Vec<u8>>();
    thread::scope(|s| {
        let inflate = move || {
            let mut inflater = MultiGzDecoder::new(BufReader::with_capacity(
                COMPRESSED_PIECE,
                Counted { inner: file, taken },
            ));
            loop {
                let mut buf = spent_rx.try_recv().unwrap_or_default();
                buf.resize(INFLATED_PIECE, 0);
                let piece = match fill(&mut inflater, &mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) => Err(e),
                };
                let last = piece.is_err();
                // A closed channel means the reader is done, by success or by error.
                if full_tx.send(piece).is_err() || last {
                    return;
                }
            }
        };
        let (inflater, pending) = match thread::Builder::new()
            .name("heapdiff-inflate".into())
            .spawn_scoped(s, inflate)
        {
            Ok(handle) => (Some(handle), None),
            Err(e) => (None, Some(e)),
        };
        let mut reader = Handed {
            full: full_rx,
            spent: spent_tx,
            cur: Vec::new(),
            pos: 0,
            pending,
        };
        let result = body(&mut reader);
        // Dropping the reader closes the channel: an inflater still running stops. Joining it
        // waits until the thread is gone, its thread-local state freed, where the scope alone
        // waits only for its closure to return (LeakSanitizer saw glibc's record of a
        // thread-local destructor of a thread still exiting as a leak).
        drop(reader);
        if let Some(Err(panic)) = inflater.map(|h| h.join()) {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// Reads as much as fits in `buf`, so that each hand-over carries a full piece.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The parser's side of the hand-over: inflated pieces in order, then the inflater's error or
/// the end.
struct Handed {
    full: Receiver<io::Result<Vec<u8>>>,
    spent: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    /// The inflater thread could not start.
    pending: Option<io::Error>,
}

impl Read for Handed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.pos == self.cur.len() {
            let spent = std::mem::take(&mut self.cur);
            let _ = self.spent.send(spent);
            self.pos = 0;
            match self.full.recv() {
                Ok(Ok(piece)) => self.cur = piece,
                Ok(Err(e)) => return Err(e),
                // The inflater finished: it only hangs up after the last piece.
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Says what went wrong in the terms of a gzip file: the inflater's complaints become a
/// truncated or damaged file at a compressed offset, and problems the parser found in the
/// JSON are marked as positions in the inflated data.
///
/// Gzip's checksum comes last, so damaged compression can first surface as damaged JSON: the
/// `rest` of the stream is read to tell which it was. (A file that is not a snapshot at all is
/// not read on: its first bytes already said so.)
pub(crate) fn gzip_failure(e: ParseError, rest: &mut dyn Read, taken: &AtomicU64) -> ParseError {
    let e = match e {
        ParseError::Corrupt { .. } | ParseError::Truncated { .. } => {
            match io::copy(rest, &mut io::sink()) {
                Err(damage) => ParseError::from(damage),
                Ok(_) => e,
            }
        }
        other => other,
    };
    let taken = taken.load(Ordering::Relaxed);
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
