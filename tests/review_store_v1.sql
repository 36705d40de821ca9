-- A review store written by the schema-1 cetd_lib.review (commit 6d05ad7), dumped
-- with sqlite3 iterdump; tests/test_review_kinds.py loads it to test the migration.
BEGIN TRANSACTION;
CREATE TABLE history (  -- every save, append-only: an audit trail of revisions
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    rater_id   TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
INSERT INTO "history" VALUES(1,'model-vs-gold-phase2-v1-seed1-n3-92136239','old','calc','submitted','{"scores": {"left": {"accuracy": 4, "completeness": 3, "clarity": 5, "rebuildability": 4}, "right": {"accuracy": 2, "completeness": 2, "clarity": 3, "rebuildability": 2}}, "preference": "left", "rationale": "left is fuller"}','2026-11-23T16:15:04.826+00:00');
INSERT INTO "history" VALUES(2,'model-vs-gold-phase2-v1-seed1-n3-92136239','old','stack','draft','{"scores": {"left": {"accuracy": 3}, "right": {}}, "preference": null, "rationale": ""}','2026-11-23T16:15:04.827+00:00');
CREATE TABLE items (
    session_id         TEXT NOT NULL REFERENCES sessions(session_id),
    item_id            TEXT NOT NULL,
    position           INTEGER NOT NULL,
    app_id             TEXT NOT NULL,
    repeat_of          TEXT,           -- item_id of the first showing (self-consistency)
    left_source        TEXT NOT NULL,  -- the blinding map
    right_source       TEXT NOT NULL,
    left_requirements  TEXT NOT NULL,  -- JSON list of items
    right_requirements TEXT NOT NULL,
    code               TEXT NOT NULL,
    PRIMARY KEY (session_id, item_id)
);
INSERT INTO "items" VALUES('model-vs-gold-phase2-v1-seed1-n3-92136239','calc',0,'calc',NULL,'model','gold','["calc does one thing.", "calc rejects bad input."]','["calc behaves as its tests say."]','def calc():
    pass
');
INSERT INTO "items" VALUES('model-vs-gold-phase2-v1-seed1-n3-92136239','stack',1,'stack',NULL,'gold','model','["stack behaves as its tests say."]','["stack does one thing.", "stack rejects bad input."]','def stack():
    pass
');
INSERT INTO "items" VALUES('model-vs-gold-phase2-v1-seed1-n3-92136239','queue',2,'queue',NULL,'model','gold','["queue does one thing.", "queue rejects bad input."]','["queue behaves as its tests say."]','def queue():
    pass
');
CREATE TABLE ratings (
    session_id     TEXT NOT NULL,
    rater_id       TEXT NOT NULL,
    item_id        TEXT NOT NULL,
    left_source    TEXT NOT NULL,
    right_source   TEXT NOT NULL,
    scores         TEXT NOT NULL,  -- JSON {"left": {criterion: 1-5}, "right": {...}}
    preference     TEXT CHECK (preference IN ('left', 'right', 'tie')),
    rationale      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'skipped')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    submitted_at   TEXT,
    schema_version INTEGER NOT NULL,
    PRIMARY KEY (session_id, rater_id, item_id),
    FOREIGN KEY (session_id, item_id) REFERENCES items(session_id, item_id)
);
INSERT INTO "ratings" VALUES('model-vs-gold-phase2-v1-seed1-n3-92136239','old','calc','model','gold','{"left": {"accuracy": 4, "completeness": 3, "clarity": 5, "rebuildability": 4}, "right": {"accuracy": 2, "completeness": 2, "clarity": 3, "rebuildability": 2}}','left','left is fuller','submitted','2026-11-23T16:15:04.826+00:00','2026-11-23T16:15:04.826+00:00','2026-11-23T16:15:04.826+00:00',1);
INSERT INTO "ratings" VALUES('model-vs-gold-phase2-v1-seed1-n3-92136239','old','stack','gold','model','{"left": {"accuracy": 3}, "right": {}}',NULL,'','draft','2026-11-23T16:15:04.827+00:00','2026-11-23T16:15:04.827+00:00',NULL,1);
CREATE TABLE sessions (
    session_id     TEXT PRIMARY KEY,
    created_at     TEXT NOT NULL,
    seed           INTEGER NOT NULL,
    sources        TEXT NOT NULL,  -- JSON [first, second] as configured
    origin         TEXT NOT NULL,  -- where the requirements came from (run id or fallback)
    schema_version INTEGER NOT NULL
);
INSERT INTO "sessions" VALUES('model-vs-gold-phase2-v1-seed1-n3-92136239','2026-11-23T16:15:04.826+00:00',1,'["model", "gold"]','phase2-v1',1);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('history',2);
COMMIT;
