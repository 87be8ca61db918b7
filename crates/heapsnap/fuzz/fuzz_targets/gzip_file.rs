//! Gzip files (whole, cut or damaged) through `parse_file`, the way the CLI opens them: never a
//! panic, and a good gzip stream parses exactly as its inflated bytes do.
#![no_main]

use std::io::{Read, Write};

use heapsnap::{parse_file, parse_reader, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("heapsnap-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input.heapsnapshot.gz");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(data)
        .unwrap();
    let opts = ParseOptions {
        keep_edges: data.len() % 2 == 0,
        devtools_edges: data.len() % 3 == 0,
    };
    let from_file =
        parse_file(&path, opts, &mut |_, _| {}).map(|s| (s.node_count(), s.edge_count()));
    // Where the whole stream inflates cleanly, the file must read like the inflated document.
    let mut inflated = Vec::new();
    if data.starts_with(&[0x1f, 0x8b])
        && flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut inflated)
            .is_ok()
    {
        let plain = parse_reader(&inflated[..], opts, &mut |_| {})
            .map(|s| (s.node_count(), s.edge_count()));
        assert_eq!(
            from_file.is_ok(),
            plain.is_ok(),
            "{from_file:?} / {plain:?}"
        );
        if let (Ok(a), Ok(b)) = (&from_file, &plain) {
            assert_eq!(a, b);
        }
    }
});
