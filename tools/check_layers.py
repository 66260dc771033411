#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that every #include "..." in daemon/ and plugins/ follows tools/layers.txt.

A daemon file may include its own folder and folders on earlier lines of tools/layers.txt; a
plugin folder may include itself and the folders its rule lists. Each violation is printed as
file:line with both layers; the exit status is 1 when there is one (or when a folder of daemon/
is missing from tools/layers.txt), 0 otherwise.

Usage: tools/check_layers.py [source root]   (default: the repository holding this script)
"""

import fnmatch
import os
import re
import sys

SOURCE_EXTENSIONS = (".cpp", ".hpp", ".h", ".c")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
# Where the build looks for quoted includes besides the including file's own folder.
INCLUDE_ROOTS = ("daemon", "daemon/include", "plugins/modem", "plugins/cloud")


class Layers:
    """The order and the plugin rules of tools/layers.txt."""

    def __init__(self, path):
        self.level = {}  # daemon folder -> line index (0 = lowest)
        self.plugin_rules = []  # (folder pattern, [allowed folders])
        self.errors = []
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, 1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                if ":" in line:
                    pattern, allowed = line.split(":", 1)
                    self.plugin_rules.append((pattern.strip(), allowed.split()))
                    continue
                index = len(set(self.level.values()))
                for folder in line.split():
                    if folder in self.level:
                        self.errors.append(f"{path}:{number}: {folder} is listed twice")
                    self.level[folder] = index

    def daemon_unit(self, rel):
        """The listed folder that holds `rel` (the longest match), or None."""
        best = None
        for folder in self.level:
            if rel.startswith(folder + "/") and (best is None or len(folder) > len(best)):
                best = folder
        return best

    def plugin_unit(self, rel):
        """(the plugin folder holding `rel`, the folders it may include), or (None, None)."""
        for pattern, allowed in self.plugin_rules:
            depth = pattern.count("/") + 1
            parts = rel.split("/")
            if len(parts) > depth and fnmatch.fnmatchcase("/".join(parts[:depth]), pattern):
                return "/".join(parts[:depth]), allowed
        return None, None

    def describe(self, folder):
        if folder in self.level:
            return f"{folder} (layer {self.level[folder] + 1})"
        return folder


def resolve(root, including_dir, name):
    """The repository-relative path `#include "name"` reaches, or None (a generated header)."""
    for base in (including_dir,) + INCLUDE_ROOTS:
        candidate = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None


def sources(root):
    for top in ("daemon", "plugins"):
        for directory, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(SOURCE_EXTENSIONS):
                    yield os.path.relpath(os.path.join(directory, name), root)


def unit_of(layers, rel):
    """(unit folder, allowed folders or None for daemon ordering) of a source file."""
    if rel.startswith("plugins/"):
        return layers.plugin_unit(rel)
    return layers.daemon_unit(rel), None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))
    layers_file = os.path.join(root, "tools", "layers.txt")
    layers = Layers(layers_file)
    problems = list(layers.errors)
    for rel in sources(root):
        unit, allowed = unit_of(layers, rel)
        if unit is None:
            problems.append(f"{rel}: its folder is not in tools/layers.txt; add it to the "
                            "layer order")
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                target = resolve(root, os.path.dirname(rel), m.group(1))
                if target is None:
                    continue
                target_unit, _ = unit_of(layers, target)
                if target_unit == unit:
                    continue
                if allowed is not None:
                    if target_unit not in allowed:
                        problems.append(
                            f"{rel}:{number}: {unit} includes {target} ({target_unit or 'elsewhere'})"
                            f"; a plugin may include only {' '.join(allowed)} and its own files")
                    continue
                if target_unit is None or target_unit not in layers.level:
                    problems.append(f"{rel}:{number}: {layers.describe(unit)} includes {target}, "
                                    "which is outside the daemon's layers")
                elif layers.level[target_unit] >= layers.level[unit]:
                    relation = ("a sibling" if layers.level[target_unit] == layers.level[unit]
                                else "a higher layer")
                    problems.append(
                        f"{rel}:{number}: {layers.describe(unit)} includes {target} from "
                        f"{layers.describe(target_unit)}, {relation}; a layer may include only "
                        "layers listed before it in tools/layers.txt")
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} include(s) against tools/layers.txt",
              file=sys.stderr)
        return 1
    print("check_layers: every include follows tools/layers.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
