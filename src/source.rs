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
    files: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    name: String,
    text: String,
    /// Byte offset of the start of every line, so a location costs a binary search
    /// (a lint of a 5,000-line file may report hundreds of findings).
    line_starts: Vec<usize>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            name: name.into(),
            text,
            line_starts,
        });
        SourceId(self.files.len() - 1)
    }

    pub fn name(&self, id: SourceId) -> &str {
        &self.files[id.0].name
    }

    pub fn text(&self, id: SourceId) -> &str {
        &self.files[id.0].text
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let file = &self.files[id.0];
        let offset = offset.min(file.text.len());
        let line = file.line_starts.partition_point(|&start| start <= offset);
        let line_start = file.line_starts[line - 1];
        let column = file.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// Byte range of a 0-based line, with its newline.
    pub fn line_range(&self, id: SourceId, line_index: usize) -> Option<std::ops::Range<usize>> {
        let file = &self.files[id.0];
        let start = *file.line_starts.get(line_index)?;
        let end = file
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(file.text.len());
        Some(start..end)
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
