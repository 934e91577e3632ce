-- Present portal backup files in compact form, kept in step with `objects` by each scan's commit: pairs and the
-- audit read a million files as a million rows of four integers, not a million keys.
-- Sites and folders (the key before the file name, '' for none) are stored once, in `portal_names`.
-- rtrim(key, <key without slashes>) is the folder with its trailing slash; it is slow, so keys without one skip it.
CREATE TABLE portal_names (
    id    INTEGER PRIMARY KEY,
    text  TEXT NOT NULL UNIQUE
);

CREATE TABLE portal_files (
    source     TEXT NOT NULL,
    object_id  INTEGER NOT NULL REFERENCES objects (id),
    time       INTEGER NOT NULL,              -- from the name, Unix seconds UTC
    site_id    INTEGER REFERENCES portal_names (id), -- NULL for the system backup
    folder_id  INTEGER NOT NULL REFERENCES portal_names (id),
    size       INTEGER NOT NULL,
    PRIMARY KEY (source, time, object_id)  -- read in time order, as pairing needs them
) WITHOUT ROWID;

-- Indexes made before this migration: fill from the present portal objects.
INSERT OR IGNORE INTO portal_names (text)
    SELECT site FROM objects WHERE gone_scan IS NULL AND kind IN ('portal-system', 'portal-site') AND site IS NOT NULL
    UNION
    SELECT CASE WHEN instr(key, '/') = 0 THEN '' ELSE rtrim(key, replace(key, '/', '')) END FROM objects WHERE gone_scan IS NULL AND kind IN ('portal-system', 'portal-site');
INSERT INTO portal_files (source, object_id, time, site_id, folder_id, size)
    SELECT o.source, o.id, CAST(o.time AS INTEGER), s.id, f.id, o.size
    FROM objects o
    LEFT JOIN portal_names s ON s.text = o.site
    JOIN portal_names f ON f.text = CASE WHEN instr(o.key, '/') = 0 THEN '' ELSE rtrim(o.key, replace(o.key, '/', '')) END
    WHERE o.gone_scan IS NULL AND o.kind IN ('portal-system', 'portal-site')
    ORDER BY 1, 3, 2;
