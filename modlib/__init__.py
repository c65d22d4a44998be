"""modlib: the computing core of the runnable edition of Béna & Goodman (2021),
"Extreme sparsity gives rise to functional specialization"."""

__version__ = "0.1.0"
