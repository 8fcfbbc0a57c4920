//! The catalog's tables, created and migrated in order. `schema_version` holds
//! one row per applied migration; a migration runs once, in a transaction,
//! under an advisory lock so two importers never migrate at the same time.

use tokio_postgres::Client;

/// Migrations in order; the version of each is its position plus one.
pub const MIGRATIONS: &[&str] = &[
    // 1: sessions, takes (the seed's recordings columns first), verdicts, and the
    //    seed's `recordings` as a view with exactly its columns.
    r#"
    CREATE TABLE sessions (
        session_id      text PRIMARY KEY,
        instrument      text,
        user_initials   text,
        started_at      timestamptz,
        last_line_at    timestamptz,
        end_status      text,
        settings        jsonb NOT NULL DEFAULT '{}'::jsonb,
        request         jsonb NOT NULL DEFAULT '{}'::jsonb,
        log_file        text NOT NULL,
        lines_imported  integer NOT NULL,
        imported_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE takes (
        take_id       text PRIMARY KEY,
        session_id    text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        filename      text NOT NULL,
        note          text NOT NULL,
        frequency     double precision NOT NULL,
        articulation  text NOT NULL,
        instrument    text NOT NULL,
        "timestamp"   timestamptz NOT NULL,
        dynamic       text,
        round_robin   integer,
        recorder      text,
        verdict       text NOT NULL,
        cents         double precision,
        superseded    boolean NOT NULL DEFAULT false,
        state         text,
        sha256        text,
        slot          integer,
        log_line      integer NOT NULL
    );
    CREATE INDEX takes_session ON takes (session_id);
    CREATE TABLE verdicts (
        take_id       text PRIMARY KEY REFERENCES takes (take_id) ON DELETE CASCADE,
        verdict       text NOT NULL,
        reason        text,
        take_check    jsonb
    );
    CREATE VIEW recordings AS
        SELECT session_id, filename, note, frequency, articulation, instrument, "timestamp"
        FROM takes;
    "#,
];

/// Bring the schema up to date; returns the version now in force.
pub async fn migrate(client: &mut Client) -> Result<i32, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // 'tkbx' as a number: one importer migrates, the others wait.
    tx.execute("SELECT pg_advisory_xact_lock(1953194616)", &[])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?;
    let current: i32 = row.get(0);
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i32 + 1;
        if version > current {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(MIGRATIONS.len() as i32)
}
