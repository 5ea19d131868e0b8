"""``python -m trainer synth|fit|evaluate|export|phantom-audit|test-package``.

Each subcommand is a module of this package with ``get_args_parser()`` and ``main(args)``
(the torchvision references' shape), so it also runs as ``python -m trainer.fit``.
"""
from __future__ import annotations

import importlib
import logging
import sys

COMMANDS = {
    "synth": "make a phantom cohort (cases.jsonl + studies)",
    "fit": "train the triple-ResNet50 with cross-validation",
    "evaluate": "out-of-fold evaluation table, plots and report",
    "export": "ONNX + int8 model package for the app",
    "phantom-audit": "how much the phantom's non-image cues and kinetics give away (no images)",
    "test-package": "run a model package on an independent labelled cohort through the app's code",
    "published": "the README/docs tables, rendered from a package's test.json and metrics.json",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m trainer {" + ",".join(COMMANDS) + "} [options]\n", file=sys.stderr)
        for name, doc in COMMANDS.items():
            print(f"  {name:13s} {doc}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    module = importlib.import_module(f"trainer.{argv[0].replace('-', '_')}")
    args = module.get_args_parser().parse_args(argv[1:])
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
