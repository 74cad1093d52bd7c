"""The app side of the harness split: the exercise's code, reached over a channel, never imported by checks."""
