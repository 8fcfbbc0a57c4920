//! What can go wrong in the catalog, each with what it concerns (a path, a
//! session, the database). The command line prints them as they are.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum CatalogError {
    /// A file or folder the catalog writes.
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The share the samples are looked up on.
    Share {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A session log or its folder that could not be read (the error names it).
    Read(std::io::Error),
    /// A log named on the command line that is not there.
    Missing(PathBuf),
    Connect(tokio_postgres::Error),
    Migrate(tokio_postgres::Error),
    NotASessionId(String),
    NoLog {
        session: String,
        looked: Vec<PathBuf>,
    },
    NothingToExport {
        session: String,
    },
    /// A sample that could not be encoded as FLAC for `export --flac`.
    Flac(crate::flac::FlacError),
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::Write { path, error } => write!(f, "{}: {error}", path.display()),
            CatalogError::Share { path, error } => write!(f, "share {}: {error}", path.display()),
            CatalogError::Read(e) => write!(f, "{e}"),
            CatalogError::Flac(e) => write!(f, "{e}"),
            CatalogError::Missing(p) => write!(f, "{}: no such file or folder", p.display()),
            CatalogError::Connect(e) => write!(f, "cannot connect to the catalog database: {e}"),
            CatalogError::Migrate(e) => write!(f, "migrating the catalog schema: {e}"),
            CatalogError::NotASessionId(s) => write!(f, "{s:?} is not a session id"),
            CatalogError::NoLog { session, looked } => {
                let looked: Vec<String> = looked.iter().map(|d| d.display().to_string()).collect();
                write!(f, "no log for session {session} in {}", looked.join(", "))
            }
            CatalogError::NothingToExport { session } => {
                write!(f, "session {session}: no confirmed takes to export")
            }
        }
    }
}

impl std::error::Error for CatalogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CatalogError::Write { error, .. } | CatalogError::Share { error, .. } => Some(error),
            CatalogError::Read(e) => Some(e),
            CatalogError::Connect(e) | CatalogError::Migrate(e) => Some(e),
            _ => None,
        }
    }
}
