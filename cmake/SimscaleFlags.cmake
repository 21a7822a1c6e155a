# Project-wide compiler flags: warnings, sanitizers, and the LibTorch precompiled header.

set(SIMSCALE_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Woverloaded-virtual -Wimplicit-fallthrough)

if(SIMSCALE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(SIMSCALE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SIMSCALE_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Applies the project's warning policy to one of our own targets (never to third-party code).
function(simscale_target_defaults target)
  target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:${SIMSCALE_WARNING_FLAGS}>
      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${SIMSCALE_WERROR}>>:-Werror>)
endfunction()

# LibTorch headers cost ~15 s per translation unit; one shared precompiled header brings that to
# ~7 s. Every torch-using target reuses the PCH built for `simscale_torch_pch`, so it is built once.
# Executables are compiled with -fPIE and libraries with -fPIC, and GCC rejects a PCH made with the
# other flag, so executables reuse the one built for `simscale_torch_pch_exe` (common/models).
function(simscale_use_torch_pch target)
  if(NOT SIMSCALE_TORCH_PCH)
    return()
  endif()
  get_target_property(_type ${target} TYPE)
  set(_pch simscale_torch_pch)
  if(_type STREQUAL "EXECUTABLE")
    set(_pch simscale_torch_pch_exe)
  endif()
  if(NOT TARGET ${_pch})
    message(FATAL_ERROR "${_pch} must be defined before ${target}")
  endif()
  target_precompile_headers(${target} REUSE_FROM ${_pch})
endfunction()
