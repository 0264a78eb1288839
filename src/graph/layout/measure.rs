//! Sizes and coordinates: box widths and row heights from their labels, then the
//! x and y of every column, row, gutter lane and channel.

use super::*;

impl<'a> Layout<'a> {
    /// One width for every box, decided by the widest content, and each box's badges
    /// in lines of that width.
    pub(super) fn size_boxes(&mut self) {
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
    pub(super) fn row_height(&self, host: usize, row: usize) -> i32 {
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

    pub(super) fn lanes_of(&self, track: Track) -> i32 {
        self.lane_counts.get(&track).copied().unwrap_or(0)
    }

    pub(super) fn label_lines(&self, host: usize, row: usize) -> i32 {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].host == host && self.nodes[i].row == row)
            .map(|i| self.labels_of(i).len() as i32)
            .max()
            .unwrap_or(0)
    }

    pub(super) fn measure(&self, view: &View) -> Geometry {
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

    pub(super) fn x_of(&self, g: &Geometry, x: X) -> i32 {
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

    pub(super) fn y_of(&self, g: &Geometry, y: Y) -> i32 {
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

    /// Where the route labels above a box end, from its left edge.
    pub(super) fn label_end(&self, node: usize) -> i32 {
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

    pub(super) fn label_offset(&self, node: usize) -> i32 {
        BOX_PAD + self.entry_ports[node] as i32 * LANE + 2
    }

    /// The box right below `node` on its host's grid.
    pub(super) fn below(&self, node: usize) -> Option<usize> {
        let (host, row, column) = self.cell(node);
        (0..self.nodes.len()).find(|&i| self.cell(i) == (host, row + 1, column))
    }
}
