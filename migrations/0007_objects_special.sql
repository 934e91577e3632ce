-- What a listed entry is when it is not a regular file: 'symlink', 'dangling-symlink', 'fifo', 'socket',
-- 'character-device', 'block-device' or 'other' (SpecialFile's raw values). Such entries are indexed as kind
-- 'unrecognized' and reported, never followed or read. NULL for regular files.
ALTER TABLE objects ADD COLUMN special TEXT;
