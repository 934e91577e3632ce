-- One row per scan of one source (a storage target or the cluster exports).
-- A scan's changes and its row are written in one transaction; a failed scan writes only its row.
CREATE TABLE scans (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,          -- 'portal', 'management' or 'cluster'
    location       TEXT NOT NULL,          -- where it looked (no credentials)
    started_at     REAL NOT NULL,          -- Unix seconds, UTC
    finished_at    REAL NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    objects_seen   INTEGER NOT NULL DEFAULT 0,
    objects_added  INTEGER NOT NULL DEFAULT 0,
    objects_gone   INTEGER NOT NULL DEFAULT 0,
    error_code     TEXT,                   -- finding code of a failed scan, e.g. TARGET_UNREACHABLE
    error          TEXT                    -- one line, never credentials
);
CREATE INDEX scans_source ON scans (source, id);

-- Storage objects. A changed size or mtime is a new version: the old row is marked gone.
-- last_seen_scan is set when a row goes; a row still present was seen by its source's latest ok scan.
CREATE TABLE objects (
    id               INTEGER PRIMARY KEY,
    source           TEXT NOT NULL,
    key              TEXT NOT NULL,        -- path relative to the target's root
    size             INTEGER NOT NULL,
    mtime            REAL,
    kind             TEXT NOT NULL,        -- ObjectKind raw value; 'unrecognized' is kept, never dropped
    time             REAL,                 -- portal backup files: the time in the name, Unix seconds UTC
    site             TEXT,                 -- portal site backup files: the site's identity (host@porg@catalog)
    first_seen_scan  INTEGER NOT NULL REFERENCES scans (id),
    last_seen_scan   INTEGER REFERENCES scans (id),
    gone_scan        INTEGER REFERENCES scans (id)
);
CREATE UNIQUE INDEX objects_present ON objects (source, key) WHERE gone_scan IS NULL;
CREATE INDEX objects_kind ON objects (source, kind) WHERE gone_scan IS NULL;

-- Management backups, each built from several objects (a pgBackRest label with its backup.info entry and
-- manifest, a barman-cloud backup.info and data). A portal backup is one file: its parse lives on its object row.
CREATE TABLE backups (
    id               INTEGER PRIMARY KEY,
    source           TEXT NOT NULL,
    backup_id        TEXT NOT NULL,        -- pgBackRest label or barman "server/backupId"
    kind             TEXT NOT NULL,        -- 'pgbackrest', 'barman'
    time             REAL NOT NULL,        -- the point in time it restores to, Unix seconds UTC
    payload          TEXT NOT NULL,        -- the full record as JSON (status, chain, detail)
    first_seen_scan  INTEGER NOT NULL REFERENCES scans (id),
    gone_scan        INTEGER REFERENCES scans (id)
);
CREATE UNIQUE INDEX backups_present ON backups (source, backup_id) WHERE gone_scan IS NULL;

-- PortalBackup / ManagementBackup / EDB Backup custom resources from the cluster.
CREATE TABLE cluster_records (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,        -- 'PortalBackup', 'ManagementBackup', 'Backup'
    name             TEXT NOT NULL,
    phase            TEXT,
    payload          TEXT NOT NULL,
    first_seen_scan  INTEGER NOT NULL REFERENCES scans (id),
    gone_scan        INTEGER REFERENCES scans (id)
);
CREATE UNIQUE INDEX cluster_records_present ON cluster_records (kind, name) WHERE gone_scan IS NULL;

-- One row per audit run, with what it found.
CREATE TABLE audits (
    id          INTEGER PRIMARY KEY,
    ran_at      REAL NOT NULL,
    now         REAL NOT NULL,             -- the --now it judged against
    status      TEXT NOT NULL CHECK (status IN ('ok', 'warn', 'fail'))
);
CREATE TABLE findings (
    id        INTEGER PRIMARY KEY,
    audit_id  INTEGER NOT NULL REFERENCES audits (id),
    code      TEXT NOT NULL,
    severity  TEXT NOT NULL CHECK (severity IN ('info', 'warn', 'fail')),
    subject   TEXT NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX findings_audit ON findings (audit_id);
