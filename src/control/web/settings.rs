//! The Settings form: the seed's settings in config.json, edited in place and
//! saved atomically (only the fields that changed, the rest of the file as it
//! was: [`Config::save_changes`]). Every field is bounded by the same
//! [`Config::problems`] that `--check` uses; every error is shown beside its
//! field at once, and the first invalid field gets `autofocus`.
//!
//! The form's fields are one table, [`FIELDS`]: each names how its value is
//! shown and how the submitted text goes back into the config.

use super::form::Form;
use super::views::{CheckField, Choice, InputField, SelectField, SettingsView};
use crate::config::{Config, Instruments};
use crate::protocol::FieldError;
use std::path::Path;

const ADD: &str = "add_articulation";

/// One field of the form, in page order within its kind.
struct Field {
    name: &'static str,
    label: &'static str,
    kind: Kind,
}

enum Kind {
    /// A number; `expected` says what a good one is when the text does not parse.
    Number {
        expected: &'static str,
        show: fn(&Config) -> String,
        /// False when the text is not a number (the config keeps its value).
        parse: fn(&mut Config, &str) -> bool,
    },
    Text {
        show: fn(&Config) -> String,
        set: fn(&mut Config, &str),
    },
    /// One of a list: the instruments, or the articulations.
    Select {
        show: fn(&Config) -> String,
        /// False when the text is none of the options (the config keeps its value).
        set: fn(&mut Config, &str) -> bool,
        options: fn(&Config, &Instruments) -> Vec<String>,
    },
    Check {
        show: fn(&Config) -> bool,
        set: fn(&mut Config, bool),
    },
    /// Where the articulations' durations and the "add" field stand on the page.
    Articulations,
}

/// Parse `text` (trimmed) into `slot`; false (and `slot` kept) when it does not parse.
fn parse_into<T: std::str::FromStr>(slot: &mut T, text: &str) -> bool {
    text.trim().parse().map(|v| *slot = v).is_ok()
}

const FIELDS: &[Field] = &[
    Field {
        name: "countdown_duration",
        label: "Countdown (seconds)",
        kind: Kind::Number {
            expected: "a number of seconds",
            show: |c| c.countdown_duration.to_string(),
            parse: |c, t| parse_into(&mut c.countdown_duration, t),
        },
    },
    Field {
        name: "articulation_durations",
        label: "",
        kind: Kind::Articulations,
    },
    Field {
        name: "session_settings.default_note",
        label: "Default note",
        kind: Kind::Text {
            show: |c| c.session_settings.default_note.clone(),
            set: |c, t| c.session_settings.default_note = t.trim().to_string(),
        },
    },
    Field {
        name: "session_settings.default_frequency",
        label: "Pitch of A4 (Hz)",
        kind: Kind::Number {
            expected: "a frequency in Hz",
            show: |c| c.session_settings.default_frequency.to_string(),
            parse: |c, t| parse_into(&mut c.session_settings.default_frequency, t),
        },
    },
    Field {
        name: "post_processing.peak_target_dbfs",
        label: "Normalize to peak (dBFS)",
        kind: Kind::Number {
            expected: "a level in dBFS",
            show: |c| c.post_processing.peak_target_dbfs.to_string(),
            parse: |c, t| parse_into(&mut c.post_processing.peak_target_dbfs, t),
        },
    },
    Field {
        name: "storage_management.max_age_days",
        label: "Keep recordings for (days)",
        kind: Kind::Number {
            expected: "a whole number of days",
            show: |c| c.storage_management.max_age_days.to_string(),
            parse: |c, t| parse_into(&mut c.storage_management.max_age_days, t),
        },
    },
    Field {
        name: "storage_management.min_free_gb",
        label: "Arm no take with less free on the share than (GB)",
        kind: Kind::Number {
            expected: "a number of GB",
            show: |c| c.storage_management.min_free_gb.to_string(),
            parse: |c, t| parse_into(&mut c.storage_management.min_free_gb, t),
        },
    },
    Field {
        name: "session_settings.default_instrument",
        label: "Default instrument",
        kind: Kind::Select {
            show: |c| c.session_settings.default_instrument.clone(),
            set: |c, t| {
                c.session_settings.default_instrument = t.to_string();
                true
            },
            options: |_, i| i.instruments.iter().map(|i| i.name.clone()).collect(),
        },
    },
    Field {
        name: "session_settings.default_articulation",
        label: "Default articulation",
        kind: Kind::Select {
            show: |c| c.session_settings.default_articulation.clone(),
            set: |c, t| {
                c.session_settings.default_articulation = t.to_string();
                true
            },
            options: |c, _| c.articulation_durations.keys().cloned().collect(),
        },
    },
    Field {
        name: "control.on_warning",
        label: "After a take with a warning (silent, off pitch, clipped, noisy)",
        kind: Kind::Select {
            show: |c| c.control.on_warning.name().to_string(),
            set: |c, t| {
                crate::config::OnWarning::parse(t.trim())
                    .map(|w| c.control.on_warning = w)
                    .is_some()
            },
            options: |_, _| {
                crate::config::OnWarning::ALL
                    .iter()
                    .map(|w| w.name().to_string())
                    .collect()
            },
        },
    },
    Field {
        name: "control.unattended.retakes",
        label: "Unattended sessions: record a flagged take again up to (times)",
        kind: Kind::Number {
            expected: "a whole number of retakes",
            show: |c| c.control.unattended.retakes.to_string(),
            parse: |c, t| parse_into(&mut c.control.unattended.retakes, t),
        },
    },
    Field {
        name: "control.unattended.onset_tolerance_ms",
        label: "Unattended sessions: retake a MIDI note sounding further from its start than (ms)",
        kind: Kind::Number {
            expected: "a number of milliseconds",
            show: |c| c.control.unattended.onset_tolerance_ms.to_string(),
            parse: |c, t| parse_into(&mut c.control.unattended.onset_tolerance_ms, t),
        },
    },
    Field {
        name: "file_naming.include_session_id",
        label: "Session id in file names",
        kind: Kind::Check {
            show: |c| c.file_naming.include_session_id,
            set: |c, on| c.file_naming.include_session_id = on,
        },
    },
    Field {
        name: "file_naming.include_user_initials",
        label: "Initials in file names",
        kind: Kind::Check {
            show: |c| c.file_naming.include_user_initials,
            set: |c, on| c.file_naming.include_user_initials = on,
        },
    },
    Field {
        name: "post_processing.normalize_audio",
        label: "Normalize audio after recording",
        kind: Kind::Check {
            show: |c| c.post_processing.normalize_audio,
            set: |c, on| c.post_processing.normalize_audio = on,
        },
    },
    Field {
        name: "storage_management.auto_cleanup",
        label: "Delete old recordings automatically",
        kind: Kind::Check {
            show: |c| c.storage_management.auto_cleanup,
            set: |c, on| c.storage_management.auto_cleanup = on,
        },
    },
];

/// The form for `config`; with `form`, the values as submitted (after an error).
pub fn view(
    config: &Config,
    instruments: &Instruments,
    form: Option<&Form>,
    errors: &[FieldError],
) -> SettingsView {
    let value = |name: &str, current: String| {
        form.and_then(|f| f.get(name))
            .map(str::to_string)
            .unwrap_or(current)
    };
    let mut v = SettingsView::default();
    for field in FIELDS {
        let name = field.name.to_string();
        let label = field.label.to_string();
        match &field.kind {
            Kind::Number { show, .. } | Kind::Text { show, .. } => v.fields.push(InputField {
                value: value(field.name, show(config)),
                number: matches!(field.kind, Kind::Number { .. }),
                name,
                label,
                ..Default::default()
            }),
            Kind::Select { show, options, .. } => {
                let selected = value(field.name, show(config));
                v.selects.push(SelectField {
                    name,
                    label,
                    options: choices(options(config, instruments), &selected),
                    ..Default::default()
                })
            }
            Kind::Check { show, .. } => v.checks.push(CheckField {
                checked: form
                    .map(|f| f.checked(field.name))
                    .unwrap_or_else(|| show(config)),
                name,
                label,
                ..Default::default()
            }),
            Kind::Articulations => v.fields.extend(articulation_fields(config, &value)),
        }
    }
    attach_errors(&mut v, errors);
    v
}

fn choices(names: Vec<String>, selected: &str) -> Vec<Choice> {
    names
        .into_iter()
        .map(|n| Choice {
            selected: n == selected,
            label: n.clone(),
            name: n,
        })
        .collect()
}

/// A field per articulation's duration, then the field that adds one.
fn articulation_fields(config: &Config, value: &dyn Fn(&str, String) -> String) -> Vec<InputField> {
    let mut fields: Vec<InputField> = config
        .articulation_durations
        .iter()
        .map(|(name, secs)| {
            let field = format!("articulation_durations.{name}");
            InputField {
                label: format!("Duration of {name} (seconds; empty removes it)"),
                value: value(&field, secs.to_string()),
                name: field,
                number: true,
                ..Default::default()
            }
        })
        .collect();
    fields.push(InputField {
        name: ADD.into(),
        label: "Add an articulation (name and seconds, e.g. \"legato 1.5\")".into(),
        value: value(ADD, String::new()),
        ..Default::default()
    });
    fields
}

/// Each error beside its field (or above the form when it belongs to none), the
/// first invalid field, in page order, focused (and scrolled to, without
/// JavaScript), and the summary.
fn attach_errors(v: &mut SettingsView, errors: &[FieldError]) {
    for FieldError { field, message } in errors {
        let message = message.clone();
        if let Some(f) = v.fields.iter_mut().find(|f| &f.name == field) {
            f.error = message;
        } else if let Some(s) = v.selects.iter_mut().find(|s| &s.name == field) {
            s.error = message;
        } else if let Some(c) = v.checks.iter_mut().find(|c| &c.name == field) {
            c.error = message;
        } else if field.is_empty() {
            v.errors.push(message);
        } else {
            v.errors.push(format!("{field}: {message}"));
        }
    }
    if let Some(f) = v.fields.iter_mut().find(|f| !f.error.is_empty()) {
        f.autofocus = true;
    } else if let Some(s) = v.selects.iter_mut().find(|s| !s.error.is_empty()) {
        s.autofocus = true;
    } else if let Some(c) = v.checks.iter_mut().find(|c| !c.error.is_empty()) {
        c.autofocus = true;
    }
    v.summary = match errors.len() {
        0 => String::new(),
        1 => "Not saved: 1 value needs a change.".into(),
        n => format!("Not saved: {n} values need a change."),
    };
}

/// A config error's message alone: the page shows it beside its field.
fn message(e: &crate::config::ConfigError) -> String {
    use crate::config::ConfigError;
    match e {
        ConfigError::Parse { message, .. } | ConfigError::Invalid { message, .. } => {
            message.clone()
        }
        other => other.to_string(),
    }
}

/// The config with the form's values, checked by [`Config::problems`] (the
/// bounds `--check` applies); on error, every problem, each named by its form
/// field.
pub fn apply(
    raw: &Config,
    form: &Form,
    file: &Path,
    instruments: &Instruments,
) -> Result<Config, Vec<FieldError>> {
    let mut errs: Vec<FieldError> = Vec::new();
    let mut c = raw.clone();
    let mut added = None;
    for field in FIELDS {
        if let Kind::Articulations = field.kind {
            added = apply_articulations(raw, &mut c, form, &mut errs);
        } else if let Err(e) = apply_field(field, &mut c, form) {
            errs.push(e);
        }
    }
    for e in c.problems(file) {
        let mut field = e.field().unwrap_or("").to_string();
        if added.as_deref() == Some(field.as_str()) {
            field = ADD.to_string();
        }
        // A field that did not parse kept its old value: its error is said.
        if !errs.iter().any(|e| e.field == field) {
            errs.push(FieldError {
                field,
                message: message(&e),
            });
        }
    }
    if instruments
        .get(&c.session_settings.default_instrument)
        .is_none()
    {
        errs.push(FieldError::new(
            "session_settings.default_instrument",
            "not an instrument of instruments.json",
        ));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    instruments.validate(file, &c).map_err(|e| {
        vec![FieldError::new(
            "",
            format!("instruments.json would no longer load: {e}"),
        )]
    })?;
    Ok(c)
}

/// One field's submitted value into `c`; a field the form does not have keeps
/// its value. The error is the message shown beside the field.
fn apply_field(field: &Field, c: &mut Config, form: &Form) -> Result<(), FieldError> {
    let error = |message: String| Err(FieldError::new(field.name, message));
    match &field.kind {
        Kind::Number {
            expected, parse, ..
        } => match form.get(field.name) {
            Some(text) if !parse(c, text) => error(format!("expected {expected}, got {text:?}")),
            _ => Ok(()),
        },
        Kind::Text { set, .. } => {
            if let Some(text) = form.get(field.name) {
                set(c, text);
            }
            Ok(())
        }
        Kind::Select { set, .. } => match form.get(field.name) {
            Some(text) if !set(c, text) => error(format!("not one of the choices: {text:?}")),
            _ => Ok(()),
        },
        Kind::Check { set, .. } => {
            // The form sends a hidden "0", then "1" when the box is ticked.
            let values = form.all(field.name);
            if let Some(bad) = values.iter().find(|v| !matches!(v.as_str(), "0" | "1")) {
                return error(format!("expected 0 (off) or 1 (on), got {bad:?}"));
            }
            if let Some(last) = values.last() {
                set(c, last == "1");
            }
            Ok(())
        }
        Kind::Articulations => Ok(()),
    }
}

/// The articulations' durations (empty removes one) and the one added, into
/// `c`; returns the added one's config field, which its problems are said under.
fn apply_articulations(
    raw: &Config,
    c: &mut Config,
    form: &Form,
    errs: &mut Vec<FieldError>,
) -> Option<String> {
    let names: Vec<String> = c.articulation_durations.keys().cloned().collect();
    for name in names {
        let field = format!("articulation_durations.{name}");
        match form.get(&field) {
            Some(text) if text.trim().is_empty() => {
                c.articulation_durations.remove(&name);
            }
            Some(text) => {
                if let Some(secs) = c.articulation_durations.get_mut(&name)
                    && !parse_into(secs, text)
                {
                    errs.push(FieldError {
                        field,
                        message: format!("expected a number of seconds, got {text:?}"),
                    });
                }
            }
            None => {}
        }
    }
    let add = form.text(ADD);
    if add.is_empty() {
        return None;
    }
    match new_articulation(raw, &add) {
        Ok((name, secs)) => {
            c.articulation_durations.insert(name.clone(), secs);
            Some(format!("articulation_durations.{name}"))
        }
        Err(e) => {
            errs.push(e);
            None
        }
    }
}

/// "legato 1.5": a name not yet listed and its seconds.
fn new_articulation(raw: &Config, add: &str) -> Result<(String, f64), FieldError> {
    let error = |message: String| Err(FieldError::new(ADD, message));
    let Some((name, secs)) = add.rsplit_once(' ') else {
        return error("expected a name and seconds, e.g. \"legato 1.5\"".to_string());
    };
    let name = name.trim().to_string();
    let Ok(secs) = secs.parse::<f64>() else {
        return error(format!("expected seconds after the name, got {secs:?}"));
    };
    if raw.articulation_durations.contains_key(&name) {
        return error(format!(
            "{name:?} is already listed: change its duration above"
        ));
    }
    crate::protocol::check_name(ADD, &name)?;
    Ok((name, secs))
}

/// Config errors (from saving) as form errors.
pub fn field_errors(errors: &[crate::config::ConfigError]) -> Vec<FieldError> {
    errors
        .iter()
        .map(|e| match e.field() {
            Some(f) if !f.is_empty() => FieldError::new(f, message(e)),
            _ => FieldError::new("", e.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_json;

    fn setup() -> (Config, Instruments) {
        let inst: Instruments = parse_json(
            Path::new("instruments.json"),
            r#"{"instruments":[{"name":"guitar","type":"string",
            "range":{"lowest_note":"E2","highest_note":"E6"},"default_articulations":["long"]}]}"#,
        )
        .unwrap();
        (Config::default(), inst)
    }

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn good_values_apply() {
        let (c, i) = setup();
        let f = form(
            "countdown_duration=3&articulation_durations.short=&add_articulation=legato+1.5&file_naming.include_user_initials=0&file_naming.include_user_initials=1&session_settings.default_note=C4",
        );
        let n = apply(&c, &f, Path::new("c.json"), &i).unwrap();
        assert_eq!(n.countdown_duration, 3.0);
        assert!(!n.articulation_durations.contains_key("short"));
        assert_eq!(n.articulation_durations["legato"], 1.5);
        assert!(n.file_naming.include_user_initials);
        assert_eq!(n.session_settings.default_note, "C4");
        let n = apply(
            &c,
            &form("storage_management.min_free_gb=5.5"),
            Path::new("c.json"),
            &i,
        )
        .unwrap();
        assert_eq!(n.storage_management.min_free_gb, 5.5);
    }

    #[test]
    fn unattended_retakes_and_onset_tolerance_are_bounded_like_the_check() {
        let (c, i) = setup();
        let p = Path::new("c.json");
        let n = apply(
            &c,
            &form("control.unattended.retakes=4&control.unattended.onset_tolerance_ms=7.5"),
            p,
            &i,
        )
        .unwrap();
        assert_eq!(n.control.unattended.retakes, 4);
        assert_eq!(n.control.unattended.onset_tolerance_ms, 7.5);
        let errs = apply(
            &c,
            &form("control.unattended.retakes=11&control.unattended.onset_tolerance_ms=-1"),
            p,
            &i,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "control.unattended.retakes",
                "control.unattended.onset_tolerance_ms"
            ],
            "{errs:?}"
        );
        assert!(errs[0].message.contains("0 to 10"), "{errs:?}");
        let errs = apply(&c, &form("control.unattended.retakes=two"), p, &i).unwrap_err();
        assert!(
            errs[0].message.contains("whole number of retakes"),
            "{errs:?}"
        );
        let v = view(&n, &i, None, &[]);
        let shown = |name: &str| {
            v.fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.value.clone())
        };
        assert_eq!(shown("control.unattended.retakes").as_deref(), Some("4"));
        assert_eq!(
            shown("control.unattended.onset_tolerance_ms").as_deref(),
            Some("7.5")
        );
    }

    #[test]
    fn on_warning_is_one_of_its_choices() {
        let (c, i) = setup();
        let p = Path::new("c.json");
        assert_eq!(c.control.on_warning, crate::config::OnWarning::Pause);
        let n = apply(&c, &form("control.on_warning=retake"), p, &i).unwrap();
        assert_eq!(n.control.on_warning, crate::config::OnWarning::Retake);
        let errs = apply(&c, &form("control.on_warning=later"), p, &i).unwrap_err();
        assert_eq!(errs[0].field, "control.on_warning");
        assert!(errs[0].message.contains("\"later\""), "{errs:?}");
        let v = view(&c, &i, None, &[]);
        let select = v
            .selects
            .iter()
            .find(|s| s.name == "control.on_warning")
            .unwrap();
        let names: Vec<&str> = select.options.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["retake", "pause", "continue"]);
        assert!(select.options[1].selected);
    }

    #[test]
    fn errors_name_the_form_field() {
        let (c, i) = setup();
        let p = Path::new("c.json");
        let field = |s: &str| apply(&c, &form(s), p, &i).unwrap_err()[0].field.clone();
        assert_eq!(field("countdown_duration=soon"), "countdown_duration");
        assert_eq!(field("countdown_duration=-1"), "countdown_duration");
        assert_eq!(
            field("articulation_durations.long=0"),
            "articulation_durations.long"
        );
        assert_eq!(
            field("session_settings.default_note=H9"),
            "session_settings.default_note"
        );
        assert_eq!(field("add_articulation=x"), "add_articulation");
        assert_eq!(
            field("storage_management.min_free_gb=-1"),
            "storage_management.min_free_gb"
        );
        assert_eq!(
            field("session_settings.default_instrument=oboe"),
            "session_settings.default_instrument"
        );
        // Removing an articulation an instrument needs is refused as a whole.
        assert_eq!(
            field("articulation_durations.long="),
            "session_settings.default_articulation"
        );
        let v = view(
            &c,
            &i,
            Some(&form("countdown_duration=-1")),
            &[FieldError::new("countdown_duration", "bad")],
        );
        assert_eq!(v.fields[0].value, "-1");
        assert_eq!(v.fields[0].error, "bad");
        assert!(v.fields[0].autofocus);
    }

    #[test]
    fn every_error_is_reported_and_the_first_field_takes_the_focus() {
        let (c, i) = setup();
        let p = Path::new("c.json");
        let f = form(
            "countdown_duration=0&add_articulation=legato+1e9&storage_management.min_free_gb=1e300\
             &file_naming.include_user_initials=0&file_naming.include_user_initials=maybe\
             &session_settings.default_frequency=loud",
        );
        let errs = apply(&c, &f, p, &i).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for want in [
            "countdown_duration",
            "add_articulation",
            "storage_management.min_free_gb",
            "file_naming.include_user_initials",
            "session_settings.default_frequency",
        ] {
            assert!(fields.contains(&want), "{want} missing from {errs:?}");
        }
        assert_eq!(fields.len(), 5, "{errs:?}");
        let v = view(&c, &i, Some(&f), &errs);
        let with_error: Vec<&str> = v
            .fields
            .iter()
            .filter(|f| !f.error.is_empty())
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(with_error.len(), 4, "{with_error:?}");
        assert!(v.checks.iter().any(|c| c.error.contains("\"maybe\"")));
        let focused: Vec<&str> = v
            .fields
            .iter()
            .filter(|f| f.autofocus)
            .map(|f| f.name.as_str())
            .chain(
                v.checks
                    .iter()
                    .filter(|c| c.autofocus)
                    .map(|c| c.name.as_str()),
            )
            .collect();
        assert_eq!(focused, ["countdown_duration"]);
        assert!(v.summary.contains("5 values"), "{}", v.summary);
        // The values the form sends are taken; a checkbox left out keeps its value.
        let n = apply(&c, &form("file_naming.include_session_id=0"), p, &i).unwrap();
        assert!(!n.file_naming.include_session_id);
        let n = apply(&c, &form("countdown_duration=0.5"), p, &i).unwrap();
        assert!(n.file_naming.include_session_id);
    }

    #[test]
    fn each_checkbox_sets_its_own_setting_and_no_other() {
        let (c, i) = setup();
        let p = Path::new("c.json");
        let json = |c: &Config| serde_json::to_value(c).unwrap();
        for field in FIELDS {
            let Kind::Check { show, set } = field.kind else {
                continue;
            };
            let before = show(&c);
            let f = form(&format!("{}={}", field.name, u8::from(!before)));
            let mut n = apply(&c, &f, p, &i).unwrap();
            assert_eq!(show(&n), !before, "{}", field.name);
            set(&mut n, before);
            assert_eq!(json(&n), json(&c), "{} changed another setting", field.name);
        }
        // A name the form does not have changes nothing.
        let n = apply(&c, &form("post_processing.trim_silence=0"), p, &i).unwrap();
        assert_eq!(json(&n), json(&c));
    }
}
