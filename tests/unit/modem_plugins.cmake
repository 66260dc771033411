# SPDX-License-Identifier: Apache-2.0
# Unit tests of the modem plugins (sierra-hl78, simcom-a76xx) against a scripted AtChannel;
# included from tests/CMakeLists.txt.
add_library(uplinkd_scripted_at_channel STATIC
    ${CMAKE_CURRENT_LIST_DIR}/../support/scripted_at_channel.cpp)
target_include_directories(uplinkd_scripted_at_channel PUBLIC
    ${CMAKE_CURRENT_LIST_DIR}/../support)
target_link_libraries(uplinkd_scripted_at_channel PUBLIC uplinkd_sdk asio_standalone GTest::gtest
                      PRIVATE uplinkd_warnings)
# Same Asio handler-memory choice as the plugins (see plugins/modem/common/CMakeLists.txt).
target_compile_definitions(uplinkd_scripted_at_channel PUBLIC ASIO_DISABLE_STD_ALIGNED_ALLOC)

add_executable(modem_hl78_test
    ${CMAKE_CURRENT_LIST_DIR}/modem_common_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/modem_hl78_test.cpp)
target_link_libraries(modem_hl78_test PRIVATE uplinkd_modem_sierra_hl78_lib
                      uplinkd_scripted_at_channel GTest::gtest_main asio_standalone
                      uplinkd_warnings)
gtest_discover_tests(modem_hl78_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

add_executable(modem_a76xx_test ${CMAKE_CURRENT_LIST_DIR}/modem_a76xx_test.cpp)
target_link_libraries(modem_a76xx_test PRIVATE uplinkd_modem_simcom_a76xx_lib
                      uplinkd_scripted_at_channel GTest::gtest_main asio_standalone
                      uplinkd_warnings)
gtest_discover_tests(modem_a76xx_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

# simcom-a76xx: the module's MQTT client (CMQTT*), in the same executable.
target_sources(modem_a76xx_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/modem_a76xx_mqtt_test.cpp)

# sierra-bx310x (BX3105 Wi-Fi, the module's MQTT client)
add_executable(modem_bx310x_test ${CMAKE_CURRENT_LIST_DIR}/modem_bx310x_test.cpp)
target_link_libraries(modem_bx310x_test PRIVATE uplinkd_modem_sierra_bx310x_lib
                      uplinkd_scripted_at_channel GTest::gtest_main asio_standalone
                      uplinkd_warnings)
target_compile_definitions(modem_bx310x_test PRIVATE UPLINKD_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
gtest_discover_tests(modem_bx310x_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

# st-spwf04s (ST SPWF04S Wi-Fi): parsers, tables, command sequences and the MQTT client.
add_executable(modem_spwf04s_test ${CMAKE_CURRENT_LIST_DIR}/modem_spwf04s_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/modem_spwf04s_tables_test.cpp)
target_link_libraries(modem_spwf04s_test PRIVATE uplinkd_modem_st_spwf04s_lib
                      uplinkd_scripted_at_channel GTest::gtest_main asio_standalone
                      uplinkd_warnings)
gtest_discover_tests(modem_spwf04s_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

# quectel-bg9x
add_executable(modem_bg9x_test ${CMAKE_CURRENT_LIST_DIR}/modem_bg9x_test.cpp)
target_link_libraries(modem_bg9x_test PRIVATE uplinkd_modem_quectel_bg9x_lib
                      uplinkd_scripted_at_channel GTest::gtest_main asio_standalone
                      OpenSSL::Crypto uplinkd_warnings)
gtest_discover_tests(modem_bg9x_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

# Issue 17, tests: each driver's parsers and tables in a file of their own, next to its driver
# tests (same executables).
target_sources(modem_hl78_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/modem_hl78_parsers_test.cpp)
target_sources(modem_a76xx_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/modem_a76xx_parsers_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/modem_a76xx_mqtt_parsers_test.cpp)
target_sources(modem_bg9x_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/modem_bg9x_parsers_test.cpp)
target_sources(modem_bx310x_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/modem_bx310x_parsers_test.cpp)
