//! The Settings form: the seed's settings in config.json, edited in place and
//! saved atomically (only the fields that changed, the rest of the file as it
//! was: [`Config::save_changes`]). Every field is bounded by the same
//! [`Config::problems`] that `--check` uses; every error is shown beside its
//! field at once, and the first invalid field gets `autofocus`.

use super::form::Form;
use super::views::{CheckField, Choice, InputField, SelectField, SettingsView};
use crate::config::{Config, Instruments};
use std::path::Path;

const ADD: &str = "add_articulation";

const CHECKS: [(&str, &str); 4] = [
    ("file_naming.include_session_id", "Session id in file names"),
    (
        "file_naming.include_user_initials",
        "Initials in file names",
    ),
    (
        "post_processing.normalize_audio",
        "Normalize audio after recording",
    ),
    (
        "storage_management.auto_cleanup",
        "Delete old recordings automatically",
    ),
];

fn check_value(c: &Config, name: &str) -> bool {
    match name {
        "file_naming.include_session_id" => c.file_naming.include_session_id,
        "file_naming.include_user_initials" => c.file_naming.include_user_initials,
        "post_processing.normalize_audio" => c.post_processing.normalize_audio,
        "post_processing.trim_silence" => c.post_processing.trim_silence,
        _ => c.storage_management.auto_cleanup,
    }
}

/// The form for `config`; with `form`, the values as submitted (after an error).
pub fn view(
    config: &Config,
    instruments: &Instruments,
    form: Option<&Form>,
    errors: &[FieldErr],
) -> SettingsView {
    let value = |name: &str, current: String| {
        form.and_then(|f| f.get(name))
            .map(str::to_string)
            .unwrap_or(current)
    };
    let mut fields = vec![InputField {
        name: "countdown_duration".into(),
        label: "Countdown (seconds)".into(),
        value: value("countdown_duration", config.countdown_duration.to_string()),
        number: true,
        ..Default::default()
    }];
    for (name, secs) in &config.articulation_durations {
        let field = format!("articulation_durations.{name}");
        fields.push(InputField {
            label: format!("Duration of {name} (seconds; empty removes it)"),
            value: value(&field, secs.to_string()),
            name: field,
            number: true,
            ..Default::default()
        });
    }
    fields.push(InputField {
        name: ADD.into(),
        label: "Add an articulation (name and seconds, e.g. \"legato 1.5\")".into(),
        value: value(ADD, String::new()),
        ..Default::default()
    });
    let s = &config.session_settings;
    for (name, label, current, number) in [
        (
            "session_settings.default_note",
            "Default note",
            s.default_note.clone(),
            false,
        ),
        (
            "session_settings.default_frequency",
            "Pitch of A4 (Hz)",
            s.default_frequency.to_string(),
            true,
        ),
        (
            "post_processing.peak_target_dbfs",
            "Normalize to peak (dBFS)",
            config.post_processing.peak_target_dbfs.to_string(),
            true,
        ),
        (
            "storage_management.max_age_days",
            "Keep recordings for (days)",
            config.storage_management.max_age_days.to_string(),
            true,
        ),
        (
            "storage_management.min_free_gb",
            "Arm no take with less free on the share than (GB)",
            config.storage_management.min_free_gb.to_string(),
            true,
        ),
    ] {
        fields.push(InputField {
            name: name.into(),
            label: label.into(),
            value: value(name, current),
            number,
            ..Default::default()
        });
    }
    let options = |names: Vec<String>, selected: &str| {
        names
            .into_iter()
            .map(|n| Choice {
                selected: n == selected,
                label: n.clone(),
                name: n,
            })
            .collect()
    };
    let inst_names = instruments
        .instruments
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let selects = vec![
        SelectField {
            name: "session_settings.default_instrument".into(),
            label: "Default instrument".into(),
            options: options(
                inst_names,
                &value(
                    "session_settings.default_instrument",
                    s.default_instrument.clone(),
                ),
            ),
            ..Default::default()
        },
        SelectField {
            name: "session_settings.default_articulation".into(),
            label: "Default articulation".into(),
            options: options(
                config.articulation_durations.keys().cloned().collect(),
                &value(
                    "session_settings.default_articulation",
                    s.default_articulation.clone(),
                ),
            ),
            ..Default::default()
        },
    ];
    let checks = CHECKS
        .iter()
        .map(|(name, label)| CheckField {
            name: name.to_string(),
            label: label.to_string(),
            checked: form
                .map(|f| f.checked(name))
                .unwrap_or_else(|| check_value(config, name)),
            ..Default::default()
        })
        .collect();
    let mut v = SettingsView {
        saved: false,
        fields,
        selects,
        checks,
        ..Default::default()
    };
    for (field, message) in errors {
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
    // The first invalid field, in page order, takes the focus (and the browser
    // scrolls to it), without JavaScript.
    if let Some(f) = v.fields.iter_mut().find(|f| !f.error.is_empty()) {
        f.autofocus = true;
    } else if let Some(s) = v.selects.iter_mut().find(|s| !s.error.is_empty()) {
        s.autofocus = true;
    } else if let Some(c) = v.checks.iter_mut().find(|c| !c.error.is_empty()) {
        c.autofocus = true;
    }
    if !errors.is_empty() {
        v.summary = match errors.len() {
            1 => "Not saved: 1 value needs a change.".into(),
            n => format!("Not saved: {n} values need a change."),
        };
    }
    v
}

/// A form field's name and what is wrong with it.
pub type FieldErr = (String, String);

/// `name`'s number, `current` when the form does not have it; an error is
/// recorded and `current` kept.
fn number<T: std::str::FromStr>(
    form: &Form,
    name: &str,
    current: T,
    what: &str,
    errs: &mut Vec<FieldErr>,
) -> T {
    match form.get(name) {
        None => current,
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            errs.push((name.to_string(), format!("expected {what}, got {text:?}")));
            current
        }),
    }
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
) -> Result<Config, Vec<FieldErr>> {
    let mut errs: Vec<FieldErr> = Vec::new();
    let mut c = raw.clone();
    c.countdown_duration = number(
        form,
        "countdown_duration",
        c.countdown_duration,
        "a number of seconds",
        &mut errs,
    );
    let names: Vec<String> = c.articulation_durations.keys().cloned().collect();
    for name in names {
        let field = format!("articulation_durations.{name}");
        match form.get(&field).map(str::trim) {
            Some("") => {
                c.articulation_durations.remove(&name);
            }
            _ => {
                let v = number(
                    form,
                    &field,
                    c.articulation_durations[&name],
                    "a number of seconds",
                    &mut errs,
                );
                c.articulation_durations.insert(name, v);
            }
        }
    }
    let add = form.text(ADD);
    let mut added = None;
    if !add.is_empty() {
        let parsed = match add.rsplit_once(' ') {
            None => Err("expected a name and seconds, e.g. \"legato 1.5\"".to_string()),
            Some((name, secs)) => {
                let name = name.trim().to_string();
                match secs.parse::<f64>() {
                    Err(_) => Err(format!("expected seconds after the name, got {secs:?}")),
                    Ok(_) if raw.articulation_durations.contains_key(&name) => Err(format!(
                        "{name:?} is already listed: change its duration above"
                    )),
                    Ok(secs) => crate::protocol::check_name(ADD, &name)
                        .map(|_| (name, secs))
                        .map_err(|e| e.message),
                }
            }
        };
        match parsed {
            Ok((name, secs)) => {
                c.articulation_durations.insert(name.clone(), secs);
                added = Some(format!("articulation_durations.{name}"));
            }
            Err(e) => errs.push((ADD.to_string(), e)),
        }
    }
    let s = &mut c.session_settings;
    if let Some(v) = form.get("session_settings.default_note") {
        s.default_note = v.trim().to_string();
    }
    s.default_frequency = number(
        form,
        "session_settings.default_frequency",
        s.default_frequency,
        "a frequency in Hz",
        &mut errs,
    );
    if let Some(v) = form.get("session_settings.default_instrument") {
        s.default_instrument = v.to_string();
    }
    if let Some(v) = form.get("session_settings.default_articulation") {
        s.default_articulation = v.to_string();
    }
    c.post_processing.peak_target_dbfs = number(
        form,
        "post_processing.peak_target_dbfs",
        c.post_processing.peak_target_dbfs,
        "a level in dBFS",
        &mut errs,
    );
    c.storage_management.max_age_days = number(
        form,
        "storage_management.max_age_days",
        c.storage_management.max_age_days,
        "a whole number of days",
        &mut errs,
    );
    c.storage_management.min_free_gb = number(
        form,
        "storage_management.min_free_gb",
        c.storage_management.min_free_gb,
        "a number of GB",
        &mut errs,
    );
    for (name, _) in CHECKS {
        // The form sends a hidden "0", then "1" when the box is ticked.
        let values = form.all(name);
        if let Some(bad) = values.iter().find(|v| !matches!(v.as_str(), "0" | "1")) {
            errs.push((
                name.to_string(),
                format!("expected 0 (off) or 1 (on), got {bad:?}"),
            ));
            continue;
        }
        let Some(last) = values.last() else {
            continue;
        };
        let on = last == "1";
        match name {
            "file_naming.include_session_id" => c.file_naming.include_session_id = on,
            "file_naming.include_user_initials" => c.file_naming.include_user_initials = on,
            "post_processing.normalize_audio" => c.post_processing.normalize_audio = on,
            "post_processing.trim_silence" => c.post_processing.trim_silence = on,
            _ => c.storage_management.auto_cleanup = on,
        }
    }
    for e in c.problems(file) {
        let mut field = e.field().unwrap_or("").to_string();
        if added.as_deref() == Some(field.as_str()) {
            field = ADD.to_string();
        }
        // A field that did not parse kept its old value: its error is said.
        if !errs.iter().any(|(f, _)| *f == field) {
            errs.push((field, message(&e)));
        }
    }
    if instruments
        .get(&c.session_settings.default_instrument)
        .is_none()
    {
        errs.push((
            "session_settings.default_instrument".into(),
            "not an instrument of instruments.json".into(),
        ));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    instruments.validate(file, &c).map_err(|e| {
        vec![(
            String::new(),
            format!("instruments.json would no longer load: {e}"),
        )]
    })?;
    Ok(c)
}

/// Config errors (from saving) as form errors.
pub fn field_errors(errors: &[crate::config::ConfigError]) -> Vec<FieldErr> {
    errors
        .iter()
        .map(|e| match e.field() {
            Some(f) if !f.is_empty() => (f.to_string(), message(e)),
            _ => (String::new(), e.to_string()),
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
    fn errors_name_the_form_field() {
        let (c, i) = setup();
        let p = Path::new("c.json");
        let field = |s: &str| apply(&c, &form(s), p, &i).unwrap_err()[0].0.clone();
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
            &[("countdown_duration".into(), "bad".into())],
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
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
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
}
