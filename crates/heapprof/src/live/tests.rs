//! On hand-built profiles whose answers are worked out here (by V8's formula written out with
//! `exp_m1`, by counting samples), not by the code under test.

use super::*;

const I: f64 = 524288.0;

/// V8's value for one sample of `size` bytes: size × round(1 / (1 − e^(−size/I))), by hand.
fn scaled(size: f64) -> f64 {
    size * (1.0 / -(-size / I).exp_m1() + 0.5).floor()
}

fn cf(name: &str, url: &str, line0: i64, col0: i64) -> CallFrame {
    CallFrame {
        function_name: name.into(),
        url: url.into(),
        line_number: line0,
        column_number: col0,
    }
}

/// Builds a profile tree: nodes get ids 1, 2, … in the order they are added.
#[derive(Default)]
struct Builder {
    p: SampledProfile,
}

impl Builder {
    fn node(&mut self, frame: CallFrame, self_size: f64, children: Vec<usize>) -> usize {
        let id = self.p.nodes.len() as u64 + 1;
        self.p.nodes.push(ProfileNode {
            call_frame: frame,
            self_size,
            id,
            children,
        });
        self.p.nodes.len() - 1
    }

    /// The head must be nodes[0]: moves node `k` there, renumbering children.
    fn finish(mut self, head: usize) -> SampledProfile {
        let n = self.p.nodes.len();
        let order: Vec<usize> = std::iter::once(head)
            .chain((0..n).filter(|&i| i != head))
            .collect();
        let mut at = vec![0; n];
        for (new, &old) in order.iter().enumerate() {
            at[old] = new;
        }
        let mut nodes: Vec<ProfileNode> = order.iter().map(|&k| self.p.nodes[k].clone()).collect();
        for node in &mut nodes {
            for c in &mut node.children {
                *c = at[*c];
            }
        }
        self.p.nodes = nodes;
        self.p
    }
}

#[test]
fn v8_scaling_a_32_byte_sample_at_512_kib_stands_for_16385_objects_a_1_mib_one_for_1() {
    // 1 / (1 − e^(−1/16384)) = 16384.5000051, rounded up: V8 adds 0.5 and truncates.
    assert_eq!(scaled_count(32.0, I, 1.0), 16385.0);
    assert_eq!(scaled_count(32.0, I, 2.0), 32769.0);
    // 1 / (1 − e^(−2)) = 1.1565 → 1
    assert_eq!(scaled_count(2.0 * I, I, 1.0), 1.0);
    assert_eq!(scaled(32.0), 524320.0);
}

#[test]
fn raw_size_recovers_the_object_size_behind_an_inspector_sample() {
    let mut c = SizeCandidates::default();
    for s in [
        16.0,
        24.0,
        48.0,
        64.0,
        120.0,
        272.0,
        1016.0,
        4096.0,
        65536.0,
        524288.0,
        3.0 * I,
    ] {
        let back = c
            .raw_size(scaled(s), I)
            .unwrap_or_else(|| panic!("size {s}")) as f64;
        // Where two sizes map to the same value the smaller aligned one is taken; both fit.
        assert_eq!(back * scaled_count(back, I, 1.0), scaled(s), "size {s}");
    }
    // 524320 = 32 × 16385 = 40 × 13108: ambiguous, the smaller multiple of 8 comes first.
    assert_eq!(c.get(524320.0, I)[0], 32);
    assert!(c.get(524320.0, I).contains(&40));
    assert_eq!(c.raw_size(524320.0, I), Some(32));
    assert_eq!(c.sample_count(524320.0, I), 16385.0);
    assert_eq!(c.sample_count(scaled(3.0 * I), I), 1.0);
    // A value no size at this interval produces (a profile taken at another interval).
    assert_eq!(c.raw_size(7.0, I), None);
    assert_eq!(c.sample_count(7.0, I), 1.0);
    // Not a whole number, or not positive: no candidates.
    assert!(c.get(1.5, I).is_empty() && c.get(0.0, I).is_empty() && c.get(-8.0, I).is_empty());
}

#[test]
fn candidate_cache_starts_over_past_its_bound() {
    let mut c = SizeCandidates::default();
    for s in 1..=5000u32 {
        c.get(scaled(8.0 * s as f64), I);
    }
    assert!(
        c.known.len() <= MAX_CANDIDATE_ENTRIES + 1,
        "{}",
        c.known.len()
    );
    assert_eq!(c.raw_size(524320.0, I), Some(32));
}

#[test]
fn node_counts_tells_the_sizes_behind_a_nodes_samples_apart_by_its_self_size() {
    // 3 samples of 272 bytes (value 524416, which 128 bytes also gives, and more) and 1 of 24
    // (value 524304, which 16 also gives): selfSize = 272 × round(3 × 1928.03) + 24 × 21846.
    let c272 = 1.0 / -(-272.0 / I).exp_m1();
    let c24 = 1.0 / -(-24.0 / I).exp_m1();
    let self_size = 272.0 * (3.0 * c272 + 0.5).floor() + 24.0 * (c24 + 0.5).floor();
    let mut b = Builder::default();
    let n = b.node(cf("f", APP, 0, 0), self_size, vec![]);
    let head = b.node(cf("(root)", "", -1, -1), 0.0, vec![n]);
    let p = b.finish(head);
    let id = p
        .nodes
        .iter()
        .find(|x| x.call_frame.function_name == "f")
        .unwrap()
        .id;
    let mut samples: Vec<ProfileSample> = (1..=3)
        .map(|o| ProfileSample {
            size: scaled(272.0),
            node_id: id,
            ordinal: o as f64,
        })
        .collect();
    samples.push(ProfileSample {
        size: scaled(24.0),
        node_id: id,
        ordinal: 4.0,
    });
    let mut c = SizeCandidates::default();
    assert_eq!(c.get(scaled(272.0), I)[0], 128);
    assert!(c.get(scaled(272.0), I).contains(&272));
    assert_eq!(c.get(scaled(24.0), I)[0], 16);
    assert!(c.get(scaled(24.0), I).contains(&24));
    let counts = node_counts(&p, &samples, I, &mut c);
    assert_eq!(
        count_of(&counts, id, scaled(272.0)),
        Some((c272 + 0.5).floor())
    );
    // One sample alone says nothing more: its first candidate (16 bytes, 32769 objects) stands.
    assert_eq!(
        count_of(&counts, id, scaled(24.0)),
        Some(scaled(24.0) / 16.0)
    );
}

#[test]
fn sign_tail_is_the_binomial_tail() {
    assert!((sign_tail(5, 5) - 1.0 / 32.0).abs() < 1e-12);
    assert!((sign_tail(10, 10) - 1.0 / 1024.0).abs() < 1e-12);
    assert_eq!(sign_tail(0, 7), 1.0);
    assert_eq!(sign_tail(8, 7), 0.0);
    // P(X ≥ 2 | n = 3) = (3 + 1) / 8
    assert!((sign_tail(2, 3) - 0.5).abs() < 1e-12);
    // P(X ≥ 3 | n = 4) = (4 + 1) / 16
    assert!((sign_tail(3, 4) - 5.0 / 16.0).abs() < 1e-12);
    // Normal approximation above 1000: the median is a coin flip.
    assert!((sign_tail(1001, 2000) - 0.5).abs() < 0.01);
}

// Three sites: `leak` retains (allocates through the `Array` builtin, no url), `fill` is a cache
// replacing entries, `drop` churns; all called from `main`. Sizes are 272 bytes (scaled()).
const APP: &str = "/app/server.js";
const OWN: &str = "/node_modules/heapdiff/lib/sampling.js";

#[derive(Clone, Copy, PartialEq)]
enum Site {
    Leak,
    Fill,
    Drop,
    Own,
}

fn profile(samples: &[(Site, u64)]) -> SampledProfile {
    let mut b = Builder::default();
    // V8's selfSize: the node's samples of one size scaled together, 272 × round(n × scale).
    let self_size = |site: Site| {
        let n = samples.iter().filter(|(s, _)| *s == site).count() as f64;
        272.0 * (n / -(-272.0 / I).exp_m1() + 0.5).floor()
    };
    let n_leak = b.node(cf("Array", "", -1, -1), self_size(Site::Leak), vec![]);
    let n_fill = b.node(cf("fill", APP, 4, 13), self_size(Site::Fill), vec![]);
    let n_drop = b.node(cf("drop", APP, 6, 13), self_size(Site::Drop), vec![]);
    let n_parse = b.node(cf("parse", "", -1, -1), self_size(Site::Own), vec![]);
    let n_own = b.node(cf("read", OWN, 200, 3), 0.0, vec![n_parse]);
    let leak = b.node(cf("leak", APP, 2, 16), 0.0, vec![n_leak]);
    let main = b.node(cf("main", APP, 9, 0), 0.0, vec![leak, n_fill, n_drop]);
    let caller = b.node(cf("heapProfile", APP, 20, 0), 0.0, vec![n_own]);
    let head = b.node(cf("(root)", "", -1, -1), 0.0, vec![main, caller]);
    let mut p = b.finish(head);
    let id_of = |p: &SampledProfile, name: &str| {
        p.nodes
            .iter()
            .find(|n| n.call_frame.function_name == name)
            .unwrap()
            .id
    };
    let ids = [
        (Site::Leak, id_of(&p, "Array")),
        (Site::Fill, id_of(&p, "fill")),
        (Site::Drop, id_of(&p, "drop")),
        (Site::Own, id_of(&p, "parse")),
    ];
    p.samples = samples
        .iter()
        .map(|&(site, ordinal)| ProfileSample {
            size: scaled(272.0),
            node_id: ids.iter().find(|(s, _)| *s == site).unwrap().1,
            ordinal: ordinal as f64,
        })
        .collect();
    p
}

fn range(site: Site, from: u64, n: u64) -> Vec<(Site, u64)> {
    (from..from + n).map(|o| (site, o)).collect()
}

fn summary(p: &SampledProfile, t: &mut SiteTable, time: f64) -> Summary {
    summarize(p, t, &mut SizeCandidates::default(), I, time)
}

#[test]
fn grown_sites_the_leak_grows_by_its_new_samples_a_full_cache_and_churn_are_not_listed() {
    let mut table = SiteTable::new([OWN.to_string()]);
    use Site::*;
    // Start: leak 2 samples, cache 3, churn 1, heapdiff's own 1.
    let a = profile(&[
        (Leak, 1),
        (Leak, 2),
        (Fill, 3),
        (Fill, 4),
        (Fill, 5),
        (Drop, 6),
        (Own, 7),
    ]);
    // End: leak keeps its 2 and gains 20; the cache lost #3 and gained #40 (full: one in, one
    // out); the churn sample is gone and another not yet collected one is there; own grew by 30.
    let mut end = vec![(Leak, 1), (Leak, 2)];
    end.extend(range(Leak, 10, 20));
    end.extend([(Fill, 4), (Fill, 5), (Fill, 40), (Drop, 41)]);
    end.extend(range(Own, 50, 30));
    let b = profile(&end);
    let s1 = summary(&a, &mut table, 1000.0);
    let s2 = summary(&b, &mut table, 2000.0);
    assert_eq!(s1.samples.len(), 6, "heapdiff's own sample is left out");
    assert_eq!(s2.samples.len(), 26);
    let sites = grown_sites(&s1, &s2, &table, GrowthOptions::default());
    assert_eq!(sites.len(), 1, "{sites:?}");
    let site = &sites[0];
    assert_eq!(
        (
            site.name.as_str(),
            site.url.as_str(),
            site.line,
            site.column
        ),
        ("leak", APP, 3, 17)
    );
    assert_eq!(site.growth_bytes, 20.0 * scaled(272.0));
    assert_eq!(site.live_bytes, 22.0 * scaled(272.0));
    // 22 samples of 272 bytes stand for 22 / (1 − e^(−272/524288)) = 42416.7 objects; a single
    // sample's value (524416) would also fit 128 bytes (4097 objects each), which the node's
    // selfSize rules out.
    assert_eq!(site.live_count, 42417.0);
    assert_eq!(
        site.stack,
        vec![
            "Array".to_string(),
            format!("leak ({APP}:3:17)"),
            format!("main ({APP}:10:1)")
        ]
    );
}

#[test]
fn grown_sites_few_new_samples_are_noise_many_are_growth_at_most_max_largest_first() {
    let mut table = SiteTable::new([]);
    use Site::*;
    let a = profile(&[(Fill, 1)]);
    // 5 new leak samples and none gone: P = 1/32, not significant at 0.001.
    let mut bs = vec![(Fill, 1)];
    bs.extend(range(Leak, 10, 5));
    let b = profile(&bs);
    let (sa, sb) = (summary(&a, &mut table, 0.0), summary(&b, &mut table, 1.0));
    assert!(grown_sites(&sa, &sb, &table, GrowthOptions::default()).is_empty());
    let loose = GrowthOptions {
        significance: 0.05,
        ..GrowthOptions::default()
    };
    assert_eq!(grown_sites(&sa, &sb, &table, loose).len(), 1);
    // Two growing sites: the larger first; max 1 keeps only it.
    let mut cs = range(Leak, 10, 12);
    cs.extend(range(Drop, 30, 15));
    let sc = summary(&profile(&cs), &mut table, 1.0);
    let names = |v: Vec<AllocationSite>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(grown_sites(&sa, &sc, &table, GrowthOptions::default())),
        ["drop", "leak"]
    );
    let one = GrowthOptions {
        max: 1,
        ..GrowthOptions::default()
    };
    assert_eq!(names(grown_sites(&sa, &sc, &table, one)), ["drop"]);
}

#[test]
fn a_site_that_only_lost_samples_or_lost_more_than_it_gained_is_not_listed() {
    let mut table = SiteTable::new([]);
    use Site::*;
    let a = profile(&range(Leak, 1, 20));
    let mut bs = range(Leak, 15, 6); // 14 of the 20 gone, 1 new (#21)
    bs.extend(range(Fill, 100, 3));
    let b = profile(&bs);
    let (sa, sb) = (summary(&a, &mut table, 0.0), summary(&b, &mut table, 1.0));
    assert!(grown_sites(&sa, &sb, &table, GrowthOptions::default()).is_empty());
}

#[test]
fn recorder_compares_the_summary_nearest_the_window_start_with_the_newest() {
    use Site::*;
    let mut r = SiteRecorder::new(vec![OWN.into()], 3);
    assert!(
        r.sites_for(0.0, GrowthOptions::default()).is_empty(),
        "no summary yet"
    );
    r.observe(&profile(&range(Leak, 1, 2)), I, 1000.0);
    assert!(
        r.sites_for(0.0, GrowthOptions::default()).is_empty(),
        "one summary"
    );
    let with = |n: u64| {
        let mut s = range(Leak, 1, 2);
        s.extend(range(Leak, 100, n));
        profile(&s)
    };
    r.observe(&with(12), I, 2000.0);
    r.observe(&with(30), I, 3000.0);
    // From the summary at 2000 (nearest 2100): 18 new samples.
    let sites = r.sites_for(2100.0, GrowthOptions::default());
    assert_eq!(sites[0].growth_bytes, 18.0 * scaled(272.0));
    // From the one at 1000: 30 new.
    let sites = r.sites_for(0.0, GrowthOptions::default());
    assert_eq!(sites[0].growth_bytes, 30.0 * scaled(272.0));
    // The ring keeps 3: a fourth drops the one at 1000, so the oldest start is 2000.
    r.observe(&with(30), I, 4000.0);
    assert_eq!(r.summaries(), 3);
    let sites = r.sites_for(0.0, GrowthOptions::default());
    assert_eq!(sites[0].growth_bytes, 18.0 * scaled(272.0));
    r.set_capacity(1);
    assert_eq!(r.summaries(), 1);
    assert!(r.sites_for(0.0, GrowthOptions::default()).is_empty());
}

#[test]
fn recorder_bytes_follow_what_it_holds() {
    use Site::*;
    let mut r = SiteRecorder::new(vec![OWN.into()], 10);
    let empty = r.heap_bytes();
    for k in 0..10 {
        r.observe(&profile(&range(Leak, 1, 100 + k)), I, k as f64);
    }
    let full = r.heap_bytes();
    // At least the ring's own records: 10 summaries of 100+ samples.
    assert!(
        full >= empty + 1000 * std::mem::size_of::<LiveSample>(),
        "{empty} -> {full}"
    );
    r.clear_ring();
    assert!(r.heap_bytes() < full - 1000 * std::mem::size_of::<LiveSample>() + 4096);
}

#[test]
fn profile_rows_one_per_node_with_live_bytes_stack_allocating_frame_first() {
    let mut b = Builder::default();
    let arr = b.node(cf("Array", "", -1, -1), 5000.0, vec![]);
    let leak = b.node(cf("leak", APP, 2, 16), 0.0, vec![arr]);
    let fill = b.node(cf("fill", APP, 4, 13), 3000.0, vec![]);
    let drop = b.node(cf("drop", APP, 6, 13), 0.0, vec![]);
    let main = b.node(cf("main", APP, 9, 0), 100.0, vec![leak, fill, drop]);
    let head = b.node(cf("(root)", "", -1, -1), 0.0, vec![main]);
    let p = b.finish(head);
    let rows = profile_rows(&p, None);
    let stacks: Vec<(Vec<String>, i64)> = rows
        .samples
        .iter()
        .map(|s| {
            (
                s.stack
                    .iter()
                    .map(|&f| format_frame(&rows.frames[f]))
                    .collect(),
                s.bytes,
            )
        })
        .collect();
    // Rows as a stack walk yields them: main, then its last child first.
    let m = format!("main ({APP}:10:1)");
    assert_eq!(
        stacks,
        vec![
            (vec![m.clone()], 100),
            (vec![format!("fill ({APP}:5:14)"), m.clone()], 3000),
            (vec!["Array".into(), format!("leak ({APP}:3:17)"), m], 5000),
        ]
    );
    assert!(rows.samples.iter().all(|s| s.objects == 0));
    assert_eq!(rows.frames.len(), 5, "each frame once");
}

#[test]
fn profile_rows_count_objects_where_the_interval_is_known() {
    // Two samples of 32-byte objects on one node: V8 scales them together, round(2 × 16384.5).
    let mut b = Builder::default();
    let n = b.node(cf("f", APP, 0, 0), 32.0 * 32769.0, vec![]);
    let head = b.node(cf("(root)", "", -1, -1), 0.0, vec![n]);
    let mut p = b.finish(head);
    let id = p.nodes[1].id;
    p.samples = (1..=2)
        .map(|o| ProfileSample {
            size: scaled(32.0),
            node_id: id,
            ordinal: o as f64,
        })
        .collect();
    let rows = profile_rows(&p, Some(I));
    assert_eq!(rows.samples.len(), 1);
    assert_eq!(rows.samples[0].objects, 32769);
    assert_eq!(rows.samples[0].bytes, 32 * 32769);
    assert_eq!(rows.interval, I as i64);
}

/// A profile `depth` frames deep, as JSON: one sample at the bottom.
fn deep_json(depth: usize) -> String {
    let mut s = String::from(r#"{"head":"#);
    for k in 0..=depth {
        s.push_str(&format!(
            r#"{{"callFrame":{{"functionName":"f{k}","scriptId":"1","url":"/a.js","lineNumber":{k},"columnNumber":0}},"selfSize":{},"id":{},"children":["#,
            if k == depth { 524320 } else { 0 },
            k + 1
        ));
    }
    for _ in 0..=depth {
        s.push_str("]}");
    }
    s.push_str(&format!(
        r#","samples":[{{"size":524320,"nodeId":{},"ordinal":7}}]}}"#,
        depth + 1
    ));
    s
}

#[test]
fn json_profiles_parse_into_the_flat_tree() {
    let p = parse_json(&deep_json(2)).unwrap();
    assert_eq!(p.nodes.len(), 3);
    assert_eq!(p.nodes[0].children, vec![1]);
    assert_eq!(p.nodes[1].children, vec![2]);
    assert_eq!(p.nodes[2].call_frame.function_name, "f2");
    assert_eq!(p.nodes[2].call_frame.line_number, 2);
    assert_eq!(p.nodes[2].self_size, 524320.0);
    assert_eq!(
        p.samples,
        vec![ProfileSample {
            size: 524320.0,
            node_id: 3,
            ordinal: 7.0
        }]
    );
    // Children keep their order; unknown fields (scriptId, DevTools' extras) are ignored.
    let two = r#"{"head":{"callFrame":{"functionName":"(root)","url":"","lineNumber":-1,"columnNumber":-1},"selfSize":0,"id":1,"children":[
        {"callFrame":{"functionName":"a","url":"","lineNumber":-1,"columnNumber":-1},"selfSize":0,"id":2,"children":[]},
        {"callFrame":{"functionName":"b","url":"","lineNumber":-1,"columnNumber":-1},"selfSize":0,"id":3,"children":[]}]},
        "samples":[],"samplingInterval":512}"#;
    let p = parse_json(two).unwrap();
    let names: Vec<&str> = p.nodes[0]
        .children
        .iter()
        .map(|&c| p.nodes[c].call_frame.function_name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    // Escapes as JSON.stringify writes them; unknown members of any shape skipped.
    let escaped = r#"{"x":{"a":[1,{"b":[true,false,null,-1.5e3,"}]"]}]},"head":{"callFrame":
        {"functionName":"q\"\\\n\u00e9\ud83d\ude00\udc00","url":"file:///a%20b.js","lineNumber":3,"columnNumber":4,"extra":{"d":[]}},
        "selfSize":1.0,"id":1,"children":[]},"samples":[]}"#;
    let p = parse_json(escaped).unwrap();
    assert_eq!(
        p.nodes[0].call_frame.function_name,
        "q\"\\\n\u{e9}\u{1f600}\u{fffd}"
    );
    assert_eq!(p.nodes[0].call_frame.url, "file:///a%20b.js");
    // Line and column default to unknown (-1); a lone surrogate between others, and at the end.
    let p = parse_json(
        r#"{"head":{"callFrame":{"functionName":"\ud800\ud800x\ud83d"},"children":[]}}"#,
    )
    .unwrap();
    assert_eq!(
        p.nodes[0].call_frame,
        cf("\u{fffd}\u{fffd}x\u{fffd}", "", -1, -1)
    );
}

#[test]
fn malformed_profiles_are_errors_that_say_what_and_where() {
    let err = |text: &str| parse_json(text).unwrap_err();
    for (text, what) in [
        (
            r#"{"snapshot":{}}"#,
            "missing field `head` at line 1 column 15",
        ),
        (
            r#"{"head":{"selfSize":1,"id":1,"children":[]}}"#,
            "missing field `callFrame` at line 1 column 43",
        ),
        (
            r#"{"head":{"callFrame":{},"children":[{"callFrame":{}}"#,
            "EOF while parsing a list at line 1 column 52",
        ),
        (
            r#"{"head":{"callFrame":{},"selfSize":"x"}}"#,
            "invalid type: string \"x\", expected f64 at line 1 column 38",
        ),
        (
            "{\"head\":{\"callFrame\":{},\n\"children\":{}}}",
            "invalid type: map, expected an array of SamplingHeapProfileNode objects at line 2 \
             column 11",
        ),
        (
            r#"{"head":{"callFrame":{"url":3}}}"#,
            "invalid type: integer `3`, expected a string at line 1 column 29",
        ),
        (
            r#"{"head":{"callFrame":{}},"samples":[{"size":"1"}]}"#,
            "invalid type: string \"1\", expected f64 at line 1 column 47",
        ),
        (
            r#"{"head":{"callFrame":{"functionName":"\x"}}}"#,
            "invalid escape at line 1 column 40",
        ),
        (
            r#"{"head":{"callFrame":{}}} {}"#,
            "trailing characters at line 1 column 27",
        ),
        ("", "EOF while parsing a value at line 1 column 0"),
    ] {
        assert_eq!(err(text), what, "{text}");
    }
}

/// Runs `f` on a thread with a 256 KiB stack, far smaller than a Node worker's (4 MiB).
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deep_profiles_parse_on_a_small_stack() {
    // Deeper than the sampling depth can be (1,024 frames): 2,200 levels of JSON, which
    // serde_json follows by recursion (overflowing this stack without serde_stacker, in debug
    // and release builds alike; `cargo test` runs this in a debug build). The profile is also
    // dropped on that stack.
    let text = deep_json(1100);
    let p = on_small_stack(move || {
        parse_json(&text).map(|p| {
            let chain = (0..p.nodes.len() - 1).all(|k| p.nodes[k].children == [k + 1]);
            let last = p.nodes.last().unwrap();
            (
                p.nodes.len(),
                p.samples.len(),
                chain,
                last.call_frame.function_name.clone(),
                last.self_size,
            )
        })
    });
    assert_eq!(p, Ok((1101, 1, true, "f1100".to_string(), 524320.0)));
}

#[test]
fn deep_malformed_profiles_are_errors_on_a_small_stack() {
    let text = deep_json(1100);
    let at = text.find("]}]}").unwrap();
    for bad in [
        // Cut off inside the deepest nodes, among the closing brackets, before `samples`.
        text[..text.len() / 2].to_string(),
        text[..at + 2].to_string(),
        text[..text.find(r#","samples""#).unwrap()].to_string(),
        // A bad value at the bottom, with the whole chain open above it.
        text.replacen(r#""selfSize":524320"#, r#""selfSize":"x""#, 1),
        // A node after the deepest subtree has closed: the error comes out past 1,100 levels.
        format!("{}{}", &text[..at + 2], r#",{"selfSize":1}"#) + &text[at + 2..],
    ] {
        let e = on_small_stack(move || parse_json(&bad).map(|p| p.nodes.len()));
        let e = e.unwrap_err();
        assert!(e.contains(" at line 1 column "), "{e}");
    }
}

#[test]
fn unknown_members_are_skipped_however_deep_they_nest() {
    let deep = format!("{}1{}", "[{\"a\":".repeat(5000), "}]".repeat(5000));
    let text = format!(
        r#"{{"x":{deep},"head":{{"callFrame":{{"functionName":"f","scriptId":"7","x":{deep}}},"x":{deep},"children":[]}},"samples":[{{"size":8,"nodeId":1,"ordinal":2,"x":{deep}}}],"samplingInterval":512}}"#
    );
    let p = on_small_stack(move || parse_json(&text)).unwrap();
    assert_eq!(p.nodes.len(), 1);
    assert_eq!(p.nodes[0].call_frame, cf("f", "", -1, -1));
    assert_eq!(
        p.samples,
        [ProfileSample {
            size: 8.0,
            node_id: 1,
            ordinal: 2.0
        }]
    );
}
