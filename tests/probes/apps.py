"""Small good and bad apps the probes are tested against (each bad one has exactly one planted bug)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import selectinload

from tests.probes.models import Account, Author, Book, Note

_engine = None


def sessions() -> async_sessionmaker[AsyncSession]:
    """The app's session factory, on an engine created lazily from DATABASE_URL."""
    global _engine
    if _engine is None:
        _engine = create_async_engine(os.environ["DATABASE_URL"])
    return async_sessionmaker(_engine, expire_on_commit=False)


async def good_session() -> AsyncIterator[AsyncSession]:
    async with sessions()() as session:
        yield session


async def leaky_session() -> AsyncIterator[AsyncSession]:
    session = sessions()()
    yield session  # BUG: never closed when the route raises
    await session.close()


Good = Annotated[AsyncSession, Depends(good_session)]
Leaky = Annotated[AsyncSession, Depends(leaky_session)]


async def note_session() -> AsyncIterator[AsyncSession]:
    async with sessions()() as session:
        yield session
        await session.commit()  # BUG (default scope): runs after the response was sent


async def note_session_fn() -> AsyncIterator[AsyncSession]:
    async with sessions()() as session:
        yield session
        await session.commit()


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/authors/lazy")
    async def authors_lazy(s: Good) -> list[dict[str, object]]:
        authors = (await s.scalars(select(Author).order_by(Author.id))).all()
        return [{"name": a.name, "books": [b.title for b in await a.awaitable_attrs.books]} for a in authors]

    @app.get("/authors/eager")
    async def authors_eager(s: Good) -> list[dict[str, object]]:
        query = select(Author).options(selectinload(Author.books)).order_by(Author.id)
        return [{"name": a.name, "books": [b.title for b in a.books]} for a in (await s.scalars(query)).all()]

    @app.get("/authors/raw-count")
    async def raw_count(s: Good) -> dict[str, int]:
        n = await s.scalar(text("select count(*) from author"))
        url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
        with psycopg.connect(url) as raw:  # behind SQLAlchemy's back
            raw.execute("select count(*) from book").fetchone()
        return {"authors": int(n or 0)}

    @app.get("/books/{book_id}/leaky")
    async def book_leaky(book_id: int, s: Leaky) -> dict[str, str]:
        book = await s.get(Book, book_id)
        if book is None:
            raise HTTPException(404)
        return {"title": book.title}

    @app.get("/books/{book_id}")
    async def book_good(book_id: int, s: Good) -> dict[str, str]:
        book = await s.get(Book, book_id)
        if book is None:
            raise HTTPException(404)
        return {"title": book.title}

    @app.post("/books/commit-each")
    async def books_commit_each(titles: list[str], s: Good) -> dict[str, int]:
        for t in titles:
            s.add(Book(author_id=1, title=t))
            await s.commit()  # BUG: a later failure leaves the earlier rows behind
        return {"added": len(titles)}

    @app.post("/books/atomic")
    async def books_atomic(titles: list[str], s: Good) -> dict[str, int]:
        async with s.begin():
            s.add_all([Book(author_id=1, title=t) for t in titles])
        return {"added": len(titles)}

    @app.post("/notes", status_code=201)
    async def notes_late(body: dict[str, str], s: Annotated[AsyncSession, Depends(note_session)]) -> dict[str, int]:
        note = Note(body=body["body"])
        s.add(note)
        await s.flush()
        return {"id": note.id}

    @app.post("/notes/checked", status_code=201)
    async def notes_checked(
        body: dict[str, str], s: Annotated[AsyncSession, Depends(note_session_fn, scope="function")]
    ) -> dict[str, int]:
        note = Note(body=body["body"])
        s.add(note)
        await s.flush()
        return {"id": note.id}

    @app.get("/authors/raw-n-plus-one")
    async def raw_n_plus_one() -> list[int]:
        import asyncpg

        raw = await asyncpg.connect(_driver_url())  # BUG: behind SQLAlchemy's back, one query per author
        try:
            ids = [r["id"] for r in await raw.fetch("select id from author order by id")]
            return [len(await raw.fetch("select id from book where author_id = $1", i)) for i in ids]
        finally:
            await raw.close()

    @app.get("/authors/raw-lazy")
    async def raw_lazy() -> list[int]:
        import asyncpg

        raw = await asyncpg.connect(_driver_url())  # the lazy loader's own query, where no event sees it
        try:
            ids = [r["id"] for r in await raw.fetch("select id from author order by id")]
            return [len(await raw.fetch("SELECT book.id FROM book WHERE $1::INTEGER = book.author_id", i)) for i in ids]
        finally:
            await raw.close()

    @app.get("/authors/disguised")
    async def disguised(s: Good) -> dict[str, int]:
        # Comments full of words that are noise elsewhere: still two real statements.
        a = await s.scalar(text("/* BEGIN; pg_catalog select pg_catalog.version() */ select count(*) from author"))
        b = await s.scalar(text("-- COMMIT\nselect count(*) from book"))
        await s.commit()
        return {"authors": int(a or 0), "books": int(b or 0)}

    @app.post("/books/executemany")
    async def books_executemany(titles: list[str], s: Good) -> dict[str, int]:
        await s.execute(insert(Book.__table__), [{"author_id": 1, "title": t} for t in titles])
        await s.commit()
        return {"added": len(titles)}

    @app.post("/books/per-row")
    async def books_per_row(titles: list[str], s: Good) -> dict[str, int]:
        for t in titles:  # BUG: one INSERT per row
            await s.execute(insert(Book).values(author_id=1, title=t))
        await s.commit()
        return {"added": len(titles)}

    @app.get("/books/{book_id}/left-open")
    async def book_left_open(book_id: int) -> dict[str, str]:
        s = sessions()()  # BUG: never closed, its transaction stays open
        book = await s.get(Book, book_id)
        return {"title": book.title if book else ""}

    @app.get("/books/{book_id}/own-engine")
    async def book_own_engine(book_id: int) -> dict[str, str]:
        engine = create_async_engine(os.environ["DATABASE_URL"])  # BUG: a new engine per request, never disposed
        async with async_sessionmaker(engine)() as s:
            book = await s.get(Book, book_id)
        return {"title": book.title if book else ""}

    return app


def _driver_url() -> str:
    return os.environ["DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")


async def withdraw_naive(account_id: int, amount: int) -> None:
    async with sessions()() as s, s.begin():
        acc = await s.get(Account, account_id)
        assert acc is not None
        acc.balance = acc.balance - amount  # BUG: read-modify-write in Python


async def withdraw_for_update(account_id: int, amount: int) -> None:
    async with sessions()() as s, s.begin():
        acc = (await s.execute(select(Account).where(Account.id == account_id).with_for_update())).scalar_one()
        acc.balance = acc.balance - amount


async def withdraw_atomic(account_id: int, amount: int) -> None:
    async with sessions()() as s, s.begin():
        await s.execute(update(Account).where(Account.id == account_id).values(balance=Account.balance - amount))


async def transfer_unordered(a: int, b: int, amount: int) -> None:
    async with sessions()() as s, s.begin():
        await s.execute(update(Account).where(Account.id == a).values(balance=Account.balance - amount))
        await s.execute(update(Account).where(Account.id == b).values(balance=Account.balance + amount))


async def transfer_ordered(a: int, b: int, amount: int) -> None:
    async with sessions()() as s, s.begin():
        for account_id in sorted((a, b)):
            delta = -amount if account_id == a else amount
            await s.execute(update(Account).where(Account.id == account_id).values(balance=Account.balance + delta))


async def slow_report_async() -> None:
    async with sessions()() as s:
        await s.execute(text("select pg_sleep(0.3)"))


async def slow_report_blocking() -> None:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    with psycopg.connect(url) as conn:  # BUG: a synchronous driver call inside async code
        conn.execute("select pg_sleep(0.3)")


_one_at_a_time = asyncio.Lock()


async def withdraw_blocking(account_id: int, amount: int) -> None:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    with psycopg.connect(url) as conn:  # BUG: a synchronous driver call inside async code
        conn.execute("update account set balance = balance - %s where id = %s", (amount, account_id))


async def withdraw_one_at_a_time(account_id: int, amount: int) -> None:
    async with _one_at_a_time:  # BUG: serialises every withdrawal in the app
        await withdraw_atomic(account_id, amount)


async def withdraw_after_blocking_the_loop(account_id: int, amount: int) -> None:
    import time

    await asyncio.sleep(0.5)  # the other contender parks at the gate, and the server goes quiet
    time.sleep(2.0)  # noqa: ASYNC251  (the loop stands still, as while importing a module in-process)
    await withdraw_atomic(account_id, amount)


async def drop_the_gate_then_withdraw(account_id: int, amount: int) -> None:
    async with sessions()() as s:  # HOSTILE: the app's role owns the table, so it may drop its triggers
        await s.execute(text("drop trigger if exists dbkata_gate on account"))
        await s.commit()
    await withdraw_naive(account_id, amount)


async def pause_the_gate_then_withdraw(account_id: int, amount: int) -> None:
    async with sessions()() as s:  # HOSTILE: switched off for its own write only, on again afterwards
        await s.execute(text("alter table account disable trigger user"))
        await s.commit()
    await withdraw_naive(account_id, amount)
    async with sessions()() as s:
        await s.execute(text("alter table account enable trigger user"))
        await s.commit()


async def balance_of(account_id: int) -> int:
    async with sessions()() as s:
        return int((await s.execute(select(Account.balance).where(Account.id == account_id))).scalar_one())


async def transfer_locking_in_argument_order(a: int, b: int, amount: int) -> None:
    async with sessions()() as s, s.begin():
        for account_id in (a, b):  # BUG: each transfer locks its own source first
            await s.execute(select(Account).where(Account.id == account_id).with_for_update())
        await s.execute(update(Account).where(Account.id == a).values(balance=Account.balance - amount))
        await s.execute(update(Account).where(Account.id == b).values(balance=Account.balance + amount))


async def transfer_retrying_deadlocks(a: int, b: int, amount: int) -> None:
    from sqlalchemy.exc import DBAPIError

    for _ in range(3):
        try:
            return await transfer_locking_in_argument_order(a, b, amount)
        except DBAPIError as exc:  # BUG: hides the deadlock from the client instead of preventing it
            if getattr(exc.orig, "sqlstate", None) != "40P01":
                raise
    raise RuntimeError("gave up")


async def transfer_raw_unordered(a: int, b: int, amount: int) -> None:
    import asyncpg

    raw = await asyncpg.connect(_driver_url())  # no SQLAlchemy at all: only the wire sees these statements
    try:
        async with raw.transaction():
            await raw.execute("update account set balance = balance - $1 where id = $2", amount, a)
            await raw.execute("update account set balance = balance + $1 where id = $2", amount, b)
    finally:
        await raw.close()
