"""`python -m bench.catalogues [RUNS]`: CPU time to load the ten catalogues at a process's start.

Every bot, action-server and CLI process loads the catalogues of the languages it answers in.
Measured in fresh processes (one per run, so nothing is cached in memory), CPU time
(`time.process_time`) of `translations()` for every shipped language: compiled in memory from
the .po files (what every start did before the compiled files, and what a read-only install
still does) and loaded from the compiled files `python -m bot.i18n compile` keeps. Prints the
median and the range of the runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = """
import time
from bot.i18n import LANGUAGES, catalogue_path, compile_po, load_catalogue
MODE = {mode!r}
started = time.process_time()
for language in LANGUAGES:
    path = catalogue_path(language)
    if MODE == "memory":
        compile_po(path.read_bytes(), language)
    else:
        load_catalogue(path, language)
print(time.process_time() - started)
"""


def cold_ms(mode: str, runs: int) -> list[float]:
    """Return the CPU milliseconds of loading every catalogue, one fresh process per run."""
    found = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(mode=mode)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        found.append(float(out) * 1000)
    return found


def main(argv: list[str]) -> int:
    """Measure both ways and print them side by side."""
    from bot.i18n import compile_all

    runs = int(argv[0]) if argv else 7
    compile_all()  # the compiled files exist, as after `make setup`
    for label, mode in (("compiled in memory (.po)", "memory"), ("compiled files (.mo)", "cached")):
        ms = cold_ms(mode, runs)
        print(
            f"{label:26} median {statistics.median(ms):6.1f} ms CPU"
            f"  (min {min(ms):.1f}, max {max(ms):.1f}; {runs} fresh processes, 10 languages)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
