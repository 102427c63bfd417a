# Exercise mode: build the libraries with a learner's file in place of the
# reference implementation of some functions, so the learner's code runs in
# the tests and in the ember binary.
#
#   -DEMBER_EXERCISES="hinge;viterbi"       exercises to take from the learner
#   -DEMBER_EXERCISE_DIR=/path/to/folder    where NAME.cpp of each one lives
#
# scripts/exercises/table.tsv lists the exercises: each names the library
# target, the one reference source that NAME.cpp replaces, and the test
# binary and Catch test spec that check it. scripts/exercise copies a
# skeleton and sets these two options; docs/exercises.md explains the rest.

set(EMBER_EXERCISES "" CACHE STRING
    "Exercises whose learner file replaces the reference source (see scripts/exercise --list)")
set(EMBER_EXERCISE_DIR "" CACHE PATH "Folder holding the learner's NAME.cpp for each exercise")

set(EMBER_EXERCISE_TABLE ${PROJECT_SOURCE_DIR}/scripts/exercises/table.tsv)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${EMBER_EXERCISE_TABLE})

# Reads the table row of exercise `name` into <prefix>_TARGET, _SOURCE,
# _BINARY and _SPEC in the caller's scope; a fatal error if there is none.
function(ember_exercise_row name prefix)
  file(STRINGS ${EMBER_EXERCISE_TABLE} rows REGEX "^[^#]")
  set(known "")
  foreach(row IN LISTS rows)
    string(REPLACE "\t" ";" fields "${row}")
    list(GET fields 0 row_name)
    list(APPEND known ${row_name})
    if(row_name STREQUAL name)
      list(GET fields 1 target)
      list(GET fields 2 source)
      list(GET fields 3 binary)
      list(GET fields 4 spec)
      set(${prefix}_TARGET ${target} PARENT_SCOPE)
      set(${prefix}_SOURCE ${source} PARENT_SCOPE)
      set(${prefix}_BINARY ${binary} PARENT_SCOPE)
      set(${prefix}_SPEC "${spec}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  list(JOIN known ", " known)
  message(FATAL_ERROR "EMBER_EXERCISES: unknown exercise \"${name}\"; expected one of: ${known}")
endfunction()

# Swaps each listed exercise's reference source for the learner's file.
# Call once, after the library targets exist.
function(ember_use_exercise_sources)
  if(NOT EMBER_EXERCISES)
    return()
  endif()
  if(NOT IS_DIRECTORY "${EMBER_EXERCISE_DIR}")
    message(FATAL_ERROR "EMBER_EXERCISES is \"${EMBER_EXERCISES}\" but EMBER_EXERCISE_DIR "
                        "\"${EMBER_EXERCISE_DIR}\" is not a folder; point it at the folder "
                        "that scripts/exercise copied the skeletons into")
  endif()
  foreach(name IN LISTS EMBER_EXERCISES)
    ember_exercise_row(${name} row)
    set(learner_file ${EMBER_EXERCISE_DIR}/${name}.cpp)
    if(NOT EXISTS ${learner_file})
      message(FATAL_ERROR "exercise ${name}: ${learner_file} does not exist; run "
                          "scripts/exercise ${name} ${EMBER_EXERCISE_DIR} to copy its skeleton")
    endif()
    get_target_property(sources ${row_TARGET} SOURCES)
    set(reference ${PROJECT_SOURCE_DIR}/${row_SOURCE})
    list(FIND sources ${reference} position)
    if(position LESS 0)
      message(FATAL_ERROR "exercise ${name}: ${row_SOURCE} is not a source of ${row_TARGET}")
    endif()
    list(REMOVE_AT sources ${position})
    list(APPEND sources ${learner_file})
    set_property(TARGET ${row_TARGET} PROPERTY SOURCES ${sources})
    message(STATUS "Exercise ${name}: ${learner_file} replaces ${row_SOURCE}")
  endforeach()
endfunction()

# Adds a target exercise-NAME per listed exercise that builds the exercise's
# test binary and runs its tests. Call once, after the test binaries exist.
function(ember_add_exercise_checks)
  foreach(name IN LISTS EMBER_EXERCISES)
    ember_exercise_row(${name} row)
    add_custom_target(exercise-${name}
                      COMMAND $<TARGET_FILE:${row_BINARY}> "${row_SPEC}"
                      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests
                      COMMENT "Running the tests of exercise ${name}: ${row_SPEC}"
                      VERBATIM)
    add_dependencies(exercise-${name} ${row_BINARY})
  endforeach()
endfunction()
