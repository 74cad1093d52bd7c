"""Domain errors: the repository raises them, the routes turn them into HTTP answers (given)."""


class ProductNotFound(Exception):
    """An order line names a product that does not exist."""

    def __init__(self, product_id: int) -> None:
        super().__init__(f"no product {product_id}")
        self.product_id = product_id
