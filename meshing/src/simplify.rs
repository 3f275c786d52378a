//! Simplification to a triangle budget with quadric error metrics, through meshoptimizer
//! (`meshopt` crate, `meshopt_simplifyWithAttributes`): edge collapses ordered by the
//! quadric error of positions plus weighted vertex attributes (colors, normals, UVs), so
//! color and shading boundaries survive. meshoptimizer only collapses edges that keep the
//! topology (it refuses collapses that would open a closed surface or flip triangles), so
//! a closed mesh stays closed; vertices keep their original positions and attributes.

use crate::cleanup::filter_triangles;
use crate::connectivity::{edge_runs, sorted_half_edges, vertex_neighbours};
use crate::{Error, Mesh, Result};

/// Rounds of "simplify, lock the vertices around non-manifold edges, simplify again".
const MAX_LOCK_ROUNDS: usize = 8;

/// Vertices of the triangles that touch an edge not shared by exactly two consistently
/// oriented triangles.
fn edge_defects(triangles: &[[u32; 3]]) -> Vec<u32> {
    let half = sorted_half_edges(triangles);
    let mut out = Vec::new();
    for run in edge_runs(&half) {
        let bad = run.len() != 2 || run[0].forward == run[1].forward;
        if bad {
            for e in run {
                out.extend(triangles[e.triangle() as usize]);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Options of [`simplify`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimplifyOptions {
    /// Triangle budget. By default, 50 000.
    pub target_triangles: usize,
    /// Largest error allowed, relative to the mesh's extent (0.01 = 1%); the budget is
    /// not reached when this is hit first. By default, 1.0 (the budget decides).
    pub max_error: f32,
    /// Weight of colors (and UVs) against position error. By default, 1.0.
    pub attribute_weight: f32,
    /// Weight of normals against position error. By default, 0.5.
    pub normal_weight: f32,
}

impl Default for SimplifyOptions {
    fn default() -> Self {
        Self {
            target_triangles: 50_000,
            max_error: 1.0,
            attribute_weight: 1.0,
            normal_weight: 0.5,
        }
    }
}

/// What [`simplify`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SimplifyReport {
    /// Triangles before.
    pub triangles_before: usize,
    /// Triangles after.
    pub triangles_after: usize,
    /// Resulting error, relative to the mesh extent.
    pub relative_error: f32,
}

/// Simplifies `mesh` to about `options.target_triangles` triangles, keeping its
/// attributes (normals are recomputed when present). A mesh already within budget is
/// returned unchanged.
pub fn simplify(mesh: &Mesh, options: &SimplifyOptions) -> Result<Mesh> {
    simplify_with_report(mesh, options).map(|(m, _)| m)
}

/// [`simplify`], also returning what it achieved.
pub fn simplify_with_report(
    mesh: &Mesh,
    options: &SimplifyOptions,
) -> Result<(Mesh, SimplifyReport)> {
    mesh.validate()?;
    if options.target_triangles == 0 {
        return Err(Error::invalid_parameter("faces", "at least 1", 0));
    }
    if !(options.max_error.is_finite() && options.max_error >= 0.0) {
        return Err(Error::invalid_parameter(
            "max error",
            "a finite number >= 0",
            options.max_error,
        ));
    }
    let before = mesh.triangle_count();
    if before <= options.target_triangles {
        let report = SimplifyReport {
            triangles_before: before,
            triangles_after: before,
            relative_error: 0.0,
        };
        return Ok((mesh.clone(), report));
    }

    // Interleaved attributes with their weights.
    let mut weights: Vec<f32> = Vec::new();
    let mut sources: Vec<(&[f32], usize)> = Vec::new();
    if !mesh.colors.is_empty() {
        weights.extend([options.attribute_weight; 3]);
        sources.push((mesh.colors.as_flattened(), 3));
    }
    if !mesh.normals.is_empty() {
        weights.extend([options.normal_weight; 3]);
        sources.push((mesh.normals.as_flattened(), 3));
    }
    if !mesh.uvs.is_empty() {
        weights.extend([options.attribute_weight; 2]);
        sources.push((mesh.uvs.as_flattened(), 2));
    }
    let stride = weights.len();
    let n = mesh.vertex_count();
    let mut attributes = Vec::with_capacity(n * stride.max(1));
    for v in 0..n {
        for (data, width) in &sources {
            attributes.extend_from_slice(&data[v * width..(v + 1) * width]);
        }
    }
    let mut locks = vec![false; n];
    let closed_before = edge_defects(&mesh.triangles).is_empty();
    let indices = mesh.triangles.as_flattened();
    let result;
    let mut error;
    let mut round = 0;
    let mut adjacency: Option<(Vec<u32>, Vec<u32>)> = None;
    loop {
        error = 0.0f32;
        let out = if stride == 0 {
            meshopt::simplify_with_locks_decoder(
                indices,
                &mesh.positions,
                &locks,
                options.target_triangles * 3,
                options.max_error,
                meshopt::SimplifyOptions::None,
                Some(&mut error),
            )
        } else {
            meshopt::simplify_with_attributes_and_locks_decoder(
                indices,
                &mesh.positions,
                &attributes,
                &weights,
                stride * size_of::<f32>(),
                &locks,
                options.target_triangles * 3,
                options.max_error,
                meshopt::SimplifyOptions::None,
                Some(&mut error),
            )
        };
        let triangles: Vec<[u32; 3]> = out.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect();
        // meshoptimizer can fold a thin handle into a fin (an edge of 3+ triangles). Lock
        // the vertices around each such edge and simplify again from the original mesh.
        let defects = if closed_before {
            edge_defects(&triangles)
        } else {
            Vec::new()
        };
        round += 1;
        if defects.is_empty() || round == MAX_LOCK_ROUNDS {
            result = Mesh {
                triangles,
                ..mesh.clone()
            };
            break;
        }
        // Vertices that collapsed into the defect came from its neighbourhood in the
        // original mesh: lock a ring that doubles in depth each round.
        let adjacency = adjacency
            .get_or_insert_with(|| vertex_neighbours(mesh.vertex_count(), &mesh.triangles));
        let mut frontier: Vec<u32> = defects;
        for v in &frontier {
            locks[*v as usize] = true;
        }
        for _ in 0..(1usize << (round - 1)) {
            let mut next = Vec::new();
            for &v in &frontier {
                let (start, adj) = (&adjacency.0, &adjacency.1);
                for &u in &adj[start[v as usize] as usize..start[v as usize + 1] as usize] {
                    if !locks[u as usize] {
                        locks[u as usize] = true;
                        next.push(u);
                    }
                }
            }
            frontier = next;
        }
    }
    let mut result = filter_triangles(&result, |_| true);
    if !result.normals.is_empty() {
        result.compute_normals();
    }
    result.validate()?;
    let report = SimplifyReport {
        triangles_before: before,
        triangles_after: result.triangle_count(),
        relative_error: error,
    };
    Ok((result, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;
    use crate::extract::test_fields::{Blobs, Gyroid};
    use crate::extract::{ExtractOptions, color_vertices, extract};
    use crate::field::analytic::TorusSdf;
    use crate::topology::analyze;

    #[test]
    fn reaches_the_budget_and_stays_closed() {
        let torus = TorusSdf::new(0.5, 0.2);
        let fields: [(&dyn Field, usize); 3] =
            [(&torus, 64), (&Blobs, 96), (&Gyroid::default(), 64)];
        for (field, res) in fields {
            let opts = ExtractOptions {
                resolution: res,
                ..ExtractOptions::default()
            };
            let mut mesh = extract(field, &opts).unwrap().mesh;
            color_vertices(&mut mesh, field).unwrap();
            mesh.compute_normals();
            let before = analyze(&mesh);
            assert!(before.is_closed_manifold());
            let target = mesh.triangle_count() / 10;
            let (out, report) = simplify_with_report(
                &mesh,
                &SimplifyOptions {
                    target_triangles: target,
                    ..SimplifyOptions::default()
                },
            )
            .unwrap();
            out.validate().unwrap();
            assert_eq!(out.colors.len(), out.vertex_count());
            assert_eq!(out.normals.len(), out.vertex_count());
            let t = out.triangle_count();
            assert!(
                t <= target && t as f64 >= 0.95 * target as f64,
                "{}: {t} for a budget of {target}",
                field.name()
            );
            assert_eq!(report.triangles_after, t);
            let after = analyze(&out);
            assert!(after.is_closed_manifold(), "{}: {after:?}", field.name());
            assert_eq!(after.boundary_edges, 0, "{}: {after:?}", field.name());
            assert_eq!(after.nonmanifold_edges, 0, "{}: {after:?}", field.name());
            assert_eq!(after.misoriented_edges, 0, "{}: {after:?}", field.name());
            assert_eq!(
                after.euler_characteristic(),
                before.euler_characteristic(),
                "{}",
                field.name()
            );
        }
    }

    #[test]
    fn within_budget_is_unchanged() {
        let mesh = extract(
            &TorusSdf::new(0.5, 0.2),
            &ExtractOptions {
                resolution: 24,
                ..ExtractOptions::default()
            },
        )
        .unwrap()
        .mesh;
        let out = simplify(
            &mesh,
            &SimplifyOptions {
                target_triangles: 1_000_000,
                ..SimplifyOptions::default()
            },
        )
        .unwrap();
        assert_eq!(out, mesh);
        let zero = SimplifyOptions {
            target_triangles: 0,
            ..SimplifyOptions::default()
        };
        assert!(simplify(&mesh, &zero).is_err());
    }
}
