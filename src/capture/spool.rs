//! The local spool: take records and WAVs waiting for the share.
//!
//! Layout under `spool_path`, one folder per kind of file, so that no take id
//! can name another take's file (`x.raw` and `x` are two takes, never one
//! take's two files):
//! - `takes/<take_id>.json`: the confirmation of every finished take (the commit
//!   point: a take exists once its record is renamed into place);
//! - `pending/<take_id>.wav`: processed audio not yet on the share;
//! - `recording/<take_id>.wav`: the unprocessed recording of the take under way;
//! - `interrupted/<take_id>`: an empty file for each take a crash or kill cut
//!   short, so that the id is refused from then on, never recorded twice;
//! - `aborted/<take_id>`: the same for each take the board aborted.
//!
//! Temporary files start with a dot (see [`durable::temp_path_for`]); take ids
//! never do. At start, `recording/` is emptied (those takes were never
//! confirmed: the board records their slots again under new ids) and a WAV in
//! `pending/` without a spooled record is removed; either take id is kept in
//! `interrupted/`.

use crate::durable;
use crate::panics::locked;
use crate::protocol::{Confirmation, TakeState};
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folders under `spool_path`, made at start.
pub const SUBDIRS: [&str; 5] = ["takes", "pending", "recording", "interrupted", "aborted"];

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
        for dir in [
            spool.takes_dir(),
            spool.pending_dir(),
            spool.recording_dir(),
            spool.interrupted_dir(),
            spool.aborted_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(|e| ctx(&dir, e))?;
        }
        spool.recover()?;
        Ok(spool)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn takes_dir(&self) -> PathBuf {
        self.root.join(SUBDIRS[0])
    }

    fn pending_dir(&self) -> PathBuf {
        self.root.join(SUBDIRS[1])
    }

    fn recording_dir(&self) -> PathBuf {
        self.root.join(SUBDIRS[2])
    }

    fn interrupted_dir(&self) -> PathBuf {
        self.root.join(SUBDIRS[3])
    }

    fn aborted_dir(&self) -> PathBuf {
        self.root.join(SUBDIRS[4])
    }

    /// A take the board aborted: its id never records.
    pub fn was_aborted(&self, take_id: &str) -> bool {
        self.aborted_dir().join(take_id).exists()
    }

    /// Remember that `take_id` was aborted (durably: a restart keeps it), and
    /// remove whatever audio it left (its record never was saved).
    pub fn mark_aborted(&self, take_id: &str) -> io::Result<()> {
        let mark = self.aborted_dir().join(take_id);
        durable::write_atomic(&mark, b"").map_err(|e| ctx(&mark, e))?;
        for file in [self.raw_path(take_id), self.wav_path(take_id)] {
            match fs::remove_file(&file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(ctx(&file, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// A take that was cut short by a crash: its id must never record again
    /// (the board asks again by id after a restart, possibly still in time).
    pub fn was_interrupted(&self, take_id: &str) -> bool {
        self.interrupted_dir().join(take_id).exists()
    }

    /// Remove an interrupted take's file, remembering its id first.
    fn forget_interrupted(&self, take_id: Option<&str>, file: &Path) -> io::Result<()> {
        log::warn!(target: "takebox::capture",
            "removing {}: its take was interrupted before it was recorded", file.display());
        if let Some(id) = take_id {
            let mark = self.interrupted_dir().join(id);
            durable::write_atomic(&mark, b"").map_err(|e| ctx(&mark, e))?;
        }
        fs::remove_file(file).map_err(|e| ctx(file, e))
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
        self.recording_dir().join(format!("{take_id}.wav"))
    }

    /// Bytes free for this daemon on the spool's file system.
    pub fn free_bytes(&self) -> Option<u64> {
        crate::retention::free_bytes(&self.root).ok()
    }

    fn recover(&self) -> io::Result<()> {
        let remove = |path: &Path| fs::remove_file(path).map_err(|e| ctx(path, e));
        for entry in read_dir(&self.takes_dir())? {
            if durable::is_temp_name(&entry.file_name().to_string_lossy()) {
                remove(&entry.path())?;
            }
        }
        for entry in read_dir(&self.recording_dir())? {
            // Recording or processing was interrupted: the take was never confirmed.
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name
                .strip_suffix(".wav")
                .filter(|_| !durable::is_temp_name(&name));
            self.forget_interrupted(id, &entry.path())?;
        }
        let mut pending = locked(&self.pending);
        for entry in read_dir(&self.pending_dir())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = match name.strip_suffix(".wav") {
                Some(id) if !durable::is_temp_name(&name) => id,
                _ => {
                    remove(&entry.path())?;
                    continue;
                }
            };
            match self.load(id) {
                Some(rec) if rec.state == TakeState::Spooled => {
                    pending.insert(id.to_string());
                }
                Some(_) => {
                    // Delivered (or failed) before the crash; only the cleanup was missed.
                    remove(&entry.path())?;
                }
                None => self.forget_interrupted(Some(id), &entry.path())?,
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
        let mut pending = locked(&self.pending);
        if confirmation.state == TakeState::Spooled {
            pending.insert(confirmation.take_id.clone());
        } else {
            pending.remove(&confirmation.take_id);
        }
        Ok(())
    }

    /// Take ids waiting for the share, oldest name first.
    pub fn pending(&self) -> Vec<String> {
        locked(&self.pending).iter().cloned().collect()
    }
}

fn read_dir(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    fs::read_dir(dir)
        .and_then(|entries| entries.collect())
        .map_err(|e| ctx(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(take_id: &str, state: TakeState) -> Confirmation {
        Confirmation::for_tests(take_id, state, vec![])
    }

    /// A take id that looks like another take's working file (`rc.raw`
    /// beside `rc`) keeps its spooled audio through the other take and a restart.
    #[test]
    fn no_take_id_reaches_another_takes_files() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        fs::write(spool.wav_path("rc.raw"), b"audio of rc.raw").unwrap();
        spool.save(&record("rc.raw", TakeState::Spooled)).unwrap();
        // Take `rc` records and processes next to it.
        fs::write(spool.raw_path("rc"), b"raw of rc").unwrap();
        fs::write(spool.wav_path("rc"), b"audio of rc").unwrap();
        fs::remove_file(spool.raw_path("rc")).unwrap();
        spool.save(&record("rc", TakeState::Spooled)).unwrap();
        drop(spool);
        // A restart with a take interrupted mid-recording.
        fs::write(dir.path().join("recording/x.wav"), b"half").unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.pending(), ["rc", "rc.raw"]);
        assert_eq!(
            fs::read(spool.wav_path("rc.raw")).unwrap(),
            b"audio of rc.raw"
        );
        assert_eq!(fs::read(spool.wav_path("rc")).unwrap(), b"audio of rc");
        assert!(!dir.path().join("recording/x.wav").exists());
    }

    /// A take killed mid-recording was recorded again when the board asked
    /// for it by the same id after the restart. Its id is now kept, across
    /// later restarts too; a take that finished is not marked.
    #[test]
    fn an_interrupted_take_id_is_remembered_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        fs::write(spool.raw_path("cut"), b"half a recording").unwrap();
        fs::write(spool.wav_path("unsaved"), b"processed, no record").unwrap();
        fs::write(spool.wav_path("kept"), b"audio").unwrap();
        spool.save(&record("kept", TakeState::Spooled)).unwrap();
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.was_interrupted("cut"));
        assert!(spool.was_interrupted("unsaved"));
        assert!(!spool.was_interrupted("kept"));
        assert!(!spool.raw_path("cut").exists());
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert!(
            spool.was_interrupted("cut"),
            "forgotten at the next restart"
        );
        assert_eq!(spool.pending(), ["kept"]);
    }

    /// An aborted take leaves no audio, and its id stays refused after a
    /// restart; a take id marked before it ever came has nothing to remove.
    #[test]
    fn an_aborted_take_id_is_kept_and_its_audio_removed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        fs::write(spool.raw_path("cut"), b"half a recording").unwrap();
        fs::write(spool.wav_path("cut"), b"processed, no record").unwrap();
        spool.mark_aborted("cut").unwrap();
        spool.mark_aborted("never-came").unwrap();
        assert!(!spool.raw_path("cut").exists() && !spool.wav_path("cut").exists());
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.was_aborted("cut") && spool.was_aborted("never-came"));
        assert!(!spool.was_aborted("other") && !spool.was_interrupted("cut"));
    }
}
