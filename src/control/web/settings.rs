//! The Settings form: the seed's settings in config.json, edited in place and
//! saved atomically, with a validation error shown beside the field that caused it.

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
    error: Option<(String, String)>,
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
            error: String::new(),
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
            error: String::new(),
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
        })
        .collect();
    let mut v = SettingsView {
        saved: false,
        error: String::new(),
        fields,
        selects,
        checks,
    };
    if let Some((field, message)) = error {
        if let Some(f) = v.fields.iter_mut().find(|f| f.name == field) {
            f.error = message;
        } else if let Some(s) = v.selects.iter_mut().find(|s| s.name == field) {
            s.error = message;
        } else {
            v.error = if field.is_empty() {
                message
            } else {
                format!("{field}: {message}")
            };
        }
    }
    v
}

type FieldErr = (String, String);

fn number<T: std::str::FromStr>(form: &Form, name: &str, current: T) -> Result<T, FieldErr> {
    match form.get(name) {
        None => Ok(current),
        Some(text) => text.trim().parse().map_err(|_| {
            (
                name.to_string(),
                format!("expected a number, got {:?}", text),
            )
        }),
    }
}

/// The config with the form's values, checked; errors name the form field.
pub fn apply(
    raw: &Config,
    form: &Form,
    file: &Path,
    instruments: &Instruments,
) -> Result<Config, FieldErr> {
    let mut c = raw.clone();
    c.countdown_duration = number(form, "countdown_duration", c.countdown_duration)?;
    let names: Vec<String> = c.articulation_durations.keys().cloned().collect();
    for name in names {
        let field = format!("articulation_durations.{name}");
        match form.get(&field).map(str::trim) {
            Some("") => {
                c.articulation_durations.remove(&name);
            }
            _ => {
                let v = number(form, &field, c.articulation_durations[&name])?;
                c.articulation_durations.insert(name, v);
            }
        }
    }
    let add = form.text(ADD);
    if !add.is_empty() {
        let (name, secs) = add.rsplit_once(' ').ok_or_else(|| {
            (
                ADD.to_string(),
                "expected a name and seconds, e.g. \"legato 1.5\"".to_string(),
            )
        })?;
        let secs: f64 = secs.parse().map_err(|_| {
            (
                ADD.to_string(),
                format!("expected seconds after the name, got {secs:?}"),
            )
        })?;
        let name = name.trim().to_string();
        crate::protocol::check_name(ADD, &name).map_err(|e| (ADD.to_string(), e.message))?;
        c.articulation_durations.insert(name, secs);
    }
    let s = &mut c.session_settings;
    if let Some(v) = form.get("session_settings.default_note") {
        s.default_note = v.trim().to_string();
    }
    s.default_frequency = number(
        form,
        "session_settings.default_frequency",
        s.default_frequency,
    )?;
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
    )?;
    c.storage_management.max_age_days = number(
        form,
        "storage_management.max_age_days",
        c.storage_management.max_age_days,
    )?;
    c.storage_management.min_free_gb = number(
        form,
        "storage_management.min_free_gb",
        c.storage_management.min_free_gb,
    )?;
    for (name, _) in CHECKS {
        if form.get(name).is_some() {
            let on = form.checked(name);
            match name {
                "file_naming.include_session_id" => c.file_naming.include_session_id = on,
                "file_naming.include_user_initials" => c.file_naming.include_user_initials = on,
                "post_processing.normalize_audio" => c.post_processing.normalize_audio = on,
                "post_processing.trim_silence" => c.post_processing.trim_silence = on,
                _ => c.storage_management.auto_cleanup = on,
            }
        }
    }
    c.validate(file).map_err(|e| {
        let field = e.field().unwrap_or("").to_string();
        let full = e.to_string();
        // The message without "file: field `x`: ", which the page shows by the field.
        let message = full
            .rsplit_once("`: ")
            .map(|(_, m)| m.to_string())
            .unwrap_or(full);
        (field, message)
    })?;
    if instruments
        .get(&c.session_settings.default_instrument)
        .is_none()
    {
        return Err((
            "session_settings.default_instrument".into(),
            "not an instrument of instruments.json".into(),
        ));
    }
    instruments.validate(file, &c).map_err(|e| {
        (
            String::new(),
            format!("instruments.json would no longer load: {e}"),
        )
    })?;
    Ok(c)
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
        let field = |s: &str| apply(&c, &form(s), p, &i).unwrap_err().0;
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
            Some(("countdown_duration".into(), "bad".into())),
        );
        assert_eq!(v.fields[0].value, "-1");
        assert_eq!(v.fields[0].error, "bad");
    }
}
