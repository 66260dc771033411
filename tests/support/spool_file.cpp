// SPDX-License-Identifier: Apache-2.0
#include "spool_file.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace uplinkd::testing {

void setSpoolPayload(const std::string& path, uint64_t seq, const std::string& payload,
                     bool as_text) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK) << path;
    sqlite3_busy_timeout(db, 10'000);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "UPDATE messages SET payload = ?1 WHERE seq = ?2", -1, &s,
                           nullptr) != SQLITE_OK) {
        ADD_FAILURE() << path << ": " << sqlite3_errmsg(db);
        sqlite3_close(db);
        return;
    }
    if (as_text) {
        sqlite3_bind_text64(s, 1, payload.data(), payload.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } else {
        sqlite3_bind_blob64(s, 1, payload.data(), payload.size(), SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(seq));
    EXPECT_EQ(sqlite3_step(s), SQLITE_DONE) << path << ": " << sqlite3_errmsg(db);
    EXPECT_EQ(sqlite3_changes(db), 1) << path << ": no message " << seq;
    sqlite3_finalize(s);
    sqlite3_close(db);
}

}  // namespace uplinkd::testing
