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

    fn segment(&mut self, track: Track, a: i32, b: i32) -> usize {
        self.segments.push(Segment {
            track,
            lo: a.min(b),
            hi: a.max(b),
        });
        self.segments.len() - 1
    }

    /// Entry bus -> down a gutter of the target's host -> along the channel above the
    /// target's row -> into its top. Gutter 0 is never used: the host's name is there.
    fn route_entry(
        &mut self,
        entry: Entry,
        target: usize,
        label: String,
        trunks: &mut BTreeMap<(Entry, usize, usize), usize>,
    ) {
        let (host, row, column) = self.cell(target);
        let gutter = column.max(1);
        let trunk = *trunks.entry((entry, host, gutter)).or_insert_with(|| {
            self.segments.push(Segment {
                track: Track::Gutter {
                    host,
                    index: gutter,
                },
                lo: -1,
                hi: -1,
            });
            self.segments.len() - 1
        });
        let depth = 2 * row as i32;
        self.segments[trunk].hi = self.segments[trunk].hi.max(depth);
        let channel = self.segment(
            Track::Channel { host, index: row },
            2 * gutter as i32,
            2 * column as i32 + 1,
        );
        let id = self.edges.len();
        self.edges.push(Edge {
            source: Source::Entry(entry),
            target,
            style: Style::Entry(entry),
            label: Some(label),
            points: vec![
                (X::Trunk(entry), Y::EntryBottom),
                (X::Trunk(entry), Y::TopBus(entry)),
                (X::Gutter(trunk), Y::TopBus(entry)),
                (X::Gutter(trunk), Y::Lane(channel)),
                (X::TopPort(id), Y::Lane(channel)),
                (X::TopPort(id), Y::NodeTop(target)),
            ],
            departure: 0,
            approach: 2 * gutter as i32,
            straight: false,
        });
    }

    /// From the source's bottom into the channel below it; to the next row directly,
    /// further (or upwards, or to another host) through gutters.
    fn route_dependency(&mut self, from: usize, to: usize, style: Style) {
        let (host_a, row_a, col_a) = self.cell(from);
        let (host_b, row_b, col_b) = self.cell(to);
        let id = self.edges.len();
        let slot = |column: usize| 2 * column as i32 + 1;
        let below = row_a + 1;
        let (points, departure, approach) = if host_a == host_b && row_b == below {
            let lane = self.segment(
                Track::Channel {
                    host: host_a,
                    index: below,
                },
                slot(col_a),
                slot(col_b),
            );
            (
                vec![
                    (X::BottomPort(id), Y::NodeBottom(from)),
                    (X::BottomPort(id), Y::Lane(lane)),
                    (X::TopPort(id), Y::Lane(lane)),
                    (X::TopPort(id), Y::NodeTop(to)),
                ],
                slot(col_b),
                slot(col_a),
            )
        } else if host_a == host_b {
            let gutter = if col_a > col_b { col_b + 1 } else { col_b };
            let g = 2 * gutter as i32;
            let first = self.segment(
                Track::Channel {
                    host: host_a,
                    index: below,
                },
                slot(col_a),
                g,
            );
            let down = self.segment(
                Track::Gutter {
                    host: host_a,
                    index: gutter,
                },
                2 * below as i32,
                2 * row_b as i32,
            );
            let last = self.segment(
                Track::Channel {
                    host: host_b,
                    index: row_b,
                },
                g,
                slot(col_b),
            );
            (
                vec![
                    (X::BottomPort(id), Y::NodeBottom(from)),
                    (X::BottomPort(id), Y::Lane(first)),
                    (X::Gutter(down), Y::Lane(first)),
                    (X::Gutter(down), Y::Lane(last)),
                    (X::TopPort(id), Y::Lane(last)),
                    (X::TopPort(id), Y::NodeTop(to)),
                ],
                g,
                g,
            )
        } else {
            let gutter_a = if host_b > host_a { col_a + 1 } else { col_a };
            let gutter_b = if host_a < host_b { col_b } else { col_b + 1 };
            let first = self.segment(
                Track::Channel {
                    host: host_a,
                    index: below,
                },
                slot(col_a),
                2 * gutter_a as i32,
            );
            let bottom_a = 2 * self.grids[host_a].rows as i32 + 1;
            let bottom_b = 2 * self.grids[host_b].rows as i32 + 1;
            let down = self.segment(
                Track::Gutter {
                    host: host_a,
                    index: gutter_a,
                },
                2 * below as i32,
                bottom_a,
            );
            let bus = self.segment(Track::BottomBus, 0, 0);
            let up = self.segment(
                Track::Gutter {
                    host: host_b,
                    index: gutter_b,
                },
                2 * row_b as i32,
                bottom_b,
            );
            let last = self.segment(
                Track::Channel {
                    host: host_b,
                    index: row_b,
                },
                2 * gutter_b as i32,
                slot(col_b),
            );
            (
                vec![
                    (X::BottomPort(id), Y::NodeBottom(from)),
                    (X::BottomPort(id), Y::Lane(first)),
                    (X::Gutter(down), Y::Lane(first)),
                    (X::Gutter(down), Y::Lane(bus)),
                    (X::Gutter(up), Y::Lane(bus)),
                    (X::Gutter(up), Y::Lane(last)),
                    (X::TopPort(id), Y::Lane(last)),
                    (X::TopPort(id), Y::NodeTop(to)),
                ],
                2 * gutter_a as i32,
                2 * gutter_b as i32,
            )
        };
        self.edges.push(Edge {
            source: Source::Node(from),
            target: to,
            style,
            label: None,
            points,
            departure,
            approach,
            straight: host_a == host_b && row_b == below && col_a == col_b,
        });
    }

    fn cell(&self, node: usize) -> (usize, usize, usize) {
        let n = &self.nodes[node];
        (n.host, n.row, n.column)
    }

    /// First-fit lanes per track: segments that share slots get different lanes.
    fn assign_lanes(&mut self) {
        let mut by_track: BTreeMap<Track, Vec<usize>> = BTreeMap::new();
        for (id, s) in self.segments.iter().enumerate() {
            by_track.entry(s.track).or_default().push(id);
        }
        self.lanes = vec![0; self.segments.len()];
        for (track, mut ids) in by_track {
            ids.sort_by_key(|&id| (self.segments[id].lo, self.segments[id].hi, id));
            let mut lane_ends: Vec<i32> = Vec::new();
            for id in ids {
                let s = &self.segments[id];
                let lane = match lane_ends.iter().position(|&end| end < s.lo) {
                    Some(free) => free,
                    None => {
                        lane_ends.push(i32::MIN);
                        lane_ends.len() - 1
                    }
                };
                lane_ends[lane] = s.hi;
                self.lanes[id] = lane as i32;
            }
            self.lane_counts.insert(track, lane_ends.len() as i32);
        }
    }

    /// Entry edges take the left end of a box's top, under their labels' left edge;
    /// dependencies the rest, in the order their lines arrive from.
    fn assign_ports(&mut self) {
        let count = self.edges.len();
        self.top_port = vec![0; count];
        self.bottom_port = vec![0; count];
        self.entry_ports = vec![0; self.nodes.len()];
        for node in 0..self.nodes.len() {
            let mut entries: Vec<usize> = (0..count)
                .filter(|&e| {
                    self.edges[e].target == node && matches!(self.edges[e].source, Source::Entry(_))
                })
                .collect();
            let mut incoming: Vec<usize> = (0..count)
                .filter(|&e| {
                    self.edges[e].target == node && matches!(self.edges[e].source, Source::Node(_))
                })
                .collect();
            incoming.sort_by_key(|&e| (self.edges[e].approach, e));
            self.entry_ports[node] = entries.len();
            entries.append(&mut incoming);
            for (port, e) in entries.into_iter().enumerate() {
                self.top_port[e] = port;
            }
            let mut outgoing: Vec<usize> = (0..count)
                .filter(|&e| self.edges[e].source == Source::Node(node))
                .collect();
            outgoing.sort_by_key(|&e| (self.edges[e].departure, e));
            for (port, e) in outgoing.into_iter().enumerate() {
                self.bottom_port[e] = port;
            }
        }
    }

    /// The labelled (entry) edges into `node`, in port order.
    fn labels_of(&self, node: usize) -> Vec<&Edge> {
        let mut labelled: Vec<(usize, &Edge)> = self
            .edges
            .iter()
            .enumerate()
            .filter(|(_, e)| e.target == node && e.label.is_some())
            .map(|(i, e)| (self.top_port[i], e))
            .collect();
        labelled.sort_by_key(|(port, _)| *port);
        labelled.into_iter().map(|(_, e)| e).collect()
    }

    fn dependency_ports(&self, node: usize) -> usize {
        self.edges
            .iter()
            .filter(|e| e.target == node && matches!(e.source, Source::Node(_)))
            .count()
    }

    /// One width for every box, decided by the widest content, and each box's badges
    /// in lines of that width.
    fn size_boxes(&mut self) {
        let mut width = MIN_BOX_WIDTH;
        for (i, node) in self.nodes.iter().enumerate() {
            let s = node.service;
            let port = port_label(s).map_or(0, |p| text_width(&p, SMALL_SIZE, false) + 10);
            width = width.max(2 * BOX_PAD + text_width(&s.name, NAME_SIZE, true) + port);
            width = width.max(2 * BOX_PAD + text_width(&short_image(&s.image), SMALL_SIZE, false));
            for network in &s.networks {
                width = width.max(2 * BOX_PAD + badge_width(network));
            }
            let labels = self
                .labels_of(i)
                .iter()
                .filter_map(|e| e.label.as_deref())
                .map(|l| text_width(l, SMALL_SIZE, false))
                .max()
                .unwrap_or(0);
            let entry_ports = self.entry_ports[i] as i32;
            let dependency_ports = self.dependency_ports(i) as i32;
            width = width.max(
                BOX_PAD
                    + entry_ports * LANE
                    + 4
                    + labels
                    + (dependency_ports + 1) * 2 * LANE
                    + BOX_PAD,
            );
        }
        self.box_width = (width + 7) / 8 * 8;
        let inner = self.box_width - 2 * BOX_PAD;
        self.badge_lines = self
            .nodes
            .iter()
            .map(|n| wrap_badges(&n.service.networks, inner))
            .collect();
    }

    /// Boxes of a row share the height of the one with most badge lines.
    fn row_height(&self, host: usize, row: usize) -> i32 {
        let lines = (0..self.nodes.len())
            .filter(|&i| self.cell(i).0 == host && self.cell(i).1 == row)
            .map(|i| self.badge_lines[i].len() as i32)
            .max()
            .unwrap_or(0);
        let badges = if lines > 0 {
            6 + lines * (BADGE_HEIGHT + 3)
        } else {
            0
        };
        BOX_PAD + 13 + 4 + 11 + badges + BOX_PAD - 2
    }

    pub(super) fn box_height(&self, node: usize) -> i32 {
        let (host, row, _) = self.cell(node);
        self.row_height(host, row)
    }

    fn lanes_of(&self, track: Track) -> i32 {
        self.lane_counts.get(&track).copied().unwrap_or(0)
    }

    fn label_lines(&self, host: usize, row: usize) -> i32 {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].host == host && self.nodes[i].row == row)
            .map(|i| self.labels_of(i).len() as i32)
            .max()
            .unwrap_or(0)
    }

    fn measure(&self, view: &View) -> Geometry {
        let mut g = Geometry::default();
        let entries = view.entry_points();
        let mut y = MARGIN + 26;
        if !entries.is_empty() {
            g.entry_top = y;
            y += ENTRY_HEIGHT + 14;
            for (i, entry) in entries.iter().enumerate() {
                g.top_bus.insert(*entry, y + i as i32 * LANE);
            }
            y += (entries.len() as i32 - 1) * LANE + 16;
        }
        let clusters_top = y;
        let facts = view
            .hosts
            .iter()
            .map(|h| host_facts(h).len() as i32)
            .max()
            .unwrap_or(0);
        g.header_height = 10 + 14 + facts * HOST_LINE + 4;

        let mut x = MARGIN;
        let mut clusters_bottom = clusters_top;
        for (h, host) in view.hosts.iter().enumerate() {
            let grid = &self.grids[h];
            let mut columns = Vec::new();
            let mut width = 0;
            if grid.columns == 0 {
                width = (host_header_width(host) + 20).max(170);
            } else {
                // Entry lines come down gutter 1 and later ones: they pass right of
                // the host's label, which may need gutter 0 wider.
                let label = host_header_width(host) + 9 - self.box_width;
                for gutter in 0..=grid.columns {
                    let lanes = self.lanes_of(Track::Gutter {
                        host: h,
                        index: gutter,
                    });
                    let mut gutter_width = MIN_GUTTER.max(lanes * LANE + 12);
                    if gutter == 0 {
                        gutter_width = gutter_width.max(label);
                    }
                    let first = x + width + (gutter_width - (lanes - 1).max(0) * LANE) / 2;
                    g.gutter_lane_x.insert((h, gutter), first);
                    width += gutter_width;
                    if gutter < grid.columns {
                        columns.push(x + width);
                        width += self.box_width;
                    }
                }
            }
            let mut rows = Vec::new();
            let mut height = g.header_height;
            if grid.columns == 0 {
                height += 36;
            } else {
                for channel in 0..=grid.rows {
                    let lanes = self.lanes_of(Track::Channel {
                        host: h,
                        index: channel,
                    });
                    let labels = if channel < grid.rows {
                        self.label_lines(h, channel) * LABEL_LINE
                    } else {
                        0
                    };
                    let minimum = if channel == 0 || channel == grid.rows {
                        12
                    } else {
                        26
                    };
                    let channel_height = minimum.max(8 + lanes * LANE + labels + 4);
                    g.channel_top.insert((h, channel), clusters_top + height);
                    height += channel_height;
                    if channel < grid.rows {
                        rows.push(clusters_top + height);
                        height += self.row_height(h, channel);
                    }
                }
            }
            g.clusters.push((x, clusters_top, width, height));
            g.column_x.push(columns);
            g.row_y.push(rows);
            clusters_bottom = clusters_bottom.max(clusters_top + height);
            x += width + CLUSTER_GAP;
        }
        let mut width = x - CLUSTER_GAP + MARGIN;
        y = clusters_bottom;
        let bus_lanes = self.lanes_of(Track::BottomBus);
        if bus_lanes > 0 {
            g.bottom_bus = y + 14;
            y += 14 + bus_lanes * LANE + 6;
        }
        g.legend_top = y + 24;

        // Entry nodes centred over the lines they feed, pushed apart when they meet.
        let mut placed: Vec<(Entry, i32, i32)> = entries
            .iter()
            .map(|&entry| {
                let xs: Vec<i32> = self
                    .edges
                    .iter()
                    .filter(|e| e.source == Source::Entry(entry))
                    .map(|e| self.x_of(&g, e.points[2].0))
                    .collect();
                let (lo, hi) = (
                    xs.iter().copied().min().unwrap_or(MARGIN),
                    xs.iter().copied().max().unwrap_or(MARGIN),
                );
                (entry, (lo + hi) / 2, entry_width(view, entry))
            })
            .collect();
        placed.sort_by_key(|&(entry, centre, _)| (centre, entry));
        let mut left = MARGIN;
        for (entry, centre, w) in placed {
            let x = (centre - w / 2).max(left);
            g.entries.insert(entry, (x, w, x + w / 2));
            left = x + w + 24;
            width = width.max(x + w + MARGIN);
        }
        // A trunk must not run along a gutter line of the other entry.
        let gutter_xs: BTreeSet<i32> = self
            .edges
            .iter()
            .filter(|e| matches!(e.source, Source::Entry(_)))
            .map(|e| self.x_of(&g, e.points[2].0))
            .collect();
        for (_, _, trunk) in g.entries.values_mut() {
            while gutter_xs.contains(trunk) {
                *trunk += 3;
            }
        }
        g.width = width;
        g
    }

    fn x_of(&self, g: &Geometry, x: X) -> i32 {
        match x {
            X::Trunk(entry) => g.entries.get(&entry).map_or(0, |e| e.2),
            X::Gutter(segment) => {
                let Track::Gutter { host, index } = self.segments[segment].track else {
                    return 0;
                };
                g.gutter_lane_x[&(host, index)] + self.lanes[segment] * LANE
            }
            X::TopPort(edge) => self.box_x(g, self.edges[edge].target) + self.top_offset[edge],
            X::BottomPort(edge) => match self.edges[edge].source {
                Source::Node(source) => self.box_x(g, source) + self.bottom_offset[edge],
                Source::Entry(_) => 0,
            },
        }
    }

    fn y_of(&self, g: &Geometry, y: Y) -> i32 {
        match y {
            Y::EntryBottom => g.entry_top + ENTRY_HEIGHT,
            Y::TopBus(entry) => g.top_bus.get(&entry).copied().unwrap_or(0),
            Y::Lane(segment) => match self.segments[segment].track {
                Track::Channel { host, index } => {
                    g.channel_top[&(host, index)] + 8 + self.lanes[segment] * LANE
                }
                Track::BottomBus => g.bottom_bus + self.lanes[segment] * LANE,
                Track::Gutter { .. } => 0,
            },
            Y::NodeTop(node) => self.box_y(g, node),
            Y::NodeBottom(node) => self.box_y(g, node) + self.box_height(node),
        }
    }

    pub(super) fn box_x(&self, g: &Geometry, node: usize) -> i32 {
        let n = &self.nodes[node];
        g.column_x[n.host][n.column]
    }

    pub(super) fn box_y(&self, g: &Geometry, node: usize) -> i32 {
        let n = &self.nodes[node];
        g.row_y[n.host][n.row]
    }

    /// Where the route labels above a box end, from its left edge.
    fn label_end(&self, node: usize) -> i32 {
        let widest = self
            .labels_of(node)
            .iter()
            .filter_map(|e| e.label.as_deref())
            .map(|l| text_width(l, SMALL_SIZE, false))
            .max();
        match widest {
            Some(widest) => self.label_offset(node) + widest + LANE,
            None => BOX_PAD,
        }
    }

    fn label_offset(&self, node: usize) -> i32 {
        BOX_PAD + self.entry_ports[node] as i32 * LANE + 2
    }

    /// The box right below `node` on its host's grid.
    fn below(&self, node: usize) -> Option<usize> {
        let (host, row, column) = self.cell(node);
        (0..self.nodes.len()).find(|&i| self.cell(i) == (host, row + 1, column))
    }

    /// Ports as offsets from a box's left edge. Entry ports sit left of the labels,
    /// dependency ports share the rest of the top. Bottom ports sit on the odd half of
    /// the 4 px grid, so they never run on a top port's line, and keep 12 px from the
    /// top ports of the box right below, whose lines share the channel.
    fn place_ports(&mut self) {
        let count = self.edges.len();
        self.top_offset = vec![0; count];
        self.bottom_offset = vec![0; count];
        for e in 0..count {
            let target = self.edges[e].target;
            let port = self.top_port[e] as i32;
            let entries = self.entry_ports[target] as i32;
            self.top_offset[e] = if port < entries {
                BOX_PAD + port * LANE
            } else {
                let labels = self.label_end(target);
                let ports = self.dependency_ports(target) as i32;
                let step = (self.box_width - labels - BOX_PAD) / (ports + 1);
                (labels + step * (port - entries + 1)) / 8 * 8
            };
        }
        for e in 0..count {
            let Source::Node(source) = self.edges[e].source else {
                continue;
            };
            if self.edges[e].straight {
                self.bottom_offset[e] = self.top_offset[e];
                continue;
            }
            let outgoing: Vec<usize> = (0..count)
                .filter(|&x| self.edges[x].source == Source::Node(source))
                .collect();
            let step = self.box_width / (outgoing.len() as i32 + 1);
            let wanted = step * (self.bottom_port[e] as i32 + 1) / 8 * 8 + 4;
            let below: Vec<i32> = self.below(source).map_or(Vec::new(), |b| {
                (0..count)
                    .filter(|&x| self.edges[x].target == b)
                    .map(|x| self.top_offset[x])
                    .collect()
            });
            let taken: Vec<i32> = outgoing
                .iter()
                .filter(|&&x| x < e || self.edges[x].straight)
                .map(|&x| self.bottom_offset[x])
                .collect();
            let free = |x: i32| {
                (BOX_PAD..=self.box_width - BOX_PAD).contains(&x)
                    && !taken.contains(&x)
                    && below.iter().all(|t| (x - t).abs() >= 12)
            };
            self.bottom_offset[e] = (0..self.box_width / 8)
                .flat_map(|k| [wanted + 8 * k, wanted - 8 * k])
                .find(|&x| free(x))
                .unwrap_or(wanted);
        }
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
