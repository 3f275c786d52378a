//! End-to-end tests of the `img23d` command and library, one module per area.
