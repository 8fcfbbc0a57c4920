//! Delivery onto the board's share: only when its marker file is there, under a
//! temporary name first, fsynced, checked against the spool copy's SHA-256,
//! then moved to its final name without ever replacing a file that is there.

use crate::durable;
use crate::protocol::ShareStatus;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Share {
    root: PathBuf,
    marker: String,
    /// The error of the last write onto the share, until a write succeeds:
    /// a share that is mounted read-only or full still has its marker.
    last_error: Mutex<Option<String>>,
}

/// Why a take could not be delivered.
#[derive(Debug)]
pub enum DeliveryError {
    /// The share is away or failing; the take waits in the spool and is tried again.
    Unavailable(io::Error),
    /// Its final name holds a different file: never replaced, never retried.
    NameTaken { path: String, sha256: String },
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Unavailable(e) => write!(f, "{e}"),
            DeliveryError::NameTaken { path, sha256 } => write!(
                f,
                "{path} already holds another file (SHA-256 {sha256}); it is left as it is and this take stays in the spool"
            ),
        }
    }
}

impl Share {
    pub fn new(root: &Path, marker: &str) -> Share {
        Share {
            root: root.to_path_buf(),
            marker: marker.to_string(),
            last_error: Mutex::new(None),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The share is mounted and ours: never write into a bare mount point.
    pub fn marker_present(&self) -> bool {
        self.root.join(&self.marker).is_file()
    }

    fn missing_marker(&self) -> String {
        format!(
            "share not available: {} has no marker file {}",
            self.root.display(),
            self.marker
        )
    }

    pub fn free_bytes(&self) -> Option<u64> {
        crate::retention::free_bytes(&self.root).ok()
    }

    /// Whether the last write failed (so a probe should find out whether it is back).
    pub fn failing(&self) -> bool {
        crate::panics::locked(&self.last_error).is_some()
    }

    pub fn status(&self) -> ShareStatus {
        let error = if self.marker_present() {
            crate::panics::locked(&self.last_error).clone()
        } else {
            Some(self.missing_marker())
        };
        ShareStatus {
            path: self.root.display().to_string(),
            available: error.is_none(),
            free_bytes: self.free_bytes(),
            error,
        }
    }

    /// Write and remove a small file, to learn whether a failing share takes
    /// writes again while no take waits to be delivered.
    pub fn probe(&self) {
        let result: io::Result<()> = if self.marker_present() {
            let path = self
                .root
                .join(format!(".takebox-write-check-{}.part", std::process::id()));
            let r = File::create(&path)
                .and_then(|mut f| f.write_all(b"takebox\n").and_then(|()| f.sync_all()))
                .map_err(|e| at(&path, e));
            let _ = fs::remove_file(&path);
            r
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                self.missing_marker(),
            ))
        };
        *crate::panics::locked(&self.last_error) = result.err().map(|e| e.to_string());
    }

    /// Copy `src` to `rel` (a `/`-separated path of checked names) on the share.
    /// A file already at `rel` with the same SHA-256 is this take delivered
    /// before (its record was not updated in time): done, nothing is copied.
    pub fn deliver(&self, src: &Path, rel: &str, sha256: &str) -> Result<(), DeliveryError> {
        let dest = self.root.join(rel);
        match self.copy_into_place(src, &dest, sha256) {
            Ok(()) => {
                *crate::panics::locked(&self.last_error) = None;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match sha256_of(&dest) {
                Ok(found) if found == sha256 => Ok(()),
                Ok(found) => Err(DeliveryError::NameTaken {
                    path: rel.to_string(),
                    sha256: found,
                }),
                Err(e) => Err(self.failed(e)),
            },
            Err(e) => Err(self.failed(e)),
        }
    }

    fn failed(&self, e: io::Error) -> DeliveryError {
        *crate::panics::locked(&self.last_error) = Some(e.to_string());
        DeliveryError::Unavailable(e)
    }

    fn copy_into_place(&self, src: &Path, dest: &Path, sha256: &str) -> io::Result<()> {
        if !self.marker_present() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                self.missing_marker(),
            ));
        }
        if fs::symlink_metadata(dest).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"));
        }
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| at(&dir, e))?;
            durable::sync_dir(dir.parent().unwrap_or(&self.root)).map_err(|e| at(&dir, e))?;
        }
        let tmp = durable::temp_path_for(dest);
        let result = copy_and_hash(src, &tmp).and_then(|digest| {
            if digest != sha256 {
                return Err(io::Error::other(format!(
                    "{} does not match the recorded checksum after copying",
                    tmp.display()
                )));
            }
            durable::publish_new(&tmp, dest).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    e
                } else {
                    at(dest, e)
                }
            })
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Large blocks: a take is tens of megabytes, and each block is two syscalls.
const BLOCK: usize = 1 << 18;

/// Copy, fsync, and return the hex SHA-256 of what was written.
fn copy_and_hash(src: &Path, dest: &Path) -> io::Result<String> {
    let mut input = File::open(src).map_err(|e| at(src, e))?;
    let mut out = File::create(dest).map_err(|e| at(dest, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = input.read(&mut buf).map_err(|e| at(src, e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| at(dest, e))?;
        hasher.update(&buf[..n]);
    }
    out.sync_all().map_err(|e| at(dest, e))?;
    Ok(crate::wav::hex(&hasher.finalize()))
}

fn sha256_of(path: &Path) -> io::Result<String> {
    crate::capture::take::sha256_file(path).map_err(|e| at(path, e))
}
