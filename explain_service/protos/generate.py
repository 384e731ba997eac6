"""Regenerate the committed stubs from explain.proto (run from the repository root):

    python -m explain_service.protos.generate

Equivalent to `python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=.
explain_service/protos/explain.proto`; the `-I.` root makes the stubs import each other as
`explain_service.protos.explain_pb2`.
"""

from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = "explain_service/protos/explain.proto"


def main() -> None:
    code = protoc.main(["protoc", f"-I{ROOT}", f"--python_out={ROOT}", f"--pyi_out={ROOT}",
                        f"--grpc_python_out={ROOT}", str(ROOT / PROTO)])
    if code != 0:
        raise SystemExit(f"protoc failed with code {code}")


if __name__ == "__main__":
    main()
