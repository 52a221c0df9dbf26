# SPDX-License-Identifier: BSD-3-Clause
# cmake -P script behind the tst_install test. Fails (FATAL_ERROR) at the first broken step.

function(run_step what)
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
        WORKING_DIRECTORY "${WORK_DIR}")
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
    endif()
    set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

run_step("cmake --install" "${CMAKE_COMMAND}" --install "${SYNQ_BUILD_DIR}" --prefix "${prefix}")
foreach(f include/synq/synccollection.h include/synq/synq_export.h include/synq/testbackend.h
          include/synq/synq_testing_export.h)
    if(NOT EXISTS "${prefix}/${f}")
        message(FATAL_ERROR "not installed: ${f}")
    endif()
endforeach()
# Only the public API is installed: exactly the expected headers, none of them reaching into
# QtSql or into a header that is not installed, each one compiling on its own.
file(READ "${HEADER_LIST}" expected_headers)
file(GLOB installed_headers RELATIVE "${prefix}/include/synq" "${prefix}/include/synq/*")
list(SORT installed_headers)
if(NOT installed_headers STREQUAL expected_headers)
    message(FATAL_ERROR "installed headers differ from the public API:\n"
                        "  installed: ${installed_headers}\n  expected:  ${expected_headers}")
endif()
set(header_sources "")
foreach(header IN LISTS installed_headers)
    file(READ "${prefix}/include/synq/${header}" text)
    if(text MATCHES "QtSql|QSql")
        message(FATAL_ERROR "the installed header ${header} uses QtSql")
    endif()
    string(REGEX MATCHALL "#include <synq/[^>]+>" includes "${text}")
    foreach(include IN LISTS includes)
        string(REGEX REPLACE "#include <synq/([^>]+)>" "\\1" included "${include}")
        if(NOT EXISTS "${prefix}/include/synq/${included}")
            message(FATAL_ERROR "the installed header ${header} includes ${included}, which is not installed")
        endif()
    endforeach()
    string(MAKE_C_IDENTIFIER "${header}" id)
    file(WRITE "${WORK_DIR}/headers/${id}.cpp" "#include <synq/${header}>\n")
    list(APPEND header_sources "${id}.cpp")
endforeach()
file(WRITE "${WORK_DIR}/headers/CMakeLists.txt" "cmake_minimum_required(VERSION 3.21)
project(synq_header_check LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(Synq REQUIRED)
add_library(header_check OBJECT ${header_sources})
target_link_libraries(header_check PRIVATE Synq::Synq Synq::Testing)
")
run_step("configuring the header check against the installed package"
    "${CMAKE_COMMAND}" -S "${WORK_DIR}/headers" -B "${WORK_DIR}/headers/build" -G "${GENERATOR}"
    -DCMAKE_PREFIX_PATH=${prefix})
run_step("compiling each installed header on its own" "${CMAKE_COMMAND}" --build "${WORK_DIR}/headers/build")

file(GLOB_RECURSE config "${prefix}/*/SynqConfig.cmake")
if(NOT config)
    message(FATAL_ERROR "SynqConfig.cmake was not installed")
endif()
if(NOT EXISTS "${prefix}/${QML_DIR}/Synq/qmldir")
    message(FATAL_ERROR "the QML module was not installed in ${prefix}/${QML_DIR}/Synq")
endif()

file(GLOB installed_server "${prefix}/bin/synq-server")
if(NOT installed_server)
    message(FATAL_ERROR "synq-server was not installed")
endif()
run_step("running the installed synq-server" "${installed_server}" --help)
if(NOT step_output MATCHES "--listen")
    message(FATAL_ERROR "the installed synq-server did not run:\n${step_output}")
endif()

run_step("configuring the example against the installed package"
    "${CMAKE_COMMAND}" -S "${SYNQ_SOURCE_DIR}/examples/offline-notes" -B "${WORK_DIR}/consumer"
    -G "${GENERATOR}" -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("building the example" "${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer")
run_step("running the example" "${WORK_DIR}/consumer/offline-notes" demo "${WORK_DIR}/demo.sqlite")
if(NOT step_output MATCHES "A new process opens the same file")
    message(FATAL_ERROR "unexpected output of the example:\n${step_output}")
endif()

# Synq::Testing from the same package: a tiny program pushes through an installed TestBackend.
run_step("configuring a Synq::Testing consumer against the installed package"
    "${CMAKE_COMMAND}" -S "${SYNQ_SOURCE_DIR}/tests/install/testing-consumer"
    -B "${WORK_DIR}/testing-consumer" -G "${GENERATOR}" -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=Release)
run_step("building the Synq::Testing consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/testing-consumer")
run_step("running the Synq::Testing consumer" "${WORK_DIR}/testing-consumer/synq-testing-consumer")
if(NOT step_output MATCHES "testing: status=0 version=2 title=Oat milk")
    message(FATAL_ERROR "unexpected output of the Synq::Testing consumer:\n${step_output}")
endif()

if(QML_TOOL)
    run_step("loading the installed QML module with qml"
        "${QML_TOOL}" -I "${prefix}/${QML_DIR}" "${SYNQ_SOURCE_DIR}/tests/qml/tool/smoke.qml")
    if(NOT step_output MATCHES "smoke: rows=2 pending=2 title=second error=Validation")
        message(FATAL_ERROR "the installed module did not work:\n${step_output}")
    endif()
endif()
message(STATUS "installed package works: ${prefix}")
