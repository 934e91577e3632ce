-- WAL archives of management targets, kept compact: one row per archived segment, in archive, timeline and
-- position order, so the audit reads a million segments as runs of consecutive positions without a key per row.
-- The archive is named by its folder's key: pgBackRest `…/archive/<stanza>/<archive-id>`, barman-cloud
-- `<server>/wals`. Kept in step with `objects` by each scan commit that adds or marks gone a segment.
CREATE TABLE wal_archives (
    id      INTEGER PRIMARY KEY,
    source  TEXT NOT NULL,
    name    TEXT NOT NULL,
    UNIQUE (source, name)
);

CREATE TABLE wal_segments (
    archive_id  INTEGER NOT NULL REFERENCES wal_archives (id),
    timeline    INTEGER NOT NULL,
    segment     INTEGER NOT NULL,             -- log × 256 + segment (16 MiB segments)
    object_id   INTEGER NOT NULL REFERENCES objects (id),
    time        INTEGER NOT NULL,             -- archive time: the object's mtime, Unix seconds UTC (0: unknown)
    PRIMARY KEY (archive_id, timeline, segment, object_id)
) WITHOUT ROWID;

-- Which version of the name classifier last judged a source's objects. When a newer dr-audit recognises more
-- (WAL segments, host-only site names), its first scan of the source re-judges the present objects and rebuilds
-- `portal_files` and `wal_segments` from them.
CREATE TABLE source_classifier (
    source   TEXT PRIMARY KEY,
    version  INTEGER NOT NULL
);
