//! Each recorder's health, level meter and clock offset, from its status replies
//! (polled once a second) and from how its take requests fare.

use super::clock::OffsetEstimator;
use super::recorder_client::{RecorderClient, RecorderError};
use crate::protocol::{DeviceState, Timestamp};
use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

pub const POLL_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecorderHealth {
    pub url: String,
    pub up: bool,
    /// Device state as the recorder reports it (`running`, `opening`, `error`).
    pub device: Option<String>,
    pub error: Option<String>,
    /// Recent input peak per channel, dBFS (`None`: silence).
    pub input_peak_dbfs: Vec<Option<f64>>,
    /// 0..100 per channel for a meter (-60 dBFS and below: 0).
    pub meter: Vec<u32>,
    pub recording: Option<String>,
    /// The recorder would accept a take now with its full pre-roll.
    pub ready: Option<bool>,
    /// What the recorder waits for while it is not ready.
    pub not_ready: Option<String>,
    pub spool_pending: usize,
    pub spool_free_bytes: Option<u64>,
    /// Seconds of note the recorder's spool has room for.
    pub spool_room_seconds: Option<f64>,
    pub share_available: Option<bool>,
    pub share_error: Option<String>,
    /// Recorder clock minus board clock.
    pub offset_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub checked_at: Option<Timestamp>,
}

impl RecorderHealth {
    pub(crate) fn unknown(url: &str) -> RecorderHealth {
        RecorderHealth {
            url: url.to_string(),
            up: false,
            device: None,
            error: Some("not reached yet".into()),
            input_peak_dbfs: Vec::new(),
            meter: Vec::new(),
            recording: None,
            ready: None,
            not_ready: None,
            spool_pending: 0,
            spool_free_bytes: None,
            spool_room_seconds: None,
            share_available: None,
            share_error: None,
            offset_ms: None,
            rtt_ms: None,
            checked_at: None,
        }
    }
}

/// Meter position for a peak in dBFS: -60..0 dBFS onto 0..100.
pub fn meter_percent(dbfs: Option<f64>) -> u32 {
    match dbfs {
        Some(d) if d.is_finite() => ((d + 60.0) / 60.0 * 100.0).clamp(0.0, 100.0).round() as u32,
        _ => 0,
    }
}

impl RecorderHealth {
    /// Why a take of `note_seconds` should not be armed on this recorder, as
    /// far as its last status tells: down when last asked, not ready, or no
    /// room in its spool (a recorder not asked yet is not judged: the take
    /// waits for it).
    pub fn cannot_record(&self, note_seconds: f64) -> Option<String> {
        if !self.up {
            return self.checked_at.is_some().then(|| {
                format!(
                    "{} is down: {}",
                    self.url,
                    self.error.as_deref().unwrap_or("it does not answer")
                )
            });
        }
        if self.ready == Some(false) {
            let why = self.not_ready.as_deref().unwrap_or("not ready");
            return Some(format!("{} is not ready: {why}", self.url));
        }
        match self.spool_room_seconds {
            Some(room) if room < note_seconds => Some(format!(
                "{}: its spool has room for {room:.1} s of note ({}), the take needs {note_seconds} s",
                self.url,
                self.spool_free_bytes
                    .map(|b| format!("{:.1} MB free", b as f64 / 1e6))
                    .unwrap_or_else(|| "free space unknown".into())
            )),
            _ => None,
        }
    }
}

pub struct Health {
    entries: Mutex<Vec<(RecorderHealth, OffsetEstimator)>>,
}

impl Health {
    pub fn new(clients: &[RecorderClient]) -> Health {
        Health {
            entries: Mutex::new(
                clients
                    .iter()
                    .map(|c| (RecorderHealth::unknown(&c.url), OffsetEstimator::default()))
                    .collect(),
            ),
        }
    }

    pub fn snapshot(&self) -> Vec<RecorderHealth> {
        self.entries
            .lock()
            .map(|e| e.iter().map(|(h, _)| h.clone()).collect())
            .unwrap_or_default()
    }

    /// Clock offset per recorder in seconds (None: never reached).
    pub fn offsets(&self) -> Vec<Option<f64>> {
        self.entries
            .lock()
            .map(|e| e.iter().map(|(_, o)| o.offset()).collect())
            .unwrap_or_default()
    }

    /// A take request failed for a reason that says the recorder is unreachable.
    /// Returns true when this changes what the page shows.
    pub fn mark_trouble(&self, i: usize, error: &str) -> bool {
        let Ok(mut e) = self.entries.lock() else {
            return false;
        };
        let h = &mut e[i].0;
        let changed = h.error.as_deref() != Some(error);
        h.error = Some(error.to_string());
        changed
    }

    fn record(
        &self,
        i: usize,
        result: Result<(crate::protocol::RecorderStatus, f64, f64), RecorderError>,
    ) -> bool {
        let Ok(mut e) = self.entries.lock() else {
            return false;
        };
        let (h, est) = &mut e[i];
        let before = h.clone();
        h.checked_at = Some(Timestamp::now());
        match result {
            Ok((s, sent, received)) => {
                est.add(sent, received, s.clock.unix_seconds());
                h.up = true;
                h.device = Some(
                    match s.state {
                        DeviceState::Opening => "opening",
                        DeviceState::Running => "running",
                        DeviceState::Error => "error",
                    }
                    .into(),
                );
                h.error = s.device_error.clone();
                h.meter = s
                    .input_peak_dbfs
                    .iter()
                    .map(|p| meter_percent(*p))
                    .collect();
                h.input_peak_dbfs = s.input_peak_dbfs;
                h.recording = s.recording;
                h.ready = Some(s.ready);
                h.not_ready = s.not_ready;
                h.spool_pending = s.spool_pending.len();
                h.spool_free_bytes = s.spool.free_bytes;
                h.spool_room_seconds = s.spool.room_seconds;
                h.share_available = Some(s.share.available);
                h.share_error = s.share.error;
                h.offset_ms = est.offset().map(|o| (o * 1e4).round() / 10.0);
                h.rtt_ms = est.best_rtt().map(|r| (r * 1e4).round() / 10.0);
            }
            Err(err) => {
                h.up = false;
                h.device = None;
                h.error = Some(err.to_string());
                h.meter.clear();
                h.input_peak_dbfs.clear();
                h.recording = None;
                h.ready = None;
                h.not_ready = None;
            }
        }
        let mut a = before;
        a.checked_at = h.checked_at;
        a != *h
    }
}

/// Poll every recorder's status until `shutdown`; tell subscribers when
/// something shown on the page changed (the meter moves with every poll).
pub async fn poll_loop(
    clients: Vec<RecorderClient>,
    health: std::sync::Arc<Health>,
    changed: broadcast::Sender<super::cycle::Event>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut set = tokio::task::JoinSet::new();
        for (i, c) in clients.iter().cloned().enumerate() {
            set.spawn(async move { (i, c.status().await) });
        }
        let mut any = false;
        while let Some(Ok((i, result))) = set.join_next().await {
            if let Err(e) = &result {
                log::debug!(target: "takebox::control", "status of {}: {e}", clients[i].url);
            }
            any |= health.record(i, result);
        }
        if any {
            let _ = changed.send(super::cycle::Event::Recorders);
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meter_scale() {
        use super::meter_percent;
        assert_eq!(meter_percent(None), 0);
        assert_eq!(meter_percent(Some(0.0)), 100);
        assert_eq!(meter_percent(Some(-30.0)), 50);
        assert_eq!(meter_percent(Some(-90.0)), 0);
        assert_eq!(meter_percent(Some(3.0)), 100);
    }

    #[test]
    fn a_recorder_not_ready_or_without_spool_room_is_not_armed() {
        let mut h = super::RecorderHealth::unknown("http://r");
        assert_eq!(h.cannot_record(2.0), None, "not asked yet: the take waits");
        h.checked_at = Some(crate::protocol::Timestamp::now());
        h.error = Some("connection refused".into());
        assert_eq!(
            h.cannot_record(2.0).as_deref(),
            Some("http://r is down: connection refused")
        );
        h.up = true;
        h.ready = Some(false);
        h.not_ready = Some("filling the pre-roll".into());
        assert!(
            h.cannot_record(2.0)
                .unwrap()
                .contains("filling the pre-roll")
        );
        h.ready = Some(true);
        h.spool_room_seconds = Some(1.5);
        h.spool_free_bytes = Some(2_000_000);
        let why = h.cannot_record(2.0).unwrap();
        assert!(why.contains("1.5 s") && why.contains("2.0 MB"), "{why}");
        assert_eq!(h.cannot_record(1.0), None);
    }
}
