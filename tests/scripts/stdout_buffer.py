"""Writes bytes through sys.stdout.buffer, as scripts that print binary-safe text do,
and reports its __file__ (absolute under python 3.9+)."""
import os
import sys

sys.stdout.buffer.write("bytes through the buffer: \u00e9t\u00e9\n".encode())
sys.stdout.buffer.flush()
print(f"__file__ absolute: {os.path.isabs(__file__)}")
