//! TripoSR's scene frame and its conversion to glTF's.
//!
//! TripoSR's raw frame is Z-up with the input camera on the +X side (its renderer
//! comment: "x back, y right, z up"; its own viewer fix `to_gradio_3d_orientation` maps
//! `(x, y, z) -> (-y, z, -x)`, see `tsr/utils.py` in
//! <https://github.com/VAST-AI-Research/TripoSR>). That map alone leaves the object
//! facing -Z; [`triposr_to_gltf`] adds the half turn about +Y so the side the input
//! picture shows faces +Z, as glTF asks. The transform machinery is
//! `img23d_meshing::convert_coordinates`.

use img23d_meshing::convert_coordinates::Transform;

/// TripoSR's frame to glTF's: `(x, y, z) -> (y, z, x)`. This is the upstream viewer's
/// `(x, y, z) -> (-y, z, -x)` followed by a half turn about +Y, so Z-up becomes Y-up and
/// the input camera's side (+X in TripoSR) faces +Z. A rotation (determinant +1).
pub const fn triposr_to_gltf() -> Transform {
    Transform::linear([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triposr_up_becomes_y_and_camera_side_faces_z() {
        let t = triposr_to_gltf();
        assert_eq!(
            t.apply_point([0.0, 0.0, 1.0]),
            [0.0, 1.0, 0.0],
            "Z-up -> Y-up"
        );
        assert_eq!(
            t.apply_point([1.0, 0.0, 0.0]),
            [0.0, 0.0, 1.0],
            "camera side -> +Z"
        );
        assert!(
            (t.determinant() - 1.0).abs() < 1e-6,
            "a rotation, not a mirror"
        );
    }
}
