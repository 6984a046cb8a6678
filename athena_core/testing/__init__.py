"""Contract test suites that plugin authors subclass (needs pytest).

.. code-block:: python

    from athena_core.testing import VectorBackendContract

    class TestMyBackend(VectorBackendContract):
        def make_backend(self, dimension, data_dir):
            return MyBackend(dimension, data_dir)

Run them against the plugin *installed* as a package: entry points exist only
in installed metadata, and :meth:`VectorBackendContract.test_registered` checks
the plugin is discoverable under its name.
"""

from athena_core.testing.embedders import EmbedderContract
from athena_core.testing.model_embedders import FileGate, OtherModelEmbedder, OtherModelPlugin
from athena_core.testing.vector_backends import (
    PersistentVectorBackendContract,
    VectorBackendContract,
)

__all__ = ["EmbedderContract", "FileGate", "OtherModelEmbedder", "OtherModelPlugin",
           "PersistentVectorBackendContract", "VectorBackendContract"]
