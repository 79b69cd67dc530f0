#!/usr/bin/env python3
"""Prints the PTX held by the first #gpu.object of a gpu.binary op read from stdin.

MLIR prints the object's bytes as a string literal with \\XX hex escapes; this undoes them.
Exits 1 when there is no object.
"""
import re
import sys

text = sys.stdin.read()
# #gpu.object<#nvvm.target<...>, properties = {...}, assembly = "...">: the payload is the
# string after `assembly =` (format=isa) or `bin =` (format=bin).
match = re.search(r'#gpu\.object<.*?\b(?:assembly|bin) = "((?:[^"\\]|\\.)*)"', text, re.S)
if not match:
    sys.exit("extract-ptx: no #gpu.object in the input")
body = match.group(1)
out = re.sub(r'\\([0-9A-Fa-f]{2})', lambda m: chr(int(m.group(1), 16)), body)
out = out.replace('\\"', '"').replace('\\\\', '\\')
sys.stdout.write(out)
