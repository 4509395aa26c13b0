"""Generate libs/api from protos/ with grpcio-tools: messages, gRPC stubs and .pyi type stubs.

The output is never edited by hand and never committed; `make` runs this whenever the stubs
are missing or a .proto is newer.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "libs" / "api"
BIN = Path(sys.executable).parent
GENERATED_PACKAGES = ("fleetjobs/v1", "fleetjobs/events", "fleetjobs/internal")


def main() -> int:
    for package in GENERATED_PACKAGES:
        shutil.rmtree(OUT / package, ignore_errors=True)
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        # Type stubs from mypy-protobuf: typed enums and typed gRPC stubs/servicers.
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *sources,
    ]
    code = protoc.main(args)
    if code != 0:
        print("protoc failed", file=sys.stderr)
        return int(code)
    # Generated packages get no __init__.py: `fleetjobs` and its sub-packages are PEP 420
    # namespace packages shared by the workspace members.
    print(f"generated {len(sources)} proto files into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
