# Test registration. ctest runs three kinds of test:
#   tests/unit/test_<x>.c   C unit tests of one primitive, linked against lambda_core
#   tests/lua/test_<x>.lua  Lua tests, run by the real binary: cargo-lambda run <file>
#   tests/e2e/test_<x>.py   end-to-end tests running the binary against loopback servers
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(SHARED_DIR ${CMAKE_SOURCE_DIR}/../shared)
set(TEST_ENV
    "CARGO_LAMBDA_BIN=$<TARGET_FILE:cargo-lambda>"
    "CARGO_LAMBDA_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "CARGO_LAMBDA_SHARED_DIR=${SHARED_DIR}"
    "CARGO_LAMBDA_BUILD_DIR=${CMAKE_BINARY_DIR}"
    # The libraries the binary loads on first use (test_openssl_loading.py and
    # test_http_module.py break them).
    "CLC_LIBCURL_SONAME=${CURL_SONAME}"
    "CLC_LIBCRYPTO_SONAME=${LIBCRYPTO_SONAME}"
    "CLC_LIBSSL_SONAME=${LIBSSL_SONAME}"
    "CLC_LIBEVENT_OPENSSL_SONAME=${LIBEVENT_OPENSSL_SONAME}"
    "CLC_LIBEXPAT_SONAME=${EXPAT_SONAME}")

# Extra test programs (e.g. the toml-test decoder) are tests/tools/<x>.c.
file(GLOB TEST_TOOLS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/tools/*.c)
foreach(source IN LISTS TEST_TOOLS)
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE lambda_core)
  list(APPEND TEST_ENV "CLC_TOOL_${name}=$<TARGET_FILE:${name}>")
endforeach()

file(GLOB UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(source IN LISTS UNIT_TESTS)
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE lambda_core)
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES ENVIRONMENT "${TEST_ENV}"
                       WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endforeach()

file(GLOB LUA_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/lua/test_*.lua)
foreach(script IN LISTS LUA_TESTS)
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME lua.${name} COMMAND cargo-lambda run ${script})
  set_tests_properties(lua.${name} PROPERTIES ENVIRONMENT "${TEST_ENV}"
                       WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/lua TIMEOUT 120)
endforeach()

file(GLOB E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/test_*.py)
foreach(script IN LISTS E2E_TESTS)
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME e2e.${name} COMMAND ${Python3_EXECUTABLE} ${script})
  set_tests_properties(e2e.${name} PROPERTIES ENVIRONMENT "${TEST_ENV}"
                       WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/e2e TIMEOUT 300)
endforeach()
# On a cold cargo cache the Rust-runtime tests first compile lambda_runtime and its dependencies
# (about 75 s on 2 idle cores, several times that beside the other tests); they allow themselves
# 600 s for that build.
if(TEST e2e.test_watch_rust)
  set_tests_properties(e2e.test_watch_rust PROPERTIES TIMEOUT 1200)
endif()
