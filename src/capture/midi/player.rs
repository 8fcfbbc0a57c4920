//! One note played on its own thread: note-on and note-off at their wall-clock
//! instants, and the channel silenced whenever the note does not end by
//! itself (the take aborted, a send failed, the recorder stopping).

use super::schedule::NoteTimes;
use super::{MidiError, MidiMessage, MidiOut};
use crate::panics::locked;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// An open output, shared by the takes on its port.
pub type SharedOut = Arc<Mutex<Box<dyn MidiOut>>>;

/// What to play; `channel` counts from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    pub channel: u8,
    pub note: u8,
    pub velocity: u8,
}

type Stop = Arc<(Mutex<bool>, Condvar)>;

/// A note being played; dropping it before the note-off silences the channel.
pub struct Playing {
    stop: Stop,
    thread: Option<JoinHandle<Result<(), MidiError>>>,
}

/// Below this the wait spins instead of sleeping: a sleep overshoots by the
/// scheduler's wake-up latency, a spin by nanoseconds.
const SPIN: Duration = Duration::from_millis(2);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Wait until the wall clock reaches `at_ns`; false when stopped first.
fn wait_until(stop: &Stop, at_ns: u64) -> bool {
    let (flag, cv) = &**stop;
    loop {
        let now = now_ns();
        if *locked(flag) {
            return false;
        }
        if now >= at_ns {
            return true;
        }
        let left = Duration::from_nanos(at_ns - now);
        if left > SPIN {
            let g = locked(flag);
            let _ = cv.wait_timeout(g, left - SPIN);
        } else {
            std::thread::yield_now();
        }
    }
}

/// Start playing `note` at `times` on `out`.
pub fn play(out: SharedOut, note: Note, times: NoteTimes) -> Playing {
    let stop: Stop = Arc::new((Mutex::new(false), Condvar::new()));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("midi-note".into())
            .spawn(move || run(&out, note, times, &stop))
            .expect("spawn the MIDI note thread")
    };
    Playing {
        stop,
        thread: Some(thread),
    }
}

fn run(out: &SharedOut, n: Note, times: NoteTimes, stop: &Stop) -> Result<(), MidiError> {
    if !wait_until(stop, times.on_ns) {
        return Ok(());
    }
    let on = MidiMessage::NoteOn {
        channel: n.channel,
        note: n.note,
        velocity: n.velocity,
    };
    let sent = locked(out).send(on);
    let ended = sent.clone().and_then(|()| {
        if wait_until(stop, times.off_ns) {
            let off = MidiMessage::NoteOff {
                channel: n.channel,
                note: n.note,
            };
            locked(out).send(off).map(|()| true)
        } else {
            Ok(false)
        }
    });
    if ended != Ok(true) {
        // Never a stuck note: whatever went wrong, the channel is silenced.
        silence(&mut **locked(out), n.channel);
    }
    ended.map(|_| ())
}

/// Send everything that ends the notes on `channel`, ignoring errors (this
/// is the last resort).
pub fn silence(out: &mut dyn MidiOut, channel: u8) {
    for m in MidiMessage::silence(channel) {
        if let Err(e) = out.send(m) {
            log::warn!(target: "takebox::capture", "{e}");
        }
    }
}

impl Playing {
    /// Wait for the note-off (already past once the take is recorded).
    pub fn finish(mut self) -> Result<(), MidiError> {
        self.join()
    }

    fn join(&mut self) -> Result<(), MidiError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(MidiError::Send {
                port: String::new(),
                what: "the note thread panicked".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        if self.thread.is_some() {
            *locked(&self.stop.0) = true;
            self.stop.1.notify_all();
            let _ = self.join();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a [`Recording`] was sent, with the wall-clock time of each.
    pub type Sent = Arc<Mutex<Vec<(u64, MidiMessage)>>>;

    /// An output that keeps what it was sent and when; it fails on demand.
    pub struct Recording {
        pub sent: Sent,
        pub fail_after: usize,
    }

    impl MidiOut for Recording {
        fn send(&mut self, m: MidiMessage) -> Result<(), MidiError> {
            let mut sent = locked(&self.sent);
            if sent.len() >= self.fail_after {
                return Err(MidiError::Send {
                    port: "test".into(),
                    what: "gone".into(),
                });
            }
            sent.push((now_ns(), m));
            Ok(())
        }
        fn name(&self) -> &str {
            "test:port"
        }
        fn check(&self) -> Result<(), MidiError> {
            Ok(())
        }
    }

    pub fn recording(fail_after: usize) -> (SharedOut, Sent) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let out: Box<dyn MidiOut> = Box::new(Recording {
            sent: sent.clone(),
            fail_after,
        });
        (Arc::new(Mutex::new(out)), sent)
    }

    const NOTE: Note = Note {
        channel: 2,
        note: 60,
        velocity: 90,
    };

    fn kinds(sent: &Mutex<Vec<(u64, MidiMessage)>>) -> Vec<MidiMessage> {
        locked(sent).iter().map(|s| s.1).collect()
    }

    #[test]
    fn the_note_goes_on_and_off_no_earlier_than_planned() {
        let (out, sent) = recording(usize::MAX);
        let on_ns = now_ns() + 20_000_000;
        let times = NoteTimes {
            on_ns,
            off_ns: on_ns + 30_000_000,
        };
        play(out, NOTE, times).finish().unwrap();
        let s = locked(&sent).clone();
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].0 >= times.on_ns && s[1].0 >= times.off_ns, "{s:?}");
        assert!(matches!(
            s[0].1,
            MidiMessage::NoteOn {
                channel: 2,
                note: 60,
                velocity: 90
            }
        ));
        assert!(matches!(
            s[1].1,
            MidiMessage::NoteOff {
                channel: 2,
                note: 60
            }
        ));
    }

    #[test]
    fn an_abandoned_note_silences_its_channel() {
        let (out, sent) = recording(usize::MAX);
        let on_ns = now_ns();
        let playing = play(
            out,
            NOTE,
            NoteTimes {
                on_ns,
                off_ns: on_ns + 3600 * 1_000_000_000,
            },
        );
        // Wait on the condition (the note-on sent), then abandon the take.
        while locked(&sent).is_empty() {
            std::thread::yield_now();
        }
        drop(playing);
        let k = kinds(&sent);
        assert_eq!(&k[1..], &MidiMessage::silence(2), "{k:?}");
    }

    #[test]
    fn a_note_abandoned_before_it_started_sends_nothing() {
        let (out, sent) = recording(usize::MAX);
        let on_ns = now_ns() + 3600 * 1_000_000_000;
        drop(play(
            out,
            NOTE,
            NoteTimes {
                on_ns,
                off_ns: on_ns,
            },
        ));
        assert!(kinds(&sent).is_empty());
    }

    #[test]
    fn a_failed_note_off_is_an_error_after_silencing() {
        // The note-on goes, the note-off fails, then silence is tried (and fails too).
        let (out, sent) = recording(1);
        let on_ns = now_ns();
        let e = play(
            out,
            NOTE,
            NoteTimes {
                on_ns,
                off_ns: on_ns,
            },
        )
        .finish()
        .unwrap_err();
        assert!(e.to_string().contains("gone"), "{e}");
        assert_eq!(kinds(&sent).len(), 1);
    }
}
