//! The `snapshot` header: where each field sits in a record and what the type enums mean.
//!
//! V8 has changed the record layout between releases (Node 24 dropped `trace_node_id`), so every
//! position is looked up by name here instead of being assumed.

use serde_json::Value;

use super::error::ParseError;

/// Field positions and enums decoded from `snapshot.meta`, plus the header counts.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub node_width: usize,
    pub node_type: usize,
    pub node_name: usize,
    pub node_id: usize,
    pub node_self_size: usize,
    pub node_edge_count: usize,
    /// Browsers' DOM state per node (0 unknown, 1 attached, 2 detached); Node writes 0.
    pub node_detachedness: Option<usize>,
    pub node_type_names: Vec<String>,
    pub edge_width: usize,
    pub edge_type: usize,
    pub edge_name: usize,
    pub edge_to: usize,
    pub edge_type_names: Vec<String>,
    pub node_count: Option<u64>,
    pub edge_count: Option<u64>,
    pub extra_native_bytes: Option<u64>,
    /// Where allocation traces are written (see `trace.rs`): absent unless V8 tracked
    /// allocations (Node 24+ drops the node field otherwise).
    pub trace: TraceMeta,
}

/// Positions in the allocation-trace records, from `meta.trace_function_info_fields` and
/// `meta.trace_node_fields`, and the node field `trace_node_id`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TraceMeta {
    pub node_trace_id: Option<usize>,
    pub function_fields: Option<FunctionFields>,
    pub tree_fields: Option<TreeFields>,
    pub function_count: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FunctionFields {
    pub width: usize,
    pub name: usize,
    pub script_name: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeFields {
    pub width: usize,
    pub id: usize,
    pub function_info_index: usize,
    pub children: usize,
}

/// The largest record width accepted; real snapshots use 6 or 7 node fields and 3 edge fields,
/// and a bound keeps a hostile header from making per-record buffers huge.
pub(crate) const MAX_FIELDS: usize = 64;

impl Meta {
    pub(crate) fn from_json(raw: &[u8], offset: u64) -> Result<Meta, ParseError> {
        let header: Value = serde_json::from_slice(raw).map_err(|e| {
            ParseError::corrupt_at(
                offset,
                format!("the `snapshot` object is not valid JSON: {e}"),
            )
        })?;
        let obj = header.as_object().ok_or_else(|| {
            ParseError::corrupt_at(offset, "the top-level `snapshot` value is not an object")
        })?;
        let meta = obj
            .get("meta")
            .and_then(Value::as_object)
            .ok_or_else(|| ParseError::corrupt_at(offset, "`snapshot` lacks a `meta` object"))?;

        let node_fields = string_list(meta.get("node_fields"), "meta.node_fields", offset)?;
        let edge_fields = string_list(meta.get("edge_fields"), "meta.edge_fields", offset)?;
        let node_type_names = type_enum(meta.get("node_types"), "meta.node_types", offset)?;
        let edge_type_names = type_enum(meta.get("edge_types"), "meta.edge_types", offset)?;

        if node_fields.len() > MAX_FIELDS || edge_fields.len() > MAX_FIELDS {
            return Err(ParseError::corrupt_at(
                offset,
                format!("meta lists more than {MAX_FIELDS} fields per record"),
            ));
        }
        if node_type_names.len() > 256 || edge_type_names.len() > 256 {
            return Err(ParseError::Unsupported {
                detail: "meta lists more than 256 node or edge types".into(),
            });
        }

        let node_pos = |name: &str| field_pos(&node_fields, name, "meta.node_fields", offset);
        let edge_pos = |name: &str| field_pos(&edge_fields, name, "meta.edge_fields", offset);

        Ok(Meta {
            node_width: node_fields.len(),
            node_type: node_pos("type")?,
            node_name: node_pos("name")?,
            node_id: node_pos("id")?,
            node_self_size: node_pos("self_size")?,
            node_edge_count: node_pos("edge_count")?,
            node_detachedness: node_fields.iter().position(|f| f == "detachedness"),
            node_type_names,
            edge_width: edge_fields.len(),
            edge_type: edge_pos("type")?,
            edge_name: edge_pos("name_or_index")?,
            edge_to: edge_pos("to_node")?,
            edge_type_names,
            node_count: count(obj.get("node_count"), "node_count", offset)?,
            edge_count: count(obj.get("edge_count"), "edge_count", offset)?,
            extra_native_bytes: count(obj.get("extra_native_bytes"), "extra_native_bytes", offset)?,
            trace: TraceMeta {
                node_trace_id: node_fields.iter().position(|f| f == "trace_node_id"),
                function_fields: function_fields(meta.get("trace_function_info_fields"), offset)?,
                tree_fields: tree_fields(meta.get("trace_node_fields"), offset)?,
                function_count: count(
                    obj.get("trace_function_count"),
                    "trace_function_count",
                    offset,
                )?,
            },
        })
    }
}

/// The trace field lists are optional (a writer without allocation tracking may leave them
/// out), but when present they must name what the trace sections are read by.
fn trace_fields(
    v: Option<&Value>,
    what: &str,
    offset: u64,
) -> Result<Option<Vec<String>>, ParseError> {
    let Some(v) = v else { return Ok(None) };
    let fields = string_list(Some(v), what, offset)?;
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        return Err(ParseError::corrupt_at(
            offset,
            format!(
                "{what} lists {} fields (1 to {MAX_FIELDS} expected)",
                fields.len()
            ),
        ));
    }
    Ok(Some(fields))
}

fn function_fields(v: Option<&Value>, offset: u64) -> Result<Option<FunctionFields>, ParseError> {
    let what = "meta.trace_function_info_fields";
    let Some(f) = trace_fields(v, what, offset)? else {
        return Ok(None);
    };
    // A list without the fields the records are read by is as good as none: an error only if
    // the section it describes has records (see `trace.rs`), as nothing else reads it.
    let pos = |name: &str| f.iter().position(|x| x == name);
    Ok((|| {
        Some(FunctionFields {
            width: f.len(),
            name: pos("name")?,
            script_name: pos("script_name")?,
            line: pos("line")?,
            column: pos("column")?,
        })
    })())
}

fn tree_fields(v: Option<&Value>, offset: u64) -> Result<Option<TreeFields>, ParseError> {
    let what = "meta.trace_node_fields";
    let Some(f) = trace_fields(v, what, offset)? else {
        return Ok(None);
    };
    let pos = |name: &str| f.iter().position(|x| x == name);
    Ok((|| {
        Some(TreeFields {
            width: f.len(),
            id: pos("id")?,
            function_info_index: pos("function_info_index")?,
            children: pos("children")?,
        })
    })())
}

fn string_list(v: Option<&Value>, what: &str, offset: u64) -> Result<Vec<String>, ParseError> {
    let arr = v.and_then(Value::as_array).ok_or_else(|| {
        ParseError::corrupt_at(offset, format!("{what} is missing or not a list"))
    })?;
    arr.iter()
        .map(|s| {
            s.as_str().map(str::to_owned).ok_or_else(|| {
                ParseError::corrupt_at(offset, format!("{what} contains a non-string entry"))
            })
        })
        .collect()
}

/// `node_types`/`edge_types` describe each field; the enum for `type` is the first entry.
fn type_enum(v: Option<&Value>, what: &str, offset: u64) -> Result<Vec<String>, ParseError> {
    let first = v
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .ok_or_else(|| ParseError::corrupt_at(offset, format!("{what} is missing or empty")))?;
    string_list(Some(first), &format!("{what}[0]"), offset)
}

fn field_pos(fields: &[String], name: &str, what: &str, offset: u64) -> Result<usize, ParseError> {
    fields
        .iter()
        .position(|f| f == name)
        .ok_or_else(|| ParseError::corrupt_at(offset, format!("{what} lacks `{name}`")))
}

fn count(v: Option<&Value>, what: &str, offset: u64) -> Result<Option<u64>, ParseError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            ParseError::corrupt_at(
                offset,
                format!("snapshot.{what} is not a non-negative integer"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(fields: &str) -> Result<Meta, ParseError> {
        let raw = format!(
            r#"{{"meta":{{"node_fields":{fields},"node_types":[["hidden","object"]],
            "edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element"]]}},
            "node_count":2,"edge_count":0}}"#
        );
        Meta::from_json(raw.as_bytes(), 10)
    }

    #[test]
    fn positions_follow_the_declared_order() {
        let m = meta(r#"["id","type","name","edge_count","self_size","detachedness"]"#).unwrap();
        assert_eq!(
            (m.node_width, m.node_id, m.node_type, m.node_name),
            (6, 0, 1, 2)
        );
        assert_eq!((m.node_edge_count, m.node_self_size), (3, 4));
        assert_eq!(m.node_count, Some(2));
        assert_eq!(m.extra_native_bytes, None);
    }

    #[test]
    fn missing_field_is_named() {
        let e = meta(r#"["type","name","self_size","edge_count"]"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt heap snapshot: meta.node_fields lacks `id`"
        );
    }
}
