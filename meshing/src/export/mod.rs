//! Export to the files people open.

pub mod point_cloud;

pub use point_cloud::{point_cloud_ply_bytes, write_point_cloud_ply};
