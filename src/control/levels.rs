//! The page's live meter and tuner. While a take is armed, counting down or
//! recording (and while paused), every recorder that is up is asked for its
//! input levels about 12 times a second; while armed and counting down the
//! first one is also asked, in a loop of its own, for its pitch near the next
//! note. Each answer becomes one server-sent `levels` event, formatted once
//! for every open stream.

use super::cycle::{CycleStatus, Phase};
use super::health::Health;
use super::recorder_client::RecorderClient;
use crate::config::Config;
use crate::dsp::cents_between;
use bytes::Bytes;
use serde::Serialize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// Meter rounds while a take is near: over 10 a second, as a meter needs.
pub const FAST_EVERY: Duration = Duration::from_millis(80);
/// Otherwise the meter still moves, slowly and cheaply.
pub const SLOW_EVERY: Duration = Duration::from_millis(500);
/// A meter reading later than this is of no use; the round goes on without it.
const ANSWER_WITHIN: Duration = Duration::from_millis(300);
/// Tuner readings: over 5 a second, each as slow as its measurement.
pub const TUNER_EVERY: Duration = Duration::from_millis(100);
const TUNER_WITHIN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveLevels {
    /// Per recorder (in the configured order), per channel: peak dBFS, `null`
    /// for silence; empty for a recorder that is down.
    pub peak_dbfs: Vec<Vec<Option<f64>>>,
    /// The clip mark: the check's clip ceiling.
    pub clip_dbfs: f64,
    pub tuner: Option<TunerReading>,
}

/// The live input against the next note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TunerReading {
    pub note: String,
    pub target_hz: f64,
    pub hz: f64,
    pub cents: f64,
}

/// What a round asks for, from the cycle's status: `None` when no meter is
/// wanted fast; the note to tune to while armed or counting down.
fn wanted(st: &CycleStatus) -> (bool, Option<(String, f64)>) {
    let fast = matches!(
        st.phase,
        Phase::Armed | Phase::Countdown | Phase::Recording | Phase::Paused
    );
    let tune = matches!(st.phase, Phase::Armed | Phase::Countdown)
        .then(|| st.slot.as_ref())
        .flatten()
        .filter(|s| s.pitch_check)
        .map(|s| (s.note.clone(), s.frequency));
    (fast, tune)
}

/// The `levels` event for a round's answers.
pub fn frame(levels: &LiveLevels) -> Bytes {
    let json = serde_json::to_string(levels).expect("levels serialize");
    Bytes::from(format!("event: levels\ndata: {json}\n\n"))
}

/// The meters and the tuner: two loops, so that a slow pitch measurement
/// (a low note searches many lags) never slows the meters down.
pub async fn poll_loop(
    clients: Vec<RecorderClient>,
    health: Arc<Health>,
    status: watch::Receiver<CycleStatus>,
    config: Arc<RwLock<Arc<Config>>>,
    out: watch::Sender<Bytes>,
    shutdown: watch::Receiver<bool>,
) {
    let live = Mutex::new(LiveLevels {
        peak_dbfs: vec![Vec::new(); clients.len()],
        clip_dbfs: 0.0,
        tuner: None,
    });
    let publish = |change: &dyn Fn(&mut LiveLevels)| {
        let Ok(mut l) = live.lock() else { return };
        change(&mut l);
        l.clip_dbfs = crate::panics::current(&config)
            .post_processing
            .clip_ceiling_dbfs;
        out.send_replace(frame(&l));
    };
    let up = || -> Vec<bool> { health.snapshot().iter().map(|h| h.up).collect() };
    let meters = async {
        let mut shutdown = shutdown.clone();
        loop {
            let (fast, _) = wanted(&status.borrow());
            let up = up();
            let mut set = tokio::task::JoinSet::new();
            for (i, c) in clients.iter().cloned().enumerate() {
                if up.get(i) == Some(&true) {
                    set.spawn(async move { (i, c.levels(None, ANSWER_WITHIN).await) });
                }
            }
            let mut peaks = vec![Vec::new(); clients.len()];
            while let Some(Ok((i, answer))) = set.join_next().await {
                if let Ok(a) = answer {
                    peaks[i] = a.peak_dbfs;
                }
            }
            publish(&|l| l.peak_dbfs = peaks.clone());
            tokio::select! {
                _ = tokio::time::sleep(if fast { FAST_EVERY } else { SLOW_EVERY }) => {}
                _ = shutdown.changed() => return,
            }
        }
    };
    let tuner = async {
        let mut shutdown = shutdown.clone();
        let mut shown = None;
        loop {
            let (_, tune) = wanted(&status.borrow());
            let first_up = up().iter().position(|&u| u);
            let reading = match (tune, first_up) {
                (Some((note, target)), Some(i)) => clients[i]
                    .levels(Some(target), TUNER_WITHIN)
                    .await
                    .ok()
                    .and_then(|a| a.pitch)
                    .map(|p| TunerReading {
                        note,
                        target_hz: target,
                        hz: p.hz,
                        cents: (cents_between(p.hz, target) * 10.0).round() / 10.0,
                    }),
                _ => None,
            };
            if reading != shown {
                publish(&|l| l.tuner = reading.clone());
                shown = reading;
            }
            tokio::select! {
                _ = tokio::time::sleep(TUNER_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    };
    tokio::join!(meters, tuner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_while_a_take_is_near_and_tuned_before_it() {
        let slot = crate::control::plan::test_slot(0, "A4");
        let mut st = CycleStatus {
            slot: Some(slot),
            ..CycleStatus::default()
        };
        for (phase, fast, tuned) in [
            (Phase::Idle, false, false),
            (Phase::Armed, true, true),
            (Phase::Countdown, true, true),
            (Phase::Recording, true, false),
            (Phase::Paused, true, false),
            (Phase::Waiting, false, false),
        ] {
            st.phase = phase;
            let (f, t) = wanted(&st);
            assert_eq!((f, t.is_some()), (fast, tuned), "{phase:?}");
        }
        st.phase = Phase::Armed;
        st.slot.as_mut().unwrap().pitch_check = false;
        assert_eq!(wanted(&st).1, None, "drums are not tuned");
        let f = frame(&LiveLevels {
            peak_dbfs: vec![vec![Some(-6.0), None], vec![]],
            clip_dbfs: -0.1,
            tuner: None,
        });
        assert_eq!(
            &f[..],
            b"event: levels\ndata: {\"peak_dbfs\":[[-6.0,null],[]],\"clip_dbfs\":-0.1,\"tuner\":null}\n\n"
        );
    }
}
