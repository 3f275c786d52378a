//! Mesh connectivity, written once for the modules that need it (topology checks,
//! cleanup, simplification, UV charts):
//!
//! * [`sorted_half_edges`]: every triangle edge keyed by its undirected vertex pair and
//!   sorted, so the uses of one edge stand next to each other ([`edge_runs`]). Sorting
//!   instead of hashing keeps every result deterministic;
//! * [`vertex_neighbours`]: the vertices joined to each vertex by an edge, in compressed
//!   rows;
//! * [`DisjointSets`]: union-find with path halving.

/// One use of an edge by a triangle: edge `k` of triangle `t` runs from `t[k]` to
/// `t[(k + 1) % 3]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HalfEdge {
    /// The undirected key: the lower vertex index in the high 32 bits, the higher below.
    pub key: u64,
    /// `3 * triangle + k`.
    pub id: u32,
    /// Whether the triangle traverses the edge from the lower to the higher index.
    pub forward: bool,
}

impl HalfEdge {
    /// The triangle using the edge.
    pub fn triangle(self) -> u32 {
        self.id / 3
    }

    /// Which of the triangle's three edges it is.
    pub fn corner(self) -> usize {
        (self.id % 3) as usize
    }

    /// Whether both ends are the same vertex.
    pub fn is_degenerate(self) -> bool {
        (self.key >> 32) as u32 == self.key as u32
    }
}

/// The three half-edges of every triangle, sorted by undirected key (then by id).
pub(crate) fn sorted_half_edges(triangles: &[[u32; 3]]) -> Vec<HalfEdge> {
    let mut half = Vec::with_capacity(triangles.len() * 3);
    for (ti, t) in triangles.iter().enumerate() {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            half.push(HalfEdge {
                key: (u64::from(a.min(b)) << 32) | u64::from(a.max(b)),
                id: (ti as u32) * 3 + k as u32,
                forward: a < b,
            });
        }
    }
    half.sort_unstable();
    half
}

/// The uses of each distinct edge, as runs of [`sorted_half_edges`]'s output.
pub(crate) fn edge_runs(sorted: &[HalfEdge]) -> impl Iterator<Item = &[HalfEdge]> {
    sorted.chunk_by(|a, b| a.key == b.key)
}

/// Vertex neighbours through triangle edges in compressed rows `(start, neighbours)`:
/// the neighbours of `v` are `neighbours[start[v]..start[v + 1]]`, sorted, each once.
pub(crate) fn vertex_neighbours(vertices: usize, triangles: &[[u32; 3]]) -> (Vec<u32>, Vec<u32>) {
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(triangles.len() * 6);
    for t in triangles {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            pairs.push((a, b));
            pairs.push((b, a));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut start = vec![0u32; vertices + 1];
    for &(a, _) in &pairs {
        start[a as usize + 1] += 1;
    }
    for i in 0..vertices {
        start[i + 1] += start[i];
    }
    (start, pairs.into_iter().map(|(_, b)| b).collect())
}

/// Union-find over `0..n` with path halving.
#[derive(Debug, Clone, Default)]
pub(crate) struct DisjointSets {
    parent: Vec<u32>,
}

impl DisjointSets {
    /// `n` singleton sets.
    pub fn new(n: usize) -> Self {
        let mut s = Self::default();
        s.reset(n);
        s
    }

    /// Back to `n` singleton sets, reusing the buffer.
    pub fn reset(&mut self, n: usize) {
        self.parent.clear();
        self.parent.extend(0..n as u32);
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        let p = &mut self.parent;
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }

    /// Joins the sets of `a` and `b`; `a`'s representative stays the representative.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[rb as usize] = ra;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_the_uses_of_each_edge() {
        // Two triangles sharing edge (1, 2), traversed in opposite directions.
        let edges = sorted_half_edges(&[[0, 1, 2], [2, 1, 3]]);
        let runs: Vec<&[HalfEdge]> = edge_runs(&edges).collect();
        assert_eq!(runs.len(), 5);
        let shared: Vec<_> = runs.iter().filter(|r| r.len() == 2).collect();
        assert_eq!(shared.len(), 1);
        let r = shared[0];
        assert_eq!((r[0].triangle(), r[0].corner()), (0, 1));
        assert_eq!((r[1].triangle(), r[1].corner()), (1, 0));
        assert_ne!(r[0].forward, r[1].forward);
        assert!(!r[0].is_degenerate());
        assert!(sorted_half_edges(&[[4, 4, 5]])[0].is_degenerate());
    }

    #[test]
    fn vertex_neighbours_of_a_quad() {
        let (start, nb) = vertex_neighbours(4, &[[0, 1, 2], [0, 2, 3]]);
        assert_eq!(start, [0, 3, 5, 8, 10]);
        assert_eq!(&nb[0..3], [1, 2, 3]);
        assert_eq!(&nb[3..5], [0, 2]);
    }

    #[test]
    fn disjoint_sets_join_and_reset() {
        let mut s = DisjointSets::new(5);
        s.union(0, 1);
        s.union(3, 1);
        assert_eq!(s.find(1), s.find(3));
        assert_eq!(s.find(1), 3, "the first argument's representative stays");
        assert_ne!(s.find(2), s.find(0));
        s.reset(2);
        assert_ne!(s.find(0), s.find(1));
    }
}
