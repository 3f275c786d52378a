//! Topological checks of a [`Mesh`]: closedness, edge and vertex manifoldness, consistent
//! orientation, degenerate triangles, duplicate vertices, connected components and the
//! Euler characteristic. Used by tests at every stage and by the cleanup stage.
//!
//! Everything is computed by sorting edge keys (no hash maps), so results are
//! deterministic.

use crate::Mesh;
use crate::connectivity::{DisjointSets, edge_runs, sorted_half_edges};
use crate::mesh::{cross, length, sub};

/// What [`analyze`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TopologyReport {
    /// Vertices referenced by at least one triangle.
    pub used_vertices: usize,
    /// Vertices referenced by no triangle.
    pub unused_vertices: usize,
    /// Distinct undirected edges.
    pub edges: usize,
    /// Triangles.
    pub triangles: usize,
    /// Edges used by exactly one triangle (holes).
    pub boundary_edges: usize,
    /// Edges used by more than two triangles.
    pub nonmanifold_edges: usize,
    /// Edges shared by two triangles that traverse it in the same direction (flipped
    /// neighbours).
    pub misoriented_edges: usize,
    /// Vertices whose incident triangles form more than one fan (pinch points).
    pub nonmanifold_vertices: usize,
    /// Triangles with a repeated index or zero area.
    pub degenerate_triangles: usize,
    /// Pairs of distinct vertices at exactly the same position (after sorting, counted once
    /// per extra copy).
    pub duplicate_vertices: usize,
    /// Connected components (triangles connected through shared vertices).
    pub components: usize,
}

impl TopologyReport {
    /// Every edge in exactly two triangles, consistently oriented, manifold vertices, no
    /// degenerate triangles, no duplicate vertices.
    pub fn is_closed_manifold(&self) -> bool {
        self.boundary_edges == 0
            && self.nonmanifold_edges == 0
            && self.misoriented_edges == 0
            && self.nonmanifold_vertices == 0
            && self.degenerate_triangles == 0
            && self.duplicate_vertices == 0
            && self.triangles > 0
    }

    /// Euler characteristic `V - E + F` over the used vertices (2 per sphere-like closed
    /// component, 0 per torus).
    pub fn euler_characteristic(&self) -> i64 {
        self.used_vertices as i64 - self.edges as i64 + self.triangles as i64
    }
}

/// Analyses the topology of `mesh`. The mesh must have valid indices
/// ([`Mesh::validate`]).
pub fn analyze(mesh: &Mesh) -> TopologyReport {
    let n = mesh.positions.len();
    let tris = &mesh.triangles;
    let mut report = TopologyReport {
        triangles: tris.len(),
        ..Default::default()
    };

    // Used vertices.
    let mut used = vec![false; n];
    for t in tris {
        for &v in t {
            used[v as usize] = true;
        }
    }
    report.used_vertices = used.iter().filter(|&&u| u).count();
    report.unused_vertices = n - report.used_vertices;

    // Degenerate triangles.
    report.degenerate_triangles = tris
        .iter()
        .filter(|t| {
            if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
                return true;
            }
            let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
            length(cross(sub(b, a), sub(c, a))) <= 0.0
        })
        .count();

    // Edges (a degenerate edge, both ends one vertex, is no edge).
    let half = sorted_half_edges(tris);
    for run in edge_runs(&half).filter(|r| !r[0].is_degenerate()) {
        report.edges += 1;
        match run.len() {
            1 => report.boundary_edges += 1,
            2 => {
                if run[0].forward == run[1].forward {
                    report.misoriented_edges += 1;
                }
            }
            _ => report.nonmanifold_edges += 1,
        }
    }

    // Components over triangles, joined through shared vertices (union-find on vertices).
    let mut sets = DisjointSets::new(n);
    for t in tris {
        for &v in &t[1..] {
            sets.union(t[0], v);
        }
    }
    let mut roots: Vec<u32> = (0..n as u32)
        .filter(|&v| used[v as usize])
        .map(|v| sets.find(v))
        .collect();
    roots.sort_unstable();
    roots.dedup();
    report.components = roots.len();

    // Non-manifold vertices: the triangles around a vertex must form a single fan, i.e.
    // be connected through edges that contain the vertex.
    report.nonmanifold_vertices = count_nonmanifold_vertices(n, tris);

    // Duplicate vertices (exact positional duplicates among used vertices).
    let mut keyed: Vec<[u32; 3]> = (0..n)
        .filter(|&v| used[v])
        .map(|v| mesh.positions[v].map(|c| if c == 0.0 { 0 } else { c.to_bits() }))
        .collect();
    keyed.sort_unstable();
    report.duplicate_vertices = keyed.windows(2).filter(|w| w[0] == w[1]).count();

    report
}

fn count_nonmanifold_vertices(n: usize, tris: &[[u32; 3]]) -> usize {
    // CSR of vertex -> incident triangles.
    let mut start = vec![0u32; n + 1];
    for t in tris {
        for &v in t {
            start[v as usize + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut incident = vec![0u32; tris.len() * 3];
    for (ti, t) in tris.iter().enumerate() {
        for &v in t {
            incident[fill[v as usize] as usize] = ti as u32;
            fill[v as usize] += 1;
        }
    }
    let mut bad = 0;
    // Scratch reused across vertices: for each incident triangle, its two other vertices.
    let mut links: Vec<(u32, u32)> = Vec::new();
    let mut comp = DisjointSets::default();
    for v in 0..n {
        let inc = &incident[start[v] as usize..start[v + 1] as usize];
        if inc.len() < 2 {
            continue;
        }
        links.clear();
        for &ti in inc {
            let t = tris[ti as usize];
            let others: Vec<u32> = t.iter().copied().filter(|&x| x != v as u32).collect();
            if others.len() == 2 {
                links.push((others[0], others[1]));
            }
        }
        // Union-find over the link's triangles via shared "other" vertices.
        comp.reset(links.len());
        for a in 0..links.len() {
            for b in a + 1..links.len() {
                let (p, q) = (links[a], links[b]);
                if p.0 == q.0 || p.0 == q.1 || p.1 == q.0 || p.1 == q.1 {
                    comp.union(b as u32, a as u32);
                }
            }
        }
        let r0 = comp.find(0);
        if (1..links.len() as u32).any(|k| comp.find(k) != r0) {
            bad += 1;
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tetra() -> Mesh {
        Mesh::from_triangles(
            vec![
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
            ],
            vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        )
    }

    #[test]
    fn tetrahedron_is_closed() {
        let r = analyze(&tetra());
        assert!(r.is_closed_manifold(), "{r:?}");
        assert_eq!(r.euler_characteristic(), 2);
        assert_eq!(r.components, 1);
    }

    #[test]
    fn open_and_flipped_are_detected() {
        let mut m = tetra();
        m.triangles.pop();
        let r = analyze(&m);
        assert_eq!(r.boundary_edges, 3);

        let mut m = tetra();
        m.triangles[3] = [1, 3, 2];
        let r = analyze(&m);
        assert_eq!(r.misoriented_edges, 3);
        assert!(!r.is_closed_manifold());
    }

    #[test]
    fn pinch_vertex_is_detected() {
        // Two tetrahedra sharing only vertex 0:
        //
        //   tetra A: 0,1,2,3      tetra B: 0,4,5,6 (mirrored through the origin)
        let mut m = tetra();
        m.positions
            .extend([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]);
        m.triangles
            .extend([[0, 4, 5], [0, 6, 4], [0, 5, 6], [4, 6, 5]]);
        let r = analyze(&m);
        assert_eq!(r.nonmanifold_vertices, 1);
        assert_eq!(r.components, 1);
        assert!(!r.is_closed_manifold());
    }

    #[test]
    fn duplicates_and_degenerates() {
        let mut m = tetra();
        m.positions.push([1.0, 0.0, 0.0]);
        m.triangles.push([4, 2, 3]);
        m.triangles.push([0, 0, 1]);
        let r = analyze(&m);
        assert_eq!(r.duplicate_vertices, 1);
        assert_eq!(r.degenerate_triangles, 1);
    }
}
