"""A function the local stack can run, written to a temporary folder (local-stack unit tests)."""

from __future__ import annotations

from pathlib import Path

from local_stack.model import FunctionSpec


def function_spec(
    tmp_path: Path, source: str, name: str = "Fn", handler: str = "app.handler", timeout_s: int = 7, **files: str
) -> FunctionSpec:
    """``app.py`` holds source; each keyword is one more module of the function's folder."""
    code = tmp_path / name
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(source)
    for filename, text in files.items():
        (code / f"{filename}.py").write_text(text)
    return FunctionSpec(
        logical_id=name,
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        code_dir=code,
        handler=handler,
        runtime="python3.13",
        memory_mb=512,
        timeout_s=timeout_s,
        environment={},
        layer_dirs=(),
    )
