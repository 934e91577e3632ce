-- `verify --deep` also reads the archived WAL segments a point-in-time pair replays. Their results are rows of
-- source 'wal', whose version is the segment's object (objects.id, source 'management'), and whose subject is the
-- segment's key. SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows and
-- indexes as they were.
CREATE TABLE verifications_new (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL CHECK (source IN ('portal', 'management', 'wal')),
    version_id     INTEGER NOT NULL,       -- objects.id (portal, wal) or backups.id (management)
    subject        TEXT NOT NULL,          -- the portal key, the management backup id, or the WAL segment's key
    checked_at     REAL NOT NULL,
    deep           INTEGER NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('ok', 'skipped', 'failed')),
    code           TEXT,
    detail         TEXT,
    skipped        TEXT,
    bytes_read     INTEGER NOT NULL,
    entries        INTEGER,
    content_bytes  INTEGER
);
INSERT INTO verifications_new SELECT * FROM verifications;
DROP TABLE verifications;
ALTER TABLE verifications_new RENAME TO verifications;
CREATE INDEX verifications_version ON verifications (source, version_id, id);
CREATE INDEX verifications_checked ON verifications (checked_at);
CREATE INDEX verifications_not_ok ON verifications (id) WHERE outcome != 'ok';
