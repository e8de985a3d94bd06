# Conan 2 recipe: qtl as a header-only package (one package for every configuration).
# The package carries qtl's own CMake config (qtlConfig.cmake: version check, the
# dependencies, qtl_add_runtime_dispatch()), so find_package(qtl) behaves as with any
# other install; xsimd and Eigen come from Conan, or from the system through a profile's
# [platform_requires] (conan/debian.profile). The qtl tool is not part of the package.
import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir


class QtlConan(ConanFile):
    name = "qtl"
    description = "Quantization Template Library: header-only C++20 low-bit quantization and kernels"
    license = "Apache-2.0"
    topics = ("quantization", "simd", "header-only", "gguf", "llm")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"with_safetensors": [True, False]}
    default_options = {"with_safetensors": True}
    exports_sources = ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/dispatch/*")
    no_copy_source = True

    def set_version(self):
        cmakelists = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        self.version = re.search(r"project\(qtl\s+VERSION\s+([0-9.]+)", cmakelists).group(1)

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        self.requires("xsimd/[>=13 <14]")
        self.requires("eigen/[>=3.4 <4]")
        # qtl/io/safetensors.hpp parses JSON. The package is the same either way: the
        # installed qtl::qtl links nlohmann_json wherever find_package(qtl) finds it.
        if self.options.with_safetensors:
            self.requires("nlohmann_json/[>=3.10 <4]")

    def validate(self):
        check_min_cppstd(self, 20)

    def package_id(self):
        self.info.clear()

    def generate(self):
        toolchain = CMakeToolchain(self)
        for part in ("TESTS", "BENCH", "EXAMPLES", "TOOLS"):
            toolchain.cache_variables[f"QTL_BUILD_{part}"] = False
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        CMake(self).configure()

    def package(self):
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "share", "doc"))
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        # find_package(qtl) loads the package's own share/cmake/qtl/qtlConfig.cmake.
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs = [os.path.join("share", "cmake", "qtl")]
