"""A notebook's clock starts when its first cell starts importing the package, not after."""
import subprocess
import sys


def test_the_first_announce_counts_the_import_and_a_later_one_starts_now():
    code = ("import time; before = time.time()\nfrom agentic_lab import announce\nimported = time.time()\n"
            "first = announce(1); second = announce(1)\nprint(first - before, imported - first, time.time() - second)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    since_before, import_counted, second = map(float, out.splitlines()[-1].split())
    assert 0 <= since_before < 0.5                 # the clock starts as the import starts...
    assert import_counted > 0.5                    # ...so the import of torch and transformers is counted
    assert second < 0.1                            # a re-run of the first cell restarts the clock
