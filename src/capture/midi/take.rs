//! A MIDI take's steps around the recording: the port made ready and the
//! last release waited out before it, the note scheduled, and after it the
//! onset reported and (on a calibration take) the port's latency stored.

use super::MidiError;
use super::hub::{MidiHub, Prepared};
use super::player::{self, Note, Playing};
use super::schedule;
use crate::dsp::onset::{Onset, ms_from_start};
use crate::protocol::{MidiReport, MidiTake};
use std::time::{Duration, Instant};

/// A MIDI take made ready: its port, its note, the wait before it.
pub struct MidiStart {
    pub take: MidiTake,
    pub prepared: Prepared,
    pub note: Note,
    pub waited_seconds: f64,
    pub wait_timed_out: bool,
}

/// How often the input level is looked at while waiting for quiet.
const POLL: Duration = Duration::from_millis(10);

/// Open the port (program and bank sent when they change) and wait for the
/// previous release to decay under the noise floor, at most
/// [`MidiTake::max_wait`]. `peaks` reads the input's recent peak per channel.
pub fn prepare(
    hub: &MidiHub,
    take: &MidiTake,
    midi_note: u8,
    peaks: &dyn Fn() -> Vec<f32>,
    cancel: &dyn Fn() -> bool,
) -> Result<MidiStart, MidiError> {
    let prepared = hub.prepare(take)?;
    let quiet = schedule::quiet_threshold(prepared.noise_peak);
    let max = take.max_wait();
    let began = Instant::now();
    let mut timed_out = false;
    while !cancel() && peaks().iter().any(|p| *p > quiet) {
        if began.elapsed() >= max {
            timed_out = true;
            break;
        }
        std::thread::sleep(POLL);
    }
    Ok(MidiStart {
        note: Note {
            channel: take.channel - 1,
            note: midi_note,
            velocity: take.velocity,
        },
        take: take.clone(),
        prepared,
        waited_seconds: (began.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        wait_timed_out: timed_out,
    })
}

impl MidiStart {
    pub fn latency_ns(&self) -> i64 {
        schedule::latency_ns(self.prepared.latency_ms)
    }

    /// Play the note so that its sound starts at `start_ns` (wall clock).
    pub fn play(&self, start_ns: u64, duration: f64) -> Playing {
        let times = schedule::note_times(
            start_ns,
            self.latency_ns(),
            Duration::from_secs_f64(duration),
        );
        player::play(self.prepared.out.clone(), self.note, times)
    }

    /// The confirmation's report; a take with an onset stores the port's
    /// latency first: a calibration take's own, and every later take's
    /// refinement of it (see [`MidiHub::track_latency`]).
    pub fn report(&self, hub: &MidiHub, onset: Onset, pre_roll: u64, rate: u32) -> MidiReport {
        let onset_ms = onset.frame.map(|f| ms_from_start(f, pre_roll, rate));
        hub.note_noise(&self.take.port, onset.noise_peak);
        let calibration = self.take.calibrate;
        let measured = onset_ms.map(|ms| schedule::calibrated_ms(self.prepared.latency_ms, ms));
        let plausible = measured.filter(|ms| schedule::plausible_latency(*ms));
        if let (Some(ms), None) = (measured, plausible) {
            log::warn!(target: "takebox::capture",
                "MIDI port {:?}: a latency of {ms} ms cannot be right; the stored one is kept", self.take.port);
        }
        let tracked = plausible.map(|ms| hub.track_latency(&self.take.port, ms, calibration));
        if let Some(ms) = tracked.filter(|ms| calibration || *ms != self.prepared.latency_ms) {
            match hub.store_latency(&self.take.port, ms) {
                Ok(()) => log::info!(target: "takebox::capture",
                    "MIDI port {:?}: latency {ms} ms (the onset came {} ms from start_at)",
                    self.take.port, onset_ms.unwrap_or_default()),
                Err(e) => log::error!(target: "takebox::capture",
                    "MIDI port {:?}: latency {ms} ms not stored: {e}", self.take.port),
            }
        }
        let calibrated = plausible.filter(|_| calibration);
        MidiReport {
            port: self.prepared.name.clone(),
            latency_ms: self.prepared.latency_ms,
            onset_ms,
            calibrated_latency_ms: calibrated,
            waited_seconds: self.waited_seconds,
            wait_timed_out: self.wait_timed_out,
        }
    }
}
