//! A capture source without a sound card: a sine, silence or a WAV file's
//! frames, handed out one period at a time at real-time pace, which fails
//! the ways a device fails when told to (an overrun, unplugged and back, a
//! driver that hangs). The engine cannot tell it from a device.

use super::{BUFFER_PERIODS, GeneratorSpec, Pacer, Read, Signal, Source, SourceError, Stream};
use crate::config::CaptureSettings;
use std::f64::consts::TAU;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// How often a hung read looks whether it was let go.
const HANG_POLL: Duration = Duration::from_millis(10);

/// Longest WAV file a `file=` source holds in memory.
const MAX_FILE_SECONDS: u64 = 600;

/// A fault a generator can be told to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next period is lost and reported as an overrun.
    Xrun,
    /// Reads fail as from a vanished device, and so does every open until [`Fault::Replug`].
    Unplug,
    Replug,
    /// The next read does not return until [`Fault::Unhang`], as a driver that
    /// hangs: the capture thread's heartbeat stops.
    Hang,
    Unhang,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::Xrun,
        Fault::Unplug,
        Fault::Replug,
        Fault::Hang,
        Fault::Unhang,
    ];

    /// Its name, which is also its command file's name in the `faults=` folder.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Xrun => "xrun",
            Fault::Unplug => "unplug",
            Fault::Replug => "replug",
            Fault::Hang => "hang",
            Fault::Unhang => "unhang",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The faults a generator is told to have, shared between its streams (an
/// unplugged device stays unplugged across reopen attempts) and whoever tells
/// it: a test holding this, or a file named after the fault put into the
/// `faults=` folder, which the generator removes when it applies it.
pub struct Faults {
    dir: Option<PathBuf>,
    xruns: AtomicU32,
    unplugged: AtomicBool,
    hung: AtomicBool,
}

impl Faults {
    fn new(dir: Option<PathBuf>) -> Faults {
        Faults {
            dir,
            xruns: AtomicU32::new(0),
            unplugged: AtomicBool::new(false),
            hung: AtomicBool::new(false),
        }
    }

    pub fn inject(&self, fault: Fault) {
        match fault {
            Fault::Xrun => {
                self.xruns.fetch_add(1, Ordering::AcqRel);
            }
            Fault::Unplug => self.unplugged.store(true, Ordering::Release),
            Fault::Replug => self.unplugged.store(false, Ordering::Release),
            Fault::Hang => self.hung.store(true, Ordering::Release),
            Fault::Unhang => self.hung.store(false, Ordering::Release),
        }
    }

    /// Apply the command files in the `faults=` folder, each once. A few
    /// system calls per period: this source is for tests and demonstrations.
    fn poll(&self) -> std::io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(fault) = Fault::ALL.into_iter().find(|f| name == f.name()) else {
                continue;
            };
            // Removed first: a file that cannot be removed would apply every period.
            if std::fs::remove_file(dir.join(&name)).is_ok() {
                log::warn!(target: "takebox::capture", "generator: {fault} injected");
                self.inject(fault);
            }
        }
        Ok(())
    }

    fn take_xrun(&self) -> bool {
        self.xruns
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    fn unplugged(&self) -> bool {
        self.unplugged.load(Ordering::Acquire)
    }

    fn hung(&self) -> bool {
        self.hung.load(Ordering::Acquire)
    }
}

/// The generator as a device: each open starts a fresh stream.
pub struct Generator {
    name: String,
    signal: Signal,
    faults: Arc<Faults>,
}

impl Generator {
    /// `name` is how errors and logs call it (the `capture.device` value).
    pub fn new(name: &str, spec: GeneratorSpec) -> Generator {
        Generator {
            name: name.to_string(),
            signal: spec.signal,
            faults: Arc::new(Faults::new(spec.faults)),
        }
    }

    /// The switches that make it fail.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }
}

impl Source for Generator {
    type Stream = GeneratorStream;

    fn open(&mut self, settings: &CaptureSettings) -> Result<GeneratorStream, SourceError> {
        if let (Err(e), Some(dir)) = (self.faults.poll(), &self.faults.dir) {
            return Err(SourceError::open(
                &self.name,
                format!("faults folder {}: {e}", dir.display()),
            ));
        }
        if self.faults.unplugged() {
            return Err(SourceError::open(&self.name, "unplugged"));
        }
        let channels = usize::from(settings.channels);
        let wave = match &self.signal {
            Signal::Sine { hz, level_dbfs } => Wave::Sine {
                step: TAU * hz / f64::from(settings.sample_rate),
                amplitude: 10f64.powf(level_dbfs / 20.0),
                phase: 0.0,
            },
            Signal::Silence => Wave::Silence,
            Signal::File(path) => Wave::Frames {
                samples: load(path, settings).map_err(|e| SourceError::open(&self.name, e))?,
                at: 0,
            },
        };
        Ok(GeneratorStream {
            name: self.name.clone(),
            wave,
            channels,
            period: settings.period_frames.max(1) as usize,
            pacer: Pacer::new(settings.sample_rate),
            faults: self.faults.clone(),
        })
    }
}

pub struct GeneratorStream {
    name: String,
    wave: Wave,
    channels: usize,
    period: usize,
    pacer: Pacer,
    faults: Arc<Faults>,
}

impl Stream for GeneratorStream {
    /// Waits until the period's last frame is due, as a device does; the timeout
    /// does not apply, since a device that delivers nothing is [`Fault::Unplug`].
    fn read(&mut self, out: &mut [f32], _timeout_ms: u32) -> Result<Read, SourceError> {
        // The folder may be gone while a test tears down: then no more commands.
        let _ = self.faults.poll();
        while self.faults.hung() {
            std::thread::sleep(HANG_POLL);
            let _ = self.faults.poll();
        }
        if self.faults.unplugged() {
            return Err(SourceError::lost(&self.name, "unplugged"));
        }
        // A device buffers so many periods; a reader later than that loses them.
        if self.pacer.behind() > (BUFFER_PERIODS * self.period) as u64 {
            let lost = self.pacer.drop_backlog();
            self.wave.skip(lost, self.channels);
            return Ok(Read::Xrun);
        }
        self.pacer.count(self.period as u64);
        self.pacer.wait();
        if self.faults.take_xrun() {
            self.wave.skip(self.period as u64, self.channels);
            return Ok(Read::Xrun);
        }
        self.wave
            .fill(&mut out[..self.period * self.channels], self.channels);
        Ok(Read::Frames(self.period))
    }

    fn period(&self) -> usize {
        self.period
    }

    fn pending(&self) -> u64 {
        self.pacer.behind()
    }

    fn has_card(&self) -> bool {
        false
    }

    fn native_format(&self) -> &'static str {
        "generated"
    }
}

/// A signal, one frame after the other; every channel gets the same sine.
enum Wave {
    Sine {
        /// Radians per frame.
        step: f64,
        amplitude: f64,
        phase: f64,
    },
    Silence,
    /// Interleaved frames, played in a loop from frame `at`.
    Frames {
        samples: Vec<f32>,
        at: usize,
    },
}

impl Wave {
    fn fill(&mut self, out: &mut [f32], channels: usize) {
        match self {
            Wave::Sine {
                step,
                amplitude,
                phase,
            } => {
                for frame in out.chunks_exact_mut(channels) {
                    frame.fill((phase.sin() * *amplitude) as f32);
                    *phase = (*phase + *step) % TAU;
                }
            }
            Wave::Silence => out.fill(0.0),
            Wave::Frames { samples, at } => {
                let mut done = 0;
                while done < out.len() {
                    let from = *at * channels;
                    let n = (out.len() - done).min(samples.len() - from);
                    out[done..done + n].copy_from_slice(&samples[from..from + n]);
                    done += n;
                    *at = (from + n) % samples.len() / channels;
                }
            }
        }
    }

    /// Pass over `frames` frames, as lost ones: the signal goes on after them.
    fn skip(&mut self, frames: u64, channels: usize) {
        match self {
            Wave::Sine { step, phase, .. } => *phase = (*phase + *step * frames as f64) % TAU,
            Wave::Silence => {}
            Wave::Frames { samples, at } => {
                let len = (samples.len() / channels) as u64;
                *at = ((*at as u64 + frames) % len) as usize;
            }
        }
    }
}

/// Why a `file=` source's WAV cannot be played.
#[derive(Debug)]
enum FileError {
    Read(PathBuf, std::io::Error),
    Mismatch {
        path: PathBuf,
        found: (u32, u16),
        wanted: (u32, u16),
    },
    Empty(PathBuf),
    TooLong(PathBuf),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read(p, e) => write!(f, "{}: {e}", p.display()),
            FileError::Mismatch {
                path,
                found,
                wanted,
            } => write!(
                f,
                "{}: {} Hz, {} channels; the capture settings want {} Hz, {} channels",
                path.display(),
                found.0,
                found.1,
                wanted.0,
                wanted.1
            ),
            FileError::Empty(p) => write!(f, "{}: holds no frames", p.display()),
            FileError::TooLong(p) => {
                write!(f, "{}: longer than {MAX_FILE_SECONDS} s", p.display())
            }
        }
    }
}

/// The whole file as interleaved f32, in the capture's rate and channels.
fn load(path: &Path, settings: &CaptureSettings) -> Result<Vec<f32>, FileError> {
    let read_err = |e| FileError::Read(path.to_path_buf(), e);
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut reader = crate::wav::WavReader::new(std::io::BufReader::new(file)).map_err(read_err)?;
    let info = &reader.info;
    let found = (info.sample_rate, info.channels);
    let wanted = (settings.sample_rate, settings.channels);
    if found != wanted {
        return Err(FileError::Mismatch {
            path: path.to_path_buf(),
            found,
            wanted,
        });
    }
    if info.frames == 0 {
        return Err(FileError::Empty(path.to_path_buf()));
    }
    if info.frames > MAX_FILE_SECONDS * u64::from(info.sample_rate) {
        return Err(FileError::TooLong(path.to_path_buf()));
    }
    let frames = info.frames as usize;
    let mut samples = Vec::with_capacity(frames * usize::from(info.channels));
    while reader.read_append(&mut samples, frames).map_err(read_err)? > 0 {}
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_looped_file_and_a_skipped_sine_stay_in_step() {
        let mut w = Wave::Frames {
            samples: vec![0.0, 0.1, 1.0, 1.1, 2.0, 2.1],
            at: 0,
        };
        let mut out = vec![0.0; 8];
        w.fill(&mut out, 2);
        assert_eq!(out, [0.0, 0.1, 1.0, 1.1, 2.0, 2.1, 0.0, 0.1]);
        // Four frames played (the next is frame 1), four lost: frame 2 is next.
        w.skip(4, 2);
        w.fill(&mut out[..2], 2);
        assert_eq!(out[..2], [2.0, 2.1]);

        let step = TAU / 48.0;
        let sine = |phase| Wave::Sine {
            step,
            amplitude: 1.0,
            phase,
        };
        let (mut a, mut b) = (sine(0.0), sine(0.0));
        let mut long = vec![0.0; 100];
        a.fill(&mut long, 1);
        b.skip(99, 1);
        let mut last = [0.0];
        b.fill(&mut last, 1);
        assert!(
            (long[99] - last[0]).abs() < 1e-5,
            "{} {}",
            long[99],
            last[0]
        );
    }

    #[test]
    fn commands_are_taken_from_the_folder_once() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Faults::new(Some(dir.path().to_path_buf()));
        std::fs::write(dir.path().join("xrun"), "").unwrap();
        std::fs::write(dir.path().join("unplug"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        faults.poll().unwrap();
        assert!(faults.unplugged());
        assert!(faults.take_xrun());
        assert!(!faults.take_xrun(), "one xrun, once");
        assert!(
            dir.path().join("notes.txt").exists(),
            "other files are left"
        );
        assert!(!dir.path().join("xrun").exists());
    }

    #[test]
    fn a_file_that_does_not_fit_the_capture_settings_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cd.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        w.write_sample(0i16).unwrap();
        w.write_sample(0i16).unwrap();
        w.finalize().unwrap();
        let open = |path: &Path| {
            let spec = GeneratorSpec {
                signal: Signal::File(path.to_path_buf()),
                faults: None,
            };
            let settings = CaptureSettings::default();
            Generator::new("takebox:file=...", spec)
                .open(&settings)
                .err()
                .expect("refused")
                .to_string()
        };
        let e = open(&path);
        assert!(
            e.contains("44100 Hz, 2 channels; the capture settings want 48000 Hz, 1 channels"),
            "{e}"
        );
        let e = open(&dir.path().join("missing.wav"));
        assert!(e.contains("missing.wav: No such file"), "{e}");
    }
}
