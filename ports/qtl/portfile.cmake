# Overlay port for the qtl checkout it sits in: vcpkg install qtl --overlay-ports=<qtl>/ports.
# A registry port would fetch a release instead of using the checkout:
#   vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO <owner>/qtl REF "v${VERSION}" SHA512 <hash>)
# tests/packaging/vcpkg_port.cmake runs this file under stand-ins for the vcpkg helpers
# when the vcpkg tool is not installed (docs/building.md, Packaging).
set(VCPKG_BUILD_TYPE release)  # header-only: one configuration, no debug tree
# The safetensors feature only adds the nlohmann-json dependency: the installed qtl::qtl
# links nlohmann_json wherever find_package(qtl) finds it.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DQTL_BUILD_TESTS=OFF
    -DQTL_BUILD_BENCH=OFF
    -DQTL_BUILD_EXAMPLES=OFF
    -DQTL_BUILD_TOOLS=OFF
    "-DQTL_INSTALL_CMAKEDIR=share/${PORT}")
vcpkg_cmake_install()
vcpkg_cmake_config_fixup()
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/share/doc")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
