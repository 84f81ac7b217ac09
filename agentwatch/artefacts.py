"""Writing generated artefacts: the one I/O step after the pure generators."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from agentwatch.spec import Spec, load_spec

__all__ = ["write_files", "write_generated"]


def write_files(files: Mapping[str, str], root: str | Path) -> list[Path]:
    """Write ``{relative path: text}`` under ``root``; returns the paths written."""
    written = []
    for relative, text in files.items():
        target = Path(root) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
    return written


def write_generated(generate: Callable[[Spec, str], Mapping[str, str]], spec_file: str | Path,
                    out_dir: str | Path | None = None) -> list[Path]:
    """Load ``spec_file``, run ``generate(spec, spec file name)`` and write the result under
    ``out_dir`` (default: the spec's folder, i.e. the repository root for ``agentwatch.yaml``)."""
    spec_path = Path(spec_file)
    return write_files(generate(load_spec(spec_path), spec_path.name),
                       spec_path.parent if out_dir is None else out_dir)
