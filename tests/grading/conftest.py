"""The grader's tests: the fixture workbook under fixtures/ is data, never collected here."""

collect_ignore = ["fixtures"]
