//! The `takebox` command line tool: batch processing and checking of takes, the
//! catalog import, instrument exports and cleanup.

use std::io::IsTerminal;
use std::path::PathBuf;
use takebox::capture::batch::{self, Output};
use takebox::capture::process::ProcessOptions;
use takebox::catalog;
use takebox::cli::{Args, EXIT_CONFIG, EXIT_FAILURE};
use takebox::config::PostProcessing;
use takebox::notes::{MiddleC, Note};

const USAGE: &str = "usage:
  takebox process IN... (--out DIR | --in-place) [--trim] [--normalize peak|true-peak|loudness|group]
                  [--target DB] [--note NOTE] [--midi] [--preroll SECONDS] [--jobs N]
                  [--loop [--crossfade MS]] [--format wav|flac]
  takebox check FILE... [--note NOTE] [--midi] [--a4 HZ] [--middle-c C4|C3] [--preroll SECONDS]
                [--jobs N] [--max-cents C] [--tuning-cents C] [--json]
  takebox catalog import LOG_OR_DIR... --db URL
  takebox export sfz|dspreset|csv SESSION --out DIR [--logs DIR] [--share DIR] [--config FILE] [--flac]
  takebox cleanup [--dry-run] [--config FILE]
  takebox button press [--long] [--ms MS] [--url http://127.0.0.1:5000]

process  trims leading/trailing silence (--trim) and normalizes: sample peak, true peak,
         integrated loudness (--target LUFS, default -23), or group: one gain for all files,
         so velocity layers keep their levels (--target dBFS, default -1). Inputs are never
         overwritten unless --in-place (then atomically). --loop finds a sustain loop
         in each file and writes it into the smpl chunk, printing its seam figure (dB,
         lower is smoother; -30 or lower is good) beside a naive zero-crossing loop's;
         --crossfade renders a linear crossfade of MS into the loop's end.
         --format flac also writes a FLAC beside each WAV: the same samples bit for
         bit, the WAV's smpl/bext/iXML in APPLICATION riff blocks, the unity note and
         loop as VORBIS_COMMENT tags (MIDI_UNITY_NOTE, LOOPSTART, LOOPLENGTH).
check    measures pitch against --note, level, clipping, noise floor and mains hum (from the
         first --preroll seconds) and prints a verdict per file: the settled pitch, judged
         within --max-cents (default 15) of the note moved by --tuning-cents (a stretched
         piano). --json prints one JSON object per file instead: \"file\" and the fields of
         the recorder's check (verdict, issues, measured_hz, cents, attack_cents, ...).
         A note repeating every 2-4 periods of --note (an organ's 16' stop, a sub
         oscillator) reads at the note when its harmonic there is the strongest and the
         series below has little above it; --midi (a synth played exactly --note, as in
         a MIDI session) reads it at the note whenever that harmonic is within 24 dB of
         the strongest.
Both exit 1 naming the files that failed.
catalog import  creates or migrates the catalog schema in PostgreSQL (URL: postgres://user@host/db,
         or host=/socket/dir dbname=...) and upserts each session log in one transaction; a bad
         line is reported as file:line and skipped. Importing again after a log grew adds only
         the new takes.
export   an instrument from a session's confirmed, non-superseded takes: one file per
         articulation (SFZ, Decent Sampler) or a CSV sample map; sample paths relative to DIR.
         The log is found in --logs (default: the config's log_directory), the WAVs under
         --share (default: capture.share_path). --flac encodes every sample as FLAC into
         DIR/samples/ and points the instrument there: a folder that can be zipped and shipped.
cleanup  deletes the folders of finished, fully confirmed sessions older than
         storage_management.max_age_days from the share, printing every path removed;
         --dry-run only prints what would go.
button   presses the board's simulated button (control.gpio.backend \"sim\"): 200 ms, or
         --long (2000 ms: retake), or --ms; the token is $TAKEBOX_TOKEN.";

fn main() {
    std::process::exit(real_main());
}

/// Every file of a batch allocates and frees a few hundred KB of buffers.
/// glibc hands blocks that large back to the kernel on free, so each file
/// faulted in fresh zeroed pages again: ~40,000 page faults and a third of
/// the system time for 200 files. Keep freed memory for reuse instead.
fn keep_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // worker thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// The value, or `None` with the error printed (the caller returns its
/// exit code).
fn or_report<T>(result: Result<T, impl std::fmt::Display>) -> Option<T> {
    result.map_err(|e| eprintln!("takebox: {e}")).ok()
}

fn usage_error(msg: impl std::fmt::Display) -> i32 {
    eprintln!("takebox: {msg}\n\n{USAGE}");
    EXIT_CONFIG
}

fn real_main() -> i32 {
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    if all.is_empty() || all.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return if all.is_empty() { EXIT_CONFIG } else { 0 };
    }
    let command = all.remove(0);
    let args = Args::from_vec(all);
    match command.as_str() {
        "process" => {
            keep_freed_memory();
            run_process(args)
        }
        "check" => {
            keep_freed_memory();
            run_check(args)
        }
        "catalog" => run_catalog(args),
        "export" => run_export(args),
        "cleanup" => run_cleanup(args),
        "button" => run_button(args),
        other => usage_error(format!("unknown command {other:?}")),
    }
}

/// Flags both commands share.
struct Common {
    opts: ProcessOptions,
    jobs: usize,
}

fn common(args: &mut Args) -> Result<Common, String> {
    let middle_c = match args.value("middle-c")?.as_deref() {
        None | Some("C4") => MiddleC::C4,
        Some("C3") => MiddleC::C3,
        Some(o) => return Err(format!("--middle-c {o:?}: expected C4 or C3")),
    };
    let a4: f64 = parse(args.value("a4")?, "--a4")?.unwrap_or(440.0);
    let preroll: f64 = parse(args.value("preroll")?, "--preroll")?.unwrap_or(0.0);
    let jobs = parse(args.value("jobs")?, "--jobs")?.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let note = args
        .value("note")?
        .map(|n| Note::parse(&n, middle_c).map_err(|e| format!("--note: {e}")))
        .transpose()?;
    // Trim points and fades as the recorder uses them; processing is opt-in here.
    let pp = PostProcessing {
        normalize_audio: false,
        trim_silence: false,
        ..PostProcessing::default()
    };
    let mut opts = ProcessOptions::from_config(&pp, 0);
    opts.preroll_seconds = (preroll > 0.0).then_some(preroll);
    opts.planned_hz = note.map(|n| n.frequency(a4));
    opts.planned_midi = note.map(|n| n.midi());
    if args.switch("midi") {
        opts.player = takebox::dsp::Player::Midi;
    }
    opts.carry_chunks = true;
    if let Some(max) = parse::<f64>(args.value("max-cents")?, "--max-cents")? {
        opts.check.max_cents = max;
    }
    if let Some(c) = parse::<f64>(args.value("tuning-cents")?, "--tuning-cents")? {
        opts.check.target_cents = c;
    }
    Ok(Common { opts, jobs })
}

fn parse<T: std::str::FromStr>(v: Option<String>, flag: &str) -> Result<Option<T>, String> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|_| format!("{flag} {s:?}: not a number"))
    })
    .transpose()
}

fn inputs(rest: Vec<String>) -> Result<Vec<PathBuf>, String> {
    if let Some(flag) = rest.iter().find(|a| a.starts_with("--")) {
        return Err(format!("unknown option {flag}"));
    }
    if rest.is_empty() {
        return Err("no input files".into());
    }
    Ok(rest.into_iter().map(PathBuf::from).collect())
}

/// "[n/N] name" on the terminal; nothing when stderr is a pipe or file.
fn progress() -> impl Fn(usize, usize, &PathBuf) + Sync {
    let tty = std::io::stderr().is_terminal();
    move |done, total, path| {
        if tty {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            eprint!("\r\x1b[K[{done}/{total}] {name}");
            if done == total {
                eprintln!();
            }
        }
    }
}

fn run_process(mut args: Args) -> i32 {
    let parsed = (|| {
        let c = common(&mut args)?;
        let trim = args.switch("trim");
        let in_place = args.switch("in-place");
        let out = args.value("out")?;
        let mode = args.value("normalize")?;
        let target: Option<f64> = parse(args.value("target")?, "--target")?;
        let output = match (out, in_place) {
            (Some(_), true) => return Err("--out and --in-place exclude each other".to_string()),
            (Some(d), false) => Output::Folder(PathBuf::from(d)),
            (None, true) => Output::InPlace,
            (None, false) => return Err("say where results go: --out DIR or --in-place".into()),
        };
        let normalize = mode
            .as_deref()
            .map(|m| batch::normalize_settings(m, target))
            .transpose()?;
        let group = mode.as_deref() == Some("group");
        let loops = loop_settings(&mut args)?;
        let flac = match args.value("format")?.as_deref() {
            None | Some("wav") => false,
            Some("flac") => true,
            Some(o) => return Err(format!("--format {o:?}: expected wav or flac")),
        };
        let files = inputs(args.rest())?;
        Ok((c, trim, output, normalize, group, (loops, flac), files))
    })();
    let (c, trim, output, normalize, group, (loops, flac), files) = match parsed {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    if let Output::Folder(dir) = &output
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("takebox: {}: {e}", dir.display());
        return EXIT_FAILURE;
    }
    let mut opts = c.opts;
    opts.trim = trim;
    opts.normalize = if group { None } else { normalize };
    opts.loops = loops;
    let reports = batch::process_files(
        &files,
        &output,
        &opts,
        if group { normalize } else { None },
        c.jobs,
        progress(),
    );
    println!(
        "{:<40} {:>8} {:>8} {:>8}  verdict",
        "file", "in s", "out s", "gain dB"
    );
    let mut failed = Vec::new();
    for r in &reports {
        let name = r.input.display().to_string();
        match &r.result {
            Ok(d) => {
                println!(
                    "{:<40} {:>8.3} {:>8.3} {:>+8.2}  {}{}",
                    name,
                    d.seconds_in,
                    d.seconds_out,
                    d.gain_db,
                    verdict(&d.check),
                    if d.limited_by_peak {
                        " (gain limited by peak)"
                    } else {
                        ""
                    }
                );
                if let Some(l) = &d.sample_loop {
                    println!("  {}", loop_line(l));
                }
                if let Some(wav) = r.output.as_deref().filter(|_| flac)
                    && let Err(e) = write_flac(wav)
                {
                    println!("  error: {e}");
                    failed.push(name);
                }
            }
            Err(e) => {
                println!(
                    "{name:<40} {:>8} {:>8} {:>8}  error: {}",
                    "-", "-", "-", e.what
                );
                failed.push(name);
            }
        }
    }
    summary(reports.len(), &failed)
}

/// `--loop` and `--crossfade MS` as loop settings (`None` without `--loop`).
fn loop_settings(args: &mut Args) -> Result<Option<takebox::dsp::LoopSettings>, String> {
    let on = args.switch("loop");
    let fade_ms: Option<f64> = parse(args.value("crossfade")?, "--crossfade")?;
    match (on, fade_ms) {
        (false, Some(_)) => Err("--crossfade needs --loop".into()),
        (false, None) => Ok(None),
        (true, ms) => {
            let ms = ms.unwrap_or(0.0);
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(format!(
                    "--crossfade {ms}: expected milliseconds, 0 or more"
                ));
            }
            Ok(Some(takebox::dsp::LoopSettings {
                crossfade_seconds: ms / 1000.0,
                ..Default::default()
            }))
        }
    }
}

/// A FLAC beside the WAV written, and a line saying how big it came out.
fn write_flac(wav: &std::path::Path) -> Result<(), takebox::flac::FlacError> {
    let out = wav.with_extension("flac");
    let bytes = takebox::flac::wav_to_flac(wav, &out)?;
    let wav_bytes = std::fs::metadata(wav).map(|m| m.len()).unwrap_or(0).max(1);
    println!(
        "  wrote {} ({:.0}% of the WAV)",
        out.display(),
        100.0 * bytes as f64 / wav_bytes as f64
    );
    Ok(())
}

/// One file's loop: where, its seam figure and the naive loop's, or why none.
fn loop_line(l: &takebox::capture::process::LoopReport) -> String {
    let naive = l
        .naive
        .map(|n| format!(" (naive zero-crossing loop {:.1} dB)", n.seam_db))
        .unwrap_or_default();
    let fade = if l.crossfade_frames > 0 {
        format!(", crossfade {} frames", l.crossfade_frames)
    } else {
        String::new()
    };
    match &l.found {
        Ok(lp) => format!(
            "loop at input frames {}..={} seam {:.1} dB{fade}{naive}",
            lp.start,
            lp.last_frame(),
            lp.seam_db
        ),
        Err(why) => format!("no loop written: {why}{naive}"),
    }
}

/// "loop SAMPLE START..=LAST seam X dB: verdict", for the export and the check.
fn seam_line(sample: &str, seam: &Result<takebox::seam::FileLoop, String>) -> String {
    let sample = if sample.is_empty() {
        String::new()
    } else {
        format!(" {sample}")
    };
    match seam {
        Ok(l) => format!(
            "loop{sample} {}..={} seam {:.1} dB: {}",
            l.sample_loop.start,
            l.sample_loop.last,
            l.seam_db,
            l.verdict()
        ),
        Err(e) => format!("loop{sample}: seam not measured: {e}"),
    }
}

fn verdict(c: &takebox::protocol::TakeCheck) -> String {
    serde_json::to_value(c.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn summary(total: usize, failed: &[String]) -> i32 {
    if failed.is_empty() {
        println!("{total} files, all ok");
        0
    } else {
        eprintln!(
            "{} of {total} files failed: {}",
            failed.len(),
            failed.join(", ")
        );
        EXIT_FAILURE
    }
}

fn run_check(mut args: Args) -> i32 {
    let json = args.switch("json");
    let (c, files) = match common(&mut args).and_then(|c| Ok((c, inputs(args.rest())?))) {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let results = batch::check_files(&files, &c.opts, c.jobs, progress());
    if json {
        return print_json(&results);
    }
    println!(
        "{:<40} {:>9} {:>7} {:>8} {:>9} {:>7}  verdict",
        "file", "pitch Hz", "cents", "peak dB", "noise dB", "SNR dB"
    );
    let opt = |v: Option<f64>, prec: usize| {
        v.map(|x| format!("{x:.prec$}"))
            .unwrap_or_else(|| "-".into())
    };
    let mut failed = Vec::new();
    for (path, r) in &results {
        let name = path.display().to_string();
        match r {
            Ok((a, check)) => {
                println!(
                    "{:<40} {:>9} {:>7} {:>8.2} {:>9} {:>7}  {}",
                    name,
                    opt(check.measured_hz, 2),
                    opt(check.cents, 1),
                    a.peak.max_peak_dbfs().max(-999.0),
                    opt(check.noise_floor_dbfs, 1),
                    opt(check.snr_db, 1),
                    verdict(check)
                );
                if let Some(seam) = file_seam(path) {
                    println!("  {}", seam_line("", &seam));
                }
                if check.verdict != takebox::protocol::Verdict::Ok {
                    failed.push(format!("{name} ({})", verdict(check)));
                }
            }
            Err(e) => {
                println!("{name:<40}  error: {}", e.what);
                failed.push(name);
            }
        }
    }
    summary(results.len(), &failed)
}

/// The seam of the loop in a checked file's `smpl`, if it has one.
fn file_seam(path: &std::path::Path) -> Option<Result<takebox::seam::FileLoop, String>> {
    takebox::seam::file_loop(path)
        .map_err(|e| e.to_string())
        .transpose()
}

/// `check --json`: one object per line, `file` then the check's fields (or
/// `error`); exits 1 when any file is not ok.
fn print_json(results: &[(PathBuf, batch::CheckResult)]) -> i32 {
    let mut failed = false;
    for (path, r) in results {
        let mut line = serde_json::Map::new();
        line.insert("file".into(), path.display().to_string().into());
        match r {
            Ok((_, check)) => {
                failed |= check.verdict != takebox::protocol::Verdict::Ok;
                if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(check) {
                    line.extend(fields);
                }
                match file_seam(path) {
                    Some(Ok(l)) => {
                        line.insert("loop_seam_db".into(), l.seam_db.into());
                        line.insert("loop_verdict".into(), l.verdict().into());
                    }
                    Some(Err(e)) => {
                        line.insert("loop_verdict".into(), e.into());
                    }
                    None => {}
                }
            }
            Err(e) => {
                failed = true;
                line.insert("error".into(), e.what.clone().into());
            }
        }
        println!("{}", serde_json::Value::Object(line));
    }
    if failed { EXIT_FAILURE } else { 0 }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn run_catalog(args: Args) -> i32 {
    let mut rest = args.rest();
    if rest.first().map(String::as_str) != Some("import") {
        return usage_error("catalog: expected `catalog import LOG_OR_DIR... --db URL`");
    }
    rest.remove(0);
    let mut args = Args::from_vec(rest);
    let parsed = (|| {
        let db = args
            .value("db")?
            .or_else(|| std::env::var("TAKEBOX_DB").ok())
            .ok_or("--db URL is needed (or TAKEBOX_DB)")?;
        Ok::<_, String>((db, inputs(args.rest())?))
    })();
    let (db, inputs) = match parsed {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let Some(logs) = or_report(catalog::import::expand(&inputs)) else {
        return EXIT_FAILURE;
    };
    let started = std::time::Instant::now();
    let result = runtime().block_on(async {
        let mut client = catalog::import::connect(&db).await?;
        catalog::import::import_logs(&mut client, &logs).await
    });
    let Some(report) = or_report(result) else {
        return EXIT_FAILURE;
    };
    for e in &report.bad_lines {
        eprintln!("takebox: skipped {e}");
    }
    for (path, e) in &report.failed {
        eprintln!("takebox: {}: not imported: {e}", path.display());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} sessions, {} takes in {secs:.2} s ({:.0} takes/s); {} lines skipped",
        report.sessions,
        report.takes,
        report.takes as f64 / secs.max(1e-9),
        report.bad_lines.len()
    );
    if report.failed.is_empty() {
        0
    } else {
        EXIT_FAILURE
    }
}

fn run_export(args: Args) -> i32 {
    let mut rest = args.rest();
    let Some(format) = (!rest.is_empty()).then(|| rest.remove(0)) else {
        return usage_error("export: expected sfz, dspreset or csv");
    };
    let Some(format) = catalog::export::Format::parse(&format) else {
        return usage_error(format!("export {format:?}: expected sfz, dspreset or csv"));
    };
    let mut args = Args::from_vec(rest);
    let parsed = (|| {
        let out = args.value("out")?.ok_or("--out DIR is needed")?;
        let logs = args.value("logs")?;
        let share = args.value("share")?;
        let config = args.value("config")?;
        let flac = args.switch("flac");
        let rest = args.rest();
        if let Some(flag) = rest.iter().find(|a| a.starts_with("--")) {
            return Err(format!("unknown option {flag}"));
        }
        let [session] = <[String; 1]>::try_from(rest).map_err(|r| {
            format!(
                "expected one SESSION (an id or a .jsonl log), got {}",
                r.len()
            )
        })?;
        Ok::<_, String>((out, logs, share, config, (session, flac)))
    })();
    let (out, logs, share, config_path, (session, flac)) = match parsed {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    // The config only for what the flags leave open.
    let config = if logs.is_none() || share.is_none() {
        match takebox::cli::load_config(config_path) {
            Ok((_, c)) => Some(c),
            Err(e) => {
                eprintln!("takebox: {e} (or give --logs and --share)");
                return EXIT_CONFIG;
            }
        }
    } else {
        None
    };
    let logs = logs
        .map(PathBuf::from)
        .or_else(|| config.as_ref().map(|c| c.logging.log_directory.clone()))
        .expect("logs from a flag or the config");
    let share = share
        .map(PathBuf::from)
        .or_else(|| config.as_ref().map(|c| c.capture.share_path.clone()))
        .expect("share from a flag or the config");
    let Some(log) = or_report(catalog::log_reader::find_log(&session, &[logs])) else {
        return EXIT_FAILURE;
    };
    let Some(rec) = or_report(catalog::log_reader::read(&log)) else {
        return EXIT_FAILURE;
    };
    for e in &rec.errors {
        eprintln!("takebox: skipped {e}");
    }
    match catalog::export::export_with(&rec, format, &share, std::path::Path::new(&out), flac) {
        Ok(done) => {
            for (take, why) in &done.skipped {
                eprintln!("takebox: take {take} left out: {why}");
            }
            for (take, cents) in &done.untuned {
                eprintln!(
                    "takebox: take {take} not tuned: its pitch reads {cents:+.1} cents from its note \
                     (more than half a semitone: a misread pitch, or another note)"
                );
            }
            for f in &done.files {
                println!("wrote {}", f.display());
            }
            for (sample, seam) in &done.seams {
                println!("{}", seam_line(sample, seam));
            }
            if done.looped > 0 {
                println!(
                    "{} regions, {} with a sustain loop",
                    done.regions, done.looped
                );
            } else {
                println!("{} regions", done.regions);
            }
            0
        }
        Err(e) => {
            eprintln!("takebox: {e}");
            EXIT_FAILURE
        }
    }
}

fn run_cleanup(mut args: Args) -> i32 {
    let parsed = (|| {
        let dry_run = args.switch("dry-run");
        let config = args.value("config")?;
        if let Some(extra) = args.rest().first() {
            return Err(format!("unexpected {extra:?}"));
        }
        Ok::<_, String>((dry_run, config))
    })();
    let (dry_run, config_path) = match parsed {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let Some((_, config)) = or_report(takebox::cli::load_config(config_path)) else {
        return EXIT_CONFIG;
    };
    let sweep = takebox::retention::Sweep::from_config(&config, dry_run);
    let Some(report) = or_report(sweep.run(std::time::SystemTime::now())) else {
        return EXIT_FAILURE;
    };
    for w in &report.warnings {
        eprintln!("takebox: {w}");
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for p in &report.removed {
        println!("{verb} {}", p.display());
    }
    for (id, why) in &report.kept {
        println!("kept {id}: {why}");
    }
    for e in &report.errors {
        eprintln!("takebox: {e}");
    }
    println!(
        "{} sessions {}, {} kept",
        report.deleted.len(),
        if dry_run { "to delete" } else { "deleted" },
        report.kept.len()
    );
    if report.errors.is_empty() {
        0
    } else {
        EXIT_FAILURE
    }
}

fn run_button(mut args: Args) -> i32 {
    let long = args.switch("long");
    let ms = match args
        .value("ms")
        .map_err(String::from)
        .and_then(|v| parse::<u64>(v, "--ms"))
    {
        Ok(ms) => ms,
        Err(e) => return usage_error(e),
    };
    let url = match args.value("url") {
        Ok(url) => url,
        Err(e) => return usage_error(e),
    };
    let rest = args.rest();
    if rest != ["press"] {
        return usage_error(format!("button: expected `press`, got {rest:?}"));
    }
    let ms = ms.unwrap_or(if long { 2000 } else { 200 });
    let url = url.unwrap_or_else(|| "http://127.0.0.1:5000".into());
    let addr = match takebox::http::parse_http_url(&url)
        .map_err(|e| e.to_string())
        .and_then(|(host, port)| {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                .map_err(|e| format!("{url}: {e}"))?
                .next()
                .ok_or_else(|| format!("{url}: no address"))
        }) {
        Ok(a) => a,
        Err(e) => return usage_error(format!("--url: {e}")),
    };
    let token = std::env::var(takebox::config::TOKEN_ENV).unwrap_or_default();
    let runtime = runtime();
    let body = format!("{{\"ms\": {ms}}}").into_bytes();
    let answer = runtime.block_on(takebox::http::request(
        addr,
        hyper::Method::POST,
        "/api/v1/gpio/press",
        Some(&token),
        Some(body),
    ));
    match answer {
        Ok((status, _)) if status.is_success() => {
            println!("pressed for {ms} ms");
            0
        }
        Ok((status, body)) => {
            eprintln!(
                "takebox: {url}: {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
            EXIT_FAILURE
        }
        Err(e) => {
            eprintln!("takebox: {e}");
            EXIT_FAILURE
        }
    }
}
