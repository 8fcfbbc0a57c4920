//! The sustain loop of a take as takebox-capture records it: searched in the
//! raw recording when the articulation is marked sustained or the take holds
//! a level long enough to loop, crossfaded when the raw loop is rough and
//! `capture.loop_crossfade_seconds` asks for it, written into the delivered
//! `smpl`, and reported in the confirmation in the delivered file's frames.
//!
//! The search reads at most [`SEARCH_SECONDS`] of the take: a long one is
//! looked at once, block by block, for where its level settles, and only
//! that stretch is read; a 3-minute pad gets a loop as a 10-second one does,
//! in the same memory.

use super::process::{self, Analysis, FadedFrames, LoopReport, ProcessError, ProcessOptions};
use crate::dsp::loops::{self, BlockEnergy};
use crate::dsp::{LoopSettings, NoLoop, SampleLoop, TrimPoints};
use crate::protocol::TakeLoop;
use std::path::Path;

/// The longest stretch of a take the search reads (a loop is shorter): 12 s
/// of stereo at 96 kHz is 9 MB of samples, as much again for the search's
/// running energy.
pub const SEARCH_SECONDS: f64 = 12.0;

/// A live search's result: the report (the seam after the crossfade when
/// one was rendered) and the crossfade to render into the delivered file.
#[derive(Debug, Clone)]
pub struct LiveLoop {
    pub report: LoopReport,
    /// The raw loop's seam, when a crossfade changed it.
    pub raw_seam_db: Option<f64>,
    pub fade: Option<FadedFrames>,
}

/// The loop search of a take whose command says `sustain`: `Some(true)`
/// (marked sustained) always reports, `None` reports only a take that holds
/// (a decaying or short note says nothing), `Some(false)` is never searched.
/// A crossfade of `crossfade_seconds` (0: none) smooths a rough loop; it is
/// kept only when it makes the loop good and the trim keeps the loop.
pub fn search(
    raw: &Path,
    analysis: &Analysis,
    opts: &ProcessOptions,
    sustain: Option<bool>,
    crossfade_seconds: f64,
) -> Result<Option<LiveLoop>, ProcessError> {
    if sustain == Some(false) {
        return Ok(None);
    }
    let settings = LoopSettings {
        crossfade_seconds,
        ..LoopSettings::default()
    };
    let hz = analysis.pitch.map(|p| p.hz).or(opts.planned_hz);
    let mut found = find(raw, hz, &settings)?;
    let kept = process::kept_range(analysis, opts);
    let inside = |l: &SampleLoop| l.start >= kept.start_frame && l.end <= kept.end_frame;
    if let (Ok(l), Some(raw_db)) = (&mut found.report.found, found.raw_seam_db)
        && !inside(l)
    {
        // Not written: the file keeps its frames, and the figure is theirs.
        l.seam_db = raw_db;
        (found.fade, found.raw_seam_db, found.report.crossfade_frames) = (None, None, 0);
    }
    let held = matches!(found.report.found, Ok(_) | Err(NoLoop::Rough { .. }));
    Ok((held || sustain == Some(true)).then_some(found))
}

/// The best loop of the WAV at `raw` within the stretch [`SEARCH_SECONDS`]
/// allow, in the file's frames. Only when it is rough and `settings` ask for
/// a crossfade is the best loop with room for one faded, and the fade kept
/// only if it makes the loop good: a fade that leaves it rough would change
/// the file for nothing.
pub fn find(
    raw: &Path,
    hz: Option<f64>,
    settings: &LoopSettings,
) -> Result<LiveLoop, ProcessError> {
    let dsp = |e| process::dsp_err(raw, e);
    let info = process::wav_info(raw)?;
    let (ch, rate) = (usize::from(info.channels), info.sample_rate);
    let fade = (settings.crossfade_seconds * f64::from(rate)) as usize;
    let plain = |found, naive| LiveLoop {
        report: LoopReport {
            found,
            naive,
            crossfade_frames: 0,
        },
        raw_seam_db: None,
        fade: None,
    };
    let (from, mut x) = match region(raw, &info, settings)? {
        Ok(r) => r,
        Err(no) => return Ok(plain(Err(no), None)),
    };
    let shift = |l: SampleLoop| SampleLoop {
        start: l.start + from,
        end: l.end + from,
        ..l
    };
    // The raw search asks no room for a fade: a clean loop needs none.
    let raw = LoopSettings {
        crossfade_seconds: 0.0,
        ..*settings
    };
    let found = loops::find_loop(&x, ch, rate, hz, &raw).map_err(dsp)?;
    let naive = loops::naive_loop(&x, ch, rate, hz, &raw)
        .map_err(dsp)?
        .map(shift);
    let as_recorded = |found: Result<SampleLoop, NoLoop>| match found {
        Ok(l) => Ok(shift(l)),
        Err(NoLoop::Rough { best, limit_db }) => Err(NoLoop::Rough {
            best: shift(best),
            limit_db,
        }),
        Err(no) => Err(no),
    };
    if fade == 0 || !matches!(found, Err(NoLoop::Rough { .. })) {
        return Ok(plain(as_recorded(found), naive));
    }
    // Rough: again, with room for the fade before the loop and within it.
    let rough = match loops::find_loop(&x, ch, rate, hz, settings).map_err(dsp)? {
        Ok(clean) => return Ok(plain(as_recorded(Ok(clean)), naive)),
        Err(NoLoop::Rough { best, .. }) => best,
        Err(_) => return Ok(plain(as_recorded(found), naive)),
    };
    loops::crossfade_loop(&mut x, ch, &rough, fade).map_err(dsp)?;
    let (s, e) = (rough.start as usize, rough.end as usize);
    let after = loops::seam_db(&x, ch, rate, hz, s, e).map_err(dsp)?;
    if after > settings.good_seam_db {
        return Ok(plain(as_recorded(found), naive));
    }
    Ok(LiveLoop {
        report: LoopReport {
            found: Ok(SampleLoop {
                seam_db: after,
                ..shift(rough)
            }),
            naive,
            crossfade_frames: fade,
        },
        raw_seam_db: Some(rough.seam_db),
        fade: Some(FadedFrames {
            start_frame: from + (e - fade) as u64,
            samples: x[(e - fade) * ch..e * ch].to_vec(),
        }),
    })
}

/// The stretch the search reads, and its first frame: a take of up to
/// [`SEARCH_SECONDS`] whole; of a longer one, that long from where its level
/// settles (less room for the crossfade before the loop), found in its
/// envelope read block by block; or why the level never settles.
fn region(
    raw: &Path,
    info: &crate::wav::WavInfo,
    settings: &LoopSettings,
) -> Result<Result<(u64, Vec<f32>), NoLoop>, ProcessError> {
    let rate = info.sample_rate;
    let r = f64::from(rate);
    let len = (SEARCH_SECONDS * r) as u64;
    if info.frames <= len {
        return Ok(Ok((0, process::read_frames(raw, 0, len)?)));
    }
    let block = loops::envelope_block(rate);
    let mut env = BlockEnergy::new(usize::from(info.channels), block);
    process::for_each_block(raw, |b| env.feed(b))?;
    let min_frames = (settings.min_seconds * r) as usize;
    let range = settings.sustain_range_db;
    let settled =
        loops::sustained_span(&env.finish(), info.frames as usize, rate, range, min_frames);
    let start = match settled {
        Ok((start, _)) => start as u64,
        Err(no) => return Ok(Err(no)),
    };
    let lead = (settings.crossfade_seconds * r) as u64 + block as u64;
    let from = start.saturating_sub(lead).min(info.frames - len);
    Ok(Ok((from, process::read_frames(raw, from, len)?)))
}

/// The confirmation's form of `found`, in frames from the first kept one.
/// A loop the trim cut into is not written (see `process::metadata_chunks_looped`).
pub fn to_protocol(found: &LiveLoop, kept: TrimPoints) -> TakeLoop {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let report = &found.report;
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
    let faded = written.and(found.fade.as_ref());
    TakeLoop {
        start_frame: written.map(|l| l.start - kept.start_frame),
        last_frame: written.map(|l| l.last_frame() - kept.start_frame),
        seam_db: best.map(|l| round(l.seam_db)).filter(|x| x.is_finite()),
        no_loop,
        crossfade_frames: faded.map(|_| report.crossfade_frames as u64),
        raw_seam_db: faded
            .and(found.raw_seam_db)
            .map(round)
            .filter(|x| x.is_finite()),
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
    use std::f64::consts::TAU;

    fn report(found: Result<SampleLoop, NoLoop>) -> LiveLoop {
        LiveLoop {
            report: LoopReport {
                found,
                naive: None,
                crossfade_frames: 0,
            },
            raw_seam_db: None,
            fade: None,
        }
    }

    const RATE: u32 = 48_000;

    /// A held note (mono): 80 ms attack, `hold` seconds, 400 ms release.
    fn held(hold: f64, wave: impl Fn(f64) -> f64) -> Vec<f32> {
        crate::dsp::testsig::held(RATE, (0.08, hold, 0.4), wave)
    }

    /// Near A3, four harmonics, a 5 Hz vibrato of ±10 cents.
    fn vibrato(t: f64) -> f64 {
        let depth = 2f64.powf(10.0 / 1200.0) - 1.0;
        let p = TAU * 220.0 * (t - depth / (TAU * 5.0) * ((TAU * 5.0 * t).cos() - 1.0));
        0.6 * p.sin() + 0.25 * (2.0 * p).sin() + 0.1 * (3.0 * p).sin() + 0.05 * (4.0 * p).sin()
    }

    /// A pad around 220 Hz: it never repeats, so no raw loop is clean.
    fn pad(hold: f64) -> Vec<f32> {
        let partials = crate::dsp::testsig::pad_partials(220.0);
        held(hold, |t| crate::dsp::testsig::pad_at(&partials, t))
    }

    fn write(dir: &Path, name: &str, x: &[f32]) -> std::path::PathBuf {
        let path = dir.join(name);
        let spec = crate::wav::WavSpec {
            channels: 1,
            sample_rate: RATE,
            format: crate::protocol::SampleFormat::F32,
        };
        let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut w = crate::wav::WavWriter::new(f, spec, x.len() as u64, &[]).unwrap();
        w.write(x).unwrap();
        w.finish().unwrap();
        path
    }

    #[test]
    fn a_long_take_loops_like_a_short_one_from_a_bounded_stretch() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LoopSettings::default();
        let short = find(
            &write(dir.path(), "10s.wav", &held(10.0, vibrato)),
            Some(220.0),
            &settings,
        )
        .unwrap();
        let long_x = held(180.0, vibrato);
        let long = find(
            &write(dir.path(), "3min.wav", &long_x),
            Some(220.0),
            &settings,
        )
        .unwrap();
        let (s, l) = (short.report.found.unwrap(), long.report.found.unwrap());
        assert!(s.seam_db < -30.0 && l.seam_db < -30.0, "{s:?} {l:?}");
        assert!((s.seam_db - l.seam_db).abs() < 10.0, "{s:?} {l:?}");
        // Whole vibrato cycles, seconds long, within the stretch read, near
        // where the level settles rather than minutes in.
        let len = (l.end - l.start) as f64 / f64::from(RATE);
        assert!((len * 5.0 - (len * 5.0).round()).abs() < 0.05, "{len} s");
        assert!(len > 5.0 && len <= SEARCH_SECONDS, "{len} s");
        assert!(l.start < 2 * u64::from(RATE), "{l:?}");
        // The figure is the file's: measured afresh on the whole take.
        let again = loops::seam_db(
            &long_x,
            1,
            RATE,
            Some(220.0),
            l.start as usize,
            l.end as usize,
        )
        .unwrap();
        assert!((again - l.seam_db).abs() < 1e-9, "{again} {l:?}");
        assert!(long.fade.is_none() && long.raw_seam_db.is_none());
        let naive = long.report.naive.unwrap();
        assert!(naive.seam_db > l.seam_db, "{naive:?} {l:?}");
    }

    #[test]
    fn a_long_take_that_never_holds_says_so() {
        let dir = tempfile::tempdir().unwrap();
        // 20 s of a plucked note that decays at once, and its ringing.
        let x: Vec<f32> = (0..20 * RATE as usize)
            .map(|i| {
                let t = i as f64 / f64::from(RATE);
                (0.5 * (-t / 0.1).exp() * (TAU * 110.0 * t).sin()) as f32
            })
            .collect();
        let found = find(
            &write(dir.path(), "decay.wav", &x),
            None,
            &LoopSettings::default(),
        )
        .unwrap();
        assert!(
            matches!(found.report.found, Err(NoLoop::NotSustained { .. })),
            "{:?}",
            found.report.found
        );
    }

    /// The faded frames written over `x`, as the render does.
    fn faded(x: &[f32], fade: &FadedFrames) -> Vec<f32> {
        let mut y = x.to_vec();
        let at = fade.start_frame as usize;
        y[at..at + fade.samples.len()].copy_from_slice(&fade.samples);
        y
    }

    #[test]
    fn a_rough_loop_is_crossfaded_when_asked_and_measured_after() {
        let dir = tempfile::tempdir().unwrap();
        let with_fade = LoopSettings {
            crossfade_seconds: 0.25,
            ..LoopSettings::default()
        };
        // Short (read whole) and long (a stretch of it): the fade lands on
        // the file's frames either way.
        for (name, hold) in [("pad3s.wav", 3.0), ("pad30s.wav", 30.0)] {
            let x = pad(hold);
            let path = write(dir.path(), name, &x);
            let raw = find(&path, Some(220.0), &LoopSettings::default()).unwrap();
            assert!(
                matches!(raw.report.found, Err(NoLoop::Rough { .. })),
                "{name}: {:?}",
                raw.report.found
            );
            assert!(raw.fade.is_none());
            let found = find(&path, Some(220.0), &with_fade).unwrap();
            let l = found.report.found.unwrap();
            let before = found.raw_seam_db.unwrap();
            assert!(
                before > -30.0 && l.seam_db <= -30.0,
                "{name}: {before} -> {l:?}"
            );
            assert_eq!(found.report.crossfade_frames, 12_000);
            let fade = found.fade.unwrap();
            assert_eq!(fade.samples.len(), 12_000);
            assert_eq!(fade.start_frame, l.end - 12_000);
            let y = faded(&x, &fade);
            let after =
                loops::seam_db(&y, 1, RATE, Some(220.0), l.start as usize, l.end as usize).unwrap();
            assert!((after - l.seam_db).abs() < 1e-9, "{name}: {after} {l:?}");
            let was =
                loops::seam_db(&x, 1, RATE, Some(220.0), l.start as usize, l.end as usize).unwrap();
            assert!((was - before).abs() < 1e-9, "{name}: {was} {before}");
        }
    }

    #[test]
    fn a_fade_that_cannot_smooth_the_seam_leaves_the_take_as_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "pad.wav", &pad(3.0));
        let raw = find(&path, Some(220.0), &LoopSettings::default()).unwrap();
        let settings = LoopSettings {
            crossfade_seconds: 0.002,
            ..LoopSettings::default()
        };
        let found = find(&path, Some(220.0), &settings).unwrap();
        assert!(found.fade.is_none() && found.raw_seam_db.is_none());
        assert_eq!(found.report.found, raw.report.found);
        assert!(matches!(found.report.found, Err(NoLoop::Rough { .. })));
    }

    #[test]
    fn a_clean_loop_is_not_crossfaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "tone.wav", &held(3.0, vibrato));
        let plain = find(&path, Some(220.0), &LoopSettings::default()).unwrap();
        // A fade longer than the note leaves no room for one: the loop
        // needs none anyway, and is the same.
        for seconds in [0.25, 5.0] {
            let settings = LoopSettings {
                crossfade_seconds: seconds,
                ..LoopSettings::default()
            };
            let found = find(&path, Some(220.0), &settings).unwrap();
            assert!(found.fade.is_none(), "{seconds}: {:?}", found.report);
            assert_eq!(found.report.found, plain.report.found, "{seconds}");
            assert!(found.report.found.is_ok());
            assert_eq!(found.report.crossfade_frames, 0);
        }
    }

    #[test]
    fn a_crossfaded_loop_reports_its_fade_and_raw_seam() {
        let l = SampleLoop {
            start: 11_000,
            end: 21_000,
            seam_db: -41.0,
        };
        let mut found = report(Ok(l));
        found.report.crossfade_frames = 4_800;
        found.raw_seam_db = Some(-18.456);
        found.fade = Some(FadedFrames {
            start_frame: 16_200,
            samples: vec![0.0; 4_800],
        });
        let t = to_protocol(&found, KEPT);
        assert_eq!(
            (t.crossfade_frames, t.raw_seam_db),
            (Some(4_800), Some(-18.46))
        );
        assert_eq!(t.seam_db, Some(-41.0));
        // Cut by the trim: neither written nor claimed.
        let t = to_protocol(
            &found,
            TrimPoints {
                end_frame: 20_000,
                ..KEPT
            },
        );
        assert_eq!(
            (t.start_frame, t.crossfade_frames, t.raw_seam_db),
            (None, None, None)
        );
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
