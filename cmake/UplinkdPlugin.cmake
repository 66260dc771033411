# SPDX-License-Identifier: Apache-2.0
# uplinkd_add_plugin(NAME <name> KIND cloud|modem SOURCES <files...> [LIBS <targets...>])
#
# Builds two targets from the same sources:
#   uplinkd_<kind>_<id>_lib : a static library, for the plugin's own unit tests;
#   uplinkd-<kind>-<name>   : the shared module that the daemon loads, written to
#                             ${UPLINKD_BUILD_PLUGIN_DIR} and installed to the plugin directory.
# <id> is <name> with '-' replaced by '_'. The plugin's sources define
# `const uplinkd::PluginDescriptor* uplinkd::plugins::<id>::descriptor()`; the module exports it as
# the C symbol `uplinkd_plugin()`, its only entry point.
function(uplinkd_add_plugin)
    cmake_parse_arguments(P "" "NAME;KIND" "SOURCES;LIBS" ${ARGN})
    string(REPLACE "-" "_" id "${P_NAME}")
    set(lib uplinkd_${P_KIND}_${id}_lib)
    add_library(${lib} STATIC ${P_SOURCES})
    target_link_libraries(${lib} PUBLIC uplinkd_sdk ${P_LIBS} PRIVATE uplinkd_warnings)
    target_include_directories(${lib} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
    # Hidden, like the module's own entry: otherwise the static objects of templates and inline
    # functions (the plugin's descriptor among them) are STB_GNU_UNIQUE symbols, which the dynamic
    # loader shares between every module that has them, RTLD_LOCAL or not: a second module giving
    # the same plugin (a renamed copy, another version) would hand out the first one's descriptor.
    set_target_properties(${lib} PROPERTIES
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON)

    set(module uplinkd-${P_KIND}-${P_NAME})
    set(entry ${CMAKE_CURRENT_BINARY_DIR}/${module}_entry.cpp)
    file(CONFIGURE OUTPUT ${entry} CONTENT [=[
// Generated: exports the descriptor of plugin @P_NAME@.
#include "uplinkd/plugin_abi.hpp"
namespace uplinkd::plugins::@id@ {
const PluginDescriptor* descriptor();
}
extern "C" __attribute__((visibility("default"))) const uplinkd::PluginDescriptor*
uplinkd_plugin() {
    return uplinkd::plugins::@id@::descriptor();
}
]=] @ONLY)
    add_library(${module} MODULE ${entry})
    target_link_libraries(${module} PRIVATE ${lib} uplinkd_warnings)
    set_target_properties(${module} PROPERTIES
        PREFIX ""
        LIBRARY_OUTPUT_DIRECTORY ${UPLINKD_BUILD_PLUGIN_DIR}
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON)
    # Keep the descriptor symbol even though nothing in the module references it, and export
    # nothing else: the code of the static libraries it links (the SDK, toml++) stays the module's
    # own instead of being shared with, or bound to, another module's copy.
    target_link_options(${module} PRIVATE "LINKER:--undefined=uplinkd_plugin"
                        "LINKER:--exclude-libs,ALL")
    install(TARGETS ${module} LIBRARY DESTINATION ${UPLINKD_PLUGIN_INSTALL_DIR})
endfunction()

# uplinkd_add_plugin_folders([FIRST <folder>...]): adds every folder next to the calling
# CMakeLists.txt that has a CMakeLists.txt of its own, in name order (the FIRST ones before the
# others, for shared code the plugins link), so that adding a plugin needs nothing but its folder.
# A new folder is picked up at the next build (the folder list is re-read then).
function(uplinkd_add_plugin_folders)
    cmake_parse_arguments(P "" "" "FIRST" ${ARGN})
    file(GLOB entries LIST_DIRECTORIES true CONFIGURE_DEPENDS
         RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
    list(SORT entries)
    list(REMOVE_ITEM entries ${P_FIRST})
    foreach(dir IN LISTS P_FIRST entries)
        if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${dir}
           AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
            add_subdirectory(${dir})
        endif()
    endforeach()
endfunction()
