# Locates libtorch, in order:
#   1. LIBTORCH (an unpacked libtorch) or Torch_DIR (its share/cmake/Torch),
#   2. the installed Python torch (torch.utils.cmake_prefix_path),
#   3. the system (Debian's libtorch-dev).
# Checks the version (>= 1.13) and records the C++ ABI. On failure, stops with
# one message listing what was tried and the commands that fix it.

set(_poser_tried "")

if(DEFINED ENV{LIBTORCH} AND NOT "$ENV{LIBTORCH}" STREQUAL "")
  list(APPEND CMAKE_PREFIX_PATH "$ENV{LIBTORCH}")
  list(APPEND _poser_tried "LIBTORCH=$ENV{LIBTORCH}")
endif()
if(DEFINED ENV{Torch_DIR} AND NOT "$ENV{Torch_DIR}" STREQUAL "")
  set(Torch_DIR "$ENV{Torch_DIR}")
  list(APPEND _poser_tried "Torch_DIR=$ENV{Torch_DIR}")
endif()

if(NOT Torch_DIR AND NOT DEFINED ENV{LIBTORCH})
  foreach(_py python3 /usr/bin/python3 python)
    execute_process(
      COMMAND ${_py} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _py_prefix ERROR_QUIET RESULT_VARIABLE _py_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND _poser_tried "Python torch via '${_py}'")
    if(_py_rc EQUAL 0 AND EXISTS "${_py_prefix}/Torch/TorchConfig.cmake")
      list(APPEND CMAKE_PREFIX_PATH "${_py_prefix}")
      message(STATUS "poser: using the Python torch at ${_py_prefix}")
      break()
    endif()
  endforeach()
endif()

list(APPEND _poser_tried "system paths (Debian libtorch-dev: /usr/lib/x86_64-linux-gnu/cmake/Torch)")
list(APPEND CMAKE_PREFIX_PATH /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake /usr/lib/x86_64-linux-gnu/cmake)

find_package(Torch QUIET)

if(NOT Torch_FOUND)
  string(REPLACE ";" "\n  - " _tried "${_poser_tried}")
  message(FATAL_ERROR
    "poser-torch: libtorch was not found. Tried:\n  - ${_tried}\n"
    "Fix it with one of:\n"
    "  sudo apt-get install -y libtorch-dev libopenblas0-pthread   # Debian/Ubuntu, CPU\n"
    "  pip install torch                                            # then rebuild: npm rebuild poser-torch\n"
    "  export LIBTORCH=/path/to/libtorch                            # an unpacked libtorch archive\n")
endif()

if(Torch_VERSION AND Torch_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "poser-torch: libtorch ${Torch_VERSION} found at ${Torch_DIR} is too old; 1.13 or newer is needed.")
endif()

string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=([01])" _abi "${TORCH_CXX_FLAGS}")
set(POSER_TORCH_CXX11_ABI "${CMAKE_MATCH_1}")
message(STATUS "poser: libtorch ${Torch_VERSION} at ${Torch_DIR} (C++11 ABI: ${POSER_TORCH_CXX11_ABI})")
