//! Where everything goes in the SVG picture: a layout made for this one kind of
//! drawing rather than for graphs in general.
//!
//! Hosts are clusters from left to right in the stack's order. Inside a host, services
//! sit on a grid in rows by dependency depth: a service above what it depends on, the
//! reverse proxy on top, services with no dependency either way at the bottom, at
//! most [`MAX_COLUMNS`] to a row, ordered within rows by barycentre sweeps. Edges are
//! orthogonal lines that run only in the *gutters* between columns and the *channels*
//! between rows, each on its own lane, so no line crosses a box or a label;
//! "Internet" and "VPN clients" sit above the hosts and reach their services through
//! a bus line each.
//!
//! There are no font metrics at hand: text widths are estimated from Verdana and
//! DejaVu Sans, which are wider than most sans-serif fonts, so a viewer's font only
//! leaves more room.

use std::collections::{BTreeMap, BTreeSet};

use super::{Entry, View, host_facts, port_label, short_image};
use crate::stack::kinds::Kind;
use crate::stack::model::Service;

mod measure;
mod routing;

pub(super) const MARGIN: i32 = 20;
/// Wider rows make a picture too wide for a documentation page.
const MAX_COLUMNS: usize = 5;
/// Barycentre sweeps (down then up) that order services within their rows.
const SWEEPS: usize = 4;
/// Distance between two parallel lines.
const LANE: i32 = 8;
const MIN_GUTTER: i32 = 20;
const CLUSTER_GAP: i32 = 24;
pub(super) const BOX_PAD: i32 = 8;
const MIN_BOX_WIDTH: i32 = 150;
pub(super) const NAME_SIZE: f64 = 12.0;
pub(super) const SMALL_SIZE: f64 = 10.0;
pub(super) const BADGE_SIZE: f64 = 9.0;
pub(super) const BADGE_HEIGHT: i32 = 14;
const LABEL_LINE: i32 = 13;
pub(super) const HOST_LINE: i32 = 13;
pub(super) const ENTRY_HEIGHT: i32 = 36;

/// A service's place on its host's grid.
pub(super) struct Node<'a> {
    pub(super) service: &'a Service,
    host: usize,
    row: usize,
    column: usize,
}

struct Grid {
    columns: usize,
    rows: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Entry(Entry),
    Dependency,
    Implicit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Entry(Entry),
    Node(usize),
}

pub(super) struct Edge {
    source: Source,
    target: usize,
    pub(super) style: Style,
    pub(super) label: Option<String>,
    points: Vec<(X, Y)>,
    /// Grid slot the edge leaves its source towards, and arrives at its target from:
    /// ports are ordered by them so lines next to a box do not cross.
    departure: i32,
    approach: i32,
    /// Straight down to the box below: it leaves its source where it enters its target.
    straight: bool,
}

/// Where a line runs. Channels and gutters belong to a host; the bottom bus carries
/// dependencies between hosts under all clusters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Track {
    Channel { host: usize, index: usize },
    Gutter { host: usize, index: usize },
    BottomBus,
}

/// A stretch of a track one or more edges run along, over grid slots `lo..=hi`:
/// across a channel, gutter `g` is slot `2g` and column `c` slot `2c + 1`; down a
/// gutter, channel `k` is slot `2k`, row `r` slot `2r + 1`, and -1 is above the host.
struct Segment {
    track: Track,
    lo: i32,
    hi: i32,
}

/// A horizontal position, known once lanes and ports are assigned.
#[derive(Clone, Copy)]
enum X {
    /// The vertical line under an entry node.
    Trunk(Entry),
    Gutter(usize),
    TopPort(usize),
    BottomPort(usize),
}

/// A vertical position, known once lanes are assigned.
#[derive(Clone, Copy)]
enum Y {
    EntryBottom,
    TopBus(Entry),
    Lane(usize),
    NodeTop(usize),
    NodeBottom(usize),
}

pub(super) struct Layout<'a> {
    pub(super) nodes: Vec<Node<'a>>,
    grids: Vec<Grid>,
    pub(super) edges: Vec<Edge>,
    segments: Vec<Segment>,
    lanes: Vec<i32>,
    lane_counts: BTreeMap<Track, i32>,
    /// Per edge: the rank of its port on the target's top and on the source's bottom,
    /// then the ports' offsets from the box's left edge.
    top_port: Vec<usize>,
    bottom_port: Vec<usize>,
    top_offset: Vec<i32>,
    bottom_offset: Vec<i32>,
    /// Per node: how many entry edges arrive on its top (they take the first ports).
    entry_ports: Vec<usize>,
    pub(super) box_width: i32,
    pub(super) badge_lines: Vec<Vec<Vec<usize>>>,
    pub(super) geometry: Geometry,
}

/// Coordinates, once everything is sized.
#[derive(Default)]
pub(super) struct Geometry {
    /// Of hosts and entry nodes; the title and legend may widen the picture.
    pub(super) width: i32,
    /// Entry node: left, width, x of its trunk.
    pub(super) entries: BTreeMap<Entry, (i32, i32, i32)>,
    pub(super) entry_top: i32,
    top_bus: BTreeMap<Entry, i32>,
    /// Per host: left, top, width, height.
    pub(super) clusters: Vec<(i32, i32, i32, i32)>,
    pub(super) header_height: i32,
    /// Per host: left of each column, top of each row.
    column_x: Vec<Vec<i32>>,
    row_y: Vec<Vec<i32>>,
    /// Per (host, gutter): x of its first lane; per (host, channel): its top.
    gutter_lane_x: BTreeMap<(usize, usize), i32>,
    channel_top: BTreeMap<(usize, usize), i32>,
    bottom_bus: i32,
    /// Below everything the layout placed.
    pub(super) legend_top: i32,
}

impl<'a> Layout<'a> {
    pub(super) fn new(view: &View<'a>) -> Layout<'a> {
        let (nodes, grids) = place(view);
        let index: BTreeMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.service.name.as_str(), i))
            .collect();
        let mut layout = Layout {
            nodes,
            grids,
            edges: Vec::new(),
            segments: Vec::new(),
            lanes: Vec::new(),
            lane_counts: BTreeMap::new(),
            top_port: Vec::new(),
            bottom_port: Vec::new(),
            top_offset: Vec::new(),
            bottom_offset: Vec::new(),
            entry_ports: Vec::new(),
            box_width: 0,
            badge_lines: Vec::new(),
            geometry: Geometry::default(),
        };
        let mut entry_trunks: BTreeMap<(Entry, usize, usize), usize> = BTreeMap::new();
        for edge in &view.entries {
            let target = index[edge.service.name.as_str()];
            layout.route_entry(edge.entry, target, edge.label.clone(), &mut entry_trunks);
        }
        for dep in &view.dependencies {
            let style = if dep.implicit {
                Style::Implicit
            } else {
                Style::Dependency
            };
            layout.route_dependency(
                index[dep.from.name.as_str()],
                index[dep.to.name.as_str()],
                style,
            );
        }
        layout.assign_lanes();
        layout.assign_ports();
        layout.size_boxes();
        layout.place_ports();
        layout.geometry = layout.measure(view);
        layout
    }

    pub(super) fn box_height(&self, node: usize) -> i32 {
        let (host, row, _) = self.cell(node);
        self.row_height(host, row)
    }

    pub(super) fn box_x(&self, g: &Geometry, node: usize) -> i32 {
        let n = &self.nodes[node];
        g.column_x[n.host][n.column]
    }

    pub(super) fn box_y(&self, g: &Geometry, node: usize) -> i32 {
        let n = &self.nodes[node];
        g.row_y[n.host][n.row]
    }

    pub(super) fn polyline(&self, edge: &Edge) -> Vec<(i32, i32)> {
        let mut points: Vec<(i32, i32)> = Vec::new();
        for &(x, y) in &edge.points {
            let p = (self.x_of(&self.geometry, x), self.y_of(&self.geometry, y));
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
        // Drop points in the middle of a straight run: they are not corners.
        let mut corners: Vec<(i32, i32)> = Vec::new();
        for p in points {
            if corners.len() >= 2 {
                let a = corners[corners.len() - 2];
                let b = corners[corners.len() - 1];
                if (a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1) {
                    corners.pop();
                }
            }
            corners.push(p);
        }
        corners
    }

    /// Each label above `node`: its edge and where its text starts (x, baseline).
    pub(super) fn labels_at(&self, node: usize) -> Vec<(&Edge, i32, i32)> {
        let labels = self.labels_of(node);
        let top = self.box_y(&self.geometry, node) - 2 - labels.len() as i32 * LABEL_LINE;
        let x = self.box_x(&self.geometry, node) + self.label_offset(node);
        labels
            .into_iter()
            .enumerate()
            .map(|(i, edge)| (edge, x, top + (i as i32 + 1) * LABEL_LINE - 3))
            .collect()
    }
}

/// Services of each host on their grid: rows by dependency depth (what a service
/// depends on sits below it), the reverse proxy on top; within a row, a service
/// under the services that depend on it.
fn place<'a>(view: &View<'a>) -> (Vec<Node<'a>>, Vec<Grid>) {
    let mut nodes = Vec::new();
    let mut grids = Vec::new();
    for (h, host) in view.hosts.iter().enumerate() {
        let services = &host.services;
        let position =
            |name: &str| -> Option<usize> { services.iter().position(|s| s.name == name) };
        let depends: Vec<Vec<usize>> = services
            .iter()
            .map(|s| {
                view.dependencies
                    .iter()
                    .filter(|d| d.from.name == s.name)
                    .filter_map(|d| position(&d.to.name))
                    .collect()
            })
            .collect();
        // Longest chain of dependencies below each service; a cycle (which `check`
        // refuses) stops growing after as many rounds as there are services.
        let mut depth = vec![0usize; services.len()];
        for _ in 0..services.len() {
            for i in 0..services.len() {
                let below = depends[i].iter().map(|&d| depth[d] + 1).max().unwrap_or(0);
                depth[i] = depth[i].max(below.min(services.len()));
            }
        }
        let dependents: Vec<Vec<usize>> = (0..services.len())
            .map(|i| {
                (0..services.len())
                    .filter(|&j| depends[j].contains(&i))
                    .collect()
            })
            .collect();
        // Tier 0 at the bottom holds the services with no dependency either way, the
        // dependency depths come above it, the reverse proxy on top.
        let top = depth.iter().copied().max().unwrap_or(0) + 2;
        let tier_of: Vec<usize> = (0..services.len())
            .map(|i| {
                if services[i].kind == Kind::Proxy {
                    top
                } else if depends[i].is_empty() && dependents[i].is_empty() {
                    0
                } else {
                    depth[i] + 1
                }
            })
            .collect();

        // Within a tier, a service goes under the services that depend on it and over
        // those it depends on (barycentre sweeps, both ways).
        let mut tiers: Vec<Vec<usize>> = (0..=top)
            .rev()
            .map(|tier| {
                (0..services.len())
                    .filter(|&i| tier_of[i] == tier)
                    .collect()
            })
            .filter(|tier: &Vec<usize>| !tier.is_empty())
            .collect();
        for _ in 0..SWEEPS {
            for t in 1..tiers.len() {
                reorder(&mut tiers, t, &dependents);
            }
            for t in (0..tiers.len().saturating_sub(1)).rev() {
                reorder(&mut tiers, t, &depends);
            }
        }
        let mut rows: Vec<Vec<usize>> = Vec::new();
        for tier in tiers {
            let per_row = tier.len().div_ceil(tier.len().div_ceil(MAX_COLUMNS));
            rows.extend(tier.chunks(per_row).map(<[usize]>::to_vec));
        }
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        for (r, row) in rows.iter().enumerate() {
            let offset = (columns - row.len()) / 2;
            for (c, &i) in row.iter().enumerate() {
                nodes.push(Node {
                    service: services[i],
                    host: h,
                    row: r,
                    column: offset + c,
                });
            }
        }
        grids.push(Grid {
            columns,
            rows: rows.len(),
        });
    }
    (nodes, grids)
}

/// The widest line of a host's label.
fn host_header_width(host: &super::HostView) -> i32 {
    host_facts(host)
        .iter()
        .map(|f| text_width(f, SMALL_SIZE, false))
        .chain([text_width(&host.host.name, 13.0, true)])
        .max()
        .unwrap_or(0)
}

/// Estimated advance of `text` in Verdana / DejaVu Sans, rounded up.
pub(super) fn text_width(text: &str, size: f64, bold: bool) -> i32 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' | 'I' => 0.32,
            'f' | 't' | 'r' | ' ' | '-' | '/' | '(' | ')' | '[' | ']' => 0.42,
            'm' | 'w' | 'M' | 'W' | '@' | '%' => 0.98,
            c if c.is_ascii_uppercase() => 0.75,
            c if c.is_ascii_digit() => 0.64,
            c if c.is_ascii() => 0.63,
            _ => 1.0,
        })
        .sum();
    let weight = if bold { 1.12 } else { 1.0 };
    (em * size * weight).ceil() as i32
}

pub(super) fn badge_width(network: &str) -> i32 {
    text_width(network, BADGE_SIZE, false) + 10
}

/// A service's network badges, as many to a line as fit in `width`.
fn wrap_badges(networks: &[String], width: i32) -> Vec<Vec<usize>> {
    let mut lines: Vec<Vec<usize>> = Vec::new();
    let mut used = width;
    for (i, network) in networks.iter().enumerate() {
        let w = badge_width(network);
        if used + w > width {
            lines.push(Vec::new());
            used = 0;
        }
        if let Some(line) = lines.last_mut() {
            line.push(i);
        }
        used += w + 4;
    }
    lines
}

pub(super) fn entry_label(view: &View, entry: Entry) -> (String, Option<String>) {
    let detail = match entry {
        Entry::Vpn => view.vpn_cidr.clone(),
        Entry::Internet => None,
    };
    (entry.name().to_string(), detail)
}

fn entry_width(view: &View, entry: Entry) -> i32 {
    let (name, detail) = entry_label(view, entry);
    let detail = detail.map_or(0, |d| text_width(&d, SMALL_SIZE, false));
    text_width(&name, NAME_SIZE, true).max(detail) + 32
}

/// Orders tier `t` by the mean position of each member's `neighbours`; a member
/// without any keeps its place. Positions count from a tier's middle, as rows are
/// centred on the grid.
fn reorder(tiers: &mut [Vec<usize>], t: usize, neighbours: &[Vec<usize>]) {
    let mut position = vec![0.0; neighbours.len()];
    for tier in tiers.iter() {
        for (k, &i) in tier.iter().enumerate() {
            position[i] = k as f64 - (tier.len() - 1) as f64 / 2.0;
        }
    }
    let mut keyed: Vec<(f64, f64, usize)> = tiers[t]
        .iter()
        .map(|&i| {
            let around = &neighbours[i];
            let key = if around.is_empty() {
                position[i]
            } else {
                around.iter().map(|&j| position[j]).sum::<f64>() / around.len() as f64
            };
            (key, position[i], i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    tiers[t] = keyed.into_iter().map(|(_, _, i)| i).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::View;

    /// (left, top, right, bottom)
    type Area = (i32, i32, i32, i32);

    fn overlaps(a: Area, b: Area) -> bool {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    }

    /// A straight piece of line entering the inside of an area (touching its border,
    /// as an arrow does, is fine).
    fn crosses(from: (i32, i32), to: (i32, i32), area: Area) -> bool {
        let line = (
            from.0.min(to.0),
            from.1.min(to.1),
            from.0.max(to.0),
            from.1.max(to.1),
        );
        let inside = (area.0 + 1, area.1 + 1, area.2 - 1, area.3 - 1);
        line.0 <= inside.2 && inside.0 <= line.2 && line.1 <= inside.3 && inside.1 <= line.3
    }

    /// No box overlaps another, no line runs through a box, a label, a host's name or
    /// an entry node, and no label overlaps a box.
    fn assert_readable(dir: &str, env: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let stack =
            crate::stack::load(&path, env).unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
        let view = View::of(&stack);
        let layout = Layout::new(&view);
        let g = &layout.geometry;
        let boxes: Vec<Area> = (0..layout.nodes.len())
            .map(|i| {
                let (x, y) = (layout.box_x(g, i), layout.box_y(g, i));
                (x, y, x + layout.box_width, y + layout.box_height(i))
            })
            .collect();
        let mut obstacles: Vec<(String, Area)> = boxes
            .iter()
            .zip(&layout.nodes)
            .map(|(b, n)| (format!("box {}", n.service.name), *b))
            .collect();
        for i in 0..layout.nodes.len() {
            for (edge, x, y) in layout.labels_at(i) {
                let label = edge.label.as_deref().unwrap_or_default();
                let area = (x, y - 10, x + text_width(label, SMALL_SIZE, false), y + 3);
                for (name, b) in &obstacles {
                    assert!(!overlaps(area, *b), "{dir}: label {label} overlaps {name}");
                }
                obstacles.push((format!("label {label}"), area));
            }
        }
        for (h, host) in view.hosts.iter().enumerate() {
            let (x, y, _, _) = g.clusters[h];
            let area = (
                x + 10,
                y + 8,
                x + 10 + host_header_width(host),
                y + g.header_height - 4,
            );
            obstacles.push((format!("label of host {}", host.host.name), area));
        }
        for (entry, &(x, w, _)) in &g.entries {
            obstacles.push((
                entry.name().to_string(),
                (x, g.entry_top, x + w, g.entry_top + ENTRY_HEIGHT),
            ));
        }
        for (a, first) in boxes.iter().enumerate() {
            for second in &boxes[a + 1..] {
                assert!(!overlaps(*first, *second), "{dir}: boxes overlap");
            }
        }
        for edge in &layout.edges {
            let line = layout.polyline(edge);
            for piece in line.windows(2) {
                for (name, area) in &obstacles {
                    // An entry line starts at the bottom of its entry node.
                    let own_entry = matches!(edge.source, Source::Entry(e) if e.name() == name);
                    assert!(
                        own_entry || !crosses(piece[0], piece[1], *area),
                        "{dir}: a line into {} crosses {name}",
                        layout.nodes[edge.target].service.name
                    );
                }
            }
        }
    }

    #[test]
    fn examples_are_drawn_without_overlaps() {
        for (dir, envs) in [
            ("examples/javisi", &["prod", "preprod"][..]),
            ("examples/accoreboot", &["test", "preprod", "prod"][..]),
            ("examples/local", &["prod"][..]),
            ("tests/graph/crowded", &["prod"][..]),
        ] {
            for env in envs {
                assert_readable(dir, env);
            }
        }
    }

    #[test]
    fn a_dependency_sits_below_its_dependent() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/javisi");
        let stack = crate::stack::load(&path, "prod").unwrap();
        let view = View::of(&stack);
        let layout = Layout::new(&view);
        for edge in layout.edges.iter().filter(|e| e.style == Style::Dependency) {
            let Source::Node(from) = edge.source else {
                continue;
            };
            let (from, to) = (&layout.nodes[from], &layout.nodes[edge.target]);
            if from.host == to.host {
                assert!(
                    from.row < to.row,
                    "{} above {}",
                    from.service.name,
                    to.service.name
                );
            }
        }
    }

    #[test]
    fn badges_wrap_to_the_box() {
        let networks: Vec<String> = ["frontend", "backend", "monitoring"]
            .map(String::from)
            .into();
        let lines = wrap_badges(&networks, 120);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), vec![0, 1, 2]);
        for line in lines {
            let width: i32 = line.iter().map(|&i| badge_width(&networks[i]) + 4).sum();
            assert!(width - 4 <= 120 || line.len() == 1);
        }
    }
}
