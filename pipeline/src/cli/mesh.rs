//! `img23d mesh`'s arguments ([`MeshArgs`]) and their mapping onto [`MeshConfig`].

use std::path::PathBuf;

use clap::ValueEnum;
use img23d_meshing::cleanup::KeepComponents;
use img23d_meshing::{Bounds, Inside};

use crate::Result;
use crate::mesh_cmd::MeshConfig;

/// Arguments of `img23d mesh`.
#[derive(Debug, Clone, clap::Args)]
pub struct MeshArgs {
    /// The volume: a float32 or float64 .npy in C order, shape (nz, ny, nx), x fastest,
    /// sampled on grid vertices over --bounds.
    #[arg(value_name = "VOLUME")]
    pub volume: PathBuf,

    /// The iso level of the surface.
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    pub iso: f32,

    /// Which side of the level is inside: above (densities, occupancies) or below
    /// (signed distance fields).
    #[arg(long, value_enum, default_value_t = InsideArg::Above)]
    pub inside: InsideArg,

    /// The box the volume spans, as xmin,ymin,zmin,xmax,ymax,zmax: the first and last
    /// samples of each axis sit on its faces.
    #[arg(
        long,
        value_name = "X0,Y0,Z0,X1,Y1,Z1",
        default_value = "-1,-1,-1,1,1,1",
        allow_hyphen_values = true,
        value_parser = parse_bounds
    )]
    pub bounds: Bounds,

    /// Output mesh; the extension picks the format: .glb, .ply or .obj.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Simplify to at most this many triangles (quadric error, attributes kept).
    #[arg(long, value_name = "N")]
    pub faces: Option<usize>,

    /// Remove small disconnected pieces: keep the largest only, or all whose area is at
    /// least --min-component-fraction of the total.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub keep_components: Option<KeepArg>,

    /// Area fraction under which --keep-components all-above removes a piece.
    #[arg(long, value_name = "F", default_value_t = 0.05)]
    pub min_component_fraction: f32,

    /// Taubin smoothing iterations (volume-preserving; 0 = none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub smooth: usize,

    /// Print each stage's time as NAME_ms=VALUE, one per line.
    #[arg(long)]
    pub timings: bool,

    /// Where to write the report (default: <OUT's stem>.report.json beside the output).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Print nothing but errors (and --timings lines).
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--inside` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InsideArg {
    /// Values above the level are inside.
    Above,
    /// Values below the level are inside.
    Below,
}

/// `--keep-components` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeepArg {
    /// The largest piece only.
    Largest,
    /// Every piece above --min-component-fraction of the area.
    AllAbove,
}

impl MeshArgs {
    /// Maps the arguments onto a [`MeshConfig`] and validates it.
    pub fn to_config(&self) -> Result<MeshConfig> {
        let config = MeshConfig {
            inside: match self.inside {
                InsideArg::Above => Inside::Above,
                InsideArg::Below => Inside::Below,
            },
            bounds: self.bounds,
            faces: self.faces,
            keep_components: self.keep_components.map(|k| match k {
                KeepArg::Largest => KeepComponents::Largest,
                KeepArg::AllAbove => KeepComponents::AllAbove,
            }),
            min_component_fraction: self.min_component_fraction,
            smooth: self.smooth,
            timings: self.timings,
            report: self.report.clone(),
            quiet: self.quiet,
            ..MeshConfig::new(&self.volume, self.iso, &self.output)
        };
        config.validate()?;
        Ok(config)
    }
}

fn parse_bounds(s: &str) -> std::result::Result<Bounds, String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|t| t.trim().parse::<f32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("{e} (expected six numbers xmin,ymin,zmin,xmax,ymax,zmax)"))?;
    let [x0, y0, z0, x1, y1, z1] = v[..] else {
        return Err(format!(
            "expected six numbers xmin,ymin,zmin,xmax,ymax,zmax, got {}",
            v.len()
        ));
    };
    let b = Bounds {
        min: [x0, y0, z0],
        max: [x1, y1, z1],
    };
    if !b.is_valid() {
        return Err("each max must be finite and greater than its min".into());
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse() {
        let b = parse_bounds("-1,-2,-3,1,2,3").unwrap();
        assert_eq!(b.min, [-1.0, -2.0, -3.0]);
        assert_eq!(b.max, [1.0, 2.0, 3.0]);
        assert!(parse_bounds("0,0,0,1,1").is_err());
        assert!(parse_bounds("0,0,0,1,1,x").is_err());
        assert!(parse_bounds("1,0,0,0,1,1").is_err());
    }
}
