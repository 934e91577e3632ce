-- The results of `dr-audit verify`: a portal archive, or a management backup, read end to end. A result belongs to
-- one version of what it read (objects.id for a portal file, backups.id for a management backup): a file uploaded
-- again, or a backup whose record changed, is a new version and unverified until read again. Rows are only added;
-- the latest row of a version is its result.
CREATE TABLE verifications (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL CHECK (source IN ('portal', 'management')),
    version_id     INTEGER NOT NULL,       -- objects.id (portal) or backups.id (management)
    subject        TEXT NOT NULL,          -- the portal key, or the management backup id
    checked_at     REAL NOT NULL,          -- the verify run's --now, Unix seconds UTC
    deep           INTEGER NOT NULL,       -- 1 with --deep
    outcome        TEXT NOT NULL CHECK (outcome IN ('ok', 'skipped', 'failed')),
    code           TEXT,                   -- a failure's finding code: ARCHIVE_CORRUPT, MGMT_FILE_MISSING, ...
    detail         TEXT,                   -- what broke and where (failed), or what was read
    skipped        TEXT,                   -- what was not checked, and why
    bytes_read     INTEGER NOT NULL,
    entries        INTEGER,                -- tar entries, or files checked
    content_bytes  INTEGER                 -- uncompressed bytes, or bytes of content compared
);
-- The latest result of a version; recent results; and failures, which the audit reads whatever their age.
CREATE INDEX verifications_version ON verifications (source, version_id, id);
CREATE INDEX verifications_checked ON verifications (checked_at);
CREATE INDEX verifications_not_ok ON verifications (id) WHERE outcome != 'ok';
