//! Mesh cleanup after extraction: removing small disconnected pieces ("floaters") and
//! Taubin smoothing.
//!
//! * Components are triangles connected through shared vertices (union-find), sized by
//!   their surface area as a fraction of the whole mesh's.
//! * Taubin's λ|μ smoothing (G. Taubin, "A signal processing approach to fair surface
//!   design", SIGGRAPH 1995) alternates a shrinking Laplacian step (`λ > 0`) with an
//!   inflating one (`μ < -λ`), a low-pass filter that, unlike plain Laplacian smoothing,
//!   does not shrink the surface. Defaults `λ = 0.5`, `μ = -0.53` are the paper's
//!   (pass-band `k_PB = 1/λ + 1/μ ≈ 0.1`). The umbrella operator uses uniform weights.

use crate::connectivity::{DisjointSets, vertex_neighbours};
use crate::mesh::{cross, length, sub};
use crate::{Error, Mesh, Result};

/// Which components [`remove_small_components`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepComponents {
    /// Only the largest component (by area).
    Largest,
    /// Every component whose area is at least `min_fraction` of the total.
    #[default]
    AllAbove,
}

impl std::str::FromStr for KeepComponents {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "largest" => Ok(Self::Largest),
            "all-above" | "all" => Ok(Self::AllAbove),
            other => Err(Error::invalid_parameter(
                "keep components",
                "largest or all-above",
                other,
            )),
        }
    }
}

/// Options of [`remove_small_components`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComponentOptions {
    /// Components with less than this fraction of the total area are removed (with
    /// [`KeepComponents::AllAbove`]). By default, 0.05.
    pub min_fraction: f32,
    /// Keep the largest component only, or all above `min_fraction`. By default,
    /// [`KeepComponents::AllAbove`].
    pub keep: KeepComponents,
}

impl Default for ComponentOptions {
    fn default() -> Self {
        Self {
            min_fraction: 0.05,
            keep: KeepComponents::AllAbove,
        }
    }
}

/// Connected components: a component id per triangle and the area of each component.
pub fn triangle_components(mesh: &Mesh) -> (Vec<u32>, Vec<f64>) {
    let n = mesh.positions.len();
    let mut sets = DisjointSets::new(n);
    for t in &mesh.triangles {
        for &v in &t[1..] {
            sets.union(t[0], v);
        }
    }
    let mut id = vec![u32::MAX; n];
    let mut areas: Vec<f64> = Vec::new();
    let mut comp = Vec::with_capacity(mesh.triangles.len());
    for t in &mesh.triangles {
        let r = sets.find(t[0]) as usize;
        if id[r] == u32::MAX {
            id[r] = areas.len() as u32;
            areas.push(0.0);
        }
        let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
        areas[id[r] as usize] += 0.5 * f64::from(length(cross(sub(b, a), sub(c, a))));
        comp.push(id[r]);
    }
    (comp, areas)
}

/// Keeps the triangles for which `keep(index)` is true, drops unused vertices and carries
/// every attribute along.
pub fn filter_triangles(mesh: &Mesh, keep: impl Fn(usize) -> bool) -> Mesh {
    // Kept vertices stay in their original order.
    let mut remap = vec![u32::MAX; mesh.positions.len()];
    let kept: Vec<usize> = (0..mesh.triangles.len()).filter(|&t| keep(t)).collect();
    for &t in &kept {
        for v in mesh.triangles[t] {
            remap[v as usize] = 0;
        }
    }
    let mut order: Vec<u32> = Vec::new();
    for (v, r) in remap.iter_mut().enumerate() {
        if *r == 0 {
            *r = order.len() as u32;
            order.push(v as u32);
        }
    }
    let triangles: Vec<[u32; 3]> = kept
        .iter()
        .map(|&t| mesh.triangles[t].map(|v| remap[v as usize]))
        .collect();
    let pick = |attr: &Vec<[f32; 3]>| -> Vec<[f32; 3]> {
        if attr.is_empty() {
            Vec::new()
        } else {
            order.iter().map(|&v| attr[v as usize]).collect()
        }
    };
    Mesh {
        positions: pick(&mesh.positions),
        normals: pick(&mesh.normals),
        colors: pick(&mesh.colors),
        uvs: if mesh.uvs.is_empty() {
            Vec::new()
        } else {
            order.iter().map(|&v| mesh.uvs[v as usize]).collect()
        },
        triangles,
    }
}

/// Removes components smaller than `options.min_fraction` of the total area (or all but
/// the largest), keeping every vertex attribute. The largest component is always kept.
pub fn remove_small_components(mesh: &Mesh, options: &ComponentOptions) -> Result<Mesh> {
    mesh.validate()?;
    if !(options.min_fraction.is_finite() && (0.0..=1.0).contains(&options.min_fraction)) {
        return Err(Error::invalid_parameter(
            "min component fraction",
            "a number in [0, 1]",
            options.min_fraction,
        ));
    }
    let (comp, areas) = triangle_components(mesh);
    let total: f64 = areas.iter().sum();
    let largest = (0..areas.len())
        .max_by(|&a, &b| areas[a].total_cmp(&areas[b]))
        .unwrap_or(0);
    let threshold = f64::from(options.min_fraction) * total;
    let keep: Vec<bool> = (0..areas.len())
        .map(|c| match options.keep {
            KeepComponents::Largest => c == largest,
            KeepComponents::AllAbove => c == largest || areas[c] >= threshold,
        })
        .collect();
    Ok(filter_triangles(mesh, |t| keep[comp[t] as usize]))
}

/// Options of [`taubin_smooth`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaubinOptions {
    /// λ|μ iteration pairs. By default, 10.
    pub iterations: usize,
    /// Shrinking factor λ in (0, 1). By default, 0.5.
    pub lambda: f32,
    /// Inflating factor μ, with μ < -λ. By default, -0.53.
    pub mu: f32,
}

impl Default for TaubinOptions {
    fn default() -> Self {
        Self {
            iterations: 10,
            lambda: 0.5,
            mu: -0.53,
        }
    }
}

fn laplacian_step(src: &[[f32; 3]], dst: &mut [[f32; 3]], start: &[u32], adj: &[u32], f: f32) {
    let step = |(v, out): (usize, &mut [f32; 3])| {
        let nb = &adj[start[v] as usize..start[v + 1] as usize];
        let p = src[v];
        if nb.is_empty() {
            *out = p;
            return;
        }
        let mut avg = [0.0f32; 3];
        for &u in nb {
            for k in 0..3 {
                avg[k] += src[u as usize][k];
            }
        }
        let inv = 1.0 / nb.len() as f32;
        *out = [0, 1, 2].map(|k| p[k] + f * (avg[k] * inv - p[k]));
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        dst.par_iter_mut().enumerate().for_each(step);
    }
    #[cfg(not(feature = "rayon"))]
    dst.iter_mut().enumerate().for_each(step);
}

/// Taubin λ|μ smoothing in place; connectivity and other attributes are kept, normals
/// (when present) are recomputed.
pub fn taubin_smooth(mesh: &mut Mesh, options: &TaubinOptions) -> Result<()> {
    mesh.validate()?;
    let TaubinOptions {
        iterations,
        lambda,
        mu,
    } = *options;
    if !(lambda > 0.0 && lambda < 1.0 && mu.is_finite() && mu < -lambda) {
        return Err(Error::invalid_parameter(
            "taubin factors",
            "0 < lambda < 1 and mu < -lambda",
            format!("lambda {lambda}, mu {mu}"),
        ));
    }
    if iterations == 0 {
        return Ok(());
    }
    let (start, adj) = vertex_neighbours(mesh.positions.len(), &mesh.triangles);
    let mut tmp = mesh.positions.clone();
    for _ in 0..iterations {
        laplacian_step(&mesh.positions, &mut tmp, &start, &adj, lambda);
        laplacian_step(&tmp, &mut mesh.positions, &start, &adj, mu);
    }
    if !mesh.normals.is_empty() {
        mesh.compute_normals();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{ExtractOptions, extract};
    use crate::field::analytic::SphereSdf;
    use crate::topology::analyze;

    /// Two tetrahedra far apart, the second 1/100 the size of the first.
    fn two_tetras() -> Mesh {
        let tet = |s: f32, o: f32| vec![[o, 0.0, 0.0], [o + s, 0.0, 0.0], [o, s, 0.0], [o, 0.0, s]];
        let mut positions = tet(1.0, 0.0);
        positions.extend(tet(0.1, 5.0));
        let t = [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]];
        let mut triangles: Vec<[u32; 3]> = t.to_vec();
        triangles.extend(t.iter().map(|t| t.map(|v| v + 4)));
        let mut m = Mesh::from_triangles(positions, triangles);
        m.colors = (0..8).map(|i| [i as f32 / 8.0; 3]).collect();
        m
    }

    #[test]
    fn floaters_are_removed_and_attributes_kept() {
        let m = two_tetras();
        let out = remove_small_components(&m, &ComponentOptions::default()).unwrap();
        out.validate().unwrap();
        assert_eq!(out.triangle_count(), 4);
        assert_eq!(out.vertex_count(), 4);
        assert_eq!(out.colors[1], [1.0 / 8.0; 3]);
        assert!(analyze(&out).is_closed_manifold());

        let keep_all = ComponentOptions {
            min_fraction: 0.001,
            keep: KeepComponents::AllAbove,
        };
        assert_eq!(
            remove_small_components(&m, &keep_all)
                .unwrap()
                .triangle_count(),
            8
        );
        let largest = ComponentOptions {
            min_fraction: 0.0,
            keep: KeepComponents::Largest,
        };
        assert_eq!(
            remove_small_components(&m, &largest)
                .unwrap()
                .triangle_count(),
            4
        );
        assert!("largest".parse::<KeepComponents>().is_ok());
        assert!("most".parse::<KeepComponents>().is_err());
    }

    #[test]
    fn taubin_smoothing_does_not_shrink() {
        let opts = ExtractOptions {
            resolution: 48,
            ..ExtractOptions::default()
        };
        let mut m = extract(&SphereSdf::new(0.6), &opts).unwrap().mesh;
        m.compute_normals();
        let before = m.signed_volume();
        taubin_smooth(&mut m, &TaubinOptions::default()).unwrap();
        m.validate().unwrap();
        let after = m.signed_volume();
        assert!((after / before - 1.0).abs() < 0.01, "{before} -> {after}");
        // Plain Laplacian smoothing (mu = 0 is refused; compare a lambda-only run).
        let mut lap = m.clone();
        let (start, adj) = vertex_neighbours(lap.positions.len(), &lap.triangles);
        let mut tmp = lap.positions.clone();
        for _ in 0..10 {
            laplacian_step(&lap.positions, &mut tmp, &start, &adj, 0.5);
            std::mem::swap(&mut lap.positions, &mut tmp);
        }
        assert!(
            lap.signed_volume() < 0.98 * after,
            "Laplacian alone shrinks"
        );
        assert!(analyze(&m).is_closed_manifold());
        let bad = TaubinOptions {
            mu: 0.1,
            ..TaubinOptions::default()
        };
        assert!(taubin_smooth(&mut m, &bad).is_err());
    }
}
