# SPDX-License-Identifier: Apache-2.0
# azure_sas_broker_test: a real mosquitto with the mosquitto_azure_sas_auth plugin
# (tests/brokers/azure-sas-auth), driven with libmosquitto. Fails (does not skip) without mosquitto.
find_program(UPLINKD_MOSQUITTO_EXECUTABLE mosquitto PATHS /usr/sbin /usr/local/sbin)
find_library(UPLINKD_LIBMOSQUITTO mosquitto REQUIRED)
find_path(UPLINKD_LIBMOSQUITTO_INCLUDE_DIR mosquitto.h REQUIRED)

# A sanitized plugin needs the ASan runtime loaded first in the (unsanitized) broker.
set(uplinkd_sanitizer_preload "")
if(UPLINKD_SANITIZE)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                    OUTPUT_VARIABLE uplinkd_sanitizer_preload OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

add_executable(azure_sas_broker_test ${CMAKE_CURRENT_LIST_DIR}/azure_sas_broker_test.cpp)
target_include_directories(azure_sas_broker_test SYSTEM PRIVATE ${UPLINKD_LIBMOSQUITTO_INCLUDE_DIR})
target_link_libraries(azure_sas_broker_test PRIVATE uplinkd_cloud_azure_iot_hub_lib
                      ${UPLINKD_LIBMOSQUITTO} GTest::gtest_main uplinkd_warnings)
target_compile_definitions(azure_sas_broker_test PRIVATE
    UPLINKD_SAS_AUTH_PLUGIN="$<TARGET_FILE:mosquitto_azure_sas_auth>"
    UPLINKD_MOSQUITTO_EXECUTABLE="${UPLINKD_MOSQUITTO_EXECUTABLE}"
    UPLINKD_SANITIZER_PRELOAD="${uplinkd_sanitizer_preload}")
add_dependencies(azure_sas_broker_test mosquitto_azure_sas_auth)
gtest_discover_tests(azure_sas_broker_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration TIMEOUT 120)
