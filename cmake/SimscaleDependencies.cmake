# Finds every third-party dependency. Used by the build and, installed, by simscaleConfig.cmake,
# so a downstream project gets the same targets. Quiet where a dependency is optional.

include(CMakeFindDependencyMacro)

find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED CONFIG)

# MuJoCo 2.2.2's exported target names /usr/include/libqhull_r/ among its include directories;
# that directory only exists with libqhull-dev, and generation fails without it. Drop it.
find_package(mujoco 2.2 REQUIRED CONFIG)
get_target_property(_simscale_mj_inc mujoco::mujoco INTERFACE_INCLUDE_DIRECTORIES)
if(_simscale_mj_inc)
  list(FILTER _simscale_mj_inc EXCLUDE REGEX "libqhull_r")
  set_target_properties(mujoco::mujoco PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_simscale_mj_inc}")
endif()

# Debian's CPU LibTorch 1.13 by default; any LibTorch >= 1.13 (e.g. a CUDA build) via Torch_DIR.
find_package(Torch REQUIRED CONFIG)
if(Torch_VERSION AND Torch_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "LibTorch ${Torch_VERSION} found in ${Torch_DIR}; SimScale needs >= 1.13")
endif()

# Parallel HDF5. With serial libhdf5-dev also installed, FindHDF5 silently prefers it unless told
# otherwise, and nothing works under MPI. Ask for the parallel one and refuse the serial one.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
      "Found serial HDF5 (${HDF5_C_LIBRARIES}); SimScale writes one file from many MPI ranks and "
      "needs parallel HDF5. On Debian: apt-get install libhdf5-openmpi-dev (and remove libhdf5-dev "
      "or set HDF5_ROOT to the parallel installation).")
endif()
if(NOT TARGET hdf5::hdf5)
  add_library(hdf5::hdf5 INTERFACE IMPORTED)
  target_include_directories(hdf5::hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(hdf5::hdf5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(hdf5::hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

find_package(Boost 1.74 REQUIRED CONFIG COMPONENTS program_options)
find_package(nlohmann_json 3.2 REQUIRED)  # JSON attributes, results and metrics (header-only)
find_package(yaml-cpp REQUIRED CONFIG)  # target `yaml-cpp` (0.7 has no namespaced alias)
if(NOT TARGET yaml-cpp AND TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp INTERFACE IMPORTED)
  target_link_libraries(yaml-cpp INTERFACE yaml-cpp::yaml-cpp)
endif()

set(OpenGL_GL_PREFERENCE GLVND)
find_package(OpenGL REQUIRED COMPONENTS EGL)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OSMESA IMPORTED_TARGET GLOBAL osmesa)
find_package(PNG REQUIRED)

# CUDA/NCCL: only with SIMSCALE_WITH_CUDA. NCCL ships beside the CUDA libraries on these machines
# (and in pip's nvidia-nccl wheels); NCCL_ROOT points elsewhere.
if(SIMSCALE_WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
  find_path(NCCL_INCLUDE_DIR nccl.h
            HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2
               HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64)
  if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
    message(FATAL_ERROR "SIMSCALE_WITH_CUDA=ON but NCCL was not found (nccl.h / libnccl); "
                        "set NCCL_ROOT to its installation prefix")
  endif()
  if(NOT TARGET simscale_nccl)
    add_library(simscale_nccl INTERFACE IMPORTED)
    target_include_directories(simscale_nccl INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(simscale_nccl INTERFACE ${NCCL_LIBRARY} CUDA::cudart)
  endif()
endif()
