# SPDX-License-Identifier: BSD-3-Clause
# ctest bench_quick: cmake -DBENCH=<synq-bench> -P checkoutput.cmake
# Runs synq-bench --quick and fails unless it exits with 0 and stdout holds one well-formed
# JSON figure per line, with every expected figure present and a numeric value for each.
cmake_minimum_required(VERSION 3.21)

if(NOT BENCH)
    message(FATAL_ERROR "pass -DBENCH=<path to synq-bench>")
endif()

execute_process(COMMAND "${BENCH}" --quick
                OUTPUT_VARIABLE out
                RESULT_VARIABLE rc
                TIMEOUT 280)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "synq-bench --quick exited with ${rc}\n${out}")
endif()

set(expected mutation_full_median mutation_full_p99 mutation_normal_median mutation_normal_p99
             insert_many pull pull_max_stall push_offline push_requests cold_open
             memory_per_row)
set(seen "")
string(REPLACE "\n" ";" lines "${out}")
foreach(line IN LISTS lines)
    if(line STREQUAL "")
        continue()
    endif()
    foreach(field name value unit limit ratio target pass)
        string(JSON v ERROR_VARIABLE err GET "${line}" ${field})
        if(err)
            message(FATAL_ERROR "not a figure line (${field}: ${err}):\n${line}")
        endif()
    endforeach()
    string(JSON name GET "${line}" name)
    string(JSON type TYPE "${line}" value)
    if(NOT type STREQUAL "NUMBER")
        message(FATAL_ERROR "${name}: value is ${type}, not a number:\n${line}")
    endif()
    string(JSON value GET "${line}" value)
    if(value LESS 0)
        message(FATAL_ERROR "${name}: negative value:\n${line}")
    endif()
    foreach(field limit ratio target)
        string(JSON type TYPE "${line}" ${field})
        if(NOT type MATCHES "^(NUMBER|NULL)$")
            message(FATAL_ERROR "${name}: ${field} is ${type}:\n${line}")
        endif()
    endforeach()
    string(JSON type TYPE "${line}" pass)
    if(NOT type MATCHES "^(BOOLEAN|NULL)$")
        message(FATAL_ERROR "${name}: pass is ${type}:\n${line}")
    endif()
    if(name IN_LIST seen)
        message(FATAL_ERROR "${name} printed twice")
    endif()
    list(APPEND seen "${name}")
endforeach()
foreach(name IN LISTS expected)
    if(NOT name IN_LIST seen)
        message(FATAL_ERROR "figure ${name} missing from the output:\n${out}")
    endif()
endforeach()
list(LENGTH seen n)
message(STATUS "synq-bench --quick printed ${n} well-formed figures")
