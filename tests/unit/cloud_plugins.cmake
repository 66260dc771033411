# SPDX-License-Identifier: Apache-2.0
# Unit tests of the cloud plugins (aws-iot, azure-iot-hub, hivemq-cloud); included from
# tests/CMakeLists.txt.
add_executable(cloud_aws_iot_test ${CMAKE_CURRENT_LIST_DIR}/cloud_aws_iot_test.cpp)
target_link_libraries(cloud_aws_iot_test PRIVATE uplinkd_cloud_aws_iot_lib GTest::gtest_main
                      uplinkd_warnings)
gtest_discover_tests(cloud_aws_iot_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

add_executable(cloud_azure_iot_hub_test
    ${CMAKE_CURRENT_LIST_DIR}/cloud_azure_iot_hub_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cloud_azure_iot_hub_sas_test.cpp)
target_link_libraries(cloud_azure_iot_hub_test PRIVATE uplinkd_cloud_azure_iot_hub_lib
                      GTest::gtest_main uplinkd_warnings)
gtest_discover_tests(cloud_azure_iot_hub_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)

add_executable(cloud_hivemq_cloud_test ${CMAKE_CURRENT_LIST_DIR}/cloud_hivemq_cloud_test.cpp)
target_link_libraries(cloud_hivemq_cloud_test PRIVATE uplinkd_cloud_hivemq_cloud_lib
                      GTest::gtest_main uplinkd_warnings)
gtest_discover_tests(cloud_hivemq_cloud_test DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
