"""The SQLite index: a cache of the archive for queries, rebuildable from git alone.

It lives next to the repository (`clade-index.sqlite` in the archive's git directory, WAL
mode) and is never pushed. It holds, per candidate, the columns queries filter and sort on (among them a source's
name, the proposing session and the review verdict), the record from its
commit (`records.base`, the text of candidate.json), the current state (the record folded with its note's events), its parent edges, and per
split its fitness, its task metrics (one JSON object, `task/metric` -> value) and its stage (`cascade`
when the evaluation cascade cut it short: ranked after every full measurement). `meta` remembers the schema version and the notes commit
it reflects; `Archive.open` compares both, and the set of candidate refs, with git and
repairs what is behind. An index written by a newer Clade is refused, never touched.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from archive.record import Candidate
from tools.errors import BadInput

INDEX_SCHEMA = 7
INDEX_FILE = "clade-index.sqlite"

DDL = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates(
  id TEXT PRIMARY KEY, commit_sha TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  strategy TEXT NOT NULL, created_at TEXT NOT NULL, genotype_hash TEXT NOT NULL, reason TEXT,
  name TEXT, session TEXT, verdict TEXT);
CREATE INDEX IF NOT EXISTS candidates_name ON candidates(name) WHERE name IS NOT NULL;
CREATE INDEX IF NOT EXISTS candidates_session ON candidates(session, created_at, id);
CREATE INDEX IF NOT EXISTS candidates_status ON candidates(status, created_at, id);
CREATE TABLE IF NOT EXISTS records(id TEXT PRIMARY KEY, base TEXT NOT NULL, state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS candidates_genotype ON candidates(genotype_hash);
CREATE TABLE IF NOT EXISTS edges(child TEXT NOT NULL, pos INTEGER NOT NULL, parent TEXT NOT NULL, PRIMARY KEY(child, pos));
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent);
CREATE TABLE IF NOT EXISTS fitness(id TEXT NOT NULL, split TEXT NOT NULL, value REAL, metrics TEXT NOT NULL,
  stage TEXT NOT NULL DEFAULT 'full', PRIMARY KEY(id, split));
CREATE INDEX IF NOT EXISTS fitness_rank ON fitness(split, stage = 'cascade', value DESC, id);
"""
TABLES = ("candidates", "records", "edges", "fitness")  # records apart: candidates stays small and quick to scan
OLD_TABLES = ("metrics",)  # dropped with the rest when an older index is rebuilt


class Index:
    def __init__(self, path: Path, *, durable: bool = False):
        self.path = path
        self.durable = durable  # fsync the index too (the archive's `fsync: true`); otherwise a process kill is all it must survive
        self.lock = threading.RLock()
        self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=60, isolation_level=None)
        try:
            version = self._stored_version(db)
        except sqlite3.DatabaseError:
            db.close()
            for stale in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                stale.unlink(missing_ok=True)  # not a database: it is only a cache, so start it again
            return self._connect()
        if version is not None and version > INDEX_SCHEMA:
            db.close()
            raise BadInput(
                f"{self.path}: index schema {version} is newer than this Clade's ({INDEX_SCHEMA}); upgrade Clade, or delete the file to rebuild it from git"
            )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'NORMAL' if self.durable else 'OFF'}")  # OFF survives kill -9, not power loss
        if version is not None and version < INDEX_SCHEMA:
            for table in ("meta", *TABLES, *OLD_TABLES):
                db.execute(f"DROP TABLE IF EXISTS {table}")
        db.executescript(DDL)
        db.execute("INSERT OR IGNORE INTO meta VALUES('schema_version', ?)", (str(INDEX_SCHEMA),))
        return db

    @staticmethod
    def _stored_version(db: sqlite3.Connection) -> int | None:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
            return None
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            return row[0] if row else None

    def ids(self) -> set[str]:
        with self.lock:
            return {r[0] for r in self.db.execute("SELECT id FROM candidates")}

    def transaction(self) -> "_Transaction":
        return _Transaction(self)

    def clear(self) -> None:
        for table in TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("DELETE FROM meta WHERE key != 'schema_version'")

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, value))

    def put(self, commit: str, base: str, state: Candidate, *, fresh: bool = False, parents_known: bool = False) -> None:
        """Insert (`fresh`: known to be new) or replace one candidate (call inside `transaction()`);
        `parents_known`: its edges are already indexed (a candidate's parents never change)."""
        if not fresh:
            for table in ("fitness",) if parents_known else ("edges", "fitness"):
                self.db.execute(f"DELETE FROM {table} WHERE {'child' if table == 'edges' else 'id'}=?", (state.id,))
        self.put_many([(commit, base, state)], parents_known=parents_known)

    def put_many(self, items: list[tuple[str, str, Candidate]], *, parents_known: bool = False) -> None:
        """Insert new candidates, (commit, base record JSON, state) each, in one statement per table."""
        rows: dict[str, list[tuple]] = {"candidates": [], "records": [], "edges": [], "fitness": []}
        for commit, base, state in items:
            cid = state.id
            rows["candidates"].append(
                (
                    cid,
                    commit,
                    state.kind,
                    state.status,
                    state.proposer.strategy,
                    state.created_at.isoformat(),
                    state.genotype_hash(),
                    state.reason,
                    state.source_name(),
                    state.proposer.session,
                    state.verdict(),
                )
            )
            rows["records"].append((cid, base, state.model_dump_json(exclude={"id"})))
            if not parents_known:
                rows["edges"] += [(cid, i, p) for i, p in enumerate(state.parents)]
            for split, m in state.metrics.items():
                flat = {f"{t}/{k}": v for t, values in m.tasks.items() for k, v in values.items()}
                rows["fitness"].append((cid, split, m.fitness, json.dumps(flat), m.stage))
        for table, values in rows.items():
            if values:
                self.db.executemany(f"INSERT OR REPLACE INTO {table} VALUES({','.join('?' * len(values[0]))})", values)

    def delete(self, cid: str) -> None:
        for table in ("candidates", "records", "edges", "fitness"):
            self.db.execute(f"DELETE FROM {table} WHERE {'child' if table == 'edges' else 'id'}=?", (cid,))

    def row(self, cid: str) -> tuple[str, str, str] | None:
        """(commit, base, state) of one candidate."""
        with self.lock:
            return self.db.execute(
                "SELECT c.commit_sha, r.base, r.state FROM candidates c JOIN records r ON r.id = c.id WHERE c.id=?", (cid,)
            ).fetchone()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def state(self, cid: str) -> Candidate | None:
        row = self.row(cid)
        return Candidate.model_validate({**json.loads(row[2]), "id": cid}) if row else None


class _Transaction:
    def __init__(self, index: Index):
        self.index = index

    def __enter__(self) -> Index:
        self.index.lock.acquire()
        try:
            self.index.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.index.lock.release()  # __exit__ will not run: never leave the lock held
            raise
        return self.index

    def __exit__(self, exc_type, *exc) -> None:
        try:
            self.index.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.index.lock.release()
