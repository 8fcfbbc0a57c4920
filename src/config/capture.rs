//! takebox's own `capture` and `notes` sections: what the recording
//! computer records, and how notes are named.

use super::CaptureDevice;
use crate::notes::MiddleC;
use crate::protocol::SampleFormat;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// How notes are named (see [`crate::notes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NoteSettings {
    pub middle_c: MiddleC,
}

/// The recording computer's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSettings {
    /// An ALSA PCM name (`hw:CARD=US16x08`, `pulse`), or a generated
    /// signal (`takebox:sine=440`): see [`CaptureDevice`].
    pub device: CaptureDevice,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: SampleFormat,
    /// Frames per ALSA period: the capture thread wakes once per period.
    pub period_frames: u32,
    /// Audio kept from before each take's start.
    pub pre_roll_seconds: f64,
    /// Audio kept after the articulation's duration, for the release.
    pub release_tail_seconds: f64,
    /// How late a command may arrive after its `start_at` and still get its audio.
    pub late_start_seconds: f64,
    /// How far ahead a `start_at` may lie.
    pub max_start_ahead_seconds: f64,
    /// Longest accepted note duration.
    pub max_take_seconds: f64,
    /// Root of the board's share as mounted on this computer.
    pub share_path: PathBuf,
    /// File that must exist at the share root before anything is written there,
    /// so that a missing mount never fills the bare mount point.
    pub share_marker: String,
    /// Local folder that holds takes until the share takes them, and take records.
    pub spool_path: PathBuf,
    pub listen: SocketAddr,
    /// Bearer token; the `TAKEBOX_TOKEN` environment variable overrides it.
    pub token: String,
    /// Keep real-time pace by the wall clock, for PCMs that are not clocked
    /// (alsa-lib's `file` plugin). Real devices pace themselves: leave it off.
    /// Written out only when on.
    #[serde(skip_serializing_if = "is_false")]
    pub pace: bool,
    /// MIDI ports (ALSA sequencer, by part of their `client:port` name) the
    /// instruments play through: `--check` and status say when one is missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub midi_ports: Vec<String>,
    /// A crossfade rendered into a sustain loop found while recording when
    /// the raw loop is rough (a pad, a chorus), seconds; 0 leaves every take
    /// as recorded. Written out only when set.
    #[serde(skip_serializing_if = "is_zero")]
    pub loop_crossfade_seconds: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            device: CaptureDevice::default(),
            sample_rate: 48_000,
            channels: 1,
            sample_format: SampleFormat::S24,
            period_frames: 4096,
            pre_roll_seconds: 2.0,
            release_tail_seconds: 1.0,
            late_start_seconds: 5.0,
            max_start_ahead_seconds: 30.0,
            max_take_seconds: 120.0,
            share_path: PathBuf::from("/mnt/takebox"),
            share_marker: ".takebox-share".into(),
            spool_path: PathBuf::from("/var/spool/takebox"),
            listen: SocketAddr::from(([0, 0, 0, 0], 5001)),
            token: String::new(),
            pace: false,
            midi_ports: Vec::new(),
            loop_crossfade_seconds: 0.0,
        }
    }
}

impl CaptureSettings {
    pub fn frames(&self, seconds: f64) -> u64 {
        (seconds * f64::from(self.sample_rate)).round() as u64
    }
}
