"""Supervised classification (book ch. 10): the relational module vs a CNN on transformed MNIST."""
