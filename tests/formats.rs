//! Bit-exact capture: alsa-lib's `file` PCM feeds known samples (unpaced, so
//! the daemon keeps pace itself) and every WAV format reads back exactly.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const RATE: usize = 48_000;
const SECONDS: usize = 5;

/// Known samples, one per (frame, channel), as raw bytes in the device format
/// and as the values the WAV must hold.
enum Source {
    Int { bytes: Vec<u8>, values: Vec<i32> },
    Float { bytes: Vec<u8>, values: Vec<f32> },
}

fn lcg(state: &mut u64) -> u32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 32) as u32
}

fn source(format: &str, channels: usize) -> Source {
    let n = RATE * SECONDS * channels;
    let mut seed = 0x7a6b_u64;
    match format {
        "s16" => {
            let values: Vec<i32> = (0..n)
                .map(|_| (lcg(&mut seed) >> 16) as i16 as i32)
                .collect();
            let bytes = values
                .iter()
                .flat_map(|&v| (v as i16).to_le_bytes())
                .collect();
            Source::Int { bytes, values }
        }
        "s24" => {
            let values: Vec<i32> = (0..n).map(|_| (lcg(&mut seed) as i32) >> 8).collect();
            let bytes = values
                .iter()
                .flat_map(|&v| v.to_le_bytes()[..3].to_vec())
                .collect();
            Source::Int { bytes, values }
        }
        _ => {
            // Full-mantissa floats, some beyond full scale: float WAVs must not clamp.
            let values: Vec<f32> = (0..n)
                .map(|_| {
                    let r = lcg(&mut seed);
                    f32::from_bits(
                        (r & 0x8000_0000)
                            | ((100 + (r >> 24) % 28) << 23)
                            | (lcg(&mut seed) & 0x7f_ffff),
                    )
                })
                .collect();
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Source::Float { bytes, values }
        }
    }
}

/// Where `take` starts inside `src` (compared frame by frame), if it is there at all.
fn find<T: PartialEq>(src: &[T], take: &[T], channels: usize) -> Option<usize> {
    let probe = 8 * channels;
    (0..src.len().saturating_sub(take.len()) / channels)
        .map(|f| f * channels)
        .find(|&k| src[k..k + probe] == take[..probe])
}

fn capture_from_file(format: &str, channels: usize) {
    let ws = Workspace::new();
    ws.mount_share();
    let src = source(format, channels);
    let raw = ws.dir.path().join("input.raw");
    let bytes = match &src {
        Source::Int { bytes, .. } | Source::Float { bytes, .. } => bytes,
    };
    std::fs::write(&raw, bytes).unwrap();
    let conf = ws.dir.path().join("asound-test.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.fromfile {{\n type file\n slave.pcm \"null\"\n file \"/dev/null\"\n infile \"{}\"\n format \"raw\"\n}}\n",
            raw.display()
        ),
    )
    .unwrap();
    ws.write_config(
        json!({"post_processing": {"trim_silence": false, "normalize_audio": false}, "capture": {
            "device": "fromfile", "pace": true, "sample_format": format, "channels": channels,
            "pre_roll_seconds": 0.25, "release_tail_seconds": 0.1
        }}),
    );
    let env = vec![(
        "ALSA_CONFIG_PATH".to_string(),
        format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
    )];
    let config = ws.config_path().display().to_string();
    let d = Daemon::spawn(
        env!("CARGO_BIN_EXE_takebox-capture"),
        &["--config", &config],
        &env,
    );
    wait_for("the file device to run", Duration::from_secs(30), || {
        let (_, s) = d.get("/v1/status");
        (s["state"] == "running" && s["frames_captured"].as_u64() > Some(RATE as u64 / 2))
            .then_some(())
    });
    let (code, c) = d.post(
        "/v1/takes",
        &take_cmd(&format!("fmt-{format}"), json!({"duration": 0.5})),
    );
    assert_eq!((code, c["state"].as_str()), (200, Some("delivered")), "{c}");
    assert_eq!(c["format"], format);
    assert_eq!(c["channels"], channels);
    let path = ws.share().join(c["path"].as_str().unwrap());
    let mut r = hound::WavReader::open(&path).unwrap();
    let spec = r.spec();
    assert_eq!(usize::from(spec.channels), channels);
    assert_eq!(spec.sample_rate as usize, RATE);
    let frames = c["frames"].as_u64().unwrap() as usize;
    assert_eq!(r.len() as usize, frames * channels);
    match src {
        Source::Int { values, .. } => {
            assert_eq!(spec.sample_format, hound::SampleFormat::Int);
            assert_eq!(spec.bits_per_sample, if format == "s16" { 16 } else { 24 });
            let got: Vec<i32> = r.samples::<i32>().map(Result::unwrap).collect();
            let at = find(&values, &got, channels).expect("the take is a run of the source");
            assert_eq!(
                &values[at..at + got.len()],
                &got[..],
                "{format}: samples differ"
            );
        }
        Source::Float { values, .. } => {
            assert_eq!(
                (spec.sample_format, spec.bits_per_sample),
                (hound::SampleFormat::Float, 32)
            );
            let got: Vec<u32> = r.samples::<f32>().map(|s| s.unwrap().to_bits()).collect();
            let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
            let at = find(&want, &got, channels).expect("the take is a run of the source");
            assert_eq!(&want[at..at + got.len()], &got[..], "f32: samples differ");
        }
    }
}

#[test]
fn s16_mono_is_bit_exact() {
    capture_from_file("s16", 1);
}

#[test]
fn s24_stereo_is_bit_exact() {
    capture_from_file("s24", 2);
}

#[test]
fn f32_four_channels_is_bit_exact() {
    capture_from_file("f32", 4);
}
