//! The sustain loop of a take as takebox-capture records it: searched in the
//! raw recording when the articulation is marked sustained or the take holds
//! a level long enough to loop, written into the delivered `smpl`, and
//! reported in the confirmation in the delivered file's frames.

use super::process::{self, Analysis, LoopReport, ProcessError, ProcessOptions};
use crate::dsp::{LoopSettings, NoLoop, TrimPoints};
use crate::protocol::TakeLoop;
use std::path::Path;

/// Longest take searched live (the search reads the take whole): 60 s of
/// stereo is 23 MB of samples. Longer ones: `takebox process --loop`.
pub const MAX_SECONDS: f64 = 60.0;

/// The loop search of a take whose command says `sustain`: `Some(true)`
/// (marked sustained) always reports, `None` reports only a take that holds
/// (a decaying or short note says nothing), `Some(false)` is never searched.
pub fn search(
    raw: &Path,
    analysis: &Analysis,
    opts: &ProcessOptions,
    sustain: Option<bool>,
) -> Result<Option<LoopReport>, ProcessError> {
    if sustain == Some(false) {
        return Ok(None);
    }
    let info = &analysis.info;
    let seconds = info.frames as f64 / f64::from(info.sample_rate.max(1));
    if seconds > MAX_SECONDS {
        return Ok(None);
    }
    let (report, _) = process::find_loop(raw, None, analysis, opts, &LoopSettings::default())?;
    let held = matches!(report.found, Ok(_) | Err(NoLoop::Rough { .. }));
    Ok((held || sustain == Some(true)).then_some(report))
}

/// The confirmation's form of `report`, in frames from the first kept one.
/// A loop the trim cut into is not written (see `process::metadata_chunks_looped`).
pub fn to_protocol(report: &LoopReport, kept: TrimPoints) -> TakeLoop {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let (best, why) = match &report.found {
        Ok(l) => (Some(*l), None),
        Err(NoLoop::Rough { best, .. }) => (Some(*best), Some(report.found_text())),
        Err(_) => (None, Some(report.found_text())),
    };
    let inside = best.filter(|l| l.start >= kept.start_frame && l.end <= kept.end_frame);
    let written = inside.filter(|_| why.is_none());
    let no_loop = match (why, best, inside) {
        (None, Some(_), None) => Some("the loop lies outside the kept frames".to_string()),
        (why, _, _) => why,
    };
    TakeLoop {
        start_frame: written.map(|l| l.start - kept.start_frame),
        last_frame: written.map(|l| l.last_frame() - kept.start_frame),
        seam_db: best.map(|l| round(l.seam_db)).filter(|x| x.is_finite()),
        no_loop,
    }
}

impl LoopReport {
    fn found_text(&self) -> String {
        match &self.found {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::SampleLoop;

    fn report(found: Result<SampleLoop, NoLoop>) -> LoopReport {
        LoopReport {
            found,
            naive: None,
            crossfade_frames: 0,
        }
    }

    const KEPT: TrimPoints = TrimPoints {
        start_frame: 1000,
        end_frame: 50_000,
    };

    #[test]
    fn a_loop_is_reported_in_the_delivered_files_frames() {
        let l = SampleLoop {
            start: 11_000,
            end: 21_000,
            seam_db: -48.123,
        };
        let t = to_protocol(&report(Ok(l)), KEPT);
        assert_eq!((t.start_frame, t.last_frame), (Some(10_000), Some(19_999)));
        assert_eq!((t.seam_db, t.no_loop), (Some(-48.12), None));
        // Cut by the trim: not written, and said why.
        let cut = SampleLoop { end: 60_000, ..l };
        let t = to_protocol(&report(Ok(cut)), KEPT);
        assert_eq!(t.start_frame, None);
        assert!(t.no_loop.unwrap().contains("outside"));
    }

    #[test]
    fn no_good_loop_gives_the_best_seam_and_a_verdict() {
        let best = SampleLoop {
            start: 11_000,
            end: 21_000,
            seam_db: -12.0,
        };
        let t = to_protocol(
            &report(Err(NoLoop::Rough {
                best,
                limit_db: -30.0,
            })),
            KEPT,
        );
        assert_eq!((t.start_frame, t.seam_db), (None, Some(-12.0)));
        assert!(t.no_loop.unwrap().contains("no good loop"), "verdict");
        let t = to_protocol(
            &report(Err(NoLoop::NotSustained {
                sustained_seconds: 0.1,
            })),
            KEPT,
        );
        assert_eq!((t.start_frame, t.seam_db), (None, None));
        assert!(t.no_loop.unwrap().contains("sustained"));
    }
}
