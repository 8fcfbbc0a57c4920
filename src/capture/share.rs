//! Delivery onto the board's share: only when its marker file is there, under a
//! temporary name first, fsynced, renamed, the directory fsynced, and checked
//! against the spool copy's SHA-256.

use crate::durable;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub struct Share {
    root: PathBuf,
    marker: String,
}

impl Share {
    pub fn new(root: &Path, marker: &str) -> Share {
        Share {
            root: root.to_path_buf(),
            marker: marker.to_string(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The share is mounted and ours: never write into a bare mount point.
    pub fn available(&self) -> bool {
        self.root.join(&self.marker).is_file()
    }

    pub fn free_bytes(&self) -> Option<u64> {
        let st = nix::sys::statvfs::statvfs(&self.root).ok()?;
        Some(st.blocks_available() as u64 * st.fragment_size() as u64)
    }

    /// Copy `src` to `rel` (a `/`-separated path of checked names) on the share.
    pub fn deliver(&self, src: &Path, rel: &str, sha256: &str) -> io::Result<()> {
        if !self.available() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "share not available: {} has no marker file {}",
                    self.root.display(),
                    self.marker
                ),
            ));
        }
        let dest = self.root.join(rel);
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| at(&dir, e))?;
            durable::sync_dir(dir.parent().unwrap_or(&self.root)).map_err(|e| at(&dir, e))?;
        }
        let tmp = durable::temp_path_for(&dest);
        let result = copy_and_hash(src, &tmp).and_then(|digest| {
            if digest != sha256 {
                return Err(io::Error::other(format!(
                    "{} does not match the recorded checksum after copying",
                    tmp.display()
                )));
            }
            durable::publish(&tmp, &dest).map_err(|e| at(&dest, e))
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

/// Copy, fsync, and return the hex SHA-256 of what was written.
fn copy_and_hash(src: &Path, dest: &Path) -> io::Result<String> {
    let mut input = File::open(src).map_err(|e| at(src, e))?;
    let mut out = File::create(dest).map_err(|e| at(dest, e))?;
    let mut hasher = Sha256::new();
    // Large blocks: a take is tens of megabytes, and each block is two syscalls.
    let mut buf = vec![0u8; 1 << 18];
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
