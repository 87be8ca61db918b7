//! `ParseOptions::devtools_edges` keeps no edge, only DevTools' facts of them; its comparison
//! must come out exactly as it does from all edges. Here on the Chromium page pair (detached DOM trees,
//! backing stores, property-set names); `real_snapshots.rs` checks the same on a Node pair of
//! every supported runtime.

mod common;

use std::path::{Path, PathBuf};

use common::assert_same_devtools_rows;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../__test__/fixtures")
        .join(name)
}

#[test]
fn chromium_pair_gives_the_same_rows_from_devtools_edges_only() {
    assert_same_devtools_rows(
        &fixture("chromium-a.heapsnapshot.gz"),
        &fixture("chromium-b.heapsnapshot.gz"),
    );
}
