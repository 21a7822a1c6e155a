# Installs the library, headers, assets and tools, and exports a CMake package so that a
# downstream project can `find_package(simscale)` and link `simscale::common`.

include(CMakePackageConfigHelpers)

install(EXPORT simscaleTargets
        NAMESPACE simscale::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/simscale)

configure_package_config_file(
    ${CMAKE_CURRENT_LIST_DIR}/simscaleConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/simscaleConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/simscale
    PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/simscaleConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)

install(FILES
        ${CMAKE_CURRENT_BINARY_DIR}/simscaleConfig.cmake
        ${CMAKE_CURRENT_BINARY_DIR}/simscaleConfigVersion.cmake
        ${CMAKE_CURRENT_LIST_DIR}/SimscaleDependencies.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/simscale)

# Public headers keep their common/<module>/ layout: #include "common/core/check.h".
install(DIRECTORY ${PROJECT_SOURCE_DIR}/common/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/simscale/common
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/generated/common/core/build_info.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/simscale/common/core)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/assets/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/simscale/assets)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/simscale/configs)
