-- What the last successful scan of the live cluster read of the objects the DR kit holds copies of, one row per
-- subsystem: the CR's DR-relevant fields, and a salted SHA-256 digest of each Secret's data (never a value).
-- The audit compares the kit's files with it (DR_KIT_STALE). Every successful live cluster scan replaces it.
CREATE TABLE live_kit (
    role     TEXT PRIMARY KEY CHECK (role IN ('portal', 'management')),
    scan_id  INTEGER NOT NULL REFERENCES scans (id),
    payload  TEXT NOT NULL                 -- Kit.LiveSubsystem as JSON
);
