//! The capture thread: keeps the source open, reads it period by period into
//! the history ring, recovers xruns, reopens a lost device with backoff, and
//! publishes meters. It never waits on disk, network or a lock they hold.

use super::ring::{HistoryRing, RingWriter};
use super::source::alsa::AlsaSource;
use super::source::generator::Generator;
use super::source::{CaptureDevice, Read, Source, SourceError, Stream};
use crate::config::CaptureSettings;
use crate::protocol::DeviceState;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// What the capture thread shares with the rest of the daemon.
pub struct CaptureShared {
    pub ring: Arc<HistoryRing>,
    pub rate: u32,
    state: AtomicU8,
    xruns: AtomicU64,
    /// Peak per channel of the two latest meter windows (about 100 ms,
    /// renewed every 50 ms), as f32 bits.
    peaks: Box<[AtomicU32]>,
    /// Written only when the device fails or recovers, never per period.
    error: Mutex<Option<SourceError>>,
    native_format: Mutex<&'static str>,
    /// Milliseconds since `epoch` when the capture thread last went round its loop.
    heartbeat_ms: AtomicU64,
    epoch: Instant,
}

/// A capture thread silent for this long is stuck inside the driver.
const STUCK_AFTER_MS: u64 = 5_000;

impl CaptureShared {
    pub fn state(&self) -> DeviceState {
        if self.stuck_for_ms().is_some() {
            return DeviceState::Error;
        }
        match self.state.load(Ordering::Acquire) {
            1 => DeviceState::Running,
            2 => DeviceState::Error,
            _ => DeviceState::Opening,
        }
    }

    fn set_state(&self, s: DeviceState) {
        let v = match s {
            DeviceState::Opening => 0,
            DeviceState::Running => 1,
            DeviceState::Error => 2,
        };
        self.state.store(v, Ordering::Release);
    }

    pub fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::Acquire)
    }

    pub fn error(&self) -> Option<String> {
        if let Some(ms) = self.stuck_for_ms() {
            return Some(format!(
                "the capture thread has been stuck in the audio driver for {:.1} s",
                ms as f64 / 1000.0
            ));
        }
        self.error
            .lock()
            .ok()
            .and_then(|e| e.as_ref().map(SourceError::to_string))
    }

    fn beat(&self) {
        self.heartbeat_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long the capture thread has been silent, when that is too long.
    /// A driver that hangs (seen with libpulse when its server dies) cannot be
    /// interrupted from here; it is reported, and systemd's watchdog restarts us.
    pub fn stuck_for_ms(&self) -> Option<u64> {
        let now = self.epoch.elapsed().as_millis() as u64;
        let silent = now.saturating_sub(self.heartbeat_ms.load(Ordering::Relaxed));
        (silent > STUCK_AFTER_MS).then_some(silent)
    }

    /// Stores `e`; returns whether it differs from the error stored before.
    fn set_error(&self, e: Option<SourceError>) -> bool {
        match self.error.lock() {
            Ok(mut slot) if *slot != e => {
                *slot = e;
                true
            }
            _ => false,
        }
    }

    pub fn peaks(&self) -> Vec<f32> {
        self.peaks
            .iter()
            .map(|p| f32::from_bits(p.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn native_format(&self) -> &'static str {
        self.native_format.lock().map(|f| *f).unwrap_or("")
    }
}

/// Owns the capture thread; dropping it stops and joins the thread.
pub struct CaptureEngine {
    shared: Arc<CaptureShared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CaptureEngine {
    /// Start capturing from `settings.device`. The ring keeps `retain_frames`
    /// frames of history.
    pub fn start(settings: CaptureSettings, retain_frames: u64) -> std::io::Result<CaptureEngine> {
        match &settings.device {
            CaptureDevice::Alsa(name) => {
                let source = AlsaSource { name: name.clone() };
                Self::start_with(settings, retain_frames, source)
            }
            CaptureDevice::Generator { text, spec } => {
                let source = Generator::new(text, spec.clone());
                Self::start_with(settings, retain_frames, source)
            }
        }
    }

    /// Start capturing from `source` (a test's generator whose faults it holds).
    pub fn start_with(
        settings: CaptureSettings,
        retain_frames: u64,
        source: impl Source,
    ) -> std::io::Result<CaptureEngine> {
        // One read can bring up to a buffer's worth after a stall; keep that as margin.
        let margin = u64::from(settings.period_frames) * 16;
        let (writer, ring) = HistoryRing::new(
            usize::from(settings.channels),
            retain_frames + margin,
            margin,
        );
        let shared = Arc::new(CaptureShared {
            ring,
            rate: settings.sample_rate,
            state: AtomicU8::new(0),
            xruns: AtomicU64::new(0),
            peaks: (0..settings.channels).map(|_| AtomicU32::new(0)).collect(),
            error: Mutex::new(None),
            native_format: Mutex::new(""),
            heartbeat_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || supervise(settings, source, shared, writer, stop))?
        };
        Ok(CaptureEngine {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    pub fn shared(&self) -> &Arc<CaptureShared> {
        &self.shared
    }
}

impl Drop for CaptureEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let Some(t) = self.thread.take() else { return };
        // A thread stuck in the driver would never join; leave it to process exit.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            log::error!(target: "takebox::capture", "capture thread did not stop (stuck in the audio driver); leaving it behind");
        }
    }
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Real-time scheduling for the capture thread when it reads a sound card, whose
/// buffer it alone must drain in time; without the privilege it runs normally.
/// Behind a sound server (no card) the server's own threads carry that duty,
/// and this thread only copies from the client library's buffer, taking that
/// library's locks: at real-time priority each handoff boosts the library's
/// thread through a priority-inheritance futex, which cost 40% more CPU for
/// the same take under PulseAudio (bench-capture.sh) and bought nothing.
fn set_scheduling(realtime: bool) {
    let (policy, priority, what) = if realtime {
        (libc::SCHED_FIFO, 60, "SCHED_FIFO priority 60")
    } else {
        (
            libc::SCHED_OTHER,
            0,
            "normally (no sound card behind the device: its server or the clock keeps time)",
        )
    };
    // SAFETY: plain libc call on the current thread with a valid sched_param.
    let ok = unsafe {
        let param = libc::sched_param {
            sched_priority: priority,
        };
        libc::sched_setscheduler(0, policy, &param) == 0
    };
    if ok {
        log::info!(target: "takebox::capture", "capture thread runs {what}");
    } else {
        log::info!(target: "takebox::capture",
            "no real-time priority for the capture thread (needs CAP_SYS_NICE or LimitRTPRIO); running normally");
    }
}

/// Open, capture, and reopen with backoff, until asked to stop. Never exits on its own.
fn supervise(
    settings: CaptureSettings,
    mut source: impl Source,
    shared: Arc<CaptureShared>,
    mut writer: RingWriter,
    stop: Arc<AtomicBool>,
) {
    let mut backoff = Duration::from_millis(250);
    let mut first = true;
    while !stop.load(Ordering::Acquire) {
        shared.beat();
        // A retry after a failure stays `error` (with its reason) until it
        // works: a status read between two attempts never sees `opening`.
        if shared.state() != DeviceState::Error {
            shared.set_state(DeviceState::Opening);
        }
        match source.open(&settings) {
            Ok(mut stream) => {
                backoff = Duration::from_millis(250);
                if let Ok(mut f) = shared.native_format.lock() {
                    *f = stream.native_format();
                }
                shared.set_error(None);
                shared.set_state(DeviceState::Running);
                log::info!(target: "takebox::capture",
                    "capturing from {:?}: {} Hz, {} ch, {} (device format {}), period {} frames",
                    settings.device.to_string(), settings.sample_rate, settings.channels,
                    settings.sample_format.as_str(), stream.native_format(), stream.period());
                if !first {
                    // The timeline continues, but not seamlessly.
                    writer.mark_gap();
                }
                first = false;
                set_scheduling(stream.has_card());
                if let Err(e) = run(&settings, &shared, &mut writer, &stop, &mut stream) {
                    log::error!(target: "takebox::capture", "{e}; reopening");
                    shared.set_error(Some(e));
                    shared.set_state(DeviceState::Error);
                    writer.mark_gap();
                }
            }
            Err(e) => {
                let message = e.to_string();
                // Logged once, not at every retry.
                if shared.set_error(Some(e)) {
                    log::error!(target: "takebox::capture", "{message}; retrying with backoff");
                }
                shared.set_state(DeviceState::Error);
            }
        }
        sleep_unless_stopped(&shared, &stop, backoff);
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn sleep_unless_stopped(shared: &CaptureShared, stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Acquire) {
        shared.beat();
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// Maps frames to wall-clock time. Each read sees its newest frame "now", but a
/// late wake-up or a sound server delivering in bursts only ever makes that
/// look later than it was: the earliest observation over the last few seconds
/// is the best estimate, and the window lets the audio clock's drift through.
/// A virtual source that renders ahead of real time (PulseAudio's null sink,
/// by up to one of its blocks, which follow the capture period) breaks that
/// premise: its takes start late by as much (see tests/capture.rs).
struct ClockFilter {
    rate: u64,
    /// (frame, wall ns at frame 0 by this observation), oldest first.
    window: std::collections::VecDeque<(u64, i128)>,
}

impl ClockFilter {
    const WINDOW_SECONDS: u64 = 4;

    fn new(rate: u32) -> Self {
        ClockFilter {
            rate: u64::from(rate.max(1)),
            window: std::collections::VecDeque::with_capacity(512),
        }
    }

    /// The filtered wall time of `frame`, seen at `now_ns`.
    fn observe(&mut self, frame: u64, now_ns: u64) -> u64 {
        let origin = now_ns as i128 - (frame as i128 * 1_000_000_000 / self.rate as i128);
        while let Some(&(f, _)) = self.window.front() {
            if f + Self::WINDOW_SECONDS * self.rate < frame || self.window.len() >= 512 {
                self.window.pop_front();
            } else {
                break;
            }
        }
        self.window.push_back((frame, origin));
        let best = self.window.iter().map(|&(_, o)| o).min().unwrap_or(origin);
        (best + frame as i128 * 1_000_000_000 / self.rate as i128).max(0) as u64
    }
}

/// The read loop for one open stream, until stopped (Ok) or the stream fails.
fn run(
    settings: &CaptureSettings,
    shared: &CaptureShared,
    writer: &mut RingWriter,
    stop: &AtomicBool,
    stream: &mut impl Stream,
) -> Result<(), SourceError> {
    let channels = usize::from(settings.channels);
    let rate = settings.sample_rate;
    let mut buf = vec![0.0f32; stream.period() * channels];
    let mut clock = ClockFilter::new(rate);
    let mut window_peaks = vec![0.0f32; channels];
    let mut previous_peaks = vec![0.0f32; channels];
    let mut window_frames = 0usize;
    let meter_window = (rate / 20) as usize;
    // Several periods without audio means the device is gone.
    let steady_timeout_ms = ((stream.period() as u64 * 8 * 1000) / u64::from(rate)).max(500) as u32;
    // Sound servers (PulseAudio, PipeWire) take a moment to deliver the first period.
    let mut timeout_ms = steady_timeout_ms.max(3000);
    while !stop.load(Ordering::Acquire) {
        shared.beat();
        let frames = match stream.read(&mut buf, timeout_ms)? {
            Read::Frames(n) => n,
            Read::Xrun => {
                let n = shared.xruns.fetch_add(1, Ordering::AcqRel) + 1;
                writer.mark_gap();
                log::warn!(target: "takebox::capture", "overrun on {:?} recovered (xrun {n})", settings.device.to_string());
                continue;
            }
        };
        if frames == 0 {
            continue;
        }
        timeout_ms = steady_timeout_ms;
        // The newest captured frame (still in the device buffer) was captured
        // about now; asked right after the clock, so both describe one instant.
        let now = SystemTime::now();
        let pending = stream.pending();
        let samples = &buf[..frames * channels];
        writer.push(samples);
        let newest = writer.ring().written() + pending;
        writer.set_anchor(newest, clock.observe(newest, unix_ns(now)));
        for (c, p) in window_peaks.iter_mut().enumerate() {
            *p = samples[c..]
                .iter()
                .step_by(channels)
                .fold(*p, |m, s| m.max(s.abs()));
        }
        window_frames += frames;
        if window_frames >= meter_window {
            let windows = window_peaks.iter_mut().zip(previous_peaks.iter_mut());
            for (slot, (p, prev)) in shared.peaks.iter().zip(windows) {
                slot.store(p.max(*prev).to_bits(), Ordering::Relaxed);
                *prev = *p;
                *p = 0.0;
            }
            window_frames = 0;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ClockFilter;

    #[test]
    fn late_observations_do_not_move_the_clock() {
        let mut c = ClockFilter::new(48_000);
        c.observe(0, 0);
        // Frame 48000 seen exactly 1 s after the origin, then late by 30 ms.
        assert_eq!(c.observe(48_000, 1_000_000_000), 1_000_000_000);
        assert_eq!(c.observe(96_000, 2_030_000_000), 2_000_000_000);
        // An early (better) observation wins from then on.
        assert_eq!(c.observe(144_000, 2_995_000_000), 2_995_000_000);
        // After the window passes, old observations are forgotten.
        assert_eq!(c.observe(48_000 * 10, 10_010_000_000), 10_010_000_000);
    }
}
