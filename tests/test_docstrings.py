"""The public API's docstrings (what `help()` shows) point only at names a user can reach."""

import inspect
import re

import fprofile_jupyter

ROLE = re.compile(r":(?:func|class|meth|attr|data):`~?([\w.]+)`")


def _public_objects():
    for name in fprofile_jupyter.__all__:
        obj = getattr(fprofile_jupyter, name)
        yield name, obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") or attr in ("__init__", "__call__"):
                    yield f"{name}.{attr}", member


def _resolves(ref: str, owner: str) -> bool:
    for base in (fprofile_jupyter, getattr(fprofile_jupyter, owner.split(".")[0], None)):
        obj = base
        for part in ref.removeprefix("fprofile_jupyter.").split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            return True
    return False


def test_cross_references_in_public_docstrings_resolve():
    missing = []
    for where, obj in _public_objects():
        doc = getattr(obj, "__doc__", None) or ""
        if isinstance(obj, property):
            doc = obj.__doc__ or ""
        for ref in ROLE.findall(doc):
            if not _resolves(ref, where):
                missing.append(f"{where}: {ref}")
    assert not missing, missing


def test_profile_help_states_the_default_subs_rule():
    doc = inspect.getdoc(fprofile_jupyter.profile) or ""
    assert "site-packages" in doc and "__main__" in doc and "notebook" in doc
