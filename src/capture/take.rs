//! Cutting one take out of the capture timeline and writing it as a WAV file.
//!
//! Runs on a worker thread, never on the capture thread: it copies frames out
//! of the ring as they arrive, hands them to the take's analysis and streams
//! them to disk, so memory stays flat whatever the take's length.

use super::engine::CaptureShared;
use super::ring::ReadError;
use crate::protocol::{DeviceState, SampleFormat};
use crate::wav::{WavSpec, WavWriter};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::Path;
use std::time::{Duration, Instant};

/// Which frames of the timeline make up a take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakeSpan {
    /// First frame written (start of the pre-roll).
    pub first: u64,
    /// Frame at which the note is planned to start.
    pub note_start: u64,
    /// One past the last frame written.
    pub end: u64,
}

impl TakeSpan {
    pub fn frames(&self) -> u64 {
        self.end - self.first
    }

    pub fn pre_roll(&self) -> u64 {
        self.note_start - self.first
    }
}

#[derive(Debug)]
pub enum TakeError {
    /// Frames were lost (xrun, device reopened, writer too slow): useless for a library.
    FramesLost { xruns: u64, frames: u64 },
    /// The device stopped delivering during the take.
    DeviceLost(String),
    /// Writing the spool file failed (disk full, I/O error).
    Write { path: String, what: String },
    /// The daemon is shutting down.
    Cancelled,
    /// The MIDI note could not be played (its instrument went away).
    Midi(String),
}

impl fmt::Display for TakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TakeError::FramesLost { xruns, frames } => write!(
                f,
                "audio was lost during the take ({xruns} overruns, {frames} frames overwritten before they were saved)"
            ),
            TakeError::DeviceLost(e) => write!(f, "capture device failed during the take: {e}"),
            TakeError::Write { path, what } => write!(f, "{path}: {what}"),
            TakeError::Cancelled => write!(f, "recording cancelled by shutdown"),
            TakeError::Midi(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TakeError {}

impl From<super::process::ProcessError> for TakeError {
    fn from(e: super::process::ProcessError) -> Self {
        TakeError::Write {
            path: e.file.display().to_string(),
            what: e.what,
        }
    }
}

fn write_err(path: &Path, e: impl fmt::Display) -> TakeError {
    TakeError::Write {
        path: path.display().to_string(),
        what: e.to_string(),
    }
}

/// Longest sleep between two copies out of the ring.
const MAX_NAP: Duration = Duration::from_millis(500);

/// How often a sleeping take looks whether it must stop: an aborted take
/// (and its MIDI note) stops within about this, not a whole nap later.
const STOP_POLL: Duration = Duration::from_millis(40);

/// Sleep `nap`, or less once `cancel` says so.
fn nap_unless(nap: Duration, cancel: &dyn Fn() -> bool) {
    let until = Instant::now() + nap;
    while !cancel() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(STOP_POLL));
    }
}

/// Record `span` from the timeline into a WAV at `path`, with `extra_chunks`
/// (complete chunks) between `fmt ` and `data`. Every piece copied out of the
/// ring is written, then handed to `analyse` as the file holds it (rounded to
/// `format`), so the frames analysed are the frames in the file. The file is neither
/// hashed nor fsynced here: its header may still be rewritten (see
/// [`super::finish`]). `cancel` is polled between pieces.
///
/// Frames are copied out of the ring in pieces of up to half a second (never
/// more than a quarter of the ring's history), so the thread wakes about
/// twice a second instead of once per period; the ring keeps the rest.
pub fn record(
    shared: &CaptureShared,
    span: TakeSpan,
    format: SampleFormat,
    path: &Path,
    extra_chunks: &[u8],
    cancel: &dyn Fn() -> bool,
    analyse: &mut dyn FnMut(&[f32]),
) -> Result<(), TakeError> {
    let ring = &shared.ring;
    let channels = ring.channels();
    let spec = WavSpec {
        channels: channels as u16,
        sample_rate: shared.rate,
        format,
    };
    let file = File::create(path).map_err(|e| write_err(path, e))?;
    let out = BufWriter::with_capacity(1 << 16, file);
    let mut wav = WavWriter::new_unhashed(out, spec, span.frames(), extra_chunks)
        .map_err(|e| write_err(path, e))?;
    let mut follow = Follow::new(shared);
    let mut buf = vec![0.0f32; follow.piece_frames as usize * channels];
    let mut pos = span.first;
    let xruns_before = shared.xruns();
    while pos < span.end {
        if cancel() {
            return Err(TakeError::Cancelled);
        }
        let n = match follow.next(shared, pos, span.end)? {
            Next::Copy(n) => n,
            Next::Wait(nap) => {
                nap_unless(nap, cancel);
                continue;
            }
        };
        let out = &mut buf[..n as usize * channels];
        match ring.read(pos, out) {
            Ok(()) => {}
            Err(ReadError::Overwritten) => {
                return Err(TakeError::FramesLost {
                    xruns: shared.xruns() - xruns_before,
                    frames: ring.oldest_readable().saturating_sub(pos),
                });
            }
            Err(ReadError::NotYet) => continue,
        }
        wav.write_snapped(out).map_err(|e| write_err(path, e))?;
        analyse(out);
        pos += n;
    }
    let gaps = ring.gaps_in(span.first + 1, span.end);
    if gaps > 0 {
        return Err(TakeError::FramesLost {
            xruns: gaps,
            frames: 0,
        });
    }
    let (buffered, _) = wav.finish().map_err(|e| write_err(path, e))?;
    buffered
        .into_inner()
        .map_err(|e| write_err(path, e.error()))?;
    Ok(())
}

/// What [`record`] does next: copy this many frames out of the ring, or
/// sleep until about that many have been captured.
enum Next {
    Copy(u64),
    Wait(Duration),
}

/// Follows the ring's write position for one take: how much is there to
/// copy, and whether the device stopped delivering.
struct Follow {
    rate: u64,
    piece_frames: u64,
    last_written: u64,
    last_progress: Instant,
}

/// No new audio for this long is a lost device, whatever its state says.
const STALL_LIMIT: Duration = Duration::from_secs(2);

impl Follow {
    fn new(shared: &CaptureShared) -> Self {
        let rate = u64::from(shared.rate.max(1));
        let nap_frames = (MAX_NAP.as_secs_f64() * rate as f64) as u64;
        Follow {
            rate,
            piece_frames: nap_frames.min(shared.ring.history_frames() / 4).max(64),
            last_written: shared.ring.written(),
            last_progress: Instant::now(),
        }
    }

    fn next(&mut self, shared: &CaptureShared, pos: u64, end: u64) -> Result<Next, TakeError> {
        let written = shared.ring.written();
        if written != self.last_written {
            self.last_written = written;
            self.last_progress = Instant::now();
        }
        let available = written.min(end).saturating_sub(pos);
        // Copy once half a piece is there; the take's last piece, once all of it is.
        let piece = (end - pos).min(self.piece_frames);
        let enough = if piece < self.piece_frames {
            piece
        } else {
            piece.div_ceil(2)
        };
        if available >= enough {
            return Ok(Next::Copy(available.min(self.piece_frames)));
        }
        if shared.state() == DeviceState::Error || self.last_progress.elapsed() > STALL_LIMIT {
            return Err(TakeError::DeviceLost(
                shared
                    .error()
                    .unwrap_or_else(|| "no audio arrived for 2 s".into()),
            ));
        }
        // Sleep about as long as the rest of this piece takes to be captured.
        let missing = piece - available;
        Ok(Next::Wait(
            Duration::from_secs_f64(missing as f64 / self.rate as f64)
                .clamp(Duration::from_millis(2), MAX_NAP),
        ))
    }
}

/// Hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::wav::hex(&hasher.finalize()))
}
