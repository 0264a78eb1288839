//! Source files that diagnostics point into.
//!
//! A diagnostic may point at the operator's `vpai.toml` or at an embedded catalog
//! entry, so spans carry the id of the file they belong to. Keeping every text in
//! one registry lets the renderer print `file:line:column` and the offending line
//! without re-reading anything from disk.

use std::ops::Range;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub usize);

/// A byte range inside one source file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub source: SourceId,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(source: SourceId, range: Range<usize>) -> Self {
        Self { source, range }
    }
}

/// Every text a diagnostic can point into, with the name it is shown under.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<(String, String)>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        self.files.push((name.into(), text.into()));
        SourceId(self.files.len() - 1)
    }

    pub fn name(&self, id: SourceId) -> &str {
        &self.files[id.0].0
    }

    pub fn text(&self, id: SourceId) -> &str {
        &self.files[id.0].1
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let text = self.text(id);
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// `file:line:column` of the start of a span.
    pub fn location(&self, span: &Span) -> String {
        let (line, col) = self.line_col(span.source, span.range.start);
        format!("{}:{}:{}", self.name(span.source), line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let mut sources = Sources::default();
        let id = sources.add("vpai.toml", "[project]\nname = \"x\"\n");
        assert_eq!(sources.line_col(id, 0), (1, 1));
        assert_eq!(sources.line_col(id, 10), (2, 1));
        assert_eq!(sources.line_col(id, 17), (2, 8));
        assert_eq!(
            sources.location(&Span::new(id, 17..20)),
            "vpai.toml:2:8".to_string()
        );
    }
}
