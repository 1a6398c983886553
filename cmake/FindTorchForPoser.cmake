# Locates libtorch by asking scripts/torch-paths.cjs (the one locator, shared
# with the node-gyp build), so both builds search in one order:
#   1. LIBTORCH (an unpacked libtorch) or Torch_DIR (its share/cmake/Torch);
#      set but unusable stops the build with the path and the reason,
#   2. the installed Python torch,
#   3. the system (Debian's libtorch-dev).
# Checks the version (>= 1.13) and records the C++ ABI. On failure, stops with
# the locator's message: what was tried and the commands that fix it.

find_program(POSER_NODE NAMES node nodejs)
if(NOT POSER_NODE)
  message(FATAL_ERROR "poser-torch: Node.js is needed to locate libtorch (scripts/torch-paths.cjs); install it or put it on PATH.")
endif()
# A -DTorch_DIR=... given to CMake is checked like the environment variable.
if(Torch_DIR AND NOT DEFINED ENV{Torch_DIR} AND NOT DEFINED ENV{LIBTORCH})
  set(ENV{Torch_DIR} "${Torch_DIR}")
endif()
execute_process(
  COMMAND "${POSER_NODE}" "${CMAKE_CURRENT_LIST_DIR}/../scripts/torch-paths.cjs" torch_dir
  OUTPUT_VARIABLE _poser_torch_dir ERROR_VARIABLE _poser_locator_error RESULT_VARIABLE _poser_locator_rc
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _poser_locator_rc EQUAL 0)
  message(FATAL_ERROR "${_poser_locator_error}")
endif()

set(Torch_DIR "${_poser_torch_dir}" CACHE PATH "Directory of TorchConfig.cmake (found by scripts/torch-paths.cjs)" FORCE)
find_package(Torch CONFIG QUIET NO_DEFAULT_PATH PATHS "${_poser_torch_dir}")
if(NOT Torch_FOUND)
  message(FATAL_ERROR "poser-torch: ${_poser_torch_dir}/TorchConfig.cmake did not load (a broken or partial libtorch?). Run `node scripts/torch-paths.cjs info` to see what was found.")
endif()

if(Torch_VERSION AND Torch_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "poser-torch: libtorch ${Torch_VERSION} found at ${Torch_DIR} is too old; 1.13 or newer is needed.")
endif()

string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=([01])" _abi "${TORCH_CXX_FLAGS}")
set(POSER_TORCH_CXX11_ABI "${CMAKE_MATCH_1}")
message(STATUS "poser: libtorch ${Torch_VERSION} at ${Torch_DIR} (C++11 ABI: ${POSER_TORCH_CXX11_ABI})")
