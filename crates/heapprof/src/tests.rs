use super::*;

fn frame(name: &str, url: &str, line: i64, column: i64) -> Frame {
    Frame {
        name: name.into(),
        url: url.into(),
        line,
        column,
    }
}

fn sample() -> HeapProfile {
    HeapProfile {
        frames: vec![
            frame("leak", "/app/a.js", 3, 17),
            frame("main", "/app/a.js", 10, 1),
            frame("", "/app/a.js", 1, 1),
        ],
        samples: vec![
            StackSample {
                stack: vec![0, 1, 2],
                objects: 16385,
                bytes: 524320,
            },
            StackSample {
                stack: vec![1, 2],
                objects: 1,
                bytes: 1048576,
            },
            StackSample {
                stack: vec![2],
                objects: 0,
                bytes: 0,
            },
        ],
        interval: 524288,
        time_nanos: 1_700_000_000_000_000_000,
    }
}

#[test]
fn round_trip_keeps_stacks_and_values() {
    let p = sample();
    let back = decode(&encode_gz(&p)).unwrap();
    assert_eq!(back.interval, 524288);
    assert_eq!(back.time_nanos, p.time_nanos);
    // The empty sample is left out; the others come back with the same frames in order.
    assert_eq!(back.samples.len(), 2);
    let stack = |s: &StackSample, prof: &HeapProfile| -> Vec<Frame> {
        s.stack.iter().map(|&i| prof.frames[i].clone()).collect()
    };
    assert_eq!(stack(&back.samples[0], &back), stack(&p.samples[0], &p));
    assert_eq!(back.samples[0].objects, 16385);
    assert_eq!(back.samples[0].bytes, 524320);
    assert_eq!(stack(&back.samples[1], &back), stack(&p.samples[1], &p));
}

#[test]
fn message_has_the_pprof_heap_shape() {
    let msg = to_proto(&sample());
    assert_eq!(msg.string_table[0], "");
    let types: Vec<&str> = msg
        .sample_type
        .iter()
        .map(|t| msg.string_table[t.r#type as usize].as_str())
        .collect();
    assert_eq!(types, ["inuse_objects", "inuse_space"]);
    // Functions are shared between frames of one function; locations are one per frame.
    assert_eq!(msg.function.len(), 3);
    assert_eq!(msg.location.len(), 3);
    assert_eq!(msg.period, 524288);
}

#[test]
fn plain_protobuf_is_read_too() {
    let raw = to_proto(&sample()).encode_to_vec();
    assert_eq!(decode(&raw).unwrap().samples.len(), 2);
}

#[test]
fn foreign_and_damaged_input_is_rejected() {
    assert!(matches!(
        decode(b"{\"head\":{}}"),
        Err(DecodeError::Protobuf(_))
    ));
    let gz = encode_gz(&sample());
    assert!(matches!(
        decode(&gz[..gz.len() / 2]),
        Err(DecodeError::Gzip(_))
    ));
    // A CPU profile: wrong sample types.
    let mut msg = to_proto(&sample());
    msg.string_table[1] = "samples".into();
    msg.string_table[3] = "cpu".into();
    let err = decode(&msg.encode_to_vec()).unwrap_err();
    assert!(matches!(err, DecodeError::NotHeap(_)), "{err}");
    let mut msg = to_proto(&sample());
    msg.sample[0].location_id.push(99);
    assert!(matches!(
        decode(&msg.encode_to_vec()),
        Err(DecodeError::Inconsistent(_))
    ));
}
