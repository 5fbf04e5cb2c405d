# `make install` / `cmake --install`: what dycl installs, and where (relative to the prefix).
#
#   bin/dycl                                  the command line
#   lib/libdycl.so.<version> (+ .so.0, .so)   the library (everything of include/dycl/dycl.h)
#   lib/libdycl.a                             the same, static (link with `pkg-config --static`)
#   include/dycl/dycl.h                       the public API
#   lib/pkgconfig/dycl.pc                     `pkg-config --cflags --libs dycl`
#   lib/cmake/dycl/dyclConfig*.cmake          `find_package(dycl)`: imported targets dycl::dycl
#                                             (shared) and dycl::dycl_static
#   share/man/man1/dycl.1                     `man dycl`
#   lib/python3/dist-packages/dycl/           the Python package (python/dycl), which finds
#                                             ../../../libdycl.so, i.e. lib/libdycl.so
#   share/doc/dycl/                           README and docs/*.md
#
# Every path is relative to the prefix, and the pkg-config and CMake files locate the prefix from
# where they are, so an installed tree can be moved (or installed with DESTDIR, or with
# `cmake --install BUILD --prefix P` into a prefix other than the configured one).
# Included from the top-level CMakeLists.txt after the targets are defined.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
# lib/, not Debian's multiarch lib/<triplet>/, so that the Python package finds the library at
# PREFIX/lib whatever the prefix (override with -DCMAKE_INSTALL_LIBDIR=...).
if(NOT DEFINED CACHE{DYCL_INSTALL_LIBDIR})
  set(DYCL_INSTALL_LIBDIR lib CACHE PATH "Library folder under the install prefix")
endif()
set(DYCL_PY_DIR ${DYCL_INSTALL_LIBDIR}/python3/dist-packages)

# One version, the header's.
file(STRINGS ${CMAKE_SOURCE_DIR}/include/dycl/dycl.h _dycl_version_line REGEX "^#define DYCL_VERSION \"")
string(REGEX REPLACE "^#define DYCL_VERSION \"([0-9]+\\.[0-9]+\\.[0-9]+)\".*" "\\1" DYCL_VERSION_STRING
       "${_dycl_version_line}")
if(NOT DYCL_VERSION_STRING MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+$")
  message(FATAL_ERROR "cannot read DYCL_VERSION from include/dycl/dycl.h")
endif()
string(REGEX MATCH "^[0-9]+" DYCL_VERSION_MAJOR "${DYCL_VERSION_STRING}")

# The shared library: versioned file name and soname, its header for consumers.
set_target_properties(dycl PROPERTIES VERSION ${DYCL_VERSION_STRING} SOVERSION ${DYCL_VERSION_MAJOR})
target_include_directories(dycl INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                                          $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# The static library: dycl_core and the generated protobuf code in one archive.
add_library(dycl_static STATIC $<TARGET_OBJECTS:dycl_core> $<TARGET_OBJECTS:dycl_proto>)
set_target_properties(dycl_static PROPERTIES OUTPUT_NAME dycl LINKER_LANGUAGE C)
target_include_directories(dycl_static INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                                                 $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set(DYCL_PC_LIBS_PRIVATE "-lprotobuf-c")
set(DYCL_STATIC_DEPS protobuf-c m)
if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY AND GOMP_LIBRARY)
  string(APPEND DYCL_PC_LIBS_PRIVATE " -ldnnl -lgomp")
  list(INSERT DYCL_STATIC_DEPS 1 dnnl gomp)
endif()
string(APPEND DYCL_PC_LIBS_PRIVATE " -lm")
target_link_libraries(dycl_static INTERFACE ${DYCL_STATIC_DEPS})

install(TARGETS dycl_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS dycl dycl_static EXPORT dyclTargets
        LIBRARY DESTINATION ${DYCL_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${DYCL_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/dycl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# pkg-config: the prefix is found from the .pc file's own folder (PREFIX/lib/pkgconfig).
file(RELATIVE_PATH _dycl_pc_up /x/${DYCL_INSTALL_LIBDIR}/pkgconfig /x)
string(REGEX REPLACE "/$" "" _dycl_pc_up "${_dycl_pc_up}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/dycl.pc.in ${CMAKE_BINARY_DIR}/install/dycl.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/install/dycl.pc DESTINATION ${DYCL_INSTALL_LIBDIR}/pkgconfig)

# CMake package: dyclConfig.cmake + version file + the exported targets (relocatable).
set(DYCL_CMAKE_DIR ${DYCL_INSTALL_LIBDIR}/cmake/dycl)
install(EXPORT dyclTargets NAMESPACE dycl:: DESTINATION ${DYCL_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/dyclConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/install/dyclConfig.cmake
                              INSTALL_DESTINATION ${DYCL_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/install/dyclConfigVersion.cmake
                                 VERSION ${DYCL_VERSION_STRING} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/install/dyclConfig.cmake ${CMAKE_BINARY_DIR}/install/dyclConfigVersion.cmake
        DESTINATION ${DYCL_CMAKE_DIR})

# The man page and the documentation.
install(FILES ${CMAKE_SOURCE_DIR}/docs/dycl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "*.svg" PATTERN "*.c")

# The Python package (pure Python over libdycl.so; nothing to build).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/dycl DESTINATION ${DYCL_PY_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
