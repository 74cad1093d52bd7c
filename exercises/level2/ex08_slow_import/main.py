"""The application object (given)."""

from fastapi import FastAPI

from .routes import router

app = FastAPI(title="Task import")
app.include_router(router)
