//! A synth that restarts or vanishes during a session, through the
//! recorder: the takes after a restart reach the new client with their
//! program, and a note that cannot be sent fails its take naming the port.

use super::Recorder;
use crate::capture::midi::MidiMessage;
use crate::capture::midi::hub::tests::{FLUID_A, FLUID_B, Synths, program};
use crate::protocol::{Confirmation, TakeCommand, TakeReply, TakeState, Timestamp};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A recorder on a silent input whose MIDI port is fluidsynth at client 128.
async fn recorder(dir: &Path) -> (Arc<Recorder>, Synths) {
    let config = super::test_config(dir, "takebox:silence");
    let synths = Synths::default();
    synths.plug(128, FLUID_A);
    let r = Arc::new(Recorder::start_with(config, Box::new(synths.clone())).unwrap());
    super::until("the recorder to be ready", || r.readiness().is_ok()).await;
    (r, synths)
}

/// A short take of A4 on channel 3 of "fluid", program 5 of bank 129.
async fn take(r: &Arc<Recorder>, take_id: &str) -> Confirmation {
    let mut cmd: TakeCommand = serde_json::from_value(serde_json::json!({
        "take_id": take_id, "session_id": "s1", "instrument": "synth",
        "note": "A4", "frequency": 440.0, "articulation": "short", "duration": 0.3,
        "midi": {"port": "fluid", "channel": 3, "velocity": 90, "program": 5,
                 "bank": 129, "release_seconds": 0.1}
    }))
    .unwrap();
    cmd.start_at = Some(Timestamp(SystemTime::now() + Duration::from_millis(300)));
    match r.take(cmd).await {
        Ok(TakeReply::Done(c)) => *c,
        other => panic!("{take_id}: {other:?}"),
    }
}

fn note_on() -> MidiMessage {
    MidiMessage::NoteOn {
        channel: 2,
        note: 69,
        velocity: 90,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_follow_a_synth_that_restarts_and_one_it_loses_fails_naming_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let (r, synths) = recorder(dir.path()).await;
    let first = take(&r, "t1").await;
    assert_eq!(first.state, TakeState::Delivered, "{first:?}");
    assert_eq!(first.midi.unwrap().port, FLUID_A);
    assert_eq!(
        synths.heard(128)[..4],
        [program(5), vec![note_on()]].concat()
    );

    // fluidsynth restarts between takes: a new process, a new client.
    synths.unplug(128);
    synths.plug(129, FLUID_B);
    let second = take(&r, "t2").await;
    assert_eq!(second.state, TakeState::Delivered, "{second:?}");
    assert_eq!(second.midi.unwrap().port, FLUID_B);
    assert_eq!(
        synths.heard(129)[..4],
        [program(5), vec![note_on()]].concat()
    );

    // It crashes as the next note-on comes: that take fails, never silent.
    synths.crash_on_next_note();
    let lost = take(&r, "t3").await;
    assert_eq!(lost.state, TakeState::Failed, "{lost:?}");
    let why = lost.error.unwrap();
    assert!(
        why.contains(FLUID_B) && why.contains("looked up again"),
        "{why}"
    );
    let ports = r.status().midi_ports;
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert!(!ports[0].available, "{ports:?}");

    // Back again under yet another id: found, programmed, played.
    synths.plug(130, FLUID_A);
    let back = take(&r, "t4").await;
    assert_eq!(back.state, TakeState::Delivered, "{back:?}");
    assert_eq!(
        synths.heard(130)[..4],
        [program(5), vec![note_on()]].concat()
    );
    assert!(r.status().midi_ports[0].available);
}
