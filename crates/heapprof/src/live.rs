//! Allocation sites from V8's live sampled heap profile (`HeapProfiler.getSamplingProfile`),
//! kept in native memory: the frames and call paths seen, interned across the reads of one
//! sampling session; a ring of compact per-read summaries (one entry per live sample); which
//! sites grew between two summaries; V8's scaling of samples into estimated objects and bytes.
//!
//! The profile itself comes from the inspector as a JS object that is garbage right after the
//! read; the caller converts it into a [`SampledProfile`] and everything that outlives the read
//! lives here, so none of it is on the JS heap that the leak rule and snapshots look at.

use std::collections::VecDeque;

// Hash maps and sets keyed by this process's own data (ids, frame names from its profile): no
// adversary to resist, so rustc's Fx hash instead of SipHash, which took about a third of a
// summary's time.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::Frame;

mod json;

/// `Runtime.CallFrame` of the inspector protocol: 0-based line and column, -1 when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallFrame {
    /// Empty for an anonymous function.
    pub function_name: String,
    /// The script's URL or path; empty for V8's own entries.
    pub url: String,
    /// 0-based line, -1 when unknown.
    pub line_number: i64,
    /// 0-based column, -1 when unknown.
    pub column_number: i64,
}

/// `HeapProfiler.SamplingHeapProfileNode`, its children by index into [`SampledProfile::nodes`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileNode {
    /// The function this node's allocations happened in.
    pub call_frame: CallFrame,
    /// Estimated bytes of the live objects allocated here (V8's scaled sum over its samples).
    pub self_size: f64,
    /// V8's node id, which samples name in [`ProfileSample::node_id`].
    pub id: u64,
    /// Callees, as indices into [`SampledProfile::nodes`].
    pub children: Vec<usize>,
}

/// `HeapProfiler.SamplingHeapProfileSample`: one sampled live object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileSample {
    /// Estimated bytes the sample stands for: its size times its scaled count.
    pub size: f64,
    /// The [`ProfileNode::id`] of the node (call path) that allocated it.
    pub node_id: u64,
    /// Unique and increasing in allocation order: tells one sampled object from another.
    pub ordinal: f64,
}

/// `HeapProfiler.SamplingHeapProfile` as a flat tree: `nodes[0]` is the head (V8's root).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SampledProfile {
    /// The call tree, parents before children.
    pub nodes: Vec<ProfileNode>,
    /// The sampled objects still alive when the profile was read.
    pub samples: Vec<ProfileSample>,
}

/// The inspector's JSON of a profile (`{ head, samples }`, as `JSON.stringify` writes the object
/// `HeapProfiler.getSamplingProfile` returns, or a `.heapprofile` file), flattened.
///
/// Handed over as JSON rather than walked through Node-API: measured on profiles of 160–730
/// nodes and 110–1,200 samples (Node 20 and 26), `JSON.stringify` plus this parse and the
/// summary cost 0.23–2.2 ms against 0.46–4.1 ms when the object was read property by property,
/// cheaper in 11 of 12 runs. The tree nests two levels per frame, up to the sampling depth (1,024
/// frames at most), past serde_json's default depth limit, so it is read without that limit and
/// with `serde_stacker` growing the stack on demand (see `json.rs`; the test
/// `deep_profiles_parse_on_a_small_stack` checks 1,100 frames on 256 KiB). A malformed profile is
/// an error naming the problem and its line and column.
pub fn parse_json(text: &str) -> Result<SampledProfile, String> {
    json::profile(text)
}

/// A call frame as reported: 1-based line and column, 0 when unknown.
pub(crate) fn frame_of(cf: &CallFrame) -> Frame {
    Frame {
        name: cf.function_name.clone(),
        url: cf.url.clone(),
        line: if cf.line_number >= 0 {
            cf.line_number + 1
        } else {
            0
        },
        column: if cf.column_number >= 0 {
            cf.column_number + 1
        } else {
            0
        },
    }
}

/// `'name (url:line:column)'`, as Node prints stack frames; V8's own entries by name alone.
pub(crate) fn format_frame(f: &Frame) -> String {
    let name = if f.name.is_empty() {
        "(anonymous)"
    } else {
        &f.name
    };
    if f.url.is_empty() {
        name.to_owned()
    } else {
        format!("{name} ({}:{}:{})", f.url, f.line, f.column)
    }
}

/// How many objects a sample of `size` bytes stands for when one is taken every `interval` bytes
/// on average: sampling is a Poisson process over allocated bytes, so an object of that size is
/// sampled with probability 1 − e^(−size/interval). Computed as V8's `ScaleSample` does.
pub(crate) fn sample_scale(size: f64, interval: f64) -> f64 {
    1.0 / (1.0 - (-size / interval).exp())
}

/// V8's estimated object count for `count` samples of one size (`ScaleSample`: rounded).
pub(crate) fn scaled_count(size: f64, interval: f64, count: f64) -> f64 {
    (count * sample_scale(size, interval) + 0.5).floor()
}

/// Largest integer a double holds exactly (JS's `Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// Object sizes behind sample values, remembered per `(value, interval)`: the same values come
/// back in every read of a profile.
#[derive(Debug, Default)]
pub(crate) struct SizeCandidates {
    known: HashMap<(u64, u64), Vec<u64>>,
}

/// Entries kept before the cache starts over.
const MAX_CANDIDATE_ENTRIES: usize = 4096;

impl SizeCandidates {
    /// Every object size `s` that V8's scaling maps to an inspector sample's `size` (which is
    /// already `s × scaled_count(s)`): multiples of 8 (V8's object alignment) where any fits,
    /// else multiples of 4, else all; smallest first. Often more than one: at 512 KiB, 32 and 40
    /// bytes both give 524320, so a single sample's count is ambiguous (`node_counts` resolves
    /// it with the node's `selfSize` where it can).
    pub fn get(&mut self, scaled: f64, interval: f64) -> &[u64] {
        if !(scaled > 0.0 && scaled <= MAX_SAFE && scaled.fract() == 0.0) {
            return &[];
        }
        let key = (scaled as u64, interval.to_bits());
        if !self.known.contains_key(&key) {
            if self.known.len() > MAX_CANDIDATE_ENTRIES {
                self.known.clear();
            }
            self.known.insert(key, candidates(scaled as u64, interval));
        }
        &self.known[&key]
    }

    /// The first candidate: the smallest aligned size; `None` where none fits.
    pub fn raw_size(&mut self, scaled: f64, interval: f64) -> Option<u64> {
        self.get(scaled, interval).first().copied()
    }

    /// Estimated objects an inspector sample stands for (at least one), without other evidence.
    pub fn sample_count(&mut self, scaled: f64, interval: f64) -> f64 {
        match self.raw_size(scaled, interval) {
            Some(s) => scaled / s as f64,
            None => (scaled / interval).round().max(1.0),
        }
    }

    /// Bytes held (the map's table and its lists), for the status figure.
    pub fn heap_bytes(&self) -> usize {
        self.known.capacity() * (std::mem::size_of::<((u64, u64), Vec<u64>)>() + 1)
            + self.known.values().map(|v| v.capacity() * 8).sum::<usize>()
    }
}

fn candidates(scaled: u64, interval: f64) -> Vec<u64> {
    let lower = (scaled as f64 - interval).max(1.0);
    let mut found: Vec<u64> = Vec::new();
    let mut d: u64 = 1;
    while d * d <= scaled {
        if scaled.is_multiple_of(d) {
            for s in [d, scaled / d] {
                if s as f64 >= lower
                    && (s as f64) * scaled_count(s as f64, interval, 1.0) == scaled as f64
                    && !found.contains(&s)
                {
                    found.push(s);
                }
            }
        }
        d += 1;
    }
    found.sort_unstable();
    // V8 aligns heap objects to 8 bytes (4 with pointer compression, which Node's builds leave
    // off); sizes off that grid are only taken where nothing on it fits.
    for k in [8, 4] {
        let on: Vec<u64> = found
            .iter()
            .copied()
            .filter(|v| v.is_multiple_of(k))
            .collect();
        if !on.is_empty() {
            return on;
        }
    }
    found
}

/// Estimated objects per sample of each node, by node id and sample value. V8 scales a node's
/// samples of one size together (`selfSize` = Σ size × round(n × scale)) but each sample alone,
/// so the node's `selfSize` tells apart the sizes a value could stand for: the combination of
/// candidates that reproduces it is taken (where none or too many do, each value's first).
pub(crate) fn node_counts(
    profile: &SampledProfile,
    samples: &[ProfileSample],
    interval: f64,
    cands: &mut SizeCandidates,
) -> HashMap<u64, Vec<(f64, f64)>> {
    let self_size: HashMap<u64, f64> = profile.nodes.iter().map(|n| (n.id, n.self_size)).collect();
    // Per node, its values in order of first appearance and how often each appears.
    let mut groups: Vec<(u64, Vec<(f64, u64)>)> = Vec::new();
    let mut slot: HashMap<u64, usize> = HashMap::default();
    for s in samples {
        let k = *slot.entry(s.node_id).or_insert_with(|| {
            groups.push((s.node_id, Vec::new()));
            groups.len() - 1
        });
        let values = &mut groups[k].1;
        match values.iter_mut().find(|(v, _)| *v == s.size) {
            Some((_, n)) => *n += 1,
            None => values.push((s.size, 1)),
        }
    }
    let size_total =
        |size: u64, n: u64| size as f64 * scaled_count(size as f64, interval, n as f64);
    let mut out = HashMap::with_capacity_and_hasher(groups.len(), Default::default());
    for (id, values) in groups {
        let cs: Vec<Vec<u64>> = values
            .iter()
            .map(|&(v, _)| cands.get(v, interval).to_vec())
            .collect();
        // A value seen once adds itself to selfSize whichever size it stands for; only values
        // seen more than once, with several candidates, need trying.
        let open: Vec<usize> = (0..values.len())
            .filter(|&j| values[j].1 > 1 && cs[j].len() > 1)
            .collect();
        let fixed: f64 = (0..values.len())
            .filter(|j| !open.contains(j))
            .map(|j| {
                let (v, n) = values[j];
                match cs[j].first() {
                    Some(&s) => size_total(s, n),
                    None => v * n as f64,
                }
            })
            .sum();
        let combos = open
            .iter()
            .fold(1usize, |a, &j| a.saturating_mul(cs[j].len()));
        let mut pick = vec![0usize; values.len()];
        if let Some(&target) = self_size.get(&id) {
            if !open.is_empty() && combos <= 256 {
                for k in 0..combos {
                    let mut rest = k;
                    let mut total = fixed;
                    for &j in &open {
                        pick[j] = rest % cs[j].len();
                        rest /= cs[j].len();
                        total += size_total(cs[j][pick[j]], values[j].1);
                    }
                    if total == target {
                        break;
                    }
                    if k == combos - 1 {
                        pick.fill(0);
                    }
                }
            }
        }
        let counts = values
            .iter()
            .enumerate()
            .map(|(j, &(v, n))| {
                let per = match cs[j].get(pick[j]) {
                    // Per sample, V8's count for all of them (rounded once) shared out.
                    Some(&size) => scaled_count(size as f64, interval, n as f64) / n as f64,
                    None => (v / interval).round().max(1.0),
                };
                (v, per)
            })
            .collect();
        out.insert(id, counts);
    }
    out
}

fn count_of(counts: &HashMap<u64, Vec<(f64, f64)>>, node: u64, value: f64) -> Option<f64> {
    counts
        .get(&node)?
        .iter()
        .find(|(v, _)| *v == value)
        .map(|&(_, c)| c)
}

/// One row per node of a profile that holds live objects: its stack (frame indices into the
/// returned frames, allocating frame first), V8's estimated bytes (`selfSize`) and, where the
/// interval is known, estimated objects. The profile form of `heapdiff profile` and of pprof.
pub fn profile_rows(profile: &SampledProfile, interval: Option<f64>) -> crate::HeapProfile {
    let mut counts: HashMap<u64, f64> = HashMap::default();
    if let Some(interval) = interval {
        let per_node = node_counts(
            profile,
            &profile.samples,
            interval,
            &mut SizeCandidates::default(),
        );
        for s in &profile.samples {
            *counts.entry(s.node_id).or_insert(0.0) +=
                count_of(&per_node, s.node_id, s.size).unwrap_or(1.0);
        }
    }
    let mut out = crate::HeapProfile::default();
    let mut ids: HashMap<Frame, usize> = HashMap::default();
    let Some(head) = profile.nodes.first() else {
        return out;
    };
    // The same walk as DevTools' profile readers: a stack, so rows come last child first.
    let mut stack: Vec<(usize, std::rc::Rc<Vec<usize>>)> = head
        .children
        .iter()
        .map(|&c| (c, std::rc::Rc::new(Vec::new())))
        .collect();
    while let Some((k, outer)) = stack.pop() {
        let node = &profile.nodes[k];
        let f = frame_of(&node.call_frame);
        let id = *ids.entry(f.clone()).or_insert_with(|| {
            out.frames.push(f);
            out.frames.len() - 1
        });
        let mut frames = Vec::with_capacity(outer.len() + 1);
        frames.push(id);
        frames.extend_from_slice(&outer);
        let frames = std::rc::Rc::new(frames);
        if node.self_size > 0.0 {
            out.samples.push(crate::StackSample {
                stack: frames.to_vec(),
                objects: counts.get(&node.id).copied().unwrap_or(0.0).round() as i64,
                bytes: node.self_size.round() as i64,
            });
        }
        for &c in &node.children {
            stack.push((c, frames.clone()));
        }
    }
    if let Some(i) = interval {
        out.interval = i as i64;
    }
    out
}

/// No path: the root's own entry, or a path through an excluded script.
const NO_PATH: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct FrameEntry {
    name: u32,
    url: u32,
    line: i64,
    column: i64,
    excluded: bool,
}

#[derive(Debug, Clone, Copy)]
struct PathEntry {
    frame: u32,
    /// The calling path, `NO_PATH` from the root.
    parent: u32,
    /// The allocating function: the innermost frame of the path that belongs to a script.
    site: u32,
    /// Whether `site` has a url (else it is `frame`, for a path of V8's own entries only).
    scripted: bool,
}

/// Frames, call paths and sites, interned across the summaries of one sampling session so that a
/// summary is one small record per sample. A site is the allocating function: the innermost
/// frame of a path that belongs to a script (builtins such as `Array` or `JSON.parse` are not
/// where code can be fixed), or the innermost frame where none does (`'(V8 API)'`).
#[derive(Debug, Default)]
pub(crate) struct SiteTable {
    strings: Vec<Box<str>>,
    string_ids: HashMap<Box<str>, u32>,
    frames: Vec<FrameEntry>,
    frame_ids: HashMap<(u32, u32, i64, i64), u32>,
    paths: Vec<PathEntry>,
    path_ids: HashMap<(u32, u32), u32>,
    /// Scripts whose allocations are left out (heapdiff's own).
    exclude: HashSet<String>,
}

impl SiteTable {
    /// `exclude`: script urls whose allocations (and what they call) are left out.
    pub fn new(exclude: impl IntoIterator<Item = String>) -> Self {
        SiteTable {
            exclude: exclude.into_iter().collect(),
            ..SiteTable::default()
        }
    }

    /// Paths interned so far.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.string_ids.insert(s.into(), id);
        id
    }

    /// The frame id of a call frame.
    pub fn frame(&mut self, cf: &CallFrame) -> u32 {
        let name = self.string(&cf.function_name);
        let url = self.string(&cf.url);
        let key = (name, url, cf.line_number, cf.column_number);
        if let Some(&id) = self.frame_ids.get(&key) {
            return id;
        }
        let id = self.frames.len() as u32;
        self.frames.push(FrameEntry {
            name,
            url,
            line: if cf.line_number >= 0 {
                cf.line_number + 1
            } else {
                0
            },
            column: if cf.column_number >= 0 {
                cf.column_number + 1
            } else {
                0
            },
            excluded: !cf.url.is_empty() && self.exclude.contains(&cf.url),
        });
        self.frame_ids.insert(key, id);
        id
    }

    /// The path id of `frame` called from path `parent` (`None`: from the root).
    pub fn path(&mut self, parent: Option<u32>, frame: u32) -> u32 {
        let parent = parent.unwrap_or(NO_PATH);
        if let Some(&id) = self.path_ids.get(&(parent, frame)) {
            return id;
        }
        let outer = (parent != NO_PATH).then(|| self.paths[parent as usize]);
        let (site, scripted) = if !self.url_of(frame).is_empty() {
            (frame, true)
        } else {
            match outer {
                Some(p) if p.scripted => (p.site, true),
                _ => (frame, false),
            }
        };
        let id = self.paths.len() as u32;
        self.paths.push(PathEntry {
            frame,
            parent,
            site,
            scripted,
        });
        self.path_ids.insert((parent, frame), id);
        id
    }

    fn url_of(&self, frame: u32) -> &str {
        &self.strings[self.frames[frame as usize].url as usize]
    }

    /// Whether allocations under this frame are left out.
    pub fn excluded(&self, frame: u32) -> bool {
        self.frames[frame as usize].excluded
    }

    /// The frame as reported (1-based line and column).
    pub fn frame_at(&self, frame: u32) -> Frame {
        let f = &self.frames[frame as usize];
        Frame {
            name: self.strings[f.name as usize].to_string(),
            url: self.strings[f.url as usize].to_string(),
            line: f.line,
            column: f.column,
        }
    }

    /// The site (a frame id) of a path.
    pub fn site(&self, path: u32) -> u32 {
        self.paths[path as usize].site
    }

    /// A path's frames, allocating first, callers after it.
    pub fn frames_of(&self, path: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut p = path;
        while p != NO_PATH {
            let e = self.paths[p as usize];
            out.push(e.frame);
            p = e.parent;
        }
        out
    }

    /// Bytes held by the table's own allocations (strings, entries, hash tables).
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.strings.iter().map(|s| 2 * s.len()).sum();
        strings
            + self.strings.capacity() * std::mem::size_of::<Box<str>>()
            + self.string_ids.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
            + self.frames.capacity() * std::mem::size_of::<FrameEntry>()
            + self.frame_ids.capacity() * (std::mem::size_of::<((u32, u32, i64, i64), u32)>() + 1)
            + self.paths.capacity() * std::mem::size_of::<PathEntry>()
            + self.path_ids.capacity() * (std::mem::size_of::<((u32, u32), u32)>() + 1)
            + self.exclude.iter().map(|s| s.capacity()).sum::<usize>()
            + self.exclude.capacity() * (std::mem::size_of::<String>() + 1)
    }
}

/// One live sample in a summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LiveSample {
    pub ordinal: f64,
    /// Estimated bytes.
    pub bytes: f64,
    /// Estimated objects.
    pub count: f64,
    /// Path id in the table.
    pub path: u32,
}

/// What was live where at one moment: one entry per live sample.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Summary {
    /// When (ms since the epoch): the full GC it follows.
    pub time: f64,
    pub samples: Vec<LiveSample>,
}

/// The live samples of `profile`, each with its path in `table`. Paths through an excluded
/// script are left out, and so is the root's own entry.
pub(crate) fn summarize(
    profile: &SampledProfile,
    table: &mut SiteTable,
    cands: &mut SizeCandidates,
    interval: f64,
    time: f64,
) -> Summary {
    let mut path_of: HashMap<u64, u32> =
        HashMap::with_capacity_and_hasher(profile.nodes.len(), Default::default());
    if let Some(head) = profile.nodes.first() {
        let mut stack: Vec<(usize, Option<u32>, bool)> =
            head.children.iter().map(|&c| (c, None, false)).collect();
        while let Some((k, parent, cut)) = stack.pop() {
            let node = &profile.nodes[k];
            let frame = table.frame(&node.call_frame);
            let cut = cut || table.excluded(frame);
            let path = if cut {
                NO_PATH
            } else {
                table.path(parent, frame)
            };
            path_of.insert(node.id, path);
            for &c in &node.children {
                stack.push((c, Some(path), cut));
            }
        }
    }
    let path = |s: &ProfileSample| path_of.get(&s.node_id).copied().unwrap_or(NO_PATH);
    let kept: Vec<ProfileSample> = profile
        .samples
        .iter()
        .filter(|s| path(s) != NO_PATH)
        .copied()
        .collect();
    let per_node = node_counts(profile, &kept, interval, cands);
    let samples = kept
        .iter()
        .map(|s| LiveSample {
            ordinal: s.ordinal,
            bytes: s.size,
            count: count_of(&per_node, s.node_id, s.size)
                .unwrap_or_else(|| cands.sample_count(s.size, interval)),
            path: path(s),
        })
        .collect();
    Summary { time, samples }
}

/// P(X ≥ k) for X ~ Binomial(n, ½): how likely `k` or more of `n` sampled objects that came or
/// went over a window were the ones that came, if the site were level. Exact for n ≤ 1000 (log
/// space), normal approximation above.
pub(crate) fn sign_tail(k: u64, n: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let (kf, nf) = (k as f64, n as f64);
    if n > 1000 {
        let z = (kf - 0.5 - nf / 2.0) / (nf / 4.0).sqrt();
        return 0.5 * erfc(z / std::f64::consts::SQRT_2);
    }
    let mut log_c = 0.0; // log C(n, i), from i = 0 up
    let mut sum = 0.0;
    let log_half_n = nf * 0.5f64.ln();
    for i in 0..=n {
        if i > 0 {
            log_c += ((nf - i as f64 + 1.0) / i as f64).ln();
        }
        if i >= k {
            sum += (log_c + log_half_n).exp();
        }
    }
    sum.min(1.0)
}

/// Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// An allocation site in a `leak` event: the allocating function and what grew there.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationSite {
    /// Function name (`'(anonymous)'` for an anonymous one).
    pub name: String,
    /// Script URL or path; empty for V8's own entries such as `'(V8 API)'`.
    pub url: String,
    /// 1-based line of the function; 0 when unknown.
    pub line: i64,
    /// 1-based column of the function; 0 when unknown.
    pub column: i64,
    /// `'name (url:line:column)'`, the allocating frame first, callers after it.
    pub stack: Vec<String>,
    /// Estimated live bytes allocated here that were added over the window.
    pub growth_bytes: f64,
    /// Estimated live bytes allocated here at the window's end.
    pub live_bytes: f64,
    /// Estimated live objects allocated here at the window's end.
    pub live_count: f64,
}

/// Which sites `grown_sites` lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowthOptions {
    /// Sites listed at most.
    pub max: usize,
    /// How unlikely the site's excess of new over gone samples must be if it were level: a full
    /// cache replacing entries, or garbage not yet collected, gains and loses sampled objects at
    /// random, and is not growth.
    pub significance: f64,
}

impl Default for GrowthOptions {
    fn default() -> Self {
        GrowthOptions {
            max: 10,
            significance: 0.001,
        }
    }
}

#[derive(Default)]
struct Acc {
    born: u64,
    died: u64,
    growth: f64,
    live: f64,
    count: f64,
    /// Growth per path, in order of first appearance.
    paths: Vec<(u32, f64)>,
}

/// The sites whose live sampled bytes grew from `start` to `end`, largest growth first. A site's
/// growth is the bytes of samples alive at `end` that were not at `start` minus those alive at
/// `start` that are gone at `end`; it is listed only when that is positive and more new samples
/// than gone ones is not what turnover alone makes (a sign test on the sample counts).
pub(crate) fn grown_sites(
    start: &Summary,
    end: &Summary,
    table: &SiteTable,
    opts: GrowthOptions,
) -> Vec<AllocationSite> {
    let mut order: Vec<u32> = Vec::new();
    let mut acc: HashMap<u32, Acc> = HashMap::default();
    fn get<'a>(acc: &'a mut HashMap<u32, Acc>, order: &mut Vec<u32>, site: u32) -> &'a mut Acc {
        acc.entry(site).or_insert_with(|| {
            order.push(site);
            Acc::default()
        })
    }
    let before: HashSet<u64> = start.samples.iter().map(|s| s.ordinal.to_bits()).collect();
    let after: HashSet<u64> = end.samples.iter().map(|s| s.ordinal.to_bits()).collect();
    for s in &end.samples {
        let a = get(&mut acc, &mut order, table.site(s.path));
        a.live += s.bytes;
        a.count += s.count;
        if !before.contains(&s.ordinal.to_bits()) {
            a.born += 1;
            a.growth += s.bytes;
            match a.paths.iter_mut().find(|(p, _)| *p == s.path) {
                Some((_, b)) => *b += s.bytes,
                None => a.paths.push((s.path, s.bytes)),
            }
        }
    }
    for s in &start.samples {
        if after.contains(&s.ordinal.to_bits()) {
            continue;
        }
        let a = get(&mut acc, &mut order, table.site(s.path));
        a.died += 1;
        a.growth -= s.bytes;
    }
    let mut sites = Vec::new();
    for site in order {
        let a = &acc[&site];
        if a.growth <= 0.0 || sign_tail(a.born, a.born + a.died) > opts.significance {
            continue;
        }
        let mut top = (NO_PATH, -1.0);
        for &(p, b) in &a.paths {
            if b > top.1 {
                top = (p, b);
            }
        }
        let f = table.frame_at(site);
        sites.push(AllocationSite {
            name: if f.name.is_empty() {
                "(anonymous)".into()
            } else {
                f.name
            },
            url: f.url,
            line: f.line,
            column: f.column,
            stack: table
                .frames_of(top.0)
                .into_iter()
                .map(|id| format_frame(&table.frame_at(id)))
                .collect(),
            growth_bytes: a.growth.round(),
            live_bytes: a.live.round(),
            live_count: a.count.round(),
        });
    }
    // Stable: sites of equal growth keep their order of first appearance.
    sites.sort_by(|x, y| y.growth_bytes.total_cmp(&x.growth_bytes));
    sites.truncate(opts.max);
    sites
}

/// Beyond this many interned paths the tables restart (code generated without end).
pub(crate) const MAX_PATHS: usize = 200_000;

/// One sampling session's persistent state: the table, the ring of summaries that reaches back
/// over the leak rule's window, and the size-candidate cache.
#[derive(Debug)]
pub struct SiteRecorder {
    exclude: Vec<String>,
    table: SiteTable,
    cands: SizeCandidates,
    ring: VecDeque<Summary>,
    capacity: usize,
}

impl SiteRecorder {
    /// `exclude`: script urls whose allocations are left out; `capacity`: summaries kept.
    pub fn new(exclude: Vec<String>, capacity: usize) -> Self {
        SiteRecorder {
            table: SiteTable::new(exclude.iter().cloned()),
            exclude,
            cands: SizeCandidates::default(),
            ring: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Summarizes a read of the live profile taken after the full GC at `time`.
    pub fn observe(&mut self, profile: &SampledProfile, interval: f64, time: f64) {
        if self.table.len() > MAX_PATHS {
            self.table = SiteTable::new(self.exclude.iter().cloned());
            self.ring.clear();
        }
        let s = summarize(profile, &mut self.table, &mut self.cands, interval, time);
        self.ring.push_back(s);
        while self.ring.len() > self.capacity {
            self.ring.pop_front();
        }
    }

    /// The sites that grew between the summary nearest `start_ms` and the newest one.
    pub fn sites_for(&self, start_ms: f64, opts: GrowthOptions) -> Vec<AllocationSite> {
        let (Some(end), true) = (self.ring.back(), self.ring.len() >= 2) else {
            return Vec::new();
        };
        let mut start = &self.ring[0];
        for s in self.ring.iter().take(self.ring.len() - 1) {
            if (s.time - start_ms).abs() < (start.time - start_ms).abs() {
                start = s;
            }
        }
        grown_sites(start, end, &self.table, opts)
    }

    /// Keeps at most `capacity` summaries (the newest).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        while self.ring.len() > self.capacity {
            self.ring.pop_front();
        }
    }

    /// Forgets the summaries (the table stays: its ids are still valid).
    pub fn clear_ring(&mut self) {
        self.ring.clear();
    }

    /// Summaries held.
    pub fn summaries(&self) -> usize {
        self.ring.len()
    }

    /// Bytes held by the recorder's own allocations: what `status().sampling` reports.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.exclude.iter().map(|s| s.capacity()).sum::<usize>()
            + self.exclude.capacity() * std::mem::size_of::<String>()
            + self.table.heap_bytes()
            + self.cands.heap_bytes()
            + self.ring.capacity() * std::mem::size_of::<Summary>()
            + self
                .ring
                .iter()
                .map(|s| s.samples.capacity() * std::mem::size_of::<LiveSample>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests;
