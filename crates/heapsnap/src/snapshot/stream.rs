//! Parsing a document while its producer is still writing it: the producer (V8's serializer,
//! which must run on the JS thread) hands pieces to a second thread that parses them, so the
//! document never exists whole and the parse overlaps the writing.

use std::fmt;
use std::sync::mpsc::sync_channel;
use std::thread;

use super::error::ParseError;
use super::options::ParseOptions;
use super::parse::SnapshotParser;
use super::table::Snapshot;

/// Pieces in flight between the producer and the parser thread; with V8's 256 KiB chunks this
/// bounds the copies to a few MiB however large the heap is.
pub(crate) const PIECES_IN_FLIGHT: usize = 32;

/// Why a streamed parse produced no snapshot.
#[derive(Debug)]
pub enum StreamError<E> {
    /// The document was not a valid snapshot. Reported whenever the parser failed, also when
    /// the producer failed too: the parser's error explains an abort it caused.
    Parse(ParseError),
    /// The producer failed and the parser did not.
    Producer(E),
    /// The parser thread could not be started.
    Spawn(std::io::Error),
    /// The parser thread panicked.
    ParserPanicked,
}

impl<E: fmt::Debug> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Parse(e) => e.fmt(f),
            StreamError::Producer(e) => write!(f, "the snapshot's producer failed: {e:?}"),
            StreamError::Spawn(e) => write!(f, "cannot start the parser thread: {e}"),
            StreamError::ParserPanicked => f.write_str("the snapshot parser thread panicked"),
        }
    }
}

/// Runs `produce` on this thread with a sink for the document's pieces, parsing them on a
/// second thread as they come. The sink returns `false` once the parser has failed, so that
/// the producer can stop early.
pub fn parse_streamed<E>(
    opts: ParseOptions,
    produce: impl FnOnce(&mut dyn FnMut(&[u8]) -> bool) -> Result<(), E>,
) -> Result<Snapshot, StreamError<E>> {
    let (tx, rx) = sync_channel::<Vec<u8>>(PIECES_IN_FLIGHT);
    let parser = thread::Builder::new()
        .name("heapdiff-parse".into())
        .spawn(move || {
            let mut p = SnapshotParser::new(opts);
            for piece in rx {
                p.feed(&piece)?;
            }
            p.finish()
        })
        .map_err(StreamError::Spawn)?;
    let produced = produce(&mut |bytes: &[u8]| tx.send(bytes.to_vec()).is_ok());
    drop(tx);
    let parsed = parser.join().map_err(|_| StreamError::ParserPanicked)?;
    match (produced, parsed) {
        (Ok(()), Ok(snapshot)) => Ok(snapshot),
        (_, Err(e)) => Err(StreamError::Parse(e)),
        (Err(e), Ok(_)) => Err(StreamError::Producer(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#"{"snapshot":{"meta":{
        "node_fields":["type","name","id","self_size","edge_count","detachedness"],
        "node_types":[["hidden","array","string","object"]],
        "edge_fields":["type","name_or_index","to_node"],
        "edge_types":[["context","element","property"]]},"node_count":1,"edge_count":0},
      "nodes":[3,1,7,32,0,0],"edges":[],"strings":["","Leaky"]}"#;

    #[test]
    fn pieces_of_any_size_parse_to_the_same_snapshot() {
        for size in [1, 7, 64, DOC.len()] {
            let s = parse_streamed(ParseOptions::default(), |sink| {
                DOC.chunks(size)
                    .all(&mut *sink)
                    .then_some(())
                    .ok_or("aborted")
            })
            .unwrap();
            assert_eq!(
                (s.node_count(), s.node_name(0), s.node_id(0), s.self_size(0)),
                (1, "Leaky", 7, 32)
            );
        }
    }

    #[test]
    fn a_parse_error_stops_the_producer_and_is_the_one_reported() {
        let mut fed = 0usize;
        let garbage = vec![b'x'; 1 << 20];
        let r = parse_streamed(ParseOptions::default(), |sink| {
            // Far more pieces than fit in flight: the sink must refuse once the parser failed.
            for piece in garbage.chunks(16) {
                fed += 1;
                if !sink(piece) {
                    return Err("aborted");
                }
            }
            Ok(())
        });
        assert!(matches!(r, Err(StreamError::Parse(_))), "{r:?}");
        assert!(fed < garbage.len() / 16, "the producer ran to the end");
    }

    #[test]
    fn the_parser_error_wins_over_the_producer_error() {
        // The producer stopping half-way leaves the parser with a truncated document; its
        // error is reported, as for an abort the parser caused.
        let r = parse_streamed(ParseOptions::default(), |sink| {
            sink(&DOC[..DOC.len() / 2]);
            Err("gone")
        });
        match r {
            Err(StreamError::Parse(e)) => assert!(e.to_string().contains("truncated"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_producer_error_after_a_complete_document_is_reported() {
        let r = parse_streamed(ParseOptions::default(), |sink| {
            sink(DOC);
            Err("late")
        });
        assert!(matches!(r, Err(StreamError::Producer("late"))), "{r:?}");
    }
}
