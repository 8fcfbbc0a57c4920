//! The ALSA sequencer as a [`Sequencer`]: ports found by name, messages sent
//! directly (the timing is [`super::player`]'s).

use super::{MidiError, MidiMessage, MidiOut, Sequencer};
use alsa::seq::{Addr, EvCtrl, EvNote, Event, EventType, PortCap, PortType, Seq};
use std::ffi::CString;

/// The system's ALSA sequencer.
pub struct AlsaSequencer;

const CLIENT_NAME: &str = "takebox-capture";

fn open_seq() -> Result<Seq, MidiError> {
    let seq = Seq::open(None, Some(alsa::Direction::Playback), false).map_err(|e| {
        MidiError::NoSequencer {
            what: e.to_string(),
        }
    })?;
    let name = CString::new(CLIENT_NAME).expect("no NUL");
    let _ = seq.set_client_name(&name);
    Ok(seq)
}

/// A port's `client:port` name, as ports are found by and compared.
fn port_name(client: Result<&str, alsa::Error>, port: Result<&str, alsa::Error>) -> String {
    format!("{}:{}", client.unwrap_or("?"), port.unwrap_or("?"))
}

/// The `client:port` name of the port at `addr`, if there is one.
fn name_at(seq: &Seq, addr: Addr) -> Option<String> {
    let client = seq.get_any_client_info(addr.client).ok()?;
    let port = seq.get_any_port_info(addr).ok()?;
    Some(port_name(client.get_name(), port.get_name()))
}

/// Every port others may write to, as `client:port` with its address.
fn writable_ports(seq: &Seq) -> Vec<(String, Addr)> {
    let want = PortCap::WRITE | PortCap::SUBS_WRITE;
    let own = seq.client_id().unwrap_or(-1);
    let mut out = Vec::new();
    for client in alsa::seq::ClientIter::new(seq) {
        if client.get_client() == own || client.get_client() == 0 {
            continue;
        }
        for port in alsa::seq::PortIter::new(seq, client.get_client()) {
            if port.get_capability().contains(want) {
                out.push((port_name(client.get_name(), port.get_name()), port.addr()));
            }
        }
    }
    out
}

/// The first port whose `client:port` name holds `wanted` (ignoring case):
/// synths put their process id in their names, so a part is enough.
fn find_in(seq: &Seq, wanted: &str) -> Result<(String, Addr), MidiError> {
    let ports = writable_ports(seq);
    let needle = wanted.to_lowercase();
    ports
        .iter()
        .find(|(n, _)| n.to_lowercase().contains(&needle))
        .cloned()
        .ok_or_else(|| MidiError::PortNotFound {
            port: wanted.to_string(),
            available: ports.into_iter().map(|p| p.0).collect(),
        })
}

impl Sequencer for AlsaSequencer {
    fn open(&self, port: &str) -> Result<Box<dyn MidiOut>, MidiError> {
        let seq = open_seq()?;
        let (name, dest) = find_in(&seq, port)?;
        let send_err = |e: alsa::Error| MidiError::Send {
            port: name.clone(),
            what: e.to_string(),
        };
        let source = seq
            .create_simple_port(
                &CString::new("out").expect("no NUL"),
                PortCap::READ | PortCap::SUBS_READ,
                PortType::MIDI_GENERIC | PortType::APPLICATION,
            )
            .map_err(send_err)?;
        Ok(Box::new(SeqOut {
            seq,
            source,
            dest,
            name,
        }))
    }

    fn find(&self, port: &str) -> Result<String, MidiError> {
        find_in(&open_seq()?, port).map(|p| p.0)
    }
}

struct SeqOut {
    seq: Seq,
    source: i32,
    dest: Addr,
    name: String,
}

impl MidiOut for SeqOut {
    fn send(&mut self, m: MidiMessage) -> Result<(), MidiError> {
        let mut ev = match m {
            MidiMessage::NoteOn {
                channel,
                note,
                velocity,
            } => Event::new(EventType::Noteon, &note_ev(channel, note, velocity)),
            MidiMessage::NoteOff { channel, note } => {
                Event::new(EventType::Noteoff, &note_ev(channel, note, 0))
            }
            MidiMessage::Controller {
                channel,
                param,
                value,
            } => Event::new(
                EventType::Controller,
                &ctrl_ev(channel, param.into(), value),
            ),
            MidiMessage::Program { channel, program } => {
                Event::new(EventType::Pgmchange, &ctrl_ev(channel, 0, program))
            }
        };
        ev.set_source(self.source);
        ev.set_dest(self.dest);
        ev.set_direct();
        self.seq
            .event_output_direct(&mut ev)
            .map(|_| ())
            .map_err(|e| MidiError::Send {
                port: self.name.clone(),
                what: e.to_string(),
            })
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Two look-ups on the open handle. The name tells a restart at the same
    /// address apart (fluidsynth's holds its process id); a synth that comes
    /// back at the same address under the same name cannot be told apart.
    fn check(&self) -> Result<(), MidiError> {
        let gone = |what: String| MidiError::Gone {
            port: self.name.clone(),
            what,
        };
        let at = format!("{}:{}", self.dest.client, self.dest.port);
        match name_at(&self.seq, self.dest) {
            Some(n) if n == self.name => Ok(()),
            Some(n) => Err(gone(format!("{at} is now {n}"))),
            None => Err(gone(format!("nothing is at {at} any more"))),
        }
    }
}

fn note_ev(channel: u8, note: u8, velocity: u8) -> EvNote {
    EvNote {
        channel,
        note,
        velocity,
        off_velocity: 0,
        duration: 0,
    }
}

fn ctrl_ev(channel: u8, param: u32, value: u8) -> EvCtrl {
    EvCtrl {
        channel,
        param,
        value: value.into(),
    }
}
