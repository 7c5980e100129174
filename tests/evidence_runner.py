"""Runs evidence programs in one torch process (importing torch costs seconds).

Reads a JSON list of {"id", "source"} on stdin and prints a JSON list of
{"id", "raised", "message", "stdout", "warnings"}. Global torch state that a program may change
(grad mode, anomaly detection, default dtype) is reset between programs.
"""
import contextlib
import io
import json
import sys
import warnings

import torch


def _reset():
    torch.set_grad_enabled(True)
    torch.autograd.set_detect_anomaly(False)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)


def run(item):
    stdout = io.StringIO()
    result = {"id": item["id"], "raised": None, "message": None, "stdout": "", "warnings": []}
    _reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(stdout):
                exec(compile(item["source"], f"<evidence {item['id']}>", "exec"), {"__name__": "__evidence__"})
        except BaseException as error:  # noqa: B902 - the program's failure is the data
            result["raised"] = type(error).__name__
            result["message"] = str(error)
    result["stdout"] = stdout.getvalue()
    result["warnings"] = [str(w.message) for w in caught]
    _reset()
    return result


def main():
    items = json.load(sys.stdin)
    json.dump([run(item) for item in items], sys.stdout)


if __name__ == "__main__":
    main()
