//! What the live loop search holds for a long take, measured by counting
//! this test binary's allocations (one test, so nothing else allocates
//! alongside): a 3-minute stereo take is searched in a bounded stretch, in
//! about the memory a 10-second one takes, where reading it whole (as the
//! search once did, up to 60 s) would hold the whole take twice over.

use std::alloc::{GlobalAlloc, Layout, System};
use std::f64::consts::TAU;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use takebox::capture::live_loop;
use takebox::dsp::LoopSettings;
use takebox::protocol::SampleFormat;
use takebox::wav::{WavSpec, WavWriter};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RATE: u32 = 48_000;

/// A held stereo note, 24-bit: 80 ms attack, `hold` seconds, 400 ms
/// release; near A3 with harmonics, a 5 Hz vibrato, a little noise.
fn write_note(path: &Path, hold: f64) -> u64 {
    let total = 0.08 + hold + 0.4;
    let frames = (total * f64::from(RATE)) as u64;
    let spec = WavSpec {
        channels: 2,
        sample_rate: RATE,
        format: SampleFormat::S24,
    };
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = WavWriter::new(f, spec, frames, &[]).unwrap();
    let depth = 2f64.powf(10.0 / 1200.0) - 1.0;
    let mut seed = 18u64;
    let mut noise = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2e-4
    };
    let mut block = Vec::with_capacity(2 * 4096);
    for start in (0..frames).step_by(4096) {
        block.clear();
        for i in start..(start + 4096).min(frames) {
            let t = i as f64 / f64::from(RATE);
            let env = (t / 0.08).min(1.0) * ((total - t) / 0.4).clamp(0.0, 1.0);
            let p = TAU * 220.0 * (t - depth / (TAU * 5.0) * ((TAU * 5.0 * t).cos() - 1.0));
            let v = 0.3 * env * (0.6 * p.sin() + 0.25 * (2.0 * p).sin() + 0.1 * (3.0 * p).sin());
            block.push((v + noise()) as f32);
            block.push((0.8 * v + noise()) as f32);
        }
        w.write(&block).unwrap();
    }
    w.finish().unwrap();
    frames
}

/// The loop found in `path`, and the most the search held at once, bytes.
fn search(path: &Path) -> (takebox::dsp::SampleLoop, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let found = live_loop::find(path, Some(220.0), &LoopSettings::default()).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    (found.report.found.unwrap(), peak)
}

#[test]
fn a_three_minute_take_is_searched_in_the_memory_of_a_ten_second_one() {
    let dir = tempfile::tempdir().unwrap();
    let mb = |b: usize| b as f64 / 1e6;
    let short_path = dir.path().join("10s.wav");
    write_note(&short_path, 10.0);
    let long_path = dir.path().join("3min.wav");
    let frames = write_note(&long_path, 180.0);
    let (short, short_peak) = search(&short_path);
    let (long, long_peak) = search(&long_path);
    // The samples of the whole take as f32, which the old search read whole.
    let whole = frames as usize * 2 * 4;
    println!(
        "live loop search, stereo 48 kHz: 10 s take {:.1} MB, 3 min take {:.1} MB at most \
         (the 3 min take whole is {:.1} MB of samples); seams {:.1} and {:.1} dB",
        mb(short_peak),
        mb(long_peak),
        mb(whole),
        short.seam_db,
        long.seam_db
    );
    assert!(
        short.seam_db < -30.0 && long.seam_db < -30.0,
        "{short:?} {long:?}"
    );
    // The stretch read: 12 s of samples and the search's running energy
    // (a double a frame), with room for the rest.
    let stretch = (live_loop::SEARCH_SECONDS * f64::from(RATE)) as usize * (2 * 4 + 8);
    assert!(long_peak < stretch * 3 / 2, "{} MB", mb(long_peak));
    assert!(long_peak < whole / 4, "{} MB", mb(long_peak));
}
