"""Progress written the way tqdm and impatient scripts write it, without tqdm:
a bar redrawn with "\\r" and flushed at every step, dots printed with
end="" and flush=True, and a Python warning of two lines.

    progress_loop.py [STEPS] [DOTS]
"""
import sys
import time
import warnings

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
dots = int(sys.argv[2]) if len(sys.argv) > 2 else 200

for i in range(steps + 1):
    filled = i * 20 // steps
    sys.stderr.write(f"\r{i * 100 // steps:3d}%|{'#' * filled}{' ' * (20 - filled)}| {i}/{steps}")
    sys.stderr.flush()
    time.sleep(0.002)
sys.stderr.write("\n")

for _ in range(dots):
    print(".", end="", flush=True)
print(" dots done")

warnings.warn("a warning with\na second line")
print("progress_loop done")
