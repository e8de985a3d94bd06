# Runs ports/qtl/portfile.cmake without the vcpkg tool (which cannot be installed offline):
# the vcpkg helpers the port calls are replaced by stand-ins that do what vcpkg does for a
# header-only release-only port on Linux, and fail where vcpkg would complain. Then the
# package is copied to an "installed" tree elsewhere, as vcpkg does, and tests/consumer is
# built against it with find_package (the usage file's lines).
#   cmake -DQTL_SOURCE_DIR=.. -DWORK_DIR=.. -DGENERATOR=.. -DCXX_COMPILER=.. -P vcpkg_port.cmake
cmake_minimum_required(VERSION 3.25)
set(PORT qtl)
set(TARGET_TRIPLET x64-linux)
set(CURRENT_PACKAGES_DIR ${WORK_DIR}/packages/${PORT}_${TARGET_TRIPLET})
set(CURRENT_BUILDTREES_DIR ${WORK_DIR}/buildtrees/${PORT})
set(installed ${WORK_DIR}/installed/${TARGET_TRIPLET})
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()

# A file vcpkg installs must not name the directory it was built or staged in.
function(expect_relocatable file)
  file(READ ${file} text)
  foreach(dir ${CURRENT_PACKAGES_DIR} ${CURRENT_BUILDTREES_DIR} ${QTL_SOURCE_DIR})
    string(FIND "${text}" "${dir}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${file} names ${dir}: vcpkg's fixup would have to rewrite it")
    endif()
  endforeach()
endfunction()

# --- stand-ins for the vcpkg helpers ----------------------------------------------------
function(vcpkg_cmake_configure)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS;OPTIONS_RELEASE;OPTIONS_DEBUG")
  if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
    message(FATAL_ERROR "these stand-ins build release only: the port must set VCPKG_BUILD_TYPE release")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${arg_SOURCE_PATH} -B ${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel
      -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release
      -DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR} -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_INSTALL_BINDIR=bin
      ${arg_OPTIONS} ${arg_OPTIONS_RELEASE}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  message("${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configure failed (${rc})")
  endif()
  if(err MATCHES "not used by the project")  # vcpkg warns about an option the project ignores
    message(FATAL_ERROR "the port passes an option the project does not use")
  endif()
endfunction()

function(vcpkg_cmake_install)
  run(${CMAKE_COMMAND} --build ${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel --target install)
endfunction()

# vcpkg's helper moves CONFIG_PATH to share/<PACKAGE_NAME> and rewrites absolute paths; here the
# config must already be there (the port installs it there) and relocatable.
function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "PACKAGE_NAME;CONFIG_PATH" "")
  if(NOT arg_PACKAGE_NAME)
    set(arg_PACKAGE_NAME ${PORT})
  endif()
  set(dir ${CURRENT_PACKAGES_DIR}/share/${arg_PACKAGE_NAME})
  if(arg_CONFIG_PATH AND NOT arg_CONFIG_PATH STREQUAL "share/${arg_PACKAGE_NAME}")
    message(FATAL_ERROR "this stand-in does not move configs: install them to share/${arg_PACKAGE_NAME}")
  endif()
  if(NOT EXISTS ${dir}/${arg_PACKAGE_NAME}Config.cmake)
    message(FATAL_ERROR "no ${arg_PACKAGE_NAME}Config.cmake in share/${arg_PACKAGE_NAME}")
  endif()
  file(GLOB configs ${dir}/*.cmake)
  foreach(file IN LISTS configs)
    expect_relocatable(${file})
  endforeach()
endfunction()

function(vcpkg_fixup_pkgconfig)
  file(GLOB pc_files ${CURRENT_PACKAGES_DIR}/share/pkgconfig/*.pc ${CURRENT_PACKAGES_DIR}/lib/pkgconfig/*.pc)
  if(NOT pc_files)
    message(FATAL_ERROR "no .pc file in share/pkgconfig or lib/pkgconfig")
  endif()
  foreach(file IN LISTS pc_files)
    expect_relocatable(${file})
  endforeach()
endfunction()

function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
  set(text "")
  foreach(file IN LISTS arg_FILE_LIST)
    file(READ ${file} part)
    string(APPEND text "${part}")
  endforeach()
  file(WRITE ${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright "${text}")
endfunction()

# --- the port ---------------------------------------------------------------------------
include(${QTL_SOURCE_DIR}/ports/${PORT}/portfile.cmake)

# What vcpkg checks after the build, for a header-only port.
foreach(required share/${PORT}/copyright share/${PORT}/usage share/${PORT}/dispatch/scalar.cpp
    share/pkgconfig/qtl.pc include/qtl/qtl.hpp)
  if(NOT EXISTS ${CURRENT_PACKAGES_DIR}/${required})
    message(FATAL_ERROR "the port did not install ${required}")
  endif()
endforeach()
foreach(forbidden debug bin lib/cmake share/cmake share/doc)
  if(EXISTS ${CURRENT_PACKAGES_DIR}/${forbidden})
    message(FATAL_ERROR "the port left ${forbidden} in the package")
  endif()
endforeach()
file(READ ${QTL_SOURCE_DIR}/ports/${PORT}/vcpkg.json manifest)
string(JSON port_version GET "${manifest}" version)
file(STRINGS ${CURRENT_PACKAGES_DIR}/share/${PORT}/qtlConfigVersion.cmake package_version
  REGEX "^set\\(PACKAGE_VERSION ")
if(NOT package_version MATCHES "\"${port_version}\"")
  message(FATAL_ERROR "vcpkg.json says ${port_version}, the package ${package_version}")
endif()

# vcpkg installs the package by copying it into the installed tree.
file(COPY ${CURRENT_PACKAGES_DIR}/ DESTINATION ${installed})
file(REMOVE_RECURSE ${WORK_DIR}/packages ${WORK_DIR}/buildtrees)

set(build ${WORK_DIR}/consumer-build)
run(${CMAKE_COMMAND} -S ${QTL_SOURCE_DIR}/tests/consumer -B ${build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release -DQTL_CONSUMER_MODE=package
  -DCMAKE_PREFIX_PATH=${installed} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
file(STRINGS ${build}/CMakeCache.txt qtl_dir REGEX "^qtl_DIR:")
if(NOT qtl_dir STREQUAL "qtl_DIR:PATH=${installed}/share/qtl")
  message(FATAL_ERROR "the consumer found qtl elsewhere: ${qtl_dir}")
endif()
run(${CMAKE_COMMAND} --build ${build})
run(${build}/consumer)
