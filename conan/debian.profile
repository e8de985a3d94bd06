# Conan profile for a Debian machine without access to Conan Center: the compiler that
# `conan profile detect` found, C++20, and qtl's dependencies taken from the Debian
# packages (libxsimd-dev, libeigen3-dev, nlohmann-json3-dev) instead of built by Conan.
#   conan profile detect
#   conan create . -pr:h conan/debian.profile --build=missing
include(default)

[settings]
compiler.cppstd=20

[platform_requires]
xsimd/13.2.0
eigen/3.4.0
nlohmann_json/3.11.2
