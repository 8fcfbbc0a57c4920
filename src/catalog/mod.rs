//! The catalog: session logs imported into PostgreSQL ([`import`], with its
//! versioned [`schema`]), and instruments exported from a session's takes
//! ([`export`]). It reads logs through [`crate::session_log_format`] and never
//! uses `control` or `capture`.

mod error;
pub mod export;
pub mod import;
pub mod log_reader;
pub mod schema;

pub use error::CatalogError;
