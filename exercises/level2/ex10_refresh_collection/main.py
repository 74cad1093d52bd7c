"""The application object (given)."""

from fastapi import FastAPI

from .routes import router

app = FastAPI(title="Orders")
app.include_router(router)
