//! Settings -> Update: a bundle uploaded to the board is streamed to disk
//! (never held in memory) under `control.update_dir`'s `incoming/`, then renamed
//! complete; root's path unit (image/overlay: takebox-update-request) takes
//! it from there, verifies and installs it, and writes its progress into
//! `status` beside it, which [`Updates::board`] reads back. A reboot
//! is asked for the same way: a request file, never a command line.

use super::board_update;
use crate::protocol::{BoardVersion, UploadProgress};
use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Kept free on `/var` whatever the bundle: logs, settings and Samba's
/// state must still be written while it waits to be installed.
pub const RESERVE_BYTES: u64 = 64 * 1024 * 1024;
/// The complete bundle root's path unit waits for.
pub const BUNDLE: &str = "bundle.raucb";
/// The bundle while it arrives.
const PART: &str = "bundle.raucb.part";
/// Asks root to reboot into the installed slot.
pub const REBOOT: &str = "reboot";
/// Chunks in flight between the connection and the disk writer.
const IN_FLIGHT: usize = 8;

/// Why an upload or a reboot request was refused or did not complete.
#[derive(Debug)]
pub enum UploadError {
    /// No Content-Length: the size must be known before a byte is written.
    NoLength,
    /// Another upload or an install is under way.
    Busy(String),
    /// The bundle does not fit on `/var` beside [`RESERVE_BYTES`].
    NoRoom {
        size: u64,
        free: u64,
        folder: PathBuf,
    },
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The client went away or sent a broken body.
    BrokeOff {
        received: u64,
        total: u64,
        why: String,
    },
    /// Nothing arrived for this many seconds.
    Stalled {
        received: u64,
        secs: u64,
    },
    Form(crate::http::multipart::MultipartError),
    /// A reboot asked for with no installed update to boot into.
    NothingToReboot(String),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use UploadError::*;
        match self {
            NoLength => f.write_str("the upload needs a Content-Length (its size is checked against the free space first)"),
            Busy(why) => write!(f, "not now: {why}"),
            NoRoom { size, free, folder } => write!(
                f,
                "the bundle ({} MB) does not fit: {} has {} MB free, of which {} MB stay free for logs and settings",
                mb(*size), folder.display(), mb(*free), mb(RESERVE_BYTES)
            ),
            Io { path, source } => write!(f, "{}: {source}", path.display()),
            BrokeOff { received, total, why } => {
                write!(f, "the upload broke off after {received} of {total} bytes: {why}")
            }
            Stalled { received, secs } => {
                write!(f, "the upload stalled for {secs} s after {received} bytes")
            }
            Form(e) => write!(f, "{e}"),
            NothingToReboot(why) => write!(f, "no reboot: {why}"),
        }
    }
}

impl std::error::Error for UploadError {}

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1_000_000)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UploadError + '_ {
    move |source| UploadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The upload under way: bytes received of the announced total.
struct Active {
    received: Arc<AtomicU64>,
    total: u64,
}

/// The board's update folder and the upload under way, if any.
pub struct Updates {
    dir: PathBuf,
    version_file: PathBuf,
    active: Arc<Mutex<Option<Active>>>,
}

impl Updates {
    /// `dir`: `control.update_dir` (`/var/lib/takebox-update` on the image).
    pub fn new(dir: PathBuf, version_file: PathBuf) -> Updates {
        Updates {
            dir,
            version_file,
            active: Arc::default(),
        }
    }

    fn incoming(&self) -> PathBuf {
        self.dir.join("incoming")
    }

    /// What the board runs, how its last update went, and the upload now.
    pub fn board(&self) -> BoardVersion {
        let mut board = board_update::read(&self.version_file, &self.dir.join("status"));
        board.upload = self.upload_progress();
        board
    }

    fn upload_progress(&self) -> Option<UploadProgress> {
        let progress = |state: &str, received: u64, total: u64| UploadProgress {
            state: state.into(),
            received,
            total,
            percent: (received.saturating_mul(100) / total.max(1)).min(100) as u8,
        };
        if let Some(a) = crate::panics::locked(&self.active).as_ref() {
            return Some(progress(
                "uploading",
                a.received.load(Ordering::Relaxed),
                a.total,
            ));
        }
        let queued = std::fs::metadata(self.incoming().join(BUNDLE)).ok()?;
        Some(progress("queued", queued.len(), queued.len()))
    }

    /// The state root's updater last wrote (`installing`, `installed`, ...).
    fn update_state(&self) -> Option<String> {
        board_update::read(&self.version_file, &self.dir.join("status"))
            .update
            .map(|u| u.state)
    }

    /// Start receiving a bundle of `size` bytes, unless one is on its way or
    /// being installed, or it does not fit.
    pub fn begin(&self, size: u64) -> Result<Upload, UploadError> {
        let mut active = crate::panics::locked(&self.active);
        if let Some(a) = active.as_ref() {
            let got = a.received.load(Ordering::Relaxed);
            return Err(UploadError::Busy(format!(
                "another upload is in progress ({got} of {} bytes)",
                a.total
            )));
        }
        let incoming = self.incoming();
        if incoming.join(BUNDLE).exists() {
            return Err(UploadError::Busy(
                "an uploaded bundle waits for the board's updater".into(),
            ));
        }
        if let Some(s @ ("verifying" | "installing")) = self.update_state().as_deref() {
            return Err(UploadError::Busy(format!("an update is {s} now")));
        }
        std::fs::create_dir_all(&incoming).map_err(io(&incoming))?;
        let part = incoming.join(PART);
        // What a crashed upload left counts as free space.
        match std::fs::remove_file(&part) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&part)(e)),
            _ => {}
        }
        let free = crate::retention::free_bytes(&incoming).map_err(io(&incoming))?;
        if size > free.saturating_sub(RESERVE_BYTES) {
            return Err(UploadError::NoRoom {
                size,
                free,
                folder: incoming,
            });
        }
        let file = std::fs::File::create(&part).map_err(io(&part))?;
        let received = Arc::new(AtomicU64::new(0));
        *active = Some(Active {
            received: received.clone(),
            total: size,
        });
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let writer = tokio::task::spawn_blocking({
            let part = part.clone();
            move || write_all(file, rx, &part)
        });
        Ok(Upload {
            tx: Some(tx),
            writer: Some(writer),
            part,
            done: incoming.join(BUNDLE),
            received,
            total: size,
            active: self.active.clone(),
            finished: false,
        })
    }

    /// Ask root to reboot into the slot an update was installed into.
    pub fn request_reboot(&self) -> Result<(), UploadError> {
        match self.update_state().as_deref() {
            Some("installed") => {}
            Some(other) => {
                return Err(UploadError::NothingToReboot(format!(
                    "the last update is {other}, not installed"
                )));
            }
            None => {
                return Err(UploadError::NothingToReboot(
                    "no update was installed".into(),
                ));
            }
        }
        let incoming = self.incoming();
        std::fs::create_dir_all(&incoming).map_err(io(&incoming))?;
        let request = incoming.join(REBOOT);
        std::fs::write(&request, b"").map_err(io(&request))?;
        log::info!(target: "takebox::control", "reboot into the installed update asked for ({})", request.display());
        Ok(())
    }
}

/// The disk side: chunks from the connection, written in order, synced.
fn write_all(
    mut file: std::fs::File,
    mut rx: mpsc::Receiver<Bytes>,
    part: &Path,
) -> Result<u64, UploadError> {
    let mut written = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        file.write_all(&chunk).map_err(io(part))?;
        written += chunk.len() as u64;
    }
    file.sync_all().map_err(io(part))?;
    Ok(written)
}

/// A bundle arriving. Dropped before [`Upload::finish`] (the client went
/// away, a refusal), its partial file is removed and the board is free for
/// the next upload.
pub struct Upload {
    tx: Option<mpsc::Sender<Bytes>>,
    writer: Option<JoinHandle<Result<u64, UploadError>>>,
    part: PathBuf,
    done: PathBuf,
    received: Arc<AtomicU64>,
    total: u64,
    active: Arc<Mutex<Option<Active>>>,
    finished: bool,
}

impl Upload {
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The next bytes of the bundle, written in order; waits while the disk
    /// is behind (at most [`IN_FLIGHT`] chunks are held).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), UploadError> {
        let len = chunk.len() as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if !sent {
            // The writer stopped: its error says why.
            return Err(self.writer_result().await.err().unwrap_or_else(|| {
                UploadError::BrokeOff {
                    received: self.received(),
                    total: self.total,
                    why: "the disk writer stopped".into(),
                }
            }));
        }
        self.received.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    async fn writer_result(&mut self) -> Result<u64, UploadError> {
        self.tx = None;
        match self.writer.take() {
            Some(w) => w.await.unwrap_or_else(|e| {
                Err(UploadError::BrokeOff {
                    received: self.received(),
                    total: self.total,
                    why: format!("the disk writer failed: {e}"),
                })
            }),
            None => Err(UploadError::BrokeOff {
                received: self.received(),
                total: self.total,
                why: "the disk writer stopped".into(),
            }),
        }
    }

    /// All bytes are in: synced, then renamed complete for root's updater.
    pub async fn finish(mut self) -> Result<u64, UploadError> {
        let written = self.writer_result().await?;
        std::fs::rename(&self.part, &self.done).map_err(io(&self.done))?;
        self.finished = true;
        log::info!(target: "takebox::control", "update bundle uploaded: {written} bytes in {}", self.done.display());
        Ok(written)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.tx = None;
        if !self.finished {
            let _ = std::fs::remove_file(&self.part);
        }
        *crate::panics::locked(&self.active) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updates(dir: &Path) -> Updates {
        Updates::new(dir.join("update"), dir.join("version"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bundle_streams_to_its_file_and_one_upload_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let u = updates(dir.path());
        let mut up = u.begin(6).unwrap();
        assert!(matches!(u.begin(6), Err(UploadError::Busy(_))));
        up.write(Bytes::from_static(b"abc")).await.unwrap();
        let p = u.board().upload.unwrap();
        assert_eq!(
            (p.state.as_str(), p.received, p.percent),
            ("uploading", 3, 50)
        );
        up.write(Bytes::from_static(b"def")).await.unwrap();
        assert_eq!(up.finish().await.unwrap(), 6);
        let bundle = dir.path().join("update/incoming").join(BUNDLE);
        assert_eq!(std::fs::read(&bundle).unwrap(), b"abcdef");
        assert_eq!(u.board().upload.unwrap().state, "queued");
        assert!(matches!(u.begin(6), Err(UploadError::Busy(_))));
        std::fs::remove_file(&bundle).unwrap();
        // Dropped half way: no partial file left, and the next may begin.
        let mut up = u.begin(6).unwrap();
        up.write(Bytes::from_static(b"abc")).await.unwrap();
        drop(up);
        assert!(!dir.path().join("update/incoming").join(PART).exists());
        assert_eq!(u.board().upload, None);
        assert!(matches!(u.begin(u64::MAX), Err(UploadError::NoRoom { .. })));
    }

    #[test]
    fn a_reboot_is_asked_only_with_an_installed_update() {
        let dir = tempfile::tempdir().unwrap();
        let u = updates(dir.path());
        assert!(matches!(
            u.request_reboot(),
            Err(UploadError::NothingToReboot(_))
        ));
        std::fs::create_dir_all(dir.path().join("update")).unwrap();
        let status = dir.path().join("update/status");
        std::fs::write(
            &status,
            "state=installing\nversion=v2\nslot=B\npercent=40\n",
        )
        .unwrap();
        assert!(matches!(
            u.request_reboot(),
            Err(UploadError::NothingToReboot(_))
        ));
        assert!(matches!(u.begin(1), Err(UploadError::Busy(_))));
        std::fs::write(&status, "state=installed\nversion=v2\nslot=B\n").unwrap();
        u.request_reboot().unwrap();
        assert!(dir.path().join("update/incoming").join(REBOOT).exists());
    }
}
