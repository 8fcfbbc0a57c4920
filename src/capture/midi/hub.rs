//! The recorder's MIDI ports: opened on first use and kept, their program
//! sent once, their latency stored, their status for `GET /v1/status`.

use super::latency::LatencyStore;
use super::player::{SharedOut, silence};
use super::{MidiError, MidiMessage, Sequencer};
use crate::panics::locked;
use crate::protocol::{MidiPortStatus, MidiTake};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a status look at the sequencer's ports is reused.
const STATUS_TTL: Duration = Duration::from_secs(2);

struct Port {
    out: SharedOut,
    /// The bank and program last sent, by channel (from 0).
    programs: BTreeMap<u8, (Option<u16>, u8)>,
    /// The last pre-roll's noise peak, for the silence wait.
    noise_peak: Option<f32>,
}

/// A port ready for a take.
pub struct Prepared {
    pub out: SharedOut,
    /// The full `client:port` name.
    pub name: String,
    /// Stored latency (0 before the first calibration), ms.
    pub latency_ms: f64,
    pub noise_peak: Option<f32>,
}

pub struct MidiHub {
    sequencer: Box<dyn Sequencer>,
    /// By the name the take asks for.
    ports: Mutex<BTreeMap<String, Port>>,
    latencies: LatencyStore,
    /// The latencies the last takes of each port measured, newest last
    /// (since its last calibration).
    recent: Mutex<BTreeMap<String, Vec<f64>>>,
    /// `capture.midi_ports`, always in status.
    configured: Vec<String>,
    /// Every port a take has opened, in status from then on: one that went
    /// away shows there as missing.
    opened: Mutex<Vec<String>>,
    status: Mutex<Option<(Instant, Vec<MidiPortStatus>)>>,
}

impl MidiHub {
    pub fn new(sequencer: Box<dyn Sequencer>, state_dir: &Path, configured: Vec<String>) -> Self {
        MidiHub {
            sequencer,
            ports: Mutex::new(BTreeMap::new()),
            latencies: LatencyStore::open(state_dir),
            recent: Mutex::new(BTreeMap::new()),
            configured,
            opened: Mutex::new(Vec::new()),
            status: Mutex::new(None),
        }
    }

    /// Open `m.port` if need be and send its bank and program when they
    /// changed. A port kept from earlier takes is checked first: one that
    /// went away (the synth restarted, came back as another client) is
    /// looked up again by name, and its program sent again, since the new
    /// client knows nothing of it. The latency stays: it belongs to the
    /// name. A port that fails is closed, to be found again next time.
    pub fn prepare(&self, m: &MidiTake) -> Result<Prepared, MidiError> {
        let mut ports = locked(&self.ports);
        let mut noise_peak = None;
        let checked = ports.get(&m.port).map(|p| locked(&p.out).check());
        if let Some(Err(e)) = checked {
            log::warn!(target: "takebox::capture", "{e}; looking {:?} up again", m.port);
            // The input's noise is the same whichever client plays into it.
            noise_peak = ports.remove(&m.port).and_then(|p| p.noise_peak);
            self.forget_status();
        }
        let kept = ports.contains_key(&m.port);
        match self.ready(&mut ports, m, noise_peak) {
            // A kept port that failed between its check and the program:
            // once more, from a fresh look-up.
            Err(e) if kept => {
                log::warn!(target: "takebox::capture", "{e}; looking {:?} up again", m.port);
                self.ready(&mut ports, m, noise_peak)
            }
            r => r,
        }
    }

    /// [`Self::prepare`] without the check: open, send the program.
    fn ready(
        &self,
        ports: &mut BTreeMap<String, Port>,
        m: &MidiTake,
        noise_peak: Option<f32>,
    ) -> Result<Prepared, MidiError> {
        if !ports.contains_key(&m.port) {
            let out = self.sequencer.open(&m.port)?;
            log::info!(target: "takebox::capture", "MIDI port {:?}: {}", m.port, out.name());
            let port = Port {
                out: Arc::new(Mutex::new(out)),
                programs: BTreeMap::new(),
                noise_peak,
            };
            ports.insert(m.port.clone(), port);
            let mut opened = locked(&self.opened);
            if !opened.contains(&m.port) {
                opened.push(m.port.clone());
            }
            drop(opened);
            self.forget_status();
        }
        let port = ports.get_mut(&m.port).expect("just inserted");
        let channel = m.channel - 1;
        if let Some(program) = m.program
            && port.programs.get(&channel) != Some(&(m.bank, program))
        {
            let sent = MidiMessage::program_change(channel, m.bank, program)
                .into_iter()
                .try_for_each(|msg| locked(&port.out).send(msg));
            if let Err(e) = sent {
                ports.remove(&m.port);
                self.forget_status();
                return Err(e);
            }
            port.programs.insert(channel, (m.bank, program));
        }
        let name = locked(&port.out).name().to_string();
        Ok(Prepared {
            out: port.out.clone(),
            name,
            latency_ms: self.latencies.get(&m.port).unwrap_or(0.0),
            noise_peak: port.noise_peak,
        })
    }

    /// Forget `port` after a failed take: it is looked up again next time.
    pub fn close(&self, port: &str) {
        locked(&self.ports).remove(port);
        self.forget_status();
    }

    /// A take's note on `port` could not be played (`e`): the port is closed
    /// to be looked up again, and the take's error says so.
    pub fn failed(&self, port: &str, e: &MidiError) -> String {
        self.close(port);
        format!(
            "{e}; the take's note was not played as planned, and {port:?} is looked up again before the next take"
        )
    }

    /// The next status looks at the sequencer again.
    fn forget_status(&self) {
        *locked(&self.status) = None;
    }

    /// The noise peak of the last pre-roll recorded from `port`.
    pub fn note_noise(&self, port: &str, peak: f32) {
        if let Some(p) = locked(&self.ports).get_mut(port) {
            p.noise_peak = Some(peak);
        }
    }

    pub fn store_latency(&self, port: &str, ms: f64) -> std::io::Result<()> {
        self.latencies.set(port, ms)
    }

    /// A take of `port` measured a latency of `ms` (a calibration take starts
    /// the count again): the latency the port should use from now on, the
    /// lower median of the last [`schedule::TRACKED_TAKES`] measurements.
    pub fn track_latency(&self, port: &str, ms: f64, calibration: bool) -> f64 {
        let mut recent = locked(&self.recent);
        let seen = recent.entry(port.to_string()).or_default();
        if calibration {
            seen.clear();
        }
        seen.push(ms);
        let drop = seen.len().saturating_sub(super::schedule::TRACKED_TAKES);
        seen.drain(..drop);
        super::schedule::lower_median(seen)
    }

    /// Silence every channel of every open port (abort, exit).
    pub fn silence_all(&self) {
        for port in locked(&self.ports).values() {
            let mut out = locked(&port.out);
            for channel in 0..16 {
                silence(&mut **out, channel);
            }
        }
    }

    /// Each configured or opened port: found or not, its stored latency.
    pub fn status(&self) -> Vec<MidiPortStatus> {
        // No lock is held while another is taken: `prepare` takes the
        // cache's under the ports'.
        if let Some((at, s)) = locked(&self.status).as_ref()
            && at.elapsed() < STATUS_TTL
        {
            return s.clone();
        }
        let mut names: Vec<String> = self.configured.clone();
        for p in locked(&self.opened).iter() {
            if !names.contains(p) {
                names.push(p.clone());
            }
        }
        let s: Vec<MidiPortStatus> = names
            .into_iter()
            .map(|port| {
                let found = self.sequencer.find(&port);
                MidiPortStatus {
                    available: found.is_ok(),
                    latency_ms: self.latencies.get(&port),
                    error: found.err().map(|e| e.to_string()),
                    port,
                }
            })
            .collect();
        *locked(&self.status) = Some((Instant::now(), s.clone()));
        s
    }
}

impl Drop for MidiHub {
    fn drop(&mut self) {
        self.silence_all();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::player::tests::{Sent, recording};
    use super::super::{MidiOut, player};
    use super::*;

    /// A sequencer with one port, "synth:in", whose output records.
    pub(crate) struct OnePort(Mutex<Option<SharedOut>>);

    /// [`OnePort`] and what its port is sent.
    pub(crate) fn one_port() -> (OnePort, Sent) {
        let (out, sent) = recording(usize::MAX);
        (OnePort(Mutex::new(Some(out))), sent)
    }

    struct Forward(SharedOut);
    impl MidiOut for Forward {
        fn send(&mut self, m: MidiMessage) -> Result<(), MidiError> {
            locked(&self.0).send(m)
        }
        fn name(&self) -> &str {
            "synth:in"
        }
        fn check(&self) -> Result<(), MidiError> {
            Ok(())
        }
    }

    impl Sequencer for OnePort {
        fn open(&self, port: &str) -> Result<Box<dyn MidiOut>, MidiError> {
            self.find(port)?;
            let out = locked(&self.0).clone().expect("one output");
            Ok(Box::new(Forward(out)))
        }
        fn find(&self, port: &str) -> Result<String, MidiError> {
            if "synth:in".contains(port) {
                Ok("synth:in".into())
            } else {
                Err(MidiError::PortNotFound {
                    port: port.into(),
                    available: vec!["synth:in".into()],
                })
            }
        }
    }

    fn hub(dir: &Path, configured: &[&str]) -> (MidiHub, Sent) {
        let (seq, sent) = one_port();
        let configured = configured.iter().map(|s| s.to_string()).collect();
        (MidiHub::new(Box::new(seq), dir, configured), sent)
    }

    fn take(port: &str, program: Option<u8>) -> MidiTake {
        MidiTake {
            port: port.into(),
            channel: 3,
            velocity: 64,
            program,
            bank: Some(129),
            release_seconds: 1.0,
            calibrate: false,
        }
    }

    #[test]
    fn the_program_goes_once_before_the_first_note() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, sent) = hub(dir.path(), &[]);
        let p = hub.prepare(&take("synth", Some(48))).unwrap();
        assert_eq!(p.name, "synth:in");
        assert_eq!(p.latency_ms, 0.0);
        hub.prepare(&take("synth", Some(48))).unwrap();
        let msgs: Vec<_> = locked(&sent).iter().map(|s| s.1).collect();
        assert_eq!(msgs, MidiMessage::program_change(2, Some(129), 48));
        assert_eq!(
            &msgs[..2],
            &[
                MidiMessage::Controller {
                    channel: 2,
                    param: 0,
                    value: 1
                },
                MidiMessage::Controller {
                    channel: 2,
                    param: 32,
                    value: 1
                },
            ]
        );
        hub.prepare(&take("synth", Some(49))).unwrap();
        assert_eq!(locked(&sent).len(), 6);
        hub.store_latency("synth", 7.5).unwrap();
        assert_eq!(hub.prepare(&take("synth", None)).unwrap().latency_ms, 7.5);
    }

    #[test]
    fn a_missing_port_is_named_in_the_error_and_in_status() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, _) = hub(dir.path(), &["Yamaha"]);
        let e = hub
            .prepare(&take("Roland", None))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("\"Roland\" not found") && e.contains("synth:in"),
            "{e}"
        );
        let s = hub.status();
        assert_eq!(s.len(), 1);
        assert!(!s[0].available && s[0].error.as_deref().unwrap().contains("Yamaha"));
    }

    #[test]
    fn dropping_the_hub_silences_every_channel_of_its_ports() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, sent) = hub(dir.path(), &[]);
        hub.prepare(&take("synth", None)).unwrap();
        drop(hub);
        let msgs: Vec<_> = locked(&sent).iter().map(|s| s.1).collect();
        assert_eq!(msgs.len(), 16 * 3);
        assert_eq!(&msgs[45..], &MidiMessage::silence(15));
    }

    #[test]
    fn the_latency_follows_the_median_of_the_last_takes_from_a_calibration() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, _) = hub(dir.path(), &[]);
        // A cold first note 30 ms late, then the synth's usual 22 ms or so.
        assert_eq!(hub.track_latency("synth", 52.0, true), 52.0);
        assert_eq!(hub.track_latency("synth", 22.0, false), 22.0);
        assert_eq!(hub.track_latency("synth", 23.0, false), 23.0);
        // A hiccup is outvoted; the oldest of more than five drop out.
        assert_eq!(hub.track_latency("synth", 90.0, false), 23.0);
        for ms in [21.0, 20.0, 21.0] {
            hub.track_latency("synth", ms, false);
        }
        assert_eq!(hub.track_latency("synth", 20.0, false), 21.0);
        // A calibration starts again.
        assert_eq!(hub.track_latency("synth", 8.0, true), 8.0);
    }

    /// Synths that come and go, as the ALSA sequencer sees them: ports by
    /// client id and name. A send reaches whatever is at its address now
    /// (the kernel delivers by address) and fails when nothing is.
    #[derive(Clone, Default)]
    pub(crate) struct Synths(Arc<Mutex<Bus>>);

    #[derive(Default)]
    pub(crate) struct Bus {
        ports: BTreeMap<i32, String>,
        heard: Vec<(i32, MidiMessage)>,
        /// The next note-on finds its synth gone (it crashed as it came).
        crash_on_note: bool,
    }

    /// Middle C on channel 3 of `out`, now.
    fn play_c4(out: SharedOut) -> Result<(), MidiError> {
        let note = player::Note {
            channel: 2,
            note: 60,
            velocity: 64,
        };
        let now = super::super::schedule::NoteTimes {
            on_ns: 0,
            off_ns: 0,
        };
        player::play(out, note, now).finish()
    }

    pub(crate) const FLUID_A: &str = "FLUID Synth (4101):Synth input port (4101:0)";
    pub(crate) const FLUID_B: &str = "FLUID Synth (4177):Synth input port (4177:0)";

    impl Synths {
        pub(crate) fn plug(&self, id: i32, name: &str) {
            locked(&self.0).ports.insert(id, name.into());
        }
        pub(crate) fn unplug(&self, id: i32) {
            locked(&self.0).ports.remove(&id);
        }
        pub(crate) fn crash_on_next_note(&self) {
            locked(&self.0).crash_on_note = true;
        }
        /// What the client `id` was sent.
        pub(crate) fn heard(&self, id: i32) -> Vec<MidiMessage> {
            let bus = locked(&self.0);
            bus.heard
                .iter()
                .filter(|h| h.0 == id)
                .map(|h| h.1)
                .collect()
        }
        fn lookup(&self, port: &str) -> Result<(i32, String), MidiError> {
            let bus = locked(&self.0);
            let found = bus
                .ports
                .iter()
                .find(|(_, n)| n.to_lowercase().contains(&port.to_lowercase()));
            found
                .map(|(id, n)| (*id, n.clone()))
                .ok_or_else(|| MidiError::PortNotFound {
                    port: port.into(),
                    available: bus.ports.values().cloned().collect(),
                })
        }
    }

    struct SynthOut {
        synths: Synths,
        id: i32,
        name: String,
    }

    impl MidiOut for SynthOut {
        fn send(&mut self, m: MidiMessage) -> Result<(), MidiError> {
            let mut bus = locked(&self.synths.0);
            if bus.crash_on_note && matches!(m, MidiMessage::NoteOn { .. }) {
                bus.crash_on_note = false;
                bus.ports.remove(&self.id);
            }
            if !bus.ports.contains_key(&self.id) {
                return Err(MidiError::Send {
                    port: self.name.clone(),
                    what: "No such file or directory".into(),
                });
            }
            bus.heard.push((self.id, m));
            Ok(())
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn check(&self) -> Result<(), MidiError> {
            let gone = |what| MidiError::Gone {
                port: self.name.clone(),
                what,
            };
            match locked(&self.synths.0).ports.get(&self.id) {
                Some(n) if *n == self.name => Ok(()),
                Some(n) => Err(gone(format!("{} is now {n}", self.id))),
                None => Err(gone(format!("nothing is at {} any more", self.id))),
            }
        }
    }

    impl Sequencer for Synths {
        fn open(&self, port: &str) -> Result<Box<dyn MidiOut>, MidiError> {
            let (id, name) = self.lookup(port)?;
            Ok(Box::new(SynthOut {
                synths: self.clone(),
                id,
                name,
            }))
        }
        fn find(&self, port: &str) -> Result<String, MidiError> {
            self.lookup(port).map(|p| p.1)
        }
    }

    /// A hub on [`Synths`] with fluidsynth at client 128.
    fn synth_hub(dir: &Path) -> (MidiHub, Synths) {
        let synths = Synths::default();
        synths.plug(128, FLUID_A);
        let hub = MidiHub::new(Box::new(synths.clone()), dir, vec!["FLUID".into()]);
        (hub, synths)
    }

    pub(crate) fn program(p: u8) -> Vec<MidiMessage> {
        MidiMessage::program_change(2, Some(129), p)
    }

    #[test]
    fn a_synth_back_under_a_new_id_is_found_again_with_its_program_and_latency() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, synths) = synth_hub(dir.path());
        assert_eq!(hub.prepare(&take("FLUID", Some(5))).unwrap().name, FLUID_A);
        hub.store_latency("FLUID", 12.5).unwrap();
        hub.note_noise("FLUID", 0.001);
        hub.prepare(&take("FLUID", Some(5))).unwrap();
        assert_eq!(synths.heard(128), program(5), "sent once");
        // fluidsynth restarts: a new process, a new client.
        synths.unplug(128);
        synths.plug(129, FLUID_B);
        let p = hub.prepare(&take("FLUID", Some(5))).unwrap();
        assert_eq!(p.name, FLUID_B);
        assert_eq!(synths.heard(129), program(5), "the new client gets it");
        assert_eq!((p.latency_ms, p.noise_peak), (12.5, Some(0.001)));
        // The take's note goes to the new client.
        play_c4(p.out).unwrap();
        assert_eq!(synths.heard(129).len(), program(5).len() + 2);
    }

    #[test]
    fn a_synth_restarted_at_the_same_address_gets_its_program_again() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, synths) = synth_hub(dir.path());
        hub.prepare(&take("FLUID", Some(5))).unwrap();
        // The only other client left: the new process gets the same id.
        synths.plug(128, FLUID_B);
        assert_eq!(hub.prepare(&take("FLUID", Some(5))).unwrap().name, FLUID_B);
        assert_eq!(synths.heard(128), [program(5), program(5)].concat());
    }

    #[test]
    fn a_synth_gone_between_takes_is_a_clear_error_and_missing_in_status() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, synths) = synth_hub(dir.path());
        hub.prepare(&take("FLUID", Some(5))).unwrap();
        assert!(hub.status()[0].available);
        synths.unplug(128);
        let e = hub.prepare(&take("FLUID", Some(5))).err().unwrap();
        assert!(matches!(e, MidiError::PortNotFound { .. }), "{e}");
        assert!(e.to_string().contains("\"FLUID\" not found"), "{e}");
        let s = hub.status();
        assert!(!s[0].available, "{s:?}");
        assert!(s[0].error.as_deref().unwrap().contains("FLUID"), "{s:?}");
        // Back (replugged): found, programmed, and available again at once.
        synths.plug(130, FLUID_B);
        hub.prepare(&take("FLUID", Some(5))).unwrap();
        assert_eq!(synths.heard(130), program(5));
        assert!(hub.status()[0].available);
    }

    #[test]
    fn a_synth_gone_within_a_take_fails_it_naming_the_port_then_is_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, synths) = synth_hub(dir.path());
        let p = hub.prepare(&take("FLUID", Some(5))).unwrap();
        // Gone after the check, before the note-on.
        synths.unplug(128);
        let e = play_c4(p.out).unwrap_err();
        let why = hub.failed("FLUID", &e);
        assert!(
            why.contains(FLUID_A)
                && why.contains("No such file")
                && why.contains("looked up again"),
            "{why}"
        );
        synths.plug(131, FLUID_B);
        assert_eq!(hub.prepare(&take("FLUID", Some(5))).unwrap().name, FLUID_B);
        assert_eq!(synths.heard(131), program(5));
    }
}
