//! Session logs into PostgreSQL: one transaction per session, every take upserted
//! by its take id (in batches of [`BATCH`] rows, columns sent as arrays), so importing a log twice, or again after it grew, leaves one
//! row per take. Lines that cannot be read are reported (`file:line`) and skipped.

use super::CatalogError;
use super::log_reader::{self, LineError, SessionRecord, TakeLine};
use crate::protocol::{TakeCheck, TakeState};

use super::schema;
use crate::session_log_format::Confirmed;
use std::path::{Path, PathBuf};
use tokio_postgres::{Client, NoTls, Statement, Transaction};

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub sessions: usize,
    pub takes: usize,
    /// Lines skipped, with where they are.
    pub bad_lines: Vec<LineError>,
    /// Logs that could not be imported at all, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Connect (no TLS; a Unix socket is `host=/dir` or `postgres://user@%2Fdir/db`).
pub async fn connect(url: &str) -> Result<Client, CatalogError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(CatalogError::Connect)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::error!(target: "takebox::catalog", "database connection: {e}");
        }
    });
    Ok(client)
}

/// The log files named: files as they are, folders for their `*.jsonl`.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, CatalogError> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            out.extend(log_reader::logs_in(p).map_err(CatalogError::Read)?);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(CatalogError::Missing(p.clone()));
        }
    }
    Ok(out)
}

/// Migrate the schema, then import every log.
pub async fn import_logs(
    client: &mut Client,
    logs: &[PathBuf],
) -> Result<ImportReport, CatalogError> {
    schema::migrate(client)
        .await
        .map_err(CatalogError::Migrate)?;
    let mut report = ImportReport::default();
    for path in logs {
        let rec = match log_reader::read(path) {
            Ok(r) => r,
            Err(e) => {
                report.failed.push((path.clone(), e.to_string()));
                continue;
            }
        };
        report.bad_lines.extend(rec.errors.iter().cloned());
        match import_session(client, &rec).await {
            Ok(n) => {
                report.sessions += 1;
                report.takes += n;
                mark_imported(path, rec.lines);
            }
            Err(e) => report
                .failed
                .push((path.clone(), format!("session {}: {e}", rec.session_id))),
        }
    }
    Ok(report)
}

/// `<log>.imported` holds how many lines were imported, for the retention job's
/// "not yet imported" rule. A log folder we cannot write into only loses that.
fn mark_imported(log: &Path, lines: usize) {
    let mut name = log.as_os_str().to_owned();
    name.push(".imported");
    let marker = PathBuf::from(name);
    if let Err(e) = crate::durable::write_atomic(&marker, format!("{lines}\n").as_bytes()) {
        log::warn!(target: "takebox::catalog", "{}: {e}", marker.display());
    }
}

const UPSERT_SESSION: &str = r#"
INSERT INTO sessions (session_id, instrument, user_initials, started_at, last_line_at,
                      end_status, settings, request, log_file, lines_imported, imported_at)
VALUES ($1, $2, $3, $4::text::timestamptz, $5::text::timestamptz, $6, $7::text::jsonb,
        $8::text::jsonb, $9, $10, now())
ON CONFLICT (session_id) DO UPDATE SET
    instrument = EXCLUDED.instrument, user_initials = EXCLUDED.user_initials,
    started_at = EXCLUDED.started_at, last_line_at = EXCLUDED.last_line_at,
    end_status = EXCLUDED.end_status, settings = EXCLUDED.settings,
    request = EXCLUDED.request, log_file = EXCLUDED.log_file,
    lines_imported = EXCLUDED.lines_imported, imported_at = now()"#;

/// Takes go in batches: one statement per batch, its columns as arrays.
pub const BATCH: usize = 1000;

const UPSERT_TAKES: &str = r#"
INSERT INTO takes (take_id, session_id, filename, note, frequency, articulation, instrument,
                   "timestamp", dynamic, round_robin, recorder, verdict, cents, superseded,
                   state, sha256, slot, log_line)
SELECT t.take_id, $2, t.filename, t.note, t.frequency, t.articulation, t.instrument,
       t.ts::timestamptz, t.dynamic, t.round_robin, t.recorder, t.verdict, t.cents,
       t.superseded, t.state, t.sha256, t.slot, t.log_line
FROM unnest($1::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::int4[], $11::text[], $12::text[], $13::float8[],
            $14::bool[], $15::text[], $16::text[], $17::int4[], $18::int4[])
     AS t(take_id, filename, note, frequency, articulation, instrument, ts, dynamic,
          round_robin, recorder, verdict, cents, superseded, state, sha256, slot, log_line)
ON CONFLICT (take_id) DO UPDATE SET
    session_id = EXCLUDED.session_id, filename = EXCLUDED.filename, note = EXCLUDED.note,
    frequency = EXCLUDED.frequency, articulation = EXCLUDED.articulation,
    instrument = EXCLUDED.instrument, "timestamp" = EXCLUDED."timestamp",
    dynamic = EXCLUDED.dynamic, round_robin = EXCLUDED.round_robin,
    recorder = EXCLUDED.recorder, verdict = EXCLUDED.verdict, cents = EXCLUDED.cents,
    superseded = EXCLUDED.superseded, state = EXCLUDED.state, sha256 = EXCLUDED.sha256,
    slot = EXCLUDED.slot, log_line = EXCLUDED.log_line"#;

const UPSERT_VERDICTS: &str = r#"
INSERT INTO verdicts (take_id, verdict, reason, take_check)
SELECT t.take_id, t.verdict, t.reason, t.take_check::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     AS t(take_id, verdict, reason, take_check)
ON CONFLICT (take_id) DO UPDATE SET
    verdict = EXCLUDED.verdict, reason = EXCLUDED.reason, take_check = EXCLUDED.take_check"#;

/// One session in one transaction; returns the takes written.
pub async fn import_session(
    client: &mut Client,
    rec: &SessionRecord,
) -> Result<usize, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    upsert_session(&tx, rec).await?;
    let takes = tx.prepare(UPSERT_TAKES).await?;
    let verdicts = tx.prepare(UPSERT_VERDICTS).await?;
    // The reader keeps one entry per take id, so no batch names a take twice.
    for chunk in rec.takes.chunks(BATCH) {
        upsert_takes(&tx, [&takes, &verdicts], &rec.session_id, chunk).await?;
    }
    tx.commit().await?;
    Ok(rec.takes.len())
}

async fn upsert_session(
    tx: &Transaction<'_>,
    rec: &SessionRecord,
) -> Result<(), tokio_postgres::Error> {
    let settings = rec.settings.to_string();
    let request = rec.request.to_string();
    let lines = rec.lines as i32;
    let log_file = rec.path.display().to_string();
    let end_status = rec.end_status.map(|s| s.as_str());
    tx.execute(
        UPSERT_SESSION,
        &[
            &rec.session_id,
            &rec.instrument,
            &rec.user_initials,
            &rec.started,
            &rec.last_time,
            &end_status,
            &settings,
            &request,
            &log_file,
            &lines,
        ],
    )
    .await?;
    Ok(())
}

/// One batch of takes, its columns as arrays: into `takes`, then `verdicts`.
async fn upsert_takes(
    tx: &Transaction<'_>,
    [takes, verdicts]: [&Statement; 2],
    session_id: &String,
    chunk: &[TakeLine],
) -> Result<(), tokio_postgres::Error> {
    let col = |f: &dyn Fn(&Confirmed) -> String| {
        chunk.iter().map(|t| f(&t.confirmed)).collect::<Vec<_>>()
    };
    let opt = |f: &dyn for<'t> Fn(&'t Confirmed) -> Option<&'t str>| {
        chunk.iter().map(|t| f(&t.confirmed)).collect::<Vec<_>>()
    };
    let int = |f: &dyn Fn(&Confirmed) -> Option<i32>| {
        chunk.iter().map(|t| f(&t.confirmed)).collect::<Vec<_>>()
    };
    let take_id = col(&|t| t.take_id.to_string());
    let filename = col(&|t| t.filename.clone());
    let note = col(&|t| t.note.clone());
    let frequency: Vec<f64> = chunk.iter().map(|t| t.confirmed.frequency).collect();
    let articulation = col(&|t| t.articulation.clone());
    let instrument = col(&|t| t.instrument.clone());
    let timestamp = col(&|t| t.timestamp.to_string());
    let dynamic = opt(&|t| t.dynamic.as_deref());
    let round_robin = int(&|t| t.round_robin.map(|r| r as i32));
    let recorder = opt(&|t| t.recorder.as_deref());
    let verdict = col(&|t| t.judgement.disposition.as_str().to_string());
    let cents: Vec<Option<f64>> = chunk.iter().map(TakeLine::cents).collect();
    let superseded: Vec<bool> = chunk.iter().map(|t| t.superseded).collect();
    let state = opt(&|t| t.state.map(TakeState::as_str));
    let sha256 = opt(&|t| t.sha256.as_deref());
    let slot = int(&|t| t.slot.map(|s| s as i32));
    let line: Vec<i32> = chunk.iter().map(|t| t.line as i32).collect();
    tx.execute(
        takes,
        &[
            &take_id,
            session_id,
            &filename,
            &note,
            &frequency,
            &articulation,
            &instrument,
            &timestamp,
            &dynamic,
            &round_robin,
            &recorder,
            &verdict,
            &cents,
            &superseded,
            &state,
            &sha256,
            &slot,
            &line,
        ],
    )
    .await?;
    let reason = opt(&|t| t.judgement.reason.as_deref());
    // A jsonb column: the keys' order does not matter.
    let check: Vec<Option<String>> = chunk
        .iter()
        .map(|t| t.confirmed.check.as_ref().map(json))
        .collect();
    tx.execute(verdicts, &[&take_id, &verdict, &reason, &check])
        .await?;
    Ok(())
}

fn json(check: &TakeCheck) -> String {
    serde_json::to_string(check).expect("a take check serializes")
}
