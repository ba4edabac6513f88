/**
 * Versioned schema migrations for the store, one history for SQLite and PostgreSQL. Append only: a released migration is never
 * edited; a change is a new version. Each runs in its own transaction with its version row.
 */
/**
 * One migration of the store, in both dialects side by side: `sql` for SQLite (the embedded default),
 * `postgres` for PostgreSQL. They differ only where the databases do: 64-bit times are BIGINT on
 * PostgreSQL (its INTEGER is 32-bit), identity columns instead of SQLite's rowid, a trigger function
 * instead of RAISE, no WITHOUT ROWID. Every row reads the same from either (core/store/tables.ts).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly postgres: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, journal, signals, tasks, audit, outbox',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        open_key TEXT NOT NULL,
        batch_id TEXT,
        tenant TEXT NOT NULL,
        playbook TEXT NOT NULL,
        app TEXT NOT NULL,
        subject TEXT NOT NULL,
        request TEXT NOT NULL,
        plan TEXT NOT NULL,
        profile TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'waiting', 'completed', 'failed', 'cancelled')),
        outcome TEXT,
        waiting_for TEXT,
        wake_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      -- One open run per playbook, app and person: the same request while one is open returns it.
      CREATE UNIQUE INDEX runs_open_key ON runs (open_key) WHERE status IN ('running', 'waiting');
      CREATE INDEX runs_due ON runs (status, wake_at);
      CREATE INDEX runs_batch ON runs (batch_id);

      CREATE TABLE journal (
        run_id TEXT NOT NULL REFERENCES runs (id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (run_id, key)
      ) WITHOUT ROWID;

      CREATE TABLE signals (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id),
        name TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL
      );
      CREATE INDEX signals_run ON signals (run_id, name);

      CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs (id),
        step_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        channel TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        evidence TEXT NOT NULL DEFAULT '[]',
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, step_id)
      ) WITHOUT ROWID;

      CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        batch_key TEXT UNIQUE,
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        runbook TEXT NOT NULL,
        title TEXT NOT NULL,
        queue TEXT NOT NULL,
        assignee TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'completed', 'failed', 'cancelled')),
        content TEXT NOT NULL,
        steps_done TEXT NOT NULL DEFAULT '[]',
        due_at INTEGER NOT NULL,
        escalations INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        closed_at INTEGER,
        closed_by TEXT,
        evidence TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX tasks_open ON tasks (status, queue, due_at);

      CREATE TABLE task_items (
        task_id TEXT NOT NULL REFERENCES tasks (id),
        run_id TEXT NOT NULL REFERENCES runs (id),
        step_id TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'done', 'already-done', 'failed', 'cancelled')),
        closed_by TEXT,
        evidence TEXT NOT NULL DEFAULT '[]',
        -- A step can have several tasks over time (escalated after a failure), one section in each.
        PRIMARY KEY (task_id, run_id, step_id)
      ) WITHOUT ROWID;
      CREATE INDEX task_items_run ON task_items (run_id, step_id);

      CREATE TABLE audit (
        -- AUTOINCREMENT keeps the highest seq ever used in sqlite_sequence, so removing the last rows shows.
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        run_id TEXT,
        task_id TEXT,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_run ON audit (run_id);
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        delivered_at INTEGER,
        last_error TEXT
      );
      CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
    `,
    postgres: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        open_key TEXT NOT NULL,
        batch_id TEXT,
        tenant TEXT NOT NULL,
        playbook TEXT NOT NULL,
        app TEXT NOT NULL,
        subject TEXT NOT NULL,
        request TEXT NOT NULL,
        plan TEXT NOT NULL,
        profile TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'waiting', 'completed', 'failed', 'cancelled')),
        outcome TEXT,
        waiting_for TEXT,
        wake_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        finished_at BIGINT
      );
      CREATE UNIQUE INDEX runs_open_key ON runs (open_key) WHERE status IN ('running', 'waiting');
      CREATE INDEX runs_due ON runs (status, wake_at);
      CREATE INDEX runs_batch ON runs (batch_id);

      CREATE TABLE journal (
        run_id TEXT NOT NULL REFERENCES runs (id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (run_id, key)
      );

      CREATE TABLE signals (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id),
        name TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        at BIGINT NOT NULL
      );
      CREATE INDEX signals_run ON signals (run_id, name);

      CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs (id),
        step_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        channel TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        evidence TEXT NOT NULL DEFAULT '[]',
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (run_id, step_id)
      );

      CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        batch_key TEXT UNIQUE,
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        runbook TEXT NOT NULL,
        title TEXT NOT NULL,
        queue TEXT NOT NULL,
        assignee TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'completed', 'failed', 'cancelled')),
        content TEXT NOT NULL,
        steps_done TEXT NOT NULL DEFAULT '[]',
        due_at BIGINT NOT NULL,
        escalations INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        closed_at BIGINT,
        closed_by TEXT,
        evidence TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX tasks_open ON tasks (status, queue, due_at);

      CREATE TABLE task_items (
        task_id TEXT NOT NULL REFERENCES tasks (id),
        run_id TEXT NOT NULL REFERENCES runs (id),
        step_id TEXT NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'done', 'already-done', 'failed', 'cancelled')),
        closed_by TEXT,
        evidence TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (task_id, run_id, step_id)
      );
      CREATE INDEX task_items_run ON task_items (run_id, step_id);

      CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        run_id TEXT,
        task_id TEXT,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_run ON audit (run_id);
      CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
      CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
      CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
      -- The highest seq ever written, as SQLite's AUTOINCREMENT keeps it, so that rows removed from the end show.
      CREATE SEQUENCE audit_highest MINVALUE 0 START 0;
      CREATE FUNCTION audit_note_highest() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM setval('audit_highest', NEW.seq); RETURN NEW; END $$;
      CREATE TRIGGER audit_highest AFTER INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_note_highest();

      CREATE TABLE outbox (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        delivered_at BIGINT,
        last_error TEXT
      );
      CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
    `,
  },
  {
    version: 2,
    name: 'bulk jobs: one import per batch and step, shared by the batch\'s runs',
    sql: `
      CREATE TABLE bulk_jobs (
        key TEXT PRIMARY KEY,
        result TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
    postgres: `
      CREATE TABLE bulk_jobs (key TEXT PRIMARY KEY, result TEXT NOT NULL, created_at BIGINT NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'operator surfaces: API tokens, operators, sessions, one-time form tokens',
    sql: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('operator', 'admin')),
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
      );
      CREATE TABLE operators (
        email TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('operator', 'admin')),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        email TEXT NOT NULL REFERENCES operators (email),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE form_tokens (
        token_hash TEXT PRIMARY KEY,
        session_hash TEXT NOT NULL,
        used_at INTEGER NOT NULL
      );
    `,
    postgres: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('operator', 'admin')),
        secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
      );
      CREATE TABLE operators (
        email TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('operator', 'admin')),
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        email TEXT NOT NULL REFERENCES operators (email),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE TABLE form_tokens (token_hash TEXT PRIMARY KEY, session_hash TEXT NOT NULL, used_at BIGINT NOT NULL);
    `,
  },
  {
    version: 4,
    name: 'reconciliation history: each reconciliation with its sources and findings, for the trend and the findings\' age',
    sql: `
      CREATE TABLE reconciliations (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        at INTEGER NOT NULL,
        idp_source TEXT NOT NULL,
        app_source TEXT NOT NULL,
        identities INTEGER NOT NULL,
        accounts INTEGER NOT NULL,
        matched INTEGER NOT NULL,
        by_kind TEXT NOT NULL
      );
      CREATE INDEX reconciliations_app ON reconciliations (tenant, app, at);
      CREATE TABLE reconcile_findings (
        reconciliation_id INTEGER NOT NULL REFERENCES reconciliations (id),
        kind TEXT NOT NULL,
        person TEXT NOT NULL,
        detail TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL
      );
      CREATE INDEX reconcile_findings_of ON reconcile_findings (reconciliation_id);
    `,
    postgres: `
      CREATE TABLE reconciliations (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        at BIGINT NOT NULL,
        idp_source TEXT NOT NULL,
        app_source TEXT NOT NULL,
        identities INTEGER NOT NULL,
        accounts INTEGER NOT NULL,
        matched INTEGER NOT NULL,
        by_kind TEXT NOT NULL
      );
      CREATE INDEX reconciliations_app ON reconciliations (tenant, app, at);
      CREATE TABLE reconcile_findings (
        reconciliation_id BIGINT NOT NULL REFERENCES reconciliations (id),
        kind TEXT NOT NULL,
        person TEXT NOT NULL,
        detail TEXT NOT NULL,
        first_seen_at BIGINT NOT NULL
      );
      CREATE INDEX reconcile_findings_of ON reconcile_findings (reconciliation_id);
    `,
  },
  {
    version: 5,
    name: 'leaver feed: how far each app\'s IdP events have been read',
    sql: `
      CREATE TABLE feed_cursors (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        since INTEGER NOT NULL,
        read_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, app)
      ) WITHOUT ROWID;
    `,
    postgres: `
      CREATE TABLE feed_cursors (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        since BIGINT NOT NULL,
        read_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, app)
      );
    `,
  },
  {
    version: 6,
    name: 'API token hygiene: scopes, expiry, rotation',
    sql: `
      -- Tokens made before scopes existed keep what they could do (read and write runs and tasks, read the
      -- matrix and the reconciliation); an admin token also keeps seeing every queue's tasks.
      ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'runs:read runs:write tasks:read tasks:write reconcile:read matrix:read';
      UPDATE api_tokens SET scopes = scopes || ' tasks:all-queues' WHERE role = 'admin';
      -- Tokens made before expiry existed expire 90 days after this migration.
      ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
      UPDATE api_tokens SET expires_at = CAST(unixepoch('subsec') * 1000 AS INTEGER) + 90 * 86400000;
      ALTER TABLE api_tokens ADD COLUMN rotated_from TEXT;
    `,
    postgres: `
      ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'runs:read runs:write tasks:read tasks:write reconcile:read matrix:read';
      UPDATE api_tokens SET scopes = scopes || ' tasks:all-queues' WHERE role = 'admin';
      ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
      UPDATE api_tokens SET expires_at = (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT + 90::BIGINT * 86400000;
      ALTER TABLE api_tokens ADD COLUMN rotated_from TEXT;
    `,
  },
  {
    version: 7,
    name: 'reconciliation completeness: a reconciliation over a short read is stored as incomplete, with why, and is never an audit',
    sql: `
      ALTER TABLE reconciliations ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE reconciliations ADD COLUMN incomplete_reasons TEXT NOT NULL DEFAULT '[]';
      CREATE INDEX reconciliations_audits ON reconciliations (tenant, app, complete, at);
    `,
    postgres: `
      ALTER TABLE reconciliations ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE reconciliations ADD COLUMN incomplete_reasons TEXT NOT NULL DEFAULT '[]';
      CREATE INDEX reconciliations_audits ON reconciliations (tenant, app, complete, at);
    `,
  },
  {
    version: 8,
    name: 'known identifiers: every id, email, userName and externalId seen for a person in an app, with when and where',
    sql: `
      CREATE TABLE known_identifiers (
        tenant TEXT NOT NULL,
        person TEXT NOT NULL,
        app TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('id', 'email', 'userName', 'externalId')),
        value TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        first_seen_in TEXT NOT NULL,
        last_seen_at INTEGER NOT NULL,
        last_seen_in TEXT NOT NULL,
        PRIMARY KEY (tenant, person, app, kind, value)
      ) WITHOUT ROWID;
      CREATE INDEX known_identifiers_value ON known_identifiers (tenant, app, kind, value);
    `,
    postgres: `
      CREATE TABLE known_identifiers (
        tenant TEXT NOT NULL,
        person TEXT NOT NULL,
        app TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('id', 'email', 'userName', 'externalId')),
        value TEXT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        first_seen_in TEXT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        last_seen_in TEXT NOT NULL,
        PRIMARY KEY (tenant, person, app, kind, value)
      );
      CREATE INDEX known_identifiers_value ON known_identifiers (tenant, app, kind, value);
    `,
  },
  {
    version: 10,
    name: 'the SCIM bridge: the Users an identity provider provisions into an app through Patchbay, with the run each write started',
    sql: `
      CREATE TABLE scim_resources (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        user_name_folded TEXT NOT NULL,
        external_id TEXT,
        email_folded TEXT,
        attributes TEXT NOT NULL,
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_modified INTEGER NOT NULL,
        run_id TEXT,
        run_operation TEXT,
        failure TEXT,
        deleted_at INTEGER,
        PRIMARY KEY (tenant, app, id)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX scim_resources_user_name ON scim_resources (tenant, app, user_name_folded) WHERE deleted_at IS NULL;
      CREATE INDEX scim_resources_external_id ON scim_resources (tenant, app, external_id) WHERE deleted_at IS NULL;
      CREATE INDEX scim_resources_email ON scim_resources (tenant, app, email_folded) WHERE deleted_at IS NULL;
      CREATE TABLE scim_runs (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, app, id, run_id)
      ) WITHOUT ROWID;
    `,
    postgres: `
      CREATE TABLE scim_resources (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        user_name_folded TEXT NOT NULL,
        external_id TEXT,
        email_folded TEXT,
        attributes TEXT NOT NULL,
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        version INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        last_modified BIGINT NOT NULL,
        run_id TEXT,
        run_operation TEXT,
        failure TEXT,
        deleted_at BIGINT,
        PRIMARY KEY (tenant, app, id)
      );
      CREATE UNIQUE INDEX scim_resources_user_name ON scim_resources (tenant, app, user_name_folded) WHERE deleted_at IS NULL;
      CREATE INDEX scim_resources_external_id ON scim_resources (tenant, app, external_id) WHERE deleted_at IS NULL;
      CREATE INDEX scim_resources_email ON scim_resources (tenant, app, email_folded) WHERE deleted_at IS NULL;
      CREATE TABLE scim_runs (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, app, id, run_id)
      );
    `,
  },
  {
    version: 12,
    name: 'open tasks ordered by due time: escalation reads only the overdue ones, whatever the backlog',
    sql: `
      -- The (status, queue, due_at) index orders by queue first, so "open and past due, by due time" walked every
      -- open task and sorted them on each run start and completion. Partial: closed tasks are never due.
      CREATE INDEX tasks_open_due ON tasks (due_at, id) WHERE status = 'open';
      -- An index for each sort the lists offer (core/server/listing.ts), so that no page sorts the whole table:
      -- tasks of one status (or all) by due time without a queue, runs newest first with or without a status.
      DROP INDEX tasks_open;
      CREATE INDEX tasks_queue_due ON tasks (status, queue, due_at, id);
      CREATE INDEX tasks_status_due ON tasks (status, due_at, id);
      CREATE INDEX tasks_due ON tasks (due_at, id);
      CREATE INDEX runs_created ON runs (created_at, id);
      CREATE INDEX runs_status_created ON runs (status, created_at, id);
    `,
    postgres: `
      CREATE INDEX tasks_open_due ON tasks (due_at, id) WHERE status = 'open';
      DROP INDEX tasks_open;
      CREATE INDEX tasks_queue_due ON tasks (status, queue, due_at, id);
      CREATE INDEX tasks_status_due ON tasks (status, due_at, id);
      CREATE INDEX tasks_due ON tasks (due_at, id);
      CREATE INDEX runs_created ON runs (created_at, id);
      CREATE INDEX runs_status_created ON runs (status, created_at, id);
    `,
  },
  {
    version: 13,
    name: 'the SCIM bridge: Group members (an entitlement each), and the task that tells the operator a bridge run failed',
    sql: `
      CREATE TABLE scim_group_members (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        member INTEGER NOT NULL CHECK (member IN (0, 1)),
        changes INTEGER NOT NULL,
        run_id TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, app, group_id, member_id)
      ) WITHOUT ROWID;
      CREATE TABLE scim_failure_tasks (
        run_id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
    postgres: `
      CREATE TABLE scim_group_members (
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        member INTEGER NOT NULL CHECK (member IN (0, 1)),
        changes INTEGER NOT NULL,
        run_id TEXT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, app, group_id, member_id)
      );
      CREATE TABLE scim_failure_tasks (run_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, created_at BIGINT NOT NULL);
    `,
  },
  {
    version: 14,
    name: 'run-less tasks: a canary that found a drifted console opens one task per connector and recipe while it stays open, with the tenant profile its queue is checked against',
    sql: `
      ALTER TABLE tasks ADD COLUMN open_key TEXT;
      ALTER TABLE tasks ADD COLUMN profile TEXT;
      CREATE UNIQUE INDEX tasks_open_key ON tasks (open_key) WHERE status = 'open' AND open_key IS NOT NULL;
    `,
    postgres: `
      ALTER TABLE tasks ADD COLUMN open_key TEXT;
      ALTER TABLE tasks ADD COLUMN profile TEXT;
      CREATE UNIQUE INDEX tasks_open_key ON tasks (open_key) WHERE status = 'open' AND open_key IS NOT NULL;
    `,
  },
  {
    version: 15,
    name: 'run timers ordered by due time: the engine finds the runs due now (and the next one) in one step down an index, whatever the number of waiting runs',
    sql: `
      -- A run has a wake time while it is open and due now or at a deadline (a new run, a signal, a retry, a
      -- task's timeout); closed runs have none. (status, wake_at) ordered by status first, so "due now, earliest
      -- first" searched each open status and sorted the union in a temporary B-tree on every pass of the loop.
      CREATE INDEX runs_timers ON runs (wake_at, id) WHERE wake_at IS NOT NULL;
      DROP INDEX runs_due;
    `,
    postgres: `
      CREATE INDEX runs_timers ON runs (wake_at, id) WHERE wake_at IS NOT NULL;
      DROP INDEX runs_due;
    `,
  },
  {
    version: 16,
    name: 'the task list in the shape it is answered: the name of the task\'s app beside it, the findings in the order they are paged',
    sql: `
      -- The list renders each title from the task's row and items ({app} is the app's name), so it needs no
      -- task's content parsed: the content, checklist ticks and evidence are answered as stored.
      ALTER TABLE tasks ADD COLUMN app_name TEXT NOT NULL DEFAULT '';
      UPDATE tasks SET app_name = coalesce(json_extract(content, '$.appName'), '');
      -- The findings of one reconciliation are paged by kind, person and detail: an index in that order, so a
      -- page walks it instead of sorting every finding of the reconciliation (it covers reconcile_findings_of).
      CREATE INDEX reconcile_findings_page ON reconcile_findings (reconciliation_id, kind, person, detail, first_seen_at);
      DROP INDEX reconcile_findings_of;
    `,
    postgres: `
      ALTER TABLE tasks ADD COLUMN app_name TEXT NOT NULL DEFAULT '';
      UPDATE tasks SET app_name = coalesce(content::json ->> 'appName', '');
      CREATE INDEX reconcile_findings_page ON reconcile_findings (reconciliation_id, kind, person, detail, first_seen_at);
      DROP INDEX reconcile_findings_of;
    `,
  },
  {
    version: 17,
    name: "the audit log's high-water mark kept in a table, so that it moves with the transaction that appends",
    // SQLite's AUTOINCREMENT counter (sqlite_sequence) is already transactional: nothing to change there.
    sql: `SELECT 1;`,
    postgres: `
      -- A sequence is not transactional: an append rolled back (a refused request in a group commit), or one not
      -- yet committed while \`audit verify\` read, left the mark above the last row and read as "rows removed from
      -- the end". A one-row table updated by the same trigger commits or rolls back with the row it counts.
      CREATE TABLE audit_high_water (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), seq BIGINT NOT NULL);
      INSERT INTO audit_high_water (seq)
        SELECT GREATEST(COALESCE((SELECT max(seq) FROM audit), 0), CASE WHEN is_called THEN last_value ELSE 0 END) FROM audit_highest;
      CREATE OR REPLACE FUNCTION audit_note_highest() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE audit_high_water SET seq = GREATEST(seq, NEW.seq); RETURN NEW; END $$;
      DROP SEQUENCE audit_highest;
    `,
  },
];
