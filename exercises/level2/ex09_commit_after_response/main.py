"""The application object (given)."""

from fastapi import FastAPI

from .routes import router

app = FastAPI(title="Ordered task lists")
app.include_router(router)
