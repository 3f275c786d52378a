//! End-to-end tests of the `img23d` command and library, one module per area.

// `img23d models`: list, fetch (local hub server), verify, path.
mod models_cmd;

// `img23d mesh`: analytic volumes round-trip through GLB/PLY/OBJ readers; bad .npy files.
mod mesh_cmd;
