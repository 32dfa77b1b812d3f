//! Harnesses shared by the integration tests.
