//! Edges: each dependency and entry routed as orthogonal segments through the
//! gutters and channels, segments given lanes, and the ports where lines meet boxes.

use super::*;

impl<'a> Layout<'a> {
    pub(super) fn segment(&mut self, track: Track, a: i32, b: i32) -> usize {
        self.segments.push(Segment {
            track,
            lo: a.min(b),
            hi: a.max(b),
        });
        self.segments.len() - 1
    }

    /// Entry bus -> down a gutter of the target's host -> along the channel above the
    /// target's row -> into its top. Gutter 0 is never used: the host's name is there.
    pub(super) fn route_entry(
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
    pub(super) fn route_dependency(&mut self, from: usize, to: usize, style: Style) {
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

    pub(super) fn cell(&self, node: usize) -> (usize, usize, usize) {
        let n = &self.nodes[node];
        (n.host, n.row, n.column)
    }

    /// First-fit lanes per track: segments that share slots get different lanes.
    pub(super) fn assign_lanes(&mut self) {
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
    pub(super) fn assign_ports(&mut self) {
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
    pub(super) fn labels_of(&self, node: usize) -> Vec<&Edge> {
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

    pub(super) fn dependency_ports(&self, node: usize) -> usize {
        self.edges
            .iter()
            .filter(|e| e.target == node && matches!(e.source, Source::Node(_)))
            .count()
    }

    /// Ports as offsets from a box's left edge. Entry ports sit left of the labels,
    /// dependency ports share the rest of the top. Bottom ports sit on the odd half of
    /// the 4 px grid, so they never run on a top port's line, and keep 12 px from the
    /// top ports of the box right below, whose lines share the channel.
    pub(super) fn place_ports(&mut self) {
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
}
