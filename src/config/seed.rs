//! The seed's sections of `config.json`, as users bring them: file naming,
//! storage management, post-processing, logging, session settings.

use super::Problems;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileNaming {
    pub include_session_id: bool,
    pub include_user_initials: bool,
}

impl Default for FileNaming {
    fn default() -> Self {
        FileNaming {
            include_session_id: true,
            include_user_initials: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageManagement {
    pub auto_cleanup: bool,
    pub max_age_days: u32,
    /// How often takebox-control looks for old sessions (with `auto_cleanup`).
    pub cleanup_interval_minutes: f64,
    /// Keep a session until the catalog import has seen its whole log.
    pub require_imported: bool,
    /// Below this much free space on the share the board arms no take.
    pub min_free_gb: f64,
}

impl Default for StorageManagement {
    fn default() -> Self {
        StorageManagement {
            auto_cleanup: true,
            max_age_days: 30,
            cleanup_interval_minutes: 60.0,
            require_imported: false,
            min_free_gb: 2.0,
        }
    }
}

/// How a take is normalized when `normalize_audio` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeTo {
    /// Sample peak to `peak_target_dbfs`.
    #[default]
    Peak,
    /// True peak (4x oversampled) to `peak_target_dbfs`.
    TruePeak,
    /// Integrated loudness to `loudness_target_lufs`, never over the peak target.
    Loudness,
}

/// Which takes `normalize_audio` brings to its target one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormalizePer {
    /// Takes of a layered session (a take with a dynamic or a round robin)
    /// keep their recorded level, so pp stays softer than ff by what was
    /// played; a single take is normalized.
    #[default]
    Auto,
    /// Every take on its own (pp as loud as ff): the seed's behaviour.
    Take,
}

impl NormalizePer {
    fn is_auto(&self) -> bool {
        *self == NormalizePer::Auto
    }
}

/// The seed's `post_processing` (`normalize_audio`) and takebox's options beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostProcessing {
    /// Per take, except layered takes under `normalize_per: auto` (the
    /// default); `takebox process --normalize group` then gives the whole
    /// session one gain.
    pub normalize_audio: bool,
    pub normalize_to: NormalizeTo,
    /// Absent from the seed's file: `auto`. Written only when set otherwise.
    #[serde(skip_serializing_if = "NormalizePer::is_auto")]
    pub normalize_per: NormalizePer,
    pub peak_target_dbfs: f64,
    pub loudness_target_lufs: f64,
    /// Cut leading and trailing silence (the pre-roll is measured first).
    pub trim_silence: bool,
    /// Fixed trim threshold; ignored when `trim_from_noise_floor` is set.
    pub trim_threshold_dbfs: f64,
    /// Threshold = the pre-roll's noise peak plus `trim_noise_margin_db`.
    pub trim_from_noise_floor: bool,
    pub trim_noise_margin_db: f64,
    /// Kept before the onset so no attack is cut.
    pub trim_pad_ms: f64,
    pub fade_in_ms: f64,
    pub fade_out_ms: f64,
    pub remove_dc: bool,
    /// Check limits: pitch deviation, signal-to-noise, clipping ceiling.
    pub max_cents: f64,
    pub min_snr_db: f64,
    pub clip_ceiling_dbfs: f64,
}

impl Default for PostProcessing {
    fn default() -> Self {
        PostProcessing {
            normalize_audio: true,
            normalize_to: NormalizeTo::Peak,
            normalize_per: NormalizePer::Auto,
            peak_target_dbfs: -1.0,
            loudness_target_lufs: -23.0,
            trim_silence: true,
            trim_threshold_dbfs: -60.0,
            trim_from_noise_floor: false,
            trim_noise_margin_db: 12.0,
            trim_pad_ms: 10.0,
            fade_in_ms: 1.0,
            fade_out_ms: 10.0,
            remove_dc: false,
            max_cents: 15.0,
            min_snr_db: 40.0,
            clip_ceiling_dbfs: -0.1,
        }
    }
}

impl PostProcessing {
    /// The limits these settings put on a take, the check's defaults for the
    /// rest: what the recorder checks a take by and the board judges it by.
    pub fn check_settings(&self) -> crate::dsp::CheckSettings {
        crate::dsp::CheckSettings {
            clip_ceiling_dbfs: self.clip_ceiling_dbfs,
            max_cents: self.max_cents,
            min_snr_db: self.min_snr_db,
            ..crate::dsp::CheckSettings::default()
        }
    }

    /// Whether a take gets its own gain: `layered` is a take with a dynamic
    /// or a round robin, whose level against its siblings is the point.
    pub fn normalizes_take(&self, layered: bool) -> bool {
        self.normalize_audio && (self.normalize_per == NormalizePer::Take || !layered)
    }

    pub(super) fn check(&self, p: &mut Problems) {
        for (field, v, lo, hi) in [
            ("peak_target_dbfs", self.peak_target_dbfs, -60.0, 0.0),
            (
                "loudness_target_lufs",
                self.loudness_target_lufs,
                -70.0,
                0.0,
            ),
            ("trim_threshold_dbfs", self.trim_threshold_dbfs, -140.0, 0.0),
            ("trim_noise_margin_db", self.trim_noise_margin_db, 0.0, 60.0),
            ("trim_pad_ms", self.trim_pad_ms, 0.0, 1000.0),
            ("fade_in_ms", self.fade_in_ms, 0.0, 1000.0),
            ("fade_out_ms", self.fade_out_ms, 0.0, 5000.0),
            ("max_cents", self.max_cents, 0.0, 100.0),
            ("min_snr_db", self.min_snr_db, 0.0, 140.0),
            ("clip_ceiling_dbfs", self.clip_ceiling_dbfs, -20.0, 0.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                p.add(
                    &format!("post_processing.{field}"),
                    format!("expected {lo} to {hi}, got {v}"),
                );
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    pub log_directory: PathBuf,
    pub log_to_file: bool,
    pub log_level: LogLevel,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            log_directory: PathBuf::from("logs"),
            log_to_file: true,
            log_level: LogLevel::Info,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub default_instrument: String,
    pub default_note: String,
    /// Pitch of A4 in Hz, the tuning reference for every note.
    pub default_frequency: f64,
    pub default_articulation: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            default_instrument: "guitar".into(),
            default_note: "A4".into(),
            default_frequency: 440.0,
            default_articulation: "long".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_takes_are_normalized_only_when_asked_per_take() {
        let seed: PostProcessing =
            serde_json::from_str(r#"{"normalize_audio": true, "peak_target_dbfs": -1.0}"#).unwrap();
        assert_eq!(seed.normalize_per, NormalizePer::Auto);
        assert!(seed.normalizes_take(false));
        assert!(!seed.normalizes_take(true));
        let per_take: PostProcessing =
            serde_json::from_str(r#"{"normalize_audio": true, "normalize_per": "take"}"#).unwrap();
        assert!(per_take.normalizes_take(true));
        let off = PostProcessing {
            normalize_audio: false,
            ..per_take
        };
        assert!(!off.normalizes_take(false) && !off.normalizes_take(true));
        // Auto is the default and is not written out, so logs and saved files keep their shape.
        assert!(
            !serde_json::to_string(&seed)
                .unwrap()
                .contains("normalize_per")
        );
    }
}
