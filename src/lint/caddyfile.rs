//! A Caddyfile reader that keeps the position of every token.
//!
//! The lint rules about Caddyfiles (two `handle_errors` at one level, a heredoc
//! status on the wrong line, `rate_limit` without its plugin...) need the structure
//! Caddy itself sees: tokens grouped into lines, lines into blocks, snippets that
//! `import` pastes in. This follows Caddy's lexer (caddyconfig/caddyfile/lexer.go):
//! whitespace-separated tokens, `"..."` and `` `...` `` quoting, `#` comments at the
//! start of a token, heredocs `<<MARKER ... MARKER` whose closing line may carry
//! more tokens, and a directive is the tokens of one line (a multi-line token
//! counts as one line, as in Caddy's dispenser).

use std::ops::Range;

#[derive(Debug, Clone)]
pub struct Token {
    pub text: String,
    pub span: Range<usize>,
    /// 1-based line the token starts on, and the line it ends on.
    pub line: usize,
    pub end_line: usize,
    pub quoted: bool,
    pub heredoc: bool,
}

/// One line of tokens, and the block it opens if it ends with `{`.
#[derive(Debug, Clone)]
pub struct Directive {
    pub tokens: Vec<Token>,
    pub block: Option<Vec<Directive>>,
}

#[derive(Debug)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

#[derive(Debug, Default)]
pub struct Caddyfile {
    /// The top level: the global options block, snippets `(name) { }`, sites.
    pub items: Vec<Directive>,
}

impl Directive {
    pub fn name(&self) -> &str {
        self.tokens.first().map_or("", |t| t.text.as_str())
    }

    pub fn args(&self) -> &[Token] {
        self.tokens.get(1..).unwrap_or(&[])
    }

    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }

    pub fn span(&self) -> Range<usize> {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(first), Some(last)) => first.span.start..last.span.end,
            _ => 0..0,
        }
    }

    /// The span of the name token.
    pub fn name_span(&self) -> Range<usize> {
        self.tokens.first().map_or(0..0, |t| t.span.clone())
    }
}

impl Caddyfile {
    pub fn parse(text: &str) -> Result<Caddyfile, ParseError> {
        let tokens = lex(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let items = parser.block(None)?;
        Ok(Caddyfile { items })
    }

    /// The snippet `(name) { ... }` defined at the top level.
    pub fn snippet(&self, name: &str) -> Option<&Directive> {
        self.items.iter().find(|d| {
            d.tokens.len() == 1
                && d.block.is_some()
                && d.name().strip_prefix('(').and_then(|n| n.strip_suffix(')')) == Some(name)
        })
    }

    /// Site blocks: top-level blocks that are neither the global options nor a snippet.
    pub fn sites(&self) -> impl Iterator<Item = &Directive> {
        self.items
            .iter()
            .filter(|d| d.block.is_some() && d.name() != "{" && !d.name().starts_with('('))
    }

    /// The global options block: a top-level `{` with no address.
    pub fn global_options(&self) -> Option<&Directive> {
        self.items
            .first()
            .filter(|d| d.name() == "{" && d.block.is_some())
    }

    /// Every directive in the file, depth first, with snippets' bodies included once
    /// (where they are defined).
    pub fn walk(&self) -> Vec<&Directive> {
        fn go<'a>(list: &'a [Directive], out: &mut Vec<&'a Directive>) {
            for d in list {
                out.push(d);
                go(d.children(), out);
            }
        }
        let mut out = Vec::new();
        go(&self.items, &mut out);
        out
    }

    /// Every directive named `name`, anywhere in the file.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Directive> {
        self.walk().into_iter().filter(move |d| d.name() == name)
    }

    /// The directives of a block with `import SNIPPET` replaced by the snippet's
    /// body; each comes with the `import` line that brought it in, if any.
    pub fn expanded<'a>(
        &'a self,
        block: &'a [Directive],
    ) -> Vec<(&'a Directive, Option<&'a Directive>)> {
        let mut out = Vec::new();
        for d in block {
            if d.name() == "import" {
                if let Some(snippet) = d.args().first().and_then(|a| self.snippet(&a.text)) {
                    out.extend(snippet.children().iter().map(|c| (c, Some(d))));
                    continue;
                }
            }
            out.push((d, None));
        }
        out
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    /// Directives until the `}` that closes `open` (or the end of the file).
    fn block(&mut self, open: Option<&Token>) -> Result<Vec<Directive>, ParseError> {
        let mut list = Vec::new();
        while self.at < self.tokens.len() {
            let first = &self.tokens[self.at];
            if first.text == "}" && !first.quoted {
                if open.is_none() {
                    return Err(ParseError {
                        message: "unexpected `}`: no block is open".into(),
                        offset: first.span.start,
                    });
                }
                self.at += 1;
                return Ok(list);
            }
            let mut tokens = vec![first.clone()];
            self.at += 1;
            while let Some(next) = self.tokens.get(self.at) {
                if next.line > tokens.last().map_or(0, |t: &Token| t.end_line) {
                    break;
                }
                tokens.push(next.clone());
                self.at += 1;
            }
            let opens = tokens.last().is_some_and(|t| t.text == "{" && !t.quoted);
            let block = if opens {
                let brace = tokens.pop().expect("the line has the `{`");
                let block = self.block(Some(&brace))?;
                if tokens.is_empty() {
                    // A lone `{`: the global options block, named by its brace.
                    tokens.push(brace);
                }
                Some(block)
            } else {
                None
            };
            list.push(Directive { tokens, block });
        }
        match open {
            Some(brace) => Err(ParseError {
                message: "this `{` is never closed".into(),
                offset: brace.span.start,
            }),
            None => Ok(list),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let start_line = line;
        let (text_value, quoted, heredoc) = if c == b'"' || c == b'`' {
            i += 1;
            let mut value = String::new();
            loop {
                let Some(&b) = bytes.get(i) else {
                    return Err(ParseError {
                        message: "unterminated quoted token".into(),
                        offset: start,
                    });
                };
                if b == c {
                    i += 1;
                    break;
                }
                if b == b'\\' && c == b'"' && bytes.get(i + 1).is_some_and(|&n| n == b'"') {
                    value.push('"');
                    i += 2;
                    continue;
                }
                if b == b'\n' {
                    line += 1;
                }
                let ch = text[i..].chars().next().expect("inside the text");
                value.push(ch);
                i += ch.len_utf8();
            }
            (value, true, false)
        } else if text[i..].starts_with("<<")
            && bytes.get(i + 2).is_some_and(|b| b.is_ascii_alphabetic())
        {
            let marker_end = text[i + 2..]
                .find(|ch: char| ch.is_whitespace())
                .map_or(text.len(), |n| i + 2 + n);
            let marker = &text[i + 2..marker_end];
            if !text[marker_end..].starts_with('\n') {
                return Err(ParseError {
                    message: format!("heredoc marker `<<{marker}` must end its line"),
                    offset: start,
                });
            }
            i = marker_end + 1;
            line += 1;
            let mut body = Vec::new();
            loop {
                if i >= bytes.len() {
                    return Err(ParseError {
                        message: format!("heredoc `<<{marker}` is never closed by `{marker}`"),
                        offset: start,
                    });
                }
                let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let content = &text[i..line_end];
                let trimmed = content.trim_start();
                if trimmed.starts_with(marker)
                    && trimmed[marker.len()..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace)
                {
                    i = line_end - content.len() + (content.len() - trimmed.len()) + marker.len();
                    break;
                }
                body.push(content);
                if line_end < text.len() {
                    line += 1;
                }
                i = line_end + 1;
            }
            (body.join("\n"), false, true)
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            (text[start..i].to_string(), false, false)
        };
        tokens.push(Token {
            text: text_value,
            span: start..i,
            line: start_line,
            end_line: line,
            quoted,
            heredoc,
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[Directive]) -> Vec<&str> {
        list.iter().map(Directive::name).collect()
    }

    #[test]
    fn sites_snippets_and_global_options() {
        let text = "{\n  email a@b.c\n}\n(vpn) {\n  @out not client_ip 100.64.0.0/10\n}\nexample.com {\n  import vpn\n  reverse_proxy app:80 {\n    transport http {\n      versions 1.1\n    }\n  }\n}\n";
        let file = Caddyfile::parse(text).unwrap();
        assert_eq!(names(file.global_options().unwrap().children()), ["email"]);
        assert!(file.snippet("vpn").is_some());
        let site = file.sites().next().unwrap();
        assert_eq!(site.name(), "example.com");
        assert_eq!(names(site.children()), ["import", "reverse_proxy"]);
        let expanded = file.expanded(site.children());
        assert_eq!(expanded[0].0.name(), "@out");
        assert!(expanded[0].1.is_some());
        let transport = &site.children()[1].children()[0];
        assert_eq!(transport.children()[0].args()[0].text, "1.1");
    }

    #[test]
    fn heredoc_closing_line_continues_the_directive() {
        let text = "a.example {\n  respond <<HTML\n    <p>hi</p>\n    HTML 200\n}\n";
        let file = Caddyfile::parse(text).unwrap();
        let respond = &file.sites().next().unwrap().children()[0];
        assert_eq!(respond.tokens.len(), 3);
        assert!(respond.tokens[1].heredoc);
        assert_eq!(respond.tokens[1].text.trim(), "<p>hi</p>");
        assert_eq!(respond.tokens[2].text, "200");
    }

    #[test]
    fn heredoc_status_on_the_next_line_is_its_own_directive() {
        let text = "a.example {\n  respond <<HTML\n    hi\n    HTML\n  200\n}\n";
        let file = Caddyfile::parse(text).unwrap();
        let site = file.sites().next().unwrap();
        assert_eq!(names(site.children()), ["respond", "200"]);
        assert_eq!(&text[site.children()[1].name_span()], "200");
    }

    #[test]
    fn comments_and_quotes() {
        let text = "a.example {\n  # note\n  respond \"a # b\" 200 # trailing\n}\n";
        let file = Caddyfile::parse(text).unwrap();
        let respond = &file.sites().next().unwrap().children()[0];
        assert_eq!(respond.args()[0].text, "a # b");
        assert_eq!(respond.tokens.len(), 3);
    }

    #[test]
    fn unclosed_block_is_an_error() {
        let err = Caddyfile::parse("a.example {\n  respond 200\n").unwrap_err();
        assert_eq!(err.offset, 10);
    }
}
