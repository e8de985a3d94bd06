# Builds and runs tests/consumer against qtl. MODE=package installs qtl into a fresh
# prefix first and uses find_package; MODE=subdirectory uses add_subdirectory;
# MODE=pkg-config installs, moves the prefix (the .pc file must relocate) and compiles
# main.cpp with the flags `pkg-config --cflags qtl` prints, without CMake.
set(build ${WORK_DIR}/${MODE}-build)
set(prefix ${WORK_DIR}/${MODE}-prefix)
file(REMOVE_RECURSE ${build} ${prefix} ${prefix}-moved)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()

if(MODE STREQUAL "pkg-config")
  find_program(pkg_config pkg-config REQUIRED)
  run(${CMAKE_COMMAND} --install ${QTL_BINARY_DIR} --prefix ${prefix})
  file(RENAME ${prefix} ${prefix}-moved)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}-moved/share/pkgconfig
      ${pkg_config} --cflags qtl
    OUTPUT_VARIABLE cflags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT cflags MATCHES "-I${prefix}-moved/")
    message(FATAL_ERROR "pkg-config --cflags qtl (${rc}): '${cflags}'")
  endif()
  message(STATUS "pkg-config --cflags qtl: ${cflags}")
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  file(MAKE_DIRECTORY ${build})
  run(${CXX_COMPILER} -std=c++20 -O1 ${cflags} ${QTL_SOURCE_DIR}/tests/consumer/main.cpp -o ${build}/consumer)
  run(${build}/consumer)
  return()
endif()

set(configure ${CMAKE_COMMAND} -S ${QTL_SOURCE_DIR}/tests/consumer -B ${build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "package")
  run(${CMAKE_COMMAND} --install ${QTL_BINARY_DIR} --prefix ${prefix})
  run(${configure} -DQTL_CONSUMER_MODE=package -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
else()
  run(${configure} -DQTL_CONSUMER_MODE=subdirectory -DQTL_SOURCE_DIR=${QTL_SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${build})
run(${build}/consumer)
