//! takebox DSP: pure signal analysis and rendering for note-by-note sample
//! recording. No I/O, no clocks, no printing.
//!
//! Every whole-file measurement is a streaming analyzer: construct it with
//! the stream format, `feed` it interleaved `f32` chunks (full scale = 1.0,
//! any chunk length, even mid-frame), then read the result with `finish`.
//! Memory stays bounded whatever the file length.
//!
//! A take is processed in two passes over the file:
//! 1. analysis: [`PeakMeter`], [`TruePeakMeter`], [`RmsMeter`],
//!    [`LoudnessMeter`], [`Trimmer`], [`EnvelopeMeter`] (the waveform), and a
//!    [`PitchWindow::span`] gathering the pre-roll and the first seconds of
//!    the note in mono; then [`track_pitch`] (the settled pitch,
//!    [`pitch_track`]) from the onset and [`detect_hum`] on the pre-roll,
//!    [`take_gain`] and [`check_take`];
//! 2. render: [`Renderer`] (gain, DC, fades, cut) and the [`chunks`]
//!    builders.
//!
//! Internal references use `super::`, so this file works unchanged as
//! `src/dsp/mod.rs` of the main crate.

pub mod check;
pub mod chunks;
pub mod envelope;
pub mod error;
mod frames;
pub mod gain;
pub mod hum;
pub mod level;
pub mod loops;
pub mod loudness;
pub mod normalize;
pub mod onset;
pub mod pitch;
pub mod pitch_track;
pub mod subharmonic;
#[cfg(test)]
pub(crate) mod testsig;
pub mod trim;

pub use check::{Check, CheckInput, CheckSettings, Verdict, check_take};
pub use chunks::{
    BextInfo, BextLoudness, IxmlInfo, SmplLoop, SmplPitch, bext_chunk, ixml_chunk, smpl_chunk,
    smpl_chunk_looped,
};
pub use envelope::{Envelope, EnvelopeMeter};
pub use error::{DspError, MAX_CHANNELS};
pub use gain::{FadeShape, RenderSettings, Renderer, Tpdf, quantize_i16, quantize_sample_i16};
pub use hum::{Hum, detect_hum};
pub use level::{
    PeakMeter, PeakStats, RmsMeter, RmsStats, TruePeakMeter, TruePeakStats, channel_peaks,
    db_to_gain, gain_to_db,
};
pub use loops::{LoopSettings, NoLoop, SampleLoop, find_loop};
pub use loudness::{LoudnessMeter, LoudnessStats};
pub use normalize::{
    GainDecision, NormalizeMode, NormalizeSettings, PeakKind, TakeLevels, group_gain, take_gain,
};
pub use pitch::{PitchEstimate, PitchSettings, PitchWindow, cents_between, estimate_pitch};
pub use pitch_track::{NoPitch, PitchMethod, PitchTrack, Vibrato, track_note, track_pitch};
pub use subharmonic::{Player, Subharmonic};
pub use trim::{TrimPoints, TrimResult, TrimSettings, TrimThreshold, Trimmer};
