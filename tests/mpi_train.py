"""``train.py`` for tests/test_mpi.py under mpirun: trains, then every rank writes the weights it holds
(every network, the EMA generator included) to ``<run_dir>/rank<r>.npz``, so the test can show that all
ranks hold the same model."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402

trainer = train.main(sys.argv[1:])
from jittor_stylegan import convert, distributed  # noqa: E402

np.savez(os.path.join(trainer.cfg["run_dir"], f"rank{distributed.rank()}.npz"),
         **{f"{name}/{key}": value for name, net in trainer.family.networks().items()
            for key, value in convert.numpy_state(net).items()})
