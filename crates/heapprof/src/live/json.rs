//! The sampling profile's JSON read with serde_json. The node tree nests two JSON levels per
//! frame, as deep as the sampled stacks (1,024 frames at most, deeper than serde_json's default
//! limit of 128 levels), so the recursion limit is off and `serde_stacker` grows the stack where
//! the recursion would run out of it. Nodes go straight into the flat list as they are read: no
//! nested tree is built, so none is dropped recursively either. Only the fields a profile needs
//! are read; others (`scriptId`, `samplingInterval`, DevTools' extras) are skipped, whatever
//! they hold.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{CallFrame, ProfileNode, ProfileSample, SampledProfile};

#[derive(Deserialize)]
struct SamplingHeapProfile {
    head: Tree,
    #[serde(default)]
    samples: Vec<Sample>,
}

#[derive(Deserialize)]
#[serde(rename = "SamplingHeapProfileSample", rename_all = "camelCase")]
struct Sample {
    #[serde(default)]
    size: f64,
    #[serde(default)]
    node_id: f64,
    #[serde(default)]
    ordinal: f64,
}

#[derive(Deserialize)]
#[serde(rename = "CallFrame", rename_all = "camelCase")]
struct Frame {
    #[serde(default, deserialize_with = "js_string")]
    function_name: String,
    #[serde(default, deserialize_with = "js_string")]
    url: String,
    #[serde(default = "unknown")]
    line_number: f64,
    #[serde(default = "unknown")]
    column_number: f64,
}

fn unknown() -> f64 {
    -1.0
}

impl From<Frame> for CallFrame {
    fn from(f: Frame) -> Self {
        CallFrame {
            function_name: f.function_name,
            url: f.url,
            line_number: f.line_number as i64,
            column_number: f.column_number as i64,
        }
    }
}

/// A string as `JSON.stringify` writes a JS one, which may hold a lone surrogate (as an escape,
/// `\udc00`) that a Rust string cannot: read as bytes, where serde_json leaves such a surrogate
/// in WTF-8, and each one becomes U+FFFD.
fn js_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct JsString;
    impl Visitor<'_> for JsString {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<String, E> {
            if let Ok(s) = std::str::from_utf8(v) {
                return Ok(s.to_owned());
            }
            // In WTF-8 a surrogate is ED A0..BF 80..BF (ED never continues another character),
            // three bytes like U+FFFD's EF BF BD.
            let mut b = v.to_vec();
            for i in 0..b.len().saturating_sub(2) {
                if b[i] == 0xed && b[i + 1] >= 0xa0 {
                    b[i..i + 3].copy_from_slice("\u{fffd}".as_bytes());
                }
            }
            Ok(String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
    }
    d.deserialize_bytes(JsString)
}

/// The members of a node that are read; any other is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum NodeKey {
    CallFrame,
    SelfSize,
    Id,
    Children,
    #[serde(other)]
    Other,
}

/// The tree from `head`, flat: each node added to the list before its children.
struct Tree(Vec<ProfileNode>);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut nodes = Vec::new();
        Node(&mut nodes).deserialize(d)?;
        Ok(Tree(nodes))
    }
}

/// Reads one node (and through its `children`, its subtree) into the list.
struct Node<'a>(&'a mut Vec<ProfileNode>);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a SamplingHeapProfileNode object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let nodes = self.0;
        let k = nodes.len();
        nodes.push(ProfileNode::default());
        let mut framed = false;
        while let Some(key) = map.next_key()? {
            match key {
                NodeKey::CallFrame => {
                    nodes[k].call_frame = map.next_value::<Frame>()?.into();
                    framed = true;
                }
                NodeKey::SelfSize => nodes[k].self_size = map.next_value()?,
                NodeKey::Id => nodes[k].id = map.next_value::<f64>()? as u64,
                NodeKey::Children => map.next_value_seed(Children(&mut *nodes, k))?,
                NodeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !framed {
            return Err(de::Error::missing_field("callFrame"));
        }
        Ok(())
    }
}

/// A node's `children`: each read into the list and its index added to the parent's.
struct Children<'a>(&'a mut Vec<ProfileNode>, usize);

impl<'de> DeserializeSeed<'de> for Children<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Children<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of SamplingHeapProfileNode objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Children(nodes, parent) = self;
        loop {
            let child = nodes.len();
            if seq.next_element_seed(Node(&mut *nodes))?.is_none() {
                return Ok(());
            }
            nodes[parent].children.push(child);
        }
    }
}

pub(super) fn profile(text: &str) -> Result<SampledProfile, String> {
    let mut json = serde_json::Deserializer::from_str(text);
    json.disable_recursion_limit();
    let p = SamplingHeapProfile::deserialize(serde_stacker::Deserializer::new(&mut json))
        .and_then(|p| json.end().map(|()| p))
        .map_err(|e| e.to_string())?;
    Ok(SampledProfile {
        nodes: p.head.0,
        samples: p
            .samples
            .into_iter()
            .map(|s| ProfileSample {
                size: s.size,
                node_id: s.node_id as u64,
                ordinal: s.ordinal,
            })
            .collect(),
    })
}
