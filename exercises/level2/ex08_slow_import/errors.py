"""Domain errors: the importer raises them, the routes turn them into HTTP answers (given)."""


class UnknownCategory(Exception):
    """Row ``index`` of the import names a category that does not exist."""

    def __init__(self, index: int, category_id: int) -> None:
        super().__init__(f"row {index}: there is no category {category_id}")
        self.index = index
        self.category_id = category_id
