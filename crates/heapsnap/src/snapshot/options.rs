//! `ParseOptions` in a module of their own: the parser takes them and hands them on to the
//! builder, which sits below the parser and stores what they ask for.

/// What to keep besides the per-node columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Keep the edge table (about 9 bytes per edge) for graph walks such as retainer paths;
    /// a plain id-based diff does not need it.
    pub keep_edges: bool,
    /// Without `keep_edges`: gather what DevTools' comparison rules read from the edges (a few
    /// bytes a node) instead of keeping any, for `Grouping::DevTools` diffs. Graph walks see no
    /// edges then; a file loaded through `load_file` turns the facts into DevTools' view and
    /// drops them.
    pub devtools_edges: bool,
}

impl ParseOptions {
    /// Whether the edges' offsets per node are needed.
    pub(crate) fn stores_edges(&self) -> bool {
        self.keep_edges || self.devtools_edges
    }
}
