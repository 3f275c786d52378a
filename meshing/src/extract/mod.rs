//! Isosurface extraction: marching cubes over dense volumes ([`marching_cubes`]) and
//! coarse-to-fine extraction from a [`Field`] ([`extract`]), plus vertex colors from the
//! field ([`color_vertices`]).
//!
//! Both paths produce the same kind of mesh:
//!
//! * shared (welded) vertices, one per crossing grid edge, placed by linear interpolation
//!   along the edge;
//! * closed and 2-manifold: each cube face's contour depends on that face's corners only
//!   (see [`tables`]), and the faces of the grid count as outside, so a surface leaving the
//!   grid is capped on its faces;
//! * triangles counter-clockwise seen from outside for either [`Inside`] convention;
//! * no degenerate triangles and no duplicate vertices (edge parameters stay
//!   [`mc::EDGE_EPSILON`] away from grid points).
//!
//! The algorithm and its speed-ups are described in [`mc`]; the refinement in [`sparse`].

pub mod mc;
pub mod sparse;
pub mod tables;
// Test fixtures, not API: compiled for this crate's tests and, through the `test-support`
// feature, for its benches and examples.
#[cfg(any(test, feature = "test-support"))]
pub mod test_fields;

mod dense;

use std::time::Instant;

use crate::{Error, Field, FieldError, Grid, Limits, Mesh, Result, Surface};

pub use mc::EDGE_EPSILON;

/// Marching cubes over a dense volume.
///
/// `values` holds one value per grid point, x fastest (`i + nx * (j + ny * k)`, see
/// [`Grid`]); positions come out in the grid's frame. Values equal to the level count as
/// outside; points on the faces of the grid count as outside (the mesh is closed there).
/// NaN values are an error ([`Error::NotFinite`]); a volume entirely on one side of the
/// level is [`Error::NoSurface`]. Sizes are checked against [`Limits::default`].
pub fn marching_cubes(values: &[f32], grid: &Grid, surface: Surface) -> Result<Mesh> {
    marching_cubes_with_limits(values, grid, surface, &Limits::default())
}

/// [`marching_cubes`] with explicit [`Limits`].
pub fn marching_cubes_with_limits(
    values: &[f32],
    grid: &Grid,
    surface: Surface,
    limits: &Limits,
) -> Result<Mesh> {
    let mesh = dense::marching_cubes_dense(values, grid, surface, limits)?;
    if mesh.triangles.is_empty() {
        return Err(Error::NoSurface {
            level: surface.level,
        });
    }
    Ok(mesh)
}

/// How [`extract`] samples a field.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractOptions {
    /// Grid points per axis over the field's bounds (ends included). By default, 256.
    pub resolution: usize,
    /// Points per call to [`Field::eval_scalar`]; 0 uses [`Field::preferred_batch`].
    /// By default, 0.
    pub batch_size: usize,
    /// Evaluate every grid point instead of refining coarse-to-fine. By default, false.
    pub dense: bool,
    /// Size caps checked before allocating. By default, [`Limits::default`].
    pub limits: Limits,
    /// Grid cells per side of the coarsest blocks; a power of two, at least 2. The
    /// coarse lattice is evaluated everywhere: surface parts thinner than this many cells
    /// and farther than the margin from any sample can be missed. By default, 8.
    pub coarse_step: usize,
    /// Safety margin of the refinement, in block diagonals: a block is refined when its
    /// smallest corner value is within `margin` diagonals of the level at the largest
    /// gradient seen nearby (for a distance field, when the surface may be within
    /// `margin` diagonals). Larger is safer and costs more evaluations. By default, 1.0.
    pub margin: f32,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            resolution: 256,
            batch_size: 0,
            dense: false,
            limits: Limits::default(),
            coarse_step: 8,
            margin: 1.0,
        }
    }
}

/// A mesh extracted from a field, with the work it took.
#[derive(Debug, Clone)]
pub struct Extraction {
    /// The mesh, in the field's frame, without normals or colors.
    pub mesh: Mesh,
    /// Counters and timings.
    pub stats: ExtractStats,
}

/// What an extraction cost (written to report.json).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExtractStats {
    /// Grid points per axis.
    pub resolution: usize,
    /// Points at which the field was evaluated.
    pub evaluations: u64,
    /// Points a dense extraction evaluates (`resolution^3`).
    pub dense_evaluations: u64,
    /// `evaluations / dense_evaluations`.
    pub evaluation_fraction: f64,
    /// Calls to [`Field::eval_scalar`].
    pub batches: u64,
    /// Points per call.
    pub batch_size: usize,
    /// True when every grid point was evaluated.
    pub dense: bool,
    /// Refinement levels below the coarse lattice (0 for dense).
    pub levels: u32,
    /// Rounds of the closure that completes cells the refinement left half-known.
    pub closure_rounds: u32,
    /// Evaluations made by the closure.
    pub closure_evaluations: u64,
    /// Seconds spent inside the field.
    pub eval_seconds: f64,
    /// Seconds of refinement bookkeeping (outside the field and the mesher).
    pub refine_seconds: f64,
    /// Seconds of marching cubes.
    pub mc_seconds: f64,
    /// Seconds in all.
    pub total_seconds: f64,
    /// Bytes held by sampled values and sign bits at the end of sampling.
    pub sample_bytes: usize,
    /// Vertices of the mesh.
    pub vertices: usize,
    /// Triangles of the mesh.
    pub triangles: usize,
}

/// Extracts the surface of `field` on a `resolution`³ grid over its bounds:
/// coarse-to-fine unless `options.dense`. Errors: bad options, limits, a failing or NaN
/// field, and [`Error::NoSurface`].
pub fn extract(field: &dyn Field, options: &ExtractOptions) -> Result<Extraction> {
    let start = Instant::now();
    let n = options.resolution;
    options.limits.check_grid_resolution(n)?;
    if !options.coarse_step.is_power_of_two() || options.coarse_step < 2 {
        return Err(Error::invalid_parameter(
            "coarse_step",
            "a power of two, at least 2",
            options.coarse_step,
        ));
    }
    if !(options.margin.is_finite() && options.margin >= 0.0) {
        return Err(Error::invalid_parameter(
            "margin",
            "a finite number >= 0",
            options.margin,
        ));
    }
    let bounds = field.bounds();
    if !bounds.is_valid() {
        return Err(Error::invalid_parameter(
            "field bounds",
            "finite bounds with max > min on every axis",
            format!("{bounds:?}"),
        ));
    }
    let surface = field.surface();
    if !surface.level.is_finite() {
        return Err(Error::invalid_parameter(
            "iso level",
            "a finite number",
            surface.level,
        ));
    }
    let grid = Grid::cubic(bounds, n);
    let batch = match options.batch_size {
        0 => field.preferred_batch().max(1),
        b => b,
    };
    let dense_evaluations = (n as u64).pow(3);
    let levels = options.coarse_step.trailing_zeros();
    let mut stats = ExtractStats {
        resolution: n,
        dense_evaluations,
        batch_size: batch,
        ..ExtractStats::default()
    };

    let mesh = if options.dense || n - 1 < 2 * options.coarse_step {
        stats.dense = true;
        let count = grid
            .point_count()
            .ok_or_else(|| Error::invalid_parameter("resolution", "a smaller grid", n))?;
        let mut values = crate::limits::try_vec_with_capacity(count, "dense field samples")?;
        values.resize(count, 0.0f32);
        let eval_start = Instant::now();
        let mut points = Vec::with_capacity(batch);
        for (c, out) in values.chunks_mut(batch).enumerate() {
            points.clear();
            let first = c * batch;
            points.extend(
                (first..first + out.len()).map(|p| grid.point(p % n, (p / n) % n, p / (n * n))),
            );
            field.eval_scalar(&points, out)?;
            stats.batches += 1;
        }
        stats.eval_seconds = eval_start.elapsed().as_secs_f64();
        stats.evaluations = count as u64;
        stats.sample_bytes = count * 4;
        if let Some(index) = values.iter().position(|v| v.is_nan()) {
            return Err(Error::NotFinite {
                what: format!("value of field {}", field.name()),
                index,
            });
        }
        let mc_start = Instant::now();
        let mesh = dense::marching_cubes_dense(&values, &grid, surface, &options.limits)?;
        stats.mc_seconds = mc_start.elapsed().as_secs_f64();
        mesh
    } else {
        stats.levels = levels;
        let params = sparse::SparseParams {
            levels,
            margin: options.margin,
            batch,
        };
        let refine_start = Instant::now();
        let result = sparse::refine_field(field, grid, surface, &params)?;
        let refine_total = refine_start.elapsed().as_secs_f64();
        let c = &result.counters;
        stats.evaluations = c.evaluations;
        stats.batches = c.batches;
        stats.eval_seconds = c.eval_seconds;
        stats.refine_seconds = (refine_total - c.eval_seconds).max(0.0);
        stats.closure_rounds = c.closure_rounds;
        stats.closure_evaluations = c.closure_evaluations;
        stats.sample_bytes = c.store_bytes;
        let mc_start = Instant::now();
        let mesh = mc::mesh_bits(&result.bits, &result.amounts, &grid, &options.limits)?;
        stats.mc_seconds = mc_start.elapsed().as_secs_f64();
        mesh
    };
    if mesh.triangles.is_empty() {
        return Err(Error::NoSurface {
            level: surface.level,
        });
    }
    stats.evaluation_fraction = stats.evaluations as f64 / dense_evaluations as f64;
    stats.vertices = mesh.vertex_count();
    stats.triangles = mesh.triangle_count();
    stats.total_seconds = start.elapsed().as_secs_f64();
    Ok(Extraction { mesh, stats })
}

/// Sets `mesh.colors` from [`Field::eval_color`] at the vertices, in batches of
/// [`Field::preferred_batch`]. Colors are clamped to `[0, 1]` (NaN becomes 0).
pub fn color_vertices(mesh: &mut Mesh, field: &dyn Field) -> Result<()> {
    let batch = field.preferred_batch().max(1);
    let mut colors = crate::limits::try_vec_with_capacity(mesh.positions.len(), "vertex colors")?;
    colors.resize(mesh.positions.len(), [0.0f32; 3]);
    for (points, out) in mesh.positions.chunks(batch).zip(colors.chunks_mut(batch)) {
        field
            .eval_color(points, out)
            .map_err(|e: FieldError| Error::Field(e))?;
    }
    for c in &mut colors {
        // `max` first maps NaN to 0 (clamp would keep it).
        #[allow(clippy::manual_clamp, reason = "NaN must become 0")]
        {
            *c = c.map(|v| v.max(0.0).min(1.0));
        }
    }
    mesh.colors = colors;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::analytic::{SphereSdf, TorusSdf};
    use crate::topology::analyze;
    use crate::{Bounds, Inside};
    use test_fields::{Blobs, Gyroid, NoisyBlobs};

    /// SplitMix64: reproducible random numbers for the property tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f32 {
            (self.next() >> 40) as f32 / (1u64 << 24) as f32
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn sample(field: &dyn Field, grid: &Grid) -> Vec<f32> {
        let [nx, ny, nz] = grid.dims;
        let pts: Vec<[f32; 3]> = (0..nx * ny * nz)
            .map(|p| grid.point(p % nx, (p / nx) % ny, p / (nx * ny)))
            .collect();
        let mut v = vec![0.0; pts.len()];
        field.eval_scalar(&pts, &mut v).unwrap();
        v
    }

    fn sdf() -> Surface {
        Surface {
            level: 0.0,
            inside: Inside::Below,
        }
    }

    /// Everything the brief asks of a mesh, on any input.
    fn assert_good(mesh: &Mesh) -> crate::topology::TopologyReport {
        mesh.validate().unwrap();
        let r = analyze(mesh);
        assert!(r.is_closed_manifold(), "{r:?}");
        assert_eq!(r.unused_vertices, 0, "{r:?}");
        assert!(mesh.signed_volume() > 0.0, "outward orientation");
        r
    }

    /// Naive per-cell reference: the number of crossing edges and of table triangles.
    fn naive_counts(values: &[f32], dims: [usize; 3], surface: Surface) -> (usize, usize) {
        let [nx, ny, nz] = dims;
        let inside = |i: usize, j: usize, k: usize| {
            let face = i == 0 || j == 0 || k == 0 || i + 1 == nx || j + 1 == ny || k + 1 == nz;
            !face && surface.inside_amount(values[i + nx * (j + ny * k)]) > 0.0
        };
        let mut edges = 0;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let s = inside(i, j, k);
                    edges += usize::from(i + 1 < nx && inside(i + 1, j, k) != s);
                    edges += usize::from(j + 1 < ny && inside(i, j + 1, k) != s);
                    edges += usize::from(k + 1 < nz && inside(i, j, k + 1) != s);
                }
            }
        }
        let mut tris = 0;
        for k in 0..nz - 1 {
            for j in 0..ny - 1 {
                for i in 0..nx - 1 {
                    let mut case = 0;
                    for c in 0..8 {
                        if inside(i + (c & 1), j + (c >> 1 & 1), k + (c >> 2 & 1)) {
                            case |= 1 << c;
                        }
                    }
                    tris += usize::from(tables::tables().cases[case].count);
                }
            }
        }
        (edges, tris)
    }

    #[test]
    fn sphere_is_closed_with_euler_2_and_accurate_vertices() {
        let n = 96;
        let grid = Grid::cubic(Bounds::cube(1.0), n);
        let radius = 0.6;
        let values = sample(&SphereSdf::new(radius), &grid);
        let mesh = marching_cubes(&values, &grid, sdf()).unwrap();
        let r = assert_good(&mesh);
        assert_eq!(r.euler_characteristic(), 2);
        assert_eq!(r.components, 1);
        let voxel = grid.spacing()[0];
        let worst = mesh
            .positions
            .iter()
            .map(|p| ((p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() - radius).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 0.01 * voxel,
            "worst radial error {worst} vs voxel {voxel}"
        );
        let expected = 4.0 / 3.0 * std::f64::consts::PI * f64::from(radius).powi(3);
        assert!((mesh.signed_volume() / expected - 1.0).abs() < 0.01);
        let (edges, tris) = naive_counts(&values, grid.dims, sdf());
        assert_eq!((mesh.vertex_count(), mesh.triangle_count()), (edges, tris));
    }

    #[test]
    fn torus_has_euler_0() {
        let grid = Grid::cubic(Bounds::cube(1.0), 80);
        let values = sample(&TorusSdf::new(0.55, 0.2), &grid);
        let mesh = marching_cubes(&values, &grid, sdf()).unwrap();
        let r = assert_good(&mesh);
        assert_eq!(r.euler_characteristic(), 0);
        assert_eq!(r.components, 1);
    }

    #[test]
    fn above_and_below_give_the_same_outward_mesh() {
        let grid = Grid::cubic(Bounds::cube(1.0), 40);
        let values = sample(&TorusSdf::new(0.5, 0.25), &grid);
        let below = marching_cubes(&values, &grid, sdf()).unwrap();
        let density: Vec<f32> = values.iter().map(|v| 3.0 - v).collect();
        let above = Surface {
            level: 3.0,
            inside: Inside::Above,
        };
        let mesh = marching_cubes(&density, &grid, above).unwrap();
        assert_good(&mesh);
        assert_eq!(mesh.triangles, below.triangles);
        for (a, b) in mesh.positions.iter().zip(&below.positions) {
            for k in 0..3 {
                assert!((a[k] - b[k]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn surface_touching_the_grid_faces_is_capped() {
        // A sphere larger than the box: only the box caps close it.
        let grid = Grid::cubic(Bounds::cube(1.0), 33);
        let values = sample(&SphereSdf::new(1.2), &grid);
        let mesh = marching_cubes(&values, &grid, sdf()).unwrap();
        let r = assert_good(&mesh);
        assert_eq!(r.euler_characteristic(), 2);
        let (lo, hi) = mesh.bounding_box().unwrap();
        assert!(lo.iter().chain(&hi).all(|c| c.abs() <= 1.0));
    }

    #[test]
    fn random_fields_give_closed_oriented_manifolds() {
        let mut rng = Rng(7);
        for round in 0..60 {
            // Rows longer than 64 points exercise the word boundaries.
            let nx = if round % 3 == 0 {
                60 + rng.below(80) as usize
            } else {
                3 + rng.below(12) as usize
            };
            let dims = [nx, 3 + rng.below(10) as usize, 3 + rng.below(10) as usize];
            let n = dims.iter().product();
            let values: Vec<f32> = match round % 4 {
                // Integers: many values exactly at the level.
                0 => (0..n).map(|_| rng.below(3) as f32).collect(),
                _ => (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect(),
            };
            let surface = Surface {
                level: if round % 4 == 0 {
                    1.0
                } else {
                    rng.unit() - 0.5
                },
                inside: if round % 2 == 0 {
                    Inside::Above
                } else {
                    Inside::Below
                },
            };
            let grid = Grid {
                bounds: Bounds {
                    min: [-1.0, 0.0, 2.0],
                    max: [1.0, 0.5, 4.0],
                },
                dims,
            };
            let (edges, tris) = naive_counts(&values, dims, surface);
            match marching_cubes(&values, &grid, surface) {
                Ok(mesh) => {
                    let r = assert_good(&mesh);
                    assert_eq!(mesh.vertex_count(), edges, "round {round}");
                    assert_eq!(mesh.triangle_count(), tris, "round {round}");
                    assert_eq!(r.euler_characteristic() % 2, 0);
                    assert_eq!(mesh.triangle_count() % 2, 0);
                }
                Err(Error::NoSurface { .. }) => assert_eq!(tris, 0),
                Err(e) => panic!("round {round}: {e}"),
            }
        }
    }

    #[test]
    fn bad_volumes_are_errors() {
        let grid = Grid::cubic(Bounds::cube(1.0), 4);
        let mut v = vec![1.0; 64];
        assert!(matches!(
            marching_cubes(&v, &grid, sdf()),
            Err(Error::NoSurface { .. })
        ));
        let all_inside = vec![-1.0; 64];
        assert!(matches!(
            marching_cubes(&all_inside, &grid, sdf()),
            Err(Error::NoSurface { .. })
        ));
        v[21] = f32::NAN;
        assert!(matches!(
            marching_cubes(&v, &grid, sdf()),
            Err(Error::NotFinite { index: 21, .. })
        ));
        assert!(matches!(
            marching_cubes(&v[..10], &grid, sdf()),
            Err(Error::InvalidParameter { .. })
        ));
    }

    /// Sorted triangles as position triples, rotated to start at their smallest corner.
    fn canonical(mesh: &Mesh) -> Vec<[[u32; 3]; 3]> {
        let mut out: Vec<[[u32; 3]; 3]> = mesh
            .triangles
            .iter()
            .map(|t| {
                let p = t.map(|i| mesh.positions[i as usize].map(f32::to_bits));
                let r = (0..3).min_by_key(|&k| p[k]).unwrap_or(0);
                [p[r], p[(r + 1) % 3], p[(r + 2) % 3]]
            })
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn coarse_to_fine_equals_dense() {
        let noisy = NoisyBlobs::new(40, 3);
        let fields: [(&dyn Field, usize); 5] = [
            (&SphereSdf::new(0.6), 129),
            (&TorusSdf::new(0.5, 0.2), 100),
            (&Blobs, 160),
            (&Gyroid::default(), 90),
            (&noisy, 120),
        ];
        for (field, n) in fields {
            let opts = ExtractOptions {
                resolution: n,
                ..ExtractOptions::default()
            };
            let sparse = extract(field, &opts).unwrap();
            let dense = extract(
                field,
                &ExtractOptions {
                    dense: true,
                    ..opts.clone()
                },
            )
            .unwrap();
            assert!(!sparse.stats.dense && dense.stats.dense);
            assert_good(&sparse.mesh);
            assert_eq!(
                canonical(&sparse.mesh),
                canonical(&dense.mesh),
                "{}",
                field.name()
            );
            assert_eq!(sparse.mesh.vertex_count(), dense.mesh.vertex_count());
            assert_eq!(dense.stats.evaluations, (n as u64).pow(3));
            eprintln!(
                "{}: {} of {} evaluations ({:.2}%), {} closure rounds",
                field.name(),
                sparse.stats.evaluations,
                dense.stats.evaluations,
                100.0 * sparse.stats.evaluation_fraction,
                sparse.stats.closure_rounds
            );
        }
    }

    #[test]
    fn color_vertices_fills_colors_in_range() {
        let mut mesh = extract(
            &SphereSdf::new(0.5),
            &ExtractOptions {
                resolution: 40,
                ..ExtractOptions::default()
            },
        )
        .unwrap()
        .mesh;
        color_vertices(&mut mesh, &SphereSdf::new(0.5)).unwrap();
        mesh.validate().unwrap();
        assert_eq!(mesh.colors.len(), mesh.vertex_count());
        let p = mesh.positions[0];
        let c = mesh.colors[0];
        assert!((c[0] - (0.5 + 0.5 * p[0])).abs() < 1e-6);
    }

    #[test]
    fn extract_rejects_bad_options() {
        let f = SphereSdf::new(0.5);
        let bad = ExtractOptions {
            coarse_step: 6,
            ..ExtractOptions::default()
        };
        assert!(extract(&f, &bad).is_err());
        let bad = ExtractOptions {
            resolution: 1,
            ..ExtractOptions::default()
        };
        assert!(extract(&f, &bad).is_err());
        let none = SphereSdf::new(3.0); // covers the whole box: capped, not empty
        assert!(
            extract(
                &none,
                &ExtractOptions {
                    resolution: 20,
                    ..ExtractOptions::default()
                }
            )
            .is_ok()
        );
    }
}
