//! YAML that remembers where every node was written.
//!
//! `vpai lint` points each finding at the line of a compose file written by hand,
//! so it cannot use a serde deserializer (which forgets positions). saphyr parses
//! with a span on every node; this module turns its tree into a small owned one
//! with byte ranges into the source (what [`crate::source::Span`] holds) and applies
//! the `<<` merge keys compose files use with anchors (`<<: *defaults`), so rules
//! see the service as Docker Compose does.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    /// Byte range in the source text. A value merged in through `<<` or an alias
    /// keeps the range where it was written (inside the anchored block).
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A syntax error, with the byte offset it was found at.
#[derive(Debug)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

/// Parse the first document of `text`; an empty file is `Null`.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let offsets = CharOffsets::new(text);
    let docs = MarkedYaml::load_from_str(text).map_err(|e| ParseError {
        message: e.info().to_string(),
        offset: offsets.byte(e.marker().index()),
    })?;
    Ok(match docs.into_iter().next() {
        Some(doc) => convert(doc, text, &offsets),
        None => Node {
            value: Value::Null,
            span: 0..0,
        },
    })
}

/// saphyr counts positions in characters; spans are bytes.
enum CharOffsets {
    Ascii(usize),
    Table(Vec<usize>),
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            CharOffsets::Ascii(text.len())
        } else {
            CharOffsets::Table(
                text.char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(text.len()))
                    .collect(),
            )
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match self {
            CharOffsets::Ascii(len) => char_index.min(*len),
            CharOffsets::Table(table) => table[char_index.min(table.len() - 1)],
        }
    }
}

fn convert(node: MarkedYaml<'_>, text: &str, offsets: &CharOffsets) -> Node {
    let start = offsets.byte(node.span.start.index());
    let mut end = offsets.byte(node.span.end.index()).max(start);
    let value = match node.data {
        YamlData::Value(scalar) => scalar_value(scalar),
        YamlData::Representation(repr, _, _) => Value::Str(repr.into_owned()),
        YamlData::Sequence(items) => Value::Seq(
            items
                .into_iter()
                .map(|n| convert(n, text, offsets))
                .collect(),
        ),
        YamlData::Mapping(map) => Value::Map(merge_keys(
            map.into_iter()
                .map(|(k, v)| (convert(k, text, offsets), convert(v, text, offsets)))
                .collect(),
        )),
        // Compose's `!reset` and `!override` tags change how files merge, not what
        // the value is.
        YamlData::Tagged(_, inner) => return convert(*inner, text, offsets),
        YamlData::Alias(_) | YamlData::BadValue => Value::Null,
    };
    // A block collection or scalar ends where the next token starts, after blank
    // lines and comments: end it at its last child, or its last visible character,
    // so a finding underlines what was written and nothing after.
    let last_child = match &value {
        Value::Seq(items) => items
            .iter()
            .map(|n| n.span.end)
            .filter(|&e| e > start)
            .max(),
        Value::Map(entries) => entries
            .iter()
            .map(|(_, v)| v.span.end)
            .filter(|&e| e > start)
            .max(),
        _ => None,
    };
    if let Some(child_end) = last_child.filter(|&e| e <= end) {
        end = child_end;
    }
    end = start + text[start..end].trim_end().len();
    Node {
        value,
        span: start..end,
    }
}

fn scalar_value(scalar: Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(b),
        Scalar::Integer(i) => Value::Int(i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(s) => Value::Str(s.into_owned()),
    }
}

/// YAML merge keys: `<<: *a` or `<<: [*a, *b]` adds the entries the mapping does
/// not set itself; among several merged mappings the first wins.
fn merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(k, _)| k.as_str() == Some("<<"));
    for (_, merged) in merges {
        let sources: Vec<Node> = match merged.value {
            Value::Seq(items) => items,
            _ => vec![merged],
        };
        for source in sources {
            if let Value::Map(inherited) = source.value {
                for (key, value) in inherited {
                    let key_text = key.text();
                    if !own.iter().any(|(k, _)| k.text() == key_text) {
                        own.push((key, value));
                    }
                }
            }
        }
    }
    own
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as it reads: `80`, `true`, `1.5` and strings alike.
    pub fn text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The key node and the value of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Follow a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// `true`, or the strings compose accepts for it.
    pub fn is_true(&self) -> bool {
        match &self.value {
            Value::Bool(b) => *b,
            Value::Str(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on"),
            _ => false,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_the_value() {
        let text = "services:\n  web:\n    image: nginx\n";
        let root = parse(text).unwrap();
        let image = root.path(&["services", "web", "image"]).unwrap();
        assert_eq!(&text[image.span.clone()], "nginx");
    }

    #[test]
    fn spans_are_bytes_after_non_ascii_text() {
        let text = "# café\nx:\n  y: é\n  z: ok\n";
        let z = parse(text).unwrap().path(&["x", "z"]).unwrap().clone();
        assert_eq!(&text[z.span], "ok");
    }

    #[test]
    fn merge_keys_fill_in_but_never_override() {
        let text = "x-base: &base\n  a: 1\n  b: 2\nsvc:\n  <<: *base\n  b: 3\n";
        let root = parse(text).unwrap();
        let svc = root.get("svc").unwrap();
        assert_eq!(svc.get("a").and_then(Node::text).as_deref(), Some("1"));
        assert_eq!(svc.get("b").and_then(Node::text).as_deref(), Some("3"));
        assert!(svc.get("<<").is_none());
        // The merged value points where the anchor wrote it.
        assert_eq!(&text[svc.get("a").unwrap().span.clone()], "1");
        assert!(svc.get("a").unwrap().span.start < text.find("svc").unwrap());
    }

    #[test]
    fn block_nodes_end_at_their_last_visible_character() {
        let text = "a:\n  - x\n  - y\n\n# note\nb: |\n  line\n\n# more\nc: 1\n";
        let root = parse(text).unwrap();
        assert_eq!(&text[root.get("a").unwrap().span.clone()], "- x\n  - y");
        assert_eq!(&text[root.get("b").unwrap().span.clone()], "line");
    }

    #[test]
    fn syntax_errors_carry_an_offset() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(!err.message.is_empty());
        assert!(err.offset > 0);
    }
}
