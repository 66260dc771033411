// SPDX-License-Identifier: Apache-2.0
// The spool's files around SQLite: directory check, modes, moving aside. Thread: any.
#pragma once

#include <string>

#include "uplinkd/result.hpp"

namespace uplinkd::sqlite_spool_detail {

/// The directory of `path` ("." when it has none).
std::string parentDir(const std::string& path);

/// Makes a rename or a new file in `dir` durable.
void syncDirectory(const std::string& dir);

/// The first real line of a multi-line SQLite report, e.g. of PRAGMA quick_check.
std::string firstLine(const std::string& text);

/// Error "spool_io": "spool: open \"<path>\": <why>".
Failure ioFailure(const std::string& path, const std::string& why);

/// Checks that the directory of `path` exists and is writable; error "spool_io" otherwise.
Status checkDirectory(const std::string& path);

/// Spooled payloads are not for every user: creates the database file mode 0640 whatever the
/// umask (SQLite gives its -wal and -shm files the mode of the database file), and takes group
/// write and every right of others away from the files an older version may have left.
void restrictFileModes(const std::string& path);

/// After a clean close, "<path>-clean" holds the database file's size and modification time.
/// Writes it durably; call it once the database is closed.
void leaveCleanMark(const std::string& path);
/// True when the database was closed cleanly and not changed since (the mark matches the file).
/// Removes the mark durably either way, so that a crash from now on is seen at the next open.
bool takeCleanMark(const std::string& path);

/// Renames a database that is not a usable spool (and its -wal, -shm, -journal files) to
/// "<path>.corrupt-<unix time>"; returns the new name.
Result<std::string> moveAside(const std::string& path);

}  // namespace uplinkd::sqlite_spool_detail
