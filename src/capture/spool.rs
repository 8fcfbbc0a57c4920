//! The local spool: take records and WAVs waiting for the share.
//!
//! Layout under `spool_path`:
//! - `takes/<take_id>.json`: the confirmation of every finished take (the commit
//!   point: a take exists once its record is renamed into place);
//! - `pending/<take_id>.wav`: audio not yet on the share.
//!
//! A WAV in `pending/` without a record was being written when the daemon died;
//! it is removed at start, and the board's retry records the take again.

use crate::durable;
use crate::protocol::{Confirmation, TakeState};
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Spool {
    root: PathBuf,
    pending: Mutex<BTreeSet<String>>,
}

fn ctx(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl Spool {
    /// Open (creating) the spool and clean up after a crash.
    pub fn open(root: &Path) -> io::Result<Spool> {
        let spool = Spool {
            root: root.to_path_buf(),
            pending: Mutex::new(BTreeSet::new()),
        };
        for dir in [spool.takes_dir(), spool.pending_dir()] {
            fs::create_dir_all(&dir).map_err(|e| ctx(&dir, e))?;
        }
        spool.recover()?;
        Ok(spool)
    }

    fn takes_dir(&self) -> PathBuf {
        self.root.join("takes")
    }

    fn pending_dir(&self) -> PathBuf {
        self.root.join("pending")
    }

    fn record_path(&self, take_id: &str) -> PathBuf {
        self.takes_dir().join(format!("{take_id}.json"))
    }

    /// Where a take's audio is written and waits for delivery.
    pub fn wav_path(&self, take_id: &str) -> PathBuf {
        self.pending_dir().join(format!("{take_id}.wav"))
    }

    /// Where the unprocessed recording sits until it is processed.
    pub fn raw_path(&self, take_id: &str) -> PathBuf {
        self.pending_dir().join(format!("{take_id}.raw.wav"))
    }

    fn recover(&self) -> io::Result<()> {
        let dir = self.takes_dir();
        for entry in fs::read_dir(&dir).map_err(|e| ctx(&dir, e))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if durable::is_temp_name(&name) {
                fs::remove_file(entry.path())?;
            }
        }
        let dir = self.pending_dir();
        let mut pending = self.pending.lock().expect("pending lock");
        for entry in fs::read_dir(&dir).map_err(|e| ctx(&dir, e))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if durable::is_temp_name(&name) || name.ends_with(".raw.wav") {
                // Processing was interrupted: the take was never confirmed.
                fs::remove_file(entry.path())?;
                continue;
            }
            let Some(id) = name.strip_suffix(".wav") else {
                continue;
            };
            match self.load(id) {
                Some(rec) if rec.state == TakeState::Spooled => {
                    pending.insert(id.to_string());
                }
                Some(_) => {
                    // Delivered (or failed) before the crash; only the cleanup was missed.
                    fs::remove_file(entry.path())?;
                }
                None => {
                    log::warn!(target: "takebox::capture",
                        "removing {}: its take was interrupted before it was recorded", entry.path().display());
                    fs::remove_file(entry.path())?;
                }
            }
        }
        Ok(())
    }

    /// The stored confirmation of a take, if it finished.
    pub fn load(&self, take_id: &str) -> Option<Confirmation> {
        let path = self.record_path(take_id);
        let text = fs::read(&path).ok()?;
        match serde_json::from_slice(&text) {
            Ok(c) => Some(c),
            Err(e) => {
                log::error!(target: "takebox::capture", "{}: unreadable take record: {e}", path.display());
                None
            }
        }
    }

    /// Store a take's confirmation durably; a spooled one joins the pending list.
    pub fn save(&self, confirmation: &Confirmation) -> io::Result<()> {
        let path = self.record_path(&confirmation.take_id);
        let mut text = serde_json::to_vec_pretty(confirmation).expect("confirmation serializes");
        text.push(b'\n');
        durable::write_atomic(&path, &text).map_err(|e| ctx(&path, e))?;
        let mut pending = self.pending.lock().expect("pending lock");
        if confirmation.state == TakeState::Spooled {
            pending.insert(confirmation.take_id.clone());
        } else {
            pending.remove(&confirmation.take_id);
        }
        Ok(())
    }

    /// Take ids waiting for the share, oldest name first.
    pub fn pending(&self) -> Vec<String> {
        self.pending
            .lock()
            .expect("pending lock")
            .iter()
            .cloned()
            .collect()
    }
}
