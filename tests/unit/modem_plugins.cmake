# SPDX-License-Identifier: Apache-2.0
# Unit tests of the modem plugins against a scripted AtChannel; included from
# tests/CMakeLists.txt.
add_library(uplinkd_scripted_at_channel STATIC
    ${CMAKE_CURRENT_LIST_DIR}/../support/scripted_at_channel.cpp)
target_include_directories(uplinkd_scripted_at_channel PUBLIC
    ${CMAKE_CURRENT_LIST_DIR}/../support)
target_link_libraries(uplinkd_scripted_at_channel PUBLIC uplinkd_sdk asio_standalone GTest::gtest
                      PRIVATE uplinkd_warnings)
# Same Asio handler-memory choice as the plugins (see plugins/modem/common/CMakeLists.txt).
target_compile_definitions(uplinkd_scripted_at_channel PUBLIC ASIO_DISABLE_STD_ALIGNED_ALLOC)

# uplinkd_modem_unit_test(NAME name DRIVER lib SOURCES ... [LIBS ...]): one gtest executable of a
# driver's unit tests (files of this folder), linked with the driver's library and the scripted
# channel.
function(uplinkd_modem_unit_test)
    cmake_parse_arguments(T "" "NAME;DRIVER" "SOURCES;LIBS" ${ARGN})
    list(TRANSFORM T_SOURCES PREPEND ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/)
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_DRIVER} uplinkd_scripted_at_channel
                          GTest::gtest_main asio_standalone ${T_LIBS} uplinkd_warnings)
    gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
endfunction()

# sierra-hl78 (with the helpers all drivers share)
uplinkd_modem_unit_test(NAME modem_hl78_test DRIVER uplinkd_modem_sierra_hl78_lib SOURCES
    modem_common_test.cpp modem_hl78_test.cpp modem_hl78_store_test.cpp
    modem_hl78_parsers_test.cpp)

# simcom-a76xx, and the module's MQTT client (CMQTT*) in the same executable
uplinkd_modem_unit_test(NAME modem_a76xx_test DRIVER uplinkd_modem_simcom_a76xx_lib SOURCES
    modem_a76xx_test.cpp modem_a76xx_mqtt_test.cpp modem_a76xx_parsers_test.cpp
    modem_a76xx_mqtt_parsers_test.cpp)

# sierra-bx310x (BX3105 Wi-Fi, the module's MQTT client)
uplinkd_modem_unit_test(NAME modem_bx310x_test DRIVER uplinkd_modem_sierra_bx310x_lib SOURCES
    modem_bx310x_test.cpp modem_bx310x_parsers_test.cpp)
target_compile_definitions(modem_bx310x_test PRIVATE UPLINKD_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

# st-spwf04s (ST SPWF04S Wi-Fi): parsers, tables, command sequences and the MQTT client.
uplinkd_modem_unit_test(NAME modem_spwf04s_test DRIVER uplinkd_modem_st_spwf04s_lib SOURCES
    modem_spwf04s_test.cpp modem_spwf04s_tables_test.cpp)

# quectel-bg9x, and the module's MQTT client (QMT*) in the same executable
uplinkd_modem_unit_test(NAME modem_bg9x_test DRIVER uplinkd_modem_quectel_bg9x_lib SOURCES
    modem_bg9x_test.cpp modem_bg9x_mqtt_test.cpp modem_bg9x_parsers_test.cpp
    LIBS OpenSSL::Crypto)
