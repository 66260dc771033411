#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Puts the license tag "SPDX-License-Identifier: Apache-2.0" at the top of every source file of the
# repository (tracked, or new and not ignored): "// ..." as the first line of C and C++ files,
# "# ..." as the first line of shell, Python and CMake files (after the "#!" line where there is
# one). Files that already have it are left alone, so running it twice changes nothing.
#
# Usage: tools/add_spdx.sh           add the tag where it is missing (lists the files it changed)
#        tools/add_spdx.sh --check   change nothing; list the files without it, exit 1 if any (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

tag='SPDX-License-Identifier: Apache-2.0'
mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# The comment that carries the tag in file $1, or nothing when the file is not a source file.
comment_for() {
  case "$1" in
    tests/fuzz/corpus/*) ;;
    *.cpp | *.hpp | *.h | *.c) echo '//' ;;
    *.sh | *.py | *.cmake | CMakeLists.txt | */CMakeLists.txt) echo '#' ;;
  esac
}

# True when the tag is the first line of $1, or the second after a "#!" line.
has_tag() {
  local first second
  { IFS= read -r first || true; IFS= read -r second || true; } <"$1"
  [[ "$first" == *"$tag" ]] || [[ "$first" == '#!'* && "$second" == *"$tag" ]]
}

missing=0
while IFS= read -r -d '' file; do
  [ -f "$file" ] || continue
  comment=$(comment_for "$file")
  [ -n "$comment" ] || continue
  has_tag "$file" && continue
  missing=$((missing + 1))
  echo "$file"
  [ "$mode" = write ] || continue
  line="$comment $tag"
  tmp=$(mktemp "$file.spdx.XXXXXX")
  if IFS= read -r first <"$file" && [[ "$first" == '#!'* ]]; then
    { printf '%s\n%s\n' "$first" "$line"; tail -n +2 "$file"; } >"$tmp"
  else
    { printf '%s\n' "$line"; cat "$file"; } >"$tmp"
  fi
  chmod --reference="$file" "$tmp"
  mv "$tmp" "$file"
done < <(git ls-files -z --cached --others --exclude-standard)

if [ "$mode" = check ] && [ "$missing" -gt 0 ]; then
  echo "add_spdx: $missing file(s) above lack \"$tag\"; run tools/add_spdx.sh" >&2
  exit 1
fi
if [ "$mode" = write ]; then
  echo "add_spdx: tagged $missing file(s)" >&2
fi
