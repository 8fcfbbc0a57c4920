//! Issue 15: the fault-injection soak. Two hosts on this machine (network
//! namespaces "board" and "recorder" joined by a veth pair), takebox-control
//! and smbd on the board, takebox-capture on the recorder with a PulseAudio
//! null sink, the share and the spool on small ext4 file systems. A session
//! of short notes runs with auto-advance while faults arrive at random
//! moments of a take's life; afterwards the invariants are checked from the
//! session log, the board's session file, the share, the spool and the
//! daemons' answers, and a table is printed (and written to
//! `target/tmp/soak-table.txt`).
//!
//! `SOAK_TAKES=N` (default 50: every fault kind at least once), `SOAK_SEED=S`
//! to replay a run; `make soak` runs 1,000 takes.

#[path = "soak/check.rs"]
mod check;
mod common;
#[path = "soak/faults.rs"]
mod faults;
#[path = "soak/hosts.rs"]
mod hosts;
#[path = "soak/proxy.rs"]
mod proxy;
#[path = "soak/rig.rs"]
mod rig;
#[path = "soak/smb.rs"]
mod smb;

use faults::{Kind, Rng, Undo};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A take the board cannot get after a fault heals within this is a failure.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// The configured countdown.
const COUNTDOWN: Duration = Duration::from_millis(500);
/// A take's life as a fault may strike it: countdown, pre-roll is already in
/// the ring, 0.2 s note, 0.2 s tail, then processing, delivery and the
/// confirmation on its way.
const TAKE_LIFE: Duration = Duration::from_millis(2000);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a whole number"))
    })
}

fn note_name(midi: u32) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    format!("{}{}", NAMES[(midi % 12) as usize], midi as i32 / 12 - 1)
}

/// One fault as it happened.
struct Injected {
    kind: Kind,
    detail: String,
    /// Where the take it was aimed at stood when it struck.
    moment: String,
    healed: Option<Instant>,
    /// From healing (a kill: from the restart) to the next confirmation.
    recovery: Option<Duration>,
    /// From healing to both daemons answering, the recorder ready.
    ready: Option<Duration>,
}

/// Where a take stands, from the board's phase and the recorder's state.
fn moment(board: Option<&Value>, recorder: Option<&Value>) -> String {
    let phase = board
        .and_then(|b| b["phase"].as_str())
        .unwrap_or("board down");
    let recording = recorder.is_some_and(|r| r["recording"].is_string());
    match phase {
        "countdown" => "before the command".into(),
        "recording" if recording => "recording".into(),
        "recording" | "waiting" if !recording => "processing, delivery or confirming".into(),
        "waiting" => "recording (tail)".into(),
        other => format!("between takes ({other})"),
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Option<Duration> {
    v.sort();
    // Nearest rank: the smallest value with at least p of them at or below it.
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
    (!v.is_empty()).then(|| v[rank - 1])
}

#[test]
fn soak_nothing_lost_nothing_twice() {
    let wanted = env_u64("SOAK_TAKES").unwrap_or(50).max(12);
    let seed = env_u64("SOAK_SEED").unwrap_or(15);
    eprintln!("soak: {wanted} takes, seed {seed} (SOAK_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);

    // A take is at most ~1.3 s of mono 16-bit audio (190 KB); the share
    // holds every take of the run, the spool a few dozen.
    let share_mib = 64 + wanted * 200 / 1024;
    let mut rig = rig::Rig::new(share_mib, 48);
    let pulse = common::Pulse::start();
    let proxy = proxy::Proxy::start(
        &rig.board,
        format!("{}:{}", rig::RECORDER_IP, hosts::CAPTURE_PORT)
            .parse()
            .unwrap(),
    );
    let dir = rig.dir.path().to_path_buf();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed/instruments.json"),
        dir.join("instruments.json"),
    )
    .unwrap();
    let config = json!({
        "countdown_duration": 0.5,
        "articulation_durations": {"short": 0.2, "medium": 0.5, "long": 1.0, "transient": 0.05},
        "file_naming": {"include_session_id": true, "include_user_initials": true},
        "storage_management": {"auto_cleanup": false, "min_free_gb": 0.0},
        "logging": {"log_directory": dir.join("logs"), "log_to_file": false, "log_level": "INFO"},
        "capture": {
            "device": "pulse", "channels": 1, "sample_format": "s16",
            "share_path": rig.share(), "spool_path": rig.spool(),
            "listen": format!("{}:{}", rig::RECORDER_IP, hosts::CAPTURE_PORT),
            "pre_roll_seconds": 0.5, "release_tail_seconds": 0.2
        },
        "control": {
            "listen": format!("127.0.0.1:{}", hosts::CONTROL_PORT),
            "recorders": [format!("http://{}", proxy.addr)],
            "state_dir": dir.join("state"),
            "request_timeout_seconds": 1.0,
            "take_timeout_seconds": 10.0,
            // Faults make takes warn (kept in the spool): the run goes on.
            "on_warning": "continue"
        }
    });
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let mut hosts = hosts::Hosts::new(&rig, &pulse, &config_path);
    common::wait_for("both daemons ready", Duration::from_secs(30), || {
        hosts.all_ready().then_some(())
    });

    // The plan: guitar E2 upwards, two dynamics, round robins to reach `wanted`.
    let round_robins = wanted.div_ceil(2 * 49);
    let notes = wanted.div_ceil(2 * round_robins) as u32;
    let (code, begun) = rig::http_in(
        &rig.board,
        hosts.control_addr(),
        "POST",
        "/api/v1/session",
        Some(common::TOKEN),
        Some(
            serde_json::to_vec(&json!({
                "instrument": "guitar", "lowest_note": note_name(40),
                "highest_note": note_name(40 + notes - 1), "articulations": ["short"],
                "dynamics": ["pp", "ff"], "round_robins": round_robins,
                "user_initials": "sk", "auto_advance": true
            }))
            .unwrap(),
        ),
    )
    .expect("the board answers");
    assert_eq!(code, 201, "{begun}");
    let session_id = begun["session_id"].as_str().unwrap().to_string();
    let total = begun["takes"].as_u64().unwrap();

    // A fault every `spacing` confirmations, cycling through every kind.
    let spacing = (total / (2 * faults::ALL.len() as u64)).clamp(1, 20);
    let mut order: Vec<Kind> = Vec::new();
    let started = Instant::now();
    let budget = Duration::from_secs(180 + total * 8);
    let mut seen_confirmed: BTreeSet<String> = BTreeSet::new();
    let mut seen_takes: BTreeSet<String> = BTreeSet::new();
    let mut next_fault_at = spacing;
    let mut aimed: Option<(Instant, Kind)> = None;
    let mut active: Option<(Undo, Instant, usize)> = None;
    let mut injected: Vec<Injected> = Vec::new();
    let mut presses = 0u32;
    let mut last_press = Instant::now() - Duration::from_secs(2);
    let mut last_board: Option<Value> = None;
    // The person presses Start as soon as the board is armed (in the loop).

    loop {
        assert!(
            started.elapsed() < budget,
            "the session did not finish within {budget:?}; board: {last_board:?}"
        );
        hosts.supervise();
        let board = hosts.board_status();
        let recorder = hosts.recorder_status();
        let now = Instant::now();
        if let Some(b) = &board {
            if let Some(id) = b["last"]["take_id"].as_str()
                && seen_confirmed.insert(id.to_string())
            {
                for f in injected.iter_mut().filter(|f| f.kind != Kind::KillSmbd) {
                    if f.recovery.is_none() && f.healed.is_some_and(|h| h <= now) {
                        f.recovery = Some(now - f.healed.unwrap());
                    }
                }
            }
            last_board = Some(b.clone());
        }
        // smbd is back when it answers on the board's address again.
        if injected
            .iter()
            .any(|f| f.kind == Kind::KillSmbd && f.recovery.is_none())
            && hosts.smbd_up()
        {
            for f in injected.iter_mut().filter(|f| f.kind == Kind::KillSmbd) {
                if f.recovery.is_none() && f.healed.is_some_and(|h| h <= now) {
                    f.recovery = Some(now - f.healed.unwrap());
                }
            }
        }
        if hosts.all_ready() {
            for f in injected.iter_mut() {
                if f.ready.is_none() && f.healed.is_some_and(|h| h <= now) {
                    f.ready = Some(now - f.healed.unwrap());
                }
            }
        }

        // Heal the active fault when its time is up.
        if let Some((_, until, _)) = &active
            && now >= *until
        {
            let (undo, _, i) = active.take().unwrap();
            faults::heal(undo, &mut rig, &proxy.controls);
            injected[i].healed = Some(Instant::now());
        }

        // Aim the next fault at a take as it begins, at a random moment of its life.
        let phase = board
            .as_ref()
            .and_then(|b| b["phase"].as_str())
            .unwrap_or("");
        if let Some(b) = &board
            && let Some(id) = b["take_id"].as_str()
            && phase == "countdown"
            && seen_takes.insert(id.to_string())
            && active.is_none()
            && aimed.is_none()
            && seen_confirmed.len() as u64 >= next_fault_at
            && seen_confirmed.len() as u64 + 2 < total
        {
            if order.is_empty() {
                order = faults::ALL.to_vec();
                rng.shuffle(&mut order);
                order.reverse();
            }
            let kind = order.pop().unwrap();
            // From the countdown's start to a second after the note's end: before
            // the command, recording, processing, delivery, confirming.
            let countdown_left = b["start_at"]
                .as_str()
                .and_then(|t| t.parse::<takebox::protocol::Timestamp>().ok())
                .and_then(|t| t.0.duration_since(std::time::SystemTime::now()).ok())
                .unwrap_or_default();
            let into_life = Duration::from_millis(rng.below(TAKE_LIFE.as_millis() as u64));
            let delay = (into_life + countdown_left).saturating_sub(COUNTDOWN);
            aimed = Some((now + delay, kind));
        }
        if let Some((at, kind)) = aimed
            && now >= at
        {
            aimed = None;
            let at_moment = moment(board.as_ref(), recorder.as_ref());
            let lasts = kind.lasts(&mut rng);
            let (undo, detail) =
                faults::inject(kind, &mut rng, &mut rig, &mut hosts, &proxy.controls);
            // A failpoint strikes the next take at its point, whatever the moment now.
            let at_moment = match detail.split('=').next() {
                Some("capture.recorded") => "recorded, before processing".into(),
                Some("capture.processed") => "processed, before the record".into(),
                Some("capture.deliver") => "during delivery".into(),
                _ => at_moment,
            };
            eprintln!(
                "soak: {:>7.1} s  {} {detail} ({at_moment}), {:.1} s",
                started.elapsed().as_secs_f64(),
                kind.label(),
                lasts.as_secs_f64()
            );
            let restarts = matches!(kind, Kind::KillCapture | Kind::KillControl | Kind::KillSmbd);
            injected.push(Injected {
                kind,
                detail,
                moment: at_moment,
                healed: restarts.then(|| Instant::now() + hosts::RESTART_SEC),
                recovery: None,
                ready: None,
            });
            // The next fault `spacing` confirmations after this one struck.
            next_fault_at = seen_confirmed.len() as u64 + spacing;
            if kind == Kind::CaptureFailpoint {
                injected.last_mut().unwrap().healed = Some(Instant::now());
            }
            if !restarts && kind != Kind::CaptureFailpoint {
                active = Some((undo, Instant::now() + lasts, injected.len() - 1));
            }
        }

        // The person at the instrument presses Start when the board waits for it.
        if matches!(phase, "armed" | "paused") && last_press.elapsed() > Duration::from_secs(1) {
            last_press = Instant::now();
            if hosts.board_post("/api/v1/start").map(|a| a.0) == Some(200) {
                presses += 1;
            }
        }
        if phase == "finished" && active.is_none() && aimed.is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let run_time = started.elapsed();

    // After the last fault: both ready within 10 s, and the spool drains.
    let last_heal = Instant::now();
    common::wait_for(
        "both daemons ready after the last fault",
        READY_WITHIN,
        || {
            hosts.supervise();
            hosts.all_ready().then_some(())
        },
    );
    // Every take waiting in the spool reaches the share (a name the share
    // cannot take would wait forever: lost).
    let drain_until = Instant::now() + Duration::from_secs(60);
    let stuck = loop {
        hosts.supervise();
        let status = hosts.recorder_status();
        let pending = status
            .as_ref()
            .and_then(|s| s["spool_pending"].as_array().cloned());
        if pending.as_ref().is_some_and(Vec::is_empty) {
            break None;
        }
        if Instant::now() > drain_until {
            break Some(status);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for f in injected.iter_mut() {
        f.ready.get_or_insert(last_heal.elapsed());
    }

    // The invariants.
    let capture_logs = hosts.capture.all_logs();
    let answer = |id: &str| {
        rig::http_in(
            &rig.recorder,
            hosts.capture_addr(),
            "GET",
            &format!("/v1/takes/{id}"),
            None,
            None,
        )
    };
    let evidence = check::Evidence {
        session_id: &session_id,
        log: dir.join("logs").join(format!("{session_id}.jsonl")),
        session_file: dir
            .join("state/sessions")
            .join(format!("{session_id}.json")),
        drive: &rig.drive(),
        spool: &rig.spool(),
        capture_logs: capture_logs.clone(),
        recorder_answer: &answer,
    };
    let mut findings = check::check(&evidence);
    // Kept for a look after the run (the rig's folder goes with it).
    let _ = std::fs::copy(
        &evidence.log,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak-session.jsonl"),
    );
    if let Some(status) = stuck {
        let pending = status
            .as_ref()
            .and_then(|s| s["spool_pending"].as_array().cloned())
            .unwrap_or_default();
        findings.lost += pending.len();
        findings.violations.push(format!(
            "still in the spool a minute after the last fault: {pending:?} (share: {})",
            status.as_ref().map_or(Value::Null, |s| s["share"].clone())
        ));
    }

    // The share as the recording computer reaches it: every delivered file
    // read back over SMB is the one on the drive.
    let via_smb = dir.join("via-smb");
    common::wait_for("smbd to answer", READY_WITHIN, || {
        hosts.supervise();
        hosts.smbd_up().then_some(())
    });
    match smb::fetch_session(&rig.recorder, &session_id, &via_smb) {
        Err(e) => findings.violations.push(e),
        Ok(()) => {
            let session_dir = rig.drive().join(&session_id);
            for e in std::fs::read_dir(&session_dir).unwrap().flatten() {
                let name = e.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                let copy = std::fs::read(via_smb.join(&name)).ok();
                if copy.as_deref() != std::fs::read(e.path()).ok().as_deref() {
                    findings.violations.push(format!(
                        "{}/{}: the copy read over SMB differs or is missing",
                        session_id,
                        name.to_string_lossy()
                    ));
                }
            }
        }
    }

    // Neither daemon panicked (a failpoint's panic is asked for).
    for s in [&hosts.capture, &hosts.control, &hosts.smbd] {
        findings
            .violations
            .extend(s.unexpected_exits.iter().cloned());
    }
    for l in capture_logs.iter().chain(hosts.control.all_logs().iter()) {
        if l.contains("target=takebox::panic") && !l.contains("failpoint") {
            findings.violations.push(format!("a daemon panicked: {l}"));
        }
    }
    for f in &injected {
        if f.ready.is_some_and(|r| r > READY_WITHIN) {
            findings.violations.push(format!(
                "{}: ready {:.1} s after it healed",
                f.kind.label(),
                f.ready.unwrap().as_secs_f64()
            ));
        }
    }
    let counted: BTreeSet<Kind> = injected.iter().map(|f| f.kind).collect();
    for k in faults::ALL {
        if !counted.contains(&k) {
            findings
                .violations
                .push(format!("{} was never injected", k.label()));
        }
    }

    let table = table(
        seed,
        total,
        &findings,
        &injected,
        presses,
        run_time,
        proxy
            .controls
            .clocks_moved
            .load(std::sync::atomic::Ordering::SeqCst),
    );
    println!("{table}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak-table.txt");
    std::fs::write(&out, &table).unwrap();
    assert!(
        findings.violations.is_empty(),
        "{} invariant(s) broken (seed {seed}):\n{}\n{table}",
        findings.violations.len(),
        findings.violations.join("\n")
    );
    drop(hosts);
}

fn table(
    seed: u64,
    total: u64,
    f: &check::Findings,
    injected: &[Injected],
    presses: u32,
    run_time: Duration,
    clocks_moved: u64,
) -> String {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut t = String::new();
    let _ = writeln!(
        t,
        "takebox soak, {} UTC, {host} ({cores} cores), seed {seed}",
        takebox::protocol::Timestamp::now()
            .to_string()
            .get(..16)
            .unwrap_or_default()
            .replace('T', " ")
    );
    let _ = writeln!(
        t,
        "takes planned {total}: confirmed ok {}, with a warning {}, skipped {}, still open {}",
        f.confirmed_ok, f.confirmed_warn, f.skipped, f.open
    );
    let _ = writeln!(
        t,
        "warnings: {}",
        f.warnings
            .iter()
            .map(|(w, n)| format!("{w} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        t,
        "re-armed {} (by the board), Start pressed again {presses} (by the person)",
        f.rearmed
    );
    let _ = writeln!(
        t,
        "lost {}, duplicated {}, overwritten {}, other violations {}",
        f.lost,
        f.duplicated,
        f.overwritten,
        f.violations
            .len()
            .saturating_sub(f.lost + f.duplicated + f.overwritten)
    );
    let _ = writeln!(
        t,
        "{:<19} {:>6}  {:>13}  {:>13}  {:>9}  moments struck",
        "fault", "count", "recovery p50", "recovery max", "ready max"
    );
    let mut by_kind: BTreeMap<Kind, Vec<&Injected>> = BTreeMap::new();
    for i in injected {
        by_kind.entry(i.kind).or_default().push(i);
    }
    let secs = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    for (kind, list) in &by_kind {
        let mut rec: Vec<Duration> = list.iter().filter_map(|i| i.recovery).collect();
        let mut ready: Vec<Duration> = list.iter().filter_map(|i| i.ready).collect();
        let mut moments: BTreeMap<&str, usize> = BTreeMap::new();
        for i in list {
            *moments.entry(i.moment.as_str()).or_default() += 1;
        }
        let moments: Vec<String> = moments.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let mut details: Vec<&str> = list
            .iter()
            .map(|i| i.detail.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        details.dedup();
        let _ = writeln!(
            t,
            "{:<19} {:>6}  {:>13}  {:>13}  {:>9}  {}{}",
            kind.label(),
            list.len(),
            secs(percentile(&mut rec, 0.5)),
            secs(percentile(&mut rec, 1.0)),
            secs(percentile(&mut ready, 1.0)),
            moments.join(", "),
            if details.is_empty() {
                String::new()
            } else {
                format!(" [{}]", details.join(", "))
            }
        );
    }
    let _ = writeln!(
        t,
        "status answers with the clock stepped: {clocks_moved}; confirmations logged again after a restart: {}",
        f.repeated_lines
    );
    let _ = writeln!(
        t,
        "{} faults in {:.1} min: {:.0} takes per hour",
        injected.len(),
        run_time.as_secs_f64() / 60.0,
        total as f64 * 3600.0 / run_time.as_secs_f64()
    );
    t
}
