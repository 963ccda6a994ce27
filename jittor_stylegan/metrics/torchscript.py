"""Read the tensors of a TorchScript archive with pickle + numpy, without torch.

A TorchScript ``.pt`` file is a zip: ``<root>/data.pkl`` pickles the module tree, whose
tensors refer by persistent id to raw storages in ``<root>/data/<key>``.
"""
import collections
import pickle
import zipfile

import numpy as np

_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "BoolStorage": np.bool_}


class ScriptObject:
    """A pickled TorchScript module: its attributes (submodules, tensors, ints, lists)."""

    def __init__(self, *args):
        pass

    def __setstate__(self, state):
        self.__dict__.update(state)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    if not size:
        return storage[offset].copy()
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride]).copy()


class _Unpickler(pickle.Unpickler):
    def __init__(self, archive, root):
        super().__init__(archive.open(f"{root}/data.pkl"))
        self.archive, self.root = archive, root

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        if (module, name) == ("torch.jit._pickle", "build_intlist"):
            return list
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (ScriptObject,), {"torch_class": f"{module}.{name}"})
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a TorchScript archive")

    def persistent_load(self, pid):
        _, storage_type, key, _, _ = pid
        return np.frombuffer(self.archive.read(f"{self.root}/data/{key}"), _STORAGE_DTYPES[storage_type])


def load(path):
    """The module tree of a TorchScript archive, tensors as numpy arrays."""
    with zipfile.ZipFile(path) as archive:
        roots = {name.split("/")[0] for name in archive.namelist() if name.endswith("/data.pkl")}
        if len(roots) != 1:
            raise ValueError(f"{path} is not a TorchScript archive (data.pkl roots: {sorted(roots)})")
        return _Unpickler(archive, roots.pop()).load()
