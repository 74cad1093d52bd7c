"""The application (given)."""

from __future__ import annotations

from fastapi import FastAPI

from .routes import router

app = FastAPI(title="Bank")
app.include_router(router)
