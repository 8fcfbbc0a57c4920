//! The capture timeline: an overwrite ring that keeps the last few seconds of
//! audio, addressed by absolute frame number since the daemon started.
//!
//! One thread (the capture thread, through [`RingWriter`]) writes; any number of
//! readers copy frames out. The writer never waits: a reader that falls behind
//! finds its frames overwritten and is told so, and its take fails loudly.
//! Samples are stored as f32 bit patterns in atomics, so a racing read is a
//! detected overrun rather than undefined behaviour; f32 holds 16- and 24-bit
//! integer samples exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// How many recent discontinuities (xruns, reopened device) are remembered.
const GAP_LOG: usize = 64;

pub struct HistoryRing {
    samples: Box<[AtomicU32]>,
    channels: usize,
    capacity: u64,
    /// Frames the writer may fill before it publishes them (one read's worth).
    margin: u64,
    written: AtomicU64,
    gaps: Box<[AtomicU64]>,
    gap_count: AtomicU64,
    /// Seqlock over (frame, unix_ns): which frame was captured at which wall time.
    anchor_seq: AtomicU64,
    anchor_frame: AtomicU64,
    anchor_unix_ns: AtomicU64,
}

/// Frames asked for are no longer (or not yet) in the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Overwritten before they were copied: the reader fell behind.
    Overwritten,
    /// Not captured yet.
    NotYet,
}

/// The one writing end, owned by the capture thread.
pub struct RingWriter {
    ring: Arc<HistoryRing>,
}

impl HistoryRing {
    /// A ring holding `capacity` frames; the writer publishes at most `margin` at once.
    pub fn new(channels: usize, capacity: u64, margin: u64) -> (RingWriter, Arc<HistoryRing>) {
        let channels = channels.max(1);
        let capacity = capacity.max(margin * 2).max(1);
        let len = usize::try_from(capacity).expect("ring fits memory") * channels;
        let ring = Arc::new(HistoryRing {
            samples: (0..len).map(|_| AtomicU32::new(0)).collect(),
            channels,
            capacity,
            margin,
            written: AtomicU64::new(0),
            gaps: (0..GAP_LOG).map(|_| AtomicU64::new(0)).collect(),
            gap_count: AtomicU64::new(0),
            anchor_seq: AtomicU64::new(0),
            anchor_frame: AtomicU64::new(0),
            anchor_unix_ns: AtomicU64::new(0),
        });
        (RingWriter { ring: ring.clone() }, ring)
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames written so far: the next frame number to be captured.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// The oldest frame a read started now can still safely get.
    pub fn oldest_readable(&self) -> u64 {
        (self.written() + self.margin).saturating_sub(self.capacity)
    }

    /// Copy frames `[start, start + out.len() / channels)` into `out`.
    pub fn read(&self, start: u64, out: &mut [f32]) -> Result<(), ReadError> {
        let frames = (out.len() / self.channels) as u64;
        if start + frames > self.written() {
            return Err(ReadError::NotYet);
        }
        if start < self.oldest_readable() {
            return Err(ReadError::Overwritten);
        }
        let (a, b) = self.slots(start, out.len());
        let (head, tail) = out.split_at_mut(a.len());
        for (part, slots) in [(head, a), (tail, b)] {
            for (s, slot) in part.iter_mut().zip(slots) {
                *s = f32::from_bits(slot.load(Ordering::Relaxed));
            }
        }
        // Pairs with the writer's fence: if any sample above came from an
        // overwrite, the `written` seen below is at least the count before it.
        fence(Ordering::Acquire);
        // Whatever the writer reached meanwhile may have overwritten our range.
        if start < self.oldest_readable() {
            return Err(ReadError::Overwritten);
        }
        Ok(())
    }

    /// The sample slots of `len` samples from frame `start` on: up to the end
    /// of the storage, then from its beginning (one division, not one per frame).
    fn slots(&self, start: u64, len: usize) -> (&[AtomicU32], &[AtomicU32]) {
        let at = (start % self.capacity) as usize * self.channels;
        let first = len.min(self.samples.len() - at);
        (&self.samples[at..at + first], &self.samples[..len - first])
    }

    /// How far (in frames) a reader may lag behind the writer and still read.
    pub fn history_frames(&self) -> u64 {
        self.capacity - self.margin
    }

    /// Discontinuities at frame numbers in `[from, to)`.
    pub fn gaps_in(&self, from: u64, to: u64) -> u64 {
        let count = self.gap_count.load(Ordering::Acquire);
        let kept = count.min(GAP_LOG as u64);
        let mut n = 0;
        for k in (count - kept)..count {
            let at = self.gaps[(k % GAP_LOG as u64) as usize].load(Ordering::Relaxed);
            if (from..to).contains(&at) {
                n += 1;
            }
        }
        // More gaps than the log keeps: the forgotten ones lie at or before the
        // oldest kept one, so a range reaching back that far may hold some.
        if count > GAP_LOG as u64 {
            let oldest =
                self.gaps[((count - kept) % GAP_LOG as u64) as usize].load(Ordering::Relaxed);
            if from <= oldest {
                n += 1;
            }
        }
        n
    }

    /// The last discontinuity at or before `frame`, if any is remembered.
    pub fn last_gap_at_or_before(&self, frame: u64) -> Option<u64> {
        let count = self.gap_count.load(Ordering::Acquire);
        let kept = count.min(GAP_LOG as u64);
        ((count - kept)..count)
            .map(|k| self.gaps[(k % GAP_LOG as u64) as usize].load(Ordering::Relaxed))
            .filter(|&at| at <= frame)
            .max()
    }

    /// The wall-clock anchor: frame number and its capture time in Unix nanoseconds.
    pub fn anchor(&self) -> Option<(u64, u64)> {
        loop {
            let s1 = self.anchor_seq.load(Ordering::Acquire);
            if s1 == 0 {
                return None;
            }
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let frame = self.anchor_frame.load(Ordering::Acquire);
            let ns = self.anchor_unix_ns.load(Ordering::Acquire);
            if self.anchor_seq.load(Ordering::Acquire) == s1 {
                return Some((frame, ns));
            }
        }
    }

    /// The frame captured at `unix_ns`, by the latest anchor and the nominal rate.
    pub fn frame_at(&self, unix_ns: u64, rate: u32) -> Option<i64> {
        let (frame, at) = self.anchor()?;
        let delta_ns = unix_ns as i128 - at as i128;
        let delta_frames = delta_ns * i128::from(rate) / 1_000_000_000;
        Some((frame as i128 + delta_frames) as i64)
    }

    /// Unix nanoseconds at which `frame` was captured.
    pub fn time_of(&self, frame: u64, rate: u32) -> Option<u64> {
        let (anchor, at) = self.anchor()?;
        let delta = (frame as i128 - anchor as i128) * 1_000_000_000 / i128::from(rate.max(1));
        Some((at as i128 + delta).max(0) as u64)
    }
}

impl RingWriter {
    pub fn ring(&self) -> &Arc<HistoryRing> {
        &self.ring
    }

    /// Append interleaved frames. Never blocks, never allocates.
    pub fn push(&mut self, interleaved: &[f32]) {
        let ring = &*self.ring;
        let ch = ring.channels;
        let frames = (interleaved.len() / ch) as u64;
        let interleaved = &interleaved[..frames as usize * ch];
        let start = ring.written.load(Ordering::Relaxed);
        fence(Ordering::Release);
        // (One read never holds more than the ring; if it did, its later part wins.)
        let whole = ring.samples.len();
        for (k, part) in interleaved.chunks(whole).enumerate() {
            let (a, b) = ring.slots(start + (k * whole / ch) as u64, part.len());
            let (head, tail) = part.split_at(a.len());
            for (slots, part) in [(a, head), (b, tail)] {
                for (slot, s) in slots.iter().zip(part) {
                    slot.store(s.to_bits(), Ordering::Relaxed);
                }
            }
        }
        ring.written.store(start + frames, Ordering::Release);
    }

    /// Note a discontinuity before the next frame (an xrun, a reopened device).
    pub fn mark_gap(&mut self) {
        let ring = &*self.ring;
        let at = ring.written.load(Ordering::Relaxed);
        let k = ring.gap_count.load(Ordering::Relaxed);
        ring.gaps[(k % GAP_LOG as u64) as usize].store(at, Ordering::Relaxed);
        ring.gap_count.store(k + 1, Ordering::Release);
    }

    /// Record that `frame` was captured at `unix_ns`.
    pub fn set_anchor(&mut self, frame: u64, unix_ns: u64) {
        let ring = &*self.ring;
        let seq = ring.anchor_seq.load(Ordering::Relaxed);
        ring.anchor_seq.store(seq + 1, Ordering::Release);
        ring.anchor_frame.store(frame, Ordering::Release);
        ring.anchor_unix_ns.store(unix_ns, Ordering::Release);
        ring.anchor_seq.store(seq + 2, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(start: u64, frames: u64, ch: usize) -> Vec<f32> {
        (start * ch as u64..(start + frames) * ch as u64)
            .map(|v| v as f32)
            .collect()
    }

    #[test]
    fn reads_back_what_was_written_across_the_wrap() {
        let (mut w, r) = HistoryRing::new(2, 100, 10);
        for k in 0..25 {
            w.push(&ramp(k * 10, 10, 2));
        }
        assert_eq!(r.written(), 250);
        let mut out = vec![0.0; 2 * 50];
        r.read(180, &mut out).unwrap();
        assert_eq!(out, ramp(180, 50, 2));
        assert_eq!(r.read(100, &mut out), Err(ReadError::Overwritten));
        assert_eq!(r.read(230, &mut out), Err(ReadError::NotYet));
    }

    #[test]
    fn gaps_are_found_by_range() {
        let (mut w, r) = HistoryRing::new(1, 100, 10);
        w.push(&[0.0; 10]);
        w.mark_gap();
        w.push(&[0.0; 10]);
        assert_eq!(r.gaps_in(0, 10), 0);
        assert_eq!(r.gaps_in(0, 11), 1);
        assert_eq!(r.last_gap_at_or_before(15), Some(10));
        assert_eq!(r.last_gap_at_or_before(5), None);
        for _ in 0..100 {
            w.mark_gap();
        }
        assert!(
            r.gaps_in(0, 11) >= 1,
            "forgotten gaps must not read as none"
        );
    }

    #[test]
    fn anchor_maps_time_to_frames() {
        let (mut w, r) = HistoryRing::new(1, 100, 10);
        assert_eq!(r.frame_at(0, 48_000), None);
        w.set_anchor(48_000, 10_000_000_000);
        assert_eq!(r.frame_at(11_000_000_000, 48_000), Some(96_000));
        assert_eq!(r.frame_at(9_500_000_000, 48_000), Some(24_000));
        assert_eq!(r.time_of(96_000, 48_000), Some(11_000_000_000));
    }

    #[test]
    fn concurrent_reader_never_sees_torn_data_silently() {
        let (mut w, r) = HistoryRing::new(1, 64, 8);
        let reader = std::thread::spawn(move || {
            let mut out = vec![0.0f32; 8];
            let mut ok = 0;
            for _ in 0..20_000 {
                let w = r.written();
                if w < 16 {
                    continue;
                }
                if r.read(w - 16, &mut out).is_ok() {
                    // Frames hold their own frame number: a torn read would show.
                    for (i, v) in out.iter().enumerate() {
                        assert_eq!(*v as u64, w - 16 + i as u64);
                    }
                    ok += 1;
                }
            }
            ok
        });
        for k in 0..200_000u64 {
            w.push(&[k as f32]);
        }
        reader.join().unwrap();
    }
}
