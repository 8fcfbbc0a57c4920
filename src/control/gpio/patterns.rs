//! What the LEDs show, as pure functions of the cycle's state and the monotonic
//! time: no clock is read here, so every pattern is tested in simulated time.
//!
//! LED 0 is the status LED; LEDs 1.. are the countdown LEDs. Each [`Frame`] says
//! when it next changes, so the driver sleeps until exactly then: the countdown
//! ends on the take's own start instant, not on the next tick after it.

use crate::config::CountdownStyle;
use crate::control::status::Phase;
use crate::control::verdict::Disposition;
use std::time::Duration;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The signal after a confirmation, by the board's judgement: period, the
/// on-spans within it, the whole length, and the pattern's name.
fn flash(
    d: Disposition,
) -> (
    Duration,
    &'static [(Duration, Duration)],
    Duration,
    &'static str,
) {
    const OK: &[(Duration, Duration)] = &[(ms(0), ms(300))];
    const WARN: &[(Duration, Duration)] = &[(ms(0), ms(150))];
    const FAIL: &[(Duration, Duration)] = &[(ms(0), ms(80))];
    match d {
        // One short light.
        Disposition::Ok => (ms(300), OK, ms(300), "ok"),
        // Three even blinks.
        Disposition::Warn => (ms(300), WARN, ms(900), "warning"),
        // Five rapid blinks.
        Disposition::Failed => (ms(160), FAIL, ms(800), "failed"),
    }
}

/// What the patterns are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub phase: Option<Phase>,
    /// The take's start (end of the countdown) and the end of its note.
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    /// The last confirmation's judgement and when it came.
    pub flash: Option<(Disposition, Instant)>,
    pub recorders_down: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub countdown_leds: usize,
    pub style: CountdownStyle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `[status, countdown 1, countdown 2, ...]`.
    pub leds: Vec<bool>,
    pub pattern: &'static str,
    /// The next instant at which the frame may change.
    pub next: Instant,
}

/// A repeating pattern started at `since`: is it on at `now`, and when does that change?
fn blink(
    since: Instant,
    now: Instant,
    period: Duration,
    ons: &[(Duration, Duration)],
) -> (bool, Instant) {
    let elapsed = now.saturating_duration_since(since).as_nanos();
    let p = period.as_nanos();
    let ph = elapsed % p;
    let on = ons
        .iter()
        .any(|(a, b)| a.as_nanos() <= ph && ph < b.as_nanos());
    let next = ons
        .iter()
        .flat_map(|(a, b)| [a.as_nanos(), b.as_nanos()])
        .filter(|&x| x > ph)
        .min()
        .unwrap_or(p);
    (on, now + Duration::from_nanos((next - ph) as u64))
}

/// Whole seconds left until `start` (a remainder of 0.2 s is 1).
pub fn remaining_seconds(start: Instant, now: Instant) -> u64 {
    let rem = start.saturating_duration_since(now).as_nanos();
    rem.div_ceil(SECOND.as_nanos()) as u64
}

fn countdown(start: Instant, now: Instant, layout: &Layout, leds: &mut [bool]) -> Instant {
    let k = remaining_seconds(start, now);
    let seg_start = start - SECOND * k as u32;
    if layout.style == CountdownStyle::PerSecond && layout.countdown_leds > 0 {
        for (i, led) in leds[1..].iter_mut().enumerate() {
            *led = (i as u64) < k;
        }
        return seg_start + SECOND;
    }
    // One LED: a short blink at the top of each second, 4 Hz in the last one.
    let (on, next) = if k >= 2 {
        blink(seg_start, now, SECOND, &[(ms(0), ms(200))])
    } else {
        blink(seg_start, now, ms(250), &[(ms(0), ms(125))])
    };
    leds[0] = on;
    next.min(start)
}

/// The LEDs at `now`. `epoch` anchors the idle patterns (the driver's start).
pub fn frame(inp: &Inputs, layout: &Layout, epoch: Instant, now: Instant) -> Frame {
    let mut leds = vec![false; 1 + layout.countdown_leds];
    let taking = matches!(
        inp.phase,
        Some(Phase::Countdown | Phase::Recording | Phase::Waiting)
    );
    let (pattern, mut next) = match (taking, inp.start, inp.end) {
        (true, Some(start), _) if now < start => {
            ("countdown", countdown(start, now, layout, &mut leds))
        }
        (true, Some(_), Some(end)) if now < end && inp.phase != Some(Phase::Waiting) => {
            leds[0] = true;
            ("recording", end)
        }
        _ if inp.recorders_down => {
            let (on, next) = blink(epoch, now, ms(2000), &[(ms(0), ms(1000))]);
            leds[0] = on;
            ("recorder_down", next)
        }
        (true, _, _) => {
            // The note is over; the confirmation is awaited.
            let (on, next) = blink(epoch, now, ms(250), &[(ms(0), ms(50))]);
            leds[0] = on;
            ("waiting", next)
        }
        _ if inp.phase == Some(Phase::Armed) => {
            // Ready: a double beat.
            let (on, next) = blink(
                epoch,
                now,
                ms(2000),
                &[(ms(0), ms(100)), (ms(200), ms(300))],
            );
            leds[0] = on;
            ("armed", next)
        }
        _ => {
            let (on, next) = blink(epoch, now, ms(2000), &[(ms(0), ms(100))]);
            leds[0] = on;
            ("idle", next)
        }
    };
    // A confirmation's signal takes the status LED for its length, except while
    // a note is being recorded (steady) or a single-LED countdown runs.
    let status_busy = pattern == "recording"
        || (pattern == "countdown"
            && !(layout.style == CountdownStyle::PerSecond && layout.countdown_leds > 0));
    let mut pattern = pattern;
    if let Some((judged, at)) = inp.flash
        && !status_busy
        && now >= at
    {
        let (period, ons, length, name) = flash(judged);
        if now < at + length {
            let (on, n) = blink(at, now, period, ons);
            leds[0] = on;
            next = next.min(n).min(at + length);
            if pattern != "countdown" {
                pattern = name;
            }
        }
    }
    Frame {
        leds,
        pattern,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every change of the LEDs from `from` to `to`, following each frame's `next`
    /// as the driver does: (milliseconds after `from`, LEDs, pattern).
    pub fn timeline(
        inp: &Inputs,
        layout: &Layout,
        epoch: Instant,
        from: Instant,
        to: Instant,
    ) -> Vec<(u64, Vec<bool>, &'static str)> {
        let mut out: Vec<(u64, Vec<bool>, &'static str)> = Vec::new();
        let mut now = from;
        while now < to {
            let f = frame(inp, layout, epoch, now);
            assert!(f.next > now, "a frame must move time on");
            if out.last().map(|(_, l, p)| (l, *p)) != Some((&f.leds, f.pattern)) {
                out.push(((now - from).as_millis() as u64, f.leds, f.pattern));
            }
            now = f.next;
        }
        out
    }

    fn per_second(n: usize) -> Layout {
        Layout {
            countdown_leds: n,
            style: CountdownStyle::PerSecond,
        }
    }

    fn take(t0: Instant, countdown_ms: u64, note_ms: u64) -> Inputs {
        Inputs {
            phase: Some(Phase::Countdown),
            start: Some(t0 + ms(countdown_ms)),
            end: Some(t0 + ms(countdown_ms + note_ms)),
            ..Inputs::default()
        }
    }

    #[test]
    fn per_second_countdown_of_three_then_recording_starts_exactly_at_start() {
        let t0 = Instant::now();
        let inp = take(t0, 3000, 500);
        let tl = timeline(&inp, &per_second(3), t0, t0, t0 + ms(3500));
        let b = |s: &[u8]| s.iter().map(|&x| x == 1).collect::<Vec<_>>();
        assert_eq!(
            tl,
            vec![
                (0, b(&[0, 1, 1, 1]), "countdown"),
                (1000, b(&[0, 1, 1, 0]), "countdown"),
                (2000, b(&[0, 1, 0, 0]), "countdown"),
                (3000, b(&[1, 0, 0, 0]), "recording"),
            ]
        );
        // To the nanosecond: 1 ns before the start it is still the countdown.
        let start = inp.start.unwrap();
        let before = frame(&inp, &per_second(3), t0, start - Duration::from_nanos(1));
        assert_eq!((before.pattern, before.next), ("countdown", start));
        assert_eq!(frame(&inp, &per_second(3), t0, start).pattern, "recording");
    }

    #[test]
    fn a_countdown_longer_than_the_leds_keeps_them_all_lit_until_it_fits() {
        let t0 = Instant::now();
        let inp = take(t0, 2500, 100);
        let tl = timeline(&inp, &per_second(2), t0, t0, t0 + ms(2600));
        let lit: Vec<(u64, usize)> = tl
            .iter()
            .map(|(t, l, _)| (*t, l[1..].iter().filter(|x| **x).count()))
            .collect();
        // 2.5 s left: 3 seconds' worth, both LEDs; then 2 at 0.5 s, 1 at 1.5 s, recording at 2.5 s.
        assert_eq!(lit, vec![(0, 2), (1500, 1), (2500, 0)]);
        assert_eq!(tl.last().unwrap().2, "recording");
    }

    #[test]
    fn single_blink_countdown_blinks_each_second_and_faster_in_the_last() {
        let t0 = Instant::now();
        let inp = take(t0, 3000, 200);
        let layout = Layout {
            countdown_leds: 3,
            style: CountdownStyle::SingleBlink,
        };
        let tl = timeline(&inp, &layout, t0, t0, t0 + ms(3200));
        let on: Vec<(u64, bool, &str)> = tl.iter().map(|(t, l, p)| (*t, l[0], *p)).collect();
        assert_eq!(
            on,
            vec![
                (0, true, "countdown"),
                (200, false, "countdown"),
                (1000, true, "countdown"),
                (1200, false, "countdown"),
                (2000, true, "countdown"),
                (2125, false, "countdown"),
                (2250, true, "countdown"),
                (2375, false, "countdown"),
                (2500, true, "countdown"),
                (2625, false, "countdown"),
                (2750, true, "countdown"),
                (2875, false, "countdown"),
                (3000, true, "recording"),
            ]
        );
        assert!(tl.iter().all(|(_, l, _)| !l[1..].contains(&true)));
    }

    #[test]
    fn ok_warning_and_failure_are_distinct_and_give_way_to_the_armed_beat() {
        let t0 = Instant::now();
        let count_blinks = |flash| {
            let inp = Inputs {
                phase: Some(Phase::Armed),
                flash: Some((flash, t0)),
                ..Inputs::default()
            };
            // The armed beat's cycle began 1.5 s ago: its next beats are at 500 and 700 ms.
            let tl = timeline(&inp, &per_second(3), t0 - ms(1500), t0, t0 + ms(1500));
            let ons: Vec<(u64, &str)> = tl
                .iter()
                .filter(|(_, l, _)| l[0])
                .map(|(t, _, p)| (*t, *p))
                .collect();
            (ons, tl)
        };
        let (ok, tl) = count_blinks(Disposition::Ok);
        assert_eq!(ok, vec![(0, "ok"), (500, "armed"), (700, "armed")]);
        assert_eq!(tl[1], (300, vec![false; 4], "armed"));
        let (warn, _) = count_blinks(Disposition::Warn);
        assert_eq!(
            warn,
            vec![(0, "warning"), (300, "warning"), (600, "warning")]
        );
        let (failed, _) = count_blinks(Disposition::Failed);
        assert_eq!(
            failed.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![0, 160, 320, 480, 640]
        );
    }

    #[test]
    fn an_ok_during_the_next_per_second_countdown_shows_on_the_status_led() {
        let t0 = Instant::now();
        let mut inp = take(t0, 2000, 100);
        inp.flash = Some((Disposition::Ok, t0));
        let f = frame(&inp, &per_second(3), t0, t0 + ms(100));
        assert_eq!(f.leds, vec![true, true, true, false]);
        assert_eq!(f.next, t0 + ms(300));
        let f = frame(&inp, &per_second(3), t0, t0 + ms(300));
        assert_eq!(f.leds, vec![false, true, true, false]);
    }

    #[test]
    fn recorder_down_is_a_slow_blink_and_idle_a_heartbeat() {
        let t0 = Instant::now();
        let down = Inputs {
            phase: Some(Phase::Armed),
            recorders_down: true,
            ..Inputs::default()
        };
        let tl = timeline(&down, &per_second(3), t0, t0, t0 + ms(4000));
        let ts: Vec<(u64, bool)> = tl.iter().map(|(t, l, _)| (*t, l[0])).collect();
        assert_eq!(
            ts,
            vec![(0, true), (1000, false), (2000, true), (3000, false)]
        );
        assert!(tl.iter().all(|x| x.2 == "recorder_down"));
        // A countdown still counts down while a recorder is down.
        let mut counting = take(t0, 2000, 100);
        counting.recorders_down = true;
        assert_eq!(
            frame(&counting, &per_second(3), t0, t0).pattern,
            "countdown"
        );

        let idle = Inputs {
            phase: Some(Phase::Idle),
            ..Inputs::default()
        };
        let tl = timeline(&idle, &per_second(3), t0, t0, t0 + ms(4000));
        let ts: Vec<(u64, bool)> = tl.iter().map(|(t, l, _)| (*t, l[0])).collect();
        assert_eq!(
            ts,
            vec![(0, true), (100, false), (2000, true), (2100, false)]
        );
    }

    #[test]
    fn waiting_after_the_note_flickers_until_the_confirmation() {
        let t0 = Instant::now();
        let mut inp = take(t0, 0, 100);
        inp.phase = Some(Phase::Recording);
        assert_eq!(
            frame(&inp, &per_second(3), t0, t0 + ms(50)).pattern,
            "recording"
        );
        // The cycle has not yet said so, but the note is over by the clock.
        let f = frame(&inp, &per_second(3), t0, t0 + ms(100));
        assert_eq!(f.pattern, "waiting");
        inp.phase = Some(Phase::Waiting);
        let tl = timeline(&inp, &per_second(3), t0, t0 + ms(100), t0 + ms(600));
        assert_eq!(
            tl.iter().map(|x| (x.0, x.1[0])).collect::<Vec<_>>(),
            vec![
                (0, false),
                (150, true),
                (200, false),
                (400, true),
                (450, false)
            ]
        );
    }
}
