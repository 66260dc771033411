# SPDX-License-Identifier: Apache-2.0
# Sourced by tools/test.sh and tools/demo.sh: compile through ccache (installed by
# tools/setup.sh), so that a rebuild of unchanged sources, and the Debian package build in
# tests/packaging, reuse earlier compilations. CMake takes the launcher from these variables
# when a build directory is configured. Paths below the tree are hashed relative to it, so
# clones in other folders share the cache.
if command -v ccache >/dev/null 2>&1; then
    export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)} CCACHE_NOHASHDIR=1
fi
