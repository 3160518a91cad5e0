# libFuzzer targets: fuzz/fuzz_<x>.c, built when -DCLC_FUZZ=ON with clang (CMakeLists.txt
# instruments the whole build for coverage so the fuzzer can steer into the parsers).
file(GLOB FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
foreach(source IN LISTS FUZZ_TARGETS)
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE lambda_core)
endforeach()
