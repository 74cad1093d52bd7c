"""Collection policy only: the plugin (dbkata.plugin, an installed pytest11 entry point) does the rest."""

# Hidden checks and reference solutions are not collected in place: they run inside trees assembled
# by `python -m dbkata` / grade.py, where checks sit next to the exercise code they grade.
collect_ignore = ["checks", "solutions", "examples", "benchmarks"]
