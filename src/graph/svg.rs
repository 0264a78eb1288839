//! The SVG picture, laid out by vpai itself (`layout.rs`) so the single binary needs
//! no Graphviz: boxes, lines with rounded corners and arrows, labels, a legend.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::layout::{
    BADGE_HEIGHT, BADGE_SIZE, BOX_PAD, ENTRY_HEIGHT, HOST_LINE, Layout, MARGIN, NAME_SIZE,
    SMALL_SIZE, Style, badge_width, entry_label, text_width,
};
use super::{
    DEPENDENCY_COLOR, Entry, IMPLICIT_COLOR, View, entry_color, host_facts, kind_colors, kind_name,
    network_color, port_label, short_image, xml,
};
use crate::stack::kinds::Kind;
use crate::stack::model::Service;

const FONT: &str = "Verdana, 'DejaVu Sans', sans-serif";
const TITLE_SIZE: f64 = 15.0;
/// Radius of a line's corners.
const CORNER: i32 = 5;
const GREY: &str = "#616161";

pub(super) fn render(view: &View) -> String {
    let layout = Layout::new(view);
    let g = &layout.geometry;
    let legend = Legend::new(view, (g.width - 2 * MARGIN).max(640));
    let title = MARGIN + text_width(&view.title(), TITLE_SIZE, true) + MARGIN;
    let width = g.width.max(MARGIN + legend.width + MARGIN).max(title);
    let height = g.legend_top + legend.height + MARGIN;
    layout.draw(view, &legend, width, height)
}

impl Layout<'_> {
    fn draw(&self, view: &View, legend: &Legend, width: i32, height: i32) -> String {
        let g = &self.geometry;
        let mut out = String::new();
        writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{}\">",
            xml(FONT),
            w = width,
            h = height
        )
        .unwrap();
        writeln!(out, "<title>{}</title>", xml(&view.title())).unwrap();
        out.push_str("<defs>\n");
        for (id, color) in [
            ("internet", entry_color(Entry::Internet)),
            ("vpn", entry_color(Entry::Vpn)),
            ("dependency", DEPENDENCY_COLOR),
            ("implicit", IMPLICIT_COLOR),
        ] {
            writeln!(
                out,
                "<marker id=\"arrow-{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{color}\"/></marker>"
            )
            .unwrap();
        }
        out.push_str("</defs>\n");
        writeln!(
            out,
            "<rect width=\"{}\" height=\"{}\" fill=\"white\"/>",
            width, height
        )
        .unwrap();
        writeln!(
            out,
            "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"{TITLE_SIZE}\" font-weight=\"bold\" fill=\"#212121\">{}</text>",
            MARGIN + 14,
            xml(&view.title())
        )
        .unwrap();

        for (h, host) in view.hosts.iter().enumerate() {
            self.draw_host(&mut out, host, h);
        }
        for (entry, &(x, w, _)) in &g.entries {
            draw_entry(&mut out, view, *entry, x, g.entry_top, w);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            self.draw_service(&mut out, view, i, node.service);
        }
        self.draw_edges(&mut out);
        for i in 0..self.nodes.len() {
            self.draw_labels(&mut out, i);
        }
        legend.draw(&mut out, view, MARGIN, g.legend_top);
        out.push_str("</svg>\n");
        out
    }

    fn draw_host(&self, out: &mut String, host: &super::HostView, h: usize) {
        let (x, y, w, height) = self.geometry.clusters[h];
        writeln!(
            out,
            "<g><title>host {}</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\" rx=\"10\" fill=\"#f7f7f9\" stroke=\"#9e9e9e\"/>",
            xml(&host.host.name)
        )
        .unwrap();
        writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\" fill=\"#212121\">{}</text>",
            x + 10,
            y + 20,
            xml(&host.host.name)
        )
        .unwrap();
        for (i, fact) in host_facts(host).iter().enumerate() {
            writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"{GREY}\">{}</text>",
                x + 10,
                y + 20 + (i as i32 + 1) * HOST_LINE,
                xml(fact)
            )
            .unwrap();
        }
        if host.services.is_empty() {
            writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" font-style=\"italic\" fill=\"#9e9e9e\">no service of this stack</text>",
                x + 10,
                y + self.geometry.header_height + 16
            )
            .unwrap();
        }
        out.push_str("</g>\n");
    }

    fn draw_service(&self, out: &mut String, view: &View, node: usize, service: &Service) {
        let g = &self.geometry;
        let (x, y) = (self.box_x(g, node), self.box_y(g, node));
        let (fill, stroke) = kind_colors(service.kind);
        writeln!(
            out,
            "<g><title>{} ({}): {}</title>",
            xml(&service.name),
            kind_name(service.kind),
            xml(&service.image)
        )
        .unwrap();
        writeln!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.2\"/>",
            self.box_width,
            self.box_height(node)
        )
        .unwrap();
        let baseline = y + BOX_PAD + 11;
        writeln!(
            out,
            "<text x=\"{}\" y=\"{baseline}\" font-size=\"{NAME_SIZE}\" font-weight=\"bold\" fill=\"#212121\">{}</text>",
            x + BOX_PAD,
            xml(&service.name)
        )
        .unwrap();
        if let Some(port) = port_label(service) {
            writeln!(
                out,
                "<text x=\"{}\" y=\"{baseline}\" font-size=\"{SMALL_SIZE}\" text-anchor=\"end\" fill=\"{GREY}\">{}</text>",
                x + self.box_width - BOX_PAD,
                xml(&port)
            )
            .unwrap();
        }
        writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"{SMALL_SIZE}\" fill=\"{GREY}\">{}</text>",
            x + BOX_PAD,
            baseline + 15,
            xml(&short_image(&service.image))
        )
        .unwrap();
        let mut badge_y = baseline + 15 + 8;
        for line in &self.badge_lines[node] {
            let mut badge_x = x + BOX_PAD;
            for &i in line {
                let network = &service.networks[i];
                draw_badge(out, view, network, badge_x, badge_y);
                badge_x += badge_width(network) + 4;
            }
            badge_y += BADGE_HEIGHT + 3;
        }
        out.push_str("</g>\n");
    }

    fn draw_edges(&self, out: &mut String) {
        let lines: Vec<(Style, Vec<(i32, i32)>)> = self
            .edges
            .iter()
            .map(|e| (e.style, self.polyline(e)))
            .collect();
        for (style, points) in &lines {
            let (color, width, dash, marker) = line_style(*style);
            writeln!(
                out,
                "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#arrow-{marker})\"/>",
                rounded_path(points)
            )
            .unwrap();
        }
        // Where an entry's bus splits, a dot says the lines are joined, not crossing.
        for entry in [Entry::Internet, Entry::Vpn] {
            let own: Vec<&Vec<(i32, i32)>> = lines
                .iter()
                .filter(|(s, _)| *s == Style::Entry(entry))
                .map(|(_, p)| p)
                .collect();
            for (x, y) in junctions(&own) {
                writeln!(
                    out,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{}\"/>",
                    entry_color(entry)
                )
                .unwrap();
            }
        }
    }

    fn draw_labels(&self, out: &mut String, node: usize) {
        for (edge, x, y) in self.labels_at(node) {
            let Style::Entry(entry) = edge.style else {
                continue;
            };
            writeln!(
                out,
                "<text x=\"{x}\" y=\"{y}\" font-size=\"{SMALL_SIZE}\" fill=\"{}\">{}</text>",
                entry_color(entry),
                xml(edge.label.as_deref().unwrap_or_default())
            )
            .unwrap();
        }
    }
}

/// A network badge: the network's colour, a dashed border when it is internal.
fn draw_badge(out: &mut String, view: &View, network: &str, x: i32, y: i32) {
    let color = network_color(view.network_index(network));
    let dash = if view.network(network).is_some_and(|n| n.internal) {
        " stroke-dasharray=\"3 2\""
    } else {
        ""
    };
    writeln!(
        out,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{BADGE_HEIGHT}\" rx=\"7\" fill=\"{color}\" fill-opacity=\"0.14\" stroke=\"{color}\"{dash}/><text x=\"{}\" y=\"{}\" font-size=\"{BADGE_SIZE}\" fill=\"#212121\">{}</text>",
        badge_width(network),
        x + 5,
        y + 10,
        xml(network)
    )
    .unwrap();
}

fn draw_entry(out: &mut String, view: &View, entry: Entry, x: i32, y: i32, width: i32) {
    let color = entry_color(entry);
    let (name, detail) = entry_label(view, entry);
    let centre = x + width / 2;
    writeln!(
        out,
        "<g><rect x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{ENTRY_HEIGHT}\" rx=\"{}\" fill=\"white\" stroke=\"{color}\" stroke-width=\"2\"/>",
        ENTRY_HEIGHT / 2
    )
    .unwrap();
    let name_y = if detail.is_some() { y + 16 } else { y + 22 };
    writeln!(
        out,
        "<text x=\"{centre}\" y=\"{name_y}\" font-size=\"{NAME_SIZE}\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"{color}\">{}</text>",
        xml(&name)
    )
    .unwrap();
    if let Some(detail) = detail {
        writeln!(
            out,
            "<text x=\"{centre}\" y=\"{}\" font-size=\"{SMALL_SIZE}\" text-anchor=\"middle\" fill=\"{GREY}\">{}</text>",
            y + 29,
            xml(&detail)
        )
        .unwrap();
    }
    out.push_str("</g>\n");
}

/// Colour, width, dash attribute and arrow marker of a line, in the picture and its
/// legend alike.
fn line_style(style: Style) -> (&'static str, &'static str, &'static str, &'static str) {
    match style {
        Style::Entry(Entry::Internet) => (entry_color(Entry::Internet), "2", "", "internet"),
        Style::Entry(Entry::Vpn) => (entry_color(Entry::Vpn), "1.6", "", "vpn"),
        Style::Dependency => (DEPENDENCY_COLOR, "1.2", "", "dependency"),
        Style::Implicit => (
            IMPLICIT_COLOR,
            "1.2",
            " stroke-dasharray=\"5 3\"",
            "implicit",
        ),
    }
}

/// An orthogonal polyline with rounded corners.
fn rounded_path(points: &[(i32, i32)]) -> String {
    let mut d = String::new();
    let Some(&(x0, y0)) = points.first() else {
        return d;
    };
    write!(d, "M{x0},{y0}").unwrap();
    for i in 1..points.len() {
        let (x, y) = points[i];
        match points.get(i + 1) {
            Some(&next) => {
                let before = points[i - 1];
                let radius = CORNER
                    .min(distance(before, (x, y)) / 2)
                    .min(distance((x, y), next) / 2);
                let (ax, ay) = towards((x, y), before, radius);
                let (bx, by) = towards((x, y), next, radius);
                write!(d, " L{ax},{ay} Q{x},{y} {bx},{by}").unwrap();
            }
            None => write!(d, " L{x},{y}").unwrap(),
        }
    }
    d
}

fn distance(a: (i32, i32), b: (i32, i32)) -> i32 {
    (a.0 - b.0).abs() + (a.1 - b.1).abs()
}

/// The point `by` away from `from` in the direction of `to` (along an axis).
fn towards(from: (i32, i32), to: (i32, i32), by: i32) -> (i32, i32) {
    (
        from.0 + (to.0 - from.0).signum() * by,
        from.1 + (to.1 - from.1).signum() * by,
    )
}

/// Points where lines that share a way part: a corner of one line that another line
/// passes through, leaving it in another direction.
fn junctions(lines: &[&Vec<(i32, i32)>]) -> BTreeSet<(i32, i32)> {
    let direction = |a: (i32, i32), b: (i32, i32)| ((b.0 - a.0).signum(), (b.1 - a.1).signum());
    let mut dots = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        for k in 1..line.len().saturating_sub(1) {
            let p = line[k];
            let leaving = direction(p, line[k + 1]);
            for (j, other) in lines.iter().enumerate() {
                if i == j {
                    continue;
                }
                let parts = other.len().saturating_sub(1);
                let other_leaving = (0..parts).find_map(|s| {
                    let (a, b) = (other[s], other[s + 1]);
                    let on = (a.0 == b.0 && p.0 == a.0 && between(p.1, a.1, b.1))
                        || (a.1 == b.1 && p.1 == a.1 && between(p.0, a.0, b.0));
                    match () {
                        _ if !on || p == b => None,
                        _ => Some(direction(a, b)),
                    }
                });
                if other_leaving.is_some_and(|d| d != leaving) {
                    dots.insert(p);
                }
            }
        }
    }
    dots
}

fn between(v: i32, a: i32, b: i32) -> bool {
    a.min(b) <= v && v <= a.max(b)
}

/// What the drawing's marks mean, laid out in lines no wider than the picture.
#[derive(Default)]
struct Legend {
    items: Vec<(i32, i32, Mark)>,
    width: i32,
    height: i32,
}

enum Mark {
    Heading(&'static str),
    Line(Style, &'static str),
    Kind(Kind),
    Network(usize, String),
    Note(&'static str),
}

const LEGEND_LINE: i32 = 22;
const LEGEND_HEADING: i32 = 84;
const SAMPLE: i32 = 34;

impl Mark {
    fn width(&self, view: &View) -> i32 {
        match self {
            Mark::Heading(_) => LEGEND_HEADING,
            Mark::Line(_, text) => SAMPLE + 6 + text_width(text, SMALL_SIZE, false),
            Mark::Kind(kind) => 22 + 6 + text_width(kind_name(*kind), SMALL_SIZE, false),
            Mark::Network(i, detail) => {
                badge_width(&view.networks[*i].name) + 6 + text_width(detail, SMALL_SIZE, false)
            }
            Mark::Note(text) => text_width(text, SMALL_SIZE, false),
        }
    }
}

impl Legend {
    fn new(view: &View, max_width: i32) -> Legend {
        let lines = [
            (Style::Entry(Entry::Internet), "public route (Internet)"),
            (Style::Entry(Entry::Vpn), "VPN-only route"),
            (Style::Dependency, "depends on"),
            (
                Style::Implicit,
                "implicit dependency (database server, Redis)",
            ),
        ]
        .into_iter()
        .filter(|(style, _)| match style {
            Style::Entry(entry) => view.entries.iter().any(|e| e.entry == *entry),
            Style::Dependency => view.dependencies.iter().any(|d| !d.implicit),
            Style::Implicit => view.dependencies.iter().any(|d| d.implicit),
        })
        .map(|(style, text)| Mark::Line(style, text))
        .collect();
        let mut sections: Vec<(&'static str, Vec<Mark>)> = vec![("Lines", lines)];
        let kinds: Vec<Mark> = [Kind::Proxy, Kind::App, Kind::Datastore, Kind::Monitoring]
            .into_iter()
            .filter(|k| {
                view.hosts
                    .iter()
                    .flat_map(|h| &h.services)
                    .any(|s| s.kind == *k)
            })
            .map(Mark::Kind)
            .collect();
        sections.push(("Services", kinds));
        let used = |name: &str| {
            view.hosts
                .iter()
                .flat_map(|h| &h.services)
                .any(|s| s.networks.iter().any(|n| n == name))
        };
        let mut networks: Vec<Mark> = view
            .networks
            .iter()
            .enumerate()
            .filter(|(_, n)| used(&n.name))
            .map(|(i, n)| {
                let detail = if n.internal {
                    format!("{}, internal", n.subnet)
                } else {
                    n.subnet.to_string()
                };
                Mark::Network(i, detail)
            })
            .collect();
        if view.networks.iter().any(|n| n.internal && used(&n.name)) {
            networks.push(Mark::Note("internal: no outbound access"));
        }
        sections.push(("Networks", networks));

        let mut legend = Legend::default();
        let mut y = 0;
        for (heading, marks) in sections {
            if marks.is_empty() {
                continue;
            }
            legend.items.push((0, y, Mark::Heading(heading)));
            let mut x = LEGEND_HEADING;
            for mark in marks {
                let w = mark.width(view);
                if x > LEGEND_HEADING && x + w > max_width {
                    x = LEGEND_HEADING;
                    y += LEGEND_LINE;
                }
                legend.items.push((x, y, mark));
                legend.width = legend.width.max(x + w);
                x += w + 22;
            }
            y += LEGEND_LINE;
        }
        legend.height = y;
        legend
    }

    fn draw(&self, out: &mut String, view: &View, left: i32, top: i32) {
        out.push_str("<g>\n");
        writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#e0e0e0\"/>",
            top - 12,
            left + self.width,
            top - 12
        )
        .unwrap();
        for (dx, dy, mark) in &self.items {
            let (x, y) = (left + dx, top + dy);
            let text_y = y + 11;
            match mark {
                Mark::Heading(text) => writeln!(
                    out,
                    "<text x=\"{x}\" y=\"{text_y}\" font-size=\"{SMALL_SIZE}\" font-weight=\"bold\" fill=\"#212121\">{text}</text>"
                )
                .unwrap(),
                Mark::Line(style, text) => {
                    let (color, width, dash, marker) = line_style(*style);
                    writeln!(
                        out,
                        "<path d=\"M{x},{} H{}\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#arrow-{marker})\"/><text x=\"{}\" y=\"{text_y}\" font-size=\"{SMALL_SIZE}\" fill=\"#212121\">{text}</text>",
                        y + 7,
                        x + SAMPLE,
                        x + SAMPLE + 6
                    )
                    .unwrap();
                }
                Mark::Kind(kind) => {
                    let (fill, stroke) = kind_colors(*kind);
                    writeln!(
                        out,
                        "<rect x=\"{x}\" y=\"{}\" width=\"22\" height=\"13\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{}\" y=\"{text_y}\" font-size=\"{SMALL_SIZE}\" fill=\"#212121\">{}</text>",
                        y + 1,
                        x + 28,
                        kind_name(*kind)
                    )
                    .unwrap();
                }
                Mark::Network(i, detail) => {
                    let name = &view.networks[*i].name;
                    draw_badge(out, view, name, x, y);
                    writeln!(
                        out,
                        "<text x=\"{}\" y=\"{text_y}\" font-size=\"{SMALL_SIZE}\" fill=\"{GREY}\">{}</text>",
                        x + badge_width(name) + 6,
                        xml(detail)
                    )
                    .unwrap();
                }
                Mark::Note(text) => writeln!(
                    out,
                    "<text x=\"{x}\" y=\"{text_y}\" font-size=\"{SMALL_SIZE}\" font-style=\"italic\" fill=\"{GREY}\">{text}</text>"
                )
                .unwrap(),
            }
        }
        out.push_str("</g>\n");
    }
}
