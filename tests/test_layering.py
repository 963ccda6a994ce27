"""No module imports one above it: kernels -> ops -> layers -> models -> families / formats -> training / data /
metrics -> loading -> CLIs; and sampling (loading and the sampling CLIs) does not import training/."""
import ast
import os

from conftest import REPO

PACKAGE = os.path.join(REPO, "jittor_stylegan")
# Level of each module (dotted under jittor_stylegan, by its first names); helpers any layer may use are 0.
LEVELS = {"runtime": 0, "jittor_compat": 0, "distributed": 0, "images": 0, "video": 0, "plot": 0, "runs": 0,
          "ops": 1, "layers": 2, "models": 3, "convert": 4, "families": 4, "formats": 4, "sampling": 4, "sefa": 4,
          "training": 5, "data": 5, "metrics": 5, "projector": 5,
          "loading": 6, "export": 6, "viewer": 7}
CLIS = ("train.py", "generate.py", "video_write.py", "prepare_data.py", "calc_metrics.py")


def level(module):
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LEVELS:
            return LEVELS[".".join(parts[:n])]
    return 0  # the package itself


def imports(path, module):
    """Dotted names (under jittor_stylegan) that the file at ``path`` imports."""
    package = module.split(".")[:-1] if not path.endswith("__init__.py") else module.split(".")
    found = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join(base + (node.module.split(".") if node.module else []))
            if node.level == 0 and not name.startswith("jittor_stylegan"):
                continue
            name = name.removeprefix("jittor_stylegan").lstrip(".")
            found += [f"{name}.{a.name}".lstrip(".") if name == "" or not node.module else name for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name.removeprefix("jittor_stylegan").lstrip(".") for a in node.names
                      if a.name.startswith("jittor_stylegan")]
    return [f for f in found if f]


def modules():
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                dotted = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                yield path, dotted


def test_no_module_imports_a_higher_layer():
    wrong = [(module, target) for path, module in modules() if module != "__init__"
             for target in imports(path, module) if level(target) > level(module)]
    assert not wrong


def test_loading_does_not_import_training():
    """Sampling reads every checkpoint format through formats/, which sits below training/."""
    assert not [t for t in imports(os.path.join(PACKAGE, "loading.py"), "loading") if t.startswith("training")]
    assert "formats" in {t.split(".")[0] for t in imports(os.path.join(PACKAGE, "loading.py"), "loading")}


def test_sampling_clis_do_not_import_training():
    for path, module in [(os.path.join(REPO, "generate.py"), "generate"), (os.path.join(REPO, "video_write.py"),
                         "video_write"), (os.path.join(REPO, "calc_metrics.py"), "calc_metrics")]:
        assert not [t for t in imports(path, module) if t.startswith("training")], path
        assert "loading" in {t.split(".")[0] for t in imports(path, module)}, path
