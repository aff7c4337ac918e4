# Every third-party library comes from Debian 12's packages (scripts/setup.sh installs them).
# LibTorch is the exception on GPU machines: point CMAKE_PREFIX_PATH at PyTorch's bundled one.
find_package(Torch REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(Boost 1.74 REQUIRED)

# CUDA kernels build only when both a CUDA compiler and a CUDA-enabled LibTorch are present;
# the CPU build never needs them.
set(AUTOML_WITH_CUDA OFF)
if(TARGET torch_cuda OR TARGET c10_cuda)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    set(AUTOML_WITH_CUDA ON)
  endif()
endif()
message(STATUS "automl: LibTorch ${Torch_VERSION}, CUDA kernels: ${AUTOML_WITH_CUDA}")

# LibTorch's exported flags carry -D_GLIBCXX_USE_CXX11_ABI; keep them on every torch user.
