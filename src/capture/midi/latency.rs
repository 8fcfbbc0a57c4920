//! Each port's measured latency (MIDI out to sound in), kept in the
//! recorder's state folder so a restart keeps its calibration.

use crate::panics::locked;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file, in the spool folder (the recorder's state).
pub const FILE_NAME: &str = "midi-latency.json";

pub struct LatencyStore {
    path: PathBuf,
    /// Milliseconds by port name as the instrument names it.
    ms: Mutex<BTreeMap<String, f64>>,
}

impl LatencyStore {
    /// Read the stored latencies; a missing file holds none, an unreadable
    /// one is logged and ignored (the ports are calibrated again).
    pub fn open(state_dir: &Path) -> LatencyStore {
        let path = state_dir.join(FILE_NAME);
        let ms = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                log::warn!(target: "takebox::capture", "{}: {e}; MIDI ports need calibrating again", path.display());
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        LatencyStore {
            path,
            ms: Mutex::new(ms),
        }
    }

    pub fn get(&self, port: &str) -> Option<f64> {
        locked(&self.ms).get(port).copied()
    }

    /// Store `port`'s latency, durably.
    pub fn set(&self, port: &str, ms: f64) -> std::io::Result<()> {
        let mut map = locked(&self.ms);
        map.insert(port.to_string(), ms);
        let text = serde_json::to_vec_pretty(&*map).map_err(std::io::Error::other)?;
        crate::durable::write_atomic(&self.path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_survive_a_restart_and_bad_files_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = LatencyStore::open(dir.path());
        assert_eq!(store.get("FLUID"), None);
        store.set("FLUID", 11.604).unwrap();
        assert_eq!(LatencyStore::open(dir.path()).get("FLUID"), Some(11.604));
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        assert_eq!(LatencyStore::open(dir.path()).get("FLUID"), None);
    }
}
