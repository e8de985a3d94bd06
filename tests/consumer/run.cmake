# Builds and runs tests/consumer against qtl. MODE=package installs qtl into a fresh
# prefix first and uses find_package; MODE=subdirectory uses add_subdirectory.
set(build ${WORK_DIR}/${MODE}-build)
file(REMOVE_RECURSE ${build} ${WORK_DIR}/${MODE}-prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()

set(configure ${CMAKE_COMMAND} -S ${QTL_SOURCE_DIR}/tests/consumer -B ${build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "package")
  set(prefix ${WORK_DIR}/${MODE}-prefix)
  run(${CMAKE_COMMAND} --install ${QTL_BINARY_DIR} --prefix ${prefix})
  run(${configure} -DQTL_CONSUMER_MODE=package -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
else()
  run(${configure} -DQTL_CONSUMER_MODE=subdirectory -DQTL_SOURCE_DIR=${QTL_SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${build})
run(${build}/consumer)
