"""Where job records live: SQLite by default, Redis when configured (`mlapi.shared.jobs`:
replicas share jobs).

Both drop a finished record once its `expires_at` has passed. A cancel request is kept apart
from the record, so that the replica supervising a run never overwrites one with a heartbeat.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Protocol

from mlapi.errors import WriteConflict
from mlapi.training.schemas import JobRecord, forward


class JobStore(Protocol):
    async def put(self, record: JobRecord) -> JobRecord:
        """Writes the next generation of `record` (returned); `WriteConflict` where the stored
        record is not the one `record` was made from, or its state would move backward."""
        ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def list(self) -> list[JobRecord]:
        """Every live record, oldest first."""
        ...

    async def request_cancel(self, job_id: str) -> None: ...

    async def cancel_requested(self, job_id: str) -> bool: ...

    async def lost_since(self, job_id: str) -> float | None:
        """When the store began, where `job_id` is older: its record was lost."""
        ...

    async def close(self) -> None: ...


def live(record: JobRecord, now: float | None = None) -> bool:
    return record.expires_at is None or record.expires_at > (now or time.time())


SCHEMA = """
create table if not exists jobs (
  id text primary key,
  created_at real not null,
  expires_at real,
  cancel integer not null default 0,
  record text not null
)
"""


class SQLiteJobStore:
    """One file; each call opens its own connection in a worker thread (nothing on the loop).

    The file is created on the first write, so a service that never trains leaves none.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(SCHEMA)
        return connection

    def _put(self, record: JobRecord) -> JobRecord:
        written = record.model_copy(update={"generation": record.generation + 1})
        with self._connect() as db:
            row = db.execute("select record from jobs where id = ?", (record.id,)).fetchone()
            stored = JobRecord.model_validate_json(row[0]) if row else None
            if stored is not None and (
                stored.generation != record.generation or not forward(stored.state, record.state)
            ):
                raise WriteConflict(
                    f"job {record.id} is at generation {stored.generation} ({stored.state}), "
                    f"not {record.generation}"
                )
            db.execute(
                "insert into jobs (id, created_at, expires_at, record) values (?, ?, ?, ?) "
                "on conflict(id) do update set expires_at = excluded.expires_at, "
                "record = excluded.record",
                (record.id, record.created_at, record.expires_at, written.model_dump_json()),
            )
            db.execute(
                "delete from jobs where expires_at is not null and expires_at <= ?", (now(),)
            )
        db.close()
        return written

    def _rows(self, where: str, args: tuple[object, ...]) -> list[tuple[str, int]]:
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                f"select record, cancel from jobs where (expires_at is null or expires_at > ?) "
                f"{where} order by created_at, id",
                (now(), *args),
            ).fetchall()
        db.close()
        return [(str(r[0]), int(r[1])) for r in rows]

    def _request_cancel(self, job_id: str) -> None:
        with self._connect() as db:
            db.execute("update jobs set cancel = 1 where id = ?", (job_id,))
        db.close()

    async def put(self, record: JobRecord) -> JobRecord:
        return await asyncio.to_thread(self._put, record)

    async def get(self, job_id: str) -> JobRecord | None:
        rows = await asyncio.to_thread(self._rows, "and id = ?", (job_id,))
        return JobRecord.model_validate_json(rows[0][0]) if rows else None

    async def list(self) -> list[JobRecord]:
        rows = await asyncio.to_thread(self._rows, "", ())
        return [JobRecord.model_validate_json(row[0]) for row in rows]

    async def request_cancel(self, job_id: str) -> None:
        await asyncio.to_thread(self._request_cancel, job_id)

    async def cancel_requested(self, job_id: str) -> bool:
        rows = await asyncio.to_thread(self._rows, "and id = ?", (job_id,))
        return bool(rows and rows[0][1])

    async def lost_since(self, job_id: str) -> float | None:
        return None  # a file on this replica's disk: kept or lost with the replica

    async def close(self) -> None:
        return None


def now() -> float:
    return time.time()
