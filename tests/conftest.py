import pytest
import torch

from modlib import data


@pytest.fixture(scope="session")
def small_data():
    """A few thousand real MNIST pairs (train) and a thousand (test)."""
    return data.paired_mnist("train", n=3000, seed=0), data.paired_mnist("test", n=1000, seed=0)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
