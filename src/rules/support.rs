//! Helpers shared by the rules: a service's image and user, and the line of
//! `vpai.toml` a value was written on (through [`crate::stack::locate`]).

use crate::knowledge::image::ImageRef;
use crate::source::Span;
use crate::stack::Stack;
use crate::stack::locate::ServiceText;
pub use crate::stack::locate::has_key;
use crate::stack::model::Service;

pub fn image(service: &Service) -> ImageRef {
    ImageRef::parse(&service.image)
}

/// The UID a `user` value (`"1000"`, `"1000:1000"`) runs as; `None` for names.
pub fn uid(user: &str) -> Option<u32> {
    user.split(':').next().and_then(|u| u.trim().parse().ok())
}

/// The first line of the service's tables (comments aside) for which `pred` holds,
/// as a span without its indentation; the service header when none does.
pub fn locate(stack: &Stack, service: &Service, pred: impl Fn(&str) -> bool) -> Option<Span> {
    find(stack, service, pred).or_else(|| service.span.clone())
}

/// Like [`locate`], without the fallback: `None` when no line of the stack file's
/// tables for this service matches.
pub fn find(stack: &Stack, service: &Service, pred: impl Fn(&str) -> bool) -> Option<Span> {
    find_lines(stack, service, false, pred)
}

fn find_lines(
    stack: &Stack,
    service: &Service,
    config_only: bool,
    pred: impl Fn(&str) -> bool,
) -> Option<Span> {
    let header = service.span.as_ref()?;
    ServiceText {
        sources: &stack.sources,
        env: &stack.env,
        service: &service.name,
        header,
    }
    .find_line(config_only, pred)
}

/// The line that sets `key` in the service's tables.
pub fn locate_key(stack: &Stack, service: &Service, key: &str) -> Option<Span> {
    locate(stack, service, |l| has_key(l, key))
}

/// The line of the deepest key of a `config` path (`["tools", "web", "fetch"]`)
/// written in the service's `config` table, else of the `config` table itself,
/// else the service header.
pub fn locate_config(stack: &Stack, service: &Service, path: &[&str]) -> Option<Span> {
    path.iter()
        .rev()
        .filter(|k| k.parse::<usize>().is_err())
        .find_map(|key| find_lines(stack, service, true, |l| has_key(l, key)))
        .or_else(|| find(stack, service, |l| has_key(l, "config")))
        .or_else(|| service.span.clone())
}
